#include "lib/runtime/seccomp.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/sys/clone.h"
#include "lib/sys/pidfd.h"
#include "lib/sys/sys.h"

namespace cricket::runtime {
namespace {

oci::LinuxSeccomp Profile() {
  oci::LinuxSeccomp sc;
  sc.default_action = oci::SeccompAction::kAllow;
  sc.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
  sc.syscalls.push_back({{"mkdir", "mkdirat"}, oci::SeccompAction::kErrno, std::nullopt, {}});
  sc.syscalls.push_back({{"chmod"}, oci::SeccompAction::kErrno, 38, {}});  // ENOSYS
  return sc;
}

TEST(SeccompTest, RulesBecomeFilterCode) {
  auto pfc = SeccompPfc(Profile());
  ASSERT_TRUE(pfc.ok()) << pfc.status();
  // libseccomp's PFC names syscalls and actions: mkdir gets ERRNO(1) = EPERM, chmod ERRNO(38).
  EXPECT_NE(pfc->find("mkdir"), std::string::npos) << *pfc;
  EXPECT_NE(pfc->find("ERRNO(1)"), std::string::npos) << *pfc;
  EXPECT_NE(pfc->find("ERRNO(38)"), std::string::npos) << *pfc;
  EXPECT_NE(pfc->find("x86_64"), std::string::npos);
  EXPECT_NE(pfc->find("x86"), std::string::npos);
  auto compiled = CompileSeccomp(Profile());
  ASSERT_TRUE(compiled.ok());
  EXPECT_GT(compiled->program.filter.size(), 5u);
  EXPECT_EQ(compiled->program.flags, 0u);
}

TEST(SeccompTest, UnknownSyscallsAreSkippedRedundantRulesDropped) {
  oci::LinuxSeccomp sc = Profile();
  sc.syscalls.push_back({{"not_a_syscall", "getpid"}, oci::SeccompAction::kErrno, std::nullopt, {}});
  sc.syscalls.push_back({{"getppid"}, oci::SeccompAction::kAllow, std::nullopt, {}});  // == default
  auto compiled = CompileSeccomp(sc);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_EQ(compiled->skipped_syscalls, (std::vector<std::string>{"not_a_syscall"}));
  auto pfc = SeccompPfc(sc);
  ASSERT_TRUE(pfc.ok());
  EXPECT_NE(pfc->find("getpid"), std::string::npos);
  EXPECT_EQ(pfc->find("getppid"), std::string::npos) << "a rule equal to the default action is redundant";
}

TEST(SeccompTest, ArgumentsOperatorsAndRepeatedIndexes) {
  oci::LinuxSeccomp sc;
  sc.default_action = oci::SeccompAction::kErrno;
  sc.default_errno_ret = 1;
  // personality(0) or personality(8): the same argument twice makes two rules (either matches).
  sc.syscalls.push_back(
      {{"personality"},
       oci::SeccompAction::kAllow,
       std::nullopt,
       {{0, 0, 0, oci::SeccompOperator::kEqualTo}, {0, 8, 0, oci::SeccompOperator::kEqualTo}}});
  // clone with (flags & 0x7E020000) == 0.
  sc.syscalls.push_back({{"clone"},
                         oci::SeccompAction::kAllow,
                         std::nullopt,
                         {{0, 0x7E020000, 0, oci::SeccompOperator::kMaskedEqual}}});
  auto pfc = SeccompPfc(sc);
  ASSERT_TRUE(pfc.ok()) << pfc.status();
  EXPECT_NE(pfc->find("$a0.lo32 == 8"), std::string::npos) << *pfc;
  EXPECT_NE(pfc->find("$a0.lo32 == 0"), std::string::npos) << *pfc;
  EXPECT_NE(pfc->find("$a0.lo32 & 0x7e020000 == 0"), std::string::npos) << *pfc;
  sc.syscalls.back().args[0].index = 6;
  EXPECT_TRUE(absl::IsInvalidArgument(CompileSeccomp(sc).status()));
}

TEST(SeccompTest, FlagsArchitecturesAndUnsupportedFeatures) {
  oci::LinuxSeccomp sc = Profile();
  sc.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"};
  auto compiled = CompileSeccomp(sc);
  ASSERT_TRUE(compiled.ok());
  EXPECT_EQ(compiled->program.flags,
            static_cast<unsigned>(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW));
  sc.flags = {"SECCOMP_FILTER_FLAG_BOGUS"};
  EXPECT_TRUE(absl::IsInvalidArgument(CompileSeccomp(sc).status()));
  sc = Profile();
  sc.architectures = {"SCMP_ARCH_VAX"};
  auto bad = CompileSeccomp(sc);
  ASSERT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("SCMP_ARCH_VAX"), std::string::npos);
  sc = Profile();
  sc.syscalls[0].action = oci::SeccompAction::kNotify;
  EXPECT_TRUE(absl::IsUnimplemented(CompileSeccomp(sc).status()));
}

// The compiled program, installed the way the container process installs it (no privileges needed
// with no_new_privs), denies what the profile denies.
TEST(SeccompTest, InstalledFilterDeniesWithTheErrno) {
  auto compiled = CompileSeccomp(Profile());
  ASSERT_TRUE(compiled.ok());
  char dir[] = "/tmp/cricket-seccomp-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  int pidfd = -1;
  long pid = sys::Clone3(sys::CloneArgs{}, &pidfd);
  if (pid == 0) {
    sys::Sys& s = sys::LinuxSys();
    sock_fprog prog{static_cast<unsigned short>(compiled->program.filter.size()),
                    compiled->program.filter.data()};
    if (s.Prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || s.SeccompSetFilter(0, &prog) != 0) _exit(100);
    std::string sub = std::string(dir) + "/x";
    int code = 0;
    if (mkdir(sub.c_str(), 0755) == 0 || errno != EPERM) code |= 1;
    if (chmod(dir, 0700) == 0 || errno != ENOSYS) code |= 2;
    if (getpid() <= 0) code |= 4;  // allowed by default
    _exit(code);
  }
  ASSERT_GT(pid, 0);
  sys::PidFd child(UniqueFd(pidfd), static_cast<pid_t>(pid));
  auto st = child.Reap();
  rmdir(dir);
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ(sys::ShellExitCode(**st), 0);
}

}  // namespace
}  // namespace cricket::runtime
