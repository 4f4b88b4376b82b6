#include "wal/format.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tests/wal/test_util.h"
#include "wal/log.h"
#include "wal/position.h"

namespace eventide::wal {
namespace {

std::string Header(Position base) {
  char h[kSegmentHeaderBytes];
  EncodeSegmentHeader(base, h);
  return std::string(h, sizeof(h));
}

// Recomputes the header checksum after a test changed a field.
void FixHeader(std::string* h) {
  char sum[8];
  PutU64(sum, Checksum(std::string_view(h->data(), 24), {}));
  h->replace(24, 8, sum, 8);
}

// From the worked example in FORMAT.md, section 4 (the first 0x40 bytes of
// the dump, then the payload): the doc and the code must agree byte for byte.
std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// ---- Segment file names ----

TEST(SegmentFileNameTest, RoundTrips) {
  for (uint64_t v : {uint64_t{1}, uint64_t{42}, uint64_t{1742}, uint64_t{1000000007},
                     static_cast<uint64_t>(INT64_MAX)}) {
    std::string name = SegmentFileName(Position(v));
    EXPECT_EQ(name.size(), 24u) << name;
    auto parsed = ParseSegmentFileName(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(parsed->value(), v);
  }
  EXPECT_EQ(SegmentFileName(Position(1)), "00000000000000000001.log");
  EXPECT_EQ(SegmentFileName(Position(1742)), "00000000000000001742.log");
}

TEST(SegmentFileNameTest, NameOrderIsPositionOrder) {
  EXPECT_LT(SegmentFileName(Position(9)), SegmentFileName(Position(10)));
  EXPECT_LT(SegmentFileName(Position(999)), SegmentFileName(Position(1000)));
}

TEST(SegmentFileNameTest, RejectsJunk) {
  for (const char* junk : {
           "", "LOCK", ".log",
           "1.log",                      // not zero-padded
           "0000000000000000001.log",    // 19 digits
           "000000000000000000001.log",  // 21 digits
           "00000000000000000001.txt",   // wrong suffix
           "00000000000000000001.log~",  // trailing junk
           "00000000000000000001",       // no suffix
           "0000000000000000000a.log",   // not a digit
           "-0000000000000000001.log",   // sign
           " 0000000000000000001.log",   // space
           "00000000000000000000.log",   // position 0 is never a base
           "99999999999999999999.log",   // above 2^64
       }) {
    EXPECT_FALSE(ParseSegmentFileName(junk).has_value()) << '"' << junk << '"';
  }
}

// ---- Segment header ----

TEST(SegmentHeaderTest, EncodedHeaderChecks) {
  std::string h = Header(Position(77));
  EXPECT_EQ(CheckSegmentHeader(h, Position(77)), "");
  EXPECT_EQ(CheckSegmentHeader(h, Position()), "");  // any base
  EXPECT_EQ(h.substr(0, 8), std::string("EVTDWAL\n"));
  EXPECT_EQ(GetU32(h.data() + 8), kFormatVersion);
  EXPECT_EQ(GetU32(h.data() + 12), kSegmentHeaderBytes);
  EXPECT_EQ(GetU64(h.data() + 16), 77u);
}

TEST(SegmentHeaderTest, MatchesFormatDocExample) {
  EXPECT_EQ(Header(Position(1)), FromHex("4556544457414c0a0100000020000000"
                                         "0100000000000000485b0efcef911377"));
}

TEST(SegmentHeaderTest, ShortHeaderIsRejected) {
  std::string h = Header(Position(1));
  for (size_t n = 0; n < kSegmentHeaderBytes; ++n) {
    EXPECT_EQ(CheckSegmentHeader(h.substr(0, n), Position(1)), "segment header is short") << n;
  }
}

TEST(SegmentHeaderTest, BadMagicIsRejected) {
  std::string h = Header(Position(1));
  h[3] = 'X';
  FixHeader(&h);
  EXPECT_NE(CheckSegmentHeader(h, Position(1)).find("bad magic"), std::string::npos);
}

TEST(SegmentHeaderTest, UnknownVersionIsRejected) {
  std::string h = Header(Position(1));
  PutU32(h.data() + 8, 2);
  FixHeader(&h);
  EXPECT_EQ(CheckSegmentHeader(h, Position(1)), "unsupported format version 2");
}

TEST(SegmentHeaderTest, UnexpectedHeaderSizeIsRejected) {
  std::string h = Header(Position(1));
  PutU32(h.data() + 12, 64);
  FixHeader(&h);
  EXPECT_EQ(CheckSegmentHeader(h, Position(1)), "unexpected segment header size");
}

TEST(SegmentHeaderTest, ChecksumMismatchIsRejected) {
  for (size_t i = 8; i < kSegmentHeaderBytes; ++i) {  // any byte after the magic
    std::string h = Header(Position(5));
    h[i] = static_cast<char>(h[i] ^ 0x01);
    EXPECT_EQ(CheckSegmentHeader(h, Position(5)), "segment header checksum mismatch") << i;
  }
}

TEST(SegmentHeaderTest, BaseMismatchIsRejected) {
  std::string h = Header(Position(100));
  EXPECT_EQ(CheckSegmentHeader(h, Position(101)),
            "header base position 100 does not match the file name");
}

// ---- Entry header ----

TEST(EntryHeaderTest, EncodeDecodeRoundTrips) {
  std::string payload = "hello, log";
  char h[kEntryHeaderBytes];
  EncodeEntryHeader(Position(123456789), -5, payload, h);
  EntryHeader d = DecodeEntryHeader(h);
  EXPECT_EQ(d.length, payload.size());
  EXPECT_EQ(d.flags, 0u);
  EXPECT_EQ(d.position, Position(123456789));
  EXPECT_EQ(d.timestamp_us, -5);
  EXPECT_EQ(d.checksum, Checksum(std::string_view(h, 24), payload));
}

TEST(EntryHeaderTest, ChecksumCoversHeaderAndPayload) {
  char a[kEntryHeaderBytes];
  char b[kEntryHeaderBytes];
  EncodeEntryHeader(Position(1), 10, "abc", a);
  EncodeEntryHeader(Position(1), 10, "abd", b);  // payload
  EXPECT_NE(GetU64(a + 24), GetU64(b + 24));
  EncodeEntryHeader(Position(2), 10, "abc", b);  // position
  EXPECT_NE(GetU64(a + 24), GetU64(b + 24));
  EncodeEntryHeader(Position(1), 11, "abc", b);  // timestamp
  EXPECT_NE(GetU64(a + 24), GetU64(b + 24));
  EncodeEntryHeader(Position(1), 10, "abc", b);
  EXPECT_EQ(GetU64(a + 24), GetU64(b + 24));
}

TEST(EntryHeaderTest, EmptyPayloadEncodes) {
  char h[kEntryHeaderBytes];
  EncodeEntryHeader(Position(9), 0, "", h);
  EntryHeader d = DecodeEntryHeader(h);
  EXPECT_EQ(d.length, 0u);
  EXPECT_EQ(d.position, Position(9));
}

TEST(EntryHeaderTest, MatchesFormatDocExample) {
  std::string payload = FromHex(
      "0101404c836994010000"
      "0d7265616c74696d652d64656d6f"
      "074d657373616765"
      "056d73672d31"
      "0000"
      "1e7b226964223a226d73672d31222c227469746c65223a2248656c6c6f227d");
  ASSERT_EQ(payload.size(), 0x47u);
  char h[kEntryHeaderBytes];
  EncodeEntryHeader(Position(1), 0x0660e6cfd52b2d, payload, h);
  EXPECT_EQ(std::string(h, sizeof(h)), FromHex("4700000000000000"
                                               "0100000000000000"
                                               "2d2bd5cfe6600600"
                                               "dd567fcf0e227c34"));
}

TEST(FixedWidthTest, LittleEndianRoundTrips) {
  char b[8];
  PutU32(b, 0x01020304u);
  EXPECT_EQ(b[0], 0x04);
  EXPECT_EQ(b[3], 0x01);
  EXPECT_EQ(GetU32(b), 0x01020304u);
  PutU64(b, 0xf1e2d3c4b5a69788ull);
  EXPECT_EQ(static_cast<unsigned char>(b[0]), 0x88);
  EXPECT_EQ(static_cast<unsigned char>(b[7]), 0xf1);
  EXPECT_EQ(GetU64(b), 0xf1e2d3c4b5a69788ull);
}

// ---- Position::Parse ----

TEST(PositionTest, ParsesDecimal) {
  EXPECT_EQ(Position::Parse("0"), Position(0));
  EXPECT_EQ(Position::Parse("1"), Position(1));
  EXPECT_EQ(Position::Parse("42"), Position(42));
  EXPECT_EQ(Position::Parse("0042"), Position(42));
  EXPECT_EQ(Position::Parse("9223372036854775807"), Position(9223372036854775807ull));
}

TEST(PositionTest, RejectsMalformed) {
  for (const char* bad : {"", " 1", "1 ", "+1", "-1", "1a", "0x10", "1.0", "\xd9\xa3",
                          "9223372036854775808",    // 2^63
                          "18446744073709551615",   // 2^64-1
                          "99999999999999999999",   // above 2^64
                          "00000000000000000001"})  // 20 digits
  {
    EXPECT_FALSE(Position::Parse(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(PositionTest, OrdersAndSteps) {
  EXPECT_TRUE(Position().IsNone());
  EXPECT_EQ(Position().Next(), Position(1));
  EXPECT_EQ(Position(1).Prev(), Position());
  EXPECT_EQ(Position().Prev(), Position());
  EXPECT_LT(Position(1), Position(2));
  EXPECT_EQ(Position(17).ToString(), "17");
}

// ---- SyncPolicy::Parse ----

TEST(SyncPolicyTest, ParsesAlways) {
  auto p = SyncPolicy::Parse("always");
  ASSERT_OK(p);
  EXPECT_EQ(p->mode, SyncPolicy::Mode::kAlways);
  EXPECT_EQ(p->ToString(), "always");
}

TEST(SyncPolicyTest, ParsesNever) {
  auto p = SyncPolicy::Parse("never");
  ASSERT_OK(p);
  EXPECT_EQ(p->mode, SyncPolicy::Mode::kNever);
  EXPECT_EQ(p->ToString(), "never");
}

TEST(SyncPolicyTest, ParsesBatch) {
  auto p = SyncPolicy::Parse("batch:2");
  ASSERT_OK(p);
  EXPECT_EQ(p->mode, SyncPolicy::Mode::kBatch);
  EXPECT_EQ(p->batch_ms, 2u);
  EXPECT_EQ(p->ToString(), "batch:2");
  auto lo = SyncPolicy::Parse("batch:1");
  ASSERT_OK(lo);
  EXPECT_EQ(lo->batch_ms, 1u);
  auto hi = SyncPolicy::Parse("batch:60000");
  ASSERT_OK(hi);
  EXPECT_EQ(hi->batch_ms, 60000u);
}

TEST(SyncPolicyTest, DefaultIsAlways) {
  SyncPolicy p;
  EXPECT_EQ(p.mode, SyncPolicy::Mode::kAlways);
  EXPECT_EQ(LogOptions().sync.mode, SyncPolicy::Mode::kAlways);
}

TEST(SyncPolicyTest, RejectsBadInput) {
  for (const char* bad :
       {"",          "Always",   "ALWAYS",    "always ",     " never",      "sometimes",
        "batch",     "batch:",   "batch:0",   "batch:60001", "batch:99999", "batch:100000",
        "batch:-1",  "batch:+5", "batch:5ms", "batch: 5",    "batch:1.5",   "batch:0x10",
        "batch:2:3", "batch2"}) {
    auto p = SyncPolicy::Parse(bad);
    EXPECT_FALSE(p.ok()) << '"' << bad << '"';
    if (!p.ok()) {
      EXPECT_TRUE(p.status().IsInvalidArgument()) << bad;
    }
  }
}

// ---- Status ----

TEST(StatusTest, OkIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.message(), "");
  EXPECT_TRUE(Status::OK().ok());
}

TEST(StatusTest, KindsAreDistinctAndNamed) {
  EXPECT_EQ(Status::NotFound("m").ToString(), "NotFound: m");
  EXPECT_EQ(Status::Corruption("m").ToString(), "Corruption: m");
  EXPECT_EQ(Status::InvalidArgument("m").ToString(), "InvalidArgument: m");
  EXPECT_EQ(Status::IOError("m").ToString(), "IOError: m");
  EXPECT_EQ(Status::Unavailable("m").ToString(), "Unavailable: m");
  EXPECT_TRUE(Status::NotFound("").IsNotFound());
  EXPECT_TRUE(Status::Corruption("").IsCorruption());
  EXPECT_TRUE(Status::InvalidArgument("").IsInvalidArgument());
  EXPECT_TRUE(Status::IOError("").IsIOError());
  EXPECT_TRUE(Status::Unavailable("").IsUnavailable());
  EXPECT_FALSE(Status::Corruption("").IsIOError());
  EXPECT_FALSE(Status::Corruption("").ok());
}

TEST(StatusTest, FromErrnoIsAnIOErrorWithTheErrnoText) {
  Status s = Status::FromErrno("write x", ENOSPC);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.message(), std::string("write x: ") + std::strerror(ENOSPC));
}

TEST(StatusTest, CopiesKeepTheMessage) {
  Status a = Status::Corruption("segment 1 offset 32: checksum mismatch");
  Status b = a;
  a = Status::OK();
  EXPECT_TRUE(a.ok());
  EXPECT_EQ(b.ToString(), "Corruption: segment 1 offset 32: checksum mismatch");
}

TEST(ResultTest, HoldsAValueOrAStatus) {
  Result<int> v(7);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  Result<int> e(Status::NotFound("none"));
  EXPECT_FALSE(e.ok());
  EXPECT_TRUE(e.status().IsNotFound());
}

}  // namespace
}  // namespace eventide::wal
