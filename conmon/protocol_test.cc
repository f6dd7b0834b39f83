#include "conmon/protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::conmon {
namespace {

MonitorConfig FullConfig() {
  MonitorConfig c;
  c.id = "abc123";
  c.runtime_root = "/run/cricket/runtime/default";
  c.systemd_cgroup = true;
  c.bundle = "/run/cricket/containers/abc123/bundle";
  c.no_pivot = true;
  c.log_path = "/var/log/pods/ns_p_uid/c/0.log";
  c.log_size_max = 1 << 20;
  c.exits_dir = "/run/cricket/exits";
  c.attach_socket = "/run/cricket/containers/abc123/attach";
  c.control_socket = "/run/cricket/containers/abc123/ctl";
  c.terminal = true;
  c.stdin = true;
  c.stdin_once = true;
  c.startup_fd = 3;
  c.cgroup_procs = {"/sys/fs/cgroup/memory/pod/cgroup.procs", "/sys/fs/cgroup/cpu/pod/cgroup.procs"};
  c.log_level = "debug";
  c.cgroup_layout =
      R"([{"version":1,"mount_point":"/sys/fs/cgroup/memory","mount_root":"/","controllers":["memory"]}])";
  return c;
}

void ExpectSame(const MonitorConfig& a, const MonitorConfig& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.runtime_root, b.runtime_root);
  EXPECT_EQ(a.systemd_cgroup, b.systemd_cgroup);
  EXPECT_EQ(a.bundle, b.bundle);
  EXPECT_EQ(a.no_pivot, b.no_pivot);
  EXPECT_EQ(a.log_path, b.log_path);
  EXPECT_EQ(a.log_size_max, b.log_size_max);
  EXPECT_EQ(a.exits_dir, b.exits_dir);
  EXPECT_EQ(a.attach_socket, b.attach_socket);
  EXPECT_EQ(a.control_socket, b.control_socket);
  EXPECT_EQ(a.terminal, b.terminal);
  EXPECT_EQ(a.stdin, b.stdin);
  EXPECT_EQ(a.stdin_once, b.stdin_once);
  EXPECT_EQ(a.startup_fd, b.startup_fd);
  EXPECT_EQ(a.cgroup_procs, b.cgroup_procs);
  EXPECT_EQ(a.log_level, b.log_level);
  EXPECT_EQ(a.cgroup_layout, b.cgroup_layout);
}

TEST(MonitorArgsTest, RoundTripsEveryField) {
  MonitorConfig c = FullConfig();
  auto parsed = ParseMonitorArgs(MonitorArgs(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectSame(*parsed, c);
}

TEST(MonitorArgsTest, RoundTripsDefaultsAndNegativeSizeMax) {
  MonitorConfig c = FullConfig();
  c.systemd_cgroup = c.no_pivot = c.terminal = c.stdin = c.stdin_once = false;
  c.startup_fd = -1;
  c.cgroup_procs.clear();
  c.log_size_max = -1;
  auto parsed = ParseMonitorArgs(MonitorArgs(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectSame(*parsed, c);
}

TEST(MonitorArgsTest, ValuesMayContainEqualsAndSpaces) {
  MonitorConfig c = FullConfig();
  c.log_path = "/var/log/pods/a=b c/0.log";
  auto parsed = ParseMonitorArgs(MonitorArgs(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->log_path, c.log_path);
}

TEST(MonitorArgsTest, RejectsBadArgumentsNamingThem) {
  auto args = MonitorArgs(FullConfig());
  struct Case {
    std::string replace_prefix;  // the argument to replace
    std::string with;            // "" removes it
    std::string expect;          // in the message
  };
  const Case cases[] = {
      {"--id=", "", "--id"},
      {"--id=", "--id=a/b", "--id"},
      {"--bundle=", "--bundle=relative/dir", "--bundle"},
      {"--log-path=", "", "--log-path"},
      {"--exits-dir=", "--exits-dir", "--exits-dir"},
      {"--log-size-max=", "--log-size-max=12k", "--log-size-max"},
      {"--startup-fd=", "--startup-fd=1", "--startup-fd"},
      {"--terminal", "--terminal=yes", "--terminal"},
      {"--stdin-once", "--frobnicate", "--frobnicate"},
      {"--attach-socket=", "--attach-socket=/run/cricket/containers/abc123/ctl", "must differ"},
  };
  for (const Case& k : cases) {
    std::vector<std::string> a;
    for (const auto& s : args) {
      if (s.starts_with(k.replace_prefix)) {
        if (!k.with.empty()) a.push_back(k.with);
      } else {
        a.push_back(s);
      }
    }
    auto parsed = ParseMonitorArgs(a);
    ASSERT_FALSE(parsed.ok()) << k.with;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(k.expect), absl::string_view::npos) << parsed.status();
  }
}

TEST(MonitorArgsTest, StdinOnceNeedsStdin) {
  MonitorConfig c = FullConfig();
  c.stdin = false;
  auto parsed = ParseMonitorArgs(MonitorArgs(c));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("--stdin-once"), absl::string_view::npos);
}

TEST(MonitorArgsTest, PositionalArgumentsAreRejected) {
  auto a = MonitorArgs(FullConfig());
  a.push_back("extra");
  EXPECT_FALSE(ParseMonitorArgs(a).ok());
}

TEST(StartupReportTest, OkCarriesTheIdentity) {
  auto r = ParseStartupReport(FormatStartupOk({1234, 987654321}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pid, 1234);
  EXPECT_EQ(r->start_time, 987654321u);
}

TEST(StartupReportTest, ErrorsKeepCodeAndMessage) {
  absl::Status s = absl::NotFoundError("config.json: no such file\nsecond line");
  auto r = ParseStartupReport(FormatStartupError(s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status(), s);
}

TEST(StartupReportTest, EmptyAndGarbageAreInternal) {
  EXPECT_EQ(ParseStartupReport("").status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(ParseStartupReport("").status().message().find("exited before reporting"),
            absl::string_view::npos);
  EXPECT_EQ(ParseStartupReport("ok x y").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseStartupReport("ok 0 1").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseStartupReport("error 99 x").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseStartupReport("hello").status().code(), absl::StatusCode::kInternal);
}

TEST(MessageTest, ResizeRoundTripsLittleEndian) {
  std::string m = EncodeResize(kResize, {513, 40});
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(static_cast<uint8_t>(m[0]), kResize);
  EXPECT_EQ(static_cast<uint8_t>(m[1]), 1);
  EXPECT_EQ(static_cast<uint8_t>(m[2]), 2);
  EXPECT_EQ(static_cast<uint8_t>(m[3]), 40);
  EXPECT_EQ(static_cast<uint8_t>(m[4]), 0);
  auto size = DecodeWindowSize(std::string_view(m).substr(1));
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(*size, (WindowSize{513, 40}));
  EXPECT_EQ(DecodeWindowSize(EncodeResize(kResize, {65535, 65535}).substr(1)), (WindowSize{65535, 65535}));
  EXPECT_FALSE(DecodeWindowSize("abc").has_value());
  EXPECT_FALSE(DecodeWindowSize("abcde").has_value());
}

TEST(MessageTest, DataMessagesAreTypeThenPayload) {
  std::string m = EncodeMessage(kStdout, std::string("a\0b", 3));
  EXPECT_EQ(m, std::string("\x01"
                           "a\0b",
                           4));
  EXPECT_EQ(EncodeMessage(kStdinClose), std::string("\x05", 1));
}

TEST(MessageTest, ControlReplyRoundTrips) {
  EXPECT_TRUE(DecodeControlReply(EncodeControlReply(absl::OkStatus())).ok());
  absl::Status s = absl::FailedPreconditionError("the container has no terminal");
  EXPECT_EQ(DecodeControlReply(EncodeControlReply(s)), s);
  EXPECT_EQ(DecodeControlReply("").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(DecodeControlReply("\x40").code(), absl::StatusCode::kInternal);
}

TEST(ExitRecordTest, RoundTrips) {
  ExitRecord r{"ctr-1", 4321, 137, 9, 1700000000123456789, true};
  std::string text = FormatExitRecord(r);
  EXPECT_EQ(text,
            "{\"id\":\"ctr-1\",\"pid\":4321,\"exit_code\":137,\"signal\":9,\"exited_at\":1700000000123456789,"
            "\"oom_killed\":true}\n");
  auto back = ParseExitRecord(text, "exit file");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->pid, r.pid);
  EXPECT_EQ(back->exit_code, r.exit_code);
  EXPECT_EQ(back->signal, r.signal);
  EXPECT_EQ(back->exited_at, r.exited_at);
  EXPECT_EQ(back->oom_killed, r.oom_killed);
}

TEST(ExitRecordTest, IdIsEscaped) {
  ExitRecord r{"we\"ird\\id\n", 1, 0, 0, 1, false};
  auto back = ParseExitRecord(FormatExitRecord(r), "exit file");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, r.id);
}

TEST(ExitRecordTest, MalformedFilesNameTheProblem) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "exit file"},
      {"{\"id\":\"x\"", "exit file"},
      {"[]", "object"},
      {"{\"pid\":1,\"exit_code\":0,\"signal\":0,\"exited_at\":1,\"oom_killed\":false}", "\"id\""},
      {"{\"id\":\"x\",\"pid\":1,\"exit_code\":300,\"signal\":0,\"exited_at\":1,\"oom_killed\":false}",
       "exit_code"},
      {"{\"id\":\"x\",\"pid\":1,\"exit_code\":0,\"signal\":0,\"exited_at\":\"now\",\"oom_killed\":false}",
       "exited_at"},
      {"{\"id\":\"x\",\"pid\":1,\"exit_code\":0,\"signal\":0,\"exited_at\":1}", "oom_killed"},
  };
  for (const auto& [text, expect] : cases) {
    auto r = ParseExitRecord(text, "exit file");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find(expect), absl::string_view::npos) << r.status();
  }
}

class UnixSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-conmon-sock-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  std::string dir_;
};

TEST_F(UnixSocketTest, LongPathsWorkThroughProcSelfFd) {
  std::string deep = dir_ + "/" + std::string(100, 'd') + "/" + std::string(60, 'e');
  ASSERT_TRUE(MkdirAll(deep).ok());
  std::string path = deep + "/attach";
  ASSERT_GT(path.size(), 108u);
  auto l = ListenUnixSocket(path, SOCK_SEQPACKET, 0600);
  ASSERT_TRUE(l.ok()) << l.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto c = ConnectUnixSocket(path, SOCK_SEQPACKET);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(send(c->get(), "\x06x", 2, 0), 2);
  int a = accept(l->get(), nullptr, nullptr);
  ASSERT_GE(a, 0);
  char buf[8];
  EXPECT_EQ(recv(a, buf, sizeof(buf), 0), 2);
  close(a);
}

TEST_F(UnixSocketTest, ListenReplacesAStaleSocket) {
  std::string path = dir_ + "/ctl";
  {
    auto first = ListenUnixSocket(path, SOCK_SEQPACKET, 0600);
    ASSERT_TRUE(first.ok());
  }
  EXPECT_FALSE(ConnectUnixSocket(path, SOCK_SEQPACKET).ok());  // stale: nobody listens
  auto second = ListenUnixSocket(path, SOCK_SEQPACKET, 0600);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(ConnectUnixSocket(path, SOCK_SEQPACKET).ok());
}

TEST_F(UnixSocketTest, ConnectToMissingSocketNamesIt) {
  auto c = ConnectUnixSocket(dir_ + "/nothing", SOCK_SEQPACKET);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_ + "/nothing"), absl::string_view::npos);
}

}  // namespace
}  // namespace cricket::conmon
