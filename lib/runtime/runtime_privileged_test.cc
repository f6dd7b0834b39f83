// Busybox containers created through the in-process API, observed from inside. Needs root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/oci/capabilities.h"
#include "lib/runtime/console.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/testing/runtime_fixture.h"
#include "lib/sys/mountinfo.h"

namespace cricket::runtime {
namespace {

using testing::RuntimeFixture;

class RuntimeTest : public RuntimeFixture {};

TEST_F(RuntimeTest, NamespacesAreNewAndHostnameIsSet) {
  bundle().SetScript(
      "echo pid=$$; hostname; for n in pid net ipc uts mnt; do echo $n=$(readlink /proc/self/ns/$n); done");
  auto out = RunToCompletion("ns");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit_code, 0) << out->output;
  EXPECT_NE(out->output.find("pid=1\n"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("cricket-test\n"), std::string::npos);
  for (const char* ns : {"pid", "net", "ipc", "uts", "mnt"}) {
    char host[128] = {};
    ASSERT_GT(readlink(StrCat("/proc/self/ns/", ns).c_str(), host, sizeof(host) - 1), 0);
    EXPECT_EQ(out->output.find(StrCat(ns, "=", host)), std::string::npos) << ns << " is the host's";
    EXPECT_NE(out->output.find(StrCat(ns, "=", ns, ":[")), std::string::npos) << out->output;
  }
}

TEST_F(RuntimeTest, MountsAndTheirFlags) {
  bundle().SetScript(
      "cat /proc/self/mountinfo; echo x > /proc/sys/kernel/domainname && echo WROTE; "
      "wc -c < /proc/keys; touch /rootfile && echo ROOTWRITABLE; ls -l /dev/null /dev/ptmx");
  bundle().spec().root->readonly = true;
  auto out = RunToCompletion("mounts");
  ASSERT_TRUE(out.ok()) << out.status();
  auto mounts =
      sys::ParseMountInfo(out->output.substr(0, out->output.find("\n", out->output.rfind(" - ")) + 1));
  ASSERT_TRUE(mounts.ok()) << mounts.status() << out->output;
  std::map<std::string, sys::MountInfo> by_point;
  for (const auto& m : *mounts) by_point[m.mount_point] = m;
  ASSERT_TRUE(by_point.contains("/"));
  EXPECT_TRUE(by_point["/"].HasOption("ro"));
  EXPECT_EQ(by_point["/proc"].fstype, "proc");
  EXPECT_EQ(by_point["/dev"].fstype, "tmpfs");
  EXPECT_TRUE(by_point["/dev"].HasOption("nosuid"));
  EXPECT_EQ(by_point["/dev/pts"].fstype, "devpts");
  EXPECT_TRUE(by_point["/sys"].HasOption("ro"));
  EXPECT_TRUE(by_point["/proc/sys"].HasOption("ro"));  // readonly path
  EXPECT_TRUE(by_point.contains("/proc/keys"));        // masked
  // Nothing propagates back to the host: a slave of a shared host root, else private.
  EXPECT_NE(by_point["/"].Propagation(), "shared");
  EXPECT_EQ(out->output.find("WROTE"), std::string::npos);
  EXPECT_EQ(out->output.find("ROOTWRITABLE"), std::string::npos);
  EXPECT_NE(out->output.find("\n0\n"), std::string::npos) << "/proc/keys is not masked: " << out->output;
  EXPECT_NE(out->output.find("/dev/ptmx -> pts/ptmx"), std::string::npos) << out->output;
}

TEST_F(RuntimeTest, CapabilitiesAreExactlyTheSpecs) {
  bundle().spec().process->capabilities =
      oci::Capabilities{{"CAP_CHOWN", "CAP_KILL"}, {"CAP_KILL"}, {}, {"CAP_CHOWN", "CAP_KILL"}, {}};
  bundle().SetScript("grep Cap /proc/self/status");
  auto out = RunToCompletion("caps");
  ASSERT_TRUE(out.ok()) << out.status();
  auto sets = oci::ParseProcStatusCaps(out->output);
  ASSERT_TRUE(sets.ok()) << sets.status() << out->output;
  // Root's effective set after execve is its permitted set.
  EXPECT_EQ(sets->bounding, (1ULL << 0) | (1ULL << 5));
  EXPECT_EQ(sets->permitted, (1ULL << 0) | (1ULL << 5));
  EXPECT_EQ(sets->inheritable, 0u);
  EXPECT_EQ(sets->ambient, 0u);
}

TEST_F(RuntimeTest, SeccompDeniedSyscallReturnsEperm) {
  oci::LinuxSeccomp sc;
  sc.default_action = oci::SeccompAction::kAllow;
  sc.architectures = {"SCMP_ARCH_X86_64"};
  sc.syscalls.push_back({{"mkdir", "mkdirat"}, oci::SeccompAction::kErrno, std::nullopt, {}});
  sc.syscalls.push_back({{"no_such_syscall_xyz"}, oci::SeccompAction::kErrno, std::nullopt, {}});
  bundle().spec().linux->seccomp = sc;
  bundle().spec().process->no_new_privileges = true;
  bundle().SetScript("mkdir /tmp/d; echo rc=$?; grep -E 'Seccomp:|NoNewPrivs' /proc/self/status");
  auto out = RunToCompletion("seccomp");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->output.find("Operation not permitted"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("rc=1"), std::string::npos);
  EXPECT_NE(out->output.find("Seccomp:\t2"), std::string::npos);
  EXPECT_NE(out->output.find("NoNewPrivs:\t1"), std::string::npos);
}

TEST_F(RuntimeTest, UserGroupsUmaskRlimitsCwdEnv) {
  auto& p = *bundle().spec().process;
  p.user = {1000, 1001, 077, {10, 20}, ""};
  p.cwd = "/srv/app";
  p.env = {"PATH=/bin", "GREETING=hello"};
  p.rlimits = {{"RLIMIT_NOFILE", 512, 256}, {"RLIMIT_NPROC", 100, 100}};
  bundle().SetScript("id; umask; ulimit -n; ulimit -Hn; ulimit -u; pwd; echo $GREETING");
  auto out = RunToCompletion("user");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->output.find("uid=1000 gid=1001 groups=10,20"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("0077\n256\n512\n100\n/srv/app\nhello\n"), std::string::npos) << out->output;
}

TEST_F(RuntimeTest, RlimitAboveTheHostsHardLimitIsClamped) {
  // This host's root lacks CAP_SYS_RESOURCE: raising a hard limit above ours is clamped, not fatal.
  struct rlimit ours;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &ours), 0);
  if (ours.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "no finite hard limit to exceed";
  bundle().spec().process->rlimits = {{"RLIMIT_NOFILE", ours.rlim_max + 1000, ours.rlim_max + 1000}};
  bundle().SetScript("ulimit -Hn");
  auto out = RunToCompletion("clamp");
  ASSERT_TRUE(out.ok()) << out.status();
  auto n = ParseUint64(TrimSpace(out->output));
  ASSERT_TRUE(n.has_value()) << out->output;
  EXPECT_LE(*n, ours.rlim_max + 1000);
  EXPECT_GE(*n, std::min<rlim_t>(ours.rlim_max, 1024));
}

// Limits from linux.resources are written before the process runs, seen from inside, and enforced: a
// 16 MiB container allocating 64 MiB is OOM-killed.
TEST_F(RuntimeTest, CgroupLimitsAndOomKill) {
  oci::LinuxResources res;
  res.memory = oci::MemoryResources{};
  res.memory->limit = 16 << 20;
  res.memory->swap = 16 << 20;
  res.pids = oci::PidsResources{64};
  bundle().spec().linux->resources = res;
  bundle().SetScript(
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
      "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo rc=$?");
  auto out = RunToCompletion("oom");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->output.find("16777216\n64\n"), std::string::npos) << out->output;
  // dd is killed by the OOM killer (SIGKILL: 128 + 9); the shell, pid 1, goes on.
  EXPECT_NE(out->output.find("rc=137"), std::string::npos) << out->output;
  EXPECT_EQ(out->exit_code, 0) << out->output;
}

TEST_F(RuntimeTest, ExitCodesAndSignals) {
  bundle().SetScript("exit 42");
  auto out = RunToCompletion("exit42");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit_code, 42);
  bundle().SetScript("trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done");
  auto c = CreateAndStart("sig");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(WaitForOutput("ready").ok());
  ASSERT_TRUE(rt().Kill("sig", SIGTERM).ok());
  auto st = c->pidfd.Reap();
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ(sys::ShellExitCode(**st), 7);
  auto state = rt().State("sig");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->status, oci::ContainerStatus::kStopped);
  EXPECT_TRUE(absl::IsFailedPrecondition(rt().Kill("sig", SIGTERM)));
  ASSERT_TRUE(rt().Delete("sig").ok());
}

TEST_F(RuntimeTest, LifecycleStatesAndDeleteRules) {
  bundle().SetScript("sleep 1000");
  ASSERT_TRUE(bundle().WriteSpec().ok());
  CreateOptions o;
  o.bundle = bundle().dir();
  auto c = rt().Create("life", o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(rt().State("life")->status, oci::ContainerStatus::kCreated);
  EXPECT_EQ(rt().State("life")->pid, c->pid);
  EXPECT_TRUE(absl::IsAlreadyExists(rt().Create("life", o).status()));
  ASSERT_TRUE(rt().Start("life").ok());
  EXPECT_EQ(rt().State("life")->status, oci::ContainerStatus::kRunning);
  EXPECT_TRUE(absl::IsFailedPrecondition(rt().Start("life")));
  EXPECT_TRUE(absl::IsFailedPrecondition(rt().Delete("life")));
  EXPECT_EQ(rt().State("life")->status, oci::ContainerStatus::kRunning) << "a refused delete changed nothing";
  ASSERT_TRUE(rt().Pause("life").ok());
  EXPECT_EQ(rt().State("life")->status, oci::ContainerStatus::kPaused);
  ASSERT_TRUE(rt().Resume("life").ok());
  ASSERT_TRUE(rt().Delete("life", /*force=*/true).ok());
  (void)c->pidfd.Reap();
  EXPECT_TRUE(absl::IsNotFound(rt().State("life").status()));
  ExpectNothingLeft("life");
}

TEST_F(RuntimeTest, ConsoleSocketReceivesThePtyMaster) {
  auto dir = testing::TempDir::Create();
  ASSERT_TRUE(dir.ok());
  std::string sock_path = dir->path() + "/console.sock";
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  bundle().spec().process->terminal = true;
  bundle().SetScript("tty; test -t 0 && echo STDIN_IS_TTY; ls -l /dev/console");
  ASSERT_TRUE(bundle().WriteSpec().ok());
  CreateOptions o;
  o.bundle = bundle().dir();
  o.console_socket = sock_path;
  auto c = rt().Create("tty", o);
  ASSERT_TRUE(c.ok()) << c.status();
  UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  std::string payload;
  auto master = ReceiveFd(conn.get(), &payload);
  ASSERT_TRUE(master.ok()) << master.status();
  EXPECT_NE(payload.find("\"type\":\"terminal\""), std::string::npos) << payload;
  ASSERT_TRUE(rt().Start("tty").ok());
  std::string output = ReadUntilExit(master->get(), c->pidfd);
  EXPECT_NE(output.find("/dev/pts/0"), std::string::npos) << output;
  EXPECT_NE(output.find("STDIN_IS_TTY"), std::string::npos) << output;
  EXPECT_NE(output.find("136,"), std::string::npos) << "/dev/console is not the pty: " << output;
  ASSERT_TRUE(rt().Delete("tty", true).ok());
}

}  // namespace
}  // namespace cricket::runtime
