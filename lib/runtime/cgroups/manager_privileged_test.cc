// Privileged tests on this host's real cgroup hierarchies (v1 controllers plus the unified hierarchy
// on a hybrid host; whatever Layout::Detect finds elsewhere). Every cgroup lives under a test-only
// parent /cricket-test-<pid> that is removed at the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/cgroup_fs.h"
#include "lib/runtime/cgroups/manager.h"
#include "lib/runtime/cgroups/test_child.h"

namespace cricket::cgroups {
namespace {

using testing::TestChild;

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

uint64_t CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  std::vector<std::string_view> f = Split(std::string_view(stat).substr(close + 2), ' ');
  // Fields after "(comm)": state is [0]; utime and stime are fields 14 and 15 of the line, [11] and [12]
  // here.
  return *ParseUint64(f[11]) + *ParseUint64(f[12]);
}

class CgroupPrivilegedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto layout = Layout::Detect();
    if (!layout.ok()) GTEST_SKIP() << "no cgroups: " << layout.status();
    layout_ = *layout;
    parent_ = StrCat("/cricket-test-", ::getpid());
    if (const Hierarchy* u = layout_.unified()) {
      root_subtree_ = ReadFile(u->mount_point + "/cgroup.subtree_control").value_or("");
    }
    auto parent = Manager::Open(layout_, CgroupPath{parent_, false});
    ASSERT_TRUE(parent.ok());
    parent_mgr_ = *parent;
  }

  void TearDown() override {
    if (!parent_mgr_) return;
    EXPECT_TRUE(parent_mgr_->Destroy().ok());
    for (const CgroupDir& d : parent_mgr_->dirs()) EXPECT_FALSE(IsDir(d.dir)) << d.dir << " left behind";
    // Create enabled the unified root's controllers; put them back as they were.
    if (const Hierarchy* u = layout_.unified()) {
      std::vector<std::string> before = ParseControllerList(root_subtree_);
      auto now = ReadFile(u->mount_point + "/cgroup.subtree_control");
      for (const std::string& c : ParseControllerList(now.value_or(""))) {
        if (std::find(before.begin(), before.end(), c) == before.end()) {
          (void)WriteCgroupFile(u->mount_point, "cgroup.subtree_control", "-" + c);
        }
      }
    }
  }

  Manager Make(std::string_view name) {
    ManagerOptions o;
    o.freeze_timeout = absl::Seconds(5);
    auto m = Manager::Open(layout_, CgroupPath{StrCat(parent_, "/", name), false}, o);
    EXPECT_TRUE(m.ok()) << m.status();
    absl::Status st = m->Create();
    EXPECT_TRUE(st.ok()) << st;
    return *m;
  }

  bool Has(std::string_view controller) { return layout_.HierarchyFor(controller) != nullptr; }

  Layout layout_;
  std::string parent_;
  std::string root_subtree_;
  std::optional<Manager> parent_mgr_;
};

TEST_F(CgroupPrivilegedTest, CreateMakesTheCgroupEverywhereAndDestroyRemovesIt) {
  Manager m = Make("plain");
  EXPECT_TRUE(m.Exists());
  for (const CgroupDir& d : m.dirs()) EXPECT_TRUE(IsDir(d.dir)) << d.dir;
  if (std::string cpuset = m.DirFor("cpuset");
      !cpuset.empty() && layout_.HierarchyFor("cpuset")->version == 1) {
    EXPECT_NE(*ReadCgroupValue(cpuset, "cpuset.cpus"), "");
    EXPECT_NE(*ReadCgroupValue(cpuset, "cpuset.mems"), "");
  }
  ASSERT_TRUE(m.Destroy().ok());
  EXPECT_FALSE(m.Exists());
  for (const CgroupDir& d : m.dirs()) EXPECT_FALSE(IsDir(d.dir)) << d.dir;
  EXPECT_TRUE(m.Destroy().ok());
}

// OpenSelfJoin covers every v1 hierarchy (and, on Linux 5.7+, the v2 one); Join moves a process only
// where the cover does not reach, and a process that writes "0" to the tasks files is in every v1
// hierarchy's cgroup.
TEST_F(CgroupPrivilegedTest, SelfJoinCoversTheV1HierarchiesAndJoinOnlyTheRest) {
  Manager m = Make("self");
  Manager::SelfJoin self = m.OpenSelfJoin();
  size_t v1 = 0;
  for (const CgroupDir& d : m.dirs()) v1 += d.hierarchy.version == 1;
  ASSERT_EQ(self.v1_tasks.size(), v1);
  EXPECT_EQ(self.v2_dir.valid(), layout_.unified() != nullptr) << "this kernel has CLONE_INTO_CGROUP";
  std::string own = StrCat(parent_, "/self");
  // Lines of /proc/PID/cgroup naming this cgroup: v1 ones ("N:controllers:path", N > 0), the v2 one.
  auto members = [&](pid_t pid) {
    std::pair<size_t, size_t> n{0, 0};
    std::string text = ReadFile(StrCat("/proc/", pid, "/cgroup")).value_or("");
    for (std::string_view line : Split(text, '\n')) {
      if (!line.ends_with(":" + own)) continue;
      (line.starts_with("0::") ? n.second : n.first)++;
    }
    return n;
  };
  std::vector<int> fds;
  for (const UniqueFd& fd : self.v1_tasks) fds.push_back(fd.get());
  TestChild child([&] {
    for (int fd : fds) {
      if (::write(fd, "0", 1) != 1) return 1;
    }
    return members(::getpid()).first == fds.size() ? 0 : 2;
  });
  ASSERT_TRUE(m.Join(child.pid(), self).ok());
  EXPECT_EQ(members(child.pid()), std::make_pair(size_t{0}, size_t{0})) << "the cover is left to the child";
  child.Go();
  int status = child.Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: a write to tasks failed; 2: not in every v1 hierarchy";
  // Without a cover Join moves a process everywhere.
  TestChild other([] { return 0; });
  ASSERT_TRUE(m.Join(other.pid()).ok());
  EXPECT_EQ(members(other.pid()), std::make_pair(v1, size_t{layout_.unified() != nullptr}));
  other.Go();
  other.Wait();
}

TEST_F(CgroupPrivilegedTest, MemoryLimitOomKillIsDetected) {
  if (!Has("memory")) GTEST_SKIP() << "no memory controller";
  Manager m = Make("oom");
  oci::LinuxResources r;
  r.memory.emplace();
  r.memory->limit = 16 << 20;
  if (layout_.HierarchyFor("memory")->version == 2 ||
      CgroupFileExists(m.DirFor("memory"), "memory.memsw.limit_in_bytes")) {
    r.memory->swap = 16 << 20;  // no swapping out of the limit
  }
  ASSERT_TRUE(m.Set(r).ok());
  auto watcher = m.WatchOom();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  TestChild child([] {
    for (int i = 0; i < 256; ++i) {
      char* p = static_cast<char*>(::malloc(1 << 20));
      if (p == nullptr) return 2;
      std::memset(p, i, 1 << 20);
    }
    return 0;
  });
  ASSERT_TRUE(m.Join(child.pid()).ok());
  child.Go();
  int status = child.Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  struct pollfd p = {watcher->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 5000), 1);
  auto kills = watcher->Check();
  ASSERT_TRUE(kills.ok()) << kills.status();
  EXPECT_GE(*kills, 1u);
  EXPECT_GE(*m.OomKillCount(), 1u);
  auto stats = m.GetStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_TRUE(stats->memory);
  EXPECT_EQ(stats->memory->limit, std::optional<uint64_t>(16 << 20));
  EXPECT_GE(stats->memory->oom_kills, 1u);
}

TEST_F(CgroupPrivilegedTest, MemoryAndSwapLimitsGoUpAndDownInEitherOrder) {
  if (!Has("memory") || layout_.HierarchyFor("memory")->version != 1) GTEST_SKIP() << "needs v1 memory";
  Manager m = Make("memsw");
  if (!CgroupFileExists(m.DirFor("memory"), "memory.memsw.limit_in_bytes"))
    GTEST_SKIP() << "no swap accounting";
  for (int64_t mb : {32, 64, 16}) {
    oci::LinuxResources r;
    r.memory.emplace();
    r.memory->limit = mb << 20;
    r.memory->swap = mb << 20;
    // Raising needs memsw first (limit ≤ memsw), lowering limit first: ApplyPlan's pair handles both.
    absl::Status st = m.Set(r);
    ASSERT_TRUE(st.ok()) << mb << " MiB: " << st;
    EXPECT_EQ(*ReadCgroupValue(m.DirFor("memory"), "memory.limit_in_bytes"), std::to_string(mb << 20));
    EXPECT_EQ(*ReadCgroupValue(m.DirFor("memory"), "memory.memsw.limit_in_bytes"), std::to_string(mb << 20));
  }
}

TEST_F(CgroupPrivilegedTest, PidsLimitIsEnforced) {
  if (!Has("pids")) GTEST_SKIP() << "no pids controller";
  Manager m = Make("pids");
  oci::LinuxResources r;
  r.pids.emplace();
  r.pids->limit = 4;
  ASSERT_TRUE(m.Set(r).ok());
  TestChild child([] {
    std::vector<pid_t> kids;
    int refused = 0;
    for (int i = 0; i < 8; ++i) {
      pid_t k = ::fork();
      if (k == 0) {
        ::pause();
        ::_exit(0);
      }
      if (k > 0) kids.push_back(k);
      if (k < 0 && errno == EAGAIN) ++refused;
    }
    for (pid_t k : kids) {
      ::kill(k, SIGKILL);
      ::waitpid(k, nullptr, 0);
    }
    return static_cast<int>(kids.size() * 10 + refused);
  });
  ASSERT_TRUE(m.Join(child.pid()).ok());
  child.Go();
  int status = child.Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3 * 10 + 5);  // the child plus 3 forks fill 4 pids; 5 forks refused
  auto stats = m.GetStats();
  ASSERT_TRUE(stats.ok());
  ASSERT_TRUE(stats->pids);
  EXPECT_EQ(stats->pids->limit, std::optional<uint64_t>(4));
}

TEST_F(CgroupPrivilegedTest, FreezeStopsABusyProcessAndThawResumesIt) {
  Manager m = Make("freeze");
  TestChild child([] {
    testing::Spin();
    return 0;
  });
  ASSERT_TRUE(m.Join(child.pid()).ok());
  child.Go();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(m.Freeze().ok());
  EXPECT_EQ(*m.GetFreezerState(), FreezerState::kFrozen);
  uint64_t t0 = CpuTicks(child.pid());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(CpuTicks(child.pid()), t0);
  ASSERT_TRUE(m.Thaw().ok());
  EXPECT_EQ(*m.GetFreezerState(), FreezerState::kThawed);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GT(CpuTicks(child.pid()), t0);
  ASSERT_TRUE(m.KillAll(SIGKILL).ok());
  int status = child.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

// Waits for `n` children (grandchildren reparent to this subreaper).
int ReapAll(int n) {
  int reaped = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (reaped < n && std::chrono::steady_clock::now() < deadline) {
    pid_t p = ::waitpid(-1, nullptr, WNOHANG);
    if (p > 0) {
      ++reaped;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return reaped;
}

TEST_F(CgroupPrivilegedTest, KillAllReachesEveryProcessWithAnySignal) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  for (int sig : {SIGTERM, SIGKILL}) {
    Manager m = Make(StrCat("kill", sig));
    auto body = [] {
      for (int i = 0; i < 2; ++i) {
        if (::fork() == 0) {
          ::pause();
          ::_exit(0);
        }
      }
      ::pause();
      return 0;
    };
    TestChild child(body);
    ASSERT_TRUE(m.Join(child.pid()).ok());
    child.Go();
    std::vector<pid_t> pids;
    for (int i = 0; i < 200 && pids.size() < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      pids = *m.Pids();
    }
    EXPECT_EQ(pids.size(), 3u);
    absl::Status st = m.KillAll(sig);
    EXPECT_TRUE(st.ok()) << st;
    EXPECT_EQ(ReapAll(3), 3) << "signal " << sig;
    child.MarkReaped();
    EXPECT_TRUE(m.Pids()->empty());
    ASSERT_TRUE(m.Destroy().ok());
  }
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

// A container that made a child cgroup of its own on cgroup v2 and enabled a controller for it (as
// systemd in a container does) may hold no process itself: an exec'd process then joins the init's leaf.
TEST_F(CgroupPrivilegedTest, ExecJoinsTheInitsLeafWhenTheContainerCgroupHasControllersEnabled) {
  const Hierarchy* u = layout_.unified();
  if (u == nullptr || u->controllers.empty()) GTEST_SKIP() << "no unified hierarchy with a controller";
  Manager m = Make("nested");
  const CgroupDir* ud = FindUnified(m.dirs());
  ASSERT_NE(ud, nullptr);
  TestChild init([] {
    ::pause();
    return 0;
  });
  TestChild exec([] {
    ::pause();
    return 0;
  });
  // The init moves into a leaf of the container's cgroup, which then enables a controller for it.
  ASSERT_TRUE(m.Join(init.pid()).ok());
  std::string leaf = ud->dir + "/init.scope";
  ASSERT_EQ(::mkdir(leaf.c_str(), 0755), 0) << leaf;
  ASSERT_TRUE(WriteCgroupFile(leaf, "cgroup.procs", StrCat(init.pid())).ok());
  ASSERT_TRUE(WriteCgroupFile(ud->dir, "cgroup.subtree_control", "+" + u->controllers[0]).ok());

  absl::Status plain = m.Join(exec.pid());
  EXPECT_TRUE(absl::IsFailedPrecondition(plain)) << plain << " (EBUSY: no internal processes)";
  absl::Status st = m.JoinBeside(exec.pid(), init.pid());
  ASSERT_TRUE(st.ok()) << st;
  std::string procs = ReadFile(leaf + "/cgroup.procs").value_or("");
  EXPECT_NE(procs.find(StrCat(exec.pid(), "\n")), std::string::npos) << procs;
  // Every v1 hierarchy holds it in the container's own cgroup.
  for (const CgroupDir& d : m.dirs()) {
    if (d.hierarchy.version != 1) continue;
    std::string v1 = ReadFile(d.dir + "/cgroup.procs").value_or("");
    EXPECT_NE(v1.find(StrCat(exec.pid(), "\n")), std::string::npos) << d.dir;
  }
  // A process whose init lies outside the container is refused, not joined elsewhere.
  TestChild stranger([] {
    ::pause();
    return 0;
  });
  EXPECT_FALSE(m.JoinBeside(stranger.pid(), ::getpid()).ok());
}

TEST_F(CgroupPrivilegedTest, V1DeviceRulesAreEnforcedAndUpdatesWriteOnlyTheDifference) {
  const Hierarchy* h = layout_.HierarchyFor("devices");
  if (h == nullptr || h->version != 1) GTEST_SKIP() << "needs the v1 devices controller";
  Manager m = Make("devices");
  oci::LinuxResources r;
  r.devices.push_back(oci::DeviceCgroupRule{false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back(oci::DeviceCgroupRule{true, "c", 1, 3, "rw"});
  ASSERT_TRUE(m.Set(r).ok());
  EXPECT_EQ(*ReadCgroupValue(m.DirFor("devices"), "devices.list"), "c 1:3 rw");
  TestChild child([] {
    int bad = 0;
    int fd = ::open("/dev/null", O_WRONLY);
    if (fd < 0) bad |= 1;
    ::close(fd);
    if (::open("/dev/zero", O_RDONLY) >= 0 || errno != EPERM) bad |= 2;
    return bad;
  });
  ASSERT_TRUE(m.Join(child.pid()).ok());
  child.Go();
  int status = child.Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto plan = m.Plan(r, true);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->writes.empty());
  r.devices.push_back(oci::DeviceCgroupRule{true, "c", 1, 5, "r"});
  ASSERT_TRUE(m.Update(r).ok());
  EXPECT_EQ(*ReadCgroupValue(m.DirFor("devices"), "devices.list"), "c 1:3 rw\nc 1:5 r");
}

TEST_F(CgroupPrivilegedTest, HugetlbLimitThroughTheUnifiedHierarchyOnHybridHosts) {
  const Hierarchy* h = layout_.HierarchyFor("hugetlb");
  if (h == nullptr) GTEST_SKIP() << "no hugetlb controller";
  Manager m = Make("hugetlb");
  if (!CgroupFileExists(m.DirFor("hugetlb"),
                        h->version == 1 ? "hugetlb.2MB.limit_in_bytes" : "hugetlb.2MB.max")) {
    GTEST_SKIP() << "no 2MB huge pages";
  }
  oci::LinuxResources r;
  r.hugepage_limits.push_back(oci::HugepageLimit{"2MB", 4 << 20});
  ASSERT_TRUE(m.Set(r).ok());
  EXPECT_EQ(*ReadCgroupValue(m.DirFor("hugetlb"),
                             h->version == 1 ? "hugetlb.2MB.limit_in_bytes" : "hugetlb.2MB.max"),
            "4194304");
  auto stats = m.GetStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(stats->hugetlb.count("2MB"));
}

TEST_F(CgroupPrivilegedTest, TheKernelAcceptsEveryValueFormatWeWrite) {
  Manager m = Make("formats");
  oci::LinuxResources r;
  if (Has("memory")) {
    r.memory.emplace();
    r.memory->limit = 64 << 20;
    r.memory->reservation = 32 << 20;
    if (layout_.HierarchyFor("memory")->version == 1) r.memory->swappiness = 10;
  }
  if (Has("cpu")) {
    r.cpu.emplace();
    r.cpu->shares = 512;
    r.cpu->quota = 25000;
    r.cpu->period = 50000;
    if (CgroupFileExists(m.DirFor("cpu"), "cpu.cfs_burst_us") ||
        CgroupFileExists(m.DirFor("cpu"), "cpu.max.burst")) {
      r.cpu->burst = 1000;
    }
  }
  if (Has("cpuset")) {
    if (!r.cpu) r.cpu.emplace();
    r.cpu->cpus = "0";
    r.cpu->mems = "0";
  }
  if (Has("pids")) {
    r.pids.emplace();
    r.pids->limit = 64;
  }
  absl::Status st = m.Set(r);
  ASSERT_TRUE(st.ok()) << st;
  auto plan = m.Plan(r, false);
  ASSERT_TRUE(plan.ok());
  int checked = 0;
  for (const CgroupWrite& w : plan->writes) {
    for (const auto& [file, value] : {std::pair{w.file, w.value}, std::pair{w.pair_file, w.pair_value}}) {
      if (file.empty()) continue;
      EXPECT_EQ(*ReadCgroupValue(w.dir, file), value) << w.dir << "/" << file;
      ++checked;
    }
  }
  EXPECT_GE(checked, 5);
  // Writing the same values again (an update) is accepted too.
  st = m.Update(r);
  EXPECT_TRUE(st.ok()) << st;
}

TEST_F(CgroupPrivilegedTest, SetRefusesWhatTheHostLacksAndWritesNothing) {
  Manager m = Make("refuse");
  oci::LinuxResources r;
  r.pids.emplace();
  r.pids->limit = 7;
  r.hugepage_limits.push_back(oci::HugepageLimit{"3MB", 1});
  absl::Status st = m.Set(r);
  EXPECT_FALSE(st.ok());
  if (Has("pids")) {
    EXPECT_EQ(*ReadCgroupValue(m.DirFor("pids"), "pids.max"), "max");
  }
}

}  // namespace
}  // namespace cricket::cgroups
