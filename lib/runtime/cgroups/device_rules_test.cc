#include "lib/runtime/cgroups/device_rules.h"

#include <gtest/gtest.h>

#include <random>

#include "lib/runtime/cgroups/device_filter.h"

namespace cricket::cgroups {
namespace {

DeviceRule R(bool allow, char type, int64_t major, int64_t minor, std::string_view access) {
  auto r =
      MakeDeviceRule(allow, std::string(1, type), major < 0 ? std::nullopt : std::optional<int64_t>(major),
                     minor < 0 ? std::nullopt : std::optional<int64_t>(minor), access);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

// The list Kubernetes runtimes send for a non-privileged container (deny all, then the defaults).
std::vector<DeviceRule> KubernetesDefault() {
  return {R(false, 'a', -1, -1, "rwm"), R(true, 'c', -1, -1, "m"),    R(true, 'b', -1, -1, "m"),
          R(true, 'c', 1, 3, "rwm"),    R(true, 'c', 1, 8, "rwm"),    R(true, 'c', 1, 7, "rwm"),
          R(true, 'c', 5, 0, "rwm"),    R(true, 'c', 1, 5, "rwm"),    R(true, 'c', 1, 9, "rwm"),
          R(true, 'c', 5, 1, "rwm"),    R(true, 'c', 136, -1, "rwm"), R(true, 'c', 5, 2, "rwm"),
          R(true, 'c', 10, 200, "rwm")};
}

TEST(DeviceRuleTest, MakeAndValidate) {
  auto r = MakeDeviceRule(true, "", std::nullopt, std::nullopt, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, 'a');
  EXPECT_EQ(r->access, kAccessAll);
  EXPECT_EQ(r->major, -1);
  EXPECT_FALSE(MakeDeviceRule(true, "x", 1, 3, "r").ok());
  EXPECT_FALSE(MakeDeviceRule(true, "c", 1, 3, "rx").ok());
  EXPECT_FALSE(MakeDeviceRule(true, "c", 5000, 3, "r").ok());
  EXPECT_FALSE(MakeDeviceRule(true, "c", 1, -2, "r").ok());
  EXPECT_EQ(*ParseDeviceAccess("mr"), kAccessRead | kAccessMknod);
  EXPECT_EQ(DeviceAccessString(kAccessAll), "rwm");
  EXPECT_EQ(V1DeviceLine(R(true, 'c', 1, 3, "rw")), "c 1:3 rw");
  EXPECT_EQ(V1DeviceLine(R(true, 'c', 136, -1, "rwm")), "c 136:* rwm");
  EXPECT_EQ(V1DeviceLine(R(false, 'a', -1, -1, "rwm")), "a");
}

TEST(DeviceRuleTest, ReferenceSemanticsArePerBitLastMatchWins) {
  std::vector<DeviceRule> rules = KubernetesDefault();
  EXPECT_TRUE(DeviceAccessAllowed(rules, 'c', 1, 3, kAccessRead | kAccessWrite));
  EXPECT_TRUE(DeviceAccessAllowed(rules, 'c', 136, 4, kAccessWrite));
  EXPECT_FALSE(DeviceAccessAllowed(rules, 'b', 8, 0, kAccessRead));
  EXPECT_TRUE(DeviceAccessAllowed(rules, 'b', 8, 0, kAccessMknod));
  rules.push_back(R(false, 'c', 1, 3, "w"));  // later deny of one bit
  EXPECT_TRUE(DeviceAccessAllowed(rules, 'c', 1, 3, kAccessRead));
  EXPECT_FALSE(DeviceAccessAllowed(rules, 'c', 1, 3, kAccessRead | kAccessWrite));
  EXPECT_FALSE(DeviceAccessAllowed({}, 'c', 1, 3, kAccessRead));
}

TEST(DeviceRuleTest, V1StateAndWrites) {
  V1DeviceState s = V1StateFor(KubernetesDefault());
  EXPECT_FALSE(s.default_allow);
  ASSERT_EQ(s.exceptions.size(), 12u);
  EXPECT_EQ(V1DeviceLine(s.exceptions[0]), "c *:* m");
  // Writes from a fresh (allow-all) cgroup: reset to deny, then one allow line per exception.
  auto writes = V1DeviceWrites(V1DeviceState{true, {}}, s);
  ASSERT_EQ(writes.size(), 13u);
  EXPECT_EQ(writes[0], (std::pair<std::string, std::string>{"devices.deny", "a"}));
  EXPECT_EQ(writes[3], (std::pair<std::string, std::string>{"devices.allow", "c 1:3 rwm"}));
  // An update with the same list writes nothing; dropping /dev/tty's w bit writes one deny.
  auto listed = ParseV1DevicesList(
      "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:8 rwm\nc 1:7 rwm\nc 5:0 rwm\nc 1:5 rwm\nc 1:9 rwm\nc 5:1 rwm\n"
      "c 136:* rwm\nc 5:2 rwm\nc 10:200 rwm\n");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, s);
  EXPECT_TRUE(V1DeviceWrites(*listed, s).empty());
  std::vector<DeviceRule> changed = KubernetesDefault();
  changed.push_back(R(false, 'c', 5, 0, "w"));
  changed.push_back(R(true, 'c', 4, 1, "r"));
  auto diff = V1DeviceWrites(*listed, V1StateFor(changed));
  ASSERT_EQ(diff.size(), 2u);
  EXPECT_EQ(diff[0], (std::pair<std::string, std::string>{"devices.deny", "c 5:0 w"}));
  EXPECT_EQ(diff[1], (std::pair<std::string, std::string>{"devices.allow", "c 4:1 r"}));
  // A type 'a' rule naming a device becomes a char and a block exception.
  V1DeviceState both = V1StateFor({R(false, 'a', -1, -1, "rwm"), R(true, 'a', 7, 1, "r")});
  ASSERT_EQ(both.exceptions.size(), 2u);
  EXPECT_EQ(V1DeviceLine(both.exceptions[1]), "b 7:1 r");
  // Allow-all first: the exceptions are denies.
  V1DeviceState allow = V1StateFor({R(true, 'a', -1, -1, "rwm"), R(false, 'c', 1, 3, "w")});
  EXPECT_TRUE(allow.default_allow);
  auto aw = V1DeviceWrites(*listed, allow);
  ASSERT_EQ(aw.size(), 2u);
  EXPECT_EQ(aw[0], (std::pair<std::string, std::string>{"devices.allow", "a"}));
  EXPECT_EQ(aw[1], (std::pair<std::string, std::string>{"devices.deny", "c 1:3 w"}));
  EXPECT_TRUE(ParseV1DevicesList("a *:* rwm\n")->default_allow);
  EXPECT_FALSE(ParseV1DevicesList("c 1:3\n").ok());
}

// A minimal interpreter of the instructions BuildDeviceFilterProgram emits.
int RunProgram(const std::vector<bpf_insn>& prog, uint32_t access_type, uint32_t major, uint32_t minor) {
  uint64_t reg[11] = {};
  const uint32_t ctx[3] = {access_type, major, minor};
  size_t pc = 0;
  for (int steps = 0; steps < 100000; ++steps) {
    EXPECT_LT(pc, prog.size());
    if (pc >= prog.size()) return -1;
    const bpf_insn& i = prog[pc++];
    uint64_t imm = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        EXPECT_EQ(i.src_reg, 1);
        reg[i.dst_reg] = ctx[i.off / 4];
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X:
        reg[i.dst_reg] = reg[i.src_reg];
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        reg[i.dst_reg] = imm;
        break;
      case BPF_ALU64 | BPF_AND | BPF_K:
        reg[i.dst_reg] &= imm;
        break;
      case BPF_ALU64 | BPF_RSH | BPF_K:
        reg[i.dst_reg] >>= i.imm;
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (reg[i.dst_reg] != imm) pc += i.off;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        if (reg[i.dst_reg] == imm) pc += i.off;
        break;
      case BPF_JMP | BPF_EXIT:
        return static_cast<int>(reg[0]);
      default:
        ADD_FAILURE() << "unexpected opcode " << int(i.code);
        return -1;
    }
  }
  ADD_FAILURE() << "no exit";
  return -1;
}

void ExpectProgramMatchesReference(const std::vector<DeviceRule>& rules) {
  std::vector<bpf_insn> prog = BuildDeviceFilterProgram(rules);
  ASSERT_EQ(prog.back().code, BPF_JMP | BPF_EXIT);
  for (char type : {'c', 'b'}) {
    for (uint32_t major : {1u, 4u, 5u, 7u, 136u}) {
      for (uint32_t minor : {0u, 1u, 3u, 5u, 200u}) {
        for (uint8_t access = 1; access <= kAccessAll; ++access) {
          uint32_t at = (uint32_t{access} << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
          bool want = DeviceAccessAllowed(rules, type, major, minor, access);
          EXPECT_EQ(RunProgram(prog, at, major, minor), want ? 1 : 0)
              << type << " " << major << ":" << minor << " access " << int(access);
        }
      }
    }
  }
}

TEST(DeviceFilterProgramTest, EmptyListDeniesEverything) {
  std::vector<bpf_insn> prog = BuildDeviceFilterProgram({});
  EXPECT_EQ(prog.size(), 8u);  // 6 loads/shifts + "r0 = 0; exit"
  EXPECT_EQ(RunProgram(prog, (kAccessRead << 16) | BPF_DEVCG_DEV_CHAR, 1, 3), 0);
}

TEST(DeviceFilterProgramTest, EncodesTheContextLoadsAndARule) {
  std::vector<bpf_insn> prog = BuildDeviceFilterProgram({R(true, 'c', 1, 3, "rwm")});
  ASSERT_EQ(prog.size(), 13u);
  EXPECT_EQ(prog[0].code, BPF_LDX | BPF_MEM | BPF_W);
  EXPECT_EQ(prog[0].dst_reg, 2);
  EXPECT_EQ(prog[4].off, 4);  // major
  EXPECT_EQ(prog[5].off, 8);  // minor
  // if type != char goto next (+4); if major != 1 goto next (+3); if minor != 3 goto next (+2); r0 = 1; exit
  EXPECT_EQ(prog[6].code, BPF_JMP | BPF_JNE | BPF_K);
  EXPECT_EQ(prog[6].imm, BPF_DEVCG_DEV_CHAR);
  EXPECT_EQ(prog[6].off, 4);
  EXPECT_EQ(prog[7].imm, 1);
  EXPECT_EQ(prog[7].off, 3);
  EXPECT_EQ(prog[8].imm, 3);
  EXPECT_EQ(prog[8].off, 2);
  EXPECT_EQ(prog[9].code, BPF_ALU64 | BPF_MOV | BPF_K);
  EXPECT_EQ(prog[9].imm, 1);
  EXPECT_EQ(prog[10].code, BPF_JMP | BPF_EXIT);
}

TEST(DeviceFilterProgramTest, MatchesReferenceOnKubernetesDefaultsAndPartialRules) {
  ExpectProgramMatchesReference(KubernetesDefault());
  std::vector<DeviceRule> partial = KubernetesDefault();
  partial.push_back(R(false, 'c', 1, 3, "w"));
  partial.push_back(R(true, 'a', 7, -1, "r"));
  partial.push_back(R(true, 'b', -1, 1, "w"));
  ExpectProgramMatchesReference(partial);
  ExpectProgramMatchesReference({R(true, 'a', -1, -1, "rwm"), R(false, 'c', 5, -1, "rw")});
}

TEST(DeviceFilterProgramTest, MatchesReferenceOnRandomLists) {
  std::mt19937 rng(42);
  const char types[] = {'a', 'b', 'c'};
  const int64_t majors[] = {-1, 1, 5, 136};
  const int64_t minors[] = {-1, 0, 1, 3};
  const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
  for (int round = 0; round < 200; ++round) {
    std::vector<DeviceRule> rules;
    int n = static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      rules.push_back(
          R(rng() % 2, types[rng() % 3], majors[rng() % 4], minors[rng() % 4], accesses[rng() % 7]));
    }
    ExpectProgramMatchesReference(rules);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace cricket::cgroups
