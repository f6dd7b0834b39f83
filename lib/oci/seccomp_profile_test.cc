#include "lib/oci/seccomp_profile.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <algorithm>
#include <set>

#include "lib/common/file_util.h"
#include "lib/oci/capabilities.h"

namespace cricket::oci {
namespace {

const std::vector<std::string> kDefaultCaps = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE",     "CAP_FSETID",
                                               "CAP_FOWNER",  "CAP_SETGID",           "CAP_SETUID",
                                               "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_KILL"};
const SeccompPlatform kAmd64{"amd64", {6, 1}};

bool ArgMatches(const SeccompArg& a, const std::vector<uint64_t>& args) {
  uint64_t v = a.index < args.size() ? args[a.index] : 0;
  switch (a.op) {
    case SeccompOperator::kNotEqual:
      return v != a.value;
    case SeccompOperator::kLessThan:
      return v < a.value;
    case SeccompOperator::kLessEqual:
      return v <= a.value;
    case SeccompOperator::kEqualTo:
      return v == a.value;
    case SeccompOperator::kGreaterEqual:
      return v >= a.value;
    case SeccompOperator::kGreaterThan:
      return v > a.value;
    case SeccompOperator::kMaskedEqual:
      return (v & a.value) == a.value_two;
  }
  return false;
}

// What a filter does with one call: the action of a matching rule (an allowing match wins, as the
// profiles never mix allow and deny rules whose arguments overlap), else the default. Returns the
// errno for SCMP_ACT_ERRNO results and 0 for allowed calls.
int Outcome(const LinuxSeccomp& s, std::string_view name, std::vector<uint64_t> args = {}) {
  std::optional<int> denied;
  for (const SeccompSyscall& r : s.syscalls) {
    if (std::find(r.names.begin(), r.names.end(), name) == r.names.end()) continue;
    bool match =
        std::all_of(r.args.begin(), r.args.end(), [&](const SeccompArg& a) { return ArgMatches(a, args); });
    if (!match) continue;
    if (r.action == SeccompAction::kAllow) return 0;
    denied = static_cast<int>(r.errno_ret.value_or(1));
  }
  if (denied) return *denied;
  return s.default_action == SeccompAction::kAllow ? 0 : static_cast<int>(s.default_errno_ret.value_or(1));
}

std::vector<std::string> With(std::vector<std::string> caps, std::string cap) {
  caps.push_back(std::move(cap));
  return caps;
}

TEST(RuntimeDefault, WithoutSysAdmin) {
  absl::StatusOr<LinuxSeccomp> s = RenderRuntimeDefaultSeccomp(kDefaultCaps, kAmd64);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->default_action, SeccompAction::kErrno);
  EXPECT_EQ(s->default_errno_ret, 1u);
  EXPECT_EQ(s->architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_TRUE(ValidateLinuxSeccomp(*s).ok());

  for (const char* ok :
       {"read", "write", "openat", "execve", "exit_group", "futex", "epoll_wait", "getuid", "setuid", "mmap",
        "arch_prctl", "modify_ldt", "rt_sigaction", "pipe2", "accept4", "ptrace", "chown", "kill"}) {
    EXPECT_EQ(Outcome(*s, ok), 0) << ok;
  }
  for (const char* denied : {"mount",
                             "umount2",
                             "unshare",
                             "setns",
                             "sethostname",
                             "bpf",
                             "reboot",
                             "init_module",
                             "acct",
                             "kcmp",
                             "iopl",
                             "settimeofday",
                             "clock_settime",
                             "vhangup",
                             "mbind",
                             "syslog",
                             "perf_event_open",
                             "open_by_handle_at",
                             "chroot",
                             "keyctl",
                             "add_key",
                             "kexec_load",
                             "swapon",
                             "pivot_root",
                             "userfaultfd",
                             "io_uring_setup",
                             "no_such_call",
                             "arm_fadvise64_64",
                             "s390_runtime_instr"}) {
    EXPECT_EQ(Outcome(*s, denied), EPERM) << denied;
  }
  // clone: threads and forks yes, new namespaces no; clone3 reports ENOSYS.
  EXPECT_EQ(Outcome(*s, "clone", {0x3d0f00 /* CLONE_VM|CLONE_FS|...|CLONE_THREAD... */}), 0);
  EXPECT_EQ(Outcome(*s, "clone", {0x11 /* SIGCHLD */}), 0);
  EXPECT_EQ(Outcome(*s, "clone", {0x10000000 | 0x11 /* CLONE_NEWUSER */}), EPERM);
  EXPECT_EQ(Outcome(*s, "clone", {0x40000000 /* CLONE_NEWNET */}), EPERM);
  EXPECT_EQ(Outcome(*s, "clone", {0x00020000 /* CLONE_NEWNS */}), EPERM);
  EXPECT_EQ(Outcome(*s, "clone3"), ENOSYS);
  // socket: everything but AF_ALG (38) and AF_VSOCK (40).
  EXPECT_EQ(Outcome(*s, "socket", {2 /* AF_INET */}), 0);
  EXPECT_EQ(Outcome(*s, "socket", {1 /* AF_UNIX */}), 0);
  EXPECT_EQ(Outcome(*s, "socket", {16 /* AF_NETLINK */}), 0);
  EXPECT_EQ(Outcome(*s, "socket", {39}), 0);
  EXPECT_EQ(Outcome(*s, "socket", {44 /* AF_XDP */}), 0);
  EXPECT_EQ(Outcome(*s, "socket", {38}), EPERM);
  EXPECT_EQ(Outcome(*s, "socket", {40}), EPERM);
  // personality: the listed personas and the query only.
  for (uint64_t ok : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    EXPECT_EQ(Outcome(*s, "personality", {ok}), 0) << ok;
  }
  EXPECT_EQ(Outcome(*s, "personality", {0x0040000 /* ADDR_NO_RANDOMIZE */}), EPERM);
}

TEST(RuntimeDefault, WithSysAdmin) {
  absl::StatusOr<LinuxSeccomp> s = RenderRuntimeDefaultSeccomp(With(kDefaultCaps, "CAP_SYS_ADMIN"), kAmd64);
  ASSERT_TRUE(s.ok()) << s.status();
  for (const char* ok : {"mount", "umount2", "unshare", "setns", "sethostname", "setdomainname", "bpf",
                         "perf_event_open", "fsopen", "move_mount", "open_tree", "quotactl", "syslog"}) {
    EXPECT_EQ(Outcome(*s, ok), 0) << ok;
  }
  EXPECT_EQ(Outcome(*s, "clone", {0x10000000 | 0x40000000}), 0);
  EXPECT_EQ(Outcome(*s, "clone3"), 0);
  // No leftover clone/clone3 restrictions.
  for (const SeccompSyscall& r : s->syscalls) {
    EXPECT_NE(r.names, std::vector<std::string>{"clone3"}) << "clone3 ENOSYS rule present";
    EXPECT_NE(r.names, std::vector<std::string>{"clone"}) << "clone argument rule present";
  }
  // Still denied: things CAP_SYS_ADMIN does not unlock.
  EXPECT_EQ(Outcome(*s, "reboot"), EPERM);
  EXPECT_EQ(Outcome(*s, "init_module"), EPERM);
  EXPECT_EQ(Outcome(*s, "kexec_load"), EPERM);
}

TEST(RuntimeDefault, OtherCapabilityGroups) {
  struct Case {
    const char* cap;
    std::vector<const char*> unlocked;
  };
  for (const Case& c : std::vector<Case>{
           {"CAP_SYS_PTRACE", {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "ptrace"}},
           {"CAP_SYS_BOOT", {"reboot"}},
           {"CAP_SYS_MODULE", {"init_module", "finit_module", "delete_module"}},
           {"CAP_SYS_NICE", {"mbind", "set_mempolicy", "get_mempolicy", "set_mempolicy_home_node"}},
           {"CAP_SYS_PACCT", {"acct"}},
           {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
           {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
           {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
           {"CAP_SYS_CHROOT", {"chroot"}},
           {"CAP_SYSLOG", {"syslog"}},
           {"CAP_BPF", {"bpf"}},
           {"CAP_PERFMON", {"perf_event_open"}},
           {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
       }) {
    absl::StatusOr<LinuxSeccomp> without = RenderRuntimeDefaultSeccomp(kDefaultCaps, kAmd64);
    absl::StatusOr<LinuxSeccomp> with = RenderRuntimeDefaultSeccomp(With(kDefaultCaps, c.cap), kAmd64);
    ASSERT_TRUE(with.ok() && without.ok());
    for (const char* name : c.unlocked) {
      EXPECT_EQ(Outcome(*with, name), 0) << c.cap << " " << name;
      if (std::string_view(name) != "ptrace" && std::string_view(name) != "process_vm_readv") {
        EXPECT_EQ(Outcome(*without, name), EPERM) << c.cap << " " << name;
      }
    }
  }
  // Capability names are matched however they are spelled.
  absl::StatusOr<LinuxSeccomp> s = RenderRuntimeDefaultSeccomp({"sys_admin"}, kAmd64);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Outcome(*s, "mount"), 0);
}

TEST(RuntimeDefault, KernelAndArchitecture) {
  absl::StatusOr<LinuxSeccomp> old = RenderRuntimeDefaultSeccomp(kDefaultCaps, {"amd64", {4, 4}});
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(Outcome(*old, "ptrace"), EPERM);  // before 4.8 ptrace could bypass seccomp

  absl::StatusOr<LinuxSeccomp> arm = RenderRuntimeDefaultSeccomp(kDefaultCaps, {"arm64", {6, 1}});
  ASSERT_TRUE(arm.ok());
  EXPECT_EQ(arm->architectures, (std::vector<std::string>{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
  EXPECT_EQ(Outcome(*arm, "arm_fadvise64_64"), 0);
  EXPECT_EQ(Outcome(*arm, "set_tls"), 0);
  EXPECT_EQ(Outcome(*arm, "arch_prctl"), EPERM);
  EXPECT_EQ(Outcome(*arm, "modify_ldt"), EPERM);

  absl::StatusOr<LinuxSeccomp> s390 = RenderRuntimeDefaultSeccomp(kDefaultCaps, {"s390x", {6, 1}});
  ASSERT_TRUE(s390.ok());
  EXPECT_EQ(s390->architectures, (std::vector<std::string>{"SCMP_ARCH_S390X", "SCMP_ARCH_S390"}));
  int clone_rules = 0;
  for (const SeccompSyscall& r : s390->syscalls) {
    if (r.names != std::vector<std::string>{"clone"}) continue;
    ++clone_rules;
    ASSERT_EQ(r.args.size(), 1u);
    EXPECT_EQ(r.args[0].index, 1u);  // s390 passes the flags second
  }
  EXPECT_EQ(clone_rules, 1);

  absl::StatusOr<LinuxSeccomp> riscv = RenderRuntimeDefaultSeccomp(kDefaultCaps, {"riscv64", {6, 1}});
  ASSERT_TRUE(riscv.ok());
  EXPECT_EQ(riscv->architectures, (std::vector<std::string>{"SCMP_ARCH_RISCV64"}));
  EXPECT_EQ(Outcome(*riscv, "riscv_flush_icache"), 0);
}

TEST(RuntimeDefault, SerializesAsValidOciSeccomp) {
  absl::StatusOr<LinuxSeccomp> s = RenderRuntimeDefaultSeccomp(kDefaultCaps, kAmd64);
  ASSERT_TRUE(s.ok());
  absl::StatusOr<LinuxSeccomp> back = ParseLinuxSeccomp(LinuxSeccompToJson(*s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, *s);
}

constexpr char kDockerProfile[] = R"json({
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
              {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": null}],
  "syscalls": [
    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
    {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
     "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
    {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
    {"names": ["newcall"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.5"}},
    {"names": ["oldcall"], "action": "SCMP_ACT_ERRNO", "errno": "ENOSYS", "excludes": {"minKernel": "5.0"}},
    {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
  ]
})json";

std::vector<std::vector<std::string>> RuleNames(const LinuxSeccomp& s) {
  std::vector<std::vector<std::string>> out;
  for (const SeccompSyscall& r : s.syscalls) out.push_back(r.names);
  return out;
}

TEST(SeccompProfileFormat, IncludesAndExcludes) {
  absl::StatusOr<SeccompProfile> p = ParseSeccompProfileText(kDockerProfile, "profile.json");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->syscalls[1].names, (std::vector<std::string>{"mount"}));
  EXPECT_EQ(p->syscalls[5].includes.min_kernel, (KernelVersion{6, 5}));
  EXPECT_EQ(p->syscalls[6].errno_ret, 38u);

  absl::StatusOr<LinuxSeccomp> plain = RenderSeccompProfile(*p, {"CAP_CHOWN"}, {"amd64", {4, 19}});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
  EXPECT_EQ(RuleNames(*plain), (std::vector<std::vector<std::string>>{
                                   {"read", "write"}, {"clone"}, {"arch_prctl"}, {"oldcall"}, {"kill"}}));
  EXPECT_EQ(plain->syscalls[4].errno_ret, 13u);

  // CAP_SYS_ADMIN unlocks mount and drops the clone restriction; bpf needs CAP_BPF as well.
  absl::StatusOr<LinuxSeccomp> admin = RenderSeccompProfile(*p, {"CAP_SYS_ADMIN"}, {"amd64", {6, 8}});
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(RuleNames(*admin), (std::vector<std::vector<std::string>>{
                                   {"read", "write"}, {"mount"}, {"arch_prctl"}, {"newcall"}, {"kill"}}));
  absl::StatusOr<LinuxSeccomp> both =
      RenderSeccompProfile(*p, {"CAP_SYS_ADMIN", "CAP_BPF"}, {"amd64", {6, 8}});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(Outcome(*both, "bpf"), 0);

  // Architecture conditions and an archMap entry without sub-architectures.
  absl::StatusOr<LinuxSeccomp> arm = RenderSeccompProfile(*p, {}, {"arm64", {6, 1}});
  ASSERT_TRUE(arm.ok());
  EXPECT_EQ(arm->architectures, (std::vector<std::string>{"SCMP_ARCH_AARCH64"}));
  EXPECT_EQ(Outcome(*arm, "arch_prctl"), EPERM);
  absl::StatusOr<LinuxSeccomp> s390 = RenderSeccompProfile(*p, {}, {"s390x", {6, 1}});
  ASSERT_TRUE(s390.ok());
  EXPECT_TRUE(s390->architectures.empty());  // not in the archMap: native only
  EXPECT_EQ(Outcome(*s390, "clone", {0}), EPERM);
}

TEST(SeccompProfileFormat, OciFormIsAcceptedAsIs) {
  constexpr char kOci[] = R"json({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                   {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_NE"}]}]})json";
  absl::StatusOr<SeccompProfile> p = ParseSeccompProfileText(kOci, "oci.json");
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<LinuxSeccomp> rendered = RenderSeccompProfile(*p, {}, kAmd64);
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  absl::StatusOr<LinuxSeccomp> direct = ParseLinuxSeccomp(nlohmann::json::parse(kOci), "");
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(*rendered, *direct);
}

TEST(SeccompProfileFormat, ErrorsNameTheJsonPath) {
  auto err = [](std::string_view text) {
    absl::StatusOr<SeccompProfile> p = ParseSeccompProfileText(text, "p.json");
    EXPECT_FALSE(p.ok()) << text;
    return p.ok() ? std::string() : std::string(p.status().message());
  };
  EXPECT_EQ(err(R"({"syscalls": []})"), "p.json: defaultAction: required property missing");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "ALLOW"}]})"),
            "p.json: syscalls[0].action: unknown seccomp action \"ALLOW\"");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"],
               "action": "SCMP_ACT_ALLOW"}]})"),
            "p.json: syscalls[0]: both \"name\" and \"names\" are set; use one");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})"),
            "p.json: syscalls[0].names: required property missing");
  EXPECT_EQ(
      err(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW",
               "includes": {"minKernel": "four"}}]})"),
      "p.json: syscalls[0].includes.minKernel: invalid kernel version \"four\", expected "
      "\"<major>.<minor>\"");
  EXPECT_EQ(
      err(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW",
               "excludes": {"caps": "CAP_SYS_ADMIN"}}]})"),
      "p.json: syscalls[0].excludes.caps: expected array, got string");
  EXPECT_EQ(
      err(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW",
               "errnoRet": 1}]})"),
      "p.json: syscalls[0].errnoRet: not allowed with action SCMP_ACT_ALLOW");
  EXPECT_EQ(
      err(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
               "errno": "EWHAT"}]})"),
      "p.json: syscalls[0].errno: unknown errno name \"EWHAT\"");
  EXPECT_EQ(
      err(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"),
      "p.json: syscalls[0].args[1].index: must be between 0 and 5");

  absl::StatusOr<SeccompProfile> both = ParseSeccompProfileText(
      R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
          "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})",
      "p.json");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(RenderSeccompProfile(*both, {}, kAmd64).status().message(),
            "seccomp profile sets both \"architectures\" and \"archMap\"; use one of them");
  absl::StatusOr<SeccompProfile> bad_arch = ParseSeccompProfileText(
      R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]})", "p.json");
  ASSERT_TRUE(bad_arch.ok());
  EXPECT_EQ(RenderSeccompProfile(*bad_arch, {}, kAmd64).status().message(),
            "seccomp profile.architectures[0]: unknown seccomp architecture \"SCMP_ARCH_Z80\"");
}

TEST(SeccompProfileFormat, LoadsFilesAndTheContainersCommonProfile) {
  EXPECT_EQ(LoadSeccompProfileFile("/nonexistent/profile.json").status().code(), absl::StatusCode::kNotFound);
  const std::string kCommon = "/usr/share/containers/seccomp.json";
  if (!PathExists(kCommon)) GTEST_SKIP() << kCommon << " not installed";
  absl::StatusOr<SeccompProfile> p = LoadSeccompProfileFile(kCommon);
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<LinuxSeccomp> s = RenderSeccompProfile(*p, kDefaultCaps, kAmd64);
  ASSERT_TRUE(s.ok()) << s.status();
  // That profile allows mount and relies on capabilities; it denies kexec_load and, without
  // CAP_DAC_READ_SEARCH, open_by_handle_at.
  EXPECT_EQ(Outcome(*s, "read"), 0);
  EXPECT_EQ(Outcome(*s, "kexec_load"), EPERM);
  EXPECT_EQ(Outcome(*s, "open_by_handle_at"), EPERM);
  absl::StatusOr<LinuxSeccomp> dac =
      RenderSeccompProfile(*p, With(kDefaultCaps, "CAP_DAC_READ_SEARCH"), kAmd64);
  ASSERT_TRUE(dac.ok());
  EXPECT_EQ(Outcome(*dac, "open_by_handle_at"), 0);
}

TEST(SeccompPlatform, KernelVersionsAndHost) {
  EXPECT_EQ(*ParseKernelVersion("6.1.0-13-amd64"), (KernelVersion{6, 1}));
  EXPECT_EQ(*ParseKernelVersion("4.8"), (KernelVersion{4, 8}));
  EXPECT_EQ(*ParseKernelVersion("5.10-rc1"), (KernelVersion{5, 10}));
  EXPECT_FALSE(ParseKernelVersion("6").ok());
  EXPECT_FALSE(ParseKernelVersion("x.y").ok());
  EXPECT_LT((KernelVersion{4, 19}), (KernelVersion{5, 0}));
  EXPECT_EQ(ScmpArchOfPlatformArch("amd64"), "SCMP_ARCH_X86_64");
  EXPECT_EQ(ScmpArchOfPlatformArch("arm64"), "SCMP_ARCH_AARCH64");
  EXPECT_EQ(ScmpArchOfPlatformArch("vax"), "");

  absl::StatusOr<SeccompPlatform> host = HostSeccompPlatform();
  ASSERT_TRUE(host.ok()) << host.status();
  struct utsname u;
  ASSERT_EQ(uname(&u), 0);
  if (std::string_view(u.machine) == "x86_64") {
    EXPECT_EQ(host->arch, "amd64");
  } else if (std::string_view(u.machine) == "aarch64") {
    EXPECT_EQ(host->arch, "arm64");
  }
  EXPECT_NE(ScmpArchOfPlatformArch(host->arch), "");
  EXPECT_GE(host->kernel, (KernelVersion{3, 17}));
}

}  // namespace
}  // namespace cricket::oci
