// The ImageService of the real cricketd against Debian's docker-registry on loopback: plain HTTP made
// insecure by a registries.conf the test writes, TLS with a test CA and htpasswd basic auth through CRI
// AuthConfig, bearer tokens, a multi-arch index, a mirror standing in for docker.io, exact RepoTags and
// RepoDigests, ImageStatus by id/tag/digest, RemoveImage semantics, pinned images and image users, a
// multi-layer image with whiteouts whose merged rootfs is checked file by file, kill -9 of cricketd in
// the middle of a pull, and `cricketd check [--repair]`. Needs root (cricketd's runtime setup, overlay).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/image/registry_client.h"
#include "lib/storage/store.h"
#include "test/e2e/test_daemon.h"
#include "test/support/registry.h"
#include "test/support/test_image.h"

namespace cricket::e2e {
namespace {

namespace v1 = ::runtime::v1;
using testing::LayerSpec;
using testing::TestImage;
using testing::TestRegistry;

image::CallContext Ctx() { return image::CallContext::WithTimeout(60'000); }

std::string Noise(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 7;
  for (char& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// A small image around Debian's busybox-static; `user` goes into the config's User.
TestImage BusyboxImage(const std::string& marker, const std::string& user = "") {
  std::string config =
      user.empty() ? R"({"Cmd":["/bin/sh"]})" : StrCat(R"({"Cmd":["/bin/sh"],"User":")", user, R"("})");
  return testing::MarkedBusyboxImage(marker, image::Compression::kZstd, config);
}

class ImageE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "cricketd needs root";
    if (!TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
    if (!PathExists("/bin/busybox")) GTEST_SKIP() << "busybox-static is not installed";
  }

  // cricketd keeps its namespace pin directory mounted after it exits (pins outlive the daemon); a pod
  // test leaves it behind, and TestDaemon's removal does not cross mounts.
  void TearDown() override {
    if (daemon_.pid() > 0) (void)daemon_.Stop(SIGTERM);
    std::string ns = daemon_.runroot() + "/ns";
    if (PathExists(ns)) ::umount2(ns.c_str(), MNT_DETACH);
  }

  void StopDaemon() {
    images_.reset();
    auto s = daemon_.Stop(SIGTERM);
    ASSERT_TRUE(s.ok()) << s.status();
  }

  std::string RegistriesConf() const { return daemon_.dir() + "/registries.conf"; }
  void WriteRegistriesConf(const std::string& toml) {
    ASSERT_TRUE(WriteFileAtomic(RegistriesConf(), toml).ok());
  }

  // Starts cricketd with registries.conf at RegistriesConf() and `extra` [crio.image] lines.
  void StartDaemon(const std::string& extra_image_toml = "") {
    if (!PathExists(RegistriesConf())) WriteRegistriesConf("");
    daemon_.set_extra_config(StrCat("[crio.image]\nregistries_conf = \"", RegistriesConf(),
                                    "\"\nregistries_conf_dir = \"\"\n", extra_image_toml));
    absl::Status s = daemon_.Start();
    ASSERT_TRUE(s.ok()) << s << daemon_.Stderr();
    images_ = daemon_.ImageStub();
  }

  std::unique_ptr<image::RegistryClient> Pusher(const TestRegistry& reg,
                                                std::optional<image::AuthConfig> creds = std::nullopt) {
    image::HttpTransport::Options t;
    t.certs_dirs = {reg.certs_dir().empty() ? "/nonexistent" : reg.certs_dir()};
    return std::make_unique<image::RegistryClient>(std::make_shared<image::HttpTransport>(t),
                                                   std::make_shared<image::TokenCache>(), reg.host(),
                                                   reg.certs_dir().empty(), std::move(creds));
  }
  void Push(const TestRegistry& reg, const std::string& repo, const std::string& tag, const TestImage& img,
            std::optional<image::AuthConfig> creds = std::nullopt) {
    auto pushed = testing::PushImage(*Pusher(reg, std::move(creds)), repo, tag, img, Ctx());
    ASSERT_TRUE(pushed.ok()) << pushed.status();
  }

  grpc::Status Pull(const std::string& ref, std::string* image_ref, const v1::AuthConfig* auth = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    if (auth != nullptr) *req.mutable_auth() = *auth;
    v1::PullImageResponse resp;
    grpc::Status s = images_->PullImage(&ctx, req, &resp);
    if (image_ref != nullptr) *image_ref = resp.image_ref();
    return s;
  }
  std::string MustPull(const std::string& ref, const v1::AuthConfig* auth = nullptr) {
    std::string id;
    grpc::Status s = Pull(ref, &id, auth);
    EXPECT_TRUE(s.ok()) << ref << ": " << s.error_message();
    return id;
  }

  v1::ImageStatusResponse Status(const std::string& ref, bool verbose = false) {
    grpc::ClientContext ctx;
    v1::ImageStatusRequest req;
    req.mutable_image()->set_image(ref);
    req.set_verbose(verbose);
    v1::ImageStatusResponse resp;
    grpc::Status s = images_->ImageStatus(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << ref << ": " << s.error_message();
    return resp;
  }

  std::vector<v1::Image> List(const std::string& filter = "") {
    grpc::ClientContext ctx;
    v1::ListImagesRequest req;
    if (!filter.empty()) req.mutable_filter()->mutable_image()->set_image(filter);
    v1::ListImagesResponse resp;
    grpc::Status s = images_->ListImages(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.images().begin(), resp.images().end()};
  }

  grpc::Status Remove(const std::string& ref) {
    grpc::ClientContext ctx;
    v1::RemoveImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::RemoveImageResponse resp;
    return images_->RemoveImage(&ctx, req, &resp);
  }

  std::string StorageDir() const { return daemon_.root() + "/storage"; }
  // Layer directories under overlay/ (everything but the link directory and the empty lower).
  std::vector<std::string> LayerDirs() const {
    std::vector<std::string> out;
    for (const std::string& e : ListDir(StorageDir() + "/overlay").value_or(std::vector<std::string>{})) {
      if (e != "l" && e != "empty") out.push_back(e);
    }
    return out;
  }

  TestDaemon daemon_;
  std::unique_ptr<v1::ImageService::Stub> images_;
};

TEST_F(ImageE2eTest, PlainHttpInsecureRegistryNamesAndLookups) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = BusyboxImage("plain");
  Push(**reg, "e2e/app", "v1", img);
  std::string repo = StrCat((*reg)->host(), "/e2e/app");
  StartDaemon();

  // Not marked insecure: plain HTTP is refused.
  grpc::Status refused = Pull(repo + ":v1", nullptr);
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(Status(repo + ":v1").has_image() == false);

  WriteRegistriesConf(StrCat("[[registry]]\nlocation = \"", (*reg)->host(), "\"\ninsecure = true\n"));
  std::string id = MustPull(repo + ":v1");
  EXPECT_EQ(id, img.config_descriptor.digest.ToString());  // image_ref = Image.id = config digest

  v1::ImageStatusResponse by_tag = Status(repo + ":v1");
  ASSERT_TRUE(by_tag.has_image());
  const v1::Image& im = by_tag.image();
  EXPECT_EQ(im.id(), id);
  ASSERT_EQ(im.repo_tags_size(), 1);
  EXPECT_EQ(im.repo_tags(0), repo + ":v1");
  ASSERT_EQ(im.repo_digests_size(), 1);
  EXPECT_EQ(im.repo_digests(0), StrCat(repo, "@", img.manifest_digest.ToString()));
  EXPECT_GT(im.size(), img.layers[0].tar.size());
  EXPECT_FALSE(im.has_uid());
  EXPECT_EQ(im.username(), "");
  EXPECT_FALSE(im.pinned());
  // The same status by id, id without algorithm, id prefix and repo digest.
  std::string hex = id.substr(7);
  for (const std::string& ref : {id, hex, hex.substr(0, 12), im.repo_digests(0)}) {
    v1::ImageStatusResponse other = Status(ref);
    ASSERT_TRUE(other.has_image()) << ref;
    EXPECT_EQ(other.image().SerializeAsString(), im.SerializeAsString()) << ref;
  }
  // Verbose: the image config.
  v1::ImageStatusResponse verbose = Status(repo + ":v1", true);
  ASSERT_EQ(verbose.info().count("info"), 1u);
  auto info = nlohmann::json::parse(verbose.info().at("info"));
  EXPECT_EQ(info["imageSpec"], nlohmann::json::parse(img.config));
  EXPECT_EQ(info["manifestDigest"], img.manifest_digest.ToString());
  EXPECT_EQ(info["chainIDs"].size(), 2u);

  // Absent: an empty response, not an error.
  v1::ImageStatusResponse absent = Status(repo + ":nope");
  EXPECT_FALSE(absent.has_image());
  EXPECT_TRUE(absent.info().empty());

  ASSERT_EQ(List().size(), 1u);
  EXPECT_EQ(List(repo + ":v1").size(), 1u);
  EXPECT_EQ(List(id).size(), 1u);
  EXPECT_TRUE(List(repo + ":nope").empty());

  // A missing tag is NOT_FOUND; an invalid reference INVALID_ARGUMENT.
  EXPECT_EQ(Pull(repo + ":missing", nullptr).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Pull("e2e/Upper", nullptr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // [crio.image] insecure_registries works too (registries.conf without the entry).
  WriteRegistriesConf("");
  StopDaemon();
  StartDaemon(StrCat("insecure_registries = [\"", (*reg)->host(), "\"]\n"));
  EXPECT_EQ(MustPull(repo + ":v1"), id);
}

TEST_F(ImageE2eTest, TlsWithBasicAuthFromCriAuthConfig) {
  auto reg = TestRegistry::Start({.tls = true, .htpasswd_users = {{"alice", "s3cret-pw"}}});
  ASSERT_TRUE(reg.ok()) << reg.status();
  image::AuthConfig push_creds;
  push_creds.username = "alice";
  push_creds.password = "s3cret-pw";
  TestImage img = BusyboxImage("tls");
  Push(**reg, "secure/app", "v1", img, push_creds);
  StartDaemon(StrCat("certs_dirs = [\"", (*reg)->certs_dir(), "\"]\n"));
  std::string ref = StrCat((*reg)->host(), "/secure/app:v1");

  grpc::Status anon = Pull(ref, nullptr);
  EXPECT_EQ(anon.error_code(), grpc::StatusCode::UNAUTHENTICATED) << anon.error_message();
  v1::AuthConfig wrong;
  wrong.set_username("alice");
  wrong.set_password("not-it");
  EXPECT_EQ(Pull(ref, nullptr, &wrong).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Credentials for another registry are not sent here.
  v1::AuthConfig elsewhere;
  elsewhere.set_username("alice");
  elsewhere.set_password("s3cret-pw");
  elsewhere.set_server_address("registry.example.com");
  EXPECT_EQ(Pull(ref, nullptr, &elsewhere).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  v1::AuthConfig alice;
  alice.set_username("alice");
  alice.set_password("s3cret-pw");
  EXPECT_EQ(MustPull(ref, &alice), img.config_descriptor.digest.ToString());
  ASSERT_TRUE(Remove(ref).ok());
  v1::AuthConfig encoded;
  encoded.set_auth(absl::Base64Escape("alice:s3cret-pw"));
  EXPECT_EQ(MustPull(ref, &encoded), img.config_descriptor.digest.ToString());
  // The secrets never reach the log.
  std::string log = daemon_.Stderr();
  EXPECT_FALSE(absl::StrContains(log, "s3cret-pw"));
  EXPECT_FALSE(absl::StrContains(log, "not-it"));
  EXPECT_FALSE(absl::StrContains(log, absl::Base64Escape("alice:s3cret-pw")));
}

TEST_F(ImageE2eTest, BearerTokensAndTheGlobalAuthFile) {
  auto reg = TestRegistry::Start({.token_auth = true, .token_users = {{"bob", "builder"}}});
  ASSERT_TRUE(reg.ok()) << reg.status();
  image::AuthConfig bob;
  bob.username = "bob";
  bob.password = "builder";
  TestImage img = BusyboxImage("token");
  Push(**reg, "tok/app", "v1", img, bob);
  std::string auth_file = daemon_.dir() + "/auth.json";
  ASSERT_TRUE(WriteFileAtomic(auth_file,
                              StrCat(R"({"auths":{")", (*reg)->host(), R"(/tok":{"auth":")",
                                     absl::Base64Escape("bob:builder"), R"("}}})"),
                              0600)
                  .ok());
  WriteRegistriesConf(StrCat("[[registry]]\nlocation = \"", (*reg)->host(), "\"\ninsecure = true\n"));
  StartDaemon(StrCat("global_auth_file = \"", auth_file, "\"\n"));
  size_t before = (*reg)->token_requests().size();
  // No credentials in the request: the auth file's entry for host/tok covers tok/app.
  EXPECT_EQ(MustPull(StrCat((*reg)->host(), "/tok/app:v1")), img.config_descriptor.digest.ToString());
  auto log = (*reg)->token_requests();
  ASSERT_GT(log.size(), before);
  for (size_t i = before; i < log.size(); ++i) {
    EXPECT_EQ(log[i]["user"], "bob") << log[i].dump();
    EXPECT_TRUE(absl::StrContains(log[i]["scope"].dump(), "repository:tok/app:pull")) << log[i].dump();
  }
  // With CRI credentials, those win; wrong ones are refused by the token issuer.
  v1::AuthConfig wrong;
  wrong.set_username("bob");
  wrong.set_password("nope");
  ASSERT_TRUE(Remove(img.config_descriptor.digest.ToString()).ok());
  EXPECT_EQ(Pull(StrCat((*reg)->host(), "/tok/app:v1"), nullptr, &wrong).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ImageE2eTest, MultiArchIndexAndAMirrorForDockerHub) {
  auto mirror = TestRegistry::Start();
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  auto pusher = Pusher(**mirror);
  image::Platform host = image::HostPlatform();
  image::Platform other =
      *image::ParsePlatform(host.architecture == "arm64" ? "linux/amd64" : "linux/arm64/v8");
  TestImage native =
      testing::BuildImage({LayerSpec{{testing::TarFile("arch", host.architecture)}}}, {.platform = host});
  TestImage foreign =
      testing::BuildImage({LayerSpec{{testing::TarFile("arch", other.architecture)}}}, {.platform = other});
  ASSERT_TRUE(testing::PushImage(*pusher, "library/multi", "", foreign, Ctx()).ok());
  ASSERT_TRUE(testing::PushImage(*pusher, "library/multi", "", native, Ctx()).ok());
  testing::TestIndex index = testing::BuildIndex({&foreign, &native});
  ASSERT_TRUE(pusher->PushManifest("library/multi", "1.0", index.media_type, index.bytes, Ctx()).ok());
  // docker.io is blocked (nothing leaves the machine); its mirror on loopback serves it.
  WriteRegistriesConf(StrCat("unqualified-search-registries = [\"docker.io\"]\n[[registry]]\n",
                             "prefix = \"docker.io\"\nlocation = \"docker.io\"\nblocked = true\n",
                             "[[registry.mirror]]\nlocation = \"", (*mirror)->host(),
                             "\"\ninsecure = true\n"));
  StartDaemon();
  std::string id = MustPull("multi:1.0");
  EXPECT_EQ(id, native.config_descriptor.digest.ToString());
  v1::ImageStatusResponse st = Status("docker.io/library/multi:1.0");
  ASSERT_TRUE(st.has_image());
  EXPECT_EQ(std::vector<std::string>(st.image().repo_tags().begin(), st.image().repo_tags().end()),
            std::vector<std::string>{"docker.io/library/multi:1.0"});
  // The RepoDigest names the index, as the reference did.
  EXPECT_EQ(std::vector<std::string>(st.image().repo_digests().begin(), st.image().repo_digests().end()),
            std::vector<std::string>{StrCat("docker.io/library/multi@", index.digest.ToString())});
  // Short and familiar names find it.
  EXPECT_TRUE(Status("multi:1.0").has_image());
  EXPECT_TRUE(Status("library/multi:1.0").has_image());
  EXPECT_TRUE(Status(StrCat("multi@", index.digest.ToString())).has_image());
  // Pulling by digest names the same image and records no tag.
  ASSERT_TRUE(Remove(id).ok());
  EXPECT_EQ(MustPull(StrCat("docker.io/library/multi@", index.digest.ToString())), id);
  st = Status(id);
  ASSERT_TRUE(st.has_image());
  EXPECT_EQ(st.image().repo_tags_size(), 0);
  EXPECT_EQ(st.image().repo_digests_size(), 1);
  // The blocked origin is never tried when the mirror lacks an image.
  EXPECT_EQ(Pull("docker.io/library/absent:1", nullptr).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ImageE2eTest, RemoveImageSemantics) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = BusyboxImage("rm");
  TestImage other = BusyboxImage("rm-other");
  for (const char* tag : {"1", "2", "3"}) Push(**reg, "rm/app", tag, img);
  Push(**reg, "rm/other", "1", other);
  WriteRegistriesConf(StrCat("[[registry]]\nlocation = \"", (*reg)->host(), "\"\ninsecure = true\n"));
  StartDaemon();
  std::string repo = StrCat((*reg)->host(), "/rm/app");
  std::string id;
  for (const char* tag : {"1", "2", "3"}) id = MustPull(StrCat(repo, ":", tag));
  std::string other_id = MustPull(StrCat((*reg)->host(), "/rm/other:1"));
  v1::ImageStatusResponse st = Status(repo + ":2");
  ASSERT_TRUE(st.has_image());
  std::vector<std::string> tags(st.image().repo_tags().begin(), st.image().repo_tags().end());
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{repo + ":1", repo + ":2", repo + ":3"}));
  EXPECT_EQ(st.image().repo_digests_size(), 1);
  EXPECT_EQ(List().size(), 2u);

  // Removing by one tag removes the image with all its names (CRI RemoveImage).
  ASSERT_TRUE(Remove(repo + ":1").ok());
  for (const std::string& ref : {repo + ":1", repo + ":2", repo + ":3", id})
    EXPECT_FALSE(Status(ref).has_image()) << ref;
  EXPECT_TRUE(Status(other_id).has_image());
  // Idempotent: absent is success, by any kind of name.
  EXPECT_TRUE(Remove(repo + ":1").ok());
  EXPECT_TRUE(Remove(id).ok());
  EXPECT_TRUE(Remove(StrCat(repo, "@", img.manifest_digest.ToString())).ok());
  EXPECT_EQ(Remove("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // By repo digest and by id prefix.
  MustPull(repo + ":1");
  ASSERT_TRUE(Remove(StrCat(repo, "@", img.manifest_digest.ToString())).ok());
  EXPECT_FALSE(Status(id).has_image());
  ASSERT_TRUE(Remove(other_id.substr(7, 12)).ok());
  EXPECT_TRUE(List().empty());
  // The shared busybox layer went with its last user; nothing is left on disk.
  EXPECT_TRUE(LayerDirs().empty()) << Join(LayerDirs(), ", ");
}

// An image a container uses is not removed (FailedPrecondition naming the container) until the
// container is gone; kubelet's image GC only removes unused images.
TEST_F(ImageE2eTest, ImageInUseByAContainerIsKept) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = BusyboxImage("in-use");
  Push(**reg, "use/app", "v1", img);
  WriteRegistriesConf(StrCat("[[registry]]\nlocation = \"", (*reg)->host(), "\"\ninsecure = true\n"));
  StartDaemon();
  std::string ref = StrCat((*reg)->host(), "/use/app:v1");
  std::string id = MustPull(ref);
  auto rt = daemon_.RuntimeStub();

  v1::PodSandboxConfig pod;
  pod.mutable_metadata()->set_name("image-e2e");
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_metadata()->set_uid("image-e2e-uid");
  pod.set_log_directory(daemon_.dir() + "/pod-logs");
  pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  std::string pod_id;
  {
    grpc::ClientContext ctx;
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = pod;
    v1::RunPodSandboxResponse resp;
    grpc::Status s = rt->RunPodSandbox(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    pod_id = resp.pod_sandbox_id();
  }
  std::string ctr_id;
  {
    grpc::ClientContext ctx;
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id);
    *req.mutable_sandbox_config() = pod;
    req.mutable_config()->mutable_metadata()->set_name("c");
    req.mutable_config()->mutable_image()->set_image(ref);
    req.mutable_config()->add_command("/bin/sh");
    req.mutable_config()->set_log_path("c.log");
    v1::CreateContainerResponse resp;
    grpc::Status s = rt->CreateContainer(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    ctr_id = resp.container_id();
  }
  if (!ctr_id.empty()) {
    grpc::Status used = Remove(ref);
    EXPECT_EQ(used.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << used.error_message();
    EXPECT_TRUE(absl::StrContains(used.error_message(), ctr_id)) << used.error_message();
    EXPECT_TRUE(Status(id).has_image());
    grpc::ClientContext ctx;
    v1::RemoveContainerRequest req;
    req.set_container_id(ctr_id);
    v1::RemoveContainerResponse resp;
    EXPECT_TRUE(rt->RemoveContainer(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(pod_id);
    v1::StopPodSandboxResponse resp;
    EXPECT_TRUE(rt->StopPodSandbox(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(pod_id);
    v1::RemovePodSandboxResponse resp;
    EXPECT_TRUE(rt->RemovePodSandbox(&ctx, req, &resp).ok());
  }
  EXPECT_TRUE(Remove(ref).ok());
  EXPECT_FALSE(Status(id).has_image());
}

TEST_F(ImageE2eTest, ImageUsersPinningAndFsInfo) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  struct Case {
    std::string user;
    std::optional<int64_t> uid;
    std::string username;
  };
  const Case cases[] = {{"1002", 1002, ""},
                        {"www-data", std::nullopt, "www-data"},
                        {"1003:1003", 1003, ""},
                        {"www-data:www-data", std::nullopt, "www-data"},
                        {"0", 0, ""}};
  for (const Case& c : cases)
    Push(**reg, "user/app", std::to_string(&c - cases), BusyboxImage(c.user, c.user));
  WriteRegistriesConf(StrCat("[[registry]]\nlocation = \"", (*reg)->host(), "\"\ninsecure = true\n"));
  std::string repo = StrCat((*reg)->host(), "/user/app");
  StartDaemon(StrCat("pinned_images = [\"", repo, ":0\", \"", repo, ":1*\"]\n"));

  auto fs_before = [&] {
    grpc::ClientContext ctx;
    v1::ImageFsInfoResponse resp;
    EXPECT_TRUE(images_->ImageFsInfo(&ctx, v1::ImageFsInfoRequest(), &resp).ok());
    return resp;
  };
  v1::ImageFsInfoResponse empty = fs_before();
  ASSERT_EQ(empty.image_filesystems_size(), 1);
  for (const Case& c : cases) {
    std::string ref = StrCat(repo, ":", &c - cases);
    MustPull(ref);
    v1::ImageStatusResponse st = Status(ref);
    ASSERT_TRUE(st.has_image()) << ref;
    EXPECT_EQ(st.image().has_uid(), c.uid.has_value()) << c.user;
    if (c.uid) {
      EXPECT_EQ(st.image().uid().value(), *c.uid) << c.user;
    }
    EXPECT_EQ(st.image().username(), c.username) << c.user;
    // pinned: ":0" exactly, ":1*" as a prefix; the others not.
    EXPECT_EQ(st.image().pinned(), &c - cases <= 1) << ref;
  }
  v1::ImageFsInfoResponse full = fs_before();
  ASSERT_EQ(full.image_filesystems_size(), 1);
  EXPECT_EQ(full.image_filesystems(0).fs_id().mountpoint(), StorageDir());
  EXPECT_GT(full.image_filesystems(0).used_bytes().value(),
            empty.image_filesystems(0).used_bytes().value() + 1'000'000);  // busybox is ~2 MB
  EXPECT_GT(full.image_filesystems(0).inodes_used().value(),
            empty.image_filesystems(0).inodes_used().value());
}

// Layers with whiteouts and an opaque directory, merged by overlayfs as a container would see them.
TEST_F(ImageE2eTest, WhiteoutsAndOpaqueDirectoryInTheMergedRootfs) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  std::string busybox = ReadFile("/bin/busybox").value_or("");
  using testing::TarDir;
  using testing::TarFile;
  TestImage img = testing::BuildImage({
      LayerSpec{{TarDir("bin"), TarFile("bin/busybox", busybox, 0755),
                 testing::TarSymlink("bin/sh", "busybox"), TarDir("a"), TarFile("a/x", "x1"),
                 TarFile("a/y", "y1"), TarDir("b"), TarFile("b/keep", "k"), TarDir("b/sub"),
                 TarFile("b/sub/deep", "d"), TarFile("top", "t1")}},
      LayerSpec{{TarFile("a/.wh.x", ""), TarFile(".wh.top", ""), TarDir("b"), TarFile("b/.wh..wh..opq", ""),
                 TarFile("b/new", "n2"), TarFile("c", "c2")},
                image::Compression::kZstd},
      LayerSpec{{TarFile("a/x", "x3"), TarFile("b/.wh.new", ""), TarFile("b/newer", "n3")},
                image::Compression::kNone},
  });
  Push(**reg, "wh/app", "v1", img);
  WriteRegistriesConf(StrCat("[[registry]]\nlocation = \"", (*reg)->host(), "\"\ninsecure = true\n"));
  StartDaemon();
  std::string id = MustPull(StrCat((*reg)->host(), "/wh/app:v1"));
  StopDaemon();

  // The daemon is stopped, so the test may open its store and mount a rootfs the way CreateContainer does.
  storage::StoreOptions options;
  options.root = StorageDir();
  auto store = storage::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CreateContainerRootfs("e2e-whiteouts", id).ok());
  auto merged = (*store)->MountContainerRootfs("e2e-whiteouts");
  ASSERT_TRUE(merged.ok()) << merged.status();
  const std::string& m = *merged;
  std::map<std::string, std::string> want = {{"a/x", "x3"}, {"a/y", "y1"}, {"b/newer", "n3"}, {"c", "c2"}};
  for (const auto& [path, content] : want)
    EXPECT_EQ(ReadFile(StrCat(m, "/", path)).value_or("<absent>"), content) << path;
  EXPECT_TRUE(ReadFile(m + "/bin/busybox").value_or("") == busybox);
  for (const char* gone :
       {"top", "b/keep", "b/sub", "b/sub/deep", "b/new", "a/.wh.x", ".wh.top", "b/.wh..wh..opq"}) {
    EXPECT_FALSE(PathExists(StrCat(m, "/", gone))) << gone;
  }
  auto b = ListDir(m + "/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, std::vector<std::string>{"newer"});
  auto a = ListDir(m + "/a");
  ASSERT_TRUE(a.ok());
  std::sort(a->begin(), a->end());
  EXPECT_EQ(*a, (std::vector<std::string>{"x", "y"}));
  // The layer itself holds the overlay form: a 0/0 character device and the opaque xattr.
  auto image = (*store)->GetImage(id);
  ASSERT_TRUE(image.ok());
  auto layer2 = (*store)->GetLayer(image->layers[1]);
  ASSERT_TRUE(layer2.ok());
  struct stat st;
  ASSERT_EQ(::lstat((layer2->diff_dir + "/top").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  char value[4] = {};
  EXPECT_EQ(::lgetxattr((layer2->diff_dir + "/b").c_str(), "trusted.overlay.opaque", value, sizeof(value)),
            1);
  EXPECT_EQ(value[0], 'y');
  EXPECT_TRUE((*store)->RemoveContainerRootfs("e2e-whiteouts").ok());
}

// kill -9 of cricketd while a layer is being extracted: after a restart nothing of the pull is visible
// or left on disk, and the pull succeeds again.
TEST_F(ImageE2eTest, KillDuringPullLeavesNothingAndRepullWorks) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = testing::BuildImage({LayerSpec{{testing::TarFile("small", "base\n")}},
                                       LayerSpec{{testing::TarFile("big", Noise(3 << 20, 1))}}});
  Push(**reg, "kill/app", "v1", img);
  // The mirror is a proxy that stalls every blob after 300000 bytes: the big layer hangs mid-extraction.
  auto proxy = (*reg)->StartProxy({"--drop-blob-after", "300000", "--drop-count", "1000", "--stall", "120"},
                                  (*reg)->dir() + "/stall.log");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string primary = StrCat("[[registry]]\nlocation = \"", (*reg)->host(), "\"\ninsecure = true\n");
  WriteRegistriesConf(StrCat(primary, "[[registry.mirror]]\nlocation = \"127.0.0.1:", (*proxy)->port(),
                             "\"\ninsecure = true\n"));
  StartDaemon();
  std::string ref = StrCat((*reg)->host(), "/kill/app:v1");
  grpc::Status pulled;
  std::thread puller([&] { pulled = Pull(ref, nullptr); });
  // Wait until the base layer is committed and the big one is being extracted.
  bool mid_pull = false;
  for (int i = 0; i < 300 && !mid_pull; ++i) {
    auto tmp = ListDir(StorageDir() + "/tmp").value_or(std::vector<std::string>{});
    bool staging =
        std::any_of(tmp.begin(), tmp.end(), [](const std::string& e) { return e.starts_with("layer-"); });
    mid_pull = staging && !LayerDirs().empty();
    if (!mid_pull) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(mid_pull) << daemon_.Stderr();
  auto killed = daemon_.Stop(SIGKILL);
  ASSERT_TRUE(killed.ok());
  puller.join();
  EXPECT_FALSE(pulled.ok());

  WriteRegistriesConf(primary);  // the re-pull goes straight to the registry
  StartDaemon();
  EXPECT_FALSE(Status(ref).has_image());
  EXPECT_TRUE(List().empty());
  EXPECT_TRUE(LayerDirs().empty()) << Join(LayerDirs(), ", ");
  EXPECT_TRUE(ListDir(StorageDir() + "/tmp").value_or(std::vector<std::string>{"?"}).empty());
  EXPECT_TRUE(ListDir(StorageDir() + "/overlay/l").value_or(std::vector<std::string>{"?"}).empty());
  EXPECT_EQ(MustPull(ref), img.config_descriptor.digest.ToString());
  v1::ImageStatusResponse st = Status(ref);
  ASSERT_TRUE(st.has_image());
  EXPECT_EQ(st.image().repo_tags(0), ref);
  EXPECT_EQ(LayerDirs().size(), 2u);
}

// The client's deadline reaches the pull: cricketd stops the stalled transfer and removes what it
// had stored, without waiting for the registry.
TEST_F(ImageE2eTest, ClientDeadlineStopsThePullAndCleansUp) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = testing::BuildImage({LayerSpec{{testing::TarFile("small", "base\n")}},
                                       LayerSpec{{testing::TarFile("big", Noise(2 << 20, 2))}}});
  Push(**reg, "deadline/app", "v1", img);
  auto proxy = (*reg)->StartProxy({"--drop-blob-after", "300000", "--drop-count", "1000", "--stall", "120"},
                                  (*reg)->dir() + "/stall.log");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string host = StrCat("127.0.0.1:", (*proxy)->port());
  WriteRegistriesConf(StrCat("[[registry]]\nlocation = \"", host, "\"\ninsecure = true\n"));
  StartDaemon();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::PullImageRequest req;
  req.mutable_image()->set_image(host + "/deadline/app:v1");
  v1::PullImageResponse resp;
  grpc::Status s = images_->PullImage(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  // The daemon gives up on its side too: within a few seconds the applied base layer is collected and
  // the staging directory of the stalled one is gone.
  bool clean = false;
  for (int i = 0; i < 100 && !clean; ++i) {
    clean =
        LayerDirs().empty() && ListDir(StorageDir() + "/tmp").value_or(std::vector<std::string>{"?"}).empty();
    if (!clean) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(clean) << Join(LayerDirs(), ", ") << daemon_.Stderr();
  EXPECT_TRUE(absl::StrContains(daemon_.Stderr(), "pull failed"));
  EXPECT_TRUE(List().empty());
}

TEST_F(ImageE2eTest, CheckCommandFindsAndRepairsDamage) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  TestImage img = BusyboxImage("check");
  Push(**reg, "chk/app", "v1", img);
  WriteRegistriesConf(StrCat("[[registry]]\nlocation = \"", (*reg)->host(), "\"\ninsecure = true\n"));
  StartDaemon();
  std::string ref = StrCat((*reg)->host(), "/chk/app:v1");
  MustPull(ref);

  // While the daemon holds the store: refused, naming the holder.
  TestDaemon::Result busy = daemon_.RunOnce({"check"});
  EXPECT_EQ(busy.exit_code, 1) << busy.out << busy.err;
  EXPECT_TRUE(absl::StrContains(busy.err, std::to_string(daemon_.pid()))) << busy.err;
  StopDaemon();

  TestDaemon::Result clean = daemon_.RunOnce({"check"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_TRUE(absl::StrContains(clean.out, "ok")) << clean.out;

  // Damage the marker file of the top layer.
  std::string damaged;
  for (const std::string& dir : LayerDirs()) {
    std::string f = StrCat(StorageDir(), "/overlay/", dir, "/diff/etc/marker");
    if (PathExists(f)) damaged = f;
  }
  ASSERT_FALSE(damaged.empty());
  ASSERT_TRUE(WriteFileAtomic(damaged, "tampered\n").ok());
  TestDaemon::Result found = daemon_.RunOnce({"check"});
  EXPECT_EQ(found.exit_code, 1) << found.out << found.err;
  EXPECT_TRUE(absl::StrContains(found.out, "etc/marker")) << found.out;
  EXPECT_TRUE(absl::StrContains(found.out, img.config_descriptor.digest.ToString())) << found.out;
  TestDaemon::Result repaired = daemon_.RunOnce({"check", "--repair"});
  EXPECT_EQ(repaired.exit_code, 0) << repaired.out << repaired.err;
  EXPECT_TRUE(absl::StrContains(repaired.out, "repaired")) << repaired.out;
  EXPECT_EQ(daemon_.RunOnce({"check"}).exit_code, 0);
  EXPECT_EQ(daemon_.RunOnce({"config", "--repair"}).exit_code, 2);

  // The damaged image is gone; pulling brings it back intact.
  StartDaemon();
  EXPECT_FALSE(Status(ref).has_image());
  MustPull(ref);
  StopDaemon();
  EXPECT_EQ(daemon_.RunOnce({"check"}).exit_code, 0);
}

}  // namespace
}  // namespace cricket::e2e
