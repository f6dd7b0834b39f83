// Privileged: real overlay mounts of container root filesystems.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/storage/overlay_mount.h"
#include "lib/storage/store_test_util.h"

namespace cricket::storage {
namespace {

using testing::Dir;
using testing::File;
using testing::Hardlink;
using testing::Symlink;
using testing::TarEntry;

bool OverlaySupported() {
  auto fs = ReadFile("/proc/filesystems");
  return fs.ok() && fs->find("\toverlay\n") != std::string::npos;
}

class RootfsTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (overlay mounts, whiteout devices)";
    if (!OverlaySupported()) GTEST_SKIP() << "kernel without overlayfs";
    StoreTest::SetUp();
  }
  void TearDown() override {
    if (store_) {
      auto list = store_->ListContainerRootfs();
      if (list.ok()) {
        for (const auto& c : *list) EXPECT_TRUE(store_->RemoveContainerRootfs(c.id).ok());
      }
    }
    if (!dir_.empty()) StoreTest::TearDown();
  }
};

std::string Content(const std::string& path) { return ReadFile(path).value_or("<missing>"); }

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 ? st.st_mode : 0;
}

TEST_F(RootfsTest, MultiLayerImageWithWhiteoutsMergesFileByFile) {
  TarEntry suid = File("usr/bin/tool", "tool-v1", 04755);
  std::vector<TarEntry> l1 = {Dir("etc"), File("etc/a", "a1"), File("etc/b", "b1"),  File("etc/c", "c1"),
                              Dir("opt"), File("opt/x", "x1"), File("opt/y", "y1"),  Dir("usr/bin"),
                              suid,       Dir("var"),          File("var/keep", "k")};
  std::vector<TarEntry> l2 = {
      File("etc/.wh.b", ""),        File("etc/c", "c2"), Dir("opt"),
      File("opt/.wh..wh..opq", ""), File("opt/z", "z2"), Hardlink("usr/bin/tool2", "usr/bin/tool")};
  std::vector<TarEntry> l3 = {File(".wh.var", ""), Dir("new"), Symlink("new/link", "../etc/a"),
                              File("new/f", "f3")};
  // Layer 2's hardlink target must be in layer 2 itself.
  l2.insert(l2.begin(), File("usr/bin/tool", "tool-v2", 04755));
  mode_t old_umask = umask(077);  // a daemon's umask must not leak into the image
  ImageInfo img = AddImage({l1, l2, l3}, {"r/merged:1"});
  ASSERT_EQ(img.layers.size(), 3u);
  auto c = store_->CreateContainerRootfs("merge", img.id);
  umask(old_umask);
  ASSERT_TRUE(c.ok()) << c.status();
  auto merged = store_->MountContainerRootfs("merge");
  ASSERT_TRUE(merged.ok()) << merged.status();
  const std::string& m = *merged;
  EXPECT_EQ(ModeOf(m) & 07777, 0755u);
  EXPECT_EQ(Content(m + "/etc/a"), "a1");
  EXPECT_FALSE(PathExists(m + "/etc/b"));
  EXPECT_EQ(Content(m + "/etc/c"), "c2");
  EXPECT_FALSE(PathExists(m + "/opt/x"));
  EXPECT_FALSE(PathExists(m + "/opt/y"));
  EXPECT_EQ(Content(m + "/opt/z"), "z2");
  EXPECT_EQ(*ListDir(m + "/opt"), std::vector<std::string>{"z"});
  EXPECT_EQ(Content(m + "/usr/bin/tool"), "tool-v2");
  EXPECT_EQ(Content(m + "/usr/bin/tool2"), "tool-v2");
  EXPECT_EQ(ModeOf(m + "/usr/bin/tool") & 07777, 04755u);
  EXPECT_FALSE(PathExists(m + "/var"));
  EXPECT_EQ(Content(m + "/new/link"), "a1");
  EXPECT_EQ(Content(m + "/new/f"), "f3");
  EXPECT_EQ(*ListDir(m), (std::vector<std::string>{"etc", "new", "opt", "usr"}));
  EXPECT_EQ(*ListDir(m + "/etc"), (std::vector<std::string>{"a", "c"}));
  // Writes go to the container's upper layer; deleting a lower file leaves a whiteout there.
  ASSERT_TRUE(WriteFileAtomic(m + "/etc/written", "w").ok());
  ASSERT_EQ(unlink((m + "/etc/a").c_str()), 0);
  EXPECT_EQ(Content(c->upper + "/etc/written"), "w");
  struct stat st;
  ASSERT_EQ(lstat((c->upper + "/etc/a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
  EXPECT_EQ(Content(store_->GetLayer(img.layers[0])->diff_dir + "/etc/a"), "a1");  // layers are untouched
  EXPECT_GE(store_->ContainerUsage("merge")->inodes, 3u);
  // Mount is idempotent, unmount too.
  EXPECT_EQ(*store_->MountContainerRootfs("merge"), m);
  EXPECT_TRUE(*store_->IsContainerRootfsMounted("merge"));
  ASSERT_TRUE(store_->UnmountContainerRootfs("merge").ok());
  ASSERT_TRUE(store_->UnmountContainerRootfs("merge").ok());
  EXPECT_FALSE(*store_->IsContainerRootfsMounted("merge"));
  EXPECT_TRUE(ListDir(m)->empty());
  ASSERT_TRUE(store_->RemoveContainerRootfs("merge").ok());
  EXPECT_FALSE(PathExists(c->dir));
}

TEST_F(RootfsTest, ReadOnlyRootfsRefusesWrites) {
  ImageInfo img = AddImage({{File("f", "x")}}, {"r/ro:1"});
  auto c = store_->CreateContainerRootfs("ro", img.id, {.readonly = true, .idmap = {}});
  ASSERT_TRUE(c.ok()) << c.status();
  auto merged = store_->MountContainerRootfs("ro");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(Content(*merged + "/f"), "x");
  int fd = open((*merged + "/new").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) close(fd);
  EXPECT_EQ(store_->ContainerUsage("ro")->bytes, 0u);
}

// A rootfs for a container in a user namespace: the layers appear owned by the mapped ids, writes land
// in the upper directory with the writer's ids, and nothing on the layers changes.
TEST_F(RootfsTest, IdmappedLayersShowMappedOwnersAndStayUntouched) {
  if (absl::Status probe = ProbeIdmappedOverlay(dir_); !probe.ok()) GTEST_SKIP() << probe;
  TarEntry owned = File("home/u/file", "u");
  owned.uid = 7;
  owned.gid = 8;
  ImageInfo img = AddImage({{Dir("etc"), File("etc/conf", "c"), Dir("home/u"), owned}, {File("top", "t")}},
                           {"r/idmap:1"});
  RootfsOptions options;
  options.idmap.uid_map = {{0, 300000, 65536}};
  options.idmap.gid_map = {{0, 400000, 65536}};
  auto c = store_->CreateContainerRootfs("idm", img.id, options);
  ASSERT_TRUE(c.ok()) << c.status();
  auto merged = store_->MountContainerRootfs("idm", options.idmap);
  ASSERT_TRUE(merged.ok()) << merged.status();
  struct stat st;
  ASSERT_EQ(stat(merged->c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 300000u) << "the merged root belongs to the container's root";
  EXPECT_EQ(st.st_gid, 400000u);
  ASSERT_EQ(stat((*merged + "/etc/conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 300000u);
  EXPECT_EQ(st.st_gid, 400000u);
  ASSERT_EQ(stat((*merged + "/home/u/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 300007u);
  EXPECT_EQ(st.st_gid, 400008u);
  // Only the overlay is mounted: the idmapped layer mounts are detached.
  auto info = ReadFile("/proc/self/mountinfo");
  ASSERT_TRUE(info.ok());
  size_t n = 0;
  for (std::string_view line : Split(*info, '\n')) {
    auto fields = Split(line, ' ');
    if (fields.size() > 4 && fields[4].starts_with(dir_)) ++n;
  }
  EXPECT_EQ(n, 1u) << *info;
  // A copy-up keeps the mapped owner in the upper directory; the layer on disk keeps its own.
  ASSERT_TRUE(WriteFileAtomic(*merged + "/etc/conf", "changed").ok());
  std::string layer0 = store_->GetLayer(img.layers[0])->diff_dir;
  ASSERT_EQ(stat((layer0 + "/home/u/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(Content(layer0 + "/etc/conf"), "c");
  ASSERT_EQ(stat((layer0 + "/etc/conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(stat(c->upper.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 300000u);
  ASSERT_TRUE(store_->RemoveContainerRootfs("idm").ok());
  info = ReadFile("/proc/self/mountinfo");
  EXPECT_EQ(info->find(dir_), std::string::npos);
}

TEST_F(RootfsTest, IdmapThatLeavesTheImageRootUnmappedIsRefused) {
  ImageInfo img = AddImage({{File("f", "x")}}, {"r/unmapped:1"});
  RootfsOptions options;
  options.idmap.uid_map = {{1, 300000, 65536}};
  options.idmap.gid_map = {{1, 300000, 65536}};
  auto c = store_->CreateContainerRootfs("unmapped", img.id, options);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << c.status();
  EXPECT_FALSE(PathExists(dir_ + "/overlay-containers/unmapped"));
}

TEST_F(RootfsTest, ImageWithoutLayersMounts) {
  NewImage img;
  img.config = testing::ConfigFor({});
  img.names = {"r/scratch:1"};
  auto info = store_->PutImage(img);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_TRUE(store_->CreateContainerRootfs("scratch", info->id).ok());
  auto merged = store_->MountContainerRootfs("scratch");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(ListDir(*merged)->empty());
}

TEST_F(RootfsTest, HundredTwentyLayersMount) {
  std::vector<std::vector<TarEntry>> layers;
  for (int i = 0; i < 120; ++i) {
    layers.push_back({File(StrCat("layers/", i), StrCat(i)), File("top", StrCat("from ", i))});
  }
  ImageInfo img = AddImage(layers, {"r/tall:1"});
  ASSERT_EQ(img.layers.size(), 120u);
  ASSERT_TRUE(store_->CreateContainerRootfs("tall", img.id).ok());
  auto merged = store_->MountContainerRootfs("tall");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(ListDir(*merged + "/layers")->size(), 120u);
  EXPECT_EQ(Content(*merged + "/layers/0"), "0");
  EXPECT_EQ(Content(*merged + "/layers/119"), "119");
  EXPECT_EQ(Content(*merged + "/top"), "from 119");
}

TEST_F(RootfsTest, ImageVolumeIsReadOnlyAndKeepsItsImage) {
  ImageInfo base = AddImage({{File("f", "x")}}, {"r/base:1"});
  ImageInfo vol =
      AddImage({{Dir("data"), File("data/a", "a1"), File("data/gone", "g"), File("tool", "t", 04755),
                 Dir("etc"), Symlink("abs", "/data/a"), Symlink("up", "../../../../etc")},
                {File("data/.wh.gone", "")}},
               {"r/vol:1"});
  EXPECT_TRUE(absl::IsNotFound(store_->AddImageVolume("nobody", vol.id).status()));
  ASSERT_TRUE(store_->CreateContainerRootfs("c1", base.id).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->AddImageVolume("c1", "sha256:" + std::string(64, 'f')).status()));
  auto v = store_->AddImageVolume("c1", vol.id);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->index, 0);
  EXPECT_EQ(v->image_id, vol.id);
  EXPECT_EQ(Content(v->merged + "/data/a"), "a1");
  EXPECT_FALSE(PathExists(v->merged + "/data/gone"));
  EXPECT_EQ(ModeOf(v->merged + "/tool") & 07777, 04755u);
  int fd = open((v->merged + "/data/new").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) close(fd);
  struct statvfs vfs;
  ASSERT_EQ(statvfs(v->merged.c_str(), &vfs), 0);
  EXPECT_TRUE(vfs.f_flag & ST_RDONLY);
  EXPECT_TRUE(vfs.f_flag & ST_NOSUID);
  EXPECT_TRUE(vfs.f_flag & ST_NODEV);
  EXPECT_FALSE(vfs.f_flag & ST_NOEXEC);
  // Sub paths: resolved inside the image, never above it.
  EXPECT_EQ(*ResolveImageVolumePath(*v, ""), v->merged);
  EXPECT_EQ(*ResolveImageVolumePath(*v, "data/a"), v->merged + "/data/a");
  EXPECT_EQ(*ResolveImageVolumePath(*v, "abs"), v->merged + "/data/a");
  EXPECT_EQ(*ResolveImageVolumePath(*v, "up"), v->merged + "/etc");
  for (const char* bad : {"../x", "data/../../x", "/data", "data/gone", "nope"}) {
    auto r = ResolveImageVolumePath(*v, bad);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad << ": " << r.status();
    EXPECT_NE(std::string(r.status().message()).find(StrCat("\"", bad, "\"")), std::string::npos)
        << r.status();
  }
  // The same image twice, and the rootfs's image as a volume.
  auto v2 = store_->AddImageVolume("c1", base.id);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->index, 1);
  EXPECT_EQ(Content(v2->merged + "/f"), "x");
  auto list = store_->ListImageVolumes("c1");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].merged, v->merged);
  // In use: RemoveImage refuses, naming the container.
  auto removed = store_->RemoveImage(vol.id);
  ASSERT_TRUE(absl::IsFailedPrecondition(removed.status())) << removed.status();
  EXPECT_NE(std::string(removed.status().message()).find("c1"), std::string::npos) << removed.status();
  // A daemon restart keeps the mount and the record.
  Reopen();
  EXPECT_TRUE(IsMountPoint(v->merged));
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->RemoveImage(vol.id).status()));
  ASSERT_TRUE(store_->RemoveContainerRootfs("c1").ok());
  EXPECT_FALSE(IsMountPoint(v->merged));
  EXPECT_FALSE(PathExists(v->merged));
  EXPECT_TRUE(store_->ListImageVolumes("c1")->empty());
  auto gone = store_->RemoveImage(vol.id);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_TRUE(gone->image_deleted);
}

// A crash between mounting an image volume and recording its container: Open unmounts and removes it.
TEST_F(RootfsTest, UnrecordedImageVolumeIsRemovedOnOpen) {
  std::string merged = options_.root + "/overlay-containers/crashed/image-volumes/0/merged";
  ASSERT_TRUE(MkdirAll(merged).ok());
  ASSERT_EQ(mount("tmpfs", merged.c_str(), "tmpfs", MS_RDONLY, nullptr), 0) << strerror(errno);
  Reopen();
  EXPECT_FALSE(IsMountPoint(merged));
  EXPECT_FALSE(PathExists(options_.root + "/overlay-containers/crashed"));
}

// A daemon restart: the store is closed and reopened while the rootfs stays mounted.
TEST_F(RootfsTest, MountSurvivesReopen) {
  ImageInfo img = AddImage({{File("f", "x")}}, {"r/restart:1"});
  ASSERT_TRUE(store_->CreateContainerRootfs("keep", img.id).ok());
  auto merged = store_->MountContainerRootfs("keep");
  ASSERT_TRUE(merged.ok()) << merged.status();
  Reopen();
  EXPECT_TRUE(*store_->IsContainerRootfsMounted("keep"));
  EXPECT_EQ(Content(*merged + "/f"), "x");
  EXPECT_EQ(*store_->MountContainerRootfs("keep"), *merged);
  ASSERT_TRUE(store_->UnmountContainerRootfs("keep").ok());
  EXPECT_FALSE(IsMountPoint(*merged));  // one mount, not a stack
}

}  // namespace
}  // namespace cricket::storage
