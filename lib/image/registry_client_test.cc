#include "lib/image/registry_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/time_util.h"

namespace cricket::image {
namespace {

TEST(TokenCacheTest, ExpiresAndErases) {
  TokenCache cache;
  cache.Put("k", "t1", 300);
  EXPECT_EQ(cache.Get("k"), "t1");
  EXPECT_EQ(cache.Get("other"), std::nullopt);
  cache.Erase("k");
  EXPECT_EQ(cache.Get("k"), std::nullopt);
  // A 1 s token is used for at most 1 s (a fifth of short lifetimes is kept as a margin).
  cache.Put("short", "t2", 1);
  EXPECT_EQ(cache.Get("short"), "t2");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(cache.Get("short"), std::nullopt);
  // A zero lifetime is never served.
  cache.Put("zero", "t3", 0);
  EXPECT_EQ(cache.Get("zero"), std::nullopt);
}

TEST(HttpErrorTest, MapsStatusesAndRegistryErrors) {
  HttpResponse r;
  r.status = 404;
  r.body = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]})";
  absl::Status s = HttpError("manifest r.io/a:x", r);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "manifest r.io/a:x: HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)");
  r.body = "<html>gateway</html>";
  r.status = 502;
  EXPECT_EQ(HttpError("x", r).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(HttpError("x", r).message(), "x: HTTP 502");
  r.status = 401;
  EXPECT_EQ(HttpError("x", r).code(), absl::StatusCode::kUnauthenticated);
  r.status = 403;
  EXPECT_EQ(HttpError("x", r).code(), absl::StatusCode::kPermissionDenied);
  r.status = 429;
  EXPECT_EQ(HttpError("x", r).code(), absl::StatusCode::kResourceExhausted);
  r.status = 418;
  EXPECT_EQ(HttpError("x", r).code(), absl::StatusCode::kUnknown);
}

TEST(UrlTest, ParseAndEncode) {
  auto u = ParseUrl("HTTPS://127.0.0.1:5000/v2/a/blobs/sha256:x?y=1");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host_port, "127.0.0.1:5000");
  EXPECT_EQ(u->path_and_query, "/v2/a/blobs/sha256:x?y=1");
  EXPECT_EQ(ParseUrl("http://[::1]:80")->host_port, "[::1]:80");
  EXPECT_EQ(ParseUrl("http://r.io")->path_and_query, "/");
  EXPECT_FALSE(ParseUrl("r.io/v2/").has_value());
  EXPECT_FALSE(ParseUrl("https://user:pw@r.io/").has_value());
  EXPECT_EQ(UrlEncode("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
  EXPECT_EQ(UrlEncode("a-b_c.d~e f"), "a-b_c.d~e%20f");
}

TEST(CallContextTest, CancelAndDeadline) {
  std::atomic<bool> cancelled{false};
  CallContext ctx = CallContext::WithTimeout(60'000, &cancelled);
  EXPECT_TRUE(ctx.Check().ok());
  cancelled = true;
  EXPECT_EQ(ctx.Check().code(), absl::StatusCode::kCancelled);
  CallContext past;
  past.deadline = MonotonicNow() - 1;
  EXPECT_EQ(past.Check().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(CallContext().Check().ok());
}

TEST(RegistryClientPoolTest, OneClientPerRegistryAndCredentials) {
  RegistryClientPool pool(std::make_shared<HttpTransport>());
  AuthConfig a;
  a.username = "a";
  a.password = "p";
  AuthConfig b = a;
  b.password = "q";
  auto c1 = pool.Get("r.io", false, a);
  EXPECT_EQ(pool.Get("r.io", false, a), c1);
  EXPECT_NE(pool.Get("r.io", false, b), c1);
  EXPECT_NE(pool.Get("r.io", true, a), c1);
  EXPECT_NE(pool.Get("s.io", false, a), c1);
  EXPECT_EQ(pool.Get("r.io", false, std::nullopt), pool.Get("r.io", false, AuthConfig()));
  EXPECT_EQ(c1->registry(), "r.io");
  EXPECT_EQ(RegistryClient::ApiHost("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(RegistryClient::ApiHost("quay.io"), "quay.io");
}

TEST(HttpTransportTest, CertsDirLayout) {
  char tmpl[] = "/tmp/cricket-certsd-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  HttpTransport::Options o;
  o.certs_dirs = {root + "/first", root + "/second"};
  HttpTransport t(o);
  auto write = [](const std::string& p, const std::string& s) {
    ASSERT_TRUE(MkdirAll(DirName(p)).ok());
    ASSERT_TRUE(WriteFileAtomic(p, s).ok());
  };
  write(root + "/first/r.io:5000/a.crt", "CA-A");
  write(root + "/first/r.io:5000/b.crt", "CA-B");
  write(root + "/first/r.io:5000/client.cert", "CERT");
  write(root + "/first/r.io:5000/client.key", "KEY");
  write(root + "/second/r.io:5000/ignored.crt", "CA-IGNORED");
  write(root + "/second/q.io/lonely.key", "KEY");
  auto files = t.LoadTlsFiles("r.io:5000");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->ca_pem, "CA-A\nCA-B\n");  // the first directory found is used
  EXPECT_EQ(files->client_cert, "CERT");
  EXPECT_EQ(files->client_key, "KEY");
  auto lonely = t.LoadTlsFiles("q.io");
  EXPECT_NE(lonely.status().message().find("has no certificate"), absl::string_view::npos) << lonely.status();
  auto none = t.LoadTlsFiles("other.io");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->ca_pem.empty());
  ASSERT_TRUE(RemoveAll(root).ok());
}

}  // namespace
}  // namespace cricket::image
