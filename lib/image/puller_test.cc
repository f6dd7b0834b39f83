// The pull pipeline against a real registry (docker-registry on loopback) into a Store in a temporary
// directory: names and digests recorded, layers reused and shared between concurrent pulls, mirrors and
// credentials through registries.conf and the auth file, a multi-platform index, and failures (corrupt
// blob, wrong diff_id, hostile tar, decompression bombs, dropped connections, cancellation) that leave
// nothing behind; failures of a layer itself are remembered, others are not.
#include "lib/image/puller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/escaping.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "nlohmann/json.hpp"
#include "test/support/crafted_layers.h"
#include "test/support/registry.h"
#include "test/support/test_image.h"

namespace cricket::image {
namespace {

using testing::LayerSpec;
using testing::TestImage;
using testing::TestRegistry;

CallContext Ctx() { return CallContext::WithTimeout(120'000); }

std::string Noise(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Three layers: a base with a directory tree, a big zstd layer, an uncompressed one.
TestImage AppImage(const std::string& salt = "") {
  return testing::BuildImage(
      {LayerSpec{{testing::TarDir("etc"), testing::TarFile("etc/os-release", "ID=test\n")},
                 Compression::kGzip},
       LayerSpec{{testing::TarFile("data/big", Noise(400000, 3))}, Compression::kZstd},
       LayerSpec{{testing::TarFile("app", StrCat("app", salt, "\n"), 0755)}, Compression::kNone}});
}

class PullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
    char tmpl[] = "/tmp/cricket-puller-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    storage::StoreOptions o;
    o.root = dir_ + "/storage";
    o.sync_layers = false;
    auto s = storage::Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) (void)RemoveAll(dir_);
  }

  // A pool whose transport trusts `certs_dir` (a containers-certs.d root).
  std::unique_ptr<Puller> MakePuller(const std::string& certs_dir = "") {
    HttpTransport::Options t;
    t.certs_dirs = {certs_dir.empty() ? "/nonexistent" : certs_dir};
    t.low_speed_time_s = low_speed_time_s_;
    RegistryClient::Options c;
    c.initial_backoff_ms = 20;
    c.max_backoff_ms = 100;
    auto pool = std::make_shared<RegistryClientPool>(std::make_shared<HttpTransport>(t), c);
    return std::make_unique<Puller>(*store_, pool);
  }

  std::unique_ptr<RegistryClient> Pusher(const TestRegistry& reg,
                                         std::optional<AuthConfig> creds = std::nullopt) {
    HttpTransport::Options t;
    t.certs_dirs = {reg.certs_dir().empty() ? "/nonexistent" : reg.certs_dir()};
    return std::make_unique<RegistryClient>(std::make_shared<HttpTransport>(t),
                                            std::make_shared<TokenCache>(), reg.host(),
                                            /*insecure=*/reg.certs_dir().empty(), std::move(creds));
  }

  static PullPolicy Policy(const std::string& registries_toml) {
    PullPolicy p;
    absl::Status s = p.registries.Merge(registries_toml, "test-registries.conf", nullptr);
    EXPECT_TRUE(s.ok()) << s;
    return p;
  }
  static PullPolicy Insecure(const std::string& host) {
    return Policy(StrCat("[[registry]]\nlocation = \"", host, "\"\ninsecure = true\n"));
  }

  // Nothing of a failed pull may remain: no image, no layer, no staging directory.
  void ExpectEmptyStore() {
    auto images = store_->ListImages();
    ASSERT_TRUE(images.ok());
    EXPECT_TRUE(images->empty());
    auto layers = store_->ListLayers();
    ASSERT_TRUE(layers.ok());
    EXPECT_TRUE(layers->empty()) << layers->size() << " layers left";
    auto tmp = ListDir(dir_ + "/storage/tmp");
    ASSERT_TRUE(tmp.ok()) << tmp.status();
    EXPECT_TRUE(tmp->empty()) << Join(*tmp, ", ");
  }

  std::string dir_;
  std::unique_ptr<storage::Store> store_;
  int64_t low_speed_time_s_ = 10;
};

TEST_F(PullerTest, PullsRecordsNamesAndReusesLayers) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = AppImage();
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "test/app", "v1", img, Ctx()).ok());
  auto puller = MakePuller();
  PullPolicy policy = Insecure((*reg)->host());
  std::string repo = StrCat((*reg)->host(), "/test/app");

  auto r = puller->Pull(policy, repo + ":v1", nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image.id, img.config_descriptor.digest.ToString());
  EXPECT_EQ(r->image.repo_tags, std::vector<std::string>{repo + ":v1"});
  EXPECT_EQ(r->image.repo_digests,
            std::vector<std::string>{StrCat(repo, "@", img.manifest_digest.ToString())});
  EXPECT_EQ(r->repo_digest, StrCat(repo, "@", img.manifest_digest.ToString()));
  EXPECT_EQ(r->layers_fetched, 3);
  EXPECT_EQ(r->layers_reused, 0);
  EXPECT_EQ(r->image.config, img.config);
  EXPECT_EQ(r->image.manifest_digest, img.manifest_digest.ToString());
  ASSERT_EQ(r->image.layers.size(), 3u);
  // Every layer's content is in its diff directory.
  auto base = store_->GetLayer(r->image.layers[0]);
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(ReadFile(base->diff_dir + "/etc/os-release").value_or(""), "ID=test\n");
  auto big = store_->GetLayer(r->image.layers[1]);
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(ReadFile(big->diff_dir + "/data/big").value_or("") == Noise(400000, 3));

  // Again: nothing is downloaded. By digest: the same image, no tag added.
  r = puller->Pull(policy, repo + ":v1", nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->layers_fetched, 0);
  EXPECT_EQ(r->layers_reused, 3);
  r = puller->Pull(policy, StrCat(repo, "@", img.manifest_digest.ToString()), nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image.repo_tags, std::vector<std::string>{repo + ":v1"});
  EXPECT_EQ(r->layers_fetched, 0);

  // An image sharing the two lower layers downloads only its own top layer.
  TestImage other = AppImage("-other");
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "test/app", "v2", other, Ctx()).ok());
  r = puller->Pull(policy, repo + ":v2", nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->layers_fetched, 1);
  EXPECT_EQ(r->layers_reused, 2);
  EXPECT_EQ(store_->ListImages()->size(), 2u);
  EXPECT_EQ(store_->ListLayers()->size(), 4u);

  // Moving a tag: v1 now names the other image; the first keeps its digest name.
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "test/app", "v1", other, Ctx()).ok());
  r = puller->Pull(policy, repo + ":v1", nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image.id, other.config_descriptor.digest.ToString());
  auto first = store_->GetImage(img.config_descriptor.digest.ToString());
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->repo_tags.empty());
  EXPECT_EQ(first->repo_digests.size(), 1u);
}

TEST_F(PullerTest, ConcurrentPullsDownloadEachLayerOnce) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  std::vector<LayerSpec> specs;
  for (uint32_t i = 0; i < 5; ++i) {
    specs.push_back({{testing::TarFile(StrCat("f", i), Noise(300000, i))}, Compression::kGzip});
  }
  TestImage img = testing::BuildImage(specs);
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "conc/app", "v1", img, Ctx()).ok());
  // Through a logging proxy, to count what the registry served.
  std::string log = (*reg)->dir() + "/proxy.log";
  auto proxy = (*reg)->StartProxy({}, log);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string host = StrCat("127.0.0.1:", (*proxy)->port());
  auto puller = MakePuller();
  PullPolicy policy = Insecure(host);
  policy.max_parallel_downloads = 2;
  std::vector<absl::StatusOr<PullResult>> results(4, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back(
        [&, i] { results[i] = puller->Pull(policy, host + "/conc/app:v1", nullptr, Ctx()); });
  }
  for (auto& t : threads) t.join();
  int fetched = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->image.id, img.config_descriptor.digest.ToString());
    EXPECT_EQ(r->layers_fetched + r->layers_reused, 5);
    fetched += r->layers_fetched;
  }
  EXPECT_EQ(fetched, 5);
  // The registry served each layer blob once.
  std::map<std::string, int> gets;
  for (const auto& j : testing::ReadJsonLines(log)) {
    if (j.value("method", "") == "GET") gets[j.value("path", "")]++;
  }
  for (const auto& layer : img.layers) {
    EXPECT_EQ(gets[StrCat("/v2/conc/app/blobs/", layer.descriptor.digest.ToString())], 1)
        << layer.descriptor.digest.ToString();
  }
}

TEST_F(PullerTest, MirrorServesAShortNameWithoutContactingTheBlockedOrigin) {
  auto mirror = TestRegistry::Start();
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  TestImage img = AppImage();
  ASSERT_TRUE(testing::PushImage(*Pusher(**mirror), "library/app", "1.0", img, Ctx()).ok());
  // docker.io itself is blocked: the pull must come from the mirror or fail, never leave the machine.
  PullPolicy policy = Policy(StrCat("unqualified-search-registries = [\"docker.io\"]\n",
                                    "[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n",
                                    "blocked = true\n[[registry.mirror]]\nlocation = \"", (*mirror)->host(),
                                    "\"\ninsecure = true\n"));
  auto r = MakePuller()->Pull(policy, "app:1.0", nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "docker.io/library/app:1.0");
  EXPECT_EQ(r->source, StrCat((*mirror)->host(), "/library/app:1.0"));
  EXPECT_EQ(r->image.repo_tags, std::vector<std::string>{"docker.io/library/app:1.0"});
  EXPECT_EQ(r->image.repo_digests,
            std::vector<std::string>{StrCat("docker.io/library/app@", img.manifest_digest.ToString())});
  // Not on the mirror: NotFound, and the blocked origin is not tried.
  auto missing = MakePuller()->Pull(policy, "docker.io/library/nothere:1", nullptr, Ctx());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
}

TEST_F(PullerTest, MultiPlatformIndexRecordsTheIndexDigest) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto pusher = Pusher(**reg);
  TestImage amd = AppImage("-amd64");
  amd = testing::BuildImage({LayerSpec{{testing::TarFile("arch", "amd64\n")}, Compression::kGzip}},
                            {.platform = *ParsePlatform("linux/amd64")});
  TestImage arm = testing::BuildImage({LayerSpec{{testing::TarFile("arch", "arm64\n")}, Compression::kGzip}},
                                      {.platform = *ParsePlatform("linux/arm64/v8")});
  ASSERT_TRUE(testing::PushImage(*pusher, "multi/app", "", amd, Ctx()).ok());
  ASSERT_TRUE(testing::PushImage(*pusher, "multi/app", "", arm, Ctx()).ok());
  testing::TestIndex index = testing::BuildIndex({&amd, &arm});
  ASSERT_TRUE(pusher->PushManifest("multi/app", "v1", index.media_type, index.bytes, Ctx()).ok());
  PullPolicy policy = Insecure((*reg)->host());
  policy.platform = *ParsePlatform("linux/arm64");
  std::string repo = StrCat((*reg)->host(), "/multi/app");
  auto r = MakePuller()->Pull(policy, repo + ":v1", nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image.id, arm.config_descriptor.digest.ToString());
  EXPECT_EQ(r->image.repo_digests, std::vector<std::string>{StrCat(repo, "@", index.digest.ToString())});
  EXPECT_EQ(r->image.manifest_digest, arm.manifest_digest.ToString());
  auto layer = store_->GetLayer(r->image.layers[0]);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(ReadFile(layer->diff_dir + "/arch").value_or(""), "arm64\n");
  policy.platform = *ParsePlatform("linux/s390x");
  auto none = MakePuller()->Pull(policy, repo + ":v1", nullptr, Ctx());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound) << none.status();
}

TEST_F(PullerTest, CredentialsFromTheRequestOrTheAuthFileOnlyForTheirRegistry) {
  auto reg = TestRegistry::Start({.tls = true, .htpasswd_users = {{"alice", "wonderland"}}});
  ASSERT_TRUE(reg.ok()) << reg.status();
  AuthConfig alice;
  alice.username = "alice";
  alice.password = "wonderland";
  TestImage img = AppImage();
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg, alice), "priv/app", "v1", img, Ctx()).ok());
  std::string ref = StrCat((*reg)->host(), "/priv/app:v1");
  PullPolicy policy;  // TLS: no registries.conf entry needed

  auto anon = MakePuller((*reg)->certs_dir())->Pull(policy, ref, nullptr, Ctx());
  EXPECT_EQ(anon.status().code(), absl::StatusCode::kUnauthenticated) << anon.status();
  // Credentials meant for another registry are not sent.
  AuthConfig elsewhere = alice;
  elsewhere.server_address = "other.example.com";
  auto wrong_host = MakePuller((*reg)->certs_dir())->Pull(policy, ref, &elsewhere, Ctx());
  EXPECT_EQ(wrong_host.status().code(), absl::StatusCode::kUnauthenticated) << wrong_host.status();
  ExpectEmptyStore();

  auto r = MakePuller((*reg)->certs_dir())->Pull(policy, ref, &alice, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(store_->RemoveImage(r->image.id).ok());

  // The auth file, keyed by host.
  std::string file = StrCat(R"({"auths":{")", (*reg)->host(), R"(":{"auth":")",
                            absl::Base64Escape("alice:wonderland"), R"("}}})");
  auto parsed = AuthFile::Parse(file, "test auth.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  policy.auth_file = *parsed;
  r = MakePuller((*reg)->certs_dir())->Pull(policy, ref, nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  // A TLS registry the transport does not trust fails verification; it is not retried insecurely.
  auto untrusted = MakePuller()->Pull(policy, StrCat((*reg)->host(), "/priv/app:v2"), &alice, Ctx());
  EXPECT_FALSE(untrusted.ok());
}

TEST_F(PullerTest, CorruptBlobStoresNothing) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = AppImage();
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "bad/app", "v1", img, Ctx()).ok());
  // The top (uncompressed) layer is damaged: the lower two are applied first and must go again.
  std::string path = (*reg)->BlobDataPath(img.layers[2].descriptor.digest.ToString());
  std::string data = *ReadFile(path);
  data[data.size() / 2] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  auto r =
      MakePuller()->Pull(Insecure((*reg)->host()), StrCat((*reg)->host(), "/bad/app:v1"), nullptr, Ctx());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(img.layers[2].descriptor.digest.ToString()), absl::string_view::npos)
      << r.status();
  ExpectEmptyStore();
}

// A manifest whose config announces a diff_id the layer does not have: the blob's own digest is right,
// so only the uncompressed check catches it.
TEST_F(PullerTest, WrongDiffIdStoresNothing) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto pusher = Pusher(**reg);
  TestImage real = AppImage();
  TestImage decoy = AppImage("-decoy");  // same layer count, different top layer
  ASSERT_TRUE(testing::PushImage(*pusher, "mix/app", "real", real, Ctx()).ok());
  ASSERT_TRUE(testing::PushImage(*pusher, "mix/app", "decoy", decoy, Ctx()).ok());
  nlohmann::json m = nlohmann::json::parse(real.manifest);
  nlohmann::json config = nlohmann::json::parse(decoy.manifest)["config"];
  m["config"] = config;
  std::string bytes = m.dump();
  ASSERT_TRUE(pusher->PushManifest("mix/app", "mixed", real.manifest_media_type, bytes, Ctx()).ok());
  // The lower layers match (and are shared with nothing stored yet); the top one does not.
  auto r =
      MakePuller()->Pull(Insecure((*reg)->host()), StrCat((*reg)->host(), "/mix/app:mixed"), nullptr, Ctx());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  ExpectEmptyStore();
}

TEST_F(PullerTest, HostileLayerIsRefused) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img =
      testing::BuildImage({LayerSpec{{testing::TarFile("ok", "fine\n")}, Compression::kGzip},
                           LayerSpec{{testing::TarFile("../escape", "evil\n")}, Compression::kGzip}});
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "evil/app", "v1", img, Ctx()).ok());
  auto r =
      MakePuller()->Pull(Insecure((*reg)->host()), StrCat((*reg)->host(), "/evil/app:v1"), nullptr, Ctx());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("escape"), absl::string_view::npos) << r.status();
  ExpectEmptyStore();
  EXPECT_FALSE(PathExists(dir_ + "/storage/escape"));
}

// GET requests of the registry's log for a path.
size_t CountGets(const std::string& log, const std::string& path) {
  size_t n = 0;
  for (std::string_view line : Split(log, '\n')) {
    n += line.find("method=GET") != std::string_view::npos && line.find(path) != std::string_view::npos;
  }
  return n;
}

// Decompression bombs stop at their bound, leave nothing, and are remembered per puller: the retry
// (and a concurrent pull waiting on the same layer) is refused without fetching the blob again.
TEST_F(PullerTest, BombsAreRefusedAtTheirBoundAndRemembered) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  testing::CraftedLayer zeros = testing::ZeroFileLayer(uint64_t{1} << 30, Compression::kZstd);
  testing::CraftedLayer sparse = testing::SparseLayer(3, uint64_t{64} << 30, Compression::kGzip);
  TestImage zimg = testing::CraftedImage({zeros});
  TestImage simg = testing::CraftedImage({sparse});
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "bomb/zeros", "v1", zimg, Ctx()).ok());
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "bomb/sparse", "v1", simg, Ctx()).ok());
  PullPolicy policy = Insecure((*reg)->host());
  auto puller = MakePuller();
  std::string zref = StrCat((*reg)->host(), "/bomb/zeros:v1");
  std::string zblob = StrCat("/blobs/", zimg.layers[0].descriptor.digest.ToString());

  // Two pulls at once: one does the work, the other waits for the layer and finds the failure.
  std::vector<absl::Status> results(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] { results[i] = puller->Pull(policy, zref, nullptr, Ctx()).status(); });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& r : results) {
    EXPECT_TRUE(absl::IsInvalidArgument(r)) << r;
    EXPECT_NE(std::string(r.message()).find("max_layer_expansion_ratio"), std::string::npos) << r;
  }
  EXPECT_EQ(CountGets((*reg)->registry_log(), zblob), 1u) << "the bomb was fetched more than once";
  ExpectEmptyStore();
  auto again = puller->Pull(policy, zref, nullptr, Ctx());
  EXPECT_TRUE(absl::IsInvalidArgument(again.status())) << again.status();
  EXPECT_NE(std::string(again.status().message()).find("failed earlier"), std::string::npos)
      << again.status();
  EXPECT_EQ(CountGets((*reg)->registry_log(), zblob), 1u);
  // Under other bounds the remembered failure does not apply: the layer is fetched again.
  PullPolicy other = policy;
  other.max_layer_expansion_ratio = 50;
  auto refetched = puller->Pull(other, zref, nullptr, Ctx());
  EXPECT_TRUE(absl::IsInvalidArgument(refetched.status())) << refetched.status();
  EXPECT_NE(std::string(refetched.status().message()).find("max_layer_expansion_ratio 50"), std::string::npos)
      << refetched.status();
  EXPECT_EQ(CountGets((*reg)->registry_log(), zblob), 2u);
  ExpectEmptyStore();

  auto s = puller->Pull(policy, StrCat((*reg)->host(), "/bomb/sparse:v1"), nullptr, Ctx());
  EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
  EXPECT_NE(std::string(s.status().message()).find("max_layer_sparse_size"), std::string::npos) << s.status();
  EXPECT_NE(std::string(s.status().message()).find(simg.layers[0].descriptor.digest.ToString()),
            std::string::npos)
      << s.status();
  ExpectEmptyStore();
}

// A per-image bound depends on the other layers, so it is not remembered against the layer; a
// failure with nothing to do with the layer (no such manifest) is not remembered either.
TEST_F(PullerTest, ImageBoundsAreNotRememberedAgainstALayer) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  testing::CraftedLayer a = testing::ManyEntriesLayer(300, Compression::kGzip, /*same_name=*/false);
  testing::CraftedLayer b = testing::ManyEntriesLayer(301, Compression::kGzip, /*same_name=*/false);
  TestImage img = testing::CraftedImage({a, b});
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "many/app", "v1", img, Ctx()).ok());
  PullPolicy policy = Insecure((*reg)->host());
  policy.max_parallel_downloads = 1;
  policy.limits.max_image_entries = 500;
  auto puller = MakePuller();
  std::string ref = StrCat((*reg)->host(), "/many/app:v1");
  for (int i = 0; i < 2; ++i) {
    auto r = puller->Pull(policy, ref, nullptr, Ctx());
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_NE(std::string(r.status().message()).find("max_image_entries (500)"), std::string::npos)
        << r.status();
    EXPECT_EQ(std::string(r.status().message()).find("failed earlier"), std::string::npos) << r.status();
    ExpectEmptyStore();
  }
  policy.limits.max_image_entries = 1000;
  EXPECT_TRUE(puller->Pull(policy, ref, nullptr, Ctx()).ok());
}

TEST_F(PullerTest, DroppedConnectionsResumeOrFailCleanly) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = AppImage();
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "drop/app", "v1", img, Ctx()).ok());
  // Each blob body is cut once after 20000 bytes: resumed with Range, the pull succeeds.
  auto proxy =
      (*reg)->StartProxy({"--drop-blob-after", "20000", "--drop-count", "3"}, (*reg)->dir() + "/p1.log");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string host = StrCat("127.0.0.1:", (*proxy)->port());
  auto r = MakePuller()->Pull(Insecure(host), host + "/drop/app:v1", nullptr, Ctx());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(store_->RemoveImage(r->image.id).ok());
  ExpectEmptyStore();
  // Cut every time and Range ignored: no progress, the pull fails and leaves nothing.
  auto bad = (*reg)->StartProxy({"--drop-blob-after", "1000", "--drop-count", "1000", "--ignore-range"},
                                (*reg)->dir() + "/p2.log");
  ASSERT_TRUE(bad.ok()) << bad.status();
  host = StrCat("127.0.0.1:", (*bad)->port());
  r = MakePuller()->Pull(Insecure(host), host + "/drop/app:v1", nullptr, Ctx());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  ExpectEmptyStore();
}

TEST_F(PullerTest, CancellationAndDeadlineStopAStalledPull) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = AppImage();
  ASSERT_TRUE(testing::PushImage(*Pusher(**reg), "slow/app", "v1", img, Ctx()).ok());
  // The zstd layer stalls after 50000 bytes for 60 s; the small ones complete.
  auto proxy = (*reg)->StartProxy({"--drop-blob-after", "50000", "--drop-count", "1000", "--stall", "60"},
                                  (*reg)->dir() + "/stall.log");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string host = StrCat("127.0.0.1:", (*proxy)->port());
  low_speed_time_s_ = 60;
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    ::usleep(800'000);
    cancelled = true;
  });
  int64_t start = MonotonicNow();
  auto r = MakePuller()->Pull(Insecure(host), host + "/slow/app:v1", nullptr,
                              CallContext::WithTimeout(120'000, &cancelled));
  canceller.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_LT(MonotonicNow() - start, 10'000'000'000);
  ExpectEmptyStore();

  start = MonotonicNow();
  r = MakePuller()->Pull(Insecure(host), host + "/slow/app:v1", nullptr, CallContext::WithTimeout(1500));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(MonotonicNow() - start, 10'000'000'000);
  ExpectEmptyStore();
}

}  // namespace
}  // namespace cricket::image
