// The HTTP/2 session (src/http/h2_session.h) with a fake host, fed frames
// written by hand (header blocks from HPACK's static table only), its output
// read back as frames.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/http/h2_session.h"
#include "src/http/response.h"

namespace eventide::http {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
enum : uint8_t {
  kData = 0,
  kHeaders = 1,
  kRstStream = 3,
  kSettings = 4,
  kGoaway = 7,
  kWindowUpdate = 8
};
enum : uint8_t { kEndStream = 1, kAck = 1, kEndHeaders = 4 };

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  for (int s : {16, 8, 0}) f.push_back(static_cast<char>(n >> s));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int s : {24, 16, 8, 0}) f.push_back(static_cast<char>(stream >> s));
  return f.append(payload);
}

std::string U32(uint32_t v) {
  std::string b;
  for (int s : {24, 16, 8, 0}) b.push_back(static_cast<char>(v >> s));
  return b;
}

// Header blocks: :method (static 2 GET, 3 POST; HEAD as a literal),
// :scheme http (6), :path / (4), :authority "x".
const std::string kGet = "\x82\x86\x84\x41\x01x";
const std::string kPost = "\x83\x86\x84\x41\x01x";
const std::string kHead = std::string("\x42\x04HEAD", 6) + "\x86\x84\x41\x01x";

// The client's first bytes: the preface, SETTINGS (these), and the ACK of
// the server's.
std::string Hello(std::string_view settings = {}) {
  return std::string(kPreface) + Frame(kSettings, 0, 0, settings) + Frame(kSettings, kAck, 0, "");
}

struct Parsed {
  uint8_t type, flags;
  uint32_t stream;
  std::string payload;
};

std::vector<Parsed> Frames(std::string_view out) {
  std::vector<Parsed> frames;
  while (out.size() >= 9) {
    const auto* p = reinterpret_cast<const uint8_t*>(out.data());
    const size_t n = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
    EXPECT_GE(out.size(), 9 + n) << "a partial frame";
    const uint32_t id =
        ((uint32_t{p[5]} << 24) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 8) | p[8]) &
        0x7fffffff;
    frames.push_back({p[3], p[4], id, std::string(out.substr(9, n))});
    out.remove_prefix(std::min(out.size(), 9 + n));
  }
  return frames;
}

// The frames on `stream`, as type letters: H(eaders), D(ata), R(st); "."
// after one with END_STREAM.
std::string OnStream(const std::vector<Parsed>& frames, uint32_t stream) {
  std::string s;
  for (const Parsed& f : frames) {
    if (f.stream != stream) continue;
    s += f.type == kHeaders ? "H" : f.type == kData ? "D" : f.type == kRstStream ? "R" : "?";
    if ((f.type == kHeaders || f.type == kData) && (f.flags & kEndStream)) s += ".";
  }
  return s;
}

class Host : public H2Host, public RequestHandler {
 public:
  void Send(std::string_view b) override {
    out.append(b);
    unwritten += b.size();
  }
  void Close() override { closed = true; }
  void WantFlush() override {}
  size_t pending_output_bytes() const override { return unwritten; }
  void OnStreamStarted(uint64_t) override {}
  void OnStreamDrained(uint64_t) override {}
  void OnStreamClosed(uint64_t slot) override { closed_streams.push_back(slot); }
  void OnRequest(Exchange*, uint64_t slot, Request& r) override {
    slots.push_back(slot);
    methods.push_back(r.method);
  }
  std::string out;
  size_t unwritten = 0;
  bool closed = false;
  std::vector<uint64_t> slots, closed_streams;
  std::vector<std::string> methods;
};

TEST(H2SessionRegressionTest, AHeadIsAnsweredWithoutDataEvenForAnError) {
  Host h;
  H2Session s(&h, &h, H2Options{});
  s.OnData(Hello() + Frame(kHeaders, kEndHeaders | kEndStream, 1, kHead));
  ASSERT_EQ(h.methods, std::vector<std::string>{"HEAD"});
  s.RespondError(1, 404, "not_found", "no such record");
  s.Flush();
  // DATA on the answer to a HEAD is a stream error for the client (RFC 9113
  // section 8.1.1): the head alone, ending the stream.
  EXPECT_EQ(OnStream(Frames(h.out), 1), "H.");
  EXPECT_FALSE(h.closed);
}

TEST(H2SessionRegressionTest, TheAnswerToARequestNotWholeInTimeIsSentBeforeItsReset) {
  Host h;
  H2Options o;
  H2Session s(&h, &h, o);
  // A POST whose body never ends: the slowloris check answers it 408.
  s.OnData(Hello() + Frame(kHeaders, kEndHeaders, 1, kPost) + Frame(kData, 0, 1, "{\"id\":"));
  EXPECT_EQ(s.incomplete_requests(), 1u);
  EXPECT_TRUE(h.slots.empty());
  s.ExpireIncompleteRequests();  // marks it
  s.ExpireIncompleteRequests();  // answers it
  const std::vector<Parsed> frames = Frames(h.out);
  // The 408 whole, then RST_STREAM NO_ERROR (RFC 9113 section 8.1). With
  // both queued at once, nghttp2 dropped the answer and sent the reset alone.
  ASSERT_EQ(OnStream(frames, 1), "HD.R");
  EXPECT_NE(frames[frames.size() - 2].payload.find("request_timeout"), std::string::npos);
  EXPECT_EQ(frames.back().payload, U32(0)) << "NO_ERROR";
  EXPECT_FALSE(h.closed);
}

TEST(H2SessionRegressionTest, ResettingAStreamHeldAtTheHighWaterMarkKeepsTheConnection) {
  Host h;
  H2Session s(&h, &h, H2Options{});
  // Windows open wide, so only the session's high-water mark holds output.
  s.OnData(Hello(std::string("\x00\x04", 2) + U32(0x7fffffff)) +
           Frame(kWindowUpdate, 0, 0, U32(0x7fff0000)) +
           Frame(kHeaders, kEndHeaders | kEndStream, 1, kGet) +
           Frame(kHeaders, kEndHeaders | kEndStream, 3, kGet));
  ASSERT_EQ(h.slots, (std::vector<uint64_t>{1, 3}));
  s.StartStream(1, ResponseHead{});
  s.StartStream(3, ResponseHead{});
  s.AppendData(1, std::string(600 << 10, 'a'));  // the socket takes nothing: past the mark
  s.Flush();
  ASSERT_GT(s.stream_pending_bytes(1), 0u) << "a frame waits at the high-water mark";
  // The subscriber on stream 1 is aborted (a stall timeout, a token running
  // out) while its frame waits; then the socket drains.
  s.ResetStream(1);
  h.unwritten = 0;
  s.Flush();
  EXPECT_FALSE(h.closed) << "one stream's reset closed the connection";
  EXPECT_EQ(h.closed_streams, std::vector<uint64_t>{1});
  s.AppendData(3, "event: ping\n\n");
  s.Flush();
  const std::vector<Parsed> frames = Frames(h.out);
  EXPECT_EQ(OnStream(frames, 3), "HD");
  EXPECT_EQ(frames.back().payload, "event: ping\n\n");
  std::vector<std::string> resets;
  for (const Parsed& f : frames) {
    if (f.type == kRstStream) resets.push_back(f.payload);
  }
  EXPECT_EQ(resets, std::vector<std::string>{U32(8)}) << "one RST_STREAM, CANCEL";
  for (const Parsed& f : frames) EXPECT_NE(f.type, kGoaway);
}

}  // namespace
}  // namespace eventide::http
