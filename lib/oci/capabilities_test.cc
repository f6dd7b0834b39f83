#include "lib/oci/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "lib/common/file_util.h"

namespace cricket::oci {
namespace {

TEST(Capabilities, NamesMatchKernelNumbers) {
  EXPECT_EQ(CapabilityName(CAP_CHOWN), "CAP_CHOWN");
  EXPECT_EQ(CapabilityName(CAP_NET_RAW), "CAP_NET_RAW");
  EXPECT_EQ(CapabilityName(CAP_SYS_ADMIN), "CAP_SYS_ADMIN");
  EXPECT_EQ(CapabilityName(CAP_AUDIT_READ), "CAP_AUDIT_READ");
  EXPECT_EQ(CapabilityName(CAP_PERFMON), "CAP_PERFMON");
  EXPECT_EQ(CapabilityName(CAP_BPF), "CAP_BPF");
  EXPECT_EQ(CapabilityName(CAP_CHECKPOINT_RESTORE), "CAP_CHECKPOINT_RESTORE");
  EXPECT_EQ(kLastKnownCap, CAP_LAST_CAP);
  EXPECT_EQ(CapabilityName(41), "");
  EXPECT_EQ(CapabilityName(-1), "");
  for (int i = 0; i <= kLastKnownCap; ++i) {
    EXPECT_EQ(CapabilityNumber(CapabilityName(i)), i) << i;
  }
}

TEST(Capabilities, AcceptsPrefixlessAndAnyCase) {
  EXPECT_EQ(CapabilityNumber("CAP_KILL"), CAP_KILL);
  EXPECT_EQ(CapabilityNumber("KILL"), CAP_KILL);
  EXPECT_EQ(CapabilityNumber("net_bind_service"), CAP_NET_BIND_SERVICE);
  EXPECT_EQ(CapabilityNumber("cap_sys_time"), CAP_SYS_TIME);
  EXPECT_FALSE(CapabilityNumber("CAP_FLY").has_value());
  EXPECT_FALSE(CapabilityNumber("").has_value());
  EXPECT_FALSE(CapabilityNumber("CAP_").has_value());
  EXPECT_EQ(*CanonicalCapabilityName("setuid"), "CAP_SETUID");
  EXPECT_EQ(CanonicalCapabilityName("FLY").status().message(), "unknown capability \"FLY\"");
}

TEST(Capabilities, CanonicalListsExpandAllAndDropDuplicates) {
  std::vector<std::string> all = {"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"};
  auto caps = CanonicalCapabilityNames({"kill", "CAP_KILL", "all", "mknod"}, all);
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_EQ(*caps, (std::vector<std::string>{"CAP_KILL", "CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_MKNOD"}));
  EXPECT_FALSE(CanonicalCapabilityNames({"CAP_CHOWN", "nope"}, all).ok());
}

TEST(Capabilities, ParsesProcStatus) {
  auto sets = ParseProcStatusCaps(
      "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\n"
      "CapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000001\nNoNewPrivs:\t0\n");
  ASSERT_TRUE(sets.ok()) << sets.status();
  EXPECT_EQ(sets->permitted, 0x1fffeffffffULL);
  EXPECT_EQ(sets->ambient, 1u);
  EXPECT_FALSE(ParseProcStatusCaps("CapInh:\t0\nCapPrm:\tzz\n").ok());
  EXPECT_FALSE(ParseProcStatusCaps("Name:\tx\n").ok());
}

TEST(Capabilities, GrantableIsBoundingAndPermittedUpToLastCap) {
  ProcessCapSets sets;
  sets.bounding = 0x1fffeffffffULL;  // all of 0..40 except CAP_SYS_RESOURCE (24)
  sets.permitted = ~0ULL;
  std::vector<std::string> caps = GrantableCapabilities(40, sets);
  EXPECT_EQ(caps.size(), 40u);
  EXPECT_EQ(std::count(caps.begin(), caps.end(), "CAP_SYS_RESOURCE"), 0);
  EXPECT_EQ(caps.back(), "CAP_CHECKPOINT_RESTORE");
  // An older kernel (cap_last_cap 37) cannot grant CAP_PERFMON, CAP_BPF or CAP_CHECKPOINT_RESTORE.
  caps = GrantableCapabilities(37, sets);
  EXPECT_EQ(caps.back(), "CAP_AUDIT_READ");
  // A newer kernel's unnamed capabilities are left out.
  sets.bounding = ~0ULL;
  EXPECT_EQ(GrantableCapabilities(45, sets).size(), 41u);
  // Permitted limits too.
  sets.permitted = (1ULL << CAP_CHOWN) | (1ULL << CAP_KILL);
  EXPECT_EQ(GrantableCapabilities(40, sets), (std::vector<std::string>{"CAP_CHOWN", "CAP_KILL"}));
}

TEST(Capabilities, ReadLastCap) {
  char tmpl[] = "/tmp/oci_cap_test.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  ASSERT_TRUE(WriteFileAtomic(dir + "/last", "37\n").ok());
  EXPECT_EQ(*ReadLastCap(dir + "/last"), 37);
  ASSERT_TRUE(WriteFileAtomic(dir + "/last", "x\n").ok());
  EXPECT_FALSE(ReadLastCap(dir + "/last").ok());
  ASSERT_TRUE(RemoveAll(dir).ok());
  absl::StatusOr<int> host = ReadLastCap();
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_GE(*host, 30);
}

TEST(Capabilities, HostGrantableMatchesThisProcess) {
  absl::StatusOr<std::vector<std::string>> caps = HostGrantableCapabilities();
  ASSERT_TRUE(caps.ok()) << caps.status();
  // Cross-check against the kernel's own answers: prctl(PR_CAPBSET_READ) for the bounding set and
  // capget(2) for the permitted set.
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  ASSERT_EQ(syscall(SYS_capget, &hdr, data), 0);
  uint64_t permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  int last = *ReadLastCap();
  for (int i = 0; i <= std::min(last, kLastKnownCap); ++i) {
    bool listed = std::find(caps->begin(), caps->end(), CapabilityName(i)) != caps->end();
    bool grantable = prctl(PR_CAPBSET_READ, i) == 1 && (permitted & (uint64_t{1} << i)) != 0;
    EXPECT_EQ(listed, grantable) << CapabilityName(i);
  }
}

}  // namespace
}  // namespace cricket::oci
