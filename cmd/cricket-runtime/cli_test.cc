// cricket-runtime's command line: flag parsing (unit) and the commands run as a separate binary the way
// runc's users run it (privileged; skipped without root).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cmd/cricket-runtime/commands.h"
#include "cmd/cricket-runtime/flags.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/runtime/console.h"
#include "lib/runtime/testing/test_bundle.h"
#include "lib/sys/subprocess.h"

namespace cricket::cli {
namespace {

using runtime::testing::TempDir;
using runtime::testing::TestBundle;

TEST(FlagsTest, RuncConventions) {
  std::vector<FlagSpec> flags = {{"bundle", "b", false}, {"detach", "d", true}, {"env", "e", false}};
  Args args = {"exec", "-d", "--bundle=/x", "-e", "A=1", "--env", "B=2", "ID", "sh", "-c", "echo -e"};
  auto p = ParseFlags(args, 1, flags);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->Bool("detach"));
  EXPECT_EQ(p->Get("bundle"), "/x");
  EXPECT_EQ(p->All("env"), (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(p->positional, (std::vector<std::string>{"ID", "sh", "-c", "echo -e"}));
  EXPECT_EQ(p->first_positional, 7u);
  auto unknown = ParseFlags({"x", "--nope"}, 1, flags);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("-nope"), std::string::npos);
  EXPECT_FALSE(ParseFlags({"x", "--bundle"}, 1, flags).ok());
  auto single_dash = ParseFlags({"x", "-bundle", "/y", "--", "-notaflag"}, 1, flags);
  ASSERT_TRUE(single_dash.ok());
  EXPECT_EQ(single_dash->Get("bundle"), "/y");
  EXPECT_EQ(single_dash->positional, std::vector<std::string>{"-notaflag"});
}

TEST(FlagsTest, SignalsAndSizes) {
  EXPECT_EQ(*ParseSignal("KILL"), SIGKILL);
  EXPECT_EQ(*ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("usr1"), SIGUSR1);
  EXPECT_EQ(*ParseSignal("9"), 9);
  EXPECT_EQ(*ParseSignal("RTMIN+1"), SIGRTMIN + 1);
  EXPECT_FALSE(ParseSignal("SIGNOPE").ok());
  EXPECT_FALSE(ParseSignal("0").ok());
  EXPECT_EQ(*ParseBytes("512m"), 512LL << 20);
  EXPECT_EQ(*ParseBytes("1G"), 1LL << 30);
  EXPECT_EQ(*ParseBytes("4096"), 4096);
  EXPECT_EQ(*ParseBytes("-1"), -1);
  EXPECT_FALSE(ParseBytes("lots").ok());
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!PathExists(runtime::testing::kBusybox)) GTEST_SKIP() << "needs busybox-static";
    auto root = TempDir::Create("cricket-cli-root");
    ASSERT_TRUE(root.ok());
    root_.emplace(std::move(*root));
    auto b = TestBundle::Create();
    ASSERT_TRUE(b.ok()) << b.status();
    bundle_.emplace(std::move(*b));
  }

  // Runs cricket-runtime with `args`; stdin from /dev/null, output captured.
  sys::RunResult Cli(std::vector<std::string> args) {
    std::vector<std::string> argv = {CRICKET_RUNTIME_BINARY, "--root", root_->path()};
    argv.insert(argv.end(), args.begin(), args.end());
    sys::RunOptions opts;
    opts.timeout = absl::Seconds(60);
    auto r = sys::RunProcess(sys::Command{CRICKET_RUNTIME_BINARY, argv, {"PATH=/usr/bin:/bin"}, ""}, opts);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : sys::RunResult{};
  }

  nlohmann::json State(const std::string& id) {
    auto r = Cli({"state", id});
    EXPECT_TRUE(r.status.success()) << r.stderr_data;
    return nlohmann::json::parse(r.stdout_data, nullptr, false);
  }

  std::optional<TempDir> root_;
  std::optional<TestBundle> bundle_;
};

TEST_F(CliTest, LifecycleCommands) {
  bundle_->SetScript("sleep 1000");
  ASSERT_TRUE(bundle_->WriteSpec().ok());
  std::string pid_file = bundle_->dir() + "/pid";
  auto r = Cli({"create", "--bundle", bundle_->dir(), "--pid-file", pid_file, "c1"});
  ASSERT_TRUE(r.status.success()) << r.stderr_data;
  nlohmann::json s = State("c1");
  EXPECT_EQ(s["status"], "created");
  EXPECT_EQ(s["id"], "c1");
  EXPECT_EQ(s["bundle"], bundle_->dir());
  EXPECT_EQ(StrCat(s["pid"].get<int>()), *ReadFile(pid_file)) << "pid file has no newline, like runc's";
  ASSERT_TRUE(Cli({"start", "c1"}).status.success());
  EXPECT_EQ(State("c1")["status"], "running");
  // runc's positional signal and --all.
  auto list = Cli({"list", "--format", "json"});
  ASSERT_TRUE(list.status.success());
  EXPECT_EQ(nlohmann::json::parse(list.stdout_data)[0]["id"], "c1");
  EXPECT_EQ(TrimSpace(Cli({"list", "-q"}).stdout_data), "c1");
  auto ps = Cli({"ps", "--format", "json", "c1"});
  ASSERT_TRUE(ps.status.success()) << ps.stderr_data;
  EXPECT_EQ(nlohmann::json::parse(ps.stdout_data)[0], s["pid"]);
  ASSERT_TRUE(Cli({"pause", "c1"}).status.success());
  EXPECT_EQ(State("c1")["status"], "paused");
  ASSERT_TRUE(Cli({"resume", "c1"}).status.success());
  auto upd = Cli({"update", "--pids-limit", "50", "--memory", "256m", "c1"});
  EXPECT_TRUE(upd.status.success()) << upd.stderr_data;
  auto del = Cli({"delete", "c1"});
  EXPECT_EQ(del.status.code, 1) << "delete of a running container must fail";
  EXPECT_NE(del.stderr_data.find("not stopped"), std::string::npos) << del.stderr_data;
  ASSERT_TRUE(Cli({"kill", "c1", "KILL"}).status.success());
  for (int i = 0; i < 100 && State("c1")["status"] != "stopped"; ++i) usleep(20'000);
  EXPECT_EQ(State("c1")["status"], "stopped");
  EXPECT_EQ(Cli({"kill", "c1", "TERM"}).status.code, 1) << "kill of a stopped container must fail";
  ASSERT_TRUE(Cli({"delete", "c1"}).status.success());
  EXPECT_EQ(Cli({"state", "c1"}).status.code, 1);
  EXPECT_TRUE(Cli({"delete", "--force", "c1"}).status.success()) << "delete --force of nothing is fine";
  EXPECT_TRUE(ListDir(root_->path())->empty());
}

TEST_F(CliTest, RunPassesTheExitCodeAndStdio) {
  bundle_->SetScript("echo out; echo err >&2; exit 3");
  ASSERT_TRUE(bundle_->WriteSpec().ok());
  auto r = Cli({"run", "--bundle", bundle_->dir(), "r1"});
  EXPECT_EQ(r.status.code, 3);
  EXPECT_EQ(r.stdout_data, "out\n");
  EXPECT_NE(r.stderr_data.find("err\n"), std::string::npos);
  EXPECT_TRUE(ListDir(root_->path())->empty()) << "run deletes the container";
}

TEST_F(CliTest, ExecArgsAndProcessJson) {
  bundle_->SetScript("sleep 1000");
  ASSERT_TRUE(bundle_->WriteSpec().ok());
  ASSERT_TRUE(Cli({"run", "-d", "--bundle", bundle_->dir(), "e1"}).status.success());
  auto r = Cli({"exec", "--env", "X=42", "--cwd", "/tmp", "--user", "1000:1000", "e1", "sh", "-c",
                "echo $X $(pwd) $(id -u); exit 5"});
  EXPECT_EQ(r.status.code, 5) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "42 /tmp 1000\n");
  nlohmann::json proc = {{"args", {"sh", "-c", "echo from-json"}},
                         {"cwd", "/"},
                         {"env", {"PATH=/bin"}},
                         {"user", {{"uid", 0}, {"gid", 0}}}};
  std::string pfile = bundle_->dir() + "/process.json";
  ASSERT_TRUE(WriteFileAtomic(pfile, proc.dump()).ok());
  auto j = Cli({"exec", "--process", pfile, "e1"});
  EXPECT_TRUE(j.status.success()) << j.stderr_data;
  EXPECT_EQ(j.stdout_data, "from-json\n");
  auto missing = Cli({"exec", "e1", "/no/such"});
  EXPECT_EQ(missing.status.code, 1);
  EXPECT_NE(missing.stderr_data.find("/no/such"), std::string::npos) << missing.stderr_data;
  ASSERT_TRUE(Cli({"delete", "-f", "e1"}).status.success());
}

TEST_F(CliTest, ConsoleSocketAndPreservedFds) {
  std::string sock_path = root_->path() + "/console.sock";
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  bundle_->spec().process->terminal = true;
  bundle_->SetScript("tty; sleep 1000");
  ASSERT_TRUE(bundle_->WriteSpec().ok());
  auto r = Cli({"create", "--bundle", bundle_->dir(), "--console-socket", sock_path, "t1"});
  ASSERT_TRUE(r.status.success()) << r.stderr_data;
  UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  auto master = runtime::ReceiveFd(conn.get());
  ASSERT_TRUE(master.ok()) << master.status();
  ASSERT_TRUE(Cli({"start", "t1"}).status.success());
  char buf[256] = {};
  ssize_t n = read(master->get(), buf, sizeof(buf) - 1);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf).find("/dev/pts/0"), std::string::npos) << buf;
  ASSERT_TRUE(Cli({"delete", "-f", "t1"}).status.success());
  // --preserve-fds 1: the caller's fd 3 is the container's fd 3; nothing else leaks in.
  ASSERT_TRUE(WriteFileAtomic(bundle_->dir() + "/secret", "passed-in\n").ok());
  bundle_->spec().process->terminal = false;
  bundle_->SetScript("cat <&3; ls /proc/self/fd | tr '\\n' ' '");
  ASSERT_TRUE(bundle_->WriteSpec().ok());
  std::string cmd =
      StrCat("exec 3<", bundle_->dir(), "/secret 4</etc/hostname; exec ", CRICKET_RUNTIME_BINARY, " --root ",
             root_->path(), " run --preserve-fds 1 --bundle ", bundle_->dir(), " p1");
  auto r2 = sys::RunProcess(sys::Command{"/bin/sh", {"sh", "-c", cmd}, {"PATH=/usr/bin:/bin"}, ""});
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->status.success()) << r2->stderr_data;
  EXPECT_EQ(r2->stdout_data, "passed-in\n0 1 2 3 4 ") << "fd 4 is ls's own directory fd";
}

TEST_F(CliTest, ErrorsAsJsonLogAndFeatures) {
  std::string log = root_->path() + "/log.json";
  auto r = Cli({"--log", log, "--log-format", "json", "state", "nope"});
  EXPECT_EQ(r.status.code, 1);
  auto text = ReadFile(log);
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(TrimSpace(*text), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << *text;
  EXPECT_EQ(j["level"], "error");
  EXPECT_NE(j["msg"].get<std::string>().find("container nope does not exist"), std::string::npos) << *text;
  auto f = Cli({"features"});
  ASSERT_TRUE(f.status.success());
  auto features = nlohmann::json::parse(f.stdout_data);
  EXPECT_EQ(features["ociVersionMax"], "1.2.1");
  EXPECT_TRUE(features["linux"]["seccomp"]["enabled"]);
  EXPECT_EQ(Cli({"frobnicate"}).status.code, 1);
}

}  // namespace
}  // namespace cricket::cli
