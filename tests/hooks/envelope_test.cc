// Hook bodies (src/hooks/envelope.h): the exact shapes docs/HOOKS.md
// promises receivers, and that each one is valid JSON.
#include "src/hooks/envelope.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace eventide::hooks {
namespace {

// 2025-01-15T10:30:00.000Z
constexpr int64_t kWallMs = 1736937000000;

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

TEST(EnvelopeTest, WrapsDataWithHookAppAndTime) {
  EXPECT_EQ(Envelope("on_write", "blog", kWallMs, R"({"x":1})"),
            R"({"hook":"on_write","app":"blog","time":"2025-01-15T10:30:00.000Z","data":{"x":1}})");
}

TEST(EnvelopeTest, EscapesStrings) {
  std::string e = Envelope("on_write", "a\"b\\c\n", kWallMs, "{}");
  EXPECT_NE(e.find(R"("app":"a\"b\\c\n")"), std::string::npos) << e;
  rapidjson::Document d = ParseJson(e);
  EXPECT_STREQ(d["app"].GetString(), "a\"b\\c\n");
}

TEST(EnvelopeTest, ConnectionData) {
  EXPECT_EQ(ConnectionData(7, "ws", "ann", "127.0.0.1:5555"),
            R"({"connection":7,"dialect":"ws","subject":"ann","remote":"127.0.0.1:5555"})");
  EXPECT_EQ(ConnectionData(8, "sse", std::nullopt, "[::1]:1"),
            R"({"connection":8,"dialect":"sse","subject":null,"remote":"[::1]:1"})");
}

TEST(EnvelopeTest, SubscriptionData) {
  EXPECT_EQ(SubscriptionData(3, "posts", "bob"),
            R"({"connection":3,"topic":"posts","subject":"bob"})");
  EXPECT_EQ(SubscriptionData(3, "posts/42", std::nullopt),
            R"({"connection":3,"topic":"posts/42","subject":null})");
}

TEST(EnvelopeTest, MessageDataCarriesTheClientsJson) {
  EXPECT_EQ(MessageData(5, "chat", "ann", R"({"action":"publish","text":"hi"})"),
            R"({"connection":5,"topic":"chat","subject":"ann",)"
            R"("message":{"action":"publish","text":"hi"}})");
  EXPECT_EQ(MessageData(5, std::nullopt, std::nullopt, "[1,2]"),
            R"({"connection":5,"topic":null,"subject":null,"message":[1,2]})");
}

TEST(EnvelopeTest, WriteData) {
  EXPECT_EQ(WriteData("create", "posts", "p1", wal::Position(42), "ann", R"({"id":"p1"})"),
            R"({"op":"create","table":"posts","id":"p1","position":42,"subject":"ann",)"
            R"("record":{"id":"p1"}})");
  EXPECT_EQ(WriteData("publish", "posts", std::nullopt, wal::Position(43), std::nullopt, ""),
            R"({"op":"publish","table":"posts","id":null,"position":43,"subject":null,)"
            R"("record":null})");
}

TEST(EnvelopeTest, EveryShapeIsValidJson) {
  for (const std::string& data :
       {ConnectionData(1, "graphql", "s\"q", "1.2.3.4:5"), SubscriptionData(1, "t\t", "x"),
        MessageData(1, "t", std::nullopt, R"({"a":[true,null]})"),
        WriteData("delete", "t", "i\\d", wal::Position(1), "u", "")}) {
    rapidjson::Document d = ParseJson(Envelope("on_write", "app", kWallMs, data));
    ASSERT_TRUE(d.IsObject());
    EXPECT_TRUE(d["data"].IsObject());
  }
}

TEST(EnvelopeTest, KnowsTheHookNames) {
  for (std::string_view name : {kOnRealtimeConnect, kOnRealtimeDisconnect, kOnRealtimeSubscribe,
                                kOnRealtimeUnsubscribe, kOnRealtimeMessage, kOnWrite}) {
    EXPECT_TRUE(IsHookName(name)) << name;
  }
  EXPECT_FALSE(IsHookName("on_read"));
  EXPECT_FALSE(IsHookName(""));
}

}  // namespace
}  // namespace eventide::hooks
