// lib/image against a real registry (Debian's docker-registry) on loopback: plain HTTP, TLS with a
// test CA and basic auth, client certificates, bearer tokens, a multi-platform index, a blob redirect,
// a dropped connection resumed with Range, a corrupted blob and manifest, cancellation.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/image/image_source.h"
#include "lib/image/registry_client.h"
#include "test/support/registry.h"
#include "test/support/test_image.h"

namespace cricket {
void PrintTo(const Digest& d, std::ostream* os) { *os << d.ToString(); }
}  // namespace cricket

namespace cricket::image {
namespace {

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    auto status_or_ = (expr);                            \
    ASSERT_TRUE(status_or_.ok()) << status_or_.status(); \
  } while (0)

using testing::LayerSpec;
using testing::TestImage;
using testing::TestImageOptions;
using testing::TestLayer;
using testing::TestRegistry;

CallContext Ctx() { return CallContext::WithTimeout(60'000); }

// A layer big enough for several chunks and a mid-blob drop: text plus pseudo-random bytes.
std::string BigContent(size_t n, uint32_t seed) {
  std::string s;
  uint32_t x = seed;
  while (s.size() < n / 2) StrAppend(&s, "line ", s.size(), "\n");
  while (s.size() < n) {
    x = x * 1664525u + 1013904223u;
    s.push_back(static_cast<char>(x >> 24));
  }
  return s;
}

TestImage SampleImage(TestImageOptions options = {}) {
  return testing::BuildImage(
      {LayerSpec{{testing::TarDir("etc"), testing::TarFile("etc/hello", "hello\n")}, Compression::kGzip},
       LayerSpec{{testing::TarFile("data/big", BigContent(300000, 7))}, Compression::kZstd},
       LayerSpec{{testing::TarFile("plain", "not compressed")}, Compression::kNone}},
      options);
}

class RegistryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
    tokens_ = std::make_shared<TokenCache>();
  }

  std::shared_ptr<HttpTransport> Transport(const std::string& certs_dir = "") {
    HttpTransport::Options o;
    o.certs_dirs = {certs_dir.empty() ? "/nonexistent" : certs_dir};
    o.low_speed_time_s = low_speed_time_s_;
    return std::make_shared<HttpTransport>(o);
  }

  std::unique_ptr<RegistryClient> Client(const std::string& host, bool insecure,
                                         std::optional<AuthConfig> creds = std::nullopt,
                                         const std::string& certs_dir = "") {
    RegistryClient::Options o;
    o.initial_backoff_ms = 20;
    o.max_backoff_ms = 100;
    return std::make_unique<RegistryClient>(Transport(certs_dir), tokens_, host, insecure, std::move(creds),
                                            o);
  }

  // Pulls `img` back through `client` and checks every byte.
  void ExpectPullable(RegistryClient& client, const std::string& repo, const std::string& tag,
                      const TestImage& img) {
    auto resolved = ResolveImage(client, *Reference::Parse(StrCat(client.registry(), "/", repo, ":", tag)),
                                 img.platform, Ctx());
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    EXPECT_EQ(resolved->image_manifest_digest.ToString(), img.manifest_digest.ToString());
    EXPECT_EQ(resolved->config_bytes, img.config);
    ASSERT_EQ(resolved->manifest.layers.size(), img.layers.size());
    ASSERT_EQ(resolved->config.diff_ids.size(), img.layers.size());
    for (size_t i = 0; i < img.layers.size(); ++i) {
      std::string out;
      auto r = client.FetchLayer(repo, resolved->manifest.layers[i],
                                 [&](std::string_view c) {
                                   out.append(c);
                                   return absl::OkStatus();
                                 },
                                 Ctx(), {.compute_diff_id = true});
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(out == img.layers[i].tar) << "layer " << i;
      EXPECT_EQ(r->diff_id, resolved->config.diff_ids[i]);
    }
  }

  std::shared_ptr<TokenCache> tokens_;
  int64_t low_speed_time_s_ = 10;
};

TEST_F(RegistryE2eTest, PlainHttpInsecurePushAndPull) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto client = Client((*reg)->host(), /*insecure=*/true);
  ASSERT_TRUE(client->Ping(Ctx()).ok());
  TestImage img = SampleImage();
  auto pushed = testing::PushImage(*client, "test/app", "v1", img, Ctx());
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(*pushed, img.manifest_digest);
  ExpectPullable(*client, "test/app", "v1", img);

  // By digest too, and Docker media types.
  auto by_digest = client->GetManifest("test/app", img.manifest_digest.ToString(), Ctx());
  ASSERT_TRUE(by_digest.ok()) << by_digest.status();
  EXPECT_EQ(by_digest->bytes, img.manifest);
  TestImage docker = SampleImage({.docker_media_types = true});
  ASSERT_OK(testing::PushImage(*client, "test/docker", "latest", docker, Ctx()));
  ExpectPullable(*client, "test/docker", "latest", docker);

  auto missing = client->GetManifest("test/app", "nope", Ctx());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_NE(missing.status().message().find("MANIFEST_UNKNOWN"), absl::string_view::npos) << missing.status();

  // Without the insecure flag plain HTTP is never used.
  auto secure = Client((*reg)->host(), /*insecure=*/false);
  absl::Status s = secure->Ping(Ctx());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not reachable"), absl::string_view::npos) << s;
}

TEST_F(RegistryE2eTest, TlsWithTestCaAndBasicAuth) {
  auto reg = TestRegistry::Start({.tls = true, .htpasswd_users = {{"alice", "wonderland"}}});
  ASSERT_TRUE(reg.ok()) << reg.status();
  AuthConfig alice;
  alice.auth = absl::Base64Escape("alice:wonderland");
  auto client = Client((*reg)->host(), false, alice, (*reg)->certs_dir());
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*client, "secure/app", "v1", img, Ctx()));
  ExpectPullable(*client, "secure/app", "v1", img);

  auto anonymous = Client((*reg)->host(), false, std::nullopt, (*reg)->certs_dir());
  auto s = anonymous->GetManifest("secure/app", "v1", Ctx());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated) << s.status();
  AuthConfig wrong;
  wrong.username = "alice";
  wrong.password = "nope";
  s = Client((*reg)->host(), false, wrong, (*reg)->certs_dir())->GetManifest("secure/app", "v1", Ctx());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated) << s.status();
  EXPECT_EQ(s.status().message().find("nope"), absl::string_view::npos);

  // The system CAs alone do not trust the test CA; "insecure" skips verification.
  absl::Status untrusted = Client((*reg)->host(), false, alice)->Ping(Ctx());
  EXPECT_EQ(untrusted.code(), absl::StatusCode::kFailedPrecondition) << untrusted;
  auto insecure = Client((*reg)->host(), true, alice);
  EXPECT_TRUE(insecure->GetManifest("secure/app", "v1", Ctx()).ok());
}

TEST_F(RegistryE2eTest, ClientCertificateFromCertsDir) {
  auto reg = TestRegistry::Start({.tls = true, .require_client_cert = true});
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto client = Client((*reg)->host(), false, std::nullopt, (*reg)->certs_dir());
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*client, "mtls/app", "v1", img, Ctx()));
  ExpectPullable(*client, "mtls/app", "v1", img);

  // Without the client pair the handshake fails; a .cert without its .key is a clear error.
  std::string dir = StrCat((*reg)->certs_dir(), "/", (*reg)->host());
  ASSERT_EQ(::rename((dir + "/client.key").c_str(), (dir + "/client.key.off").c_str()), 0);
  absl::Status s = Client((*reg)->host(), false, std::nullopt, (*reg)->certs_dir())->Ping(Ctx());
  EXPECT_NE(s.message().find("has no key"), absl::string_view::npos) << s;
  ASSERT_TRUE(RemoveAll(dir + "/client.cert").ok());
  s = Client((*reg)->host(), false, std::nullopt, (*reg)->certs_dir())->Ping(Ctx());
  EXPECT_FALSE(s.ok());
}

int CountRequests(const std::vector<nlohmann::json>& log, std::string_view method) {
  int n = 0;
  for (const auto& j : log) n += j.value("method", "") == method;
  return n;
}

TEST_F(RegistryE2eTest, BearerTokens) {
  auto reg = TestRegistry::Start(
      {.token_auth = true, .token_users = {{"bob", "builder"}}, .refresh_tokens = {{"refresh-123", "bob"}}});
  ASSERT_TRUE(reg.ok()) << reg.status();
  AuthConfig bob;
  bob.username = "bob";
  bob.password = "builder";
  auto client = Client((*reg)->host(), true, bob);
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*client, "tok/app", "v1", img, Ctx()));
  ExpectPullable(*client, "tok/app", "v1", img);

  auto log = (*reg)->token_requests();
  ASSERT_FALSE(log.empty());
  for (const auto& j : log) {
    EXPECT_EQ(j["auth"], "basic") << j.dump();
    EXPECT_EQ(j["user"], "bob");
    EXPECT_EQ(j["service"], "cricket-test-registry");
  }
  // One token per scope, reused from the cache: the pull above needed no new push scope token.
  size_t before = log.size();
  ASSERT_TRUE(client->GetManifest("tok/app", "v1", Ctx()).ok());
  EXPECT_EQ((*reg)->token_requests().size(), before);
  bool saw_pull_scope = false;
  for (const auto& j : log)
    saw_pull_scope |= j["scope"].dump().find("repository:tok/app:pull\"") != std::string::npos;
  EXPECT_TRUE(saw_pull_scope);

  // Anonymous: the issuer grants nothing, so the registry refuses.
  auto anon = Client((*reg)->host(), true);
  EXPECT_EQ(anon->GetManifest("tok/app", "v1", Ctx()).status().code(), absl::StatusCode::kUnauthenticated);
  // Wrong password: the token endpoint refuses.
  AuthConfig wrong = bob;
  wrong.password = "x";
  auto s = Client((*reg)->host(), true, wrong)->GetManifest("tok/app", "v1", Ctx()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_NE(s.message().find("token request"), absl::string_view::npos) << s;

  // identity_token: the OAuth2 refresh-token grant.
  AuthConfig identity;
  identity.identity_token = "refresh-123";
  size_t posts = CountRequests((*reg)->token_requests(), "POST");
  auto by_identity = Client((*reg)->host(), true, identity);
  ASSERT_TRUE(by_identity->GetManifest("tok/app", "v1", Ctx()).ok());
  auto after = (*reg)->token_requests();
  EXPECT_EQ(CountRequests(after, "POST"), static_cast<int>(posts) + 1);
  EXPECT_EQ(after.back()["grant_type"], "refresh_token");
  EXPECT_EQ(after.back()["client_id"], "cricket");

  // registry_token: sent as is; the issuer is not asked.
  HttpTransport t;
  HttpRequest get;
  get.url = StrCat("http://127.0.0.1:", (*reg)->token_issuer_port(),
                   "/token?service=cricket-test-registry&scope=repository:tok/app:pull");
  get.headers.emplace_back("Authorization", StrCat("Basic ", absl::Base64Escape("bob:builder")));
  auto tok = t.Do(get, Ctx());
  ASSERT_TRUE(tok.ok()) << tok.status();
  AuthConfig direct;
  direct.registry_token = nlohmann::json::parse(tok->body)["token"];
  size_t n = (*reg)->token_requests().size();
  ASSERT_TRUE(Client((*reg)->host(), true, direct)->GetManifest("tok/app", "v1", Ctx()).ok());
  EXPECT_EQ((*reg)->token_requests().size(), n);
}

// Two registries behind one token issuer (here: the registry and a proxy in front of it, different
// hosts answering with the same realm and service) get tokens of their own from a shared cache: the
// scope "repository:tok/app:pull" names a different repository on each.
TEST_F(RegistryE2eTest, BearerTokensAreCachedPerRegistry) {
  auto reg = TestRegistry::Start({.token_auth = true, .token_users = {{"bob", "builder"}}});
  ASSERT_TRUE(reg.ok()) << reg.status();
  AuthConfig bob;
  bob.username = "bob";
  bob.password = "builder";
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*Client((*reg)->host(), true, bob), "tok/app", "v1", img, Ctx()));
  auto proxy = (*reg)->StartProxy({}, (*reg)->dir() + "/proxy.log");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ASSERT_TRUE(Client((*reg)->host(), true, bob)->GetManifest("tok/app", "v1", Ctx()).ok());
  size_t before = (*reg)->token_requests().size();
  ASSERT_TRUE(Client((*reg)->host(), true, bob)->GetManifest("tok/app", "v1", Ctx()).ok());
  EXPECT_EQ((*reg)->token_requests().size(), before);  // same registry: cached
  auto other = Client(StrCat("127.0.0.1:", (*proxy)->port()), true, bob);
  ASSERT_TRUE(other->GetManifest("tok/app", "v1", Ctx()).ok());
  EXPECT_EQ((*reg)->token_requests().size(), before + 1);  // another registry: a token of its own
}

TEST_F(RegistryE2eTest, IdentityTokenFallsBackToGetWithoutOAuth2) {
  auto reg = TestRegistry::Start({.token_auth = true, .token_users = {{"bob", "refresh-xyz"}}});
  ASSERT_TRUE(reg.ok()) << reg.status();
  AuthConfig push;
  push.username = "bob";
  push.password = "refresh-xyz";
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*Client((*reg)->host(), true, push), "idt/app", "v1", img, Ctx()));
  AuthConfig identity;
  identity.username = "bob";
  identity.identity_token = "refresh-xyz";
  ASSERT_TRUE(Client((*reg)->host(), true, identity)->GetManifest("idt/app", "v1", Ctx()).ok());
  auto log = (*reg)->token_requests();
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[log.size() - 2]["method"], "POST");
  EXPECT_EQ(log[log.size() - 2]["status"], 404);
  EXPECT_EQ(log.back()["method"], "GET");
  EXPECT_EQ(log.back()["auth"], "basic");
}

TEST_F(RegistryE2eTest, MultiPlatformIndex) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto client = Client((*reg)->host(), true);
  TestImage amd = SampleImage({.platform = *ParsePlatform("linux/amd64")});
  TestImage arm = testing::BuildImage({LayerSpec{{testing::TarFile("arch", "arm64\n")}, Compression::kGzip}},
                                      {.platform = *ParsePlatform("linux/arm64/v8")});
  ASSERT_OK(testing::PushImage(*client, "multi/app", "", amd, Ctx()));
  ASSERT_OK(testing::PushImage(*client, "multi/app", "", arm, Ctx()));
  for (bool docker : {false, true}) {
    testing::TestIndex index = testing::BuildIndex({&arm, &amd}, docker);
    auto pushed = client->PushManifest("multi/app", "v1", index.media_type, index.bytes, Ctx());
    ASSERT_TRUE(pushed.ok()) << pushed.status();
    Reference ref = *Reference::Parse(StrCat((*reg)->host(), "/multi/app:v1"));
    auto r = ResolveImage(*client, ref, *ParsePlatform("linux/amd64"), Ctx());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->manifest_digest, index.digest);  // the RepoDigest names the index
    EXPECT_EQ(r->image_manifest_digest, amd.manifest_digest);
    EXPECT_EQ(r->config.architecture, "amd64");
    ASSERT_TRUE(r->index.has_value());
    EXPECT_EQ(r->index->manifests.size(), 4u);  // two images, two attestations
    r = ResolveImage(*client, ref, *ParsePlatform("linux/arm64"), Ctx());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->image_manifest_digest, arm.manifest_digest);
    EXPECT_EQ(r->config.architecture, "arm64");
    r = ResolveImage(*client, ref, *ParsePlatform("linux/s390x"), Ctx());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("linux/arm64/v8, linux/amd64"), absl::string_view::npos)
        << r.status();
  }
  ExpectPullable(*client, "multi/app", "v1", amd);
}

TEST_F(RegistryE2eTest, BlobRedirectGetsNoCredentials) {
  auto reg =
      TestRegistry::Start({.token_auth = true, .token_users = {{"bob", "builder"}}, .redirect_blobs = true});
  ASSERT_TRUE(reg.ok()) << reg.status();
  AuthConfig bob;
  bob.username = "bob";
  bob.password = "builder";
  auto client = Client((*reg)->host(), true, bob);
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*client, "redir/app", "v1", img, Ctx()));
  ExpectPullable(*client, "redir/app", "v1", img);
  auto served = (*reg)->redirect_requests();
  // The config and the three layers came from the other port, without any Authorization header.
  ASSERT_GE(served.size(), 4u) << (*reg)->registry_log();
  for (const auto& j : served) {
    EXPECT_EQ(j["auth"], "") << j.dump();
    EXPECT_EQ(j["status"], 200) << j.dump();
  }
}

TEST_F(RegistryE2eTest, DroppedConnectionResumesWithRange) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*Client((*reg)->host(), true), "drop/app", "v1", img, Ctx()));
  const TestLayer& big = img.layers[1];
  ASSERT_GT(big.blob.size(), 100000u);

  struct Case {
    std::vector<std::string> flags;
    std::string want_range;  // of the second request
    int want_status;         // the upstream's answer to it
  };
  const Case cases[] = {
      {{"--drop-blob-after", "40000"}, "bytes=40000-", 206},
      // The server answers the resume with 200: the first 40000 bytes are skipped, not delivered twice.
      {{"--drop-blob-after", "40000", "--ignore-range"}, "bytes=40000-", 200},
      // Dropped three times: each resume makes progress.
      {{"--drop-blob-after", "30000", "--drop-count", "3"}, "bytes=30000-", 206},
  };
  for (const Case& c : cases) {
    std::string log = StrCat((*reg)->dir(), "/proxy-", &c - cases, ".log");
    auto proxy = (*reg)->StartProxy(c.flags, log);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    auto client = Client(StrCat("127.0.0.1:", (*proxy)->port()), true);
    std::string out;
    auto r = client->FetchLayer(
        "drop/app", big.descriptor,
        [&](std::string_view chunk) {
          out.append(chunk);
          return absl::OkStatus();
        },
        Ctx());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(out == big.tar);
    std::vector<nlohmann::json> blob_gets;
    for (const auto& j : testing::ReadJsonLines(log)) {
      if (j["path"].get<std::string>().find("/blobs/") != std::string::npos) blob_gets.push_back(j);
    }
    ASSERT_GE(blob_gets.size(), 2u);
    EXPECT_EQ(blob_gets[0]["dropped"], true);
    EXPECT_EQ(blob_gets[1]["range"], c.want_range);
    EXPECT_EQ(blob_gets[1]["status"], c.want_status);
    // Every drop is followed by one resume from where the data stopped.
    int drops = c.flags.size() > 3 ? 3 : 1;
    ASSERT_EQ(blob_gets.size(), static_cast<size_t>(drops + 1));
    if (drops == 3) {
      EXPECT_EQ(blob_gets[3]["range"], "bytes=90000-");
    }
  }

  // Dropped every time and never resumed past the same point: give up after max_attempts.
  auto proxy = (*reg)->StartProxy({"--drop-blob-after", "1000", "--drop-count", "100", "--ignore-range"},
                                  (*reg)->dir() + "/proxy-forever.log");
  ASSERT_TRUE(proxy.ok());
  auto client = Client(StrCat("127.0.0.1:", (*proxy)->port()), true);
  auto r = client->FetchLayer(
      "drop/app", big.descriptor, [](std::string_view) { return absl::OkStatus(); }, Ctx());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find("without progress"), absl::string_view::npos) << r.status();
}

TEST_F(RegistryE2eTest, StalledTransferTimesOutAndResumes) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*Client((*reg)->host(), true), "stall/app", "v1", img, Ctx()));
  std::string log = (*reg)->dir() + "/stall.log";
  auto proxy = (*reg)->StartProxy({"--drop-blob-after", "50000", "--stall", "20"}, log);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  low_speed_time_s_ = 1;  // no progress for 1 s aborts the transfer
  auto client = Client(StrCat("127.0.0.1:", (*proxy)->port()), true);
  const TestLayer& big = img.layers[1];
  std::string out;
  int64_t start = MonotonicNow();
  auto r = client->FetchLayer(
      "stall/app", big.descriptor,
      [&](std::string_view c) {
        out.append(c);
        return absl::OkStatus();
      },
      Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(out == big.tar);
  EXPECT_LT(MonotonicNow() - start, 15'000'000'000);  // far less than the 20 s stall
  auto entries = testing::ReadJsonLines(log);
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries.back()["range"], "bytes=50000-");
}

TEST_F(RegistryE2eTest, RetriesServerErrors) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*Client((*reg)->host(), true), "retry/app", "v1", img, Ctx()));
  std::string log = (*reg)->dir() + "/retry.log";
  auto proxy = (*reg)->StartProxy({"--error-first", "3"}, log);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  auto client = Client(StrCat("127.0.0.1:", (*proxy)->port()), true);
  auto m = client->GetManifest("retry/app", "v1", Ctx());
  ASSERT_TRUE(m.ok()) << m.status();
  auto entries = testing::ReadJsonLines(log);
  ASSERT_GE(entries.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(entries[i]["status"], 503);
  // Persistent failures end with the registry's message.
  auto failing = (*reg)->StartProxy({"--error-first", "1000"}, (*reg)->dir() + "/fail.log");
  ASSERT_TRUE(failing.ok());
  absl::Status s = Client(StrCat("127.0.0.1:", (*failing)->port()), true)->Ping(Ctx());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("injected failure"), absl::string_view::npos) << s;
}

TEST_F(RegistryE2eTest, ParallelLayerFetchesThroughOneClient) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  std::vector<LayerSpec> specs;
  for (uint32_t i = 0; i < 6; ++i) {
    specs.push_back({{testing::TarFile(StrCat("f", i), BigContent(200000 + i * 1000, i))},
                     i % 2 ? Compression::kZstd : Compression::kGzip});
  }
  TestImage img = testing::BuildImage(specs);
  RegistryClientPool pool(Transport(), {});
  auto client = pool.Get((*reg)->host(), true, std::nullopt);
  ASSERT_OK(testing::PushImage(*client, "par/app", "v1", img, Ctx()));
  std::vector<std::string> outs(img.layers.size());
  std::vector<absl::Status> results(img.layers.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < img.layers.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = client->FetchLayer(
          "par/app", img.layers[i].descriptor,
          [&](std::string_view c) {
            outs[i].append(c);
            return absl::OkStatus();
          },
          Ctx());
      results[i] = r.status();
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < img.layers.size(); ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i];
    EXPECT_TRUE(outs[i] == img.layers[i].tar) << "layer " << i;
  }
}

TEST_F(RegistryE2eTest, CorruptedBlobAndManifestAreDetected) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto client = Client((*reg)->host(), true);
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*client, "bad/app", "v1", img, Ctx()));

  // Flip one byte of the zstd layer in the registry's storage (same size).
  const TestLayer& layer = img.layers[1];
  std::string path = (*reg)->BlobDataPath(layer.descriptor.digest.ToString());
  std::string data = *ReadFile(path);
  data[data.size() - 100] = static_cast<char>(data[data.size() - 100] ^ 1);
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  size_t delivered = 0;
  auto r = client->FetchLayer(
      "bad/app", layer.descriptor,
      [&](std::string_view c) {
        delivered += c.size();
        return absl::OkStatus();
      },
      Ctx());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("digest mismatch"), absl::string_view::npos) << r.status();
  EXPECT_GT(delivered, 0u);  // the consumer saw data and must discard it
  EXPECT_EQ(client
                ->FetchBlob(
                    "bad/app", layer.descriptor, [](std::string_view) { return absl::OkStatus(); }, Ctx())
                .code(),
            absl::StatusCode::kDataLoss);

  // A manifest whose bytes no longer match the digest the registry announces.
  std::string mpath = (*reg)->BlobDataPath(img.manifest_digest.ToString());
  std::string m = *ReadFile(mpath);
  size_t pos = m.find("\"size\":");
  ASSERT_NE(pos, std::string::npos);
  char& digit = m[pos + 7];
  digit = digit == '9' ? '8' : static_cast<char>(digit + 1);
  ASSERT_TRUE(WriteFileAtomic(mpath, m).ok());
  auto by_tag = client->GetManifest("bad/app", "v1", Ctx());
  EXPECT_EQ(by_tag.status().code(), absl::StatusCode::kDataLoss) << by_tag.status();
  auto by_digest = client->GetManifest("bad/app", img.manifest_digest.ToString(), Ctx());
  EXPECT_EQ(by_digest.status().code(), absl::StatusCode::kDataLoss) << by_digest.status();
}

TEST_F(RegistryE2eTest, CancellationAndDeadline) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto client = Client((*reg)->host(), true);
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*client, "cancel/app", "v1", img, Ctx()));
  std::atomic<bool> cancelled{false};
  CallContext ctx = CallContext::WithTimeout(60'000, &cancelled);
  // Cancel from the sink after the first chunk: the transfer stops at the next progress check.
  int chunks = 0;
  auto r = client->FetchBlob(
      "cancel/app", img.layers[1].descriptor,
      [&](std::string_view) {
        ++chunks;
        cancelled = true;
        return absl::OkStatus();
      },
      ctx);
  EXPECT_EQ(r.code(), absl::StatusCode::kCancelled) << r;
  CallContext expired;
  expired.deadline = 1;
  EXPECT_EQ(client->GetManifest("cancel/app", "v1", expired).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(RegistryE2eTest, ResolveFromSourcesFallsBackFromAMirror) {
  auto primary = TestRegistry::Start();
  auto mirror = TestRegistry::Start();
  ASSERT_TRUE(primary.ok() && mirror.ok());
  auto pclient = Client((*primary)->host(), true);
  TestImage img = SampleImage();
  ASSERT_OK(testing::PushImage(*pclient, "lib/app", "v1", img, Ctx()));
  RegistriesConf conf;
  ASSERT_TRUE(conf.Merge(StrCat("[[registry]]\nlocation = \"", (*primary)->host(), "\"\ninsecure = true\n",
                                "[[registry.mirror]]\nlocation = \"", (*mirror)->host(), "/mirrored\"\n",
                                "insecure = true\n"),
                         "test.conf", nullptr)
                  .ok());
  auto candidates = conf.Resolve(StrCat((*primary)->host(), "/lib/app:v1"));
  ASSERT_TRUE(candidates.ok()) << candidates.status();
  ASSERT_EQ((*candidates)[0].sources.size(), 2u);
  std::vector<std::string> asked;
  auto pull = ResolveFromSources(
      *candidates,
      [&](const PullCandidate&, const PullSource& s) -> absl::StatusOr<std::shared_ptr<RegistryClient>> {
        asked.push_back(s.reference.ToString());
        return std::shared_ptr<RegistryClient>(Client(s.reference.domain(), s.insecure));
      },
      img.platform, Ctx());
  ASSERT_TRUE(pull.ok()) << pull.status();
  EXPECT_EQ(asked, (std::vector<std::string>{StrCat((*mirror)->host(), "/mirrored/lib/app:v1"),
                                             StrCat((*primary)->host(), "/lib/app:v1")}));
  EXPECT_FALSE(pull->source.mirror);
  EXPECT_EQ(pull->image.manifest_digest, img.manifest_digest);

  // Once the mirror has it, the mirror wins.
  ASSERT_OK(testing::PushImage(*Client((*mirror)->host(), true), "mirrored/lib/app", "v1", img, Ctx()));
  pull = ResolveFromSources(
      *candidates,
      [&](const PullCandidate&, const PullSource& s) -> absl::StatusOr<std::shared_ptr<RegistryClient>> {
        return std::shared_ptr<RegistryClient>(Client(s.reference.domain(), s.insecure));
      },
      img.platform, Ctx());
  ASSERT_TRUE(pull.ok()) << pull.status();
  EXPECT_TRUE(pull->source.mirror);
  auto none = conf.Resolve(StrCat((*primary)->host(), "/lib/other:v1"));
  auto missing = ResolveFromSources(
      *none,
      [&](const PullCandidate&, const PullSource& s) -> absl::StatusOr<std::shared_ptr<RegistryClient>> {
        return std::shared_ptr<RegistryClient>(Client(s.reference.domain(), s.insecure));
      },
      img.platform, Ctx());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
}

// Throughput and memory of FetchLayer (run with --gtest_also_run_disabled_tests): four layers of
// random data, gzip-compressed, fetched in parallel from a local registry; reports wall time and the
// process's peak RSS above its level before the fetch (VmHWM reset through /proc/self/clear_refs).
int64_t ProcStatusKb(const char* field) {
  std::string text = ReadFile("/proc/self/status").value_or("");
  size_t pos = text.find(field);
  if (pos == std::string::npos) return -1;
  return ParseInt64(
             TrimSpace(text.substr(pos + strlen(field) + 1, text.find('\n', pos) - pos - strlen(field) - 4)))
      .value_or(-1);
}

TEST_F(RegistryE2eTest, DISABLED_ParallelFetchThroughput) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto client = Client((*reg)->host(), true);
  constexpr size_t kLayerBytes = 50 << 20;
  std::vector<Descriptor> layers;
  std::vector<Digest> diff_ids;
  for (uint32_t i = 0; i < 4; ++i) {
    std::string data(kLayerBytes, '\0');
    uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
    for (size_t j = 0; j + 8 <= data.size(); j += 8) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      memcpy(&data[j], &x, 8);
    }
    std::string tar = testing::MakeTar({testing::TarFile("random", std::move(data))});
    std::string blob = testing::GzipBytes(tar);
    diff_ids.push_back(Digest::Sha256Of(tar));
    ASSERT_OK(client->PushBlob("bench/app", blob, Ctx()));
    layers.push_back(
        {std::string(media_type::kOciLayerGzip), Digest::Sha256Of(blob), static_cast<int64_t>(blob.size())});
  }
  int64_t rss_before = ProcStatusKb("VmRSS");
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";  // resets VmHWM to the current RSS
  }
  int64_t start = MonotonicNow();
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<LayerStreamResult>> results(layers.size(), absl::UnknownError(""));
  for (size_t i = 0; i < layers.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          client->FetchLayer("bench/app", layers[i], [](std::string_view) { return absl::OkStatus(); }, Ctx(),
                             {.compute_diff_id = true});
    });
  }
  for (auto& t : threads) t.join();
  double seconds = static_cast<double>(MonotonicNow() - start) / 1e9;
  int64_t total = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->diff_id, diff_ids[i]);
    total += layers[i].size;
  }
  int64_t hwm = ProcStatusKb("VmHWM");
  std::printf(
      "fetched %.1f MiB compressed in %.2f s (%.0f MiB/s); RSS before %lld KiB, peak %lld KiB (+%lld KiB)\n",
      static_cast<double>(total) / (1 << 20), seconds, static_cast<double>(total) / (1 << 20) / seconds,
      static_cast<long long>(rss_before), static_cast<long long>(hwm),
      static_cast<long long>(hwm - rss_before));
}

}  // namespace
}  // namespace cricket::image
