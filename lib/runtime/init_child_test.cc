// The child-side sequences, recorded with FakeSys: what the container init asks the kernel, in order.
#include "lib/runtime/init_child.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/default_spec.h"
#include "lib/runtime/plan_builder.h"
#include "lib/runtime/sync.h"
#include "lib/sys/fake_sys.h"

namespace cricket::runtime {
namespace {

using sys::FakeSys;

class InitChildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeSyncPair(&parent_, &child_).ok());
    oci::DefaultSpecOptions opts;
    opts.capabilities = {"CAP_CHOWN", "CAP_KILL"};
    auto spec = oci::DefaultSpec(opts);
    ASSERT_TRUE(spec.ok());
    spec_ = *spec;
    spec_.process->args = {"sh"};
    spec_.process->env = {"PATH=/bin"};
    spec_.hostname = "box";
    spec_.root->readonly = true;
    fs_.AddPath("/b/rootfs/bin/sh", S_IFREG);
    fs_.AddPath("/b/rootfs/proc");
    fs_.AddPath("/b/rootfs/dev");
    fs_.AddPath("/sys/fs/cgroup/memory/c1");
  }

  InitPlan Plan() {
    PlanContext ctx;
    ctx.bundle = "/b";
    ctx.host.kcore_exists = false;
    cgroups::Hierarchy mem{1, "/sys/fs/cgroup/memory", "/", {"memory"}, "/"};
    ctx.host.cgroup_hierarchies = {mem};
    ctx.cgroup_dirs = {{mem, "/sys/fs/cgroup/memory/c1"}};
    InitPlan plan;
    plan.ns = *BuildNamespacePlan(spec_);
    auto rootfs = BuildRootfsPlan(spec_, plan.ns, ctx);
    EXPECT_TRUE(rootfs.ok()) << rootfs.status();
    plan.rootfs = *rootfs;
    auto process = BuildProcessPlan(*spec_.process, plan.ns, ctx);
    EXPECT_TRUE(process.ok()) << process.status();
    plan.process = *process;
    return plan;
  }

  // Messages the child sent, as "type:text".
  std::vector<std::string> Messages() {
    std::vector<std::string> out;
    for (;;) {
      auto m = SyncReceive(parent_.get(), 0);
      if (!m.ok()) break;
      out.push_back(
          StrCat(m->msg.type, ":", m->msg.text, m->msg.err ? StrCat(":", ErrnoName(m->msg.err)) : ""));
    }
    return out;
  }

  FakeSys fs_;
  oci::Spec spec_;
  UniqueFd parent_, child_;
};

TEST_F(InitChildTest, RootfsSequence) {
  InitPlan plan = Plan();
  ASSERT_EQ(SetupRootfs(plan, fs_, child_.get()), 0) << fs_.Dump() << Join(Messages(), "\n");
  const auto& c = fs_.calls();
  // Nothing may propagate back to the host: "/" becomes a recursive slave before anything is mounted.
  EXPECT_EQ(c[0], "mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE, NULL)");
  EXPECT_EQ(c[1], "mount(\"/b/rootfs\", \"/b/rootfs\", NULL, MS_BIND|MS_REC, NULL)");
  int proc = fs_.IndexOf("mount(\"proc\", </b/rootfs/proc>, \"proc\"");
  ASSERT_GT(proc, 1) << fs_.Dump();
  // /proc is resolved inside the rootfs and must not be a symlink.
  EXPECT_NE(c[proc - 1].find("in_root no_symlinks"), std::string::npos) << c[proc - 1];
  EXPECT_GE(fs_.IndexOf("mount(\"tmpfs\", </b/rootfs/dev>, \"tmpfs\", MS_NOSUID|MS_STRICTATIME"), 0)
      << fs_.Dump();
  EXPECT_GE(fs_.IndexOf("mknodat(</b/rootfs/dev>, \"null\", c 0666, 1:3)"), 0) << fs_.Dump();
  EXPECT_GE(fs_.IndexOf("symlinkat(\"pts/ptmx\", </b/rootfs/dev>, \"ptmx\")"), 0);
  int pivot = fs_.IndexOf("pivot_root(\".\", \".\")");
  ASSERT_GT(pivot, proc);
  EXPECT_EQ(c[pivot - 1], "fchdir(</b/rootfs>)");
  EXPECT_EQ(c[pivot + 1], "umount2(\".\", 0x2)");
  EXPECT_EQ(c[pivot + 2], "chdir(\"/\")");
}

// A bind mount whose tree the runtime made before cloning (idmapped, or in a user namespace) is only
// attached by the init: no second open_tree of its source, no attribute change.
TEST_F(InitChildTest, BindTreeMadeByTheRuntimeIsOnlyAttached) {
  fs_.AddPath("/host/data");
  spec_.mounts.push_back({"/data", "bind", "/host/data", {"rbind", "ro", "rprivate"}, {}, {}});
  InitPlan plan = Plan();
  MountStep* data = nullptr;
  for (MountStep& s : plan.rootfs.steps) {
    if (s.target == "/data") data = &s;
  }
  ASSERT_NE(data, nullptr);
  const char* what = nullptr;
  const char* object = nullptr;
  int tree = MakeBindTree(*data, plan.rootfs, fs_, &what, &object);
  ASSERT_GE(tree, 0) << (what ? what : "");
  data->tree_fd = tree;
  size_t before = fs_.CallsMatching("/host/data").size();
  EXPECT_EQ(before, 3u) << fs_.Dump();  // open_tree, read-only, propagation
  ASSERT_EQ(SetupRootfs(plan, fs_, child_.get()), 0) << fs_.Dump() << Join(Messages(), "\n");
  EXPECT_EQ(fs_.CallsMatching("open_tree(AT_FDCWD, \"/host/data\"").size(), 1u) << fs_.Dump();
  EXPECT_GE(fs_.IndexOf("move_mount(<tree:/host/data>\"\" -> </b/rootfs/data>"), 0) << fs_.Dump();
  // A failure while the runtime makes the tree names the step and the source.
  fs_.FailOn("open_tree(AT_FDCWD, \"/host/data\"", EACCES);
  EXPECT_EQ(MakeBindTree(*data, plan.rootfs, fs_, &what, &object), -EACCES);
  EXPECT_STREQ(what, "bind mount source");
  EXPECT_STREQ(object, "/host/data");
}

// In a user namespace the rootfs comes as the runtime's detached tree: attached over "/" and pivoted
// into through its descriptor, its path never looked up by the init.
TEST_F(InitChildTest, UserNamespaceRootfsTreeIsAttachedOverRootAndPivotedInto) {
  InitPlan plan = Plan();
  // (The fake names a tree fd "tree:<path>" and resolves nothing under it: an O_PATH fd stands in.)
  plan.rootfs.root_tree_fd = fs_.Openat(AT_FDCWD, "/b/rootfs", O_PATH | O_DIRECTORY, 0);
  ASSERT_GE(plan.rootfs.root_tree_fd, 0);
  ASSERT_EQ(SetupRootfs(plan, fs_, child_.get()), 0) << fs_.Dump() << Join(Messages(), "\n");
  const auto& c = fs_.calls();
  EXPECT_EQ(c[1], "mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE, NULL)");
  EXPECT_EQ(c[2], "move_mount(</b/rootfs>\"\" -> AT_FDCWD\"/\")") << fs_.Dump();
  EXPECT_EQ(fs_.IndexOf("mount(\"/b/rootfs\", \"/b/rootfs\""), -1) << fs_.Dump();
  int pivot = fs_.IndexOf("pivot_root(\".\", \".\")");
  ASSERT_GT(pivot, 2);
  EXPECT_EQ(c[pivot - 1], "fchdir(</b/rootfs>)");
}

TEST_F(InitChildTest, FinishRootfsMasksAndMakesReadonly) {
  InitPlan plan = Plan();
  fs_.AddPath("/proc/kcore", S_IFREG);
  fs_.AddPath("/proc/acpi");
  fs_.AddPath("/dev/null", S_IFCHR);
  fs_.AddPath("/proc/sys");
  int slave = -1;
  ASSERT_EQ(FinishRootfs(plan, fs_, child_.get(), &slave), 0) << Join(Messages(), "\n");
  EXPECT_GE(fs_.IndexOf("open_tree(AT_FDCWD, \"/proc/sys\", recursive)"), 0) << fs_.Dump();
  EXPECT_GE(fs_.IndexOf("mount(\"tmpfs\", </proc/acpi>, \"tmpfs\", MS_RDONLY"), 0) << fs_.Dump();
  EXPECT_GE(fs_.IndexOf("open_tree(AT_FDCWD, \"/dev/null\", single)"), 0);
  int ro = fs_.IndexOf("mount_setattr(AT_FDCWD\"/\", single, set=RDONLY");
  ASSERT_GE(ro, 0) << fs_.Dump();
  EXPECT_GT(ro, fs_.IndexOf("mount(\"tmpfs\", </proc/acpi>"));
  EXPECT_GE(fs_.IndexOf("sethostname(\"box\")"), 0);
}

TEST_F(InitChildTest, CredentialsInOrder) {
  spec_.process->user = {1000, 1000, std::nullopt, {5}, ""};
  spec_.process->no_new_privileges = true;
  InitPlan plan = Plan();
  plan.process.seccomp.filter.resize(3);
  int keep[1] = {-1};
  int sync = child_.get();
  int exec_index = -1;
  fs_.AddPath("/bin/sh", S_IFREG);
  ASSERT_EQ(SetupProcess(plan.process, fs_, &sync, true, -1, keep, 1, &exec_index), 0)
      << Join(Messages(), "\n");
  EXPECT_EQ(exec_index, 0);
  int drop = fs_.IndexOf("prctl(PR_CAPBSET_DROP, 1,");  // CAP_DAC_OVERRIDE is not kept
  int setuid = fs_.IndexOf("setresuid(1000, 1000, 1000)");
  int capset = fs_.IndexOf("capset(eff=0x21, prm=0x21, inh=0x0)");
  int nnp = fs_.IndexOf("prctl(PR_SET_NO_NEW_PRIVS, 1");
  ASSERT_GE(drop, 0) << fs_.Dump();
  EXPECT_GE(fs_.IndexOf("setgroups([5])"), 0);
  EXPECT_LT(fs_.IndexOf("setgroups"), fs_.IndexOf("setresgid(1000, 1000, 1000)"));
  EXPECT_LT(drop, setuid);
  EXPECT_LT(fs_.IndexOf("prctl(PR_SET_KEEPCAPS, 1"), setuid);
  EXPECT_LT(setuid, capset);
  EXPECT_LT(capset, nnp);
  // With no_new_privileges the filter waits for ExecProcess, right before execve.
  EXPECT_EQ(fs_.IndexOf("seccomp("), -1);
  // The cwd is checked (getcwd) as root before anything can filter getcwd, and entered again as the
  // user at the end.
  EXPECT_LT(fs_.IndexOf("getcwd()"), setuid);
  int last_chdir = -1;
  for (size_t i = 0; i < fs_.calls().size(); ++i) {
    if (fs_.calls()[i] == "chdir(\"/\")") last_chdir = static_cast<int>(i);
  }
  EXPECT_GT(last_chdir, nnp) << fs_.Dump();
  EXPECT_LT(ExecProcess(plan.process, fs_, exec_index), 0);
  int seccomp = fs_.IndexOf("seccomp(flags=0, len=3)");
  ASSERT_GE(seccomp, 0);
  EXPECT_EQ(fs_.IndexOf("execve(\"/bin/sh\", [sh], [PATH=/bin])"), seccomp + 1) << fs_.Dump();
}

TEST_F(InitChildTest, SeccompBeforeCredentialsWithoutNoNewPrivileges) {
  InitPlan plan = Plan();
  plan.process.no_new_privileges = false;
  plan.process.seccomp.filter.resize(2);
  fs_.AddPath("/bin/sh", S_IFREG);
  int sync = child_.get();
  int exec_index = -1;
  ASSERT_EQ(SetupProcess(plan.process, fs_, &sync, true, -1, nullptr, 0, &exec_index), 0);
  EXPECT_LT(fs_.IndexOf("seccomp(flags=0, len=2)"), fs_.IndexOf("setresuid("));
}

TEST_F(InitChildTest, FdsAreArrangedAndTheRestClosed) {
  InitPlan plan = Plan();
  plan.process.extra_fds = {40, 41};
  plan.process.stdio[0] = 30;
  fs_.AddPath("/bin/sh", S_IFREG);
  // The sync socket sits well above the preserved fds, so both ranges around it are non-empty
  // whatever descriptors the test process happens to hold.
  UniqueFd high(fcntl(child_.get(), F_DUPFD_CLOEXEC, 64));
  ASSERT_TRUE(high.valid());
  int sync = high.get();
  int exec_index = -1;
  ASSERT_EQ(SetupProcess(plan.process, fs_, &sync, false, -1, nullptr, 0, &exec_index), 0);
  EXPECT_GE(fs_.IndexOf("dup3(30, 0)"), 0) << fs_.Dump();
  EXPECT_GE(fs_.IndexOf("dup3(40, 3)"), 0);
  EXPECT_GE(fs_.IndexOf("dup3(41, 4)"), 0);
  // Everything from 5 up is closed except the sync socket.
  EXPECT_GE(fs_.IndexOf("close_range(5, "), 0) << fs_.Dump();
  EXPECT_GE(fs_.IndexOf(StrCat("close_range(", sync + 1, ", ~0, 0)")), 0) << fs_.Dump();
}

TEST_F(InitChildTest, CwdOutsideTheRootIsRefused) {
  InitPlan plan = Plan();
  fs_.AddPath("/bin/sh", S_IFREG);
  plan.process.cwd = "/proc/self/fd/7";
  // FakeSys getcwd reports the directory it was told; simulate the kernel's "(unreachable)" prefix.
  struct UnreachableSys : FakeSys {
    int Getcwd(char* buf, size_t size) override {
      snprintf(buf, size, "(unreachable)/sys/fs/cgroup");
      return 1;
    }
  } sys;
  sys.AddPath("/bin/sh", S_IFREG);
  int sync = child_.get();
  int exec_index = -1;
  EXPECT_LT(SetupProcess(plan.process, sys, &sync, false, -1, nullptr, 0, &exec_index), 0);
  auto msgs = Messages();
  ASSERT_FALSE(msgs.empty());
  EXPECT_NE(msgs.back().find("cwd is outside the container root"), std::string::npos) << msgs.back();
}

TEST_F(InitChildTest, FailureIsReportedWithStepAndErrno) {
  InitPlan plan = Plan();
  fs_.FailOn("\"sysfs\"", EPERM);
  EXPECT_LT(SetupRootfs(plan, fs_, child_.get()), 0);
  auto msgs = Messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], StrCat(static_cast<int>(SyncType::kError), ":mount sysfs on /sys:EPERM"));
}

TEST_F(InitChildTest, MissingExecutableIsReportedAtCreate) {
  InitPlan plan = Plan();
  plan.process.args = {"nope"};
  plan.process.exec_candidates = {"/bin/nope"};
  int sync = child_.get();
  int exec_index = -1;
  EXPECT_LT(SetupProcess(plan.process, fs_, &sync, false, -1, nullptr, 0, &exec_index), 0);
  auto msgs = Messages();
  ASSERT_FALSE(msgs.empty());
  EXPECT_NE(msgs.back().find("executable file not found in $PATH: nope"), std::string::npos) << msgs.back();
}

TEST_F(InitChildTest, HookPointWaitsForTheParent) {
  InitPlan plan = Plan();
  plan.hook_point = true;
  ASSERT_EQ(SyncSend(parent_.get(), SyncType::kContinue), 0);  // queued: the parent ran the hooks
  ASSERT_EQ(SetupRootfs(plan, fs_, child_.get()), 0);
  auto msgs = Messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], StrCat(static_cast<int>(SyncType::kHookPoint), ":"));
}

TEST_F(InitChildTest, HostMountNamespaceIsNeverPivoted) {
  InitPlan plan = Plan();
  plan.ns.shares_host_mount_ns = true;
  ASSERT_EQ(SetupRootfs(plan, fs_, child_.get()), 0);
  EXPECT_EQ(fs_.IndexOf("pivot_root"), -1);
  EXPECT_EQ(fs_.IndexOf("mount(NULL, \"/\""), -1) << "host propagation must not change";
  EXPECT_GE(fs_.IndexOf("chroot(\".\")"), 0);
}

}  // namespace
}  // namespace cricket::runtime
