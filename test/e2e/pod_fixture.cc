#include "test/e2e/pod_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::e2e {

namespace {

constexpr int kSlots = 50;
constexpr int kRpcSeconds = 120;

// What SetUpTestSuite prepared once for every test of the process.
struct Suite {
  std::string error;  // why the suite cannot run; reported by each test
  std::unique_ptr<testing::TestRegistry> registry;
  std::string dir;  // registries.conf and the image summary
  std::string busybox_id;
};
Suite* suite = nullptr;

std::string PluginDir() {
  for (const char* d : {"/usr/lib/cni", "/opt/cni/bin"}) {
    if (PathExists(StrCat(d, "/bridge")) && PathExists(StrCat(d, "/host-local"))) return d;
  }
  return "";
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = kRpcSeconds) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// /proc/self/mountinfo's mount points (field 5, octal escapes decoded).
std::vector<std::string> MountPoints() {
  std::vector<std::string> out;
  std::string info = ReadFile("/proc/self/mountinfo").value_or("");
  for (std::string_view line : Split(info, '\n')) {
    std::vector<std::string_view> f = Split(line, ' ');
    if (f.size() < 5) continue;
    std::string mp;
    for (size_t i = 0; i < f[4].size(); ++i) {
      if (f[4][i] == '\\' && i + 3 < f[4].size()) {
        mp.push_back(
            static_cast<char>((f[4][i + 1] - '0') * 64 + (f[4][i + 2] - '0') * 8 + (f[4][i + 3] - '0')));
        i += 3;
      } else {
        mp.push_back(f[4][i]);
      }
    }
    out.push_back(mp);
  }
  return out;
}

std::vector<std::string> CgroupHierarchies() {
  std::vector<std::string> out;
  for (const std::string& h : ListDir("/sys/fs/cgroup").value_or(std::vector<std::string>{})) {
    std::string path = "/sys/fs/cgroup/" + h;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(path);
  }
  return out;
}

std::vector<std::string> SubDirs(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& e : ListDir(dir).value_or(std::vector<std::string>{})) {
    struct stat st;
    if (::lstat(JoinPath(dir, e).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(e);
  }
  return out;
}

// Depth-first, children before parents.
void CollectCgroups(const std::string& dir, std::vector<std::string>* out) {
  for (const std::string& sub : SubDirs(dir)) {
    CollectCgroups(JoinPath(dir, sub), out);
    out->push_back(JoinPath(dir, sub));
  }
}

std::vector<int> AllPids() {
  std::vector<int> pids;
  for (const std::string& e : ListDir("/proc").value_or(std::vector<std::string>{})) {
    if (auto n = ParseInt64(e)) pids.push_back(static_cast<int>(*n));
  }
  return pids;
}

std::string Comm(int pid) {
  return std::string(TrimSpace(ReadFile(StrCat("/proc/", pid, "/comm")).value_or("?")));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Suite and test set-up

void PodE2eTest::SetUpTestSuite() {
  suite = new Suite();
  if (geteuid() != 0) return;  // each test skips
  if (!testing::TestRegistry::Available() || PluginDir().empty() || !PathExists("/bin/busybox")) return;
  char tmpl[] = "/tmp/cricket-pod-e2e-images-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    suite->error = "mkdtemp failed";
    return;
  }
  suite->dir = tmpl;
  auto reg = testing::TestRegistry::Start();
  if (!reg.ok()) {
    suite->error = StrCat("registry: ", reg.status().ToString());
    return;
  }
  suite->registry = *std::move(reg);
  std::string summary = suite->dir + "/images.json";
  std::string output;
  int rc = RunTool({"/usr/bin/python3", StrCat(CRICKET_SOURCE_DIR, "/hack/test-images"), "--registry",
                    suite->registry->host(), "--only",
                    "library/busybox,cricket-test/*,k8s-staging-cri-tools/test-image-predefined-group",
                    "--static-busybox", "--cache-dir", StrCat(CRICKET_BINARY_DIR, "/test-images"),
                    "--registries-conf", suite->dir + "/registries.conf", "--summary-json", summary},
                   &output);
  if (rc != 0) {
    suite->error = StrCat("hack/test-images failed (", rc, "): ", output);
    return;
  }
  auto parsed = nlohmann::json::parse(ReadFile(summary).value_or(""), nullptr, false);
  std::string key = suite->registry->host() + "/library/busybox:latest";
  if (parsed.is_discarded() || !parsed["images"].contains(key)) {
    suite->error = StrCat("the image summary has no ", key);
    return;
  }
  suite->busybox_id = parsed["images"][key]["id"].get<std::string>();
}

void PodE2eTest::TearDownTestSuite() {
  if (suite == nullptr) return;
  suite->registry.reset();
  if (!suite->dir.empty()) (void)RemoveAll(suite->dir);
  delete suite;
  suite = nullptr;
}

const std::string& PodE2eTest::busybox_id() { return suite->busybox_id; }
std::string PodE2eTest::registry_host() { return suite->registry ? suite->registry->host() : ""; }

void PodE2eTest::SetUp() {
  skipped_ = true;
  if (geteuid() != 0) GTEST_SKIP() << "cricketd needs root";
  if (!testing::TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
  if (PluginDir().empty()) GTEST_SKIP() << "the CNI plugins (containernetworking-plugins) are not installed";
  if (!PathExists("/bin/busybox")) GTEST_SKIP() << "busybox-static is not installed";
  skipped_ = false;
  ASSERT_TRUE(suite->error.empty()) << suite->error;
  // flock, as every version of this fixture takes it, so that concurrent runs of other checkouts see
  // the slot as taken (sys::FileLock's POSIX locks do not conflict with flock).
  for (int n = 0; n < kSlots && !slot_lock_; ++n) {
    std::string path = StrCat("/tmp/cricket-pod-e2e-slot-", n, ".lock");
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
    slot_lock_ = std::move(fd);
    slot_ = n;
  }
  ASSERT_GE(slot_, 0) << "no free test network slot";
  // A bridge left by a crashed run of this slot would keep its old addresses.
  RunTool({"/usr/sbin/ip", "link", "del", bridge()});
  WriteNetwork();
  StartDaemon();
  if (HasFatalFailure()) return;
  std::string ref;
  grpc::Status pulled = PullImage(kBusybox, &ref);
  ASSERT_TRUE(pulled.ok()) << pulled.error_message();
  ASSERT_EQ(ref, busybox_id());
}

void PodE2eTest::WriteNetwork() {
  std::string bin = daemon_.dir() + "/cni-bin";
  ASSERT_TRUE(MkdirAll(bin).ok());
  for (const char* plugin : {"bridge", "host-local", "portmap", "loopback"}) {
    std::string script = StrCat("#!/bin/sh\necho \"$CNI_COMMAND ", plugin, " $CNI_CONTAINERID\" >> ",
                                cni_log(), "\nexec ", PluginDir(), "/", plugin, " \"$@\"\n");
    ASSERT_TRUE(WriteFileAtomic(JoinPath(bin, plugin), script, 0755).ok());
  }
  nlohmann::json conf = {{"cniVersion", "1.0.0"},
                         {"name", network_name()},
                         {"plugins",
                          {{{"type", "bridge"},
                            {"bridge", bridge()},
                            {"isGateway", true},
                            {"ipMasq", true},
                            {"hairpinMode", true},
                            {"ipam",
                             {{"type", "host-local"},
                              {"ranges", {{{{"subnet", subnet_prefix() + "0.0/16"}}}}},
                              {"routes", {{{"dst", "0.0.0.0/0"}}}},
                              {"dataDir", daemon_.dir() + "/ipam"}}}},
                           {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
  ASSERT_TRUE(WriteFileAtomic(daemon_.cni_dir() + "/10-pod-e2e.conflist", conf.dump(2)).ok());
}

void PodE2eTest::StartDaemon() {
  absl::Status st = TryStartDaemon();
  ASSERT_TRUE(st.ok()) << st << "\n" << daemon_.Stderr();
}

absl::Status PodE2eTest::TryStartDaemon() {
  daemon_.set_extra_config(StrCat("[crio.image]\nregistries_conf = \"", suite->dir,
                                  "/registries.conf\"\nregistries_conf_dir = \"\"\n\n[crio.network]\n",
                                  "plugin_dirs = [\"", daemon_.dir(), "/cni-bin\"]\n", extra_daemon_config_));
  absl::Status st = daemon_.Start();
  if (!st.ok()) return st;
  rt_ = daemon_.RuntimeStub();
  images_ = daemon_.ImageStub();
  return absl::OkStatus();
}

void PodE2eTest::KillDaemon() {
  auto st = daemon_.Stop(SIGKILL, 10000);
  ASSERT_TRUE(st.ok()) << st.status();
}

void PodE2eTest::TearDown() {
  if (skipped_ || slot_ < 0) return;
  if (daemon_.pid() <= 0) {
    absl::Status st = daemon_.Start();
    if (st.ok()) {
      rt_ = daemon_.RuntimeStub();
    } else {
      ADD_FAILURE() << "cricketd does not start again for the clean-up: " << st;
    }
  }
  if (daemon_.pid() > 0) {
    for (const v1::PodSandbox& p : ListPods()) {
      EXPECT_TRUE(StopPod(p.id()).ok()) << p.id();
      EXPECT_TRUE(RemovePod(p.id()).ok()) << p.id();
    }
    // Containers whose pod is gone (a bug, but their state must not outlive the test).
    for (const v1::Container& c : ListContainers()) (void)RemoveContainer(c.id());
    auto st = daemon_.Stop(SIGTERM, 20000);
    EXPECT_TRUE(st.ok()) << st.status();
  }
  CleanUpHost();
}

// Whatever cricketd failed to remove is removed here by force, so that a failing test does not leave
// processes, mounts, cgroups or a bridge on the machine (the tests themselves assert the clean state).
void PodE2eTest::CleanUpHost() {
  for (int round = 0; round < 3; ++round) {
    for (int pid : AllPids()) {
      std::string cg = ReadFile(StrCat("/proc/", pid, "/cgroup")).value_or("");
      std::string cmdline = ReadFile(StrCat("/proc/", pid, "/cmdline")).value_or("");
      if (cg.find(":" + cgroup_parent() + "/") != std::string::npos ||
          cg.find(":" + cgroup_parent() + "\n") != std::string::npos ||
          cmdline.find(daemon_.dir() + "/") != std::string::npos) {
        ::kill(pid, SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<std::string> mounts = MountPoints();
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->starts_with(daemon_.dir() + "/")) ::umount2(it->c_str(), MNT_DETACH);
  }
  for (const std::string& h : CgroupHierarchies()) {
    std::vector<std::string> dirs;
    CollectCgroups(JoinPath(h, cgroup_parent()), &dirs);
    dirs.push_back(JoinPath(h, cgroup_parent()));
    for (const std::string& d : dirs) ::rmdir(d.c_str());
  }
  RunTool({"/usr/sbin/ip", "link", "del", bridge()});
}

// ---------------------------------------------------------------------------------------------------
// Names

std::string PodE2eTest::bridge() const { return StrCat("crkpod", slot_); }
std::string PodE2eTest::network_name() const { return StrCat("cricket-pod-e2e-", slot_); }
std::string PodE2eTest::subnet_prefix() const { return StrCat("10.", 150 + slot_, "."); }
std::string PodE2eTest::cgroup_parent() const { return StrCat("/pode2e-", slot_); }
std::string PodE2eTest::ipam_dir() const { return JoinPath(daemon_.dir() + "/ipam", network_name()); }
std::string PodE2eTest::cni_log() const { return daemon_.dir() + "/cni-calls.log"; }

int PodE2eTest::CniCalls(const std::string& command, const std::string& sandbox_id) const {
  int n = 0;
  std::string want = StrCat(command, " bridge ", sandbox_id);
  const std::string log = ReadFile(cni_log()).value_or("");  // outlives the views Split returns
  for (std::string_view line : Split(log, '\n')) {
    if (line == want) ++n;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------
// Configs

v1::PodSandboxConfig PodE2eTest::PodConfig(const std::string& name) const {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("pode2e");
  c.mutable_metadata()->set_uid(RandomHexId().substr(0, 16));
  c.set_hostname(name);
  c.set_log_directory(StrCat(daemon_.dir(), "/pod-logs/", name));
  c.mutable_linux()->set_cgroup_parent(cgroup_parent());
  (*c.mutable_labels())["suite"] = "pode2e";
  return c;
}

v1::ContainerConfig PodE2eTest::ContainerConfig(const std::string& name,
                                                const std::vector<std::string>& cmd) const {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kBusybox);
  for (const std::string& a : cmd) c.add_command(a);
  c.set_log_path(name + ".log");
  return c;
}

v1::ContainerConfig PodE2eTest::ShellContainer(const std::string& name, const std::string& script) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kBusybox);
  c.add_command("/bin/sh");
  c.add_command("-c");
  c.add_command(script);
  c.set_log_path(name + ".log");
  return c;
}

// ---------------------------------------------------------------------------------------------------
// RPCs

grpc::Status PodE2eTest::RunPod(const v1::PodSandboxConfig& config, std::string* id) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  v1::RunPodSandboxResponse resp;
  grpc::Status st = rt_->RunPodSandbox(Ctx().get(), req, &resp);
  if (id != nullptr) *id = resp.pod_sandbox_id();
  return st;
}

std::string PodE2eTest::MustRunPod(const v1::PodSandboxConfig& config) {
  std::string id;
  grpc::Status st = RunPod(config, &id);
  if (!st.ok()) ADD_FAILURE() << "RunPodSandbox " << config.metadata().name() << ": " << st.error_message();
  return st.ok() ? id : "";
}

grpc::Status PodE2eTest::CreateContainer(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                                         const v1::ContainerConfig& config, std::string* id) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id);
  *req.mutable_config() = config;
  *req.mutable_sandbox_config() = pod;
  v1::CreateContainerResponse resp;
  grpc::Status st = rt_->CreateContainer(Ctx().get(), req, &resp);
  if (id != nullptr) *id = resp.container_id();
  return st;
}

grpc::Status PodE2eTest::StartContainer(const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  v1::StartContainerResponse resp;
  return rt_->StartContainer(Ctx().get(), req, &resp);
}

std::string PodE2eTest::MustRunContainer(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                                         const v1::ContainerConfig& config) {
  std::string id;
  grpc::Status st = CreateContainer(pod_id, pod, config, &id);
  if (!st.ok()) {
    ADD_FAILURE() << "CreateContainer " << config.metadata().name() << ": " << st.error_message();
    return "";
  }
  st = StartContainer(id);
  if (!st.ok()) {
    ADD_FAILURE() << "StartContainer " << config.metadata().name() << ": " << st.error_message();
    return "";
  }
  return id;
}

grpc::Status PodE2eTest::StopContainer(const std::string& id, int64_t timeout_s) {
  v1::StopContainerRequest req;
  req.set_container_id(id);
  req.set_timeout(timeout_s);
  v1::StopContainerResponse resp;
  return rt_->StopContainer(Ctx().get(), req, &resp);
}

grpc::Status PodE2eTest::RemoveContainer(const std::string& id) {
  v1::RemoveContainerRequest req;
  req.set_container_id(id);
  v1::RemoveContainerResponse resp;
  return rt_->RemoveContainer(Ctx().get(), req, &resp);
}

grpc::Status PodE2eTest::StopPod(const std::string& id) {
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::StopPodSandboxResponse resp;
  return rt_->StopPodSandbox(Ctx().get(), req, &resp);
}

grpc::Status PodE2eTest::RemovePod(const std::string& id) {
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::RemovePodSandboxResponse resp;
  return rt_->RemovePodSandbox(Ctx().get(), req, &resp);
}

grpc::Status PodE2eTest::GetContainerStatus(const std::string& id, v1::ContainerStatusResponse* resp,
                                            bool verbose) {
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  req.set_verbose(verbose);
  return rt_->ContainerStatus(Ctx().get(), req, resp);
}

v1::ContainerStatus PodE2eTest::ContainerStatus(const std::string& id) {
  v1::ContainerStatusResponse resp;
  grpc::Status st = GetContainerStatus(id, &resp);
  if (!st.ok()) ADD_FAILURE() << "ContainerStatus " << id << ": " << st.error_message();
  return resp.status();
}

grpc::Status PodE2eTest::GetPodStatus(const std::string& id, v1::PodSandboxStatusResponse* resp,
                                      bool verbose) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(id);
  req.set_verbose(verbose);
  return rt_->PodSandboxStatus(Ctx().get(), req, resp);
}

v1::PodSandboxStatus PodE2eTest::PodStatus(const std::string& id) {
  v1::PodSandboxStatusResponse resp;
  grpc::Status st = GetPodStatus(id, &resp);
  if (!st.ok()) ADD_FAILURE() << "PodSandboxStatus " << id << ": " << st.error_message();
  return resp.status();
}

std::vector<v1::Container> PodE2eTest::ListContainers(const v1::ContainerFilter& filter) {
  v1::ListContainersRequest req;
  *req.mutable_filter() = filter;
  v1::ListContainersResponse resp;
  grpc::Status st = rt_->ListContainers(Ctx().get(), req, &resp);
  if (!st.ok()) ADD_FAILURE() << "ListContainers: " << st.error_message();
  return {resp.containers().begin(), resp.containers().end()};
}

std::vector<v1::PodSandbox> PodE2eTest::ListPods(const v1::PodSandboxFilter& filter) {
  v1::ListPodSandboxRequest req;
  *req.mutable_filter() = filter;
  v1::ListPodSandboxResponse resp;
  grpc::Status st = rt_->ListPodSandbox(Ctx().get(), req, &resp);
  if (!st.ok()) ADD_FAILURE() << "ListPodSandbox: " << st.error_message();
  return {resp.items().begin(), resp.items().end()};
}

ExecOutput PodE2eTest::Exec(const std::string& id, const std::vector<std::string>& cmd, int64_t timeout_s) {
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  for (const std::string& a : cmd) req.add_cmd(a);
  req.set_timeout(timeout_s);
  v1::ExecSyncResponse resp;
  ExecOutput out;
  out.status = rt_->ExecSync(Ctx().get(), req, &resp);
  out.exit_code = resp.exit_code();
  out.out = resp.stdout();
  out.err = resp.stderr();
  return out;
}

std::string PodE2eTest::MustExec(const std::string& id, const std::string& script) {
  ExecOutput r = Exec(id, {"/bin/sh", "-c", script});
  if (!r.status.ok() || r.exit_code != 0) {
    ADD_FAILURE() << "exec `" << script << "` in " << id << ": " << r.status.error_message() << " exit "
                  << r.exit_code << " stderr: " << r.err;
  }
  return r.out;
}

grpc::Status PodE2eTest::PullImage(const std::string& ref, std::string* image_ref) {
  v1::PullImageRequest req;
  req.mutable_image()->set_image(ref);
  v1::PullImageResponse resp;
  grpc::Status st = images_->PullImage(Ctx().get(), req, &resp);
  if (image_ref != nullptr) *image_ref = resp.image_ref();
  return st;
}

grpc::Status PodE2eTest::RemoveImage(const std::string& ref) {
  v1::RemoveImageRequest req;
  req.mutable_image()->set_image(ref);
  v1::RemoveImageResponse resp;
  return images_->RemoveImage(Ctx().get(), req, &resp);
}

std::vector<v1::Image> PodE2eTest::ListImages() {
  v1::ListImagesRequest req;
  v1::ListImagesResponse resp;
  grpc::Status st = images_->ListImages(Ctx().get(), req, &resp);
  if (!st.ok()) ADD_FAILURE() << "ListImages: " << st.error_message();
  return {resp.images().begin(), resp.images().end()};
}

bool PodE2eTest::WaitForState(const std::string& id, v1::ContainerState state, int timeout_ms,
                              v1::ContainerStatus* last) {
  int64_t deadline = MonotonicNow() + int64_t{timeout_ms} * 1'000'000;
  for (;;) {
    v1::ContainerStatusResponse resp;
    grpc::Status st = GetContainerStatus(id, &resp);
    if (last != nullptr) *last = resp.status();
    if (st.ok() && resp.status().state() == state) return true;
    if (MonotonicNow() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int PodE2eTest::ContainerPid(const std::string& id) {
  v1::ContainerStatusResponse resp;
  grpc::Status st = GetContainerStatus(id, &resp, /*verbose=*/true);
  if (!st.ok() || !resp.info().contains("info")) return 0;
  auto info = nlohmann::json::parse(resp.info().at("info"), nullptr, false);
  if (info.is_discarded() || !info.contains("pid")) return 0;
  return info["pid"].get<int>();
}

std::string PodE2eTest::ContainerCgroupDir(const std::string& id, const std::string& controller) {
  int pid = ContainerPid(id);
  std::string cg = ReadFile(StrCat("/proc/", pid, "/cgroup")).value_or("");
  for (std::string_view line : Split(cg, '\n')) {
    std::vector<std::string_view> f = Split(line, ':');
    if (f.size() < 3) continue;
    for (std::string_view c : Split(f[1], ',')) {
      if (c == controller) return StrCat("/sys/fs/cgroup/", controller, f[2]);
    }
  }
  return "";
}

// ---------------------------------------------------------------------------------------------------
// What the host still holds

Leftovers PodE2eTest::MountsLeft() const {
  Leftovers out;
  std::string ns_dir = daemon_.runroot() + "/ns";
  for (const std::string& mp : MountPoints()) {
    if (mp.starts_with(daemon_.dir() + "/") && mp != ns_dir) out.push_back("mount " + mp);
  }
  return out;
}

Leftovers PodE2eTest::PinsLeft() const {
  Leftovers out;
  std::string ns_dir = daemon_.runroot() + "/ns";
  for (const std::string& type : SubDirs(ns_dir)) {
    for (const std::string& e : ListDir(JoinPath(ns_dir, type)).value_or(std::vector<std::string>{})) {
      out.push_back(StrCat("namespace pin ", ns_dir, "/", type, "/", e));
    }
  }
  return out;
}

Leftovers PodE2eTest::CgroupsLeft() const {
  Leftovers out;
  for (const std::string& h : CgroupHierarchies()) {
    std::vector<std::string> dirs;
    CollectCgroups(JoinPath(h, cgroup_parent()), &dirs);
    for (const std::string& d : dirs) out.push_back("cgroup " + d);
  }
  return out;
}

Leftovers PodE2eTest::ProcessesLeft() const {
  Leftovers out;
  for (int pid : AllPids()) {
    if (pid == daemon_.pid() || pid == ::getpid()) continue;
    // A zombie whose parent is not cricketd is an exited monitor re-parented to this machine's PID 1,
    // which reaps late: nothing of cricket's still runs there.
    std::string stat = ReadFile(StrCat("/proc/", pid, "/stat")).value_or("");
    if (size_t close = stat.rfind(')'); close != std::string::npos && close + 2 < stat.size()) {
      std::vector<std::string_view> f = Split(std::string_view(stat).substr(close + 2), ' ');
      if (f.size() > 1 && f[0] == "Z" && f[1] != StrCat(daemon_.pid())) continue;
    }
    std::string cg = ReadFile(StrCat("/proc/", pid, "/cgroup")).value_or("");
    std::string cmdline = ReadFile(StrCat("/proc/", pid, "/cmdline")).value_or("");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cg.find(":" + cgroup_parent() + "/") != std::string::npos ||
        cg.find(":" + cgroup_parent() + "\n") != std::string::npos) {
      out.push_back(StrCat("process ", pid, " (", Comm(pid), ") in the pods' cgroup parent: ", cmdline));
    } else if (cmdline.find(daemon_.dir() + "/") != std::string::npos) {
      out.push_back(StrCat("process ", pid, " (", Comm(pid), "): ", cmdline));
    }
  }
  return out;
}

Leftovers PodE2eTest::IpamLeft() const {
  Leftovers out;
  for (const std::string& e : ListDir(ipam_dir()).value_or(std::vector<std::string>{})) {
    if (e == "lock" || e.starts_with("last_reserved_ip")) continue;
    out.push_back(StrCat("host-local reservation ", ipam_dir(), "/", e));
  }
  return out;
}

Leftovers PodE2eTest::VethsLeft() const {
  Leftovers out;
  std::string brif = StrCat("/sys/class/net/", bridge(), "/brif");
  for (const std::string& e : ListDir(brif).value_or(std::vector<std::string>{})) {
    out.push_back(StrCat("interface ", e, " on ", bridge()));
  }
  return out;
}

Leftovers PodE2eTest::RecordsLeft() const {
  Leftovers out;
  std::vector<std::string> dirs = {
      daemon_.root() + "/pods",        daemon_.root() + "/containers",
      daemon_.root() + "/intents",     daemon_.root() + "/storage/tmp",
      daemon_.root() + "/cni/results", daemon_.root() + "/storage/overlay-containers",
      daemon_.runroot() + "/pods",     daemon_.runroot() + "/containers",
      daemon_.runroot() + "/exits",    daemon_.runroot() + "/attach"};
  for (const std::string& handler : SubDirs(daemon_.runroot() + "/runtime")) {
    dirs.push_back(JoinPath(daemon_.runroot() + "/runtime", handler));
  }
  for (const std::string& d : dirs) {
    for (const std::string& e : ListDir(d).value_or(std::vector<std::string>{})) {
      out.push_back(StrCat("file ", d, "/", e));
    }
  }
  std::string rules;
  if (RunTool({"/usr/sbin/iptables-save"}, &rules) == 0) {
    for (std::string_view line : Split(rules, '\n')) {
      if (line.find(network_name() + "\"") != std::string::npos) out.push_back(StrCat("iptables: ", line));
    }
  }
  return out;
}

Leftovers PodE2eTest::AllLeft() const {
  Leftovers all;
  for (const Leftovers& part :
       {MountsLeft(), PinsLeft(), CgroupsLeft(), ProcessesLeft(), IpamLeft(), VethsLeft(), RecordsLeft()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

// ---------------------------------------------------------------------------------------------------
// Tools

int PodE2eTest::RunTool(const std::vector<std::string>& argv, std::string* output) {
  char tmpl[] = "/tmp/cricket-pod-e2e-tool-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) return -1;
  ::unlink(tmpl);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  if (output != nullptr) {
    output->clear();
    ::lseek(fd, 0, SEEK_SET);
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) output->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (pid < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string HttpGet(const std::string& host, int port, const std::string& path, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  std::string response;
  int64_t deadline = MonotonicNow() + int64_t{timeout_ms} * 1'000'000;
  auto wait = [&](short events) {
    int64_t left = (deadline - MonotonicNow()) / 1'000'000;
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return "";
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (!wait(POLLOUT) || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    ::close(fd);
    return "";
  }
  std::string request = StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, "\r\n\r\n");
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return "";
  }
  char buf[4096];
  while (wait(POLLIN)) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return response;
}

int FreeTcpPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace cricket::e2e
