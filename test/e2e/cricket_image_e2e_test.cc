// cricket-image against Debian's docker-registry and a running cricketd sharing its config and store:
// copy registry -> cricket: (cricketd lists the image at once), registry -> dir: -> oci: -> cricket:,
// inspect, list-tags, delete, --format json, a tampered blob refused with nothing stored, a policy
// refusal, copies into the store while cricketd pulls and removes, and login with a wrong password.
// Needs root and docker-registry (skips otherwise).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/strings.h"
#include "lib/image/registry_client.h"
#include "test/e2e/test_daemon.h"
#include "test/support/registry.h"
#include "test/support/test_image.h"

namespace cricket::e2e {
namespace {

namespace v1 = ::runtime::v1;
using testing::TestImage;
using testing::TestRegistry;

struct ToolRun {
  int code = -1;
  std::string out;  // stdout and stderr
};

TestImage MarkedImage(const std::string& marker) {
  return testing::MarkedBusyboxImage(marker, image::Compression::kZstd);
}

class CricketImageE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "cricketd needs root";
    if (!TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
    if (!PathExists("/bin/busybox")) GTEST_SKIP() << "busybox-static is not installed";
    auto reg = TestRegistry::Start();
    ASSERT_TRUE(reg.ok()) << reg.status();
    reg_ = *std::move(reg);
    host_ = reg_->host();
    work_ = daemon_.dir() + "/work";
    ASSERT_TRUE(MkdirAll(work_).ok());
    ASSERT_TRUE(
        WriteFileAtomic(work_ + "/policy.json", R"({"default": [{"type": "insecureAcceptAnything"}]})").ok());
    ASSERT_TRUE(WriteFileAtomic(work_ + "/reject.json", R"({"default": [{"type": "reject"}]})").ok());
    ASSERT_TRUE(WriteFileAtomic(work_ + "/registries.conf",
                                StrCat("[[registry]]\nlocation = \"", host_, "\"\ninsecure = true\n"))
                    .ok());
    daemon_.set_extra_config(StrCat("[crio.image]\nregistries_conf = \"", work_,
                                    "/registries.conf\"\nregistries_conf_dir = \"\"\nsignature_policy = \"",
                                    work_, "/policy.json\"\nregistries_d = \"\"\nglobal_auth_file = \"",
                                    work_, "/auth.json\"\n"));
    absl::Status s = daemon_.Start();
    ASSERT_TRUE(s.ok()) << s << daemon_.Stderr();
    images_ = daemon_.ImageStub();
  }
  void TearDown() override {
    if (daemon_.pid() > 0) (void)daemon_.Stop(SIGTERM);
    std::string ns = daemon_.runroot() + "/ns";
    if (PathExists(ns)) ::umount2(ns.c_str(), MNT_DETACH);
  }

  ToolRun Tool(const std::string& args) {
    std::string cmd = StrCat(CRICKET_IMAGE_PATH, " --config ", daemon_.config_path(), " --config-dir ",
                             daemon_.dir(), "/conf.d ", args, " 2>&1");
    ToolRun r;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (f == nullptr) return r;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), f)) > 0;) r.out.append(buf, n);
    int status = ::pclose(f);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  void Push(const std::string& repo, const std::string& tag, const TestImage& img) {
    image::HttpTransport::Options t;
    t.certs_dirs = {"/nonexistent"};
    image::RegistryClient client(std::make_shared<image::HttpTransport>(t),
                                 std::make_shared<image::TokenCache>(), host_, true, std::nullopt);
    auto pushed = testing::PushImage(client, repo, tag, img, image::CallContext::WithTimeout(60'000));
    ASSERT_TRUE(pushed.ok()) << pushed.status();
  }

  std::vector<std::string> ListedTags() {
    grpc::ClientContext ctx;
    v1::ListImagesResponse resp;
    EXPECT_TRUE(images_->ListImages(&ctx, v1::ListImagesRequest(), &resp).ok());
    std::vector<std::string> tags;
    for (const auto& img : resp.images())
      for (const auto& t : img.repo_tags()) tags.push_back(t);
    std::sort(tags.begin(), tags.end());
    return tags;
  }

  grpc::Status Pull(const std::string& ref) {
    grpc::ClientContext ctx;
    v1::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::PullImageResponse resp;
    return images_->PullImage(&ctx, req, &resp);
  }
  grpc::Status Remove(const std::string& ref) {
    grpc::ClientContext ctx;
    v1::RemoveImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::RemoveImageResponse resp;
    return images_->RemoveImage(&ctx, req, &resp);
  }

  TestDaemon daemon_;
  std::unique_ptr<v1::ImageService::Stub> images_;
  std::unique_ptr<TestRegistry> reg_;
  std::string host_, work_;
};

TEST_F(CricketImageE2eTest, CopiesBetweenTransportsAndIntoTheStoreOfARunningDaemon) {
  TestImage app = MarkedImage("app");
  Push("team/app", "v1", app);
  Push("team/app", "v2", MarkedImage("app2"));
  std::string ref = StrCat(host_, "/team/app:v1");

  ToolRun r = Tool(StrCat("copy --quiet docker://", ref, " cricket:"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(ListedTags(), std::vector<std::string>{ref});  // listed at once: no cache to refresh

  r = Tool(StrCat("inspect docker://", ref));
  ASSERT_EQ(r.code, 0) << r.out;
  auto inspected = ParseJson(r.out, "inspect");
  ASSERT_TRUE(inspected.ok()) << r.out;
  EXPECT_EQ((*inspected)["Digest"], app.manifest_digest.ToString());
  EXPECT_EQ((*inspected)["RepoTags"], nlohmann::json({"v1", "v2"}));
  EXPECT_EQ((*inspected)["LayersData"].size(), 2u);
  r = Tool(StrCat("inspect --raw docker://", ref));
  EXPECT_EQ(r.out, app.manifest);
  r = Tool(StrCat("list-tags docker://", host_, "/team/app"));
  EXPECT_TRUE(absl::StrContains(r.out, "\"v2\"")) << r.out;

  std::string d = work_ + "/d", o = work_ + "/o";
  r = Tool(StrCat("copy --format json docker://", ref, " dir:", d));
  ASSERT_EQ(r.code, 0) << r.out;
  auto copied = ParseJson(r.out, "copy");
  ASSERT_TRUE(copied.ok()) << r.out;
  EXPECT_EQ((*copied)["digest"], app.manifest_digest.ToString());
  EXPECT_EQ((*copied)["blobsCopied"], 3);
  EXPECT_EQ(*ReadFile(d + "/manifest.json"), app.manifest);
  EXPECT_TRUE(PathExists(StrCat(d, "/", app.config_descriptor.digest.hex())));
  r = Tool(StrCat("copy --quiet dir:", d, " oci:", o, ":t1"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(absl::StrContains(*ReadFile(o + "/index.json"), "\"t1\""));
  r = Tool(StrCat("copy --quiet oci:", o, ":t1 cricket:", host_, "/team/app:fromoci"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(ListedTags(), (std::vector<std::string>{StrCat(host_, "/team/app:fromoci"), ref}));

  // A tampered blob is refused with nothing stored (an image of its own: the store has app's layers).
  TestImage lone = MarkedImage("tampered");
  Push("team/lone", "v1", lone);
  std::string d2 = work_ + "/d2";
  r = Tool(StrCat("copy --quiet docker://", host_, "/team/lone:v1 dir:", d2));
  ASSERT_EQ(r.code, 0) << r.out;
  std::string layer = StrCat(d2, "/", lone.layers[1].descriptor.digest.hex());
  std::string bytes = *ReadFile(layer);
  bytes[bytes.size() / 2] ^= 0x5a;
  ASSERT_TRUE(WriteFileAtomic(layer, bytes).ok());
  std::vector<std::string> before = ListedTags();
  size_t layers_before = ListDir(daemon_.root() + "/storage/overlay")->size();
  r = Tool(StrCat("copy --quiet dir:", d2, " cricket:", host_, "/team/lone:tampered"));
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(absl::StrContains(r.out, lone.layers[1].descriptor.digest.ToString())) << r.out;
  EXPECT_EQ(ListedTags(), before);
  // The busybox layer it shares may have been found stored; no new layer remains.
  EXPECT_EQ(ListDir(daemon_.root() + "/storage/overlay")->size(), layers_before);

  // The policy refuses before anything is written.
  r = Tool(StrCat("copy --quiet --policy ", work_, "/reject.json docker://", host_,
                  "/team/app:v2 dir:", work_, "/x"));
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "rejected by signature policy")) << r.out;
  EXPECT_FALSE(PathExists(work_ + "/x/manifest.json"));

  // Bad input is refused as cricketd refuses it.
  r = Tool("copy docker://UPPER/Case:1 dir:/tmp/never");
  EXPECT_NE(r.code, 0);
  r = Tool("copy ftp://x dir:/tmp/never");
  EXPECT_TRUE(absl::StrContains(r.out, "unknown transport")) << r.out;

  // Copies into the store while cricketd pulls and removes.
  for (int i = 0; i < 3; ++i) Push("busy/app", StrCat("c", i), MarkedImage(StrCat("busy", i)));
  Push("busy/app", "pulled", MarkedImage("pulled"));
  ToolRun concurrent[3];
  std::vector<std::thread> copies;
  for (int i = 0; i < 3; ++i) {
    copies.emplace_back([&, i] {
      concurrent[i] = Tool(StrCat("copy --quiet docker://", host_, "/busy/app:c", i, " cricket:"));
    });
  }
  grpc::Status pulled = Pull(StrCat(host_, "/busy/app:pulled"));
  grpc::Status removed = Remove(ref);
  for (std::thread& t : copies) t.join();
  EXPECT_TRUE(pulled.ok()) << pulled.error_message();
  EXPECT_TRUE(removed.ok()) << removed.error_message();
  for (const ToolRun& c : concurrent) EXPECT_EQ(c.code, 0) << c.out;
  std::vector<std::string> tags = ListedTags();
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(std::find(tags.begin(), tags.end(), StrCat(host_, "/busy/app:c", i)), tags.end());
  }
  EXPECT_EQ(std::find(tags.begin(), tags.end(), ref), tags.end());

  r = Tool(StrCat("delete cricket:", host_, "/busy/app:c0"));
  EXPECT_EQ(r.code, 0) << r.out;
  r = Tool(StrCat("delete docker://", host_, "/team/app:v2"));
  EXPECT_EQ(r.code, 0) << r.out;
  r = Tool(StrCat("inspect docker://", host_, "/team/app:v2"));
  EXPECT_NE(r.code, 0) << r.out;
}

TEST_F(CricketImageE2eTest, LoginRefusesAWrongPasswordAndLogoutForgets) {
  TestRegistry::Options o;
  o.htpasswd_users = {{"alice", "right"}};
  auto secured = TestRegistry::Start(o);
  ASSERT_TRUE(secured.ok()) << secured.status();
  std::string h = (*secured)->host();
  ToolRun r = Tool(StrCat("login --tls-verify=false -u alice -p wrong ", h));
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(absl::StrContains(r.out, "401")) << r.out;
  EXPECT_FALSE(PathExists(work_ + "/auth.json"));
  r = Tool(StrCat("login --tls-verify=false -u alice -p right ", h));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(absl::StrContains(*ReadFile(work_ + "/auth.json"), h));
  r = Tool(StrCat("logout ", h));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(absl::StrContains(*ReadFile(work_ + "/auth.json"), h));
}

}  // namespace
}  // namespace cricket::e2e
