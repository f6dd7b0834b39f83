// Exec, hooks, user/joined/time namespaces, and the rule that a failed create leaves nothing behind.
// Needs root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/testing/runtime_fixture.h"
#include "lib/sys/namespace_pin.h"

namespace cricket::runtime {
namespace {

using testing::RuntimeFixture;

class IsolationTest : public RuntimeFixture {
 protected:
  // Runs `args` in container `id` with stdout/stderr to a pipe; returns {exit code, output}.
  absl::StatusOr<testing::RunOutput> ExecCapture(const std::string& id, oci::Process p) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    UniqueFd rd(fds[0]), wr(fds[1]);
    ExecOptions o;
    o.process = std::move(p);
    o.stdio[1] = wr.get();
    o.stdio[2] = wr.get();
    auto r = rt().Exec(id, o);
    if (!r.ok()) return r.status();
    wr.reset();
    testing::RunOutput out;
    out.output = ReadUntilExit(rd.get(), r->pidfd);
    auto st = r->pidfd.Reap();
    if (!st.ok()) return st.status();
    out.exit_code = *st ? sys::ShellExitCode(**st) : -1;
    return out;
  }

  oci::Process ShellProcess(const std::string& script) {
    oci::Process p = *bundle().spec().process;
    p.args = {"sh", "-c", script};
    return p;
  }

  std::string NsOf(pid_t pid, const char* ns) {
    char buf[128] = {};
    readlink(StrCat("/proc/", pid, "/ns/", ns).c_str(), buf, sizeof(buf) - 1);
    return buf;
  }
};

TEST_F(IsolationTest, ExecJoinsNamespacesCgroupAndCredentials) {
  bundle().SetScript("sleep 1000");
  auto c = CreateAndStart("exec");
  ASSERT_TRUE(c.ok()) << c.status();
  oci::Process p = ShellProcess(
      "for n in pid net mnt; do readlink /proc/self/ns/$n; done; grep memory /proc/self/cgroup; id; pwd");
  p.user = {1000, 1000, std::nullopt, {}, ""};
  p.cwd = "/tmp";
  auto out = ExecCapture("exec", p);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit_code, 0) << out->output;
  for (const char* ns : {"pid", "net", "mnt"}) {
    EXPECT_NE(out->output.find(NsOf(c->pid, ns)), std::string::npos) << ns << ": " << out->output;
  }
  EXPECT_NE(out->output.find("/exec"), std::string::npos) << "not in the container's cgroup: " << out->output;
  EXPECT_NE(out->output.find("uid=1000 gid=1000"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("/tmp\n"), std::string::npos) << out->output;
  // The exit code of the exec'd process is its own.
  auto failing = ExecCapture("exec", ShellProcess("exit 9"));
  ASSERT_TRUE(failing.ok());
  EXPECT_EQ(failing->exit_code, 9);
  // A missing executable is an error of Exec itself, and leaves no process.
  oci::Process missing = ShellProcess("");
  missing.args = {"/no/such/binary"};
  auto bad = ExecCapture("exec", missing);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/no/such/binary"), std::string::npos) << bad.status();
  ASSERT_TRUE(rt().Delete("exec", true).ok());
  (void)c->pidfd.Reap();
  ExpectNothingLeft("exec");
}

// cricketd calls Exec from a multithreaded process: the cloned helpers must not need any lock another
// thread may hold (malloc's, for one). Other threads allocate and free continuously meanwhile.
TEST_F(IsolationTest, ExecFromAMultithreadedProcess) {
  bundle().SetScript("sleep 1000");
  auto c = CreateAndStart("threads");
  ASSERT_TRUE(c.ok()) << c.status();
  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < 4; ++t) {
    churn.emplace_back([&stop] {
      while (!stop.load(std::memory_order_relaxed)) {
        std::vector<std::string> v;
        for (int i = 0; i < 100; ++i) v.emplace_back(static_cast<size_t>(64 + i * 7), 'x');
      }
    });
  }
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    auto out = ExecCapture("threads", ShellProcess(StrCat("echo run", i)));
    if (out.ok() && out->output == StrCat("run", i, "\n") && out->exit_code == 0) ++ok;
  }
  stop = true;
  for (auto& t : churn) t.join();
  EXPECT_EQ(ok, 20);
  ASSERT_TRUE(rt().Delete("threads", true).ok());
  (void)c->pidfd.Reap();
}

TEST_F(IsolationTest, HooksRunInOrderWithStateAndInTheRightNamespaces) {
  std::string log = bundle().dir() + "/hooks.log";
  auto hook = [&](const std::string& name, const std::string& extra = "") {
    return oci::Hook{
        "/bin/sh",
        {"sh", "-c", StrCat("echo ", name, " $(cat | grep -o '\"status\":\"[a-z]*\"') ", extra, " >> ", log)},
        {"PATH=/usr/bin:/bin"},
        10};
  };
  oci::Hooks hooks;
  hooks.prestart = {hook("prestart")};
  hooks.create_runtime = {hook("createRuntime", "net=$(readlink /proc/self/ns/net)")};
  hooks.create_container = {hook("createContainer", "net=$(readlink /proc/self/ns/net)")};
  // startContainer runs inside the container: its path and the file it writes are the container's.
  hooks.start_container = {oci::Hook{"/bin/sh", {"sh", "-c", "cat > /tmp/start-state"}, {}, 10}};
  hooks.poststart = {hook("poststart")};
  hooks.poststop = {hook("poststop")};
  bundle().spec().hooks = hooks;
  bundle().SetScript("sleep 1000");
  auto c = CreateAndStart("hooks");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(rt().Delete("hooks", true).ok());
  (void)c->pidfd.Reap();
  auto text = ReadFile(log);
  ASSERT_TRUE(text.ok()) << text.status();
  auto lines = Split(TrimSpace(*text), '\n');
  ASSERT_EQ(lines.size(), 5u) << *text;
  EXPECT_TRUE(lines[0].starts_with("prestart \"status\":\"created\"")) << *text;
  EXPECT_TRUE(lines[1].starts_with("createRuntime \"status\":\"creating\"")) << *text;
  EXPECT_TRUE(lines[2].starts_with("createContainer \"status\":\"creating\"")) << *text;
  EXPECT_TRUE(lines[3].starts_with("poststart \"status\":\"running\"")) << *text;
  EXPECT_TRUE(lines[4].starts_with("poststop \"status\":\"stopped\"")) << *text;
  // createRuntime ran in the runtime's network namespace, createContainer in the container's.
  char own_net[128] = {};
  readlink("/proc/self/ns/net", own_net, sizeof(own_net) - 1);
  EXPECT_NE(lines[1].find(own_net), std::string_view::npos) << *text;
  EXPECT_EQ(lines[2].find(own_net), std::string_view::npos) << *text;
  auto start_state = ReadFile(bundle().rootfs() + "/tmp/start-state");
  ASSERT_TRUE(start_state.ok()) << start_state.status();
  EXPECT_NE(start_state->find("\"id\":\"hooks\""), std::string::npos) << *start_state;
  ExpectNothingLeft("hooks");
}

TEST_F(IsolationTest, FailedCreateLeavesNothingBehind) {
  struct Case {
    const char* name;
    std::function<void(oci::Spec&)> break_it;
    const char* message;
  };
  std::vector<Case> cases = {
      {"bad-bind",
       [](oci::Spec& s) {
         s.mounts.push_back({"/data", "bind", "/no/such/dir", {"rbind"}, {}, {}});
       },
       "/no/such/dir"},
      {"no-exec", [](oci::Spec& s) { s.process->args = {"no-such-program"}; }, "no-such-program"},
      {"bad-hook",
       [](oci::Spec& s) {
         s.hooks = oci::Hooks{};
         s.hooks->create_runtime = {{"/bin/false", {"false"}, {}, std::nullopt}};
       },
       "createRuntime hook #0"},
      {"bad-sysctl", [](oci::Spec& s) { s.linux->sysctl["net.ipv4.no_such_knob"] = "1"; }, "no_such_knob"},
      {"slow-hook",
       [](oci::Spec& s) {
         s.hooks = oci::Hooks{};
         s.hooks->create_runtime = {{"/bin/sleep", {"sleep", "10"}, {}, 1}};
       },
       "timed out"},
      {"bad-cwd", [](oci::Spec& s) { s.process->cwd = "/etc/passwd"; }, "cwd"},
  };
  for (const Case& c : cases) {
    auto saved = bundle().spec();
    c.break_it(bundle().spec());
    ASSERT_TRUE(bundle().WriteSpec().ok());
    CreateOptions o;
    o.bundle = bundle().dir();
    auto created = rt().Create(c.name, o);
    ASSERT_FALSE(created.ok()) << c.name;
    EXPECT_NE(created.status().message().find(c.message), std::string::npos)
        << c.name << ": " << created.status();
    ExpectNothingLeft(c.name);
    bundle().spec() = saved;
  }
}

TEST_F(IsolationTest, UserNamespaceMapsRoot) {
  // The container's root (host uid 200000) must be able to reach its rootfs.
  ASSERT_EQ(chmod(bundle().dir().c_str(), 0755), 0);
  ASSERT_EQ(chmod(bundle().rootfs().c_str(), 0755), 0);
  ASSERT_EQ(chmod((bundle().rootfs() + "/tmp").c_str(), 01777), 0);
  auto& l = *bundle().spec().linux;
  l.namespaces.push_back({oci::NamespaceType::kUser, ""});
  l.uid_mappings = {{0, 200000, 65536}};
  l.gid_mappings = {{0, 200000, 65536}};
  bundle().SetScript("id; cat /proc/self/uid_map; touch /tmp/owned; ls -ln /dev/null");
  auto out = RunToCompletion("userns");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit_code, 0) << out->output;
  EXPECT_NE(out->output.find("uid=0(root) gid=0(root)"), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("200000"), std::string::npos) << out->output;
  struct stat st;
  ASSERT_EQ(stat((bundle().rootfs() + "/tmp/owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200000u);
}

// An idmapped bind mount (options "idmap" with the mount's own mappings): files owned by root on disk
// appear owned by the mapped id through it.
TEST_F(IsolationTest, IdmappedBindMount) {
  std::string data = bundle().dir() + "/data";
  ASSERT_EQ(mkdir(data.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(data + "/file", "x").ok());
  oci::Mount m{"/data", "bind", data, {"bind", "idmap"}, {{0, 1000, 1}}, {{0, 1000, 1}}};
  bundle().spec().mounts.push_back(m);
  bundle().SetScript("stat -c '%u:%g' /data/file");
  auto out = RunToCompletion("idmap");
  ASSERT_TRUE(out.ok()) << out.status();
  if (out->exit_code != 0 && out->output.find("EINVAL") != std::string::npos) GTEST_SKIP() << out->output;
  EXPECT_EQ(out->output, "1000:1000\n");
  struct stat st;
  ASSERT_EQ(stat((data + "/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the file itself is unchanged";
}

TEST_F(IsolationTest, PodContainersShareJoinedNamespaces) {
  auto dir = testing::TempDir::Create("cricket-pins");
  ASSERT_TRUE(dir.ok());
  auto pins = sys::PinNamespaces(
      dir->path(), "pod1", {sys::NamespaceType::kNet, sys::NamespaceType::kIpc, sys::NamespaceType::kUts});
  ASSERT_TRUE(pins.ok()) << pins.status();
  auto& l = *bundle().spec().linux;
  std::erase_if(l.namespaces, [](const oci::Namespace& n) {
    return n.type == oci::NamespaceType::kNetwork || n.type == oci::NamespaceType::kIpc ||
           n.type == oci::NamespaceType::kUts;
  });
  const oci::NamespaceType types[] = {oci::NamespaceType::kNetwork, oci::NamespaceType::kIpc,
                                      oci::NamespaceType::kUts};
  for (size_t i = 0; i < pins->size(); ++i) l.namespaces.push_back({types[i], (*pins)[i].path});
  bundle().spec().hostname = "pod-host";
  bundle().SetScript("readlink /proc/self/ns/net; hostname; echo pid=$$");
  auto out = RunToCompletion("pod-a");
  ASSERT_TRUE(out.ok()) << out.status();
  struct stat st;
  ASSERT_EQ(stat((*pins)[0].path.c_str(), &st), 0);
  EXPECT_NE(out->output.find(StrCat("net:[", st.st_ino, "]")), std::string::npos) << out->output;
  EXPECT_NE(out->output.find("pod-host"), std::string::npos);
  EXPECT_NE(out->output.find("pid=1"), std::string::npos) << "the pid namespace is still the container's own";
  for (const auto& p : *pins) ASSERT_TRUE(sys::UnpinNamespace(p.path).ok());
  // PinNamespaces made the directory a mount point of its own.
  EXPECT_EQ(::umount2(dir->path().c_str(), MNT_DETACH), 0);
}

TEST_F(IsolationTest, TimeNamespaceOffsets) {
  if (!PathExists("/proc/self/ns/time")) GTEST_SKIP() << "no time namespaces";
  auto& l = *bundle().spec().linux;
  l.namespaces.push_back({oci::NamespaceType::kTime, ""});
  l.time_offsets["boottime"] = {100000, 0};
  bundle().SetScript("cut -d. -f1 /proc/uptime");
  auto out = RunToCompletion("timens");
  ASSERT_TRUE(out.ok()) << out.status();
  auto uptime = ParseInt64(TrimSpace(out->output));
  ASSERT_TRUE(uptime.has_value()) << out->output;
  auto host = ReadFile("/proc/uptime");
  ASSERT_TRUE(host.ok());
  auto host_up = ParseInt64(host->substr(0, host->find('.')));
  EXPECT_GE(*uptime, *host_up + 100000 - 5);
}

}  // namespace
}  // namespace cricket::runtime
