// Exec, Attach and PortForward of the real cricketd, driven by the independent Python client
// (test/e2e/streaming/spdy_client.py: SPDY/3.1 from zlib, WebSocket from Debian's python3-websocket) as
// a subprocess against the URLs the RPCs return. One busybox pod on a CNI bridge of this test's own and
// one host-network pod share the suite: exec with and without a tty (exit codes, stdin half-close,
// resize), attach to running containers (several attachers, stdin only when created with stdin,
// stdin_once), port-forward to a busybox httpd over SPDY and SPDY-over-WebSocket, used tokens, a client
// dropped mid-exec, WebSocket v5 exec and the RPCs' request validation. Needs root, docker-registry,
// /usr/bin/python3 with python3-websocket and the CNI plugins in /usr/lib/cni.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/common/unique_fd.h"
#include "nlohmann/json.hpp"
#include "test/e2e/test_daemon.h"
#include "test/support/registry.h"

namespace cricket::e2e {
namespace {

namespace v1 = ::runtime::v1;
using nlohmann::json;
using testing::TestRegistry;

constexpr char kImage[] = "docker.io/library/busybox:latest";
constexpr char kBridge[] = "crkstream0";
constexpr char kSubnet[] = "10.233.9.0/24";
constexpr int kHttpPort = 8080;
constexpr char kPython[] = "/usr/bin/python3";

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 60) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Runs argv to completion (killed after `timeout_s`); returns exit status and stdout (stderr appended
// to `err` when given).
struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
ProcessResult RunProcess(const std::vector<std::string>& argv, int timeout_s = 120) {
  ProcessResult r;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return r;
  std::vector<std::string> all = {"/usr/bin/timeout", "-s", "KILL", std::to_string(timeout_s)};
  all.insert(all.end(), argv.begin(), argv.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    std::vector<char*> args;
    for (auto& a : all) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  // Both pipes drained together: a chatty stderr must not block the child.
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string B64(std::string_view s) { return absl::Base64Escape(ToAbsl(s)); }
std::string UnB64(const json& j) {
  std::string out;
  if (j.is_string()) absl::Base64Unescape(j.get<std::string>(), &out);
  return out;
}

// A TCP port nothing listens on right now (the host-network httpd's port).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One container of the suite: its name, script and stdio options.
struct ContainerSpec {
  std::string name;
  std::string script;
  bool stdin = false;
  bool stdin_once = false;
  bool tty = false;
  bool start = true;
};

class StreamingE2eTest : public ::testing::Test {
 protected:
  static std::string SkipReason() {
    if (geteuid() != 0) return "cricketd needs root";
    if (!TestRegistry::Available()) return "/usr/bin/docker-registry is not installed";
    if (!PathExists("/usr/lib/cni/bridge")) return "the CNI plugins are not in /usr/lib/cni";
    if (RunProcess({kPython, "-c", "import websocket"}).exit_code != 0) {
      return "/usr/bin/python3 with python3-websocket is not installed";
    }
    return "";
  }

  static void SetUpTestSuite() {
    if (!SkipReason().empty()) return;
    setup_error_ = SetUpDaemon();
    if (setup_error_.empty()) setup_error_ = SetUpPods();
  }

  static std::string SetUpDaemon() {
    auto reg = TestRegistry::Start();
    if (!reg.ok()) return StrCat("registry: ", reg.status().ToString());
    registry_ = std::move(*reg);
    daemon_ = new TestDaemon();
    std::string conf = daemon_->dir() + "/registries.conf";
    ProcessResult images =
        RunProcess({StrCat(CRICKET_SOURCE_DIR, "/hack/test-images"), "--registry", registry_->host(),
                    "--only", "library/busybox", "--static-busybox", "--cache-dir",
                    StrCat(CRICKET_BINARY_DIR, "/test-images"), "--registries-conf", conf});
    if (images.exit_code != 0) return StrCat("hack/test-images failed: ", images.out, images.err);
    // A bridge of this test's own (name and subnet unused elsewhere), no masquerading, IPAM state in
    // the daemon's temporary directory.
    std::string conflist = StrCat(
        R"({"cniVersion":"1.0.0","name":"streaming-e2e","plugins":[{"type":"bridge","bridge":")", kBridge,
        R"(","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":")", kSubnet,
        R"("}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":")", daemon_->dir(), R"(/ipam"}}]})");
    if (absl::Status s = WriteFileAtomic(daemon_->cni_dir() + "/10-streaming.conflist", conflist); !s.ok()) {
      return s.ToString();
    }
    daemon_->set_extra_config(
        StrCat("[crio.image]\nregistries_conf = \"", conf, "\"\nregistries_conf_dir = \"\"\n"));
    if (absl::Status s = daemon_->Start(); !s.ok()) return StrCat("cricketd: ", s.ToString());
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image(kImage);
    v1::PullImageResponse pulled;
    grpc::Status st = daemon_->ImageStub()->PullImage(Ctx(300).get(), pull, &pulled);
    if (!st.ok()) return "pull: " + st.error_message();
    return "";
  }

  static std::string SetUpPods() {
    auto rt = daemon_->RuntimeStub();
    std::string error;
    pod_config_ = PodConfig("streaming", /*host_network=*/false);
    pod_ = RunPod(*rt, pod_config_, &error);
    if (!error.empty()) return error;
    const std::string loop = "while read l; do echo got:$l; done; echo stdin-closed; exec sleep 100000";
    std::vector<ContainerSpec> specs = {
        {.name = "sleeper", .script = "exec sleep 100000"},
        {.name = "ticker", .script = "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done"},
        {.name = "reader", .script = loop, .stdin = true},
        {.name = "once", .script = loop, .stdin = true, .stdin_once = true},
        {.name = "terminal", .script = "exec sh", .stdin = true, .tty = true},
        {.name = "httpd",
         .script =
             StrCat("mkdir -p /tmp/www && echo hello-from-pod > /tmp/www/index.html && exec httpd -f -p ",
                    kHttpPort, " -h /tmp/www")},
        {.name = "exited", .script = "exit 0"},
        {.name = "created", .script = "exec sleep 100000", .start = false},
    };
    for (const ContainerSpec& spec : specs) {
      containers_[spec.name] = RunContainer(*rt, pod_, pod_config_, spec, &error);
      if (!error.empty()) return error;
    }
    host_port_ = FreePort();
    host_pod_config_ = PodConfig("streaming-host", /*host_network=*/true);
    host_pod_ = RunPod(*rt, host_pod_config_, &error);
    if (!error.empty()) return error;
    ContainerSpec host_httpd{
        .name = "host-httpd",
        .script =
            StrCat("mkdir -p /tmp/www && echo hello-from-host-pod > /tmp/www/index.html && exec httpd -f "
                   "-p 127.0.0.1:",
                   host_port_, " -h /tmp/www")};
    containers_["host-httpd"] = RunContainer(*rt, host_pod_, host_pod_config_, host_httpd, &error);
    if (!error.empty()) return error;
    // The servers and the `exited` container need a moment; wait until the httpds answer in-pod.
    for (const auto& [name, port] :
         {std::pair<std::string, int>{"httpd", kHttpPort}, {"host-httpd", host_port_}}) {
      bool up = false;
      for (int i = 0; i < 100 && !up; ++i) {
        up = ExecSyncIn(*rt, containers_[name], StrCat("wget -q -O - http://127.0.0.1:", port, "/"))
                 .exit_code() == 0;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!up) return StrCat(name, " does not answer on port ", port);
    }
    return "";
  }

  static void TearDownTestSuite() {
    if (daemon_ != nullptr) {
      if (daemon_->pid() > 0) {
        auto rt = daemon_->RuntimeStub();
        for (const std::string& id : {pod_, host_pod_}) {
          if (id.empty()) continue;
          v1::RemovePodSandboxRequest rm;
          rm.set_pod_sandbox_id(id);
          v1::RemovePodSandboxResponse resp;
          grpc::Status st = rt->RemovePodSandbox(Ctx().get(), rm, &resp);
          if (!st.ok()) ADD_FAILURE() << "RemovePodSandbox " << id << ": " << st.error_message();
        }
        (void)daemon_->Stop(SIGTERM);
      }
      // Namespace pins live on a mount of their own that outlives cricketd.
      std::string ns = daemon_->runroot() + "/ns";
      if (PathExists(ns)) ::umount2(ns.c_str(), MNT_DETACH);
      delete daemon_;
      daemon_ = nullptr;
    }
    registry_.reset();
    RunProcess({"/usr/sbin/ip", "link", "del", kBridge});
  }

  void SetUp() override {
    if (std::string why = SkipReason(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_ << (daemon_ ? daemon_->Stderr() : "");
    rt_ = daemon_->RuntimeStub();
  }

  static v1::PodSandboxConfig PodConfig(const std::string& name, bool host_network) {
    v1::PodSandboxConfig pod;
    pod.mutable_metadata()->set_name(name);
    pod.mutable_metadata()->set_namespace_("streaming-e2e");
    pod.mutable_metadata()->set_uid(name + "-uid");
    pod.set_hostname(name);
    pod.set_log_directory(StrCat(daemon_->dir(), "/pod-logs/", name));
    if (host_network) {
      pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
    }
    return pod;
  }

  static std::string RunPod(v1::RuntimeService::Stub& rt, const v1::PodSandboxConfig& pod,
                            std::string* error) {
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = pod;
    v1::RunPodSandboxResponse resp;
    grpc::Status st = rt.RunPodSandbox(Ctx(120).get(), req, &resp);
    if (!st.ok()) *error = StrCat("RunPodSandbox ", pod.metadata().name(), ": ", st.error_message());
    return resp.pod_sandbox_id();
  }

  static std::string RunContainer(v1::RuntimeService::Stub& rt, const std::string& pod_id,
                                  const v1::PodSandboxConfig& pod, const ContainerSpec& spec,
                                  std::string* error) {
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod_id);
    *create.mutable_sandbox_config() = pod;
    v1::ContainerConfig* c = create.mutable_config();
    c->mutable_metadata()->set_name(spec.name);
    c->mutable_image()->set_image(kImage);
    for (const char* arg : {"sh", "-c"}) c->add_command(arg);
    c->add_command(spec.script);
    c->set_log_path(spec.name + ".log");
    c->set_stdin(spec.stdin);
    c->set_stdin_once(spec.stdin_once);
    c->set_tty(spec.tty);
    v1::CreateContainerResponse created;
    grpc::Status st = rt.CreateContainer(Ctx().get(), create, &created);
    if (!st.ok()) {
      *error = StrCat("CreateContainer ", spec.name, ": ", st.error_message());
      return "";
    }
    if (!spec.start) return created.container_id();
    v1::StartContainerRequest start;
    start.set_container_id(created.container_id());
    v1::StartContainerResponse started;
    st = rt.StartContainer(Ctx().get(), start, &started);
    if (!st.ok()) *error = StrCat("StartContainer ", spec.name, ": ", st.error_message());
    return created.container_id();
  }

  static v1::ExecSyncResponse ExecSyncIn(v1::RuntimeService::Stub& rt, const std::string& id,
                                         const std::string& script) {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    for (const char* arg : {"sh", "-c"}) req.add_cmd(arg);
    req.add_cmd(script);
    req.set_timeout(30);
    v1::ExecSyncResponse resp;
    grpc::Status st = rt.ExecSync(Ctx().get(), req, &resp);
    if (!st.ok()) resp.set_exit_code(-1);
    return resp;
  }

  // The container's CRI log so far.
  static std::string Log(const std::string& name) {
    return ReadFile(StrCat(daemon_->dir(), "/pod-logs/streaming/", name, ".log")).value_or("");
  }

  // Exec/Attach/PortForward RPCs; each returns the status and fills *url.
  grpc::Status ExecUrl(const std::string& container, const std::vector<std::string>& cmd, bool tty, bool in,
                       bool out, bool err, std::string* url) {
    v1::ExecRequest req;
    req.set_container_id(container);
    for (const std::string& a : cmd) req.add_cmd(a);
    req.set_tty(tty);
    req.set_stdin(in);
    req.set_stdout(out);
    req.set_stderr(err);
    v1::ExecResponse resp;
    grpc::Status st = rt_->Exec(Ctx().get(), req, &resp);
    *url = resp.url();
    return st;
  }
  std::string MustExecUrl(const std::string& container, const std::vector<std::string>& cmd, bool tty = false,
                          bool in = false, bool out = true, bool err = true) {
    std::string url;
    grpc::Status st = ExecUrl(containers_[container], cmd, tty, in, out, err, &url);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return url;
  }
  grpc::Status AttachUrl(const std::string& container, bool tty, bool in, bool out, bool err,
                         std::string* url) {
    v1::AttachRequest req;
    req.set_container_id(container);
    req.set_tty(tty);
    req.set_stdin(in);
    req.set_stdout(out);
    req.set_stderr(err);
    v1::AttachResponse resp;
    grpc::Status st = rt_->Attach(Ctx().get(), req, &resp);
    *url = resp.url();
    return st;
  }
  std::string MustAttachUrl(const std::string& container, bool tty, bool in, bool out = true,
                            bool err = true) {
    std::string url;
    grpc::Status st = AttachUrl(containers_[container], tty, in, out, err, &url);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return url;
  }
  grpc::Status PortForwardUrl(const std::string& pod, std::string* url) {
    v1::PortForwardRequest req;
    req.set_pod_sandbox_id(pod);
    v1::PortForwardResponse resp;
    grpc::Status st = rt_->PortForward(Ctx().get(), req, &resp);
    *url = resp.url();
    return st;
  }

  // Runs spdy_client.py with `args`; returns its JSON answer ({"status": ...}).
  static json Client(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kPython,
                                     StrCat(CRICKET_SOURCE_DIR, "/test/e2e/streaming/spdy_client.py")};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv, 120);
    json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    if (r.exit_code != 0 || !j.is_object()) {
      ADD_FAILURE() << "spdy_client.py " << Join(args, " ") << " exited " << r.exit_code << ": " << r.out
                    << r.err;
      return json{{"status", -1}};
    }
    return j;
  }

  // The container's processes as `ps` shows them (pid and arguments).
  std::string Processes(const std::string& container) {
    return ExecSyncIn(*rt_, containers_[container], "ps -o pid,args").stdout();
  }
  // Waits until no process line of `container` contains `needle`.
  bool WaitProcessGone(const std::string& container, const std::string& needle, std::string* last) {
    for (int i = 0; i < 100; ++i) {
      *last = Processes(container);
      if (!absl::StrContains(*last, needle)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  static inline std::unique_ptr<TestRegistry> registry_;
  static inline TestDaemon* daemon_ = nullptr;
  static inline std::string setup_error_;
  static inline v1::PodSandboxConfig pod_config_, host_pod_config_;
  static inline std::string pod_, host_pod_;
  static inline std::map<std::string, std::string> containers_;
  static inline int host_port_ = 0;
  std::unique_ptr<v1::RuntimeService::Stub> rt_;
};

json ParseStatus(const json& answer) { return json::parse(answer.value("error", ""), nullptr, false); }

TEST_F(StreamingE2eTest, ExecWithoutTtySeparatesStreamsAndReportsTheExitCode) {
  std::string url = MustExecUrl("sleeper", {"sh", "-c", "hostname; echo err >&2; exit 42"});
  EXPECT_TRUE(absl::StartsWith(url, "http://127.0.0.1:")) << url;
  EXPECT_TRUE(absl::StrContains(url, "/exec/")) << url;
  json r = Client({"run", url});
  ASSERT_EQ(r["status"], 101) << r.dump();
  EXPECT_EQ(r["protocol"], "v4.channel.k8s.io");
  EXPECT_EQ(UnB64(r["stdout"]), "streaming\n");  // the pod's UTS namespace
  EXPECT_EQ(UnB64(r["stderr"]), "err\n");
  json status = ParseStatus(r);
  EXPECT_EQ(status["status"], "Failure") << r.dump();
  EXPECT_EQ(status["reason"], "NonZeroExitCode") << r.dump();
  EXPECT_EQ(status["details"]["causes"], json::parse(R"([{"reason":"ExitCode","message":"42"}])"))
      << r.dump();
}

TEST_F(StreamingE2eTest, ExecSuccessAndMissingCommand) {
  json ok = Client({"run", MustExecUrl("sleeper", {"true"})});
  EXPECT_EQ(ParseStatus(ok), json::parse(R"({"metadata":{},"status":"Success"})")) << ok.dump();
  json missing = Client({"run", MustExecUrl("sleeper", {"/no/such/binary"})});
  json status = ParseStatus(missing);
  EXPECT_EQ(status["status"], "Failure") << missing.dump();
  EXPECT_TRUE(absl::StrContains(missing.value("error", ""), "/no/such/binary")) << missing.dump();
}

TEST_F(StreamingE2eTest, ExecStdinIsPipedAndHalfClosed) {
  std::string payload;
  for (int i = 0; payload.size() < 300000; ++i) payload += StrCat("line ", i, " of the stdin payload\n");
  // sha256sum ends only when stdin reaches EOF: the half-close must arrive.
  // Too big for one command-line argument (MAX_ARG_STRLEN): the client reads it from a file.
  char path[] = "/tmp/cricket-stdin-XXXXXX";
  UniqueFd fd(::mkstemp(path));
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(WriteFileAtomic(path, payload).ok());
  json r = Client({"run", MustExecUrl("sleeper", {"sh", "-c", "sha256sum; echo done >&2"}, false, true),
                   "--stdin-file", path});
  ::unlink(path);
  EXPECT_EQ(UnB64(r["stdout"]).substr(0, 64), Digest::Sha256Of(payload).hex()) << r.dump();
  EXPECT_EQ(UnB64(r["stderr"]), "done\n");
  EXPECT_EQ(ParseStatus(r)["status"], "Success") << r.dump();
}

TEST_F(StreamingE2eTest, ExecWithTtyAppliesResizeAndReportsTheExitCode) {
  std::string url = MustExecUrl("sleeper", {"sh"}, /*tty=*/true, /*in=*/true, true, /*err=*/false);
  json r = Client({"run", url, "--tty", "--no-stderr", "--resize", "123x45", "--stdin-b64",
                   B64("tty; stty size; exit 7\n")});
  std::string out = UnB64(r["stdout"]);
  EXPECT_TRUE(absl::StrContains(out, "45 123")) << out;
  EXPECT_TRUE(absl::StrContains(out, "/dev/pts/")) << out;
  EXPECT_EQ(ParseStatus(r)["details"]["causes"][0]["message"], "7") << r.dump();
}

TEST_F(StreamingE2eTest, UsedTokenIsRefused) {
  std::string url = MustExecUrl("sleeper", {"true"});
  EXPECT_EQ(Client({"run", url})["status"], 101);
  json again = Client({"run", url});
  EXPECT_EQ(again["status"], 404) << again.dump();
  json ws = Client({"run", url, "--transport", "websocket"});
  EXPECT_EQ(ws["status"], 404) << ws.dump();
}

TEST_F(StreamingE2eTest, ClientDroppedMidExecLeavesNoProcess) {
  for (bool tty : {false, true}) {
    SCOPED_TRACE(tty ? "tty" : "no tty");
    std::string marker = tty ? "sleep 1007" : "sleep 1003";
    std::string child = tty ? "sleep 1008" : "sleep 1004";
    // The shell's background child must go too: a process group of the session, not just its leader.
    std::string url =
        MustExecUrl("sleeper", {"sh", "-c", StrCat(child, " & echo started; exec ", marker)}, tty,
                    /*in=*/tty, true, /*err=*/!tty);
    std::vector<std::string> args = {"sessions", url, "--until", "started"};
    if (tty) args.insert(args.end(), {"--tty", "--stdin-b64", ""});
    json r = Client(args);
    ASSERT_TRUE(r["sessions"][0]["found"].get<bool>()) << r.dump();
    std::string ps;
    EXPECT_TRUE(WaitProcessGone("sleeper", marker, &ps)) << ps;
    EXPECT_TRUE(WaitProcessGone("sleeper", child, &ps)) << ps;
  }
}

TEST_F(StreamingE2eTest, WebSocketV5Exec) {
  std::string url = MustExecUrl("sleeper", {"sh", "-c", "cat; echo err >&2; exit 4"}, false, true);
  json r = Client({"run", url, "--transport", "websocket", "--stdin-b64", B64("hello websocket\n")});
  ASSERT_EQ(r["status"], 101) << r.dump();
  EXPECT_EQ(r["protocol"], "v5.channel.k8s.io");
  EXPECT_EQ(UnB64(r["stdout"]), "hello websocket\n");
  EXPECT_EQ(UnB64(r["stderr"]), "err\n");
  EXPECT_EQ(ParseStatus(r)["details"]["causes"][0]["message"], "4") << r.dump();

  url = MustExecUrl("sleeper", {"sh"}, true, true, true, false);
  r = Client(
      {"run", url, "--transport", "websocket", "--resize", "91x17", "--stdin-b64", B64("stty size; exit\n")});
  EXPECT_TRUE(absl::StrContains(UnB64(r["stdout"]), "17 91")) << r.dump();
  EXPECT_EQ(ParseStatus(r)["status"], "Success") << r.dump();
}

TEST_F(StreamingE2eTest, SeveralAttachersSeeTheSameOutput) {
  std::vector<std::string> args = {"sessions",
                                   MustAttachUrl("reader", false, /*in=*/true),
                                   MustAttachUrl("reader", false, false),
                                   MustAttachUrl("reader", false, false),
                                   "--stdin-b64",
                                   B64("several\n"),
                                   "--until",
                                   "got:several"};
  json r = Client(args);
  ASSERT_EQ(r["sessions"].size(), 3u) << r.dump();
  for (const json& s : r["sessions"]) EXPECT_TRUE(s["found"].get<bool>()) << r.dump();
  // The ticker has no stdin: output only, for two attachers at once.
  r = Client({"sessions", MustAttachUrl("ticker", false, false), MustAttachUrl("ticker", false, false),
              "--until", "tick"});
  for (const json& s : r["sessions"]) EXPECT_TRUE(s["found"].get<bool>()) << r.dump();
}

TEST_F(StreamingE2eTest, StdinOnceClosesStdinWhenTheFirstAttachEnds) {
  // Without stdin_once, a detached client leaves the container's stdin open for the next one.
  json r = Client({"sessions", MustAttachUrl("reader", false, true), "--stdin-b64", B64("first\n"), "--until",
                   "got:first"});
  EXPECT_TRUE(r["sessions"][0]["found"].get<bool>()) << r.dump();
  r = Client({"sessions", MustAttachUrl("reader", false, true), "--stdin-b64", B64("second\n"), "--until",
              "got:second"});
  EXPECT_TRUE(r["sessions"][0]["found"].get<bool>()) << r.dump();

  r = Client(
      {"sessions", MustAttachUrl("once", false, true), "--stdin-b64", B64("only\n"), "--until", "got:only"});
  EXPECT_TRUE(r["sessions"][0]["found"].get<bool>()) << r.dump();
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    closed = absl::StrContains(Log("once"), "stdin-closed");
    if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(closed) << Log("once");
  EXPECT_FALSE(absl::StrContains(Log("reader"), "stdin-closed")) << Log("reader");
}

TEST_F(StreamingE2eTest, AttachWithTtyAppliesResize) {
  json r = Client({"sessions", MustAttachUrl("terminal", true, true, true, false), "--tty", "--resize",
                   "77x19", "--stdin-b64", B64("stty size\n"), "--until", "19 77"});
  EXPECT_TRUE(r["sessions"][0]["found"].get<bool>()) << r.dump();
}

TEST_F(StreamingE2eTest, PortForwardToHttpdInThePod) {
  const std::string request = "GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n";
  for (const char* transport : {"spdy", "websocket"}) {
    SCOPED_TRACE(transport);
    std::string url;
    grpc::Status st = PortForwardUrl(pod_, &url);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(absl::StrContains(url, "/portforward/")) << url;
    json r = Client({"portforward", url, "--transport", transport, "--port", std::to_string(kHttpPort),
                     "--send-b64", B64(request), "--connections", "2"});
    ASSERT_EQ(r["status"], 101) << r.dump();
    ASSERT_EQ(r["connections"].size(), 2u) << r.dump();
    for (const json& c : r["connections"]) {
      std::string data = UnB64(c["data"]);
      EXPECT_TRUE(absl::StartsWith(data, "HTTP/1.0 200") || absl::StartsWith(data, "HTTP/1.1 200")) << data;
      EXPECT_TRUE(absl::StrContains(data, "hello-from-pod")) << data;
      EXPECT_EQ(c["error"], "") << r.dump();
    }
  }
}

TEST_F(StreamingE2eTest, PortForwardDialsInsideThePodNetworkNamespace) {
  // The host-network pod's httpd listens on the node's 127.0.0.1; the bridged pod's localhost is its own.
  std::string url;
  ASSERT_TRUE(PortForwardUrl(pod_, &url).ok());
  json r = Client({"portforward", url, "--port", std::to_string(host_port_), "--send-b64",
                   B64("GET / HTTP/1.0\r\n\r\n")});
  ASSERT_EQ(r["status"], 101) << r.dump();
  std::string error = r["connections"][0]["error"];
  EXPECT_TRUE(absl::StrContains(error, StrCat("error forwarding port ", host_port_, " to pod ", pod_)))
      << r.dump();
  EXPECT_EQ(UnB64(r["connections"][0]["data"]), "");
}

TEST_F(StreamingE2eTest, PortForwardForAHostNetworkPod) {
  std::string url;
  grpc::Status st = PortForwardUrl(host_pod_, &url);
  ASSERT_TRUE(st.ok()) << st.error_message();
  json r = Client({"portforward", url, "--port", std::to_string(host_port_), "--send-b64",
                   B64("GET /index.html HTTP/1.0\r\n\r\n")});
  ASSERT_EQ(r["status"], 101) << r.dump();
  std::string data = UnB64(r["connections"][0]["data"]);
  EXPECT_TRUE(absl::StrContains(data, " 200 ")) << data;
  EXPECT_TRUE(absl::StrContains(data, "hello-from-host-pod")) << data;
}

TEST_F(StreamingE2eTest, ExecRequestValidation) {
  std::string url;
  const std::string& sleeper = containers_["sleeper"];
  EXPECT_EQ(ExecUrl(sleeper, {"sh"}, /*tty=*/true, true, true, /*err=*/true, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ExecUrl(sleeper, {"true"}, false, false, false, false, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ExecUrl(sleeper, {}, false, false, true, true, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ExecUrl("", {"true"}, false, false, true, true, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ExecUrl("nosuchcontainer", {"true"}, false, false, true, true, &url).error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (const char* name : {"exited", "created"}) {
    grpc::Status st = ExecUrl(containers_[name], {"true"}, false, false, true, true, &url);
    EXPECT_FALSE(st.ok()) << name;
    EXPECT_TRUE(absl::StrContains(st.error_message(), "not running")) << name << ": " << st.error_message();
    EXPECT_TRUE(url.empty()) << url;
  }
}

TEST_F(StreamingE2eTest, AttachAndPortForwardRequestValidation) {
  std::string url;
  EXPECT_EQ(AttachUrl(containers_["terminal"], true, true, true, /*err=*/true, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(AttachUrl(containers_["reader"], false, false, false, false, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status st = AttachUrl(containers_["ticker"], false, /*in=*/true, true, true, &url);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "stdin")) << st.error_message();
  st = AttachUrl(containers_["exited"], false, false, true, true, &url);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(absl::StrContains(st.error_message(), "not running")) << st.error_message();
  EXPECT_EQ(PortForwardUrl("", &url).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(PortForwardUrl("nosuchpod", &url).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace cricket::e2e
