#include "server/daemon.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/algorithm/container.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/sys/file_lock.h"
#include "lib/sys/resident.h"
#include "lib/sys/systemd_notify.h"
#include "server/build_info.h"
#include "server/image_service.h"
#include "server/metrics/endpoint.h"
#include "server/rpc_interceptor.h"
#include "server/runtime_service.h"
#include "server/streaming_backend.h"

namespace cricket::server {

namespace {

constexpr auto kShutdownGrace = std::chrono::seconds(10);
// After the in-flight RPCs are done: for calls that arrived meanwhile.
constexpr auto kShutdownLastCalls = std::chrono::milliseconds(200);

sigset_t DaemonSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

absl::Status PrepareDirectories(const Config& config) {
  RETURN_IF_ERROR(MkdirAll(config.root.root, 0700));
  RETURN_IF_ERROR(MkdirAll(config.root.runroot, 0700));
  RETURN_IF_ERROR(MkdirAll(config.ImageStoreDir(), 0700));
  RETURN_IF_ERROR(MkdirAll(DirName(config.api.listen), 0755));
  return absl::OkStatus();
}

// Removes a socket left by a daemon that died; only called while holding the socket lock.
absl::Status RemoveStaleSocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        StrCat("listen path ", path, " exists and is not a socket; not replacing it"));
  }
  if (::unlink(path.c_str()) != 0) return ErrnoError("remove stale socket", path);
  log::Info("server", "removed stale socket", {{"socket", path}});
  return absl::OkStatus();
}

void Notify(std::string_view state) {
  if (absl::Status st = sys::NotifySystemd(state); !st.ok()) {
    log::Warn("server", "systemd notification failed", {{"state", state}, {"error", st}});
  }
}

absl::StatusOr<std::unique_ptr<streaming::StreamingServer>> StartStreaming(const Config& config,
                                                                           CriRuntime& cri) {
  streaming::StreamingServerOptions o;
  o.address = config.api.stream_address;
  o.port = static_cast<int>(*ParseInt64(config.api.stream_port));  // validated by Config
  o.enable_tls = config.api.stream_enable_tls;
  o.tls_cert = config.api.stream_tls_cert;
  o.tls_key = config.api.stream_tls_key;
  o.tls_ca = config.api.stream_tls_ca;
  if (!config.api.stream_idle_timeout.empty()) {
    ASSIGN_OR_RETURN(o.idle_timeout_ns, ParseDuration(config.api.stream_idle_timeout));
  }
  ASSIGN_OR_RETURN(auto server,
                   streaming::StreamingServer::Start(o, std::make_shared<StreamingBackend>(cri)));
  log::Info("server", "streaming server listening", {{"url", server->base_url()}});
  return server;
}

// The Prometheus endpoint ([crio.metrics]); null when metrics are off.
absl::StatusOr<std::unique_ptr<metrics::Endpoint>> StartMetrics(const Config& config, CriRuntime& cri) {
  const MetricsSection& m = config.metrics;
  for (const std::string& c : m.metrics_collectors) {
    if (absl::c_linear_search(metrics::UnservedCriOCollectors(), metrics::StripCollectorPrefix(c))) {
      log::Warn("metrics", "collector not served by cricket (ignored)", {{"collector", c}});
    }
  }
  SetRpcDoneHook([&cri](std::string_view method, int code, int64_t ns) {
    cri.metrics().RecordOperation(method, code, ns);
    cri.NoteRpcDone(method);
  });
  if (!m.enable_metrics) return nullptr;
  metrics::EndpointOptions o;
  o.host = m.metrics_host;
  o.port = static_cast<int>(m.metrics_port);
  o.socket_path = m.metrics_socket;
  ASSIGN_OR_RETURN(auto endpoint, metrics::Endpoint::Start(o, [&cri] { return cri.metrics().Render(); }));
  log::Info("server", "metrics endpoint listening",
            {{"address", StrCat(m.metrics_host, ":", endpoint->port())}, {"socket", m.metrics_socket}});
  return endpoint;
}

}  // namespace

void BlockDaemonSignals() {
  sigset_t set = DaemonSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Daemon::Daemon(Config config, ConfigSources sources, ConfigOverrides overrides)
    : config_(std::move(config)), sources_(std::move(sources)), overrides_(std::move(overrides)) {}

Daemon::~Daemon() = default;

absl::Status Daemon::Run() {
  auto config = config_.Get();
  const std::string& socket_path = config->api.listen;
  RETURN_IF_ERROR(PrepareDirectories(*config));

  // One daemon per socket, and one per storage root: two daemons sharing either would corrupt state.
  auto socket_lock = sys::FileLock::TryAcquire(socket_path + ".lock");
  if (!socket_lock.ok()) {
    return absl::FailedPreconditionError(
        StrCat("another cricketd is serving ", socket_path, ": ", socket_lock.status().message()));
  }
  auto root_lock = sys::FileLock::TryAcquire(JoinPath(config->root.root, "cricketd.lock"));
  if (!root_lock.ok()) {
    return absl::FailedPreconditionError(
        StrCat("another cricketd uses root ", config->root.root, ": ", root_lock.status().message()));
  }
  RETURN_IF_ERROR(RemoveStaleSocket(socket_path));

  ASSIGN_OR_RETURN(HelperPaths helpers, CriRuntime::FindHelpers(*config));
  ASSIGN_OR_RETURN(std::unique_ptr<CriRuntime> cri, CriRuntime::Open(config_, helpers));
  ASSIGN_OR_RETURN(std::unique_ptr<streaming::StreamingServer> streams, StartStreaming(*config, *cri));
  ASSIGN_OR_RETURN(std::unique_ptr<metrics::Endpoint> metrics_endpoint, StartMetrics(*config, *cri));
  RuntimeServiceImpl runtime_service(config_, *cri, *streams);
  ImageServiceImpl image_service(config_, *cri);

  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(&runtime_service);
  builder.RegisterService(&image_service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config->api.grpc_max_recv_msg_size));
  builder.SetMaxSendMessageSize(static_cast<int>(config->api.grpc_max_send_msg_size));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeRpcInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  // The socket is created by gRPC; the umask makes it 0660 from its first instant.
  mode_t old_umask = ::umask(0117);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (server == nullptr) {
    return absl::UnavailableError(StrCat("cannot listen on unix socket ", socket_path));
  }
  if (::chmod(socket_path.c_str(), 0660) != 0) return ErrnoError("chmod", socket_path);

  log::Info("server", "cricketd serving",
            {{"socket", socket_path},
             {"version", kBuildVersion},
             {"root", config->root.root},
             {"runroot", config->root.runroot},
             {"cgroup_manager", config->runtime.cgroup_manager}});
  Notify("READY=1");
  // Start-up (configuration, static initialisers, gRPC and store set-up) faulted in pages of the
  // executable that serving does not need again: on an edge node they are resident set for nothing.
  sys::DropStartupPages(/*shared_libraries=*/true);

  sigset_t set = DaemonSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Notify("RELOADING=1");
      Reload();
      Notify("READY=1");
      continue;
    }
    log::Info("server", "shutting down", {{"signal", strsignal(sig)}});
    Notify("STOPPING=1");
    break;
  }
  // In-flight RPCs may finish within the grace period; then they are cancelled. gRPC's own deadline
  // would also wait for idle client connections (kubelet never closes its own), so the wait for
  // in-flight calls is done here and the server is then shut down with a short deadline.
  // Event streams never finish on their own: they end now, so that they do not hold up the grace.
  cri->events().Shutdown();
  int64_t grace_end =
      MonotonicNow() + std::chrono::duration_cast<std::chrono::nanoseconds>(kShutdownGrace).count();
  while (InFlightRpcs() > 0 && MonotonicNow() < grace_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server->Shutdown(std::chrono::system_clock::now() + kShutdownLastCalls);
  server->Wait();
  streams->Stop();
  if (metrics_endpoint) metrics_endpoint->Stop();
  SetRpcDoneHook(nullptr);
  if (::unlink(socket_path.c_str()) != 0 && errno != ENOENT) {
    log::Warn("server", "cannot remove socket", {{"socket", socket_path}, {"errno", ErrnoName(errno)}});
  }
  log::Info("server", "cricketd stopped");
  return absl::OkStatus();
}

void Daemon::Reload() {
  std::vector<ConfigWarning> warnings;
  auto next = LoadConfig(sources_, overrides_, &warnings);
  for (const ConfigWarning& w : warnings) log::Warn("config", w.ToString());
  if (!next.ok()) {
    log::Error("config", "reload failed; keeping the running configuration", {{"error", next.status()}});
    return;
  }
  auto current = config_.Get();
  std::vector<ConfigChange> changes = DiffConfig(*current, *next);
  for (const ConfigChange& c : changes) {
    if (c.reloadable) {
      log::Info("config", "setting reloaded", {{"key", c.key}, {"old", c.old_value}, {"new", c.new_value}});
    } else {
      log::Warn("config", "setting changed but needs a restart",
                {{"key", c.key}, {"running", c.old_value}, {"file", c.new_value}});
    }
  }
  Config applied = ApplyReloadable(*current, *next);
  if (auto level = log::ParseLevel(applied.runtime.log_level); level.ok()) log::SetLevel(*level);
  config_.Set(std::move(applied));
  log::Info("config", "reloaded", {{"changes", static_cast<int64_t>(changes.size())}});
}

}  // namespace cricket::server
