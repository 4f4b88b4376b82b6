#include "src/http/static_file.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace eventide::http {
namespace {

std::string Gunzip(const std::string& z) {
  z_stream s{};
  EXPECT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  s.avail_in = static_cast<uInt>(z.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  inflateEnd(&s);
  return out;
}

TEST(StaticFileTest, TextIsGzippedWhenItPays) {
  std::string css;
  for (int i = 0; i < 100; ++i) css += ".row" + std::to_string(i) + " { margin: 0 auto; }\n";
  StaticFile f = MakeStaticFile("assets/index.css", css);
  EXPECT_EQ(f.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(f.body, css);
  ASSERT_FALSE(f.gzip.empty());
  EXPECT_LT(f.gzip.size(), css.size() / 3);
  EXPECT_EQ(Gunzip(f.gzip), css);
  EXPECT_EQ(f.gzip_etag, f.etag.substr(0, 17) + "-gz\"");
}

TEST(StaticFileTest, SmallBinaryOrIncompressibleFilesAreNot) {
  EXPECT_TRUE(MakeStaticFile("index.html", "<p>hi</p>").gzip.empty());
  EXPECT_TRUE(MakeStaticFile("logo.png", std::string(4096, 'a')).gzip.empty());
  std::string noise;
  uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1103515245 + 12345;
    noise.push_back(static_cast<char>(x >> 24));
  }
  EXPECT_TRUE(MakeStaticFile("noise.txt", noise).gzip.empty());
}

TEST(StaticFileTest, EtagIsStrongAndFollowsTheContent) {
  StaticFile a = MakeStaticFile("a.js", "1");
  EXPECT_EQ(a.etag.size(), 18u);
  EXPECT_EQ(a.etag.front(), '"');
  EXPECT_EQ(a.etag.back(), '"');
  EXPECT_EQ(MakeStaticFile("b.js", "1").etag, a.etag);
  EXPECT_NE(MakeStaticFile("a.js", "2").etag, a.etag);
}

TEST(StaticFileTest, AcceptsGzip) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br, zstd"));  // Chromium
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_TRUE(AcceptsGzip("gzip;q=0.001"));
  EXPECT_TRUE(AcceptsGzip("gzip ; Q = 1"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("br, deflate"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0, *"));  // the named coding wins over *
  EXPECT_FALSE(AcceptsGzip("gzipx"));
}

TEST(StaticFileTest, EtagMatches) {
  EXPECT_TRUE(EtagMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("*", "\"abc\""));
  EXPECT_FALSE(EtagMatches("", "\"abc\""));
  EXPECT_FALSE(EtagMatches("\"abcd\"", "\"abc\""));
  EXPECT_FALSE(EtagMatches("abc", "\"abc\""));
}

}  // namespace
}  // namespace eventide::http
