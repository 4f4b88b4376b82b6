// The cost of refusing JSON that is not UTF-8 on the write path
// (src/common/utf8.h): parsing a typical record body as the REST service
// did before (RapidJSON, no validation) against ParseJsonInput (the raw
// bytes validated, then the lone-surrogate scan), in the same run; and, for
// the record, RapidJSON's kParseValidateEncodingFlag, which it does not use. The bodies are
// parsed into a reused pool buffer as rest::Service does.
// And the cost of the record limits (docs/HTTP.md "Limits"): ScanJsonShape,
// run twice per write (over the body for nesting, inside ParseJsonInput,
// and over the record as logged for members and field sizes), against the
// parse and the serialization of the same record.
#include <benchmark/benchmark.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <string>

#include "src/common/json_shape.h"
#include "src/common/utf8.h"

namespace eventide {
namespace {

// A record of the demo app's Message table, as the README's curl writes it
// (~230 bytes), ASCII and with some non-ASCII text and a surrogate pair.
const std::string kAscii =
    R"({"id":"msg-1042","title":"Deploy finished","content":"The nightly deploy of )"
    R"(build 2025.01.15-3 finished in 4m12s; 3 services restarted, no errors. See the )"
    R"(dashboard for details.","author":"ann"})";
const std::string kUnicode =
    R"({"id":"msg-1043","title":"D\u00e9ploiement termin\u00e9 \ud83d\ude80","content":")"
    "Le d\xc3\xa9ploiement de nuit est termin\xc3\xa9 en 4 min 12 s ; 3 services "
    "red\xc3\xa9marr\xc3\xa9s, aucune erreur \xe2\x80\x94 voir le tableau de bord."
    R"(","author":"Ren\u00e9e"})";

constexpr size_t kBufferBytes = 32 << 10;  // as rest::Service::kParseBufferBytes

const std::string& Body(int which) { return which == 0 ? kAscii : kUnicode; }

const std::string& Record(int which);

void BM_ParseBody_Unvalidated(benchmark::State& state) {
  const std::string& body = Record(static_cast<int>(state.range(0)));
  std::unique_ptr<char[]> buf(new char[kBufferBytes]);
  for (auto _ : state) {
    rapidjson::MemoryPoolAllocator<> alloc(buf.get(), kBufferBytes);
    rapidjson::Document d(&alloc);
    d.Parse(body.data(), body.size());
    benchmark::DoNotOptimize(d.HasParseError());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_ParseBody_Validated(benchmark::State& state) {
  const std::string& body = Record(static_cast<int>(state.range(0)));
  std::unique_ptr<char[]> buf(new char[kBufferBytes]);
  for (auto _ : state) {
    rapidjson::MemoryPoolAllocator<> alloc(buf.get(), kBufferBytes);
    rapidjson::Document d(&alloc);
    JsonInputResult r = ParseJsonInput(body, &d, "the body");
    benchmark::DoNotOptimize(r.ok());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// What ParseJsonInput does not do: RapidJSON's own raw-byte validation
// (and it would still miss lone surrogate escapes).
void BM_ParseBody_RapidjsonValidateFlag(benchmark::State& state) {
  const std::string& body = Body(static_cast<int>(state.range(0)));
  std::unique_ptr<char[]> buf(new char[kBufferBytes]);
  for (auto _ : state) {
    rapidjson::MemoryPoolAllocator<> alloc(buf.get(), kBufferBytes);
    rapidjson::Document d(&alloc);
    d.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
    benchmark::DoNotOptimize(d.HasParseError());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// The validator alone, for scale (a URL or a frame that is not parsed).
void BM_FindInvalidUtf8(benchmark::State& state) {
  const std::string& body = Body(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(FindInvalidUtf8(body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// Arg 2: a 64 KiB record, for the scan's rate on a large one.
const std::string& Record(int which) {
  static const std::string big = [] {
    std::string b = R"({"id":"doc-1","title":"Quarterly report","content":")";
    while (b.size() < (64 << 10)) b += "Revenue grew in every region; costs held flat. ";
    return b + R"(","author":"ann"})";
  }();
  return which == 2 ? big : Body(which);
}

// ScanJsonShape over a record, as the limits run it (twice per write).
void BM_ScanJsonShape(benchmark::State& state) {
  const std::string& body = Record(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    JsonShape s = ScanJsonShape(body, 64, 1 << 20);
    benchmark::DoNotOptimize(s.members);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// The record written back as the log stores it (rest::Service's Serialize),
// the step the record-side scan follows.
void BM_SerializeRecord(benchmark::State& state) {
  const std::string& body = Record(static_cast<int>(state.range(0)));
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  for (auto _ : state) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    d.Accept(w);
    benchmark::DoNotOptimize(sb.GetSize());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// Arg 0: the ASCII record; 1: the one with non-ASCII text and escapes.
BENCHMARK(BM_ParseBody_Unvalidated)->Arg(0)->Arg(1);
BENCHMARK(BM_ParseBody_Validated)->Arg(0)->Arg(1);
BENCHMARK(BM_ParseBody_RapidjsonValidateFlag)->Arg(0)->Arg(1);
BENCHMARK(BM_FindInvalidUtf8)->Arg(0)->Arg(1);
BENCHMARK(BM_ScanJsonShape)->Arg(0)->Arg(1)->Arg(2);
BENCHMARK(BM_SerializeRecord)->Arg(0)->Arg(1)->Arg(2);
BENCHMARK(BM_ParseBody_Unvalidated)->Arg(2);
BENCHMARK(BM_ParseBody_Validated)->Arg(2);

}  // namespace
}  // namespace eventide

BENCHMARK_MAIN();
