#include "src/event/event.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eventide::event {
namespace {

Event Full(Op op) {
  Event e;
  e.op = op;
  e.time_ms = 1736937000000;
  e.app = "realtime-demo";
  e.table = "Message";
  e.id = "msg-1";
  e.tenant = "acme";
  e.subject = "user|42";
  e.data = R"({"id":"msg-1","title":"Hello"})";
  return e;
}

void ExpectSame(const Event& a, const Event& b) {
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.time_ms, b.time_ms);
  EXPECT_EQ(a.app, b.app);
  EXPECT_EQ(a.table, b.table);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.tenant, b.tenant);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.data, b.data);
}

std::string Encoded(const Event& e) {
  std::string out;
  Encode(e, &out);
  return out;
}

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

TEST(EventTest, EveryOpRoundTrips) {
  for (Op op : {Op::kCreate, Op::kUpdate, Op::kDelete, Op::kPublish}) {
    Event in = Full(op);
    std::string bytes = Encoded(in);
    Event out;
    ASSERT_TRUE(Decode(bytes, &out).ok()) << OpName(op);
    ExpectSame(in, out);
  }
}

TEST(EventTest, EveryFieldRoundTrips) {
  // Each string field gets a distinct value, so that swapped fields show.
  Event in;
  in.op = Op::kUpdate;
  in.time_ms = -1;  // before the epoch: the sign survives
  in.app = "a";
  in.table = "tt";
  in.id = "iii";
  in.tenant = "nnnn";
  in.subject = "sssss";
  in.data = "[1,2,3]";
  std::string bytes = Encoded(in);
  Event out;
  ASSERT_TRUE(Decode(bytes, &out).ok());
  ExpectSame(in, out);

  for (int64_t t : {int64_t{0}, int64_t{1}, INT64_MAX, INT64_MIN}) {
    in.time_ms = t;
    bytes = Encoded(in);
    ASSERT_TRUE(Decode(bytes, &out).ok());
    EXPECT_EQ(out.time_ms, t);
  }
}

TEST(EventTest, EmptyOptionalFieldsRoundTrip) {
  Event in;
  in.op = Op::kPublish;
  in.time_ms = 5;
  in.app = "app";
  in.table = "Topic";
  std::string bytes = Encoded(in);
  EXPECT_EQ(bytes.size(), 2u + 8 + (1 + 3) + (1 + 5) + 4);
  Event out;
  out.id = "stale";  // Decode overwrites every field
  out.data = "stale";
  ASSERT_TRUE(Decode(bytes, &out).ok());
  ExpectSame(in, out);
  EXPECT_TRUE(out.id.empty());
  EXPECT_TRUE(out.tenant.empty());
  EXPECT_TRUE(out.subject.empty());
  EXPECT_TRUE(out.data.empty());
}

TEST(EventTest, LargeDataRoundTrips) {
  // Lengths that need 1, 2, 3 and 4 varint bytes.
  for (size_t n :
       {size_t{127}, size_t{128}, size_t{16383}, size_t{16384}, size_t{2097152}, size_t{5} << 20}) {
    std::string data(n, 'x');
    for (size_t i = 0; i < n; i += 97) data[i] = static_cast<char>('a' + i % 26);
    Event in = Full(Op::kCreate);
    in.data = data;
    std::string bytes = Encoded(in);
    EXPECT_EQ(bytes.size(), EncodedSize(in)) << n;
    Event out;
    ASSERT_TRUE(Decode(bytes, &out).ok()) << n;
    EXPECT_EQ(out.data, data);
    EXPECT_EQ(out.app, in.app);
  }
}

TEST(EventTest, EncodedSizeMatchesEncode) {
  Event e = Full(Op::kDelete);
  EXPECT_EQ(Encoded(e).size(), EncodedSize(e));
  e.id = "";
  const std::string tenant(300, 't');  // a two-byte length; outlives the view
  e.tenant = tenant;
  EXPECT_EQ(Encoded(e).size(), EncodedSize(e));
}

TEST(EventTest, EncodeReplacesOutput) {
  std::string out = "leftover bytes from an earlier event";
  Event e = Full(Op::kCreate);
  Encode(e, &out);
  EXPECT_EQ(out, Encoded(e));
}

TEST(EventTest, MatchesFormatDocExample) {
  Event e;
  e.op = Op::kCreate;
  e.time_ms = 1736937000000;
  e.app = "realtime-demo";
  e.table = "Message";
  e.id = "msg-1";
  e.data = R"({"id":"msg-1","title":"Hello"})";
  EXPECT_EQ(Encoded(e), FromHex("0101404c836994010000"
                                "0d7265616c74696d652d64656d6f"
                                "074d657373616765"
                                "056d73672d31"
                                "0000"
                                "1e7b226964223a226d73672d31222c227469746c65223a2248656c6c6f227d"));
}

TEST(EventTest, OpNamesRoundTrip) {
  for (Op op : {Op::kCreate, Op::kUpdate, Op::kDelete, Op::kPublish}) {
    auto parsed = ParseOp(OpName(op));
    ASSERT_TRUE(parsed.has_value()) << OpName(op);
    EXPECT_EQ(*parsed, op);
  }
  EXPECT_EQ(OpName(Op::kCreate), "create");
  EXPECT_EQ(OpName(Op::kPublish), "publish");
  EXPECT_FALSE(ParseOp("").has_value());
  EXPECT_FALSE(ParseOp("Create").has_value());
  EXPECT_FALSE(ParseOp("?").has_value());
}

// ---- Malformed payloads ----

TEST(EventTest, PrevMakesVersion2AndRoundTrips) {
  Event in = Full(Op::kUpdate);
  in.prev = R"({"id":"m","title":"before"})";
  std::string bytes = Encoded(in);
  EXPECT_EQ(bytes[0], 2);
  EXPECT_EQ(bytes.size(), EncodedSize(in));
  Event out;
  ASSERT_TRUE(Decode(bytes, &out).ok());
  ExpectSame(in, out);
  EXPECT_EQ(out.prev, in.prev);
  // Without prev it is version 1, byte for byte as before.
  in.prev = {};
  bytes = Encoded(in);
  EXPECT_EQ(bytes[0], 1);
  ASSERT_TRUE(Decode(bytes, &out).ok());
  EXPECT_TRUE(out.prev.empty());
  // Version 2 must carry a prev (else it would have two encodings).
  std::string v2 = bytes;
  v2[0] = 2;
  v2.push_back('\0');
  EXPECT_TRUE(Decode(v2, &out).IsCorruption());
}

TEST(EventDecodeTest, RejectsBadVersion) {
  for (int v : {0, 3, 255}) {
    std::string bytes = Encoded(Full(Op::kCreate));
    bytes[0] = static_cast<char>(v);
    Event out;
    Status s = Decode(bytes, &out);
    EXPECT_TRUE(s.IsCorruption()) << v << " " << s.ToString();
    EXPECT_NE(s.message().find("version"), std::string::npos) << s.ToString();
  }
}

TEST(EventDecodeTest, RejectsBadOp) {
  for (int op : {0, 5, 128, 255}) {
    std::string bytes = Encoded(Full(Op::kCreate));
    bytes[1] = static_cast<char>(op);
    Event out;
    Status s = Decode(bytes, &out);
    EXPECT_TRUE(s.IsCorruption()) << op << " " << s.ToString();
    EXPECT_NE(s.message().find("operation"), std::string::npos) << s.ToString();
  }
}

TEST(EventDecodeTest, RejectsTruncationAtEveryByte) {
  for (bool empty_tail : {false, true}) {
    Event e = Full(Op::kUpdate);
    if (empty_tail) e.subject = e.data = "";  // the payload ends in empty strings
    std::string bytes = Encoded(e);
    for (size_t n = 0; n < bytes.size(); ++n) {
      Event out;
      Status s = Decode(std::string_view(bytes).substr(0, n), &out);
      EXPECT_TRUE(s.IsCorruption()) << "truncated to " << n << " of " << bytes.size();
    }
  }
}

TEST(EventDecodeTest, RejectsTrailingBytes) {
  for (std::string extra : {std::string(1, '\0'), std::string("x"), std::string(100, 'y')}) {
    std::string bytes = Encoded(Full(Op::kDelete)) + extra;
    Event out;
    Status s = Decode(bytes, &out);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find("unexpected bytes"), std::string::npos) << s.ToString();
  }
}

TEST(EventDecodeTest, RejectsEmptyApp) {
  Event e = Full(Op::kCreate);
  e.app = "";
  Event out;
  Status s = Decode(Encoded(e), &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST(EventDecodeTest, RejectsEmptyTable) {
  Event e = Full(Op::kCreate);
  e.table = "";
  Event out;
  Status s = Decode(Encoded(e), &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST(EventDecodeTest, RejectsLengthPastTheEnd) {
  // The app length claims more bytes than the payload holds.
  std::string bytes = Encoded(Full(Op::kCreate));
  bytes[10] = static_cast<char>(0x7f);
  Event out;
  EXPECT_TRUE(Decode(bytes, &out).IsCorruption());
}

TEST(EventDecodeTest, RejectsOverlongVarint) {
  // A length of more than 5 varint bytes is malformed, whatever follows.
  std::string bytes = Encoded(Full(Op::kCreate)).substr(0, 10);
  bytes += std::string(6, static_cast<char>(0x80));
  bytes += std::string(64, 'a');
  Event out;
  EXPECT_TRUE(Decode(bytes, &out).IsCorruption());
}

TEST(EventDecodeTest, RejectsNonShortestVarint) {
  // An empty tenant's length is `00`; spelled `80 00` or `80 80 00` it is the
  // same number padded. Only the shortest encoding is accepted, so that every
  // event has exactly one byte string.
  Event e = Full(Op::kCreate);
  e.tenant = "";
  std::string good = Encoded(e);
  size_t at = 10 + 1 + e.app.size() + 1 + e.table.size() + 1 + e.id.size();
  ASSERT_EQ(good[at], '\0');
  Event out;
  ASSERT_TRUE(Decode(good, &out).ok());
  for (std::string pad : {std::string("\x80\x00", 2), std::string("\x80\x80\x00", 3)}) {
    std::string bytes = good.substr(0, at) + pad + good.substr(at + 1);
    EXPECT_TRUE(Decode(bytes, &out).IsCorruption()) << pad.size();
  }
}

TEST(EventDecodeTest, RejectsEmptyPayload) {
  Event out;
  EXPECT_TRUE(Decode("", &out).IsCorruption());
}

}  // namespace
}  // namespace eventide::event
