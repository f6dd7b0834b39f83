#include "lib/runtime/cgroups/manager.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/runtime/cgroups/fake_cgroupfs.h"

namespace cricket::cgroups {
namespace {

using testing::FakeCgroupfs;

Manager Open(const Layout& l, std::string_view path, bool relative = false,
             absl::Duration freeze = absl::Seconds(1)) {
  ManagerOptions o;
  o.freeze_timeout = freeze;
  o.destroy_timeout = absl::Milliseconds(50);
  auto m = Manager::Open(l, CgroupPath{std::string(path), relative}, o);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(ManagerTest, OpenLocatesEveryHierarchyIncludingRelativeToOwnCgroup) {
  FakeCgroupfs fs;
  Layout l = fs.Hybrid("/x");
  Manager m = Open(l, "cricket/ctr", true);
  ASSERT_EQ(m.dirs().size(), 10u);
  EXPECT_EQ(m.DirFor("memory"),
            fs.Path("/sys/fs/cgroup/memory/process_api/123dc4892af0c96f55109356b56578c9/cricket/ctr"));
  EXPECT_EQ(m.DirFor("cpu"), fs.Path("/sys/fs/cgroup/cpu/cricket/ctr"));
  EXPECT_EQ(m.DirFor("hugetlb"), fs.Path("/sys/fs/cgroup/unified/cricket/ctr"));
  EXPECT_EQ(m.DirFor("name=systemd"), fs.Path("/sys/fs/cgroup/systemd/cricket/ctr"));
  EXPECT_EQ(m.DirFor("net_cls"), "");
  EXPECT_EQ(m.dirs().back().hierarchy.version, 2);
  EXPECT_FALSE(Manager::Open(l, CgroupPath{"/", false}).ok());
  EXPECT_FALSE(Manager::Open(l, CgroupPath{"/a/../b", false}).ok());
}

TEST(ManagerTest, CreateV1PropagatesCpusetsDownTheNewPath) {
  FakeCgroupfs fs;
  Layout l = fs.V1("/pod");
  fs.Write("/sys/fs/cgroup/cpuset/pod/cpuset.cpus", "1\n");  // a pod restricted to CPU 1
  fs.Write("/sys/fs/cgroup/cpuset/pod/cpuset.mems", "0\n");
  // The kernel would create the files on mkdir; the fake has them ready.
  fs.MakeV1("/sys/fs/cgroup/cpuset/pod/ctr", {"cpuset"});
  Manager m = Open(l, "/pod/ctr");
  ASSERT_TRUE(m.Create().ok());
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpuset/pod/ctr/cpuset.cpus"), "1");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpuset/pod/ctr/cpuset.mems"), "0");
  EXPECT_TRUE(IsDir(fs.Path("/sys/fs/cgroup/memory/pod/ctr")));
  EXPECT_TRUE(IsDir(fs.Path("/sys/fs/cgroup/systemd/pod/ctr")));
  EXPECT_TRUE(IsDir(fs.Path("/sys/fs/cgroup/perf_event/pod/ctr")));
  EXPECT_TRUE(m.Exists());
}

TEST(ManagerTest, FailedCreateRemovesTheDirectoriesItMade) {
  FakeCgroupfs fs;
  Layout l = fs.V1("/pod");
  // A fresh path: mkdir in the fake gives no cpuset files, so propagation fails after the mkdirs.
  Manager m = Open(l, "/new/ctr");
  absl::Status st = m.Create();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cpuset"), std::string_view::npos) << st;
  for (const CgroupDir& d : m.dirs()) EXPECT_FALSE(IsDir(d.hierarchy.mount_point + "/new")) << d.dir;
}

TEST(ManagerTest, CreateV2EnablesControllersDownToTheParent) {
  FakeCgroupfs fs;
  Layout l = fs.V2("/kubepods/pod1/ctr");
  Manager m = Open(l, "/kubepods/pod1/ctr");
  ASSERT_TRUE(m.Create().ok());
  const std::string all = "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc";
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cgroup.subtree_control"), all);
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/kubepods/cgroup.subtree_control"), all);
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/kubepods/pod1/cgroup.subtree_control"), all);
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/kubepods/pod1/ctr/cgroup.subtree_control"),
            "\n");  // the leaf holds processes
  auto refused = EnableControllersV2(fs.Path("/sys/fs/cgroup"), fs.Path("/sys/fs/cgroup/kubepods"));
  ASSERT_TRUE(refused.ok());
  EXPECT_TRUE(refused->empty());
}

TEST(ManagerTest, HybridCreateEnablesHugetlbInTheUnifiedHierarchyOnly) {
  FakeCgroupfs fs;
  Layout l = fs.Hybrid("/t/ctr");
  Manager m = Open(l, "/t/ctr");
  ASSERT_TRUE(m.Create().ok());
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/unified/cgroup.subtree_control"), "+hugetlb");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/unified/t/cgroup.subtree_control"), "+hugetlb");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpuset/t/ctr/cpuset.cpus"), "0-1");
}

TEST(ManagerTest, JoinWritesThePidInEveryHierarchy) {
  FakeCgroupfs fs;
  Layout l = fs.Hybrid("/t/ctr");
  Manager m = Open(l, "/t/ctr");
  ASSERT_TRUE(m.Join(4242).ok());
  for (const CgroupDir& d : m.dirs()) {
    absl::StatusOr<std::string> procs = ReadFile(d.dir + "/cgroup.procs");
    ASSERT_TRUE(procs.ok());
    EXPECT_EQ(*procs, "4242") << d.dir;
  }
  EXPECT_FALSE(m.Join(0).ok());
  Manager missing = Open(l, "/nope");
  EXPECT_TRUE(absl::IsNotFound(missing.Join(1)));
}

TEST(ManagerTest, FreezeAndThawV1) {
  FakeCgroupfs fs;
  Manager m = Open(fs.Hybrid("/c"), "/c");
  ASSERT_TRUE(m.Freeze().ok());
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/freezer/c/freezer.state"), "FROZEN");
  EXPECT_EQ(*m.GetFreezerState(), FreezerState::kFrozen);
  ASSERT_TRUE(m.Thaw().ok());
  EXPECT_EQ(*m.GetFreezerState(), FreezerState::kThawed);
}

TEST(ManagerTest, FreezeV2WaitsForCgroupEventsAndUndoesOnTimeout) {
  FakeCgroupfs fs;
  Manager m = Open(fs.V2("/c"), "/c", false, absl::Milliseconds(100));
  // The fake's cgroup.events never reports "frozen 1": the freeze times out and is undone.
  absl::Status st = m.Freeze();
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/cgroup.freeze"), "0");
  fs.Write("/sys/fs/cgroup/c/cgroup.events", "populated 1\nfrozen 1\n");
  ASSERT_TRUE(m.Freeze().ok());
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/cgroup.freeze"), "1");
  EXPECT_EQ(*m.GetFreezerState(), FreezerState::kFrozen);
  fs.Write("/sys/fs/cgroup/c/cgroup.events", "populated 1\nfrozen 0\n");
  EXPECT_EQ(*m.GetFreezerState(), FreezerState::kFreezing);
  ASSERT_TRUE(m.Thaw().ok());
  EXPECT_EQ(*m.GetFreezerState(), FreezerState::kThawed);
}

TEST(ManagerTest, PidsIncludesDescendantCgroups) {
  FakeCgroupfs fs;
  Manager m = Open(fs.V2("/c"), "/c");
  fs.Write("/sys/fs/cgroup/c/cgroup.procs", "30\n10\n");
  fs.MakeV2("/sys/fs/cgroup/c/nested", {"memory"});
  fs.Write("/sys/fs/cgroup/c/nested/cgroup.procs", "20\n");
  auto pids = m.Pids();
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_EQ(*pids, (std::vector<pid_t>{10, 20, 30}));
  // v1/hybrid read the pids hierarchy.
  FakeCgroupfs fs1;
  Manager h = Open(fs1.Hybrid("/c"), "/c");
  fs1.Write("/sys/fs/cgroup/pids/c/cgroup.procs", "7\n");
  EXPECT_EQ(*h.Pids(), (std::vector<pid_t>{7}));
}

TEST(ManagerTest, KillAllUsesCgroupKillForSigkill) {
  FakeCgroupfs fs;
  Manager m = Open(fs.V2("/c"), "/c");
  ASSERT_TRUE(m.KillAll(SIGKILL).ok());
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/cgroup.kill"), "1");
}

TEST(ManagerTest, DestroyRemovesNestedCgroupsAndIsIdempotent) {
  FakeCgroupfs fs;
  Layout l =
      fs.V2("/base");  // a tree of empty cgroups (the kernel's files do not block rmdir; a fake's would)
  Manager m = Open(l, "/base/ctr");
  ASSERT_TRUE(MkdirAll(fs.Path("/sys/fs/cgroup/base/ctr/a/b")).ok());
  ASSERT_TRUE(MkdirAll(fs.Path("/sys/fs/cgroup/base/ctr/c")).ok());
  ASSERT_TRUE(m.Destroy().ok());
  EXPECT_FALSE(IsDir(fs.Path("/sys/fs/cgroup/base/ctr")));
  EXPECT_TRUE(IsDir(fs.Path("/sys/fs/cgroup/base")));
  ASSERT_TRUE(m.Destroy().ok());
  // A non-empty directory that is not a cgroup fails with the path named.
  ASSERT_TRUE(MkdirAll(fs.Path("/sys/fs/cgroup/base/ctr")).ok());
  fs.Write("/sys/fs/cgroup/base/ctr/stray", "x");
  absl::Status st = m.Destroy();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/base/ctr"), std::string_view::npos) << st;
}

TEST(ManagerTest, StatsFromTheRightHierarchies) {
  FakeCgroupfs fs;
  Manager m = Open(fs.Hybrid("/c"), "/c");
  fs.Write("/sys/fs/cgroup/cpuacct/c/cpuacct.usage", "900\n");
  fs.Write("/sys/fs/cgroup/cpu/c/cpu.stat", "nr_periods 3\nnr_throttled 1\nthrottled_time 77\n");
  fs.Write("/sys/fs/cgroup/memory/c/memory.usage_in_bytes", "5000\n");
  fs.Write("/sys/fs/cgroup/memory/c/memory.stat", "total_inactive_file 1000\ntotal_rss 3000\n");
  fs.Write("/sys/fs/cgroup/pids/c/pids.current", "2\n");
  fs.Write("/sys/fs/cgroup/unified/c/hugetlb.2MB.current", "2097152\n");
  auto s = m.GetStats();
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->cpu);
  EXPECT_EQ(s->cpu->usage_ns, 900u);
  EXPECT_EQ(s->cpu->throttled_ns, 77u);
  ASSERT_TRUE(s->memory);
  EXPECT_EQ(s->memory->working_set, 4000u);
  EXPECT_EQ(s->memory->rss, 3000u);
  ASSERT_TRUE(s->pids);
  EXPECT_EQ(s->pids->current, 2u);
  EXPECT_EQ(s->hugetlb.at("2MB").usage, 2097152u);
  ASSERT_TRUE(s->io);
  Manager missing = Open(fs.Hybrid("/c"), "/gone");
  EXPECT_TRUE(absl::IsNotFound(missing.GetStats().status()));

  // The CRI's parts only: neither hugetlb nor io is read, and a missing blkio directory does not matter.
  // (Hybrid() above wrote the default files again.)
  fs.Write("/sys/fs/cgroup/cpuacct/c/cpuacct.usage", "900\n");
  ASSERT_TRUE(RemoveAll(fs.Path("/sys/fs/cgroup/blkio/c")).ok());
  EXPECT_TRUE(absl::IsNotFound(m.GetStats().status()));
  auto cri = m.GetStats(StatsParts::CpuMemoryPids());
  ASSERT_TRUE(cri.ok()) << cri.status();
  ASSERT_TRUE(cri->cpu && cri->memory && cri->pids);
  EXPECT_EQ(cri->cpu->usage_ns, 900u);
  EXPECT_TRUE(cri->hugetlb.empty());
  EXPECT_FALSE(cri->io);
  // A directory it reads from is missing: NotFound.
  ASSERT_TRUE(RemoveAll(fs.Path("/sys/fs/cgroup/memory/c")).ok());
  EXPECT_TRUE(absl::IsNotFound(m.GetStats(StatsParts::CpuMemoryPids()).status()));
}

TEST(ManagerTest, OomCountsV1) {
  FakeCgroupfs fs;
  Manager m = Open(fs.Hybrid("/c"), "/c");
  auto w = m.WatchOom();
  ASSERT_TRUE(w.ok()) << w.status();
  // Registration wrote "<eventfd> <oom_control fd>" to cgroup.event_control.
  std::string reg = fs.Read("/sys/fs/cgroup/memory/c/cgroup.event_control");
  EXPECT_EQ(reg.rfind(std::to_string(w->fd()) + " ", 0), 0u) << reg;
  EXPECT_EQ(*w->Check(), 0u);
  fs.Write("/sys/fs/cgroup/memory/c/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  EXPECT_EQ(*w->Check(), 2u);
  EXPECT_EQ(*w->Check(), 0u);
  EXPECT_EQ(*m.OomKillCount(), 2u);
  ASSERT_TRUE(RemoveAll(fs.Path("/sys/fs/cgroup/memory/c")).ok());
  EXPECT_EQ(*w->Check(), 0u);
  EXPECT_TRUE(w->removed());
  // A kernel without the oom_kill field: failcnt is the hint.
  FakeCgroupfs old;
  Manager o = Open(old.Hybrid("/c"), "/c");
  old.Write("/sys/fs/cgroup/memory/c/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  EXPECT_EQ(*o.OomKillCount(), 0u);
  old.Write("/sys/fs/cgroup/memory/c/memory.failcnt", "3\n");
  EXPECT_EQ(*o.OomKillCount(), 1u);
}

TEST(ManagerTest, OomWatchV2WakesOnMemoryEvents) {
  FakeCgroupfs fs;
  Manager m = Open(fs.V2("/c"), "/c");
  auto w = m.WatchOom();
  ASSERT_TRUE(w.ok()) << w.status();
  struct pollfd p = {w->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  // Rewrite in place (the fake's Write replaces the file, which inotify would not see as IN_MODIFY).
  std::string events = fs.Path("/sys/fs/cgroup/c/memory.events");
  FILE* f = ::fopen(events.c_str(), "w");
  ASSERT_NE(f, nullptr);
  ::fputs("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n", f);
  ::fclose(f);
  EXPECT_EQ(::poll(&p, 1, 1000), 1);
  EXPECT_EQ(*w->Check(), 1u);
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  EXPECT_EQ(*m.OomKillCount(), 1u);
}

}  // namespace
}  // namespace cricket::cgroups
