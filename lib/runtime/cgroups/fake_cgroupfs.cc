#include "lib/runtime/cgroups/fake_cgroupfs.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>

#include <map>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/strings.h"

namespace cricket::cgroups::testing {

const char kHybridMountInfo[] =
    "22 1 0:20 / / rw,relatime - ext4 /dev/vda rw\n"
    "23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "90 22 0:38 / /tmp/cricket-test-cg2 rw,relatime - cgroup2 none rw\n";
const char kHybridSelfCgroup[] =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/123dc4892af0c96f55109356b56578c9\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";
const char kHybridProcCgroups[] =
    "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    "cpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\nblkio\t7\t1\t1\nmemory\t4\t25\t1\ndevices\t5\t1\t1\n"
    "freezer\t6\t1\t1\nnet_cls\t0\t1\t1\nperf_event\t0\t1\t1\nnet_"
    "prio\t0\t1\t1\nhugetlb\t0\t1\t1\npids\t8\t1\t1\n";

const char kV2MountInfo[] =
    "24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
const char kV2SelfCgroup[] = "0::/user.slice/user-1000.slice/session-2.scope\n";

const char kV1MountInfo[] =
    "25 19 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup "
    "rw,xattr,name=systemd\n"
    "30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup "
    "rw,net_cls,net_prio\n"
    "32 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory\n"
    "33 25 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids\n"
    "34 25 0:32 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup "
    "rw,devices\n"
    "35 25 0:33 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup "
    "rw,freezer\n"
    "36 25 0:34 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpuset\n"
    "37 25 0:35 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,blkio\n"
    "38 25 0:36 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:21 - cgroup cgroup "
    "rw,hugetlb\n"
    "39 25 0:37 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:22 - cgroup cgroup "
    "rw,perf_event\n"
    // A second view of the memory hierarchy (a bind mount) must not count twice.
    "80 25 0:30 /user.slice /sys/fs/cgroup/memory-bind rw,relatime shared:15 - cgroup cgroup rw,memory\n";
const char kV1SelfCgroup[] =
    "12:memory:/user.slice/user-1000.slice\n11:cpu,cpuacct:/user.slice\n10:net_cls,net_prio:/\n9:pids:/"
    "user.slice\n"
    "8:devices:/user.slice\n7:freezer:/\n6:cpuset:/\n5:blkio:/user.slice\n4:hugetlb:/\n3:perf_event:/\n"
    "1:name=systemd:/user.slice/user-1000.slice/session-1.scope\n0::/user.slice/user-1000.slice/"
    "session-1.scope\n";

namespace {

// Kernel files per v1 controller, with the values a new (child) cgroup shows.
const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& V1Files() {
  static const auto* files = new std::map<std::string, std::vector<std::pair<std::string, std::string>>>{
      {"cpu",
       {{"cpu.shares", "1024\n"},
        {"cpu.cfs_period_us", "100000\n"},
        {"cpu.cfs_quota_us", "-1\n"},
        {"cpu.cfs_burst_us", "0\n"},
        {"cpu.rt_period_us", "1000000\n"},
        {"cpu.rt_runtime_us", "0\n"},
        {"cpu.idle", "0\n"},
        {"cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"}}},
      {"cpuacct",
       {{"cpuacct.usage", "0\n"},
        {"cpuacct.usage_user", "0\n"},
        {"cpuacct.usage_sys", "0\n"},
        {"cpuacct.stat", "user 0\nsystem 0\n"}}},
      {"cpuset", {{"cpuset.cpus", "\n"}, {"cpuset.mems", "\n"}, {"cpuset.effective_cpus", "\n"}}},
      {"memory",
       {{"memory.limit_in_bytes", "9223372036854771712\n"},
        {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
        {"memory.soft_limit_in_bytes", "9223372036854771712\n"},
        {"memory.swappiness", "60\n"},
        {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
        {"memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n"},
        {"memory.use_hierarchy", "1\n"},
        {"memory.usage_in_bytes", "0\n"},
        {"memory.max_usage_in_bytes", "0\n"},
        {"memory.failcnt", "0\n"},
        {"memory.memsw.usage_in_bytes", "0\n"},
        {"memory.stat", "cache 0\nrss 0\n"},
        {"cgroup.event_control", ""}}},
      {"devices", {{"devices.allow", ""}, {"devices.deny", ""}, {"devices.list", "a *:* rwm\n"}}},
      {"freezer", {{"freezer.state", "THAWED\n"}}},
      {"blkio",
       {{"blkio.bfq.weight", "100\n"},
        {"blkio.bfq.weight_device", ""},
        {"blkio.throttle.read_bps_device", ""},
        {"blkio.throttle.write_bps_device", ""},
        {"blkio.throttle.read_iops_device", ""},
        {"blkio.throttle.write_iops_device", ""},
        {"blkio.throttle.io_service_bytes_recursive", "Total 0\n"},
        {"blkio.throttle.io_serviced_recursive", "Total 0\n"}}},
      {"pids", {{"pids.max", "max\n"}, {"pids.current", "0\n"}}},
      {"hugetlb",
       {{"hugetlb.2MB.limit_in_bytes", "9223372036854771712\n"},
        {"hugetlb.2MB.usage_in_bytes", "0\n"},
        {"hugetlb.2MB.max_usage_in_bytes", "0\n"},
        {"hugetlb.2MB.failcnt", "0\n"},
        {"hugetlb.1GB.limit_in_bytes", "9223372036854771712\n"},
        {"hugetlb.1GB.usage_in_bytes", "0\n"},
        {"hugetlb.1GB.max_usage_in_bytes", "0\n"},
        {"hugetlb.1GB.failcnt", "0\n"}}},
      {"net_cls", {{"net_cls.classid", "0\n"}}},
      {"net_prio", {{"net_prio.ifpriomap", "lo 0\n"}, {"net_prio.prioidx", "1\n"}}},
      {"perf_event", {}},
      {"name=systemd", {}},
  };
  return *files;
}

const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& V2Files() {
  static const auto* files = new std::map<std::string, std::vector<std::pair<std::string, std::string>>>{
      {"cpu",
       {{"cpu.weight", "100\n"}, {"cpu.max", "max 100000\n"}, {"cpu.max.burst", "0\n"}, {"cpu.idle", "0\n"}}},
      {"cpuset", {{"cpuset.cpus", "\n"}, {"cpuset.mems", "\n"}}},
      {"memory",
       {{"memory.max", "max\n"},
        {"memory.low", "0\n"},
        {"memory.high", "max\n"},
        {"memory.swap.max", "max\n"},
        {"memory.current", "0\n"},
        {"memory.swap.current", "0\n"},
        {"memory.stat", "anon 0\nfile 0\n"},
        {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"}}},
      {"pids", {{"pids.max", "max\n"}, {"pids.current", "0\n"}}},
      {"io", {{"io.weight", "default 100\n"}, {"io.max", ""}, {"io.stat", ""}}},
      {"hugetlb",
       {{"hugetlb.2MB.max", "max\n"},
        {"hugetlb.2MB.rsvd.max", "max\n"},
        {"hugetlb.2MB.current", "0\n"},
        {"hugetlb.2MB.rsvd.current", "0\n"},
        {"hugetlb.2MB.events", "max 0\n"},
        {"hugetlb.1GB.max", "max\n"},
        {"hugetlb.1GB.current", "0\n"},
        {"hugetlb.1GB.events", "max 0\n"}}},
      {"rdma", {{"rdma.max", ""}, {"rdma.current", ""}}},
      {"misc", {}},
  };
  return *files;
}

}  // namespace

FakeCgroupfs::FakeCgroupfs() {
  // tmpfs when there is one: a fake tree is hundreds of small files, slow to unlink on a discard mount.
  char shm[] = "/dev/shm/cricket-fakecg-XXXXXX";
  char tmp[] = "/tmp/cricket-fakecg-XXXXXX";
  char* dir = ::mkdtemp(shm);
  if (dir == nullptr) dir = ::mkdtemp(tmp);
  EXPECT_NE(dir, nullptr);
  prefix_ = dir ? dir : "/nonexistent";
}

FakeCgroupfs::~FakeCgroupfs() { EXPECT_TRUE(RemoveAll(prefix_).ok()); }

std::string FakeCgroupfs::Path(std::string_view path) const { return StrCat(prefix_, path); }

void FakeCgroupfs::Write(std::string_view path, std::string_view content) const {
  std::string p = Path(path);
  ASSERT_TRUE(MkdirAll(DirName(p)).ok());
  // Plain (not fsynced) writes: a fake tree has hundreds of files.
  FILE* f = ::fopen(p.c_str(), "w");
  ASSERT_NE(f, nullptr) << p;
  ASSERT_EQ(::fwrite(content.data(), 1, content.size(), f), content.size()) << p;
  ASSERT_EQ(::fclose(f), 0) << p;
}

std::string FakeCgroupfs::Read(std::string_view path) const {
  absl::StatusOr<std::string> s = ReadFile(Path(path));
  return s.ok() ? *s : "<missing>";
}

void FakeCgroupfs::MakeV1(std::string_view dir, const std::vector<std::string>& controllers,
                          bool root) const {
  std::string d(dir);
  Write(d + "/cgroup.procs", "");
  Write(d + "/tasks", "");
  Write(d + "/cgroup.clone_children", "0\n");
  for (const std::string& c : controllers) {
    auto it = V1Files().find(c);
    ASSERT_NE(it, V1Files().end()) << c;
    for (const auto& [file, content] : it->second) Write(d + "/" + file, content);
    if (root && c == "cpuset") {
      Write(d + "/cpuset.cpus", "0-1\n");
      Write(d + "/cpuset.mems", "0\n");
    }
  }
}

void FakeCgroupfs::MakeV2(std::string_view dir, const std::vector<std::string>& controllers,
                          bool root) const {
  std::string d(dir);
  Write(d + "/cgroup.controllers", Join(controllers, " ") + "\n");
  Write(d + "/cgroup.subtree_control", "\n");
  Write(d + "/cgroup.procs", "");
  Write(d + "/cgroup.stat", "nr_descendants 0\nnr_dying_descendants 0\n");
  Write(d + "/cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
  Write(d + "/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  if (!root) {
    Write(d + "/cgroup.events", "populated 0\nfrozen 0\n");
    Write(d + "/cgroup.freeze", "0\n");
    Write(d + "/cgroup.kill", "");
    Write(d + "/cgroup.type", "domain\n");
  }
  for (const std::string& c : controllers) {
    auto it = V2Files().find(c);
    ASSERT_NE(it, V2Files().end()) << c;
    if (root) continue;  // the root cgroup has no controller interface files
    for (const auto& [file, content] : it->second) Write(d + "/" + file, content);
  }
}

namespace {
std::vector<std::string> ChainOf(std::string_view mount, std::string_view leaf) {
  std::vector<std::string> chain;
  std::string cur(mount);
  for (std::string_view part : Split(leaf, '/')) {
    if (part.empty()) continue;
    StrAppend(&cur, "/", part);
    chain.push_back(cur);
  }
  return chain;
}
}  // namespace

Layout FakeCgroupfs::Hybrid(std::string_view leaf) const {
  const std::vector<std::pair<std::string, std::string>> v1 = {
      {"cpu", "cpu"},       {"cpuacct", "cpuacct"}, {"cpuset", "cpuset"},
      {"memory", "memory"}, {"devices", "devices"}, {"freezer", "freezer"},
      {"blkio", "blkio"},   {"pids", "pids"},       {"systemd", "name=systemd"}};
  for (const auto& [dir, ctl] : v1) {
    std::string mount = "/sys/fs/cgroup/" + dir;
    MakeV1(mount, {ctl}, true);
    for (const std::string& d : ChainOf(mount, leaf)) MakeV1(d, {ctl});
  }
  MakeV2("/sys/fs/cgroup/unified", {"hugetlb"}, true);
  for (const std::string& d : ChainOf("/sys/fs/cgroup/unified", leaf)) MakeV2(d, {"hugetlb"});
  DetectOptions o;
  o.path_prefix = prefix_;
  absl::StatusOr<Layout> l = Layout::FromTexts(kHybridMountInfo, kHybridSelfCgroup, kHybridProcCgroups, o);
  EXPECT_TRUE(l.ok()) << l.status();
  return *l;
}

Layout FakeCgroupfs::V2(std::string_view leaf) const {
  const std::vector<std::string> all = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"};
  MakeV2("/sys/fs/cgroup", all, true);
  for (const std::string& d : ChainOf("/sys/fs/cgroup", leaf)) MakeV2(d, all);
  DetectOptions o;
  o.path_prefix = prefix_;
  absl::StatusOr<Layout> l = Layout::FromTexts(kV2MountInfo, kV2SelfCgroup, "", o);
  EXPECT_TRUE(l.ok()) << l.status();
  return *l;
}

Layout FakeCgroupfs::V1(std::string_view leaf) const {
  const std::vector<std::pair<std::string, std::vector<std::string>>> v1 = {
      {"systemd", {"name=systemd"}},
      {"cpu,cpuacct", {"cpu", "cpuacct"}},
      {"net_cls,net_prio", {"net_cls", "net_prio"}},
      {"memory", {"memory"}},
      {"pids", {"pids"}},
      {"devices", {"devices"}},
      {"freezer", {"freezer"}},
      {"cpuset", {"cpuset"}},
      {"blkio", {"blkio"}},
      {"hugetlb", {"hugetlb"}},
      {"perf_event", {"perf_event"}}};
  for (const auto& [dir, ctls] : v1) {
    std::string mount = "/sys/fs/cgroup/" + dir;
    MakeV1(mount, ctls, true);
    for (const std::string& d : ChainOf(mount, leaf)) MakeV1(d, ctls);
  }
  DetectOptions o;
  o.path_prefix = prefix_;
  absl::StatusOr<Layout> l = Layout::FromTexts(kV1MountInfo, kV1SelfCgroup, "", o);
  EXPECT_TRUE(l.ok()) << l.status();
  return *l;
}

}  // namespace cricket::cgroups::testing
