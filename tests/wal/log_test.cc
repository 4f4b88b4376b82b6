#include "wal/log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/wal/test_util.h"

namespace eventide::wal {
namespace {

TEST(LogTest, AppendsAreDurableAndReadable) {
  TempDir dir;
  LogOptions o;
  o.dir = dir.path();
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  for (int i = 1; i <= 100; ++i) {
    auto p = (*log)->Append("entry " + std::to_string(i));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->value(), static_cast<uint64_t>(i));
  }
  ASSERT_TRUE((*log)->WaitDurable(Position(100)).ok());
  auto reader = (*log)->NewReader();
  Entry e;
  for (int i = 1; i <= 100; ++i) {
    auto r = reader->Next(&e);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(*r);
    EXPECT_EQ(e.position.value(), static_cast<uint64_t>(i));
    EXPECT_EQ(e.payload, "entry " + std::to_string(i));
  }
  auto r = reader->Next(&e);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

}  // namespace
}  // namespace eventide::wal
