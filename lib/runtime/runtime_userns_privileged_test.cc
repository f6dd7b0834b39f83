// Containers in user namespaces: a pod's namespace joined by path (as cricketd runs user-namespaced
// pods), idmapped and recursively read-only bind mounts, and what the container's root may not do to
// the host's files. Needs root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/runtime/testing/runtime_fixture.h"
#include "lib/sys/mount_tree.h"
#include "lib/sys/namespace_pin.h"

namespace cricket::runtime {
namespace {

using testing::RuntimeFixture;

constexpr uint32_t kHostBase = 300000;

class UserNamespaceTest : public RuntimeFixture {
 protected:
  void SetUp() override {
    RuntimeFixture::SetUp();
    if (IsSkipped()) return;
    if (absl::Status s = sys::ProbeIdmappedMount(bundle().dir()); !s.ok()) GTEST_SKIP() << s;
  }
  void TearDown() override {
    for (const auto& p : pins_) EXPECT_TRUE(sys::UnpinNamespace(p.path).ok());
    if (pins_dir_) ::umount2(pins_dir_->path().c_str(), MNT_DETACH);
    pins_dir_.reset();
    for (const std::string& m : host_mounts_) ::umount2(m.c_str(), MNT_DETACH);
    RuntimeFixture::TearDown();
  }

  // Pins a user namespace (container ids 0-65535 → host kHostBase...) with net, ipc and uts namespaces
  // it owns, as cricketd does for a pod, and points the spec at them.
  void JoinPodNamespaces() {
    auto dir = testing::TempDir::Create("cricket-userns-pins");
    ASSERT_TRUE(dir.ok());
    pins_dir_.emplace(std::move(*dir));
    sys::PinOptions opts;
    opts.uid_map = {{0, kHostBase, 65536}};
    opts.gid_map = {{0, kHostBase, 65536}};
    auto pins = sys::PinNamespaces(pins_dir_->path(), "pod",
                                   {sys::NamespaceType::kUser, sys::NamespaceType::kNet,
                                    sys::NamespaceType::kIpc, sys::NamespaceType::kUts},
                                   opts);
    ASSERT_TRUE(pins.ok()) << pins.status();
    pins_ = *pins;
    auto& l = *bundle().spec().linux;
    std::erase_if(l.namespaces, [](const oci::Namespace& n) {
      return n.type == oci::NamespaceType::kNetwork || n.type == oci::NamespaceType::kIpc ||
             n.type == oci::NamespaceType::kUts;
    });
    const oci::NamespaceType types[] = {oci::NamespaceType::kUser, oci::NamespaceType::kNetwork,
                                        oci::NamespaceType::kIpc, oci::NamespaceType::kUts};
    for (size_t i = 0; i < pins_.size(); ++i) l.namespaces.push_back({types[i], pins_[i].path});
  }

  // A directory of the bundle (whose own mode 0700 keeps the container's root from traversing it)
  // holding a file that host root owns, and its mount point /<name> in the rootfs (which host root
  // owns here: the container's root could not create it).
  std::string HostData(const std::string& name, mode_t mode) {
    std::string dir = bundle().dir() + "/" + name;
    EXPECT_EQ(mkdir(dir.c_str(), mode), 0);
    EXPECT_EQ(chmod(dir.c_str(), mode), 0);
    EXPECT_EQ(mkdir((bundle().rootfs() + "/" + name).c_str(), 0755), 0);
    EXPECT_TRUE(WriteFileAtomic(dir + "/owned-by-host-root", "original\n", 0644).ok());
    return dir;
  }

  static uid_t OwnerOf(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
  }

  std::optional<testing::TempDir> pins_dir_;
  std::vector<sys::PinnedNamespace> pins_;
  std::vector<std::string> host_mounts_;
};

// The container joins the pinned user namespace: its root is uid 0 inside and kHostBase outside, the
// rootfs is reached although the bundle is not traversable by that uid, and an idmapped volume shows
// the host's root-owned files as root's while a plain one leaves them to "nobody", unwritable.
TEST_F(UserNamespaceTest, JoinedPodNamespaceWithIdmappedAndPlainVolumes) {
  ASSERT_NO_FATAL_FAILURE(JoinPodNamespaces());
  ASSERT_EQ(chmod((bundle().rootfs() + "/tmp").c_str(), 01777), 0);
  std::string plain = HostData("plain", 0755), mapped = HostData("mapped", 0700);
  auto& mounts = bundle().spec().mounts;
  mounts.push_back({"/plain", "bind", plain, {"rbind", "rprivate"}, {}, {}});
  mounts.push_back({"/mapped", "bind", mapped, {"rbind", "rprivate", "idmap"}, {}, {}});
  bundle().SetScript(
      "id; cat /proc/self/uid_map; touch /tmp/new && echo touched;"
      "stat -c 'plain %u' /plain/owned-by-host-root; stat -c 'mapped %u' /mapped/owned-by-host-root;"
      "echo changed > /plain/owned-by-host-root && echo plain-written;"
      "echo changed > /mapped/owned-by-host-root && echo mapped-written;"
      "chown 0 /plain/owned-by-host-root && echo plain-chowned; true");
  auto out = RunToCompletion("joined");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit_code, 0) << out->output;
  EXPECT_NE(out->output.find("uid=0(root) gid=0(root)"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find(StrCat(kHostBase)), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("touched"), std::string::npos) << out->output;
  EXPECT_EQ(OwnerOf(bundle().rootfs() + "/tmp/new"), kHostBase);
  EXPECT_NE(out->output.find("plain 65534"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("mapped 0"), std::string::npos) << out->output;
  // Capabilities are the namespace's: root in the container is no one to the host's files.
  EXPECT_EQ(out->output.find("plain-written"), std::string::npos) << out->output;
  EXPECT_EQ(out->output.find("plain-chowned"), std::string::npos) << out->output;
  EXPECT_EQ(ReadFile(plain + "/owned-by-host-root").value_or(""), "original\n");
  EXPECT_NE(out->output.find("mapped-written"), std::string::npos) << out->output;
  EXPECT_EQ(ReadFile(mapped + "/owned-by-host-root").value_or(""), "changed\n");
  EXPECT_EQ(OwnerOf(mapped + "/owned-by-host-root"), 0u) << "nothing on the host changes owner";
}

// "rro": every submount of the volume is read-only too, while "ro" alone leaves submounts writable.
TEST_F(UserNamespaceTest, RecursiveReadOnlyReachesSubmountsInAUserNamespace) {
  ASSERT_NO_FATAL_FAILURE(JoinPodNamespaces());
  // Outside the bundle: the fixture checks that nothing stays mounted under it.
  auto tmp = testing::TempDir::Create("cricket-rro-vol");
  ASSERT_TRUE(tmp.ok());
  std::string vol = tmp->path() + "/vol";
  ASSERT_EQ(mkdir(vol.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((vol + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(mount("tmpfs", (vol + "/sub").c_str(), "tmpfs", 0, "mode=1777,size=1m"), 0);
  for (const char* target : {"/rro", "/ro"}) ASSERT_EQ(mkdir((bundle().rootfs() + target).c_str(), 0755), 0);
  host_mounts_.push_back(vol + "/sub");
  auto& mounts = bundle().spec().mounts;
  mounts.push_back({"/rro", "bind", vol, {"rbind", "ro", "rro", "rprivate"}, {}, {}});
  mounts.push_back({"/ro", "bind", vol, {"rbind", "ro", "rprivate"}, {}, {}});
  bundle().SetScript(
      "touch /rro/sub/f 2>&1; touch /ro/sub/g && echo ro-sub-writable; touch /ro/top 2>&1; true");
  auto out = RunToCompletion("rro");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->output.find("/rro/sub/f: Read-only file system"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("ro-sub-writable"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("/ro/top: Read-only file system"), std::string::npos) << out->output;
  EXPECT_FALSE(PathExists(vol + "/sub/f"));
  EXPECT_EQ(::umount2((vol + "/sub").c_str(), 0), 0);
  host_mounts_.clear();
}

// A new user namespace (linux.uidMappings): an "idmap" mount without mappings of its own takes the
// container's, made by the runtime outside the namespace (the init could not idmap host filesystems).
TEST_F(UserNamespaceTest, NewUserNamespaceIdmapsWithTheContainersMappings) {
  ASSERT_EQ(chmod(bundle().dir().c_str(), 0755), 0);
  auto& l = *bundle().spec().linux;
  l.namespaces.push_back({oci::NamespaceType::kUser, ""});
  l.uid_mappings = {{0, kHostBase, 65536}};
  l.gid_mappings = {{0, kHostBase, 65536}};
  std::string mapped = HostData("mapped", 0700);
  bundle().spec().mounts.push_back({"/mapped", "bind", mapped, {"rbind", "rprivate", "idmap"}, {}, {}});
  bundle().SetScript("stat -c '%u:%g' /mapped/owned-by-host-root");
  auto out = RunToCompletion("newuserns");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit_code, 0) << out->output;
  EXPECT_EQ(out->output, "0:0\n");
}

}  // namespace
}  // namespace cricket::runtime
