// Pods and containers of the real cricketd with busybox from a real registry, Debian's CNI plugins and
// cricket-conmon: exit codes and reasons (OOMKilled with a 16 MiB limit), the CRI log file, status
// fields, the process settings seen from inside, read-only rootfs, hostPort and the pod IP, namespace
// sharing inside a pod, ExecSync timeouts, log reopening, resource updates and list filters.
// Needs root; skips otherwise (see pod_fixture.h).
#include <gmock/gmock.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <chrono>
#include <regex>
#include <thread>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/sys/namespace_pin.h"
#include "test/e2e/pod_fixture.h"

namespace cricket::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr int kExitWaitMs = 30'000;
constexpr int64_t kMiB = 1 << 20;

// A process in a busybox container: `ps` lines holding `needle`.
bool PsHas(const std::string& ps, const std::string& needle) { return ps.find(needle) != std::string::npos; }

// Serves "<body>\n" as /index.html on `port` with busybox httpd.
v1::ContainerConfig Httpd(const std::string& name, int port, const std::string& body) {
  return PodE2eTest::ShellContainer(
      name,
      StrCat("mkdir -p /www && echo ", body, " > /www/index.html && exec httpd -f -p ", port, " -h /www"));
}

// Waits until GET host:port/index.html answers with `body`.
bool WaitHttp(const std::string& host, int port, const std::string& body, int timeout_ms = 15'000) {
  int64_t deadline = MonotonicNow() + int64_t{timeout_ms} * 1'000'000;
  while (MonotonicNow() < deadline) {
    if (absl::StrContains(HttpGet(host, port, "/index.html", 2000), body)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST_F(PodE2eTest, ExitCodesAndReasons) {
  v1::PodSandboxConfig pod = PodConfig("exits");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string ok = MustRunContainer(pod_id, pod, ShellContainer("ok", "exit 0"));
  std::string three = MustRunContainer(pod_id, pod, ShellContainer("three", "exit 3"));
  // pid 1 of its own pid namespace (CONTAINER, as kubelet asks without shareProcessNamespace; the CRI
  // default POD would make pause pid 1): SIGTERM is ignored unless trapped, so StopContainer escalates
  // to SIGKILL.
  v1::ContainerConfig killed_config = ShellContainer("killed", "exec sleep 1000");
  killed_config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      v1::CONTAINER);
  std::string killed = MustRunContainer(pod_id, pod, killed_config);
  std::string trapped = MustRunContainer(
      pod_id, pod, ShellContainer("trapped", "trap 'exit 143' TERM; while true; do sleep 0.1; done"));

  v1::ContainerStatus st;
  ASSERT_TRUE(WaitForState(ok, v1::CONTAINER_EXITED, kExitWaitMs, &st));
  EXPECT_EQ(st.exit_code(), 0);
  EXPECT_EQ(st.reason(), "Completed");
  EXPECT_GT(st.created_at(), 0);
  EXPECT_GE(st.started_at(), st.created_at());
  EXPECT_GE(st.finished_at(), st.started_at());

  ASSERT_TRUE(WaitForState(three, v1::CONTAINER_EXITED, kExitWaitMs, &st));
  EXPECT_EQ(st.exit_code(), 3);
  EXPECT_EQ(st.reason(), "Error");

  ASSERT_TRUE(WaitForState(killed, v1::CONTAINER_RUNNING, kExitWaitMs));
  int64_t t0 = MonotonicNow();
  ASSERT_TRUE(StopContainer(killed, 2).ok());
  int64_t stop_ms = (MonotonicNow() - t0) / 1'000'000;
  st = ContainerStatus(killed);
  EXPECT_EQ(st.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(st.exit_code(), 137);  // 128 + SIGKILL after the 2 s grace period
  EXPECT_EQ(st.reason(), "Error");
  EXPECT_GE(stop_ms, 1900);
  EXPECT_LT(stop_ms, 10'000);

  ASSERT_TRUE(WaitForState(trapped, v1::CONTAINER_RUNNING, kExitWaitMs));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the trap is set
  t0 = MonotonicNow();
  ASSERT_TRUE(StopContainer(trapped, 30).ok());
  EXPECT_LT((MonotonicNow() - t0) / 1'000'000, 5'000);  // the SIGTERM handler ended it
  st = ContainerStatus(trapped);
  EXPECT_EQ(st.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(st.exit_code(), 143);
  EXPECT_EQ(st.reason(), "Error");
  // Stopping an exited container again is a no-op.
  EXPECT_TRUE(StopContainer(trapped, 1).ok());
  EXPECT_EQ(ContainerStatus(trapped).exit_code(), 143);
}

TEST_F(PodE2eTest, OomKilledWithA16MiBLimit) {
  v1::PodSandboxConfig pod = PodConfig("oom");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  // The shell keeps 64 MiB of command substitution output in memory.
  v1::ContainerConfig c =
      ShellContainer("hog", "a=$(head -c 67108864 /dev/zero | tr '\\0' x); echo survived ${#a}");
  c.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(16 * kMiB);
  c.mutable_linux()->mutable_resources()->set_memory_swap_limit_in_bytes(16 * kMiB);
  std::string id = MustRunContainer(pod_id, pod, c);
  v1::ContainerStatus st;
  ASSERT_TRUE(WaitForState(id, v1::CONTAINER_EXITED, 60'000, &st));
  EXPECT_EQ(st.reason(), "OOMKilled");
  EXPECT_EQ(st.exit_code(), 137);
  EXPECT_THAT(ReadFile(st.log_path()).value_or(""), Not(HasSubstr("survived")));
  // The same program without the limit completes.
  std::string free_id = MustRunContainer(pod_id, pod, ShellContainer("nolimit", c.command(2)));
  ASSERT_TRUE(WaitForState(free_id, v1::CONTAINER_EXITED, 60'000, &st));
  EXPECT_EQ(st.reason(), "Completed");
  EXPECT_THAT(ReadFile(st.log_path()).value_or(""), HasSubstr("stdout F survived 67108864\n"));
}

struct LogRecord {
  int64_t time = 0;
  std::string stream;
  std::string tag;
  std::string text;
};

// Parses a CRI log file, failing the test on any line that is not `<RFC3339Nano> <stream> <P|F> <text>`.
std::vector<LogRecord> ParseCriLog(const std::string& content) {
  static const std::regex kLine(
      R"(^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)) (stdout|stderr) (P|F) (.*)$)");
  std::vector<LogRecord> out;
  EXPECT_TRUE(content.empty() || content.back() == '\n') << "the log does not end with a newline";
  std::vector<std::string_view> lines = Split(content, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (std::string_view line : lines) {
    std::smatch m;
    std::string s(line);
    if (!std::regex_match(s, m, kLine)) {
      ADD_FAILURE() << "not a CRI log line: " << s.substr(0, 200);
      continue;
    }
    auto t = ParseRFC3339(m[1].str());
    EXPECT_TRUE(t.ok()) << m[1].str();
    out.push_back({t.value_or(0), m[4].str(), m[5].str(), m[6].str()});
  }
  return out;
}

// The lines of one stream, P chunks joined to their F record (a trailing P run is one line).
std::vector<std::string> Lines(const std::vector<LogRecord>& records, const std::string& stream) {
  std::vector<std::string> out;
  std::string pending;
  bool open = false;
  for (const LogRecord& r : records) {
    if (r.stream != stream) continue;
    pending += r.text;
    open = r.tag == "P";
    if (!open) {
      out.push_back(pending);
      pending.clear();
    }
  }
  if (open) out.push_back(pending);
  return out;
}

TEST_F(PodE2eTest, LogFileHasTheCriFormat) {
  v1::PodSandboxConfig pod = PodConfig("logs");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id = MustRunContainer(
      pod_id, pod,
      ShellContainer("writer",
                     "echo hello World; echo to-stderr >&2; head -c 40000 /dev/zero | tr '\\0' x; echo; "
                     "echo; printf 'no newline at the end'"));
  v1::ContainerStatus st;
  ASSERT_TRUE(WaitForState(id, v1::CONTAINER_EXITED, kExitWaitMs, &st));
  EXPECT_EQ(st.log_path(), StrCat(pod.log_directory(), "/writer.log"));
  EXPECT_TRUE(st.log_path().starts_with("/"));
  std::string content = ReadFile(st.log_path()).value_or("");
  std::vector<LogRecord> records = ParseCriLog(content);
  ASSERT_FALSE(records.empty()) << content;

  EXPECT_EQ(Lines(records, "stdout"),
            (std::vector<std::string>{"hello World", std::string(40000, 'x'), "", "no newline at the end"}));
  EXPECT_EQ(Lines(records, "stderr"), (std::vector<std::string>{"to-stderr"}));
  // The first record is exactly what critest compares; the long line is cut into 16 KiB P chunks.
  EXPECT_EQ(records[0].stream, "stdout");
  EXPECT_EQ(records[0].tag, "F");
  EXPECT_EQ(records[0].text, "hello World");
  std::vector<size_t> chunks;
  for (const LogRecord& r : records) {
    if (r.text.find('x') == std::string::npos) continue;
    chunks.push_back(r.text.size());
    EXPECT_EQ(r.tag, chunks.size() < 3 ? "P" : "F");
  }
  EXPECT_EQ(chunks, (std::vector<size_t>{16384, 16384, 40000 - 2 * 16384}));
  // An unterminated last line is written as a P record when the container ends.
  EXPECT_EQ(records.back().tag, "P");
  EXPECT_EQ(records.back().text, "no newline at the end");
  // Timestamps: in order, between start and finish (with a little clock slack).
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_GE(records[i].time, st.started_at() - 1'000'000'000);
    EXPECT_LE(records[i].time, st.finished_at() + 1'000'000'000);
    if (i > 0) {
      EXPECT_GE(records[i].time, records[i - 1].time);
    }
  }
}

TEST_F(PodE2eTest, ContainerStatusFields) {
  v1::PodSandboxConfig pod = PodConfig("status");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string host_dir = daemon().dir() + "/hostdata";
  ASSERT_TRUE(MkdirAll(host_dir, 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(host_dir + "/file", "from the host\n").ok());
  v1::ContainerConfig c = ContainerConfig("sleeper", {"sleep", "1000"});
  (*c.mutable_labels())["tier"] = "web";
  (*c.mutable_annotations())["note"] = "kept";
  v1::Mount* m = c.add_mounts();
  m->set_host_path(host_dir);
  m->set_container_path("/data");
  m->set_readonly(true);
  std::string id;
  ASSERT_TRUE(CreateContainer(pod_id, pod, c, &id).ok());

  v1::ContainerStatus st = ContainerStatus(id);
  EXPECT_EQ(st.id(), id);
  EXPECT_EQ(st.state(), v1::CONTAINER_CREATED);
  EXPECT_GT(st.created_at(), 0);
  EXPECT_EQ(st.started_at(), 0);
  EXPECT_EQ(st.finished_at(), 0);

  ASSERT_TRUE(StartContainer(id).ok());
  st = ContainerStatus(id);
  EXPECT_EQ(st.state(), v1::CONTAINER_RUNNING);
  EXPECT_GE(st.started_at(), st.created_at());
  EXPECT_EQ(st.finished_at(), 0);
  EXPECT_EQ(st.metadata().name(), "sleeper");
  EXPECT_EQ(st.image().image(), kBusybox);
  EXPECT_EQ(st.image_id(), busybox_id());
  EXPECT_TRUE(st.image_ref().starts_with("docker.io/library/busybox@sha256:")) << st.image_ref();
  EXPECT_EQ(st.log_path(), pod.log_directory() + "/sleeper.log");
  EXPECT_EQ(st.labels().at("tier"), "web");
  EXPECT_EQ(st.annotations().at("note"), "kept");
  ASSERT_EQ(st.mounts_size(), 1);
  EXPECT_EQ(st.mounts(0).container_path(), "/data");
  EXPECT_EQ(st.mounts(0).host_path(), host_dir);
  EXPECT_TRUE(st.mounts(0).readonly());
  // The mount as the container sees it.
  EXPECT_EQ(MustExec(id, "cat /data/file"), "from the host\n");
  ExecOutput w = Exec(id, {"touch", "/data/new"});
  EXPECT_EQ(w.exit_code, 1);
  EXPECT_THAT(w.err, HasSubstr("Read-only file system"));
  // ListContainers tells the same.
  v1::ContainerFilter f;
  f.set_id(id);
  std::vector<v1::Container> listed = ListContainers(f);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].image_id(), st.image_id());
  // As containerd does: the list names the image by its id, the status by a repo digest.
  EXPECT_EQ(listed[0].image_ref(), busybox_id());
  EXPECT_EQ(listed[0].pod_sandbox_id(), pod_id);
  EXPECT_EQ(listed[0].created_at(), st.created_at());

  ASSERT_TRUE(StopContainer(id, 0).ok());
  st = ContainerStatus(id);
  EXPECT_EQ(st.state(), v1::CONTAINER_EXITED);
  EXPECT_GE(st.finished_at(), st.started_at());
  EXPECT_EQ(st.exit_code(), 137);
}

// The status line `name` of /proc/self/status as the container sees it, e.g. "CapEff".
std::string StatusLine(const std::string& status, const std::string& name) {
  for (std::string_view line : Split(status, '\n')) {
    if (line.starts_with(name + ":")) return std::string(TrimSpace(line.substr(name.size() + 1)));
  }
  return "";
}

uint64_t CapMask(const std::string& hex) { return std::stoull(hex, nullptr, 16); }

TEST_F(PodE2eTest, ProcessSettingsSeenFromInside) {
  v1::PodSandboxConfig pod = PodConfig("settings");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  v1::ContainerConfig root = ContainerConfig("root", {"sleep", "1000"});
  v1::KeyValue* kv = root.add_envs();
  kv->set_key("GREETING");
  kv->set_value("hello there");
  root.set_working_dir("/srv/app");
  auto* caps = root.mutable_linux()->mutable_security_context()->mutable_capabilities();
  caps->add_add_capabilities("NET_ADMIN");
  caps->add_drop_capabilities("CHOWN");
  std::string root_id = MustRunContainer(pod_id, pod, root);

  EXPECT_EQ(MustExec(root_id, "pwd"), "/srv/app\n");
  std::string env = MustExec(root_id, "env");
  EXPECT_THAT(env, HasSubstr("GREETING=hello there\n"));
  EXPECT_THAT(env, HasSubstr("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"));
  EXPECT_THAT(env, HasSubstr("HOSTNAME=settings\n"));
  EXPECT_EQ(MustExec(root_id, "id -u; id -g"), "0\n0\n");
  std::string status = MustExec(root_id, "cat /proc/self/status");
  uint64_t eff = CapMask(StatusLine(status, "CapEff"));
  uint64_t bnd = CapMask(StatusLine(status, "CapBnd"));
  EXPECT_TRUE(eff & (1ull << 12)) << "CAP_NET_ADMIN added: " << std::hex << eff;
  EXPECT_FALSE(eff & (1ull << 0)) << "CAP_CHOWN dropped: " << std::hex << eff;
  EXPECT_TRUE(eff & (1ull << 5)) << "CAP_KILL is a default: " << std::hex << eff;
  EXPECT_FALSE(eff & (1ull << 21)) << "no CAP_SYS_ADMIN: " << std::hex << eff;
  EXPECT_EQ(eff, bnd);
  EXPECT_EQ(StatusLine(status, "NoNewPrivs"), "0");
  // What the capabilities mean: chown is refused, an interface can be configured.
  ExecOutput chown = Exec(root_id, {"chown", "1:1", "/tmp"});
  EXPECT_NE(chown.exit_code, 0);
  EXPECT_THAT(chown.err, HasSubstr("Operation not permitted"));
  MustExec(root_id, "ip link set lo mtu 65000");

  v1::ContainerConfig user = ContainerConfig("user", {"sleep", "1000"});
  auto* sc = user.mutable_linux()->mutable_security_context();
  sc->mutable_run_as_user()->set_value(1234);
  sc->mutable_run_as_group()->set_value(2345);
  sc->add_supplemental_groups(3456);
  sc->add_supplemental_groups(4567);
  sc->mutable_namespace_options()->set_pid(v1::CONTAINER);  // its own pid 1, checked below
  std::string user_id = MustRunContainer(pod_id, pod, user);
  EXPECT_EQ(MustExec(user_id, "id -u; id -g"), "1234\n2345\n");
  status = MustExec(user_id, "cat /proc/self/status");
  EXPECT_EQ(StatusLine(status, "Uid"), "1234\t1234\t1234\t1234");
  EXPECT_EQ(StatusLine(status, "Gid"), "2345\t2345\t2345\t2345");
  std::vector<std::string_view> groups = Split(StatusLine(status, "Groups"), ' ');
  EXPECT_NE(std::find(groups.begin(), groups.end(), "3456"), groups.end()) << StatusLine(status, "Groups");
  EXPECT_NE(std::find(groups.begin(), groups.end(), "4567"), groups.end()) << StatusLine(status, "Groups");
  EXPECT_EQ(StatusLine(status, "CapEff"), "0000000000000000");
  // The main process runs as the same user as the exec'd one.
  EXPECT_EQ(MustExec(user_id, "stat -c %u /proc/1"), "1234\n");
  EXPECT_EQ(MustExec(user_id, "pwd"), "/\n");
}

TEST_F(PodE2eTest, ReadonlyRootfsWithAWritableTmpMount) {
  v1::PodSandboxConfig pod = PodConfig("readonly");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string tmp_dir = daemon().dir() + "/ro-tmp";
  ASSERT_TRUE(MkdirAll(tmp_dir).ok());
  v1::ContainerConfig c = ContainerConfig("ro", {"sleep", "1000"});
  c.mutable_linux()->mutable_security_context()->set_readonly_rootfs(true);
  v1::Mount* m = c.add_mounts();
  m->set_host_path(tmp_dir);
  m->set_container_path("/tmp");
  std::string id = MustRunContainer(pod_id, pod, c);

  ExecOutput w = Exec(id, {"touch", "/written"});
  EXPECT_EQ(w.exit_code, 1);
  EXPECT_THAT(w.err, HasSubstr("Read-only file system"));
  w = Exec(id, {"mkdir", "/bin/new"});
  EXPECT_THAT(w.err, HasSubstr("Read-only file system"));
  EXPECT_EQ(MustExec(id, "echo ok > /tmp/file && cat /tmp/file"), "ok\n");
  EXPECT_EQ(ReadFile(tmp_dir + "/file").value_or(""), "ok\n");
  // The pod's files stay writable where Kubernetes expects them to be.
  EXPECT_EQ(MustExec(id, "echo x > /dev/shm/x && cat /dev/shm/x"), "x\n");
}

TEST_F(PodE2eTest, HostPortAndPodIpAreReachable) {
  int host_port = FreeTcpPort();
  v1::PodSandboxConfig pod = PodConfig("web");
  v1::PortMapping* pm = pod.add_port_mappings();
  pm->set_protocol(v1::TCP);
  pm->set_container_port(80);
  pm->set_host_port(host_port);
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string ip = PodStatus(pod_id).network().ip();
  EXPECT_TRUE(ip.starts_with(subnet_prefix())) << ip;
  MustRunContainer(pod_id, pod, Httpd("httpd", 80, "hello-from-the-pod"));
  EXPECT_TRUE(WaitHttp(ip, 80, "hello-from-the-pod")) << "pod IP " << ip;
  EXPECT_TRUE(WaitHttp("127.0.0.1", host_port, "hello-from-the-pod")) << "hostPort " << host_port;
  // The pod's /etc/hosts names it with its IP.
  EXPECT_THAT(ReadFile(daemon().runroot() + "/pods/" + pod_id + "/hosts").value_or(""), HasSubstr(ip));
  ASSERT_TRUE(StopPod(pod_id).ok());
  EXPECT_EQ(HttpGet("127.0.0.1", host_port, "/index.html", 1000), "");
  EXPECT_EQ(PodStatus(pod_id).state(), v1::SANDBOX_NOTREADY);
}

TEST_F(PodE2eTest, ContainersOfAPodShareNetAndIpc) {
  v1::PodSandboxConfig pod = PodConfig("shared");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string a = MustRunContainer(pod_id, pod, Httpd("a", 8080, "served-by-a"));
  std::string b = MustRunContainer(pod_id, pod, ContainerConfig("b", {"sleep", "1000"}));
  // net: b reaches a's server on localhost.
  std::string got;
  for (int i = 0; i < 50 && !absl::StrContains(got, "served-by-a"); ++i) {
    got = Exec(b, {"wget", "-qO-", "http://127.0.0.1:8080/index.html"}).out;
    if (!absl::StrContains(got, "served-by-a")) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(got, "served-by-a\n");
  EXPECT_EQ(MustExec(a, "cat /proc/net/dev | wc -l"), MustExec(b, "cat /proc/net/dev | wc -l"));

  // ipc: a SysV segment made in the pod's IPC namespace is seen by both containers, not by the host.
  std::string ipcns = sys::PinPath(daemon().runroot() + "/ns", sys::NamespaceType::kIpc, pod_id);
  int shmid = -1;
  ASSERT_TRUE(sys::RunInNamespace(ipcns, sys::NamespaceType::kIpc, [&]() -> absl::Status {
                shmid = ::shmget(0x5eed, 4096, IPC_CREAT | 0600);
                return shmid >= 0 ? absl::OkStatus() : absl::InternalError("shmget");
              }).ok());
  auto has_segment = [&](const std::string& table) {
    for (std::string_view line : Split(table, '\n')) {
      std::vector<std::string> f;
      for (std::string_view x : Split(line, ' ')) {
        if (!x.empty()) f.emplace_back(x);
      }
      if (f.size() > 1 && f[0] == std::to_string(0x5eed) && f[1] == std::to_string(shmid)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_segment(MustExec(a, "cat /proc/sysvipc/shm")));
  EXPECT_TRUE(has_segment(MustExec(b, "cat /proc/sysvipc/shm")));
  EXPECT_FALSE(has_segment(ReadFile("/proc/sysvipc/shm").value_or("")));
  // POSIX message queues live in the IPC namespace too: one made by a is listed in b.
  MustExec(a, "touch /dev/mqueue/from-a");
  EXPECT_THAT(MustExec(b, "ls /dev/mqueue"), HasSubstr("from-a"));
  // And the pod's /dev/shm is one tmpfs.
  MustExec(a, "echo shm > /dev/shm/note");
  EXPECT_EQ(MustExec(b, "cat /dev/shm/note"), "shm\n");
}

TEST_F(PodE2eTest, PidNamespaceSharing) {
  v1::PodSandboxConfig pod = PodConfig("pids");
  pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  auto with_pid = [&](const std::string& name, v1::NamespaceMode mode) {
    v1::ContainerConfig c = ContainerConfig(name, {"sleep", name == "main" ? "1001" : "1002"});
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(mode);
    return c;
  };
  std::string main = MustRunContainer(pod_id, pod, with_pid("main", v1::POD));
  std::string peer = MustRunContainer(pod_id, pod, with_pid("peer", v1::POD));
  std::string alone = MustRunContainer(pod_id, pod, with_pid("alone", v1::CONTAINER));

  std::string ps = MustExec(peer, "ps -o pid,args");
  EXPECT_TRUE(PsHas(ps, "/pause")) << ps;
  EXPECT_TRUE(PsHas(ps, "sleep 1001")) << ps;
  EXPECT_TRUE(PsHas(ps, "sleep 1002")) << ps;
  EXPECT_EQ(MustExec(peer, "cat /proc/1/cmdline"), std::string("/pause\0", 7));

  ps = MustExec(alone, "ps -o pid,args");
  EXPECT_FALSE(PsHas(ps, "/pause")) << ps;
  EXPECT_FALSE(PsHas(ps, "sleep 1001")) << ps;
  EXPECT_TRUE(PsHas(ps, "sleep 1002")) << ps;
  EXPECT_EQ(MustExec(alone, "cat /proc/1/cmdline"), std::string("sleep\0001002\0", 11));
}

// A pod without a pod-level pid namespace (kubelet's default) runs no infra process
// (drop_infra_ctr): its hostname and sysctls are set in its pinned namespaces, its containers see them,
// it stays ready across a restart of cricketd, and its network counters still come from its netns.
TEST_F(PodE2eTest, PodWithoutPodPidNamespaceRunsNoInfraProcess) {
  v1::PodSandboxConfig pod = PodConfig("noinfra");
  pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  (*pod.mutable_linux()->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "81";
  (*pod.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "1";
  std::string host_port_start = ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start").value_or("");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  v1::PodSandboxStatusResponse verbose;
  ASSERT_TRUE(GetPodStatus(pod_id, &verbose, /*verbose=*/true).ok());
  EXPECT_THAT(verbose.info().at("info"), HasSubstr("\"pid\":0")) << verbose.info().at("info");

  // Pid mode POD in a pod that has none: the container gets a pid namespace of its own.
  std::string a = MustRunContainer(pod_id, pod, ContainerConfig("a", {"sleep", "1003"}));
  std::string b = MustRunContainer(pod_id, pod, Httpd("b", 8080, "served-by-b"));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(MustExec(a, "cat /proc/1/cmdline"), std::string("sleep\0001003\0", 11));
  EXPECT_FALSE(PsHas(MustExec(a, "ps -o pid,args"), "httpd"));
  EXPECT_EQ(MustExec(a, "hostname"), "noinfra\n");
  EXPECT_EQ(MustExec(b, "hostname"), "noinfra\n");
  EXPECT_EQ(MustExec(a, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start"), "81\n");
  EXPECT_EQ(MustExec(a, "cat /proc/sys/kernel/shm_rmid_forced"), "1\n");
  EXPECT_EQ(ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start").value_or(""), host_port_start);
  // They share the pod's network: a reaches b's server on localhost.
  std::string got;
  for (int i = 0; i < 50 && !absl::StrContains(got, "served-by-b"); ++i) {
    got = Exec(a, {"wget", "-qO-", "http://127.0.0.1:8080/index.html"}).out;
    if (!absl::StrContains(got, "served-by-b")) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(got, "served-by-b\n");

  // No process holds the pod: a restarted cricketd still finds it ready (its pins are there).
  KillDaemon();
  StartDaemon();
  EXPECT_EQ(PodStatus(pod_id).state(), v1::SANDBOX_READY);
  EXPECT_EQ(ContainerStatus(a).state(), v1::CONTAINER_RUNNING);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::PodSandboxStatsRequest req;
    req.set_pod_sandbox_id(pod_id);
    v1::PodSandboxStatsResponse resp;
    ASSERT_TRUE(rt().PodSandboxStats(&ctx, req, &resp).ok());
    const v1::NetworkUsage& net = resp.stats().linux().network();
    EXPECT_EQ(net.default_interface().name(), "eth0");
    EXPECT_GT(net.default_interface().rx_bytes().value(), 0u);
  }

  // Stopped, it stays not ready across a restart; removed, nothing is left.
  ASSERT_TRUE(StopPod(pod_id).ok());
  EXPECT_EQ(PodStatus(pod_id).state(), v1::SANDBOX_NOTREADY);
  KillDaemon();
  StartDaemon();
  EXPECT_EQ(PodStatus(pod_id).state(), v1::SANDBOX_NOTREADY);
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Join(AllLeft(), "\n");

  // With drop_infra_ctr = false the same kind of pod gets its infra process again.
  set_extra_daemon_config("\n[crio.runtime]\ndrop_infra_ctr = false\n");
  KillDaemon();
  StartDaemon();
  v1::PodSandboxConfig kept = PodConfig("withinfra");
  kept.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  std::string kept_id = MustRunPod(kept);
  ASSERT_FALSE(kept_id.empty());
  ASSERT_TRUE(GetPodStatus(kept_id, &verbose, /*verbose=*/true).ok());
  EXPECT_THAT(verbose.info().at("info"), Not(HasSubstr("\"pid\":0"))) << verbose.info().at("info");
  ASSERT_TRUE(StopPod(kept_id).ok());
  ASSERT_TRUE(RemovePod(kept_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Join(AllLeft(), "\n");
}

TEST_F(PodE2eTest, ExecSyncTimeoutKillsOnlyTheExecdProcess) {
  v1::PodSandboxConfig pod = PodConfig("exec");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id = MustRunContainer(pod_id, pod, ContainerConfig("main", {"sleep", "1000"}));
  int pid = ContainerPid(id);
  ASSERT_GT(pid, 0);
  int64_t t0 = MonotonicNow();
  ExecOutput r = Exec(id, {"sleep", "37"}, /*timeout_s=*/2);
  int64_t ms = (MonotonicNow() - t0) / 1'000'000;
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(r.status.error_message(), HasSubstr("timed out"));
  EXPECT_GE(ms, 1900);
  EXPECT_LT(ms, 8000);
  std::string ps = MustExec(id, "ps -o args");
  EXPECT_FALSE(PsHas(ps, "sleep 37")) << ps;
  EXPECT_TRUE(PsHas(ps, "sleep 1000")) << ps;
  EXPECT_EQ(ContainerStatus(id).state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(ContainerPid(id), pid);
  // Exit codes and both streams of a normal exec.
  r = Exec(id, {"/bin/sh", "-c", "echo out; echo err >&2; exit 5"});
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  // A missing binary fails the exec itself (an error status, as with containerd and runc), never a 0.
  r = Exec(id, {"/no/such/binary"});
  EXPECT_TRUE(!r.status.ok() || r.exit_code != 0);
  if (!r.status.ok()) {
    EXPECT_THAT(r.status.error_message(), HasSubstr("/no/such/binary"));
  }
}

TEST_F(PodE2eTest, ReopenContainerLogAfterRename) {
  v1::PodSandboxConfig pod = PodConfig("rotate");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id = MustRunContainer(
      pod_id, pod,
      ShellContainer("ticker", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.05; done"));
  std::string log = ContainerStatus(id).log_path();
  auto lines = [](const std::string& path) {
    std::string content = ReadFile(path).value_or("");
    return std::count(content.begin(), content.end(), '\n');
  };
  auto wait_lines = [&](const std::string& path, int n) {
    for (int i = 0; i < 200 && lines(path) < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    return lines(path) >= n;
  };
  ASSERT_TRUE(wait_lines(log, 3));
  ASSERT_EQ(::rename(log.c_str(), (log + ".1").c_str()), 0);
  v1::ReopenContainerLogRequest req;
  req.set_container_id(id);
  v1::ReopenContainerLogResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(rt().ReopenContainerLog(&ctx, req, &resp).ok());
  ASSERT_TRUE(wait_lines(log, 3)) << "no new lines in the reopened log";
  std::string old_content = ReadFile(log + ".1").value_or("");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(ReadFile(log + ".1").value_or(""), old_content) << "the renamed log still grows";
  std::vector<LogRecord> before = ParseCriLog(old_content);
  std::vector<LogRecord> after = ParseCriLog(ReadFile(log).value_or(""));
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  // Nothing is lost or repeated across the switch.
  int last = std::stoi(before.back().text.substr(5));
  EXPECT_EQ(after.front().text, StrCat("tick-", last + 1));
}

TEST_F(PodE2eTest, UpdateContainerResourcesChangesTheCgroup) {
  v1::PodSandboxConfig pod = PodConfig("update");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  v1::ContainerConfig c = ContainerConfig("main", {"sleep", "1000"});
  c.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 * kMiB);
  c.mutable_linux()->mutable_resources()->set_cpu_shares(512);
  std::string id = MustRunContainer(pod_id, pod, c);
  std::string memory = ContainerCgroupDir(id, "memory");
  std::string cpu = ContainerCgroupDir(id, "cpu");
  ASSERT_FALSE(memory.empty());
  EXPECT_TRUE(absl::StrContains(memory, cgroup_parent())) << memory;
  EXPECT_EQ(ReadFile(memory + "/memory.limit_in_bytes").value_or(""), StrCat(64 * kMiB, "\n"));
  EXPECT_EQ(ReadFile(cpu + "/cpu.shares").value_or(""), "512\n");

  v1::UpdateContainerResourcesRequest req;
  req.set_container_id(id);
  req.mutable_linux()->set_memory_limit_in_bytes(128 * kMiB);
  req.mutable_linux()->set_cpu_shares(1024);
  v1::UpdateContainerResourcesResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st = rt().UpdateContainerResources(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(ReadFile(memory + "/memory.limit_in_bytes").value_or(""), StrCat(128 * kMiB, "\n"));
  EXPECT_EQ(ReadFile(cpu + "/cpu.shares").value_or(""), "1024\n");
  v1::ContainerStatus status = ContainerStatus(id);
  EXPECT_EQ(status.resources().linux().memory_limit_in_bytes(), 128 * kMiB);
  EXPECT_EQ(status.resources().linux().cpu_shares(), 1024);
}

// [crio.runtime] conmon_cgroup = "pod": each monitor is charged to its pod, in a leaf of the pod's cgroup
// parent, and that leaf goes with the container.
TEST_F(PodE2eTest, MonitorsJoinALeafOfThePodsCgroupWhenConmonCgroupIsPod) {
  ASSERT_TRUE(daemon().Stop(SIGTERM).ok());
  set_extra_daemon_config("\n[crio.runtime]\nconmon_cgroup = \"pod\"\n");
  StartDaemon();
  v1::PodSandboxConfig pod = PodConfig("monitors");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id = MustRunContainer(pod_id, pod, ContainerConfig("main", {"sleep", "1000"}));
  ASSERT_FALSE(id.empty());
  std::string stat = ReadFile(StrCat("/proc/", ContainerPid(id), "/stat")).value_or("");
  std::vector<std::string_view> fields = Split(std::string_view(stat).substr(stat.rfind(')') + 2), ' ');
  ASSERT_GT(fields.size(), 2u) << stat;
  std::string monitor = std::string(fields[1]);  // ppid: the container's monitor
  EXPECT_EQ(ReadFile(StrCat("/proc/", monitor, "/comm")).value_or(""), "cricket-conmon\n");
  std::string leaf = StrCat(cgroup_parent(), "/cricket-conmon-", id);
  std::string cgroups = ReadFile(StrCat("/proc/", monitor, "/cgroup")).value_or("");
  ASSERT_FALSE(cgroups.empty());
  for (std::string_view line : Split(cgroups, '\n')) {
    if (line.empty()) continue;
    EXPECT_TRUE(line.ends_with(StrCat(":", leaf))) << line;  // every hierarchy: the pod's leaf
  }
  auto leaf_dirs = [&] {
    Leftovers out;
    for (const std::string& d : CgroupsLeft()) {
      if (d.find("/cricket-conmon-" + id) != std::string::npos) out.push_back(d);
    }
    return out;
  };
  EXPECT_FALSE(leaf_dirs().empty());
  ASSERT_TRUE(RemoveContainer(id).ok());
  EXPECT_EQ(leaf_dirs(), Leftovers{});
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_EQ(AllLeft(), Leftovers{});
}

// [crio.runtime] hooks_dir: a hook definition (oci-hooks(5)) is injected into the containers its `when`
// matches, and the runtime runs it at its stage with the container's state on stdin.
TEST_F(PodE2eTest, HookDefinitionsFromHooksDirRunForMatchingContainers) {
  std::string hooks = daemon().dir() + "/hooks.d";
  std::string out = daemon().dir() + "/hook-out";
  ASSERT_TRUE(MkdirAll(hooks).ok());
  ASSERT_TRUE(MkdirAll(out).ok());
  // createRuntime: the state JSON names the container; the hook saves it under the container's id.
  std::string script = StrCat(
      "#!/bin/sh\nstate=$(cat)\nid=$(echo \"$state\" | sed 's/.*\"id\": *\"\\([0-9a-f]*\\)\".*/\\1/')\n",
      "echo \"$1 $state\" > ", out, "/$id\n");
  ASSERT_TRUE(WriteFileAtomic(hooks + "/record.sh", script, 0755).ok());
  ASSERT_TRUE(
      WriteFileAtomic(hooks + "/10-record.json", StrCat(R"({"version": "1.0.0", "hook": {"path": ")", hooks,
                                                        R"(/record.sh", "args": ["record.sh", "created"]},
                                        "when": {"annotations": {"^example\\.com/record$": "^yes$"}},
                                        "stages": ["createRuntime"]})"))
          .ok());
  ASSERT_TRUE(daemon().Stop(SIGTERM).ok());
  set_extra_daemon_config(StrCat("\n[crio.runtime]\nhooks_dir = [\"", hooks, "\"]\n"));
  StartDaemon();
  v1::PodSandboxConfig pod = PodConfig("hooks");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  v1::ContainerConfig with = ContainerConfig("with", {"sleep", "1000"});
  (*with.mutable_annotations())["example.com/record"] = "yes";
  std::string recorded = MustRunContainer(pod_id, pod, with);
  std::string plain = MustRunContainer(pod_id, pod, ContainerConfig("plain", {"sleep", "1000"}));
  ASSERT_FALSE(recorded.empty() || plain.empty());
  std::string line = ReadFile(StrCat(out, "/", recorded)).value_or("");
  EXPECT_TRUE(line.starts_with("created {")) << line;
  EXPECT_NE(line.find(recorded), std::string::npos) << line;
  EXPECT_FALSE(PathExists(StrCat(out, "/", plain)));

  // A broken definition refuses new containers, naming the file, until it is mended.
  ASSERT_TRUE(WriteFileAtomic(hooks + "/20-broken.json", "{\"version\": \"1.0.0\"}").ok());
  std::string id;
  grpc::Status st = CreateContainer(pod_id, pod, ContainerConfig("refused", {"sleep", "1000"}), &id);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("20-broken.json"), std::string::npos) << st.error_message();
  ASSERT_TRUE(RemoveAll(hooks + "/20-broken.json").ok());
  EXPECT_FALSE(MustRunContainer(pod_id, pod, ContainerConfig("after", {"sleep", "1000"})).empty());
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_EQ(AllLeft(), Leftovers{});
}

TEST_F(PodE2eTest, ListFilters) {
  v1::PodSandboxConfig pod_a = PodConfig("list-a");
  (*pod_a.mutable_labels())["group"] = "a";
  v1::PodSandboxConfig pod_b = PodConfig("list-b");
  (*pod_b.mutable_labels())["group"] = "b";
  std::string a = MustRunPod(pod_a);
  std::string b = MustRunPod(pod_b);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  v1::ContainerConfig web = ContainerConfig("web", {"sleep", "1000"});
  (*web.mutable_labels())["tier"] = "web";
  std::string running = MustRunContainer(a, pod_a, web);
  std::string exited = MustRunContainer(a, pod_a, ShellContainer("done", "true"));
  std::string created;
  ASSERT_TRUE(CreateContainer(b, pod_b, ContainerConfig("idle", {"sleep", "1"}), &created).ok());
  ASSERT_TRUE(WaitForState(exited, v1::CONTAINER_EXITED, kExitWaitMs));

  auto ids = [](const auto& items) {
    std::set<std::string> out;
    for (const auto& i : items) out.insert(i.id());
    return out;
  };
  v1::ContainerFilter f;
  EXPECT_EQ(ids(ListContainers(f)), (std::set<std::string>{running, exited, created}));
  f.set_id(running.substr(0, 12));
  EXPECT_EQ(ids(ListContainers(f)), (std::set<std::string>{running}));
  f.Clear();
  f.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  EXPECT_EQ(ids(ListContainers(f)), (std::set<std::string>{running}));
  f.mutable_state()->set_state(v1::CONTAINER_EXITED);
  EXPECT_EQ(ids(ListContainers(f)), (std::set<std::string>{exited}));
  f.mutable_state()->set_state(v1::CONTAINER_CREATED);
  EXPECT_EQ(ids(ListContainers(f)), (std::set<std::string>{created}));
  f.Clear();
  f.set_pod_sandbox_id(a);
  EXPECT_EQ(ids(ListContainers(f)), (std::set<std::string>{running, exited}));
  f.mutable_state()->set_state(v1::CONTAINER_CREATED);
  EXPECT_TRUE(ListContainers(f).empty());
  f.Clear();
  (*f.mutable_label_selector())["tier"] = "web";
  EXPECT_EQ(ids(ListContainers(f)), (std::set<std::string>{running}));
  (*f.mutable_label_selector())["tier"] = "db";
  EXPECT_TRUE(ListContainers(f).empty());

  v1::PodSandboxFilter pf;
  EXPECT_EQ(ids(ListPods(pf)), (std::set<std::string>{a, b}));
  pf.set_id(a.substr(0, 10));
  EXPECT_EQ(ids(ListPods(pf)), (std::set<std::string>{a}));
  pf.Clear();
  (*pf.mutable_label_selector())["group"] = "b";
  EXPECT_EQ(ids(ListPods(pf)), (std::set<std::string>{b}));
  (*pf.mutable_label_selector())["suite"] = "pode2e";
  EXPECT_EQ(ids(ListPods(pf)), (std::set<std::string>{b}));
  ASSERT_TRUE(StopPod(b).ok());
  pf.Clear();
  pf.mutable_state()->set_state(v1::SANDBOX_NOTREADY);
  EXPECT_EQ(ids(ListPods(pf)), (std::set<std::string>{b}));
  pf.mutable_state()->set_state(v1::SANDBOX_READY);
  EXPECT_EQ(ids(ListPods(pf)), (std::set<std::string>{a}));
  // Stopping the pod stopped its created container too.
  EXPECT_EQ(ContainerStatus(created).state(), v1::CONTAINER_EXITED);
}

}  // namespace
}  // namespace cricket::e2e
