// cricketd's configuration: typed sections with defaults in code, read from TOML files whose tables and
// keys follow CRI-O's crio.conf ([crio], [crio.api], [crio.runtime], [crio.runtime.runtimes.NAME],
// [crio.image], [crio.network], [crio.metrics]) so an existing CRI-O node config can be pointed at
// cricketd. Keys cricket does not know are warned about (file and key named), never silently dropped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cricket::server {

// [crio]
struct RootSection {
  std::string root = "/var/lib/cricket";
  std::string runroot = "/run/cricket";
  std::string storage_driver = "overlay";
  std::vector<std::string> storage_option;
  std::string log_dir = "/var/log/cricket/pods";

  absl::Status Validate() const;
};

// [crio.api]
struct ApiSection {
  std::string listen = "/run/cricket/cricket.sock";
  std::string stream_address = "127.0.0.1";
  std::string stream_port = "0";  // a string, as in crio.conf; "0" picks a free port
  bool stream_enable_tls = false;
  std::string stream_tls_cert;
  std::string stream_tls_key;
  std::string stream_tls_ca;
  std::string stream_idle_timeout = "4h";
  int64_t grpc_max_send_msg_size = 80 << 20;
  int64_t grpc_max_recv_msg_size = 80 << 20;

  absl::Status Validate() const;
};

// [crio.runtime]
struct RuntimeSection {
  std::string log_level = "info";
  std::string default_runtime = "cricket";
  std::string cgroup_manager = "cgroupfs";  // "cgroupfs" or "systemd"
  std::string conmon;                       // cricket-conmon path; empty: beside cricketd
  std::string conmon_cgroup;                // monitors' cgroup; empty: the pod's parent cgroup
  std::vector<std::string> conmon_env;
  std::vector<std::string> default_env;
  std::vector<std::string> default_capabilities = {
      "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE", "KILL"};
  bool add_inheritable_capabilities = false;
  std::vector<std::string> default_sysctls;
  std::vector<std::string> default_ulimits;
  std::string seccomp_profile;  // empty: the built-in RuntimeDefault profile
  bool seccomp_use_default_when_empty = false;
  std::string apparmor_profile;
  bool selinux = false;
  bool no_pivot = false;
  bool drop_infra_ctr = true;
  bool read_only = false;
  int64_t log_size_max = -1;
  int64_t ctr_stop_timeout = 30;
  int64_t pids_limit = 0;
  std::string container_exits_dir;          // empty: <runroot>/exits
  std::string container_attach_socket_dir;  // empty: <runroot>/attach
  std::string namespaces_dir;               // empty: <runroot>/ns
  std::vector<std::string> hooks_dir = {"/usr/share/containers/oci/hooks.d"};
  bool device_ownership_from_security_context = false;
  std::vector<std::string> absent_mount_sources_to_reject;
  // CDI spec directories, lowest precedence first (CRI-O's cdi_spec_dirs).
  std::vector<std::string> cdi_spec_dirs = {"/etc/cdi", "/var/run/cdi"};

  absl::Status Validate() const;
};

// [crio.runtime.runtimes.NAME]: a runtime handler. cricket embeds its OCI runtime, so a handler names a
// configuration of it (state root, monitor, allowed annotations), not a binary to exec.
struct RuntimeHandler {
  std::string runtime_path;  // accepted for crio.conf compatibility; cricket never execs a runtime
  std::string runtime_type = "oci";
  std::string runtime_root;  // empty: <runroot>/runtime/<name>
  std::string monitor_path;  // empty: [crio.runtime] conmon
  std::string monitor_cgroup;
  std::vector<std::string> monitor_env;
  std::vector<std::string> allowed_annotations;
  bool privileged_without_host_devices = false;

  absl::Status Validate() const;
};

// [crio.image]
struct ImageSection {
  std::string default_transport = "docker://";
  std::string global_auth_file;
  std::string pause_image;  // empty: cricket's built-in infra rootfs, nothing is pulled
  std::string pause_image_auth_file;
  std::string pause_command = "/pause";
  std::vector<std::string> pinned_images;
  std::vector<std::string> insecure_registries;
  std::string image_volumes = "mkdir";
  std::string big_files_temporary_dir;
  std::string registries_conf = "/etc/containers/registries.conf";
  std::string registries_conf_dir = "/etc/containers/registries.conf.d";
  int64_t max_parallel_downloads = 6;
  // containers-certs.d(5) roots searched for HOST[:PORT]/ (CAs, client certificates). A cricket
  // extension: CRI-O reads the same directories without a setting.
  std::vector<std::string> certs_dirs = {"/etc/containers/certs.d", "/etc/docker/certs.d"};
  // containers-policy.json(5) checked on every pull; empty: /etc/containers/policy.json, which may be
  // absent (then images are not verified, with a warning). A configured file must exist.
  std::string signature_policy;
  // Per-namespace policies: <dir>/<pod namespace>.json, used instead of signature_policy when it exists.
  std::string signature_policy_dir = "/etc/cricket/policies";
  // containers-registries.d(5): lookaside signature stores and sigstore attachments (cricket extension).
  std::string registries_d = "/etc/containers/registries.d";
  // Bounds on what a pulled layer, and the layers of one pulled image, may expand to (cricket
  // extensions; see lib/storage/tar_apply.h ApplyLimits and lib/image/layer_stream.h). Far above any
  // real image: they stop decompression bombs.
  int64_t max_layer_size = int64_t{256} << 30;  // uncompressed bytes
  int64_t max_layer_entries = 2'000'000;
  int64_t max_layer_sparse_size = int64_t{64} << 30;  // the sizes sparse files declare
  int64_t max_image_size = int64_t{512} << 30;
  int64_t max_image_entries = 8'000'000;
  int64_t max_image_sparse_size = int64_t{256} << 30;
  int64_t max_layer_expansion_ratio = 100;  // uncompressed / compressed bytes; 0: no bound
  // What pulls must leave free on the image store's filesystem: bytes ("10GiB") or a percentage of
  // its size ("5%"); "0": no reserve.
  std::string min_free_space = "5%";
  // How long a layer refused for what it is (a bound, a hostile entry, a wrong diff_id) or for want
  // of space is remembered, so a retried pull does not fetch it again ("0s": not remembered), and
  // how many such layers are remembered at most.
  std::string failed_layer_cache_duration = "10m";
  int64_t failed_layer_cache_size = 1000;

  absl::Status Validate() const;
  absl::Status ValidatePullBounds() const;
};

// [crio.network]
struct NetworkSection {
  std::string cni_default_network;
  std::string network_dir = "/etc/cni/net.d/";
  std::vector<std::string> plugin_dirs = {"/opt/cni/bin/", "/usr/lib/cni/"};

  absl::Status Validate() const;
};

// [crio.metrics]
struct MetricsSection {
  bool enable_metrics = false;
  std::string metrics_host = "127.0.0.1";
  int64_t metrics_port = 9090;
  std::string metrics_socket;  // also serve on this unix socket when set
  std::vector<std::string> metrics_collectors = DefaultMetricsCollectors();

  static std::vector<std::string> DefaultMetricsCollectors();  // every collector cricket serves
  absl::Status Validate() const;
};

// [crio.stats]
struct StatsSection {
  // Metric groups ListPodSandboxMetrics reports (cri_metrics.h): "cpu", "memory", "network", "disk",
  // "diskIO", "hugetlb", "oom", "process", "spec", "pressure", or just "all". container_last_seen is
  // always reported.
  std::vector<std::string> included_pod_metrics = {"cpu", "memory", "network"};

  absl::Status Validate() const;
};

struct Config {
  RootSection root;
  ApiSection api;
  RuntimeSection runtime;
  std::map<std::string, RuntimeHandler> runtimes = {{"cricket", RuntimeHandler{}}};
  ImageSection image;
  NetworkSection network;
  MetricsSection metrics;
  StatsSection stats;

  // Checks every section; the error names the table and key ("crio.api.stream_port: ...").
  absl::Status Validate() const;

  // Derived locations (each section's empty setting resolved against root/runroot).
  std::string ExitsDir() const;
  std::string AttachSocketDir() const;
  std::string NamespacesDir() const;
  std::string RuntimeRoot(const std::string& handler) const;
  std::string ImageStoreDir() const;
  // The handler used for an empty RuntimeHandler in a CRI request.
  const RuntimeHandler* FindHandler(const std::string& name) const;
};

// A problem found while reading a file that does not stop the daemon (an unknown key).
struct ConfigWarning {
  std::string file;
  int line = 0;
  std::string message;
  std::string ToString() const;
};

// Command-line overrides; an empty string leaves the file value alone.
struct ConfigOverrides {
  std::string listen;
  std::string root;
  std::string runroot;
  std::string log_level;
};

struct ConfigSources {
  std::string config_file = "/etc/cricket/cricket.conf";
  bool config_file_required = false;  // true when given with --config
  std::string config_dir = "/etc/cricket/cricket.conf.d";
};

// Built-in defaults, then the main file (if present), then drop-ins (*.conf in config_dir, lexical
// order), then `overrides`; validated. Malformed TOML or a wrong type → InvalidArgument naming file,
// line and key. Unknown keys are appended to `warnings`.
absl::StatusOr<Config> LoadConfig(const ConfigSources& sources, const ConfigOverrides& overrides,
                                  std::vector<ConfigWarning>* warnings);

// Applies one TOML document on top of `config` (exposed for tests). `file` names it in messages.
absl::Status ApplyToml(std::string_view text, const std::string& file, Config& config,
                       std::vector<ConfigWarning>* warnings);

// The effective configuration as commented TOML that LoadConfig reads back to the same values.
std::string FormatConfigToml(const Config& config);

// The effective configuration as a JSON object (Status verbose info).
std::string FormatConfigJson(const Config& config);

// One changed setting between two configurations.
struct ConfigChange {
  std::string key;  // "crio.runtime.log_level"
  std::string old_value;
  std::string new_value;
  bool reloadable = false;
};

// Every setting whose value differs, in table order.
std::vector<ConfigChange> DiffConfig(const Config& before, const Config& after);

// Returns `current` with the reloadable settings taken from `next` (the rest stays as running).
Config ApplyReloadable(const Config& current, const Config& next);

// Parses a Go-style duration ("4h", "1m30s", "250ms"); returns nanoseconds.
absl::StatusOr<int64_t> ParseDuration(std::string_view text);

}  // namespace cricket::server
