// eventide-load's bookkeeping, without a server: the per-subscriber delivery
// check (tools/delivery_check.h) and the latency histogram
// (tools/load_common.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tools/delivery_check.h"
#include "tools/load_common.h"

namespace eventide::load {
namespace {

TEST(LoadDeliveryCheckTest, InOrderDeliveryIsClean) {
  DeliveryCheck c;
  for (uint64_t p = 5; p <= 10; ++p) c.Receive(p);
  EXPECT_EQ(c.duplicates(), 0u);
  EXPECT_EQ(c.out_of_order(), 0u);
  EXPECT_EQ(c.Missing({5, 6, 7, 8, 9, 10}), 0u);
  EXPECT_EQ(c.last(), 10u);
}

TEST(LoadDeliveryCheckTest, AckedPositionsAfterTheLastOrInAGapAreMissing) {
  DeliveryCheck c;
  c.Receive(1);
  c.Receive(2);
  c.Receive(5);                                     // 3 and 4 skipped
  EXPECT_EQ(c.Missing({1, 2, 3, 4, 5, 6, 7}), 4u);  // 3, 4, 6, 7
  // A skipped position nobody acknowledged is not missing.
  EXPECT_EQ(c.Missing({1, 2, 4, 5}), 1u);
  EXPECT_EQ(c.out_of_order(), 0u);
  EXPECT_EQ(c.duplicates(), 0u);
}

TEST(LoadDeliveryCheckTest, RepeatedPositionIsADuplicate) {
  DeliveryCheck c;
  c.Receive(1);
  c.Receive(1);
  c.Receive(2);
  c.Receive(3);
  c.Receive(2);  // received before: out of order and a duplicate
  EXPECT_EQ(c.duplicates(), 2u);
  EXPECT_EQ(c.out_of_order(), 1u);
  EXPECT_EQ(c.Missing({1, 2, 3}), 0u);
}

TEST(LoadDeliveryCheckTest, LatePositionFillsItsGap) {
  DeliveryCheck c;
  c.Receive(1);
  c.Receive(10);  // gap [2, 9]
  c.Receive(5);   // splits it: [2, 4] and [6, 9]
  c.Receive(2);   // shrinks [2, 4] to [3, 4]
  c.Receive(9);   // shrinks [6, 9] to [6, 8]
  EXPECT_EQ(c.out_of_order(), 3u);
  EXPECT_EQ(c.duplicates(), 0u);
  std::vector<uint64_t> all = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(c.Missing(all), 5u);  // 3, 4, 6, 7, 8
  for (uint64_t p : {3, 4, 6, 7, 8}) c.Receive(p);
  EXPECT_EQ(c.Missing(all), 0u);
  EXPECT_EQ(c.duplicates(), 0u);
  c.Receive(7);  // now received twice
  EXPECT_EQ(c.duplicates(), 1u);
}

TEST(LoadHistogramTest, PercentilesWithinABucket) {
  Histogram h;
  EXPECT_EQ(h.PercentileMs(0.5), 0);
  for (int64_t us = 1; us <= 100000; ++us) h.Record(us);
  EXPECT_EQ(h.count(), 100000u);
  // Exact below 1024 µs, within 0.2% above.
  EXPECT_NEAR(h.PercentileMs(0.005), 0.5, 0.001);
  EXPECT_NEAR(h.PercentileMs(0.5), 50.0, 0.1);
  EXPECT_NEAR(h.PercentileMs(0.99), 99.0, 0.2);
  EXPECT_DOUBLE_EQ(h.MaxMs(), 100.0);
  EXPECT_LE(h.PercentileMs(1.0), h.MaxMs());
}

TEST(LoadHistogramTest, HugeAndNegativeSamplesAreClamped) {
  Histogram h;
  h.Record(-5);
  h.Record(int64_t{1} << 50);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.PercentileMs(0.5), 0);
  EXPECT_GT(h.PercentileMs(1.0), 1e9);
}

}  // namespace
}  // namespace eventide::load
