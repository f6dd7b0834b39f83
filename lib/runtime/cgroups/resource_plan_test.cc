#include "lib/runtime/cgroups/resource_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "lib/runtime/cgroups/fake_cgroupfs.h"
#include "lib/runtime/cgroups/manager.h"

namespace cricket::cgroups {
namespace {

using testing::FakeCgroupfs;

class RecordingInstaller : public DeviceFilterInstaller {
 public:
  absl::Status Install(const std::string& dir, const std::vector<DeviceRule>& rules) const override {
    calls.emplace_back(dir, rules);
    return absl::OkStatus();
  }
  mutable std::vector<std::pair<std::string, std::vector<DeviceRule>>> calls;
};

oci::LinuxResources Everything() {
  oci::LinuxResources r;
  r.memory.emplace();
  r.memory->limit = 64 << 20;
  r.memory->swap = 96 << 20;
  r.memory->reservation = 32 << 20;
  r.cpu.emplace();
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "0";
  r.cpu->mems = "0";
  r.pids.emplace();
  r.pids->limit = 100;
  r.hugepage_limits.push_back(oci::HugepageLimit{"2MB", 4 << 20});
  oci::DeviceCgroupRule deny_all;
  deny_all.access = "rwm";
  oci::DeviceCgroupRule null_dev{true, "c", 1, 3, "rwm"};
  r.devices = {deny_all, null_dev};
  return r;
}

Manager Open(const Layout& l, std::string_view path, const DeviceFilterInstaller* installer = nullptr) {
  ManagerOptions o;
  o.device_filter = installer;
  auto m = Manager::Open(l, CgroupPath{std::string(path), false}, o);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

TEST(ConversionTest, SharesToWeightAndBlkioToIoWeight) {
  EXPECT_EQ(CpuSharesToWeight(0), 0u);
  EXPECT_EQ(CpuSharesToWeight(2), 1u);
  EXPECT_EQ(CpuSharesToWeight(1), 1u);
  EXPECT_EQ(CpuSharesToWeight(1024), 39u);  // 1 + (1022 * 9999) / 262142 = 1 + 38
  EXPECT_EQ(CpuSharesToWeight(102), 4u);    // 1 + (100 * 9999) / 262142 = 1 + 3
  EXPECT_EQ(CpuSharesToWeight(262144), 10000u);
  EXPECT_EQ(CpuSharesToWeight(1u << 20), 10000u);
  EXPECT_EQ(BlkioWeightToIoWeight(10), 1u);
  EXPECT_EQ(BlkioWeightToIoWeight(500), 4950u);  // 1 + (490 * 9999) / 990
  EXPECT_EQ(BlkioWeightToIoWeight(1000), 10000u);
}

TEST(ResourcePlanTest, HybridWritesV1FilesAndHugetlbThroughUnified) {
  FakeCgroupfs fs;
  Layout l = fs.Hybrid("/kubepods/pod1/ctr");
  RecordingInstaller bpf;
  Manager m = Open(l, "/kubepods/pod1/ctr", &bpf);
  ASSERT_TRUE(m.Set(Everything()).ok());
  const std::string c = "/kubepods/pod1/ctr/";
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/memory" + c + "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/memory" + c + "memory.memsw.limit_in_bytes"), "100663296");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/memory" + c + "memory.soft_limit_in_bytes"), "33554432");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpu" + c + "cpu.shares"), "1024");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpu" + c + "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpu" + c + "cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpuset" + c + "cpuset.cpus"), "0");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/pids" + c + "pids.max"), "100");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/unified" + c + "hugetlb.2MB.max"), "4194304");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/unified" + c + "hugetlb.2MB.rsvd.max"), "4194304");
  // v1 devices: the plan resets to deny-all and allows /dev/null; no eBPF program.
  auto plan = m.Plan(Everything(), false);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->device_program.has_value());
  std::vector<std::string> device_lines;
  for (const CgroupWrite& w : plan->writes) {
    if (w.file.rfind("devices.", 0) == 0) device_lines.push_back(w.file + " " + w.value);
  }
  EXPECT_EQ(device_lines, (std::vector<std::string>{"devices.deny a", "devices.allow c 1:3 rwm"}));
  EXPECT_TRUE(bpf.calls.empty());
  // Memory and memory+swap are one ordered pair.
  const CgroupWrite* mem = nullptr;
  for (const CgroupWrite& w : plan->writes) {
    if (w.file == "memory.limit_in_bytes") mem = &w;
  }
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->pair_file, "memory.memsw.limit_in_bytes");
}

TEST(ResourcePlanTest, V2WritesEveryResource) {
  FakeCgroupfs fs;
  Layout l = fs.V2("/kubepods/pod1/ctr");
  RecordingInstaller bpf;
  Manager m = Open(l, "/kubepods/pod1/ctr", &bpf);
  oci::LinuxResources r = Everything();
  r.cpu->burst = 1000;
  r.cpu->idle = 1;
  r.block_io.emplace();
  r.block_io->weight = 500;
  r.block_io->weight_device.push_back(oci::WeightDevice{8, 0, 100, std::nullopt});
  r.block_io->throttle_read_bps_device.push_back(oci::ThrottleDevice{8, 0, 1048576});
  r.block_io->throttle_write_iops_device.push_back(oci::ThrottleDevice{8, 16, 0});
  r.rdma["mlx5_1"] = oci::RdmaLimit{3, std::nullopt};
  r.unified["memory.high"] = "50331648";
  ASSERT_TRUE(m.Set(r).ok());
  const std::string d = "/sys/fs/cgroup/kubepods/pod1/ctr/";
  EXPECT_EQ(fs.Read(d + "memory.max"), "67108864");
  EXPECT_EQ(fs.Read(d + "memory.swap.max"), "33554432");  // swap - limit
  EXPECT_EQ(fs.Read(d + "memory.low"), "33554432");
  EXPECT_EQ(fs.Read(d + "memory.high"), "50331648");
  EXPECT_EQ(fs.Read(d + "cpu.weight"), "39");
  EXPECT_EQ(fs.Read(d + "cpu.max"), "50000 100000");
  EXPECT_EQ(fs.Read(d + "cpu.max.burst"), "1000");
  EXPECT_EQ(fs.Read(d + "cpu.idle"), "1");
  EXPECT_EQ(fs.Read(d + "cpuset.cpus"), "0");
  EXPECT_EQ(fs.Read(d + "cpuset.mems"), "0");
  EXPECT_EQ(fs.Read(d + "pids.max"), "100");
  EXPECT_EQ(fs.Read(d + "hugetlb.2MB.max"), "4194304");
  EXPECT_EQ(fs.Read(d + "rdma.max"), "mlx5_1 hca_handle=3");
  auto plan = m.Plan(r, false);
  ASSERT_TRUE(plan.ok());
  std::vector<std::string> io;
  for (const CgroupWrite& w : plan->writes) {
    if (w.file.rfind("io.", 0) == 0) io.push_back(w.file + ": " + w.value);
  }
  EXPECT_EQ(io, (std::vector<std::string>{"io.weight: default 4950", "io.weight: 8:0 910",
                                          "io.max: 8:0 rbps=1048576", "io.max: 8:16 wiops=max"}));
  ASSERT_EQ(bpf.calls.size(), 1u);
  EXPECT_EQ(bpf.calls[0].first, fs.Path(d.substr(0, d.size() - 1)));
  ASSERT_EQ(bpf.calls[0].second.size(), 2u);
  EXPECT_TRUE(bpf.calls[0].second[1].allow);
  EXPECT_EQ(bpf.calls[0].second[1].major, 1);
}

TEST(ResourcePlanTest, V2UnlimitedAndPeriodOnlyUpdates) {
  FakeCgroupfs fs;
  Layout l = fs.V2("/c");
  Manager m = Open(l, "/c");
  fs.Write("/sys/fs/cgroup/c/cpu.max", "20000 100000\n");
  oci::LinuxResources r;
  r.memory.emplace();
  r.memory->limit = -1;
  r.cpu.emplace();
  r.cpu->period = 50000;
  r.pids.emplace();
  r.pids->limit = 0;
  ASSERT_TRUE(m.Update(r).ok());
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/memory.max"), "max");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/memory.swap.max"), "max");  // unlimited memory lifts swap too
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/cpu.max"), "20000 50000");  // the quota is kept
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/pids.max"), "max");
}

TEST(ResourcePlanTest, V1WritesEveryV1OnlyResource) {
  FakeCgroupfs fs;
  Layout l = fs.V1("/c");
  Manager m = Open(l, "/c");
  oci::LinuxResources r;
  r.memory.emplace();
  r.memory->limit = 1 << 30;
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  r.memory->kernel_tcp = 1 << 20;
  r.cpu.emplace();
  r.cpu->realtime_period = 1000000;
  r.cpu->realtime_runtime = 950000;
  r.cpu->quota = -1;
  r.network.emplace();
  r.network->class_id = 0x100001;
  r.network->priorities.push_back(oci::InterfacePriority{"eth0", 5});
  r.block_io.emplace();
  r.block_io->weight = 300;
  r.block_io->throttle_write_bps_device.push_back(oci::ThrottleDevice{8, 0, 4096});
  r.hugepage_limits.push_back(oci::HugepageLimit{"1GB", 1 << 30});
  ASSERT_TRUE(m.Set(r).ok());
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/memory/c/memory.limit_in_bytes"), "1073741824");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/memory/c/memory.swappiness"), "10");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/memory/c/memory.oom_control"), "1");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/memory/c/memory.kmem.tcp.limit_in_bytes"), "1048576");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpu,cpuacct/c/cpu.rt_period_us"), "1000000");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpu,cpuacct/c/cpu.rt_runtime_us"), "950000");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/cpu,cpuacct/c/cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/net_cls,net_prio/c/net_cls.classid"), "1048577");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/net_cls,net_prio/c/net_prio.ifpriomap"), "eth0 5");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/blkio/c/blkio.bfq.weight"), "300");  // no CFQ: the BFQ file
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/blkio/c/blkio.throttle.write_bps_device"), "8:0 4096");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/hugetlb/c/hugetlb.1GB.limit_in_bytes"), "1073741824");
  // With CFQ's blkio.weight present, that one is used.
  fs.Write("/sys/fs/cgroup/blkio/c/blkio.weight", "500\n");
  ASSERT_TRUE(m.Set(r).ok());
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/blkio/c/blkio.weight"), "300");
}

TEST(ResourcePlanTest, ErrorsNameTheResourceAndWriteNothing) {
  FakeCgroupfs fs;
  Layout hybrid = fs.Hybrid("/c");
  Manager m = Open(hybrid, "/c");
  auto expect_error = [&](const Manager& mgr, const oci::LinuxResources& r, std::string_view needle) {
    absl::Status st = mgr.Set(r);
    EXPECT_FALSE(st.ok()) << needle;
    EXPECT_NE(std::string(st.message()).find(needle), std::string_view::npos) << st;
  };
  oci::LinuxResources r;
  r.memory.emplace();
  r.memory->limit = 100 << 20;
  r.memory->swap = 50 << 20;
  expect_error(m, r, "is below linux.resources.memory.limit");
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/memory/c/memory.limit_in_bytes"), "9223372036854771712\n");

  oci::LinuxResources net;
  net.network.emplace();
  net.network->class_id = 1;
  expect_error(m, net, "\"net_cls\" cgroup controller");

  oci::LinuxResources unified;
  unified.unified["memory.high"] = "1";
  expect_error(m, unified, "runs on cgroup v1");
  unified.unified = {{"../x", "1"}};
  expect_error(m, unified, "is not a file name");
  unified.unified = {{"a/b", "1"}};
  expect_error(m, unified, "is not a file name");

  oci::LinuxResources huge;
  huge.hugepage_limits.push_back(oci::HugepageLimit{"3MB", 1});
  expect_error(m, huge, "hugepage size 3MB");
  huge.hugepage_limits = {oci::HugepageLimit{"2M/../x", 1}};
  expect_error(m, huge, "is not of the form");

  oci::LinuxResources blkio;
  blkio.block_io.emplace();
  blkio.block_io->weight = 5;
  expect_error(m, blkio, "not within 10..1000");
  ASSERT_EQ(::unlink(fs.Path("/sys/fs/cgroup/blkio/c/blkio.bfq.weight").c_str()), 0);
  blkio.block_io->weight = 500;
  expect_error(m, blkio, "neither blkio.weight nor blkio.bfq.weight");

  oci::LinuxResources dev;
  dev.devices.push_back(oci::DeviceCgroupRule{true, "x", 1, 3, "r"});
  expect_error(m, dev, "linux.resources.devices[0]");

  FakeCgroupfs fs2;
  Manager v2 = Open(fs2.V2("/c"), "/c");
  oci::LinuxResources rt;
  rt.cpu.emplace();
  rt.cpu->realtime_runtime = 1000;
  expect_error(v2, rt, "not supported on cgroup v2");
  oci::LinuxResources swappiness;
  swappiness.memory.emplace();
  swappiness.memory->swappiness = 30;
  expect_error(v2, swappiness, "swappiness");
  oci::LinuxResources swap_only;
  swap_only.memory.emplace();
  swap_only.memory->swap = 1 << 20;
  expect_error(v2, swap_only, "needs a memory.limit");
  // A controller the parent did not enable for the leaf.
  fs2.Write("/sys/fs/cgroup/c/cgroup.controllers", "cpu memory\n");
  oci::LinuxResources pids;
  pids.pids.emplace();
  pids.pids->limit = 5;
  expect_error(v2, pids, "cgroup v2 controller \"pids\", which is not enabled");
  oci::LinuxResources uk;
  ASSERT_EQ(::unlink(fs2.Path("/sys/fs/cgroup/c/io.weight").c_str()), 0);  // as the kernel would show it
  uk.unified["io.weight"] = "default 10";
  expect_error(v2, uk, "needs the cgroup v2 controller \"io\"");
  uk.unified = {{"memory.nonexistent", "1"}};
  expect_error(v2, uk, "does not exist");

  FakeCgroupfs fs3;
  Manager v1 = Open(fs3.V1("/c"), "/c");
  oci::LinuxResources u1;
  u1.unified["memory.high"] = "1";
  expect_error(v1, u1, "needs cgroup v2");
}

TEST(ResourcePlanTest, CheckBeforeUpdateRefusesALimitBelowUsage) {
  FakeCgroupfs fs;
  Manager m = Open(fs.V2("/c"), "/c");
  fs.Write("/sys/fs/cgroup/c/memory.current", "104857600\n");
  oci::LinuxResources r;
  r.memory.emplace();
  r.memory->limit = 50 << 20;
  r.memory->check_before_update = true;
  absl::Status st = m.Update(r);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/memory.max"), "max\n");
  EXPECT_TRUE(m.Set(r).ok());  // only updates check
  EXPECT_EQ(fs.Read("/sys/fs/cgroup/c/memory.max"), "52428800");
}

TEST(ResourcePlanTest, V2DeviceRulesInstallAProgramOnTheUnifiedCgroup) {
  FakeCgroupfs fs;
  RecordingInstaller bpf;
  Manager m = Open(fs.V2("/c"), "/c", &bpf);
  oci::LinuxResources r;
  r.devices.push_back(oci::DeviceCgroupRule{false, "", std::nullopt, std::nullopt, ""});
  r.devices.push_back(oci::DeviceCgroupRule{true, "c", 136, std::nullopt, "rw"});
  ASSERT_TRUE(m.Set(r).ok());
  ASSERT_EQ(bpf.calls.size(), 1u);
  EXPECT_EQ(bpf.calls[0].first, fs.Path("/sys/fs/cgroup/c"));
  EXPECT_EQ(bpf.calls[0].second[1], (DeviceRule{true, 'c', 136, -1, kAccessRead | kAccessWrite}));
  // No rules: no program (the cgroup's device access is left as it is).
  ASSERT_TRUE(m.Set(oci::LinuxResources{}).ok());
  EXPECT_EQ(bpf.calls.size(), 1u);
}

}  // namespace
}  // namespace cricket::cgroups
