// The streaming server under attack by its own users (issue 16): whoever may exec or port-forward into
// one pod controls the bytes that reach cricketd, and anyone on the node can connect to the stream port.
// Each test runs one hostile client (test/e2e/streaming/hostile_client.py) against the real cricketd for
// a few seconds and checks that cricketd stays up, that its resident memory stays under 64 MiB meanwhile
// (VmRSS sampled and VmHWM, reset before the attack), that a legitimate exec and port-forward started
// during the attack still work, and that nothing is left behind afterwards (streaming threads, TCP
// sockets and pipes of cricketd, processes in the container; at the end the fixture's host checks).
// Needs root, docker-registry, /usr/bin/python3, busybox-static and the CNI plugins (skips otherwise).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "test/e2e/pod_fixture.h"

namespace cricket::e2e {
namespace {

using nlohmann::json;
using ::testing::IsEmpty;

constexpr char kPython[] = "/usr/bin/python3";
constexpr int kHttpPort = 8080;
constexpr int kSinkPort = 9091;  // accepts and never reads
constexpr int64_t kRssLimitKb = 64 * 1024;
constexpr double kAttackSeconds = 3;
constexpr int kIdleTimeoutSeconds = 5;

std::string Joined(const Leftovers& l) { return Join(l, "\n"); }
std::string ClientPath(const char* name) { return StrCat(CRICKET_SOURCE_DIR, "/test/e2e/streaming/", name); }

// A child process with a pipe to its stdin and one from its stdout (read line by line); stderr goes to
// a file shown when the test fails. Killed and reaped by the destructor when still running.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    char tmpl[] = "/tmp/cricket-abuse-stderr-XXXXXX";
    err_ = UniqueFd(::mkstemp(tmpl));
    ::unlink(tmpl);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err_.get(), STDERR_FILENO);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = UniqueFd(in[1]);
    out_ = UniqueFd(out[0]);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // The next line of stdout, parsed as JSON; a discarded value on timeout or EOF.
  json ReadJson(int timeout_ms) {
    const int64_t deadline = MonotonicNow() + int64_t{timeout_ms} * 1000000;
    while (true) {
      if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return json::parse(line, nullptr, false);
      }
      const int64_t left_ms = (deadline - MonotonicNow()) / 1000000;
      pollfd p{out_.get(), POLLIN, 0};
      if (left_ms <= 0 || ::poll(&p, 1, static_cast<int>(left_ms)) <= 0) return json::value_t::discarded;
      char chunk[4096];
      const ssize_t n = ::read(out_.get(), chunk, sizeof(chunk));
      if (n <= 0) return json::value_t::discarded;
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
  void WriteLine(const std::string& line) {
    const std::string l = line + "\n";
    (void)!::write(in_.get(), l.data(), l.size());
  }
  // Waits for the exit (SIGKILL after timeout_ms); the exit code or 128+signal.
  int Wait(int timeout_ms) {
    int status = 0;
    for (int waited = 0; ::waitpid(pid_, &status, WNOHANG) == 0; waited += 20) {
      if (waited >= timeout_ms) ::kill(pid_, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string Stderr() const {
    std::string text;
    char chunk[4096];
    ssize_t n;
    off_t at = 0;
    while ((n = ::pread(err_.get(), chunk, sizeof(chunk), at)) > 0) {
      text.append(chunk, static_cast<size_t>(n));
      at += n;
    }
    return text;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd in_, out_, err_;
  std::string buf_;
};

// The entries of a /proc directory (full paths); entries that vanish meanwhile are skipped.
std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    out.push_back(it->path().string());
  }
  return out;
}

int64_t StatusFieldKb(pid_t pid, std::string_view field) {
  const std::string status = ReadFile(StrCat("/proc/", pid, "/status")).value_or("");
  for (std::string_view line : Split(status, '\n')) {
    if (!absl::StartsWith(ToAbsl(line), ToAbsl(field)) || line.size() <= field.size() ||
        line[field.size()] != ':') {
      continue;
    }
    int64_t kb = -1;
    std::string value(line.substr(field.size() + 1));
    if (value.size() > 3 && value.ends_with(" kB")) value.resize(value.size() - 3);
    return absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &kb) ? kb : -1;
  }
  return -1;
}

// Samples cricketd's VmRSS every 20 ms from construction to Peak(), and reads VmHWM, which the
// constructor resets (clear_refs 5), so that spikes between samples count too.
class RssWatch {
 public:
  explicit RssWatch(pid_t pid) : pid_(pid) {
    if (UniqueFd fd(::open(StrCat("/proc/", pid, "/clear_refs").c_str(), O_WRONLY | O_CLOEXEC)); fd) {
      (void)!::write(fd.get(), "5", 1);
    }
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        peak_kb_ = std::max(peak_kb_.load(), StatusFieldKb(pid_, "VmRSS"));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~RssWatch() { Stop(); }
  int64_t PeakKb() {
    Stop();
    return std::max(peak_kb_.load(), StatusFieldKb(pid_, "VmHWM"));
  }

 private:
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_kb_{0};
  std::thread thread_;
};

// What of cricketd's could be left behind by a streaming session: threads named stream-*, TCP sockets
// (client connections, dials into pods) and pipes (exec stdio).
struct DaemonHoldings {
  int stream_threads = 0;
  int tcp_sockets = 0;
  int pipes = 0;
  bool operator==(const DaemonHoldings&) const = default;
  std::string ToString() const {
    return StrCat("stream threads ", stream_threads, ", TCP sockets ", tcp_sockets, ", pipes ", pipes);
  }
};

DaemonHoldings Holdings(pid_t pid) {
  DaemonHoldings h;
  for (const std::string& task : ListDir(StrCat("/proc/", pid, "/task"))) {
    if (absl::StartsWith(ReadFile(task + "/comm").value_or(""), "stream")) ++h.stream_threads;
  }
  // Unix sockets are gRPC's; every other socket of cricketd is a TCP one of the streaming server.
  std::set<std::string> unix_inodes;
  const std::string unix_table = ReadFile("/proc/net/unix").value_or("");
  for (std::string_view line : Split(unix_table, '\n')) {
    std::vector<std::string_view> cols;
    for (std::string_view c : Split(line, ' ')) {
      if (!c.empty()) cols.push_back(c);
    }
    if (cols.size() >= 7) unix_inodes.insert(std::string(cols[6]));
  }
  for (const std::string& fd : ListDir(StrCat("/proc/", pid, "/fd"))) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(fd, ec).string();
    if (absl::StartsWith(target, "pipe:")) ++h.pipes;
    if (absl::StartsWith(target, "socket:[")) {
      const std::string inode = target.substr(8, target.size() - 9);
      if (!unix_inodes.contains(inode)) ++h.tcp_sockets;
    }
  }
  return h;
}

bool DaemonAlive(pid_t pid) {
  const std::string stat = ReadFile(StrCat("/proc/", pid, "/stat")).value_or("");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

class StreamingAbuseE2eTest : public PodE2eTest {
 protected:
  void SetUp() override {
    // A session that the attacker stalls (a pod that never reads, so the client is not read either)
    // ends by the idle timeout once the attacker is gone: 4h by default, a few seconds here.
    set_extra_daemon_config(StrCat("\n[crio.api]\nstream_idle_timeout = \"", kIdleTimeoutSeconds, "s\"\n"));
    PodE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pod_config_ = PodConfig("abuse");
    pod_ = MustRunPod(pod_config_);
    ASSERT_FALSE(pod_.empty());
    sleeper_ = MustRunContainer(pod_, pod_config_, ShellContainer("sleeper", "exec sleep 100000"));
    MustRunContainer(pod_, pod_config_,
                     ShellContainer("httpd", StrCat("mkdir -p /tmp/www && echo hello-from-pod > "
                                                    "/tmp/www/index.html && exec httpd -f -p ",
                                                    kHttpPort, " -h /tmp/www")));
    MustRunContainer(pod_, pod_config_,
                     ShellContainer("sink", StrCat("exec nc -ll -p ", kSinkPort, " -e sleep 100000")));
    ASSERT_FALSE(HasFailure());
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
      up = Exec(sleeper_, {"sh", "-c",
                           StrCat("wget -q -O - http://127.0.0.1:", kHttpPort,
                                  "/ && netstat -ltn | grep -q :", kSinkPort)})
               .exit_code == 0;
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(up) << "httpd and the sink do not answer in the pod";
    // One legitimate round first: whatever the daemon sets up lazily is there before the baseline.
    LegitimateUse("warm-up");
    ASSERT_FALSE(HasFailure());
    baseline_ = WaitHoldings(DaemonHoldings{}, 0);
  }

  void TearDown() override {
    if (!IsSkipped() && !pod_.empty() && daemon().pid() > 0 && DaemonAlive(daemon().pid())) {
      EXPECT_TRUE(StopPod(pod_).ok());
      EXPECT_TRUE(RemovePod(pod_).ok());
      EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
    }
    PodE2eTest::TearDown();
  }

  std::string ExecUrl(const std::vector<std::string>& cmd, bool tty, bool in, bool out, bool err) {
    v1::ExecRequest req;
    req.set_container_id(sleeper_);
    for (const std::string& a : cmd) req.add_cmd(a);
    req.set_tty(tty);
    req.set_stdin(in);
    req.set_stdout(out);
    req.set_stderr(err);
    v1::ExecResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status st = rt().Exec(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.url();
  }
  std::string PortForwardUrl() {
    v1::PortForwardRequest req;
    req.set_pod_sandbox_id(pod_);
    v1::PortForwardResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status st = rt().PortForward(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.url();
  }

  // spdy_client.py with `args` to completion; its JSON answer.
  static json Client(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kPython, ClientPath("spdy_client.py")};
    argv.insert(argv.end(), args.begin(), args.end());
    Child child(argv);
    json j = child.ReadJson(60000);
    const int rc = child.Wait(5000);
    if (rc != 0 || !j.is_object()) {
      ADD_FAILURE() << "spdy_client.py " << Join(args, " ") << " exited " << rc << ": " << child.Stderr();
      return json{{"status", -1}};
    }
    return j;
  }

  // A legitimate exec (stdout checked) and port-forward (the pod's httpd answers).
  void LegitimateUse(const std::string& when) {
    SCOPED_TRACE(when);
    json r = Client({"run", ExecUrl({"echo", "legit"}, false, false, true, true), "--timeout", "20"});
    std::string out;
    absl::Base64Unescape(r.value("stdout", ""), &out);
    EXPECT_EQ(out, "legit\n") << r.dump();
    json pf = Client({"portforward", PortForwardUrl(), "--port", std::to_string(kHttpPort), "--send-b64",
                      absl::Base64Escape("GET /index.html HTTP/1.0\r\n\r\n"), "--timeout", "20"});
    std::string data;
    if (pf["connections"].is_array() && !pf["connections"].empty())
      absl::Base64Unescape(pf["connections"][0].value("data", ""), &data);
    EXPECT_TRUE(absl::StrContains(data, "hello-from-pod")) << pf.dump();
  }

  // Waits (up to `seconds`) until cricketd holds no more than `want`; returns what it holds then.
  DaemonHoldings WaitHoldings(const DaemonHoldings& want, int seconds) {
    DaemonHoldings h = Holdings(daemon().pid());
    for (int i = 0; i < seconds * 10; ++i) {
      if (h.stream_threads <= want.stream_threads && h.tcp_sockets <= want.tcp_sockets &&
          h.pipes <= want.pipes)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      h = Holdings(daemon().pid());
    }
    return h;
  }

  // Runs the hostile client `attack` with `args` against `url`: once it has started, watches
  // cricketd's memory and runs `during` (legitimate use by default); then checks the outcome. Returns
  // the client's summary line.
  json Attack(const std::string& attack, const std::string& url, const std::vector<std::string>& args,
              const std::function<void()>& during = nullptr) {
    std::vector<std::string> argv = {kPython,     ClientPath("hostile_client.py"), attack, url,
                                     "--seconds", std::to_string(kAttackSeconds)};
    argv.insert(argv.end(), args.begin(), args.end());
    Child client(argv);
    json started = client.ReadJson(30000);
    EXPECT_EQ(started.value("event", ""), "started") << started.dump() << client.Stderr();
    RssWatch rss(daemon().pid());
    if (during) {
      during();
    } else {
      LegitimateUse(StrCat("during ", attack));
    }
    json done = client.ReadJson(static_cast<int>(kAttackSeconds * 1000) + 60000);
    EXPECT_EQ(done.value("event", ""), "done") << done.dump() << client.Stderr();
    EXPECT_EQ(client.Wait(10000), 0) << client.Stderr();
    const int64_t peak_kb = rss.PeakKb();
    const bool alive = DaemonAlive(daemon().pid());
    std::cout << "[ abuse    ] " << attack << ": cricketd " << (alive ? "up" : "DEAD") << ", peak RSS "
              << peak_kb / 1024 << " MiB, client " << done.dump() << std::endl;
    EXPECT_TRUE(alive) << daemon().Stderr();
    EXPECT_LT(peak_kb, kRssLimitKb) << attack;
    if (!alive) return done;
    LegitimateUse(StrCat("after ", attack));
    const DaemonHoldings after = WaitHoldings(baseline_, 15);
    EXPECT_TRUE(after.stream_threads <= baseline_.stream_threads &&
                after.tcp_sockets <= baseline_.tcp_sockets && after.pipes <= baseline_.pipes)
        << "after " << attack << ": " << after.ToString() << "; before: " << baseline_.ToString();
    std::string ps = Exec(sleeper_, {"ps", "-o", "args"}).out;
    EXPECT_FALSE(absl::StrContains(ps, "abuse-marker")) << ps;
    return done;
  }

  v1::PodSandboxConfig pod_config_;
  std::string pod_, sleeper_;
  DaemonHoldings baseline_;
};

// Issue 16 case 1: one port-forward connection opening and resetting stream pairs as fast as it can
// (each pair used to cost a thread until the connection closed).
TEST_F(StreamingAbuseE2eTest, PortForwardStreamChurn) {
  json done = Attack("pf-churn", PortForwardUrl(), {"--port", std::to_string(kHttpPort)});
  EXPECT_GT(done.value("pairs", int64_t{0}), 1000) << done.dump();
}

// The same connection keeping every pair open: refused beyond the per-connection limit.
TEST_F(StreamingAbuseE2eTest, PortForwardStreamsHeldOpen) {
  json done = Attack("pf-churn", PortForwardUrl(), {"--port", std::to_string(kSinkPort), "--hold"});
  EXPECT_GT(done.value("pairs", int64_t{0}), 1000) << done.dump();
}

// Case 2: an exec that asked for stdout only; the client opens just a stdin stream and writes into it,
// so the session never starts and everything it sends arrives before the start.
TEST_F(StreamingAbuseE2eTest, ExecStdinBeforeTheSessionStarts) {
  for (bool stdin : {true, false}) {
    SCOPED_TRACE(stdin ? "exec with stdin" : "exec without stdin");
    json done = Attack("exec-prestart",
                       ExecUrl({"sh", "-c", "echo abuse-marker; sleep 1000"}, false, stdin, true, true), {});
    EXPECT_GT(done.value("sent", int64_t{0}), 1 << 20) << done.dump();
  }
}

// Case 3: WebSocket port-forward into a pod listener that accepts and never reads.
TEST_F(StreamingAbuseE2eTest, WebSocketPortForwardIntoAListenerThatNeverReads) {
  json done = Attack("ws-pf-flood", PortForwardUrl(), {"--port", std::to_string(kSinkPort)});
  EXPECT_GT(done.value("sent", int64_t{0}), 1 << 20) << done.dump();
}

// Case 4: a thousand idle connections without a token, reopened as soon as they are dropped; and the
// same with connections that send one byte and stall. Token holders keep being served meanwhile.
TEST_F(StreamingAbuseE2eTest, ConnectionFloodWithoutTokens) {
  for (const char* variant : {"idle", "slowloris"}) {
    SCOPED_TRACE(variant);
    std::vector<std::string> args = {"--count", "1000"};
    if (std::string(variant) == "slowloris") args.push_back("--slowloris");
    json done = Attack("conn-flood", ExecUrl({"true"}, false, false, true, true), args, [&] {
      for (int i = 0; i < 3; ++i) LegitimateUse(StrCat(variant, " flood, round ", i));
    });
    EXPECT_GT(done.value("opened", int64_t{0}), 256) << done.dump();
  }
}

// Case 5: a tty exec whose process exits while a daemonised descendant keeps the terminal busy; the
// client then drops the session. The exited process's pid must not be signalled once it could belong
// to someone else: a process that takes over that pid (clone3 set_tid) as a group leader survives.
TEST_F(StreamingAbuseE2eTest, CancelledTerminalSignalsOnlyItsOwnProcesses) {
  const std::string marker = "abuse-leader-5";
  const std::string script = StrCat(
      "setsid sh -c 'while :; do echo tick; usleep 20000; done' & echo ready; read x; exit 0 # ", marker);
  const std::string url = ExecUrl({"sh", "-c", script}, /*tty=*/true, /*in=*/true, true, false);
  std::vector<std::string> argv = {kPython, ClientPath("hostile_client.py"), "tty-hold", url, "--ready",
                                   "ready"};
  Child client(argv);
  json started = client.ReadJson(30000);
  ASSERT_EQ(started.value("event", ""), "started") << started.dump() << client.Stderr();
  RssWatch rss(daemon().pid());

  // The exec'd process: the session leader whose command line carries the marker.
  pid_t leader = -1;
  for (const std::string& dir : ListDir("/proc")) {
    const std::string name = dir.substr(dir.rfind('/') + 1);
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = ReadFile(dir + "/cmdline").value_or("");
    if (!absl::StrContains(cmdline, marker)) continue;
    std::string stat = ReadFile(dir + "/stat").value_or("");
    std::vector<std::string_view> f = Split(std::string_view(stat).substr(stat.rfind(')') + 2), ' ');
    if (f.size() > 4 && f[3] == name) leader = std::stoi(name);  // field 6 (session) == pid
  }
  ASSERT_GT(leader, 0) << "no session leader with " << marker;
  client.WriteLine("send go");
  ASSERT_EQ(client.ReadJson(10000).value("event", ""), "sent");
  // The leader exits; wait until it is no longer running (a zombie or gone).
  bool exited = false;
  for (int i = 0; i < 100 && !exited; ++i) {
    std::string stat = ReadFile(StrCat("/proc/", leader, "/stat")).value_or("");
    exited = stat.empty() || stat[stat.rfind(')') + 2] == 'Z';
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(exited);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Take the pid over if it is free: a new process with that pid, leading a process group of that id.
  clone_args ca{};
  pid_t tid[1] = {leader};
  ca.exit_signal = SIGCHLD;
  ca.set_tid = reinterpret_cast<uint64_t>(tid);
  ca.set_tid_size = 1;
  const pid_t victim = static_cast<pid_t>(::syscall(SYS_clone3, &ca, sizeof(ca)));
  if (victim == 0) {
    ::setpgid(0, 0);
    while (true) ::pause();
  }
  const int clone_errno = errno;
  std::cout << "[ abuse    ] tty-cancel: leader pid " << leader << (victim > 0 ? " was free and reused" : "")
            << (victim < 0 ? StrCat(" still held (clone3: ", strerror(clone_errno), ")") : "") << std::endl;
  client.WriteLine("drop");
  EXPECT_EQ(client.ReadJson(10000).value("event", ""), "done");
  EXPECT_EQ(client.Wait(10000), 0);
  // The cancelled session ends and reaps its process; give any stray signal time to land.
  bool reaped = false;
  for (int i = 0; i < 100 && !reaped; ++i) {
    std::string stat = ReadFile(StrCat("/proc/", leader, "/stat")).value_or("");
    reaped = victim > 0 || stat.empty();
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(reaped) << "the exited exec process was not reaped after the session ended";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  if (victim > 0) {
    int status = 0;
    const pid_t w = ::waitpid(victim, &status, WNOHANG);
    EXPECT_EQ(w, 0) << "the process that took over pid " << leader
                    << " was signalled: " << (WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
    ::kill(victim, SIGKILL);
    ::waitpid(victim, nullptr, 0);
  } else {
    // The fix's mechanism: the exited process stays a zombie (its pid held) while the session runs.
    EXPECT_EQ(clone_errno, EEXIST) << strerror(clone_errno);
  }
  const int64_t peak_kb = rss.PeakKb();
  EXPECT_TRUE(DaemonAlive(daemon().pid())) << daemon().Stderr();
  EXPECT_LT(peak_kb, kRssLimitKb);
  LegitimateUse("after tty-cancel");
  const DaemonHoldings after = WaitHoldings(baseline_, 15);
  EXPECT_TRUE(after.stream_threads <= baseline_.stream_threads &&
              after.tcp_sockets <= baseline_.tcp_sockets && after.pipes <= baseline_.pipes)
      << after.ToString() << "; before: " << baseline_.ToString();
}

}  // namespace
}  // namespace cricket::e2e
