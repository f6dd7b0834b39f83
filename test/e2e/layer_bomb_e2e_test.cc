// Hostile layers against the real cricketd: decompression bombs served by a real registry (Debian's
// docker-registry on loopback) and pulled over CRI. cricketd's root is a tmpfs of 384 MiB made by the
// test, so the free-space reserve ([crio.image] min_free_space) is checked against a filesystem of
// known size; a sampler thread records the lowest free space seen during each pull. cricketd's CPU
// time (utime + stime of /proc/PID/stat) is read before each pull and after its work has settled.
// Each bomb must be refused with its bound named, cheaply, leaving nothing behind; a retry of the
// same bomb is answered from the failed-layer cache; a pull cancelled by its deadline stops the
// unpack. Needs root (tmpfs, cricketd) and docker-registry; skips otherwise.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/image/registry_client.h"
#include "test/e2e/test_daemon.h"
#include "test/support/crafted_layers.h"
#include "test/support/registry.h"
#include "test/support/test_image.h"

namespace cricket::e2e {
namespace {

namespace v1 = ::runtime::v1;
using image::Compression;
using testing::CraftedImage;
using testing::CraftedLayer;
using testing::TestImage;
using testing::TestRegistry;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kTmpfsSize = 384 * kMiB;
constexpr uint64_t kReserve = 128 * kMiB;

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::string stat = ReadFile(StrCat("/proc/", pid, "/stat")).value_or("");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
  std::vector<std::string_view> f = Split(std::string_view(stat).substr(paren + 2), ' ');
  if (f.size() < 13) return -1;
  double ticks = static_cast<double>(ParseInt64(f[11]).value_or(0) + ParseInt64(f[12]).value_or(0));
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

uint64_t FreeBytes(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

struct Outcome {
  grpc::Status status;
  double wall_s = 0;      // the PullImage call
  double cpu_s = 0;       // cricketd's CPU from the call until its work settled
  uint64_t min_free = 0;  // the lowest free space of the root seen meanwhile
};

class LayerBombE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "cricketd and the tmpfs root need root";
    if (!TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
    auto reg = TestRegistry::Start();
    ASSERT_TRUE(reg.ok()) << reg.status();
    reg_ = *std::move(reg);
    ASSERT_TRUE(MkdirAll(daemon_.root(), 0700).ok());
    std::string opts = StrCat("size=", kTmpfsSize, ",mode=0700");
    ASSERT_EQ(::mount("tmpfs", daemon_.root().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()), 0)
        << std::strerror(errno);
    mounted_ = true;
    ASSERT_TRUE(WriteFileAtomic(daemon_.dir() + "/registries.conf",
                                StrCat("[[registry]]\nlocation = \"", reg_->host(), "\"\ninsecure = true\n"))
                    .ok());
  }

  void TearDown() override {
    if (daemon_.pid() > 0) (void)daemon_.Stop(SIGTERM);
    std::string ns = daemon_.runroot() + "/ns";
    if (PathExists(ns)) ::umount2(ns.c_str(), MNT_DETACH);
    if (mounted_) {
      EXPECT_EQ(::umount2(daemon_.root().c_str(), MNT_DETACH), 0) << std::strerror(errno);
    }
  }

  // Starts cricketd with the reserve and `extra` [crio.image] lines.
  void StartDaemon(const std::string& extra = "") {
    if (daemon_.pid() > 0) {
      ASSERT_TRUE(daemon_.Stop(SIGTERM).ok());
    }
    daemon_.set_extra_config(StrCat("[crio.image]\nregistries_conf = \"", daemon_.dir(),
                                    "/registries.conf\"\nregistries_conf_dir = \"\"\nmin_free_space = \"",
                                    kReserve, "\"\n", extra));
    absl::Status s = daemon_.Start();
    ASSERT_TRUE(s.ok()) << s << daemon_.Stderr();
    images_ = daemon_.ImageStub();
  }

  std::string Push(const std::string& repo, const TestImage& img) {
    image::HttpTransport::Options t;
    t.certs_dirs = {"/nonexistent"};
    image::RegistryClient client(std::make_shared<image::HttpTransport>(t),
                                 std::make_shared<image::TokenCache>(), reg_->host(), true, std::nullopt);
    auto pushed = testing::PushImage(client, repo, "v1", img, image::CallContext::WithTimeout(60'000));
    EXPECT_TRUE(pushed.ok()) << pushed.status();
    return StrCat(reg_->host(), "/", repo, ":v1");
  }

  // Pulls `ref` over CRI with a deadline, sampling the root's free space; then waits until cricketd's
  // CPU time stops growing (the work behind the call has ended) and reports it.
  Outcome Pull(const std::string& ref, const std::string& label,
               std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
    Outcome out;
    std::atomic<bool> stop{false};
    out.min_free = FreeBytes(daemon_.root());
    std::thread sampler([&] {
      while (!stop.load()) {
        out.min_free = std::min(out.min_free, FreeBytes(daemon_.root()));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    double cpu0 = CpuSeconds(daemon_.pid());
    int64_t t0 = MonotonicNow();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::PullImageResponse resp;
    out.status = images_->PullImage(&ctx, req, &resp);
    out.wall_s = static_cast<double>(MonotonicNow() - t0) / 1e9;
    // Settled: no CPU used over three polls of 0.5 s (at most 120 s).
    double last = CpuSeconds(daemon_.pid());
    for (int i = 0, quiet = 0; i < 240 && quiet < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      double now = CpuSeconds(daemon_.pid());
      quiet = now - last < 0.02 ? quiet + 1 : 0;
      last = now;
    }
    out.cpu_s = last - cpu0;
    stop.store(true);
    sampler.join();
    std::printf("[bomb] %-28s code=%d wall=%.2fs cpu=%.2fs min_free=%.1fMiB\n        %s\n", label.c_str(),
                static_cast<int>(out.status.error_code()), out.wall_s, out.cpu_s,
                static_cast<double>(out.min_free) / kMiB, out.status.error_message().c_str());
    return out;
  }

  std::string StorageDir() const { return daemon_.root() + "/storage"; }

  // No layer, staging directory or image left, and the space is back.
  void ExpectNothingLeft() {
    std::vector<std::string> layers;
    for (const std::string& e : ListDir(StorageDir() + "/overlay").value_or(std::vector<std::string>{})) {
      if (e != "l" && e != "empty") layers.push_back(e);
    }
    EXPECT_TRUE(layers.empty()) << Join(layers, ", ");
    auto tmp = ListDir(StorageDir() + "/tmp");
    EXPECT_TRUE(tmp.ok() && tmp->empty()) << (tmp.ok() ? Join(*tmp, ", ") : tmp.status().ToString());
    grpc::ClientContext ctx;
    v1::ListImagesResponse list;
    EXPECT_TRUE(images_->ListImages(&ctx, v1::ListImagesRequest(), &list).ok());
    EXPECT_EQ(list.images_size(), 0);
    EXPECT_GT(FreeBytes(daemon_.root()), kTmpfsSize - 32 * kMiB);
  }

  static void ExpectRefused(const Outcome& o, grpc::StatusCode code, const std::vector<std::string>& words) {
    EXPECT_EQ(o.status.error_code(), code) << o.status.error_message();
    for (const std::string& w : words) {
      EXPECT_TRUE(absl::StrContains(o.status.error_message(), w))
          << w << " not in: " << o.status.error_message();
    }
  }

  TestDaemon daemon_;
  std::unique_ptr<TestRegistry> reg_;
  std::unique_ptr<v1::ImageService::Stub> images_;
  bool mounted_ = false;
};

// 3 GiB of zeros in a ~100 KB zstd layer (and a ~3 MB gzip one), with a made-up diff_id: refused by
// the expansion bound after a few MiB, and the retry is answered without downloading it again.
TEST_F(LayerBombE2eTest, ZeroFilledLayerIsRefusedByTheExpansionBound) {
  CraftedLayer zstd = testing::ZeroFileLayer(3 * kGiB, Compression::kZstd);
  CraftedLayer gzip = testing::ZeroFileLayer(3 * kGiB, Compression::kGzip);
  std::printf("[bomb] zero-filled layers: zstd %zu bytes, gzip %zu bytes, %llu bytes of tar each\n",
              zstd.blob.size(), gzip.blob.size(), static_cast<unsigned long long>(zstd.tar_size));
  TestImage zimg = CraftedImage({zstd});
  TestImage gimg = CraftedImage({gzip});
  std::string zref = Push("bomb/zeros-zstd", zimg);
  std::string gref = Push("bomb/zeros-gzip", gimg);
  StartDaemon();

  for (auto [ref, img, label] :
       {std::tuple(zref, &zimg, "zero-filled zstd"), std::tuple(gref, &gimg, "zero-filled gzip")}) {
    Outcome o = Pull(ref, label);
    ExpectRefused(o, grpc::StatusCode::INVALID_ARGUMENT,
                  {"max_layer_expansion_ratio", img->layers[0].descriptor.digest.ToString()});
    EXPECT_LT(o.cpu_s, 2.0);
    EXPECT_LT(o.wall_s, 10.0);
    EXPECT_GE(o.min_free, kReserve);
    ExpectNothingLeft();
  }

  // The retry is refused from the failed-layer cache: the blob is not fetched a second time.
  std::string blob_get = StrCat("/blobs/", zimg.layers[0].descriptor.digest.ToString());
  auto count = [](const std::string& text, const std::string& word) {
    size_t n = 0;
    for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
    return n;
  };
  size_t gets_before = count(reg_->registry_log(), blob_get);
  EXPECT_GT(gets_before, 0u);
  Outcome again = Pull(zref, "zero-filled zstd, retried");
  ExpectRefused(again, grpc::StatusCode::INVALID_ARGUMENT, {"max_layer_expansion_ratio", "failed earlier"});
  EXPECT_EQ(count(reg_->registry_log(), blob_get), gets_before);
  EXPECT_LT(again.cpu_s, 0.5);
  ExpectNothingLeft();
}

// Three PAX sparse entries declaring 64 GiB each in a few hundred bytes of gzip: refused at the bound
// on declared sparse size. A sparse file under the bound (a 32 GiB hole) is stored without hashing
// its hole, and `cricketd check` verifies it without reading the hole either.
TEST_F(LayerBombE2eTest, SparseBombIsRefusedAndHolesCostNoHashing) {
  CraftedLayer bomb = testing::SparseLayer(3, 64 * kGiB, Compression::kGzip);
  CraftedLayer fine = testing::SparseLayer(1, 32 * kGiB, Compression::kGzip, /*real_diff_id=*/true);
  std::printf("[bomb] sparse layers: bomb %zu bytes of gzip, fine %zu bytes\n", bomb.blob.size(),
              fine.blob.size());
  TestImage bimg = CraftedImage({bomb});
  std::string bref = Push("bomb/sparse", bimg);
  std::string fref = Push("bomb/sparse-ok", CraftedImage({fine}));
  StartDaemon();

  Outcome o = Pull(bref, "sparse 3 x 64 GiB");
  ExpectRefused(o, grpc::StatusCode::INVALID_ARGUMENT,
                {"max_layer_sparse_size", bimg.layers[0].descriptor.digest.ToString()});
  EXPECT_LT(o.cpu_s, 2.0);
  EXPECT_LT(o.wall_s, 10.0);
  ExpectNothingLeft();

  Outcome ok = Pull(fref, "sparse 1 x 32 GiB, allowed");
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_LT(ok.cpu_s, 2.0);
  std::string file;
  for (const std::string& e : ListDir(StorageDir() + "/overlay").value_or(std::vector<std::string>{})) {
    if (PathExists(StrCat(StorageDir(), "/overlay/", e, "/diff/sparse0"))) {
      file = StrCat(StorageDir(), "/overlay/", e, "/diff/sparse0");
    }
  }
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 32 * kGiB);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, kMiB);  // the hole takes no space

  ASSERT_TRUE(daemon_.Stop(SIGTERM).ok());
  int64_t t0 = MonotonicNow();
  TestDaemon::Result check = daemon_.RunOnce({"check"});
  double check_s = static_cast<double>(MonotonicNow() - t0) / 1e9;
  std::printf("[bomb] cricketd check of the 32 GiB sparse file: %.2fs\n", check_s);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_LT(check_s, 10.0);
}

// Ten million empty-file entries (all named "f": no disk, all work) in ~200 KB of zstd: the expansion
// bound stops it after a few MiB of headers, long before the entry bound. With bounds set low, the
// entry bounds per layer and per image are what refuses a layer of distinct files.
TEST_F(LayerBombE2eTest, EntryCountBombIsRefused) {
  CraftedLayer bomb = testing::ManyEntriesLayer(10'000'000, Compression::kZstd);
  std::printf("[bomb] entry-count layer: %zu bytes of zstd, %llu bytes of tar\n", bomb.blob.size(),
              static_cast<unsigned long long>(bomb.tar_size));
  TestImage bimg = CraftedImage({bomb});
  std::string bref = Push("bomb/entries", bimg);
  CraftedLayer many = testing::ManyEntriesLayer(3000, Compression::kGzip, /*same_name=*/false);
  CraftedLayer more = testing::ManyEntriesLayer(2500, Compression::kZstd, /*same_name=*/false);
  std::string one_ref = Push("bomb/entries-layer", CraftedImage({many}));
  std::string two_ref = Push("bomb/entries-image", CraftedImage({many, more}));
  StartDaemon();

  Outcome o = Pull(bref, "entry-count 10M");
  ExpectRefused(o, grpc::StatusCode::INVALID_ARGUMENT,
                {"max_layer_expansion_ratio", bimg.layers[0].descriptor.digest.ToString()});
  EXPECT_LT(o.cpu_s, 2.0);
  EXPECT_LT(o.wall_s, 10.0);
  ExpectNothingLeft();

  StartDaemon("max_layer_entries = 2000\nmax_image_entries = 5000\n");
  Outcome layer = Pull(one_ref, "entries over max_layer_entries");
  ExpectRefused(layer, grpc::StatusCode::INVALID_ARGUMENT, {"max_layer_entries", "2000"});
  StartDaemon("max_layer_entries = 4000\nmax_image_entries = 5000\n");
  Outcome image = Pull(two_ref, "entries over max_image_entries");
  ExpectRefused(image, grpc::StatusCode::INVALID_ARGUMENT, {"max_image_entries", "5000"});
  ExpectNothingLeft();
}

// With the expansion bound off, the zero-filled layer runs into the free-space reserve: refused with
// RESOURCE_EXHAUSTED naming the store and the space left, and the root never drops below the reserve.
// A store already below its reserve refuses even a small image until space is freed.
TEST_F(LayerBombE2eTest, FreeSpaceReserveIsNeverCrossed) {
  CraftedLayer zstd = testing::ZeroFileLayer(3 * kGiB, Compression::kZstd);
  std::string bref = Push("bomb/fill", CraftedImage({zstd}));
  std::string small =
      Push("ok/small", CraftedImage({testing::RandomFileLayer(4 * kMiB, 1, Compression::kGzip)}));
  StartDaemon("max_layer_expansion_ratio = 0\n");

  Outcome o = Pull(bref, "zero-filled, no ratio bound");
  ExpectRefused(o, grpc::StatusCode::RESOURCE_EXHAUSTED, {StorageDir(), "min_free_space", "left"});
  EXPECT_GE(o.min_free, kReserve);
  EXPECT_LT(o.cpu_s, 2.0);
  ExpectNothingLeft();
  Outcome again = Pull(bref, "zero-filled, retried");
  ExpectRefused(again, grpc::StatusCode::RESOURCE_EXHAUSTED, {"failed earlier"});
  EXPECT_LT(again.cpu_s, 0.5);

  // Fill the root to just under the reserve: nothing more may be pulled.
  std::string filler = daemon_.root() + "/filler";
  uint64_t fill = FreeBytes(daemon_.root()) - kReserve + 4 * kMiB;
  ASSERT_TRUE(WriteFileAtomic(filler, std::string(fill, 'x')).ok());
  Outcome full = Pull(small, "small image, store full");
  ExpectRefused(full, grpc::StatusCode::RESOURCE_EXHAUSTED, {StorageDir(), "min_free_space"});
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  Outcome fits = Pull(small, "small image, space freed");
  EXPECT_TRUE(fits.status.ok()) << fits.status.error_message();
}

// A pull whose client deadline passes in the middle of a long unpack (the entry flood with its bounds
// off) stops within about a second: cricketd's CPU stops growing and its staging directory is gone.
TEST_F(LayerBombE2eTest, DeadlineStopsTheUnpack) {
  CraftedLayer flood = testing::ManyEntriesLayer(40'000'000, Compression::kZstd);
  std::string ref = Push("bomb/flood", CraftedImage({flood}));
  StartDaemon("max_layer_expansion_ratio = 0\nmax_layer_entries = 100000000\n");

  double cpu0 = CpuSeconds(daemon_.pid());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  v1::PullImageRequest req;
  req.mutable_image()->set_image(ref);
  v1::PullImageResponse resp;
  grpc::Status s = images_->PullImage(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  double at_deadline = CpuSeconds(daemon_.pid());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  double settled = CpuSeconds(daemon_.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  double later = CpuSeconds(daemon_.pid());
  std::printf(
      "[bomb] deadline: cpu until the deadline %.2fs, in the next 1.5 s %.2fs, 2 s after that %.2fs\n",
      at_deadline - cpu0, settled - at_deadline, later - settled);
  EXPECT_GT(at_deadline - cpu0, 0.5);  // it was working
  EXPECT_LT(later - settled, 0.2);     // and then it stopped
  ExpectNothingLeft();
  EXPECT_TRUE(absl::StrContains(daemon_.Stderr(), "pull failed"));
}

}  // namespace
}  // namespace cricket::e2e
