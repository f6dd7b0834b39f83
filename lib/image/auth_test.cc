#include "lib/image/auth.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "lib/common/strings.h"
#include "lib/image/auth_challenge.h"

namespace cricket::image {
namespace {

std::string B64(std::string_view s) { return absl::Base64Escape(ToAbsl(s)); }

Reference Ref(std::string_view s) { return *Reference::ParseNormalized(s); }

TEST(AuthConfigTest, DecodeAuth) {
  AuthConfig c;
  c.auth = B64("alice:pa:ss");
  ASSERT_TRUE(c.DecodeAuth().ok());
  EXPECT_EQ(c.username, "alice");
  EXPECT_EQ(c.password, "pa:ss");

  AuthConfig bad;
  bad.auth = "!!!not base64";
  absl::Status s = bad.DecodeAuth();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("!!!"), absl::string_view::npos);  // the value is never echoed
  AuthConfig nocolon;
  nocolon.auth = B64("justuser");
  EXPECT_FALSE(nocolon.DecodeAuth().ok());

  AuthConfig a, b;
  a.username = "ab";
  a.password = "c";
  b.username = "a";
  b.password = "bc";
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
  EXPECT_EQ(a.Fingerprint(), a.Fingerprint());
  EXPECT_EQ(AuthConfig().Fingerprint(), "anonymous");
  EXPECT_EQ(a.Fingerprint().find("ab"), std::string::npos);
}

TEST(AuthConfigTest, NormalizeRegistryHost) {
  EXPECT_EQ(NormalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("http://r.io:5000/v2/"), "r.io:5000");
  EXPECT_EQ(NormalizeRegistryHost("r.io/team/"), "r.io/team");
  EXPECT_EQ(NormalizeRegistryHost("quay.io"), "quay.io");
}

TEST(AuthFileTest, MostSpecificKeyFirst) {
  std::string json = StrCat(R"({"auths": {
      "my-registry.local/foo/bar/image": {"auth": ")",
                            B64("image:1"), R"("},
      "my-registry.local/foo": {"auth": ")",
                            B64("foo:2"), R"("},
      "my-registry.local": {"auth": ")",
                            B64("root:3"), R"("},
      "https://index.docker.io/v1/": {"auth": ")",
                            B64("hub:4"), R"("},
      "tok.io": {"identitytoken": "refresh-me"},
      "broken.io": {"auth": "%%%"},
      "empty.io": {}
    }, "credHelpers": {"x.io": "secretservice"}})");
  auto file = AuthFile::Parse(json, "auth.json");
  ASSERT_TRUE(file.ok()) << file.status();
  auto user = [&](std::string_view domain, std::string_view path) {
    auto c = file->Lookup(domain, path);
    return c ? c->username : std::string("<none>");
  };
  EXPECT_EQ(user("my-registry.local", "foo/bar/image"), "image");
  EXPECT_EQ(user("my-registry.local", "foo/bar/other"), "foo");
  EXPECT_EQ(user("my-registry.local", "foo/bar"), "foo");
  EXPECT_EQ(user("my-registry.local", "foobar/x"), "root");
  EXPECT_EQ(user("my-registry.local", "x"), "root");
  EXPECT_EQ(user("docker.io", "library/busybox"), "hub");
  EXPECT_EQ(user("registry-1.docker.io", "library/busybox"), "hub");
  EXPECT_EQ(user("other.io", "x"), "<none>");
  EXPECT_EQ(user("broken.io", "x"), "<none>");
  EXPECT_EQ(user("empty.io", "x"), "<none>");
  EXPECT_EQ(user("my-registry.local:5000", "foo"), "<none>");
  auto tok = file->Lookup("tok.io", "a/b");
  ASSERT_TRUE(tok.has_value());
  EXPECT_EQ(tok->identity_token, "refresh-me");

  EXPECT_FALSE(AuthFile::Parse("[1]", "a.json").ok());
  EXPECT_FALSE(AuthFile::Parse(R"({"auths": {"r.io": "x"}})", "a.json").ok());
  auto bad = AuthFile::Parse("{", "/etc/x/auth.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/etc/x/auth.json"), absl::string_view::npos);
  auto missing = AuthFile::Load("/nonexistent/auth.json");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
}

TEST(AuthFileTest, SelectCredentialsStaysWithItsRegistry) {
  auto file = *AuthFile::Parse(StrCat(R"({"auths": {"mirror.local": {"auth": ")", B64("mirror:m"), R"("}}})"),
                               "auth.json");
  AuthConfig request;
  request.username = "req";
  request.password = "p";
  Reference requested = Ref("r.io/team/app:1");

  auto pick = [&](const AuthConfig* req, std::string_view source) {
    auto c = SelectCredentials(req, requested, Ref(source), &file);
    return c ? c->username : std::string("<none>");
  };
  EXPECT_EQ(pick(&request, "r.io/team/app:1"), "req");
  EXPECT_EQ(pick(&request, "r.io/rewritten/app:1"), "req");  // same registry host
  EXPECT_EQ(pick(&request, "mirror.local/team/app:1"), "mirror");
  EXPECT_EQ(pick(&request, "elsewhere.io/team/app:1"), "<none>");
  EXPECT_EQ(pick(nullptr, "r.io/team/app:1"), "<none>");

  AuthConfig scoped = request;
  scoped.server_address = "https://r.io/team";
  // A URL's path is an API version, so "https://r.io/team" covers all of r.io.
  EXPECT_EQ(pick(&scoped, "r.io/other/x"), "req");
  scoped.server_address = "r.io/team";
  EXPECT_EQ(pick(&scoped, "r.io/team/app:1"), "req");
  EXPECT_EQ(pick(&scoped, "r.io/teams/app:1"), "<none>");
  AuthConfig other = request;
  other.server_address = "mirror.local";
  EXPECT_EQ(pick(&other, "mirror.local/team/app:1"), "req");
  EXPECT_EQ(pick(&other, "r.io/team/app:1"), "<none>");

  AuthConfig hub;
  hub.auth = B64("hubuser:x");
  hub.server_address = "https://index.docker.io/v1/";
  auto c = SelectCredentials(&hub, Ref("busybox"), Ref("busybox"), nullptr);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->username, "hubuser");
}

TEST(ChallengeTest, ParsesBearer) {
  auto chs = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")");
  ASSERT_EQ(chs.size(), 1u);
  EXPECT_EQ(chs[0].scheme, "bearer");
  EXPECT_EQ(chs[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(chs[0].param("service"), "registry.docker.io");
  EXPECT_EQ(chs[0].param("scope"), "repository:samalba/my-app:pull,push");
}

TEST(ChallengeTest, ParsesSeveralChallengesAndOddSpacing) {
  auto chs = ParseWwwAuthenticate(
      R"(Basic realm="basic-realm" , BEARER Realm = "https://a/t?x=1" ,error=insufficient_scope, Negotiate abc+/==, Other)");
  ASSERT_EQ(chs.size(), 4u);
  EXPECT_EQ(chs[0].scheme, "basic");
  EXPECT_EQ(chs[0].param("realm"), "basic-realm");
  EXPECT_EQ(chs[1].scheme, "bearer");
  EXPECT_EQ(chs[1].param("realm"), "https://a/t?x=1");
  EXPECT_EQ(chs[1].param("error"), "insufficient_scope");
  EXPECT_EQ(chs[2].scheme, "negotiate");
  EXPECT_EQ(chs[2].token68, "abc+/==");
  EXPECT_TRUE(chs[2].params.empty());
  EXPECT_EQ(chs[3].scheme, "other");
}

TEST(ChallengeTest, QuotedEscapesAndMalformedInput) {
  auto chs = ParseWwwAuthenticate(R"(Bearer realm="a\"b\\c",service=svc)");
  ASSERT_EQ(chs.size(), 1u);
  EXPECT_EQ(chs[0].param("realm"), "a\"b\\c");
  EXPECT_EQ(chs[0].param("service"), "svc");
  // An unterminated quote ends the params; the scheme is still known.
  chs = ParseWwwAuthenticate(R"(Bearer realm="https://x)");
  ASSERT_EQ(chs.size(), 1u);
  EXPECT_EQ(chs[0].scheme, "bearer");
  EXPECT_EQ(chs[0].param("realm"), "");
  EXPECT_TRUE(ParseWwwAuthenticate("").empty());
  EXPECT_TRUE(ParseWwwAuthenticate("  ,  ").empty());
  EXPECT_EQ(ParseWwwAuthenticate("Basic").at(0).scheme, "basic");
}

TEST(TokenResponseTest, Fields) {
  auto r = ParseTokenResponse(R"({"token": "t1", "expires_in": 300})", 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->token, "t1");
  EXPECT_EQ(r->lifetime_seconds, 300);
  r = ParseTokenResponse(R"({"access_token": "t2"})", 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->token, "t2");
  EXPECT_EQ(r->lifetime_seconds, 60);
  // issued_at 2001-09-09T01:46:40Z is unix 1000000000; 100 s later 200 of 300 s remain.
  r = ParseTokenResponse(R"({"token": "t", "expires_in": 300, "issued_at": "2001-09-09T01:46:40Z"})",
                         1000000100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lifetime_seconds, 200);
  // A skewed clock (issued "in the future" or long ago) falls back to expires_in.
  r = ParseTokenResponse(R"({"token": "t", "expires_in": 300, "issued_at": "2001-09-09T01:46:40Z"})",
                         999999000);
  EXPECT_EQ(r->lifetime_seconds, 300);
  r = ParseTokenResponse(R"({"token": "t", "expires_in": 300, "issued_at": "2001-09-09T01:46:40Z"})",
                         1000009000);
  EXPECT_EQ(r->lifetime_seconds, 300);
  EXPECT_FALSE(ParseTokenResponse(R"({"expires_in": 3})", 0).ok());
  EXPECT_FALSE(ParseTokenResponse("<html>", 0).ok());
}

}  // namespace
}  // namespace cricket::image
