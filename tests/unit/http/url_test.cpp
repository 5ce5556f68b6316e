#include "core/url.h"

#include <gtest/gtest.h>

namespace p2p {
namespace {

struct GoodCase {
  const char* text;
  const char* scheme;
  const char* host;
  const char* port;
  const char* target;
  const char* authority;
  const char* host_header;
  const char* path;
};

TEST(UrlParse, SplitsValidUrls) {
  const GoodCase cases[] = {
      {"http://example.com", "http", "example.com", "80", "/", "example.com:80", "example.com",
       "/"},
      {"HTTPS://Api.Example.COM/fhir/R4/Group/7/$export?_type=Patient", "https", "api.example.com",
       "443", "/fhir/R4/Group/7/$export?_type=Patient", "api.example.com:443", "api.example.com",
       "/fhir/R4/Group/7/$export"},
      {"http://127.0.0.1:8080/x", "http", "127.0.0.1", "8080", "/x", "127.0.0.1:8080",
       "127.0.0.1:8080", "/x"},
      {"https://h:443/a", "https", "h", "443", "/a", "h:443", "h", "/a"},
      {"http://h?q=1", "http", "h", "80", "/?q=1", "h:80", "h", "/"},
      {"http://[::1]:9000/p", "http", "::1", "9000", "/p", "[::1]:9000", "[::1]:9000", "/p"},
      {"https://[FE80::1]", "https", "fe80::1", "443", "/", "[fe80::1]:443", "[fe80::1]", "/"},
  };
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.text);
    Result<Url> url = Url::Parse(c.text);
    ASSERT_TRUE(url.ok()) << url.error().message;
    EXPECT_EQ(url->scheme, c.scheme);
    EXPECT_EQ(url->host, c.host);
    EXPECT_EQ(url->port, c.port);
    EXPECT_EQ(url->target, c.target);
    EXPECT_EQ(url->Authority(), c.authority);
    EXPECT_EQ(url->HostHeader(), c.host_header);
    EXPECT_EQ(url->Path(), c.path);
  }
}

TEST(UrlParse, RejectsBadUrlsWithExactMessages) {
  const std::pair<std::string, std::string> cases[] = {
      {"example.com/x", "not an absolute URL"},
      {"/x", "not an absolute URL"},
      {"://h/x", "not an absolute URL"},
      {"ftp://h/x", "scheme must be http or https"},
      {"http:///x", "empty host"},
      {"http://:80/x", "empty host"},
      {"http://h:/x", "bad port"},
      {"http://h:0/x", "bad port"},
      {"http://h:65536/x", "bad port"},
      {"http://h:12a/x", "bad port"},
      {"http://h:123456/x", "bad port"},
      {"http://user:pw@h/x", "URL has user info"},
      {"http://h/x#frag", "URL has a fragment"},
      {"http://h/a b", "URL contains a space or control character"},
      {"http://[::1/x", "bad IPv6 host"},
      {"http://[::1]x/", "bad IPv6 host"},
      {"http://[]/", "bad IPv6 host"},
      {"http://h]/", "bad host"},
      {"http://h/" + std::string(4096, 'a'), "URL over 4096 bytes"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text.substr(0, 40));
    Result<Url> url = Url::Parse(text);
    ASSERT_FALSE(url.ok());
    EXPECT_EQ(url.error().kind, ErrorKind::kInvalid);
    EXPECT_EQ(url.error().message, message);
  }
}

TEST(UrlParse, AcceptsExactly4096Bytes) {
  std::string text = "http://h/";
  text += std::string(4096 - text.size(), 'a');
  EXPECT_TRUE(Url::Parse(text).ok());
}

TEST(Url, ToStringOmitsDefaultPort) {
  EXPECT_EQ(Url::Parse("HTTPS://H:443/a?b=c").value().ToString(), "https://h/a?b=c");
  EXPECT_EQ(Url::Parse("http://h:8080").value().ToString(), "http://h:8080/");
  EXPECT_EQ(Url::Parse("http://[::1]:80/x").value().ToString(), "http://[::1]/x");
}

TEST(UrlResolve, AbsolutePathKeepsSchemeHostAndPort) {
  Url base = Url::Parse("https://payer.example:8443/fhir/R4/Group/1/$export").value();
  Result<Url> r = base.Resolve("/jobs/42?x=1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->ToString(), "https://payer.example:8443/jobs/42?x=1");
}

TEST(UrlResolve, AbsoluteUrlReplacesEverything) {
  Url base = Url::Parse("https://payer.example/fhir").value();
  EXPECT_EQ(base.Resolve("http://Other:81/x").value().ToString(), "http://other:81/x");
  EXPECT_EQ(base.Resolve("//cdn.example/f.ndjson").value().ToString(),
            "https://cdn.example/f.ndjson");
}

TEST(UrlResolve, RejectsRelativePathsAndBadUrls) {
  Url base = Url::Parse("https://payer.example/fhir/").value();
  EXPECT_EQ(base.Resolve("jobs/1").error().message,
            "reference is neither an absolute URL nor an absolute path");
  EXPECT_EQ(base.Resolve("").error().message,
            "reference is neither an absolute URL nor an absolute path");
  EXPECT_EQ(base.Resolve("/x#y").error().message, "URL has a fragment");
  EXPECT_EQ(base.Resolve("ftp://h/").error().message, "scheme must be http or https");
}

TEST(IsLoopbackHost, RecognisesLoopbackOnly) {
  for (const char* host :
       {"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "[::1]"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host :
       {"", "example.com", "128.0.0.1", "10.0.0.1", "127.0.0", "127.0.0.1.5", "127.0.0.256",
        "127.0.0.a", "::2", "localhost.example.com", "127.0.0.1.example.com"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

}  // namespace
}  // namespace p2p
