// Image faults against the real cricketd, each with a clear error and nothing half-written: the storage
// filesystem full during a pull (a small tmpfs as cricketd's root), a registry that closes the
// connection mid-blob and one that sends wrong bytes, a damaged metadata database at start; and ten
// concurrent pulls of one image sharing one download. Needs root and docker-registry (skips otherwise).
#include <gmock/gmock.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/image/registry_client.h"
#include "test/e2e/test_daemon.h"
#include "test/support/registry.h"
#include "test/support/test_image.h"

namespace cricket::e2e {
namespace {

namespace v1 = ::runtime::v1;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::LayerSpec;
using testing::TestImage;
using testing::TestRegistry;

// Incompressible bytes (gzip cannot shrink them: the layer blob is as big as the file).
std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    memcpy(&out[i], &v, 8);
  }
  return out;
}

class ImageFaultE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "cricketd needs root";
    if (!TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
    auto reg = TestRegistry::Start();
    ASSERT_TRUE(reg.ok()) << reg.status();
    registry_ = *std::move(reg);
  }

  void TearDown() override {
    if (daemon_.pid() > 0) (void)daemon_.Stop(SIGTERM);
    for (const std::string& m : {daemon_.runroot() + "/ns", root_mount_}) {
      if (!m.empty() && PathExists(m)) ::umount2(m.c_str(), MNT_DETACH);
    }
  }

  // cricketd's root on a tmpfs of `mib` MiB (mounted before it starts, unmounted by TearDown).
  void SmallRoot(int mib) {
    ASSERT_TRUE(MkdirAll(daemon_.root(), 0700).ok());
    ASSERT_EQ(
        ::mount("tmpfs", daemon_.root().c_str(), "tmpfs", 0, StrCat("size=", mib, "m,mode=0700").c_str()), 0);
    root_mount_ = daemon_.root();
  }

  void Push(const std::string& repo, const TestImage& img) {
    image::HttpTransport::Options t;
    auto client = std::make_unique<image::RegistryClient>(std::make_shared<image::HttpTransport>(t),
                                                          std::make_shared<image::TokenCache>(),
                                                          registry_->host(), true, std::nullopt);
    auto pushed = testing::PushImage(*client, repo, "v1", img, image::CallContext::WithTimeout(60'000));
    ASSERT_TRUE(pushed.ok()) << pushed.status();
  }

  // Starts cricketd with every host in `insecure` reachable over plain http.
  // `image_extra` is more of [crio.image].
  void StartDaemon(const std::vector<std::string>& insecure, const std::string& image_extra = "") {
    std::string conf;
    for (const std::string& h : insecure)
      StrAppend(&conf, "[[registry]]\nlocation = \"", h, "\"\ninsecure = true\n");
    ASSERT_TRUE(WriteFileAtomic(daemon_.dir() + "/registries.conf", conf).ok());
    daemon_.set_extra_config(StrCat("[crio.image]\nregistries_conf = \"", daemon_.dir(),
                                    "/registries.conf\"\nregistries_conf_dir = \"\"\n", image_extra));
    absl::Status s = daemon_.Start();
    ASSERT_TRUE(s.ok()) << s << daemon_.Stderr();
    images_ = daemon_.ImageStub();
  }

  grpc::Status Pull(const std::string& ref, std::string* id = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::PullImageResponse resp;
    grpc::Status s = images_->PullImage(&ctx, req, &resp);
    if (id != nullptr) *id = resp.image_ref();
    return s;
  }

  std::vector<v1::Image> List() {
    grpc::ClientContext ctx;
    v1::ListImagesResponse resp;
    grpc::Status s = images_->ListImages(&ctx, v1::ListImagesRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.images().begin(), resp.images().end()};
  }

  std::string StorageDir() const { return daemon_.root() + "/storage"; }
  // What a failed pull must not leave: layer directories, links, staging.
  std::vector<std::string> StoreLeftovers() const {
    std::vector<std::string> out;
    for (const std::string& e : ListDir(StorageDir() + "/overlay").value_or(std::vector<std::string>{})) {
      if (e != "l" && e != "empty") out.push_back("layer " + e);
    }
    for (const std::string& e : ListDir(StorageDir() + "/overlay/l").value_or(std::vector<std::string>{})) {
      out.push_back("link " + e);
    }
    for (const std::string& e : ListDir(StorageDir() + "/tmp").value_or(std::vector<std::string>{})) {
      out.push_back("staging " + e);
    }
    return out;
  }

  // The store is consistent: `cricketd check` (daemon stopped) finds nothing wrong.
  void ExpectStoreChecksClean() {
    images_.reset();
    ASSERT_TRUE(daemon_.Stop(SIGTERM).ok());
    TestDaemon::Result check = daemon_.RunOnce({"check"});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  }

  std::unique_ptr<TestRegistry> registry_;
  TestDaemon daemon_;
  std::string root_mount_;
  std::unique_ptr<v1::ImageService::Stub> images_;
};

TEST_F(ImageFaultE2eTest, StorageFullDuringAPullFailsNamingItAndLeavesNothing) {
  SmallRoot(24);
  // 40 MiB of layers in a 24 MiB store: the second layer cannot fit.
  TestImage big = testing::BuildImage({LayerSpec{{testing::TarFile("a", RandomBytes(4 << 20, 1))}},
                                       LayerSpec{{testing::TarFile("b", RandomBytes(36 << 20, 2))}}});
  ASSERT_NO_FATAL_FAILURE(Push("fault/big", big));
  TestImage small = testing::BuildImage({LayerSpec{{testing::TarFile("c", "small\n")}}});
  ASSERT_NO_FATAL_FAILURE(Push("fault/small", small));
  // No free-space reserve (min_free_space refuses a layer before the disk is full, tested with the
  // layer bombs): the write itself meets ENOSPC.
  ASSERT_NO_FATAL_FAILURE(StartDaemon({registry_->host()}, "min_free_space = \"0\"\n"));

  grpc::Status s = Pull(registry_->host() + "/fault/big:v1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("ENOSPC")) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(daemon_.root())) << "the error names where: " << s.error_message();
  EXPECT_THAT(List(), IsEmpty());
  EXPECT_THAT(StoreLeftovers(), IsEmpty());
  // The store still works, and is sound.
  std::string id;
  s = Pull(registry_->host() + "/fault/small:v1", &id);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(id, small.config_descriptor.digest.ToString());
  ExpectStoreChecksClean();
}

TEST_F(ImageFaultE2eTest, RegistryClosingTheConnectionMidBlobFailsCleanly) {
  TestImage img = testing::BuildImage({LayerSpec{{testing::TarFile("a", "base\n")}},
                                       LayerSpec{{testing::TarFile("b", RandomBytes(2 << 20, 3))}}});
  ASSERT_NO_FATAL_FAILURE(Push("fault/cut", img));
  // Every blob body is cut after 100000 bytes, and a resume gets the whole blob again (and is cut).
  auto proxy =
      registry_->StartProxy({"--drop-blob-after", "100000", "--drop-count", "100000", "--ignore-range"},
                            registry_->dir() + "/cut.log");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string via = StrCat("127.0.0.1:", (*proxy)->port());
  ASSERT_NO_FATAL_FAILURE(StartDaemon({via, registry_->host()}));
  grpc::Status s = Pull(via + "/fault/cut:v1");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(img.layers[1].descriptor.digest.ToString())) << s.error_message();
  EXPECT_THAT(List(), IsEmpty());
  EXPECT_THAT(StoreLeftovers(), IsEmpty());
  // The same image straight from the registry.
  s = Pull(registry_->host() + "/fault/cut:v1");
  EXPECT_TRUE(s.ok()) << s.error_message();
  ExpectStoreChecksClean();
}

TEST_F(ImageFaultE2eTest, RegistrySendingWrongBytesIsRefused) {
  TestImage img = testing::BuildImage({LayerSpec{{testing::TarFile("a", "base\n")}},
                                       LayerSpec{{testing::TarFile("b", RandomBytes(1 << 20, 4))}}});
  ASSERT_NO_FATAL_FAILURE(Push("fault/wrong", img));
  // Same length, different bytes: only the digest can tell.
  std::string blob = registry_->BlobDataPath(img.layers[1].descriptor.digest.ToString());
  std::string data = ReadFile(blob).value_or("");
  ASSERT_EQ(data.size(), img.layers[1].blob.size());
  data[data.size() / 2] ^= 0x55;
  ASSERT_TRUE(WriteFileAtomic(blob, data).ok());
  ASSERT_NO_FATAL_FAILURE(StartDaemon({registry_->host()}));
  grpc::Status s = Pull(registry_->host() + "/fault/wrong:v1");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(img.layers[1].descriptor.digest.ToString())) << s.error_message();
  EXPECT_THAT(List(), IsEmpty());
  EXPECT_THAT(StoreLeftovers(), IsEmpty());
  ExpectStoreChecksClean();
}

// Ten PullImage calls for one image at once (kubelet starting ten pods of one deployment): every call
// gets the image, and each blob crosses the network once.
TEST_F(ImageFaultE2eTest, TenConcurrentPullsOfOneImageDownloadItOnce) {
  TestImage img = testing::BuildImage({LayerSpec{{testing::TarFile("a", RandomBytes(1 << 20, 5))}},
                                       LayerSpec{{testing::TarFile("b", RandomBytes(3 << 20, 6))}}});
  ASSERT_NO_FATAL_FAILURE(Push("fault/ten", img));
  std::string log = registry_->dir() + "/ten.log";
  auto proxy = registry_->StartProxy({}, log);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string via = StrCat("127.0.0.1:", (*proxy)->port());
  ASSERT_NO_FATAL_FAILURE(StartDaemon({via}));
  constexpr int kPulls = 10;
  std::vector<grpc::Status> results(kPulls);
  std::vector<std::string> ids(kPulls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPulls; ++i)
    threads.emplace_back([&, i] { results[i] = Pull(via + "/fault/ten:v1", &ids[i]); });
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kPulls; ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].error_message();
    EXPECT_EQ(ids[i], img.config_descriptor.digest.ToString()) << i;
  }
  std::map<std::string, int> blob_gets;
  for (const nlohmann::json& r : testing::ReadJsonLines(log)) {
    std::string path = r.value("path", "");
    if (r.value("method", "") == "GET" && path.find("/blobs/") != std::string::npos) blob_gets[path]++;
  }
  ASSERT_EQ(blob_gets.size(), 3u) << "config and two layers";
  for (const auto& [path, n] : blob_gets) EXPECT_EQ(n, 1) << path << " was downloaded " << n << " times";
  EXPECT_EQ(List().size(), 1u);
  ExpectStoreChecksClean();
}

// A metadata database damaged while cricketd was down (truncated, or garbage in its header): cricketd
// refuses to start, naming the file, instead of serving a wrong image list or crashing.
TEST_F(ImageFaultE2eTest, DamagedMetadataDatabaseAtStartIsRefusedNamingTheFile) {
  TestImage img = testing::BuildImage({LayerSpec{{testing::TarFile("a", "base\n")}}});
  ASSERT_NO_FATAL_FAILURE(Push("fault/db", img));
  ASSERT_NO_FATAL_FAILURE(StartDaemon({registry_->host()}));
  ASSERT_TRUE(Pull(registry_->host() + "/fault/db:v1").ok());
  images_.reset();
  ASSERT_TRUE(daemon_.Stop(SIGTERM).ok());
  const std::string db = StorageDir() + "/storage.db";
  const std::string good = ReadFile(db).value_or("");
  ASSERT_GT(good.size(), 4096u);
  struct Damage {
    const char* what;
    std::string content;
  };
  std::string garbage = good;
  for (size_t i = 0; i < 100; ++i) garbage[i] = static_cast<char>(0xA5 ^ i);
  const Damage damages[] = {{"truncated", good.substr(0, good.size() / 3)}, {"garbage header", garbage}};
  for (const Damage& d : damages) {
    ASSERT_TRUE(WriteFileAtomic(db, d.content, 0600).ok());
    absl::Status started = daemon_.Start();
    EXPECT_FALSE(started.ok()) << d.what << ": cricketd served a damaged store";
    if (started.ok()) {
      (void)daemon_.Stop(SIGKILL);
      continue;
    }
    std::string err = daemon_.Stderr();
    EXPECT_THAT(err, HasSubstr(db)) << d.what;
    EXPECT_THAT(err, HasSubstr("Restore the file")) << d.what << ": the message says what to do";
    EXPECT_FALSE(absl::StrContains(err, "terminate called")) << d.what;
    EXPECT_FALSE(PathExists(daemon_.socket_path())) << d.what;
  }
  // Restored, the store serves again.
  ASSERT_TRUE(WriteFileAtomic(db, good, 0600).ok());
  ASSERT_NO_FATAL_FAILURE(StartDaemon({registry_->host()}));
  EXPECT_EQ(List().size(), 1u);
}

}  // namespace
}  // namespace cricket::e2e
