// The cgroup v2 backend on a real cgroup2 hierarchy: this test mounts the unified hierarchy again at a
// temporary directory (on a hybrid host it is the same hierarchy as /sys/fs/cgroup/unified) and drives
// a pure-v2 Layout over it: the device eBPF program, cgroup.freeze, cgroup.kill, cgroup.procs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/cgroup_fs.h"
#include "lib/runtime/cgroups/device_filter.h"
#include "lib/runtime/cgroups/manager.h"
#include "lib/runtime/cgroups/test_child.h"

namespace cricket::cgroups {
namespace {

using testing::TestChild;

class CgroupV2MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/cricket-cg2-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    mnt_ = tmpl;
    if (::mount("none", mnt_.c_str(), "cgroup2", 0, nullptr) != 0) {
      int err = errno;
      ::rmdir(mnt_.c_str());
      mnt_.clear();
      GTEST_SKIP() << "cannot mount cgroup2: " << std::strerror(err);
    }
    mounted_ = true;
    subtree_before_ = ReadFile(mnt_ + "/cgroup.subtree_control").value_or("");
    auto layout = Layout::UnifiedAt(mnt_);
    ASSERT_TRUE(layout.ok()) << layout.status();
    auto m = Manager::Open(*layout, CgroupPath{StrCat("/cricket-v2test-", ::getpid()), false});
    ASSERT_TRUE(m.ok()) << m.status();
    m_ = *m;
    ASSERT_TRUE(m_->Create().ok());
  }

  void TearDown() override {
    if (m_) {
      EXPECT_TRUE(m_->Destroy().ok());
      EXPECT_FALSE(m_->Exists());
    }
    if (mounted_) {
      std::vector<std::string> before = ParseControllerList(subtree_before_);
      for (const std::string& c :
           ParseControllerList(ReadFile(mnt_ + "/cgroup.subtree_control").value_or(""))) {
        if (std::find(before.begin(), before.end(), c) == before.end()) {
          (void)WriteCgroupFile(mnt_, "cgroup.subtree_control", "-" + c);
        }
      }
      EXPECT_EQ(::umount2(mnt_.c_str(), MNT_DETACH), 0);
    }
    if (!mnt_.empty()) {
      EXPECT_EQ(::rmdir(mnt_.c_str()), 0);
    }
  }

  std::string dir() const { return m_->dirs().front().dir; }

  std::string mnt_;
  bool mounted_ = false;
  std::string subtree_before_;
  std::optional<Manager> m_;
};

// Bit i of the result is set when open(path i) did not behave as expected.
int ProbeDevices(bool full_readable) {
  int bad = 0;
  auto opens = [](const char* path, int flags) {
    int fd = ::open(path, flags);
    if (fd >= 0) ::close(fd);
    return fd >= 0 ? 0 : errno;
  };
  if (opens("/dev/null", O_RDONLY) != 0) bad |= 1;
  if (opens("/dev/null", O_WRONLY) != EPERM) bad |= 2;
  if (opens("/dev/zero", O_RDWR) != 0) bad |= 4;
  if (opens("/dev/full", O_RDONLY) != (full_readable ? 0 : EPERM)) bad |= 8;
  return bad;
}

int RunProbe(const Manager& m, bool full_readable) {
  TestChild child([full_readable] { return ProbeDevices(full_readable); });
  if (!m.Join(child.pid()).ok()) return -1;
  child.Go();
  int status = child.Wait();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

TEST_F(CgroupV2MountTest, DeviceProgramEnforcesTheRulesAndUpdatesReplaceIt) {
  oci::LinuxResources r;
  r.devices.push_back(oci::DeviceCgroupRule{false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back(oci::DeviceCgroupRule{true, "c", 1, 3, "r"});    // /dev/null read-only
  r.devices.push_back(oci::DeviceCgroupRule{true, "c", 1, 5, "rwm"});  // /dev/zero
  absl::Status st = m_->Set(r);
  if (absl::IsPermissionDenied(st) || absl::IsInvalidArgument(st))
    GTEST_SKIP() << "no device eBPF here: " << st;
  ASSERT_TRUE(st.ok()) << st;
  auto progs = QueryDevicePrograms(dir());
  ASSERT_TRUE(progs.ok()) << progs.status();
  EXPECT_EQ(progs->size(), 1u);
  EXPECT_EQ(RunProbe(*m_, false), 0);

  r.devices.push_back(oci::DeviceCgroupRule{true, "c", 1, 7, "r"});  // now /dev/full too
  ASSERT_TRUE(m_->Update(r).ok());
  auto after = QueryDevicePrograms(dir());
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);  // the old program was detached
  EXPECT_NE(after->front(), progs->front());
  EXPECT_EQ(RunProbe(*m_, true), 0);
}

TEST_F(CgroupV2MountTest, FreezeKillAndPidsThroughCoreFiles) {
  if (!CgroupFileExists(dir(), "cgroup.freeze")) GTEST_SKIP() << "kernel without cgroup.freeze";
  TestChild child([] {
    testing::Spin();
    return 0;
  });
  ASSERT_TRUE(m_->Join(child.pid()).ok());
  child.Go();
  EXPECT_EQ(*m_->Pids(), (std::vector<pid_t>{child.pid()}));
  ASSERT_TRUE(m_->Freeze().ok());
  EXPECT_EQ(*m_->GetFreezerState(), FreezerState::kFrozen);
  ASSERT_TRUE(m_->Thaw().ok());
  EXPECT_EQ(*m_->GetFreezerState(), FreezerState::kThawed);
  if (!CgroupFileExists(dir(), "cgroup.kill")) GTEST_SKIP() << "kernel without cgroup.kill";
  ASSERT_TRUE(m_->KillAll(SIGKILL).ok());
  int status = child.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  for (int i = 0; i < 100 && !m_->Pids()->empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(m_->Pids()->empty());
}

}  // namespace
}  // namespace cricket::cgroups
