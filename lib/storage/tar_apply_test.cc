#include "lib/storage/tar_apply.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/common/unique_fd.h"
#include "lib/common/status.h"
#include "lib/storage/test_tar.h"
#include "lib/sys/disk_usage.h"

namespace cricket::storage {
namespace {

using testing::BuildTar;
using testing::Dir;
using testing::File;
using testing::Hardlink;
using testing::RawHeader;
using testing::Sha256;
using testing::SparseEntry;
using testing::Symlink;
using testing::TarEntry;

class TarApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-tarapply-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    layer_ = dir_ + "/layer";
    outside_ = dir_ + "/outside";
    ASSERT_EQ(mkdir(layer_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(outside_.c_str(), 0755), 0);
    root_.reset(open(layer_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_);
  }
  void TearDown() override {
    root_.reset();
    ASSERT_TRUE(RemoveAll(dir_).ok());
  }

  absl::StatusOr<ApplyResult> Apply(const std::string& tar, ApplyLimits limits = {}) {
    StringSource src(tar);
    return ApplyLayerTar(src, root_.get(), limits);
  }

  // Asserts the apply was refused with InvalidArgument naming `entry`, and nothing appeared outside.
  void ExpectRefused(const std::string& tar, const std::string& entry, ApplyLimits limits = {}) {
    auto r = Apply(tar, limits);
    ASSERT_FALSE(r.ok()) << "accepted a tar with hostile entry " << entry;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_NE(r.status().message().find(StrCat("\"", entry, "\"")), absl::string_view::npos) << r.status();
    EXPECT_TRUE(ListDir(outside_)->empty()) << "something was written outside the layer";
  }

  std::string dir_, layer_, outside_;
  UniqueFd root_;
};

std::string ReadAll(const std::string& p) { return ReadFile(p).value_or("<missing>"); }

TEST(CleanEntryPathTest, NormalisesAndRefuses) {
  EXPECT_EQ(*CleanEntryPath("./a//b/"), "a/b");
  EXPECT_EQ(*CleanEntryPath("./"), ".");
  EXPECT_EQ(*CleanEntryPath("a/./b"), "a/b");
  EXPECT_FALSE(CleanEntryPath("/etc/passwd").ok());
  EXPECT_FALSE(CleanEntryPath("a/../../b").ok());
  EXPECT_FALSE(CleanEntryPath("..").ok());
  EXPECT_FALSE(CleanEntryPath("").ok());
  EXPECT_FALSE(CleanEntryPath(std::string(300, 'x')).ok());
}

TEST_F(TarApplyTest, ExtractsEveryTypeWithMetadataAndDiffId) {
  TarEntry suid = File("bin/su", "#!/bin/true\n", 04755);
  TarEntry withx = File("etc/x", "attr", 0600);
  withx.xattrs = {{"user.note", "hello"}, {"trusted.overlay.redirect", "/evil"}};
  TarEntry fifo;
  fifo.path = "run/fifo";
  fifo.type = 'p';
  fifo.mode = 0600;
  TarEntry dir = Dir("etc", 0750);
  dir.mtime = 1234567890;
  std::string tar = BuildTar({dir, File("etc/hostname", "box\n"), withx, Dir("bin"), suid,
                              Symlink("bin/sh", "/bin/busybox"), Hardlink("bin/sh2", "bin/su"), fifo});
  auto r = Apply(tar);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->diff_id, Sha256(tar));
  EXPECT_EQ(r->tar_size, tar.size());
  EXPECT_EQ(r->skipped_xattrs, 1u);  // trusted.* is never taken from a layer
  EXPECT_EQ(ReadAll(layer_ + "/etc/hostname"), "box\n");
  struct stat st;
  ASSERT_EQ(lstat((layer_ + "/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_uid, geteuid());
  struct stat st2;
  ASSERT_EQ(lstat((layer_ + "/bin/sh2").c_str(), &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino);
  ASSERT_EQ(lstat((layer_ + "/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234567890);
  char buf[64] = {};
  ASSERT_GT(readlink((layer_ + "/bin/sh").c_str(), buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "/bin/busybox");
  ASSERT_EQ(lstat((layer_ + "/run/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(lstat((layer_ + "/run").c_str(), &st), 0);  // implicit parent
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  char val[16] = {};
  EXPECT_EQ(lgetxattr((layer_ + "/etc/x").c_str(), "user.note", val, sizeof(val)), 5);
  EXPECT_STREQ(val, "hello");
  EXPECT_LT(lgetxattr((layer_ + "/etc/x").c_str(), "trusted.overlay.redirect", val, sizeof(val)), 0);
  // The manifest describes the tree, and the tree verifies against it.
  EXPECT_EQ(r->manifest.at("bin/su").digest, Sha256("#!/bin/true\n"));
  EXPECT_EQ(r->manifest.at("bin/sh2").digest, Sha256("#!/bin/true\n"));
  EXPECT_EQ(r->manifest.at("bin/sh").target, "/bin/busybox");
  EXPECT_EQ(r->manifest.at("run").mode, 0755u);
  auto problems = VerifyTree(root_.get(), r->manifest);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_TRUE(problems->empty()) << (*problems)[0];
}

TEST_F(TarApplyTest, LaterEntriesReplaceEarlierOnes) {
  std::string tar = BuildTar({File("a", "one"), File("a", "two"), Dir("d"), File("d/x", "x"),
                              File("d", "file"), Symlink("s", "a"), Dir("s")});
  auto r = Apply(tar);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadAll(layer_ + "/a"), "two");
  EXPECT_EQ(ReadAll(layer_ + "/d"), "file");
  struct stat st;
  ASSERT_EQ(lstat((layer_ + "/s").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_FALSE(r->manifest.contains("d/x"));
  EXPECT_TRUE(VerifyTree(root_.get(), r->manifest)->empty());
}

TEST_F(TarApplyTest, TrailingPaddingIsPartOfTheDiffId) {
  std::string tar = BuildTar({File("a", "x")}) + std::string(4096, '\0');
  auto r = Apply(tar);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->diff_id, Sha256(tar));
  EXPECT_EQ(r->tar_size, tar.size());
}

// Go's archive/tar writes non-ASCII names as UTF-8 pax records; they must survive a C locale.
TEST_F(TarApplyTest, NonAsciiPaxNamesKeepTheirBytes) {
  std::string name = "caf\xc3\xa9";
  std::string record = "14 path=" + name + "\n";
  auto block = [](std::string data) {
    data.resize((data.size() + 511) / 512 * 512, '\0');
    return data;
  };
  std::string tar = RawHeader("PaxHeaders/x", 'x', record.size()) + block(record) +
                    RawHeader("placeholder", '0', 3) + block("abc") + std::string(1024, '\0');
  auto r = Apply(tar);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadAll(layer_ + "/" + name), "abc");
  EXPECT_TRUE(r->manifest.contains(name));
}

TEST_F(TarApplyTest, RefusesAbsolutePaths) { ExpectRefused(BuildTar({File("/etc/evil", "x")}), "/etc/evil"); }

TEST_F(TarApplyTest, RefusesDotDot) {
  ExpectRefused(BuildTar({File("a/../../outside/evil", "x")}), "a/../../outside/evil");
}

TEST_F(TarApplyTest, RefusesPathsThroughAnAbsoluteSymlinkLeavingTheLayer) {
  ExpectRefused(BuildTar({Symlink("evil", outside_), File("evil/passwd", "x")}), "evil/passwd");
}

TEST_F(TarApplyTest, RefusesPathsThroughARelativeSymlinkLeavingTheLayer) {
  ExpectRefused(BuildTar({Dir("a"), Symlink("a/up", "../../outside"), File("a/up/evil", "x")}), "a/up/evil");
}

TEST_F(TarApplyTest, RefusesPathsThroughAnySymlink) {
  ExpectRefused(BuildTar({Dir("real"), Symlink("lnk", "real"), File("lnk/f", "x")}), "lnk/f");
}

TEST_F(TarApplyTest, RefusesHardlinksToOutside) {
  ExpectRefused(BuildTar({Hardlink("pw", "../outside/f")}), "pw");
  ExpectRefused(BuildTar({Hardlink("pw", "/etc/passwd")}), "pw");
  ExpectRefused(BuildTar({Hardlink("pw", "etc/passwd")}), "pw");  // not an earlier entry
  ExpectRefused(BuildTar({Symlink("s", outside_), Hardlink("pw", "s/f")}), "pw");
}

TEST_F(TarApplyTest, RefusesWhiteoutsThatEscape) {
  ExpectRefused(BuildTar({File("a/.wh...", "")}), "a/.wh...");
  ExpectRefused(BuildTar({File("a/.wh.", "")}), "a/.wh.");
  ExpectRefused(BuildTar({File("../.wh.x", "")}), "../.wh.x");
}

TEST_F(TarApplyTest, RefusesDeviceNodesWhenNotAllowed) {
  TarEntry dev;
  dev.path = "dev/sda";
  dev.type = 'b';
  dev.major = 8;
  ApplyLimits limits;
  limits.allow_device_nodes = false;
  ExpectRefused(BuildTar({dev}), "dev/sda", limits);
}

TEST_F(TarApplyTest, RefusesAbsurdSizes) {
  std::string tar = RawHeader("huge", '0', uint64_t{1} << 50) + std::string(1024, '\0');
  auto r = Apply(tar);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"huge\""), absl::string_view::npos) << r.status();
  ApplyLimits limits;
  limits.max_file_size = 10;
  ExpectRefused(BuildTar({File("eleven", "01234567890")}), "eleven", limits);
}

// Each bound is InvalidArgument naming its key and value; the per-layer ones mark the layer refused.
TEST_F(TarApplyTest, LayerBoundsAreNamed) {
  auto expect = [](const absl::Status& s, std::string_view key, bool layer) {
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(std::string(s.message()).find(key), std::string::npos) << s;
    EXPECT_EQ(IsLayerRefused(s), layer) << s;
  };
  ApplyLimits limits;
  limits.max_layer_size = 4096;
  expect(Apply(BuildTar({File("a", std::string(8192, 'a'))}), limits).status(), "max_layer_size (4096)",
         true);
  limits = {};
  limits.max_layer_entries = 2;
  expect(Apply(BuildTar({File("a", ""), File("b", ""), File("c", "")}), limits).status(),
         "max_layer_entries (2)", true);
  limits.max_layer_entries = 3;
  EXPECT_TRUE(Apply(BuildTar({File("a", ""), File("b", ""), File("c", "")}), limits).ok());
}

TEST_F(TarApplyTest, TruncatedStreamIsDataLoss) {
  std::string tar = BuildTar({File("a", std::string(5000, 'a')), File("b", "b")});
  auto r = Apply(tar.substr(0, 2048));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_FALSE(Apply(tar.substr(0, 100)).ok());
  EXPECT_FALSE(Apply("").ok());
}

TEST_F(TarApplyTest, EmptyTarIsAnEmptyLayer) {
  std::string tar(1024, '\0');
  auto r = Apply(tar);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->diff_id, Sha256(tar));
  EXPECT_TRUE(ListDir(layer_)->empty());
}

TEST_F(TarApplyTest, SourceErrorsPassThrough) {
  class Failing : public ByteSource {
   public:
    absl::StatusOr<size_t> Read(char* buf, size_t len) override {
      if (sent_) return absl::UnavailableError("connection reset by registry");
      std::string tar = BuildTar({File("a", std::string(100000, 'a'))});
      size_t n = std::min(len, size_t{4096});
      std::memcpy(buf, tar.data(), n);
      sent_ = true;
      return n;
    }
    bool sent_ = false;
  } src;
  auto r = ApplyLayerTar(src, root_.get(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
}

constexpr uint64_t kGiB = uint64_t{1} << 30;

// The sparse digest of a file whose content is given as data and zero runs.
std::string SparseDigestOf(const std::vector<std::pair<uint64_t, std::string>>& segments, uint64_t size) {
  SparseContentHasher h;
  uint64_t pos = 0;
  for (const auto& [offset, data] : segments) {
    h.Zeros(offset - pos);
    h.Data(data.data(), data.size());
    pos = offset + data.size();
  }
  h.Zeros(size - pos);
  return h.Finish();
}

// A file of 1 TiB with three bytes runs of data: written with holes (almost no blocks), hashed per
// zero run (this test would take many minutes if the holes were hashed byte by byte), and verified
// by VerifyTree through SEEK_DATA/SEEK_HOLE.
TEST_F(TarApplyTest, SparseEntriesKeepTheirHolesAndHashPerRun) {
  uint64_t size = 1024 * kGiB;
  std::vector<std::pair<uint64_t, std::string>> segments = {
      {0, "head"}, {512 * kGiB + 3, std::string(100000, 'm')}, {size - 4, "tail"}};
  std::string tar = SparseEntry("big", size, segments) + std::string(1024, '\0');
  ApplyLimits limits;
  limits.max_file_size = size;
  limits.max_layer_sparse_size = size;
  auto r = Apply(tar, limits);
  ASSERT_TRUE(r.ok()) << r.status();
  struct stat st;
  ASSERT_EQ(stat((layer_ + "/big").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), size);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
  EXPECT_EQ(r->sparse_size, size);
  std::string digest = r->manifest.at("big").digest;
  EXPECT_TRUE(digest.starts_with("sparse-sha256:")) << digest;
  EXPECT_EQ(digest, SparseDigestOf(segments, size));
  UniqueFd fd(open((layer_ + "/big").c_str(), O_RDONLY | O_CLOEXEC));
  char buf[4];
  ASSERT_EQ(pread(fd.get(), buf, 4, static_cast<off_t>(size - 4)), 4);
  EXPECT_EQ(std::string(buf, 4), "tail");
  auto problems = VerifyTree(root_.get(), r->manifest);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_TRUE(problems->empty()) << Join(*problems, "\n");
  // Damage inside a hole is found.
  ASSERT_EQ(pwrite(fd.get(), "x", 1, static_cast<off_t>(kGiB)), -1);  // opened read-only
  UniqueFd wfd(open((layer_ + "/big").c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_EQ(pwrite(wfd.get(), "x", 1, static_cast<off_t>(kGiB)), 1);
  problems = VerifyTree(root_.get(), r->manifest);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_EQ(problems->size(), 1u);
}

// The digest depends on the content only: zeros written as data hash like a hole, any change of data
// or of a run's length changes it.
TEST(SparseContentHasherTest, DependsOnContentOnly) {
  std::string block(SparseContentHasher::kBlock, '\0');
  SparseContentHasher a;
  a.Zeros(3 * block.size() + 5);
  a.Data("x", 1);
  SparseContentHasher b;
  b.Data(block.data(), block.size());
  b.Zeros(block.size());
  b.Data(block.data(), 7);
  b.Zeros(block.size() - 2);
  b.Data("x", 1);
  std::string da = a.Finish();
  EXPECT_EQ(da, b.Finish());
  SparseContentHasher c;
  c.Zeros(3 * block.size() + 4);
  c.Data("x", 1);
  EXPECT_NE(da, c.Finish());
  SparseContentHasher d;
  d.Zeros(3 * block.size() + 5);
  d.Data("y", 1);
  EXPECT_NE(da, d.Finish());
  SparseContentHasher empty;
  EXPECT_TRUE(empty.Finish().starts_with("sparse-sha256:"));
}

TEST_F(TarApplyTest, PlainFilesKeepPlainSha256) {
  auto r = Apply(BuildTar({File("a", std::string(300000, '\0')), File("b", "b")}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifest.at("a").digest, Sha256(std::string(300000, '\0')));
  EXPECT_EQ(r->sparse_size, 0u);
}

TEST_F(TarApplyTest, DeclaredSparseSizeIsBounded) {
  std::string tar;
  for (int i = 0; i < 3; ++i) tar += SparseEntry(StrCat("s", i), 64 * kGiB, {{64 * kGiB - 1, "x"}});
  tar.append(1024, '\0');
  auto r = Apply(tar);  // defaults: 64 GiB per layer
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("max_layer_sparse_size (68719476736)"), std::string::npos)
      << r.status();
  EXPECT_TRUE(IsLayerRefused(r.status()));
}

// The max_image_* bounds count over every apply sharing one tally; crossing them is not a property
// of the layer alone.
TEST_F(TarApplyTest, ImageBoundsSpanTheLayersOfOnePull) {
  ApplyLimits limits;
  limits.max_image_entries = 5;
  ImageTally tally;
  ApplyControl control;
  control.image = &tally;
  std::string first_tar = BuildTar({File("a", ""), File("b", ""), File("c", "")});
  StringSource first(first_tar);
  auto one = ApplyLayerTar(first, root_.get(), limits, control);
  ASSERT_TRUE(one.ok()) << one.status();
  UniqueFd other(open(outside_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::string second_tar = BuildTar({File("d", ""), File("e", ""), File("f", "")});
  StringSource second(second_tar);
  auto r = ApplyLayerTar(second, other.get(), limits, control);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("max_image_entries (5)"), std::string::npos) << r.status();
  EXPECT_FALSE(IsLayerRefused(r.status()));

  limits = {};
  limits.max_image_size = 20000;
  ImageTally bytes;
  control.image = &bytes;
  std::string big_tar = BuildTar({File("g", std::string(30000, 'g'))});
  StringSource big(big_tar);
  r = ApplyLayerTar(big, other.get(), limits, control);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("max_image_size (20000)"), std::string::npos)
      << r.status();
}

// An endless stream of entries stops as soon as the caller cancels or its deadline passes.
TEST_F(TarApplyTest, CancellationAndDeadlineStopTheApply) {
  class Endless : public ByteSource {
   public:
    absl::StatusOr<size_t> Read(char* buf, size_t len) override {
      static const std::string header = RawHeader("f", '0', 0);
      size_t n = len - len % 512;
      for (size_t i = 0; i < n; i += 512) std::memcpy(buf + i, header.data(), 512);
      return n;
    }
  };
  std::atomic<bool> cancelled{false};
  ApplyControl control;
  control.cancelled = &cancelled;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancelled.store(true);
  });
  Endless endless;
  ApplyLimits limits;
  limits.max_layer_entries = UINT64_MAX;
  limits.max_layer_size = UINT64_MAX;
  auto r = ApplyLayerTar(endless, root_.get(), limits, control);
  canceller.join();
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();

  control.cancelled = nullptr;
  control.deadline = MonotonicNow() + 100'000'000;
  r = ApplyLayerTar(endless, root_.get(), limits, control);
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
}

// Every data block is admitted by the space guard first: a file that would cross the reserve is
// refused before it is written, with the bytes the layer needs attached.
TEST_F(TarApplyTest, FreeSpaceReserveAdmitsEveryWrite) {
  // A filesystem of 100 MiB with 10 MiB free before the layer, less what the layer has written.
  SpaceGuard guard("/store", [&]() -> absl::StatusOr<SpaceGuard::FsSpace> {
    ASSIGN_OR_RETURN(sys::DiskUsage used, sys::DirectoryUsage(layer_));
    return SpaceGuard::FsSpace{100 << 20, (uint64_t{10} << 20) - std::min<uint64_t>(used.bytes, 10 << 20)};
  });
  ApplyControl control;
  control.space = &guard;
  control.reserve.bytes = 8 << 20;
  std::string small_tar = BuildTar({File("a", std::string(1 << 20, 'a'))});
  StringSource small(small_tar);
  ASSERT_TRUE(ApplyLayerTar(small, root_.get(), {}, control).ok());
  std::string big_tar = BuildTar({File("b", std::string(3 << 20, 'b'))});
  StringSource big(big_tar);
  auto r = ApplyLayerTar(big, root_.get(), {}, control);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("/store"), std::string::npos) << r.status();
  std::optional<uint64_t> needs = LayerNeedsBytes(r.status());
  ASSERT_TRUE(needs.has_value());
  EXPECT_GT(*needs, uint64_t{1} << 20);
  EXPECT_FALSE(IsLayerRefused(r.status()));
}

// Needs root: whiteout device nodes, trusted.* xattrs, foreign owners, device nodes.
TEST_F(TarApplyTest, WhiteoutsOpaqueDirsOwnersAndDevices) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (mknod, trusted xattrs, chown)";
  TarEntry wh = File("etc/.wh.motd", "");
  wh.uid = 1000;
  wh.gid = 1001;
  TarEntry owned = File("home/u/f", "mine", 02750);
  owned.uid = 1000;
  owned.gid = 1000;
  TarEntry dev;
  dev.path = "dev/null";
  dev.type = 'c';
  dev.major = 1;
  dev.minor = 3;
  dev.mode = 0666;
  // File capabilities (VFS_CAP_REVISION_2, effective, permitted = CAP_NET_BIND_SERVICE) must survive
  // the chown that follows the write.
  std::string cap("\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  TarEntry capped = File("bin/ping", "ping", 0755);
  capped.uid = 0;
  capped.gid = 0;
  capped.xattrs = {{"security.capability", cap}};
  std::string tar =
      BuildTar({Dir("etc"), wh, Dir("opt"), File("opt/.wh..wh..opq", ""), File("opt/new", "n"),
                File(".wh..wh.plnk/123", ""), File("var/.wh..wh.aufs", ""), owned, dev, capped});
  auto r = Apply(tar);
  ASSERT_TRUE(r.ok()) << r.status();
  struct stat st;
  ASSERT_EQ(lstat((layer_ + "/etc/motd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_FALSE(PathExists(layer_ + "/etc/.wh.motd"));
  char val[4] = {};
  EXPECT_EQ(getxattr((layer_ + "/opt").c_str(), "trusted.overlay.opaque", val, sizeof(val)), 1);
  EXPECT_EQ(val[0], 'y');
  EXPECT_FALSE(PathExists(layer_ + "/opt/.wh..wh..opq"));
  EXPECT_FALSE(PathExists(layer_ + "/var/.wh..wh.aufs"));
  ASSERT_EQ(lstat((layer_ + "/home/u/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02750u);
  EXPECT_EQ(st.st_uid, 1000u);
  ASSERT_EQ(lstat((layer_ + "/dev/null").c_str(), &st), 0);
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  char capbuf[64];
  ssize_t caplen = getxattr((layer_ + "/bin/ping").c_str(), "security.capability", capbuf, sizeof(capbuf));
  ASSERT_EQ(caplen, 20);
  EXPECT_EQ(std::string(capbuf, 20), cap);
  EXPECT_EQ(r->manifest.at("etc/motd").type, 'w');
  EXPECT_TRUE(r->manifest.at("opt").xattrs.contains("trusted.overlay.opaque"));
  EXPECT_TRUE(VerifyTree(root_.get(), r->manifest)->empty());
}

}  // namespace
}  // namespace cricket::storage
