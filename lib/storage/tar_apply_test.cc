#include "lib/storage/tar_apply.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"
#include "lib/storage/test_tar.h"

namespace cricket::storage {
namespace {

using testing::BuildTar;
using testing::Dir;
using testing::File;
using testing::Hardlink;
using testing::RawHeader;
using testing::Sha256;
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
  limits = {};
  limits.max_stream_size = 4096;
  EXPECT_TRUE(
      absl::IsResourceExhausted(Apply(BuildTar({File("a", std::string(8192, 'a'))}), limits).status()));
  limits = {};
  limits.max_entries = 2;
  EXPECT_TRUE(absl::IsResourceExhausted(
      Apply(BuildTar({File("a", ""), File("b", ""), File("c", "")}), limits).status()));
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
