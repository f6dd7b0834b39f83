#include "lib/runtime/cgroups/stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "lib/runtime/cgroups/fake_cgroupfs.h"

namespace cricket::cgroups {
namespace {

using testing::FakeCgroupfs;

TEST(StatsTest, V1MemoryWorkingSetIsUsageMinusTotalInactiveFile) {
  FakeCgroupfs fs;
  fs.MakeV1("/m", {"memory"});
  fs.Write("/m/memory.usage_in_bytes", "10485760\n");
  fs.Write("/m/memory.limit_in_bytes", "16777216\n");
  fs.Write("/m/memory.max_usage_in_bytes", "16777216\n");
  fs.Write("/m/memory.failcnt", "12\n");
  fs.Write("/m/memory.memsw.usage_in_bytes", "11534336\n");
  fs.Write("/m/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  fs.Write("/m/memory.stat",
           "cache 4096\nrss 8192\ninactive_file 4096\npgfault 10\n"
           "total_cache 2097152\ntotal_rss 7340032\ntotal_inactive_file 1048576\ntotal_active_file 1048576\n"
           "total_pgfault 300\ntotal_pgmajfault 7\n");
  auto s = ReadMemoryStatsV1(fs.Path("/m"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->usage, 10485760u);
  EXPECT_EQ(s->working_set, 10485760u - 1048576u);
  EXPECT_EQ(s->rss, 7340032u);
  EXPECT_EQ(s->cache, 2097152u);
  EXPECT_EQ(s->page_faults, 300u);
  EXPECT_EQ(s->major_page_faults, 7u);
  EXPECT_EQ(s->swap, 1048576u);
  EXPECT_EQ(s->limit, std::optional<uint64_t>(16777216));
  EXPECT_EQ(s->failcnt, 12u);
  EXPECT_EQ(s->oom_kills, 2u);
  fs.Write("/m/memory.limit_in_bytes", "9223372036854771712\n");
  fs.Write("/m/memory.usage_in_bytes", "100\n");  // less than inactive_file: working set 0, not a wrap
  s = ReadMemoryStatsV1(fs.Path("/m"));
  EXPECT_EQ(s->limit, std::nullopt);
  EXPECT_EQ(s->working_set, 0u);
}

TEST(StatsTest, V2Memory) {
  FakeCgroupfs fs;
  fs.MakeV2("/c", {"memory"});
  fs.Write("/c/memory.current", "20971520\n");
  fs.Write("/c/memory.max", "33554432\n");
  fs.Write("/c/memory.swap.current", "4096\n");
  fs.Write("/c/memory.peak", "30000000\n");
  fs.Write("/c/memory.stat",
           "anon 12582912\nfile 6291456\nkernel 1000\ninactive_file 2097152\n"
           "active_file 4194304\npgfault 900\npgmajfault 3\n");
  fs.Write("/c/memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n");
  auto s = ReadMemoryStatsV2(fs.Path("/c"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->usage, 20971520u);
  EXPECT_EQ(s->working_set, 20971520u - 2097152u);
  EXPECT_EQ(s->rss, 12582912u);
  EXPECT_EQ(s->cache, 6291456u);
  EXPECT_EQ(s->page_faults, 900u);
  EXPECT_EQ(s->swap, 4096u);
  EXPECT_EQ(s->max_usage, 30000000u);
  EXPECT_EQ(s->limit, std::optional<uint64_t>(33554432));
  EXPECT_EQ(s->failcnt, 5u);
  EXPECT_EQ(s->oom_kills, 1u);
  fs.Write("/c/memory.max", "max\n");
  EXPECT_EQ(ReadMemoryStatsV2(fs.Path("/c"))->limit, std::nullopt);
}

TEST(StatsTest, Cpu) {
  FakeCgroupfs fs;
  fs.MakeV1("/acct", {"cpuacct"});
  fs.MakeV1("/cpu", {"cpu"});
  fs.Write("/acct/cpuacct.usage", "5000000000\n");
  fs.Write("/acct/cpuacct.usage_user", "3000000000\n");
  fs.Write("/acct/cpuacct.usage_sys", "2000000000\n");
  fs.Write("/cpu/cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 123456\nnr_bursts 0\n");
  auto v1 = ReadCpuStatsV1(fs.Path("/acct"), fs.Path("/cpu"));
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, (CpuStats{5000000000, 3000000000, 2000000000, 10, 4, 123456}));
  // Older kernels: only cpuacct.stat, in USER_HZ ticks.
  ASSERT_EQ(::unlink(fs.Path("/acct/cpuacct.usage_user").c_str()), 0);
  fs.Write("/acct/cpuacct.stat", "user 250\nsystem 50\n");
  v1 = ReadCpuStatsV1(fs.Path("/acct"), "");
  uint64_t tick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_EQ(v1->user_ns, 250 * tick);
  EXPECT_EQ(v1->system_ns, 50 * tick);
  EXPECT_EQ(v1->periods, 0u);

  fs.MakeV2("/v2", {"cpu"});
  fs.Write("/v2/cpu.stat",
           "usage_usec 7000\nuser_usec 4000\nsystem_usec 3000\nnr_periods 2\nnr_throttled 1\n"
           "throttled_usec 500\nnr_bursts 0\nburst_usec 0\n");
  auto v2 = ReadCpuStatsV2(fs.Path("/v2"));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(*v2, (CpuStats{7000000, 4000000, 3000000, 2, 1, 500000}));
}

TEST(StatsTest, PidsHugetlbAndIo) {
  FakeCgroupfs fs;
  fs.MakeV1("/p", {"pids", "hugetlb", "blkio"});
  fs.Write("/p/pids.current", "3\n");
  fs.Write("/p/pids.max", "max\n");
  auto pids = ReadPidsStats(fs.Path("/p"));
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(*pids, (PidsStats{3, std::nullopt}));
  fs.Write("/p/hugetlb.2MB.usage_in_bytes", "4194304\n");
  fs.Write("/p/hugetlb.2MB.failcnt", "1\n");
  fs.Write("/p/hugetlb.2MB.rsvd.usage_in_bytes", "0\n");
  auto h1 = ReadHugetlbStats(fs.Path("/p"), 1);
  ASSERT_TRUE(h1.ok()) << h1.status();
  ASSERT_EQ(h1->size(), 2u);
  EXPECT_EQ(h1->at("2MB"), (HugetlbStats{4194304, 0, 1}));
  fs.Write("/p/blkio.throttle.io_service_bytes_recursive",
           "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 12288\n"
           "8:16 Read 1\n8:16 Write 2\n8:16 Total 3\nTotal 12291\n");
  fs.Write("/p/blkio.throttle.io_serviced_recursive", "8:0 Read 2\n8:0 Write 3\nTotal 5\n");
  auto io = ReadIoStatsV1(fs.Path("/p"));
  ASSERT_TRUE(io.ok());
  EXPECT_EQ(*io, (IoStats{4097, 8194, 2, 3}));

  fs.MakeV2("/v2", {"hugetlb", "io", "pids"});
  fs.Write("/v2/hugetlb.2MB.current", "2097152\n");
  fs.Write("/v2/hugetlb.2MB.events", "max 4\n");
  auto h2 = ReadHugetlbStats(fs.Path("/v2"), 2);
  ASSERT_TRUE(h2.ok());
  EXPECT_EQ(h2->at("2MB"), (HugetlbStats{2097152, 0, 4}));
  EXPECT_EQ(h2->at("1GB").usage, 0u);
  fs.Write("/v2/io.stat",
           "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
           "8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n");
  auto io2 = ReadIoStatsV2(fs.Path("/v2"));
  ASSERT_TRUE(io2.ok());
  EXPECT_EQ(*io2, (IoStats{1459200 + 90430464, 314773504 + 299008000, 192 + 8950, 353 + 1252}));
  fs.Write("/v2/pids.max", "10\n");
  EXPECT_EQ(ReadPidsStats(fs.Path("/v2"))->limit, std::optional<uint64_t>(10));
}

}  // namespace
}  // namespace cricket::cgroups
