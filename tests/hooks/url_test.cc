// Hook URLs (src/hooks/url.h): what a config may name as a hook target, and
// the clear refusals for everything else.
#include "src/hooks/url.h"

#include <gtest/gtest.h>

#include "src/hooks/dispatcher.h"

namespace eventide::hooks {
namespace {

HookUrl Parse(std::string_view text) {
  Result<HookUrl> url = ParseHookUrl(text);
  EXPECT_TRUE(url.ok()) << text << ": " << url.status().ToString();
  return url.ok() ? *url : HookUrl{};
}

std::string Refusal(std::string_view text) {
  Status s = ParseHookUrl(text).status();
  EXPECT_TRUE(s.IsInvalidArgument()) << text << " was accepted";
  return s.message();
}

TEST(HookUrlTest, AcceptsHostPortPathAndQuery) {
  HookUrl u = Parse("http://127.0.0.1:8080/hooks/write?key=s3cret");
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/hooks/write?key=s3cret");
}

TEST(HookUrlTest, DefaultsPathAndPort) {
  HookUrl u = Parse("http://localhost");
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(Parse("http://example.com?x=1").target, "/?x=1");
  HookUrl s = Parse("https://hooks.example.com/in");
  EXPECT_TRUE(s.tls);
  EXPECT_EQ(s.port, 443);
}

TEST(HookUrlTest, SchemeIsCaseInsensitive) {
  EXPECT_EQ(Parse("HTTP://Example.com/x").host, "Example.com");
  EXPECT_TRUE(Parse("HTTPS://example.com/x").tls);
}

TEST(HookUrlTest, AcceptsBracketedIpv6) {
  HookUrl u = Parse("http://[::1]:9000/h");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.HostHeader(), "[::1]:9000");
}

TEST(HookUrlTest, HostHeaderOmitsTheDefaultPort) {
  EXPECT_EQ(Parse("http://a.example/x").HostHeader(), "a.example");
  EXPECT_EQ(Parse("http://a.example:80/x").HostHeader(), "a.example");
  EXPECT_EQ(Parse("http://a.example:443/x").HostHeader(), "a.example:443");
  EXPECT_EQ(Parse("https://a.example:443/x").HostHeader(), "a.example");
}

TEST(HookUrlTest, RedactedFormDropsTheQuery) {
  EXPECT_EQ(Parse("http://a.example:81/in?token=secret").Redacted(), "http://a.example:81/in");
  EXPECT_EQ(Parse("https://a.example/").Redacted(), "https://a.example/");
}

TEST(HookUrlTest, RefusesOtherSchemes) {
  EXPECT_NE(Refusal("ftp://example.com/x").find("http:// or https://"), std::string::npos);
  Refusal("example.com/x");
  Refusal("ws://example.com/x");
  Refusal("");
}

TEST(HookUrlTest, RefusesCredentials) {
  EXPECT_NE(Refusal("http://user:pw@example.com/x").find("credentials"), std::string::npos);
}

TEST(HookUrlTest, RefusesBadPorts) {
  Refusal("http://example.com:0/x");
  Refusal("http://example.com:65536/x");
  Refusal("http://example.com:/x");
  Refusal("http://example.com:8a/x");
  Refusal("http://example.com:123456/x");
  Refusal("http://[::1]x/x");
}

TEST(HookUrlTest, RefusesMissingOrBadHosts) {
  Refusal("http://");
  Refusal("http:///x");
  Refusal("http://:80/x");
  Refusal("http://exa$mple.com/x");
  Refusal("http://[::1/x");
  Refusal("http://[nonsense]/x");
  Refusal("http://" + std::string(300, 'a') + "/x");
}

TEST(HookUrlTest, RefusesFragmentsSpacesAndControlBytes) {
  EXPECT_NE(Refusal("http://example.com/x#top").find("fragment"), std::string::npos);
  Refusal("http://example.com/a b");
  Refusal("http://example.com/a\r\nX-Evil: 1");
  Refusal("http://example.com/caf\xc3\xa9");
  Refusal("http://example.com/" + std::string(3000, 'a'));
}

TEST(HookUrlTest, CheckUrlAgreesWithParse) {
  EXPECT_TRUE(Dispatcher::CheckUrl("http://127.0.0.1:9/hook").ok());
  EXPECT_TRUE(Dispatcher::CheckUrl("https://localhost/hook").ok());
  Status bad = Dispatcher::CheckUrl("gopher://x/");
  EXPECT_TRUE(bad.IsInvalidArgument());
  EXPECT_NE(bad.message().find("gopher://x/"), std::string::npos) << "names the URL";
}

}  // namespace
}  // namespace eventide::hooks
