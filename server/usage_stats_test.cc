#include "server/usage_stats.h"

#include <gtest/gtest.h>

#include <thread>

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;

constexpr int64_t kSecond = 1'000'000'000;

TEST(NanoCoresTest, RateOverTheInterval) {
  // Half a CPU second over one wall second: half a core.
  EXPECT_EQ(NanoCores({kSecond, 1000}, {2 * kSecond, 1000 + kSecond / 2}),
            std::optional<uint64_t>(500'000'000));
  // Two busy cores for 10 s.
  EXPECT_EQ(NanoCores({0, 0}, {10 * kSecond, 20 * kSecond}), std::optional<uint64_t>(2'000'000'000));
  // Idle.
  EXPECT_EQ(NanoCores({0, 7}, {kSecond, 7}), std::optional<uint64_t>(0));
  // A long interval with a large total does not overflow: 3000 CPU seconds over 1000 s is 3 cores.
  EXPECT_EQ(NanoCores({0, 5 * kSecond}, {1000 * kSecond, 3005 * kSecond}),
            std::optional<uint64_t>(3'000'000'000));
}

TEST(NanoCoresTest, NoRateForAnEmptyIntervalOrAUsageThatWentBack) {
  EXPECT_EQ(NanoCores({kSecond, 100}, {kSecond, 200}), std::nullopt);
  EXPECT_EQ(NanoCores({2 * kSecond, 100}, {kSecond, 200}), std::nullopt);
  EXPECT_EQ(NanoCores({kSecond, 200}, {2 * kSecond, 100}), std::nullopt);
}

TEST(CpuRateTrackerTest, FirstSampleHasNoRateThenEachIntervalIsMeasured) {
  CpuRateTracker t;
  EXPECT_EQ(t.Update("a", {10 * kSecond, 0}), std::nullopt);
  EXPECT_EQ(t.Update("a", {11 * kSecond, kSecond / 4}), std::optional<uint64_t>(250'000'000));
  // The next rate is measured from the previous sample, not from the first.
  EXPECT_EQ(t.Update("a", {13 * kSecond, kSecond / 4 + 3 * kSecond}), std::optional<uint64_t>(1'500'000'000));
  // Keys are independent.
  EXPECT_EQ(t.Update("b", {13 * kSecond, 5}), std::nullopt);
  EXPECT_EQ(t.size(), 2u);
}

TEST(CpuRateTrackerTest, ATooShortIntervalRepeatsTheLastRateAndKeepsTheOlderSample) {
  CpuRateTracker t(/*min_interval_ns=*/kSecond / 10);
  EXPECT_EQ(t.Update("a", {0, 0}), std::nullopt);
  // 1 ms later: too short for a first rate.
  EXPECT_EQ(t.Update("a", {kSecond / 1000, 1'000'000}), std::nullopt);
  EXPECT_EQ(t.Update("a", {kSecond, kSecond / 2}), std::optional<uint64_t>(500'000'000));
  // A second client asking right after gets the same rate...
  EXPECT_EQ(t.Update("a", {kSecond + 1000, kSecond / 2 + 1000}), std::optional<uint64_t>(500'000'000));
  // ...and the interval after that is measured from the sample at 1 s.
  EXPECT_EQ(t.Update("a", {2 * kSecond, kSecond / 2 + kSecond / 10}), std::optional<uint64_t>(100'000'000));
}

TEST(CpuRateTrackerTest, AUsageThatWentBackStartsOver) {
  CpuRateTracker t;
  EXPECT_EQ(t.Update("a", {0, 5 * kSecond}), std::nullopt);
  EXPECT_EQ(t.Update("a", {kSecond, 5 * kSecond + kSecond}), std::optional<uint64_t>(kSecond));
  // A new cgroup under the same key (smaller total): no rate from the old one.
  EXPECT_EQ(t.Update("a", {2 * kSecond, 1000}), std::nullopt);
  EXPECT_EQ(t.Update("a", {3 * kSecond, 1000 + kSecond / 2}), std::optional<uint64_t>(500'000'000));
}

TEST(CpuRateTrackerTest, RetainForgetsGoneKeys) {
  CpuRateTracker t;
  t.Update("a", {0, 0});
  t.Update("b", {0, 0});
  t.Update("pod/c", {0, 0});
  t.Retain([](const std::string& k) { return k != "b"; });
  EXPECT_EQ(t.size(), 2u);
  // "b" starts over.
  EXPECT_EQ(t.Update("b", {kSecond, kSecond}), std::nullopt);
  EXPECT_EQ(t.Update("a", {kSecond, kSecond}), std::optional<uint64_t>(kSecond));
}

TEST(CpuRateTrackerTest, ConcurrentUpdatesAreSafe) {
  CpuRateTracker t(0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&t, i] {
      for (int j = 1; j <= 1000; ++j) t.Update("k" + std::to_string(i % 2), {j * 1000LL, j * 500ULL});
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(t.size(), 2u);
}

// A real file from a pod's network namespace (Linux 6.1), with the loopback, the CNI veth and a
// second interface.
constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
    "carrier compressed\n"
    "    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0 "
    "      0          0\n"
    "  eth0: 1296004      16    1    2    0     0          0         0      656       8    3    4    0     0 "
    "      0          0\n"
    "  net1:18446744073709551615 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n";

TEST(RecentReadingsTest, AReadingIsReusedWhileYoungAndOfTheSameTag) {
  RecentReadings<int> r(1'000);
  EXPECT_EQ(r.Get("a", 100, 1), std::nullopt);
  r.Put("a", 100, 1, 42);
  EXPECT_EQ(r.Get("a", 100, 1), 42);
  EXPECT_EQ(r.Get("a", 1'099, 1), 42);
  EXPECT_EQ(r.Get("a", 1'100, 1), std::nullopt);  // as old as the limit: read anew
  EXPECT_EQ(r.Get("a", 500, 2), std::nullopt);    // the container changed state since
  EXPECT_EQ(r.Get("a", 50, 1), std::nullopt);     // a clock that went back
  EXPECT_EQ(r.Get("b", 500, 1), std::nullopt);
  r.Put("a", 2'000, 1, 7);
  EXPECT_EQ(r.Get("a", 2'500, 1), 7);
}

TEST(RecentReadingsTest, RetainDropsExpiredAndGoneKeys) {
  RecentReadings<int> r(1'000);
  r.Put("old", 0, 0, 1);
  r.Put("gone", 900, 0, 2);
  r.Put("kept", 900, 0, 3);
  r.Retain(1'200, [](const std::string& k) { return k != "gone"; });
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.Get("kept", 1'200, 0), 3);
}

TEST(ParseNetDevTest, ReadsEveryInterface) {
  auto parsed = ParseNetDev(kNetDev);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0], (InterfaceCounters{"lo", 140, 2, 0, 0, 140, 2, 0, 0}));
  EXPECT_EQ((*parsed)[1], (InterfaceCounters{"eth0", 1296004, 16, 1, 2, 656, 8, 3, 4}));
  // No space after the colon once the counter is wide; the counters are 64-bit.
  EXPECT_EQ((*parsed)[2].name, "net1");
  EXPECT_EQ((*parsed)[2].rx_bytes, 18446744073709551615ULL);
  EXPECT_EQ((*parsed)[2].tx_bytes, 7u);
}

TEST(ParseNetDevTest, HeadersOnlyIsNoInterface) {
  auto parsed = ParseNetDev(
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo "
      "colls "
      "carrier compressed\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->empty());
}

TEST(ParseNetDevTest, MalformedLinesAreNamed) {
  std::string head = "h1\nh2\n";
  auto missing_colon = ParseNetDev(head + "eth0 1 2 3\n");
  ASSERT_FALSE(missing_colon.ok());
  EXPECT_NE(std::string(missing_colon.status().message()).find("line 3"), std::string::npos)
      << missing_colon.status();
  auto too_few = ParseNetDev(head + "eth0: 1 2 3\n");
  ASSERT_FALSE(too_few.ok());
  EXPECT_NE(std::string(too_few.status().message()).find("16 counters"), std::string::npos)
      << too_few.status();
  auto not_a_number = ParseNetDev(head + "eth0: 1 2 3 4 5 6 7 8 9 10 11 x 13 14 15 16\n");
  ASSERT_FALSE(not_a_number.ok());
  EXPECT_NE(std::string(not_a_number.status().message()).find("\"x\""), std::string::npos)
      << not_a_number.status();
}

TEST(FillNetworkUsageTest, DefaultInterfaceIsEth0AndLoopbackIsLeftOut) {
  auto parsed = ParseNetDev(kNetDev);
  ASSERT_TRUE(parsed.ok());
  v1::NetworkUsage u;
  FillNetworkUsage(*parsed, "eth0", 42, &u);
  EXPECT_EQ(u.timestamp(), 42);
  EXPECT_EQ(u.default_interface().name(), "eth0");
  EXPECT_EQ(u.default_interface().rx_bytes().value(), 1296004u);
  EXPECT_EQ(u.default_interface().rx_errors().value(), 1u);
  EXPECT_EQ(u.default_interface().tx_bytes().value(), 656u);
  EXPECT_EQ(u.default_interface().tx_errors().value(), 3u);
  ASSERT_EQ(u.interfaces_size(), 2);
  EXPECT_EQ(u.interfaces(0).name(), "eth0");
  EXPECT_EQ(u.interfaces(1).name(), "net1");
}

TEST(FillNetworkUsageTest, WithoutEth0TheFirstOtherInterfaceIsTheDefault) {
  std::vector<InterfaceCounters> ifs = {{"lo", 1, 1, 0, 0, 1, 1, 0, 0}, {"veth7", 10, 1, 0, 0, 20, 2, 0, 0}};
  v1::NetworkUsage u;
  FillNetworkUsage(ifs, "eth0", 1, &u);
  EXPECT_EQ(u.default_interface().name(), "veth7");
  EXPECT_EQ(u.default_interface().tx_bytes().value(), 20u);
  v1::NetworkUsage only_lo;
  FillNetworkUsage({ifs[0]}, "eth0", 1, &only_lo);
  EXPECT_FALSE(only_lo.has_default_interface());
  EXPECT_EQ(only_lo.interfaces_size(), 0);
}

TEST(FillUsageTest, CpuAndMemoryFields) {
  v1::CpuUsage cpu;
  FillCpuUsage({.usage_ns = 123}, std::nullopt, 9, &cpu);
  EXPECT_EQ(cpu.timestamp(), 9);
  EXPECT_EQ(cpu.usage_core_nano_seconds().value(), 123u);
  EXPECT_FALSE(cpu.has_usage_nano_cores());
  FillCpuUsage({.usage_ns = 123}, 77, 9, &cpu);
  EXPECT_EQ(cpu.usage_nano_cores().value(), 77u);

  cgroups::MemoryStats m;
  m.usage = 1000;
  m.working_set = 600;
  m.rss = 500;
  m.page_faults = 30;
  m.major_page_faults = 2;
  v1::MemoryUsage mu;
  FillMemoryUsage(m, 5, &mu);
  EXPECT_EQ(mu.timestamp(), 5);
  EXPECT_EQ(mu.working_set_bytes().value(), 600u);
  EXPECT_EQ(mu.usage_bytes().value(), 1000u);
  EXPECT_EQ(mu.rss_bytes().value(), 500u);
  EXPECT_EQ(mu.page_faults().value(), 30u);
  EXPECT_EQ(mu.major_page_faults().value(), 2u);
  EXPECT_FALSE(mu.has_available_bytes());  // unlimited
  m.limit = 1024;
  FillMemoryUsage(m, 5, &mu);
  EXPECT_EQ(mu.available_bytes().value(), 424u);
  m.limit = 500;  // over the limit (working set counts reclaimable pages): nothing available
  FillMemoryUsage(m, 5, &mu);
  EXPECT_EQ(mu.available_bytes().value(), 0u);
}

TEST(SumStatsTest, AddsWhatIsPresentAndDropsLimits) {
  cgroups::Stats a;
  a.cpu.emplace();
  a.cpu->usage_ns = 100;
  a.memory.emplace();
  a.memory->usage = 10;
  a.memory->working_set = 8;
  a.memory->rss = 4;
  a.memory->limit = 1000;
  a.pids = cgroups::PidsStats{.current = 1, .limit = 5};
  cgroups::Stats b;
  b.cpu.emplace();
  b.cpu->usage_ns = 50;
  b.pids.emplace();
  b.pids->current = 2;
  cgroups::Stats sum = SumStats({a, b});
  ASSERT_TRUE(sum.cpu && sum.memory && sum.pids);
  EXPECT_EQ(sum.cpu->usage_ns, 150u);
  EXPECT_EQ(sum.memory->usage, 10u);
  EXPECT_EQ(sum.memory->working_set, 8u);
  EXPECT_EQ(sum.memory->limit, std::nullopt);
  EXPECT_EQ(sum.pids->current, 3u);
  EXPECT_EQ(sum.pids->limit, std::nullopt);
  cgroups::Stats none = SumStats({});
  EXPECT_FALSE(none.cpu || none.memory || none.pids);
}

}  // namespace
}  // namespace cricket::server
