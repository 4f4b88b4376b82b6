#include "src/eventlog/subjects.h"

#include <gtest/gtest.h>

namespace eventide::eventlog {
namespace {

TEST(SubjectsTest, ARecordIsOneSubjectAndAPublishItsTables) {
  EXPECT_EQ(WriteSubject("EVENTIDE", "realtime-demo", "Message", "m1"),
            "EVENTIDE.realtime-demo.Message.m1");
  EXPECT_EQ(WriteSubject("EVENTIDE", "realtime-demo", "Message", ""),
            "EVENTIDE.realtime-demo.Message");
  EXPECT_EQ(StreamSubjects("EVENTIDE"), "EVENTIDE.>");
}

TEST(SubjectsTest, BytesThatNatsGivesMeaningAreEscaped) {
  // '.', '*', '>' and spaces would split or widen the subject; '%' is the
  // escape itself; UTF-8 is escaped byte by byte.
  EXPECT_EQ(WriteSubject("S", "a", "t", "x.y*z> w%"), "S.a.t.x%2Ey%2Az%3E%20w%25");
  EXPECT_EQ(WriteSubject("S", "a", "t", "\xc3\xa9"), "S.a.t.%C3%A9");
  // Distinct ids stay distinct subjects.
  EXPECT_NE(WriteSubject("S", "a", "t", "a.b"), WriteSubject("S", "a", "t", "a%2Eb"));
}

}  // namespace
}  // namespace eventide::eventlog
