#include "server/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string_view>
#include <variant>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/storage/space_guard.h"
#include "server/cri_metrics.h"
#include "server/metrics/daemon_metrics.h"
#include "server/monitor_settings.h"

namespace cricket::server {

// ---------------------------------------------------------------------------------------------------
// The schema: one table of fields per section, read, printed, diffed and reloaded generically.

namespace {

using StringList = std::vector<std::string>;

template <class S>
using Member = std::variant<std::string S::*, bool S::*, int64_t S::*, StringList S::*>;

template <class S>
struct FieldSpec {
  std::string_view key;
  Member<S> member;
  bool reloadable;
  std::string_view doc;
};

constexpr bool kReload = true;
constexpr bool kRestart = false;

const FieldSpec<RootSection> kRootFields[] = {
    {"root", &RootSection::root, kRestart, "Directory of images, layers and container records."},
    {"runroot", &RootSection::runroot, kRestart,
     "Directory of runtime state (tmpfs): monitors, exit files, pinned namespaces."},
    {"storage_driver", &RootSection::storage_driver, kRestart, "Storage driver; only \"overlay\"."},
    {"storage_option", &RootSection::storage_option, kRestart,
     "Accepted for crio.conf compatibility; no effect (warned about when set)."},
    {"log_dir", &RootSection::log_dir, kRestart,
     "Default directory of container logs when a pod sets no log_directory."},
};

const FieldSpec<ApiSection> kApiFields[] = {
    {"listen", &ApiSection::listen, kRestart, "Path of the CRI gRPC unix socket."},
    {"stream_address", &ApiSection::stream_address, kRestart,
     "Address of the exec/attach/port-forward streaming server."},
    {"stream_port", &ApiSection::stream_port, kRestart,
     "Port of the streaming server; \"0\" picks a free port."},
    {"stream_enable_tls", &ApiSection::stream_enable_tls, kRestart, "Serve streams over TLS."},
    {"stream_tls_cert", &ApiSection::stream_tls_cert, kRestart, "TLS certificate of the streaming server."},
    {"stream_tls_key", &ApiSection::stream_tls_key, kRestart, "TLS key of the streaming server."},
    {"stream_tls_ca", &ApiSection::stream_tls_ca, kRestart,
     "CA that client certificates must chain to; empty: no client authentication."},
    {"stream_idle_timeout", &ApiSection::stream_idle_timeout, kRestart,
     "Idle streams are closed after this long (Go duration)."},
    {"grpc_max_send_msg_size", &ApiSection::grpc_max_send_msg_size, kRestart,
     "Largest gRPC message cricketd sends, in bytes."},
    {"grpc_max_recv_msg_size", &ApiSection::grpc_max_recv_msg_size, kRestart,
     "Largest gRPC message cricketd accepts, in bytes."},
};

const FieldSpec<RuntimeSection> kRuntimeFields[] = {
    {"log_level", &RuntimeSection::log_level, kReload,
     "Log level: trace, debug, info, warn, error or fatal."},
    {"default_runtime", &RuntimeSection::default_runtime, kRestart,
     "Runtime handler used when a pod names none; one of [crio.runtime.runtimes]."},
    {"cgroup_manager", &RuntimeSection::cgroup_manager, kRestart,
     "Cgroup driver: \"cgroupfs\" or \"systemd\" (reported to kubelet by RuntimeConfig)."},
    {"conmon", &RuntimeSection::conmon, kRestart,
     "Path of cricket-conmon; empty: the one installed beside cricketd."},
    {"conmon_cgroup", &RuntimeSection::conmon_cgroup, kRestart,
     "Cgroup of the monitors: \"\" cricketd's own, \"pod\" a leaf in the pod's cgroup parent, or one cgroup "
     "for all (an absolute path; a slice with the systemd driver). A handler's monitor_cgroup wins."},
    {"conmon_env", &RuntimeSection::conmon_env, kRestart, "Environment of the monitors."},
    {"default_env", &RuntimeSection::default_env, kReload, "Environment added to every container."},
    {"default_capabilities", &RuntimeSection::default_capabilities, kReload,
     "Capabilities of a container that asks for no changes."},
    {"add_inheritable_capabilities", &RuntimeSection::add_inheritable_capabilities, kReload,
     "Also put the default capabilities in the inheritable set."},
    {"default_sysctls", &RuntimeSection::default_sysctls, kReload,
     "Sysctls (\"name=value\") applied to every pod."},
    {"default_ulimits", &RuntimeSection::default_ulimits, kReload,
     "Rlimits (\"name=soft:hard\") applied to every container."},
    {"seccomp_profile", &RuntimeSection::seccomp_profile, kReload,
     "JSON seccomp profile used for RuntimeDefault; empty: the built-in profile."},
    {"seccomp_use_default_when_empty", &RuntimeSection::seccomp_use_default_when_empty, kReload,
     "Apply RuntimeDefault when a container asks for no seccomp profile."},
    {"apparmor_profile", &RuntimeSection::apparmor_profile, kReload,
     "AppArmor profile of containers where the host has AppArmor."},
    {"selinux", &RuntimeSection::selinux, kRestart, "Label containers with SELinux."},
    {"no_pivot", &RuntimeSection::no_pivot, kRestart, "Move the rootfs instead of pivot_root."},
    {"drop_infra_ctr", &RuntimeSection::drop_infra_ctr, kReload,
     "Start no infra container for a pod without a pod-level pid namespace (its pinned namespaces keep it "
     "alive; hostname and sysctls are set in them directly)."},
    {"read_only", &RuntimeSection::read_only, kReload, "Make every container's rootfs read-only."},
    {"log_size_max", &RuntimeSection::log_size_max, kReload, "Largest container log in bytes; -1: no limit."},
    {"ctr_stop_timeout", &RuntimeSection::ctr_stop_timeout, kReload,
     "Seconds a container may still run after SIGKILL before its stop fails (at least 1)."},
    {"container_exits_dir", &RuntimeSection::container_exits_dir, kRestart,
     "Directory of exit files; empty: <runroot>/exits."},
    {"container_attach_socket_dir", &RuntimeSection::container_attach_socket_dir, kRestart,
     "Directory of attach sockets; empty: <runroot>/attach."},
    {"namespaces_dir", &RuntimeSection::namespaces_dir, kRestart,
     "Directory of pinned namespaces; empty: <runroot>/ns."},
    {"hooks_dir", &RuntimeSection::hooks_dir, kReload,
     "Directories of OCI hook definitions (oci-hooks(5) 1.0.0), in increasing precedence; re-read when they "
     "change."},
    {"device_ownership_from_security_context", &RuntimeSection::device_ownership_from_security_context,
     kReload,
     "Requested devices (and a privileged container's host devices) are owned by the container's "
     "run_as_user/run_as_group (0 when unset) instead of their host owners."},
    {"absent_mount_sources_to_reject", &RuntimeSection::absent_mount_sources_to_reject, kReload,
     "Bind-mount sources that must exist rather than be created."},
    {"cdi_spec_dirs", &RuntimeSection::cdi_spec_dirs, kReload,
     "Directories of CDI device specs (*.json, *.yaml); a later directory overrides an earlier one."},
};

const FieldSpec<RuntimeHandler> kHandlerFields[] = {
    {"runtime_path", &RuntimeHandler::runtime_path, kRestart,
     "Accepted for crio.conf compatibility; cricket embeds its runtime and executes no binary."},
    {"runtime_type", &RuntimeHandler::runtime_type, kRestart, "Only \"oci\"."},
    {"runtime_root", &RuntimeHandler::runtime_root, kRestart,
     "State directory of this handler; empty: <runroot>/runtime/<name>."},
    {"monitor_path", &RuntimeHandler::monitor_path, kRestart,
     "Monitor binary; empty: [crio.runtime] conmon."},
    {"monitor_cgroup", &RuntimeHandler::monitor_cgroup, kRestart,
     "Cgroup of this handler's monitors (as conmon_cgroup); empty: [crio.runtime] conmon_cgroup."},
    {"monitor_env", &RuntimeHandler::monitor_env, kRestart,
     "Environment of this handler's monitors, added to [crio.runtime] conmon_env."},
    {"allowed_annotations", &RuntimeHandler::allowed_annotations, kRestart,
     "Accepted for crio.conf compatibility; no effect (warned about when set)."},
    {"privileged_without_host_devices", &RuntimeHandler::privileged_without_host_devices, kRestart,
     "Privileged containers do not get the host's devices."},
};

const FieldSpec<ImageSection> kImageFields[] = {
    {"default_transport", &ImageSection::default_transport, kRestart, "Only \"docker://\"."},
    {"global_auth_file", &ImageSection::global_auth_file, kReload,
     "auth.json with registry credentials used when a pull carries none."},
    {"pause_image", &ImageSection::pause_image, kReload,
     "Accepted for crio.conf compatibility; no effect (warned about when set): the infra is built in."},
    {"pause_image_auth_file", &ImageSection::pause_image_auth_file, kReload,
     "Accepted for crio.conf compatibility; no effect (warned about when set)."},
    {"pause_command", &ImageSection::pause_command, kReload,
     "Accepted for crio.conf compatibility; no effect (warned about when set)."},
    {"pinned_images", &ImageSection::pinned_images, kReload,
     "Images reported as pinned (kubelet never garbage-collects them); trailing * matches a prefix."},
    {"insecure_registries", &ImageSection::insecure_registries, kReload,
     "Registries reached over plain HTTP or unverified TLS (prefer registries.conf)."},
    {"image_volumes", &ImageSection::image_volumes, kReload,
     "The VOLUMEs an image declares: \"mkdir\" makes each missing directory in the rootfs, owned by the "
     "container's user; \"bind\" bind-mounts an empty directory of the container's own there; \"ignore\". "
     "A CRI mount at the same path wins."},
    {"big_files_temporary_dir", &ImageSection::big_files_temporary_dir, kReload,
     "Accepted for crio.conf compatibility; no effect (warned about when set): layers stream into the "
     "store."},
    {"registries_conf", &ImageSection::registries_conf, kReload, "registries.conf (v2) path."},
    {"registries_conf_dir", &ImageSection::registries_conf_dir, kReload,
     "Directory of registries.conf drop-ins."},
    {"max_parallel_downloads", &ImageSection::max_parallel_downloads, kReload,
     "Layers downloaded at once per pull."},
    {"certs_dirs", &ImageSection::certs_dirs, kReload,
     "containers-certs.d directories with HOST[:PORT]/ CAs and client certificates (cricket extension)."},
    {"signature_policy", &ImageSection::signature_policy, kReload,
     "containers-policy.json checked on every pull; empty: /etc/containers/policy.json (not verified when "
     "absent)."},
    {"signature_policy_dir", &ImageSection::signature_policy_dir, kReload,
     "Per-namespace signature policies: <dir>/<pod namespace>.json wins over signature_policy when present."},
    {"registries_d", &ImageSection::registries_d, kReload,
     "containers-registries.d directory: lookaside signature stores, sigstore attachments (cricket "
     "extension)."},
    // Bounds on pulled layers (cricket extensions): a layer crossing one is refused with
    // InvalidArgument naming the layer and the key.
    {"max_layer_size", &ImageSection::max_layer_size, kReload,
     "Uncompressed bytes one layer may expand to (cricket extension; default 256 GiB)."},
    {"max_layer_entries", &ImageSection::max_layer_entries, kReload,
     "Tar entries one layer may hold (cricket extension)."},
    {"max_layer_sparse_size", &ImageSection::max_layer_sparse_size, kReload,
     "Bytes the sparse files of one layer may declare, holes included (cricket extension; default 64 GiB)."},
    {"max_image_size", &ImageSection::max_image_size, kReload,
     "Uncompressed bytes of the layers one pull extracts, together (cricket extension; default 512 GiB)."},
    {"max_image_entries", &ImageSection::max_image_entries, kReload,
     "Tar entries of the layers one pull extracts, together (cricket extension)."},
    {"max_image_sparse_size", &ImageSection::max_image_sparse_size, kReload,
     "Bytes the sparse files of one pull's layers may declare together (cricket extension; default 256 "
     "GiB)."},
    {"max_layer_expansion_ratio", &ImageSection::max_layer_expansion_ratio, kReload,
     "How many times its compressed bytes a layer may expand to, past its first 16 MiB; 0: no bound "
     "(cricket extension)."},
    {"min_free_space", &ImageSection::min_free_space, kReload,
     "Free space a pull must leave on the image store's filesystem: bytes (\"10GiB\") or a percentage "
     "of its size (\"5%\"); \"0\": none. Crossing it fails the pull with RESOURCE_EXHAUSTED (cricket "
     "extension)."},
    {"failed_layer_cache_duration", &ImageSection::failed_layer_cache_duration, kReload,
     "How long a layer refused for its content or for want of space is not fetched again; \"0s\": "
     "always fetched (cricket extension)."},
    {"failed_layer_cache_size", &ImageSection::failed_layer_cache_size, kReload,
     "How many refused layers are remembered at most (cricket extension)."},
};

const FieldSpec<NetworkSection> kNetworkFields[] = {
    {"cni_default_network", &NetworkSection::cni_default_network, kRestart,
     "Network name to use; empty: the first configuration file in network_dir."},
    {"network_dir", &NetworkSection::network_dir, kRestart, "Directory of CNI configuration files."},
    {"plugin_dirs", &NetworkSection::plugin_dirs, kRestart, "Directories searched for CNI plugins."},
};

const FieldSpec<MetricsSection> kMetricsFields[] = {
    {"enable_metrics", &MetricsSection::enable_metrics, kRestart, "Serve Prometheus metrics."},
    {"metrics_host", &MetricsSection::metrics_host, kRestart, "Address of the metrics endpoint."},
    {"metrics_port", &MetricsSection::metrics_port, kRestart, "Port of the metrics endpoint."},
    {"metrics_socket", &MetricsSection::metrics_socket, kRestart,
     "Unix socket the metrics are also served on; empty: none."},
    {"metrics_collectors", &MetricsSection::metrics_collectors, kRestart,
     "Metrics to serve, by CRI-O collector name (README lists cricket's)."},
};

const FieldSpec<StatsSection> kStatsFields[] = {
    {"included_pod_metrics", &StatsSection::included_pod_metrics, kRestart,
     "ListPodSandboxMetrics groups: cpu, memory, network, disk, diskIO, hugetlb, oom, process, spec, "
     "pressure, or [\"all\"]."},
};

// Calls fn(table_name, fields, section) for every fixed section of `config`, in file order.
template <class C, class Fn>
void ForEachSection(C& config, Fn&& fn) {
  fn(std::string_view("crio"), std::span(kRootFields), config.root);
  fn(std::string_view("crio.api"), std::span(kApiFields), config.api);
  fn(std::string_view("crio.runtime"), std::span(kRuntimeFields), config.runtime);
  fn(std::string_view("crio.image"), std::span(kImageFields), config.image);
  fn(std::string_view("crio.network"), std::span(kNetworkFields), config.network);
  fn(std::string_view("crio.metrics"), std::span(kMetricsFields), config.metrics);
  fn(std::string_view("crio.stats"), std::span(kStatsFields), config.stats);
}

// ---------------------------------------------------------------------------------------------------
// Values as TOML text.

std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

std::string TomlValue(const std::string& v) { return TomlString(v); }
std::string TomlValue(bool v) { return v ? "true" : "false"; }
std::string TomlValue(int64_t v) { return StrCat(v); }
std::string TomlValue(const StringList& v) {
  if (v.empty()) return "[]";
  if (v.size() <= 2) {
    std::vector<std::string> parts;
    for (const auto& s : v) parts.push_back(TomlString(s));
    return StrCat("[", absl::StrJoin(parts, ", "), "]");
  }
  std::string out = "[\n";
  for (const auto& s : v) StrAppend(&out, "  ", TomlString(s), ",\n");
  out += "]";
  return out;
}

template <class S>
std::string FieldText(const S& section, const Member<S>& m) {
  return std::visit([&](auto ptr) { return TomlValue(section.*ptr); }, m);
}

template <class S>
nlohmann::json FieldJson(const S& section, const Member<S>& m) {
  return std::visit([&](auto ptr) { return nlohmann::json(section.*ptr); }, m);
}

std::string_view TomlTypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

// ---------------------------------------------------------------------------------------------------
// Reading.

struct Reader {
  const std::string& file;
  std::vector<ConfigWarning>* warnings;

  absl::Status TypeError(const toml::node& n, std::string_view key, std::string_view want) const {
    return absl::InvalidArgumentError(
        StrCat(file, ":", n.source().begin.line, ": ", key, ": expected ", want, ", got ", TomlTypeName(n)));
  }

  void Warn(const toml::node& n, std::string message) const {
    if (warnings) warnings->push_back({file, static_cast<int>(n.source().begin.line), std::move(message)});
  }

  absl::Status Set(const toml::node& n, std::string_view key, std::string& out) const {
    if (!n.is_string()) return TypeError(n, key, "a string");
    out = *n.value<std::string>();
    return absl::OkStatus();
  }
  absl::Status Set(const toml::node& n, std::string_view key, bool& out) const {
    if (!n.is_boolean()) return TypeError(n, key, "a boolean");
    out = *n.value<bool>();
    return absl::OkStatus();
  }
  absl::Status Set(const toml::node& n, std::string_view key, int64_t& out) const {
    if (!n.is_integer()) return TypeError(n, key, "an integer");
    out = *n.value<int64_t>();
    return absl::OkStatus();
  }
  absl::Status Set(const toml::node& n, std::string_view key, StringList& out) const {
    const toml::array* arr = n.as_array();
    if (arr == nullptr) return TypeError(n, key, "an array of strings");
    StringList values;
    for (const toml::node& e : *arr) {
      if (!e.is_string()) return TypeError(e, StrCat(key, "[", values.size(), "]"), "a string");
      values.push_back(*e.value<std::string>());
    }
    out = std::move(values);
    return absl::OkStatus();
  }

  // Reads the keys of `tbl` named by `fields` into `section`. Sub-tables listed in `subtables` are
  // left to the caller; anything else unknown is a warning.
  template <class Fields, class S>
  absl::Status ReadSection(const toml::table& tbl, std::string_view table_name, const Fields& fields,
                           S& section, std::initializer_list<std::string_view> subtables) const {
    for (auto&& [k, node] : tbl) {
      std::string_view key = k.str();
      std::string full = StrCat(table_name, ".", key);
      if (node.is_table() && std::find(subtables.begin(), subtables.end(), key) != subtables.end()) {
        continue;
      }
      auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.key == key; });
      if (it == fields.end()) {
        Warn(node, StrCat(node.is_table() ? "unknown table " : "unknown key ", full, " (ignored)"));
        continue;
      }
      RETURN_IF_ERROR(std::visit([&](auto ptr) { return Set(node, full, section.*ptr); }, it->member));
    }
    return absl::OkStatus();
  }
};

// crio.conf keys cricket accepts so that a CRI-O node config can be pointed at it, but that have nothing to
// act on here: each is warned about, with the reason, when a file sets it (never silently dropped).
struct NoEffectKey {
  std::string_view table;  // "crio", "crio.runtime" or "crio.image"
  std::string_view key;
  std::string_view why;
  std::string_view default_value = "";
};
constexpr NoEffectKey kNoEffectKeys[] = {
    {"crio", "storage_option",
     "cricket's overlay store takes no containers-storage options (overlay mount options, mount programs)"},
    {"crio.image", "pause_image", "cricket runs its built-in infra process; no pause image is pulled or run"},
    {"crio.image", "pause_image_auth_file", "no pause image is pulled (built-in infra process)"},
    {"crio.image", "pause_command", "no pause image is run (built-in infra process)", "/pause"},
    {"crio.image", "big_files_temporary_dir",
     "pulls stream each layer into the store; no temporary blob files are written"},
};

void WarnNoEffect(const Reader& r, const toml::table* crio, const toml::table* runtime,
                  const toml::table* image) {
  for (const NoEffectKey& k : kNoEffectKeys) {
    const toml::table* t = k.table == "crio" ? crio : k.table == "crio.image" ? image : runtime;
    const toml::node* n = t == nullptr ? nullptr : t->get(k.key);
    if (n == nullptr) continue;
    // Left at its default (empty, or what `cricketd config` prints), it asks for nothing.
    bool set = n->is_array() ? !n->as_array()->empty() : n->value_or(std::string()) != k.default_value;
    if (set) r.Warn(*n, StrCat(k.table, ".", k.key, " has no effect: ", k.why));
  }
}

absl::Status ApplyTable(const toml::table& doc, const Reader& r, Config& config) {
  for (auto&& [k, node] : doc) {
    if (k.str() != "crio") r.Warn(node, StrCat("unknown table ", k.str(), " (ignored)"));
  }
  const toml::table* crio = doc["crio"].as_table();
  if (crio == nullptr) {
    if (doc.contains("crio")) return r.TypeError(*doc.get("crio"), "crio", "a table");
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(r.ReadSection(*crio, "crio", std::span(kRootFields), config.root,
                                {"api", "runtime", "image", "network", "metrics", "stats"}));
  auto sub = [&](std::string_view name) -> absl::StatusOr<const toml::table*> {
    const toml::node* n = crio->get(name);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) return r.TypeError(*n, StrCat("crio.", name), "a table");
    return n->as_table();
  };
  ASSIGN_OR_RETURN(const toml::table* api, sub("api"));
  if (api) RETURN_IF_ERROR(r.ReadSection(*api, "crio.api", std::span(kApiFields), config.api, {}));
  ASSIGN_OR_RETURN(const toml::table* runtime, sub("runtime"));
  if (runtime) {
    RETURN_IF_ERROR(
        r.ReadSection(*runtime, "crio.runtime", std::span(kRuntimeFields), config.runtime, {"runtimes"}));
    if (const toml::node* rts = runtime->get("runtimes")) {
      for (auto&& [name, hnode] : *rts->as_table()) {
        std::string table = StrCat("crio.runtime.runtimes.", name.str());
        const toml::table* h = hnode.as_table();
        if (h == nullptr) return r.TypeError(hnode, table, "a table");
        RuntimeHandler& handler = config.runtimes[std::string(name.str())];
        RETURN_IF_ERROR(r.ReadSection(*h, table, std::span(kHandlerFields), handler, {}));
        if (!handler.runtime_path.empty()) {
          r.Warn(hnode, StrCat(table, ".runtime_path = \"", handler.runtime_path,
                               "\" is not executed: cricket embeds its OCI runtime"));
        }
        if (!handler.allowed_annotations.empty()) {
          r.Warn(hnode, StrCat(table,
                               ".allowed_annotations has no effect: cricket acts on no annotation that "
                               "a handler must allow"));
        }
      }
    }
  }
  ASSIGN_OR_RETURN(const toml::table* image, sub("image"));
  if (image) RETURN_IF_ERROR(r.ReadSection(*image, "crio.image", std::span(kImageFields), config.image, {}));
  WarnNoEffect(r, crio, runtime, image);
  ASSIGN_OR_RETURN(const toml::table* network, sub("network"));
  if (network) {
    RETURN_IF_ERROR(r.ReadSection(*network, "crio.network", std::span(kNetworkFields), config.network, {}));
  }
  ASSIGN_OR_RETURN(const toml::table* metrics, sub("metrics"));
  if (metrics) {
    RETURN_IF_ERROR(r.ReadSection(*metrics, "crio.metrics", std::span(kMetricsFields), config.metrics, {}));
  }
  ASSIGN_OR_RETURN(const toml::table* stats, sub("stats"));
  if (stats) RETURN_IF_ERROR(r.ReadSection(*stats, "crio.stats", std::span(kStatsFields), config.stats, {}));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Validation helpers.

absl::Status KeyError(std::string_view key, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(key, ": ", what));
}

absl::Status RequireAbsolute(std::string_view key, const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return KeyError(key, StrCat("must be an absolute path, got \"", path, "\""));
  }
  return absl::OkStatus();
}

absl::Status RequireAbsoluteOrEmpty(std::string_view key, const std::string& path) {
  return path.empty() ? absl::OkStatus() : RequireAbsolute(key, path);
}

constexpr std::string_view kCapabilityNames[] = {"CHOWN",
                                                 "DAC_OVERRIDE",
                                                 "DAC_READ_SEARCH",
                                                 "FOWNER",
                                                 "FSETID",
                                                 "KILL",
                                                 "SETGID",
                                                 "SETUID",
                                                 "SETPCAP",
                                                 "LINUX_IMMUTABLE",
                                                 "NET_BIND_SERVICE",
                                                 "NET_BROADCAST",
                                                 "NET_ADMIN",
                                                 "NET_RAW",
                                                 "IPC_LOCK",
                                                 "IPC_OWNER",
                                                 "SYS_MODULE",
                                                 "SYS_RAWIO",
                                                 "SYS_CHROOT",
                                                 "SYS_PTRACE",
                                                 "SYS_PACCT",
                                                 "SYS_ADMIN",
                                                 "SYS_BOOT",
                                                 "SYS_NICE",
                                                 "SYS_RESOURCE",
                                                 "SYS_TIME",
                                                 "SYS_TTY_CONFIG",
                                                 "MKNOD",
                                                 "LEASE",
                                                 "AUDIT_WRITE",
                                                 "AUDIT_CONTROL",
                                                 "SETFCAP",
                                                 "MAC_OVERRIDE",
                                                 "MAC_ADMIN",
                                                 "SYSLOG",
                                                 "WAKE_ALARM",
                                                 "BLOCK_SUSPEND",
                                                 "AUDIT_READ",
                                                 "PERFMON",
                                                 "BPF",
                                                 "CHECKPOINT_RESTORE"};

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Durations.

absl::StatusOr<int64_t> ParseDuration(std::string_view text) {
  std::string_view s = TrimSpace(text);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(StrCat("invalid duration \"", text, "\": ", why));
  };
  if (s.empty()) return bad("empty");
  if (s == "0") return 0;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (absl::ascii_isdigit(s[i]) || s[i] == '.')) ++i;
    if (i == 0) return bad("expected a number");
    double value = 0;
    if (!absl::SimpleAtod(std::string(s.substr(0, i)), &value)) return bad("bad number");
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !absl::ascii_isdigit(s[j]) && s[j] != '.') ++j;
    std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    double scale = 0;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\u00b5s") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else {
      return bad(unit.empty() ? "missing unit" : StrCat("unknown unit \"", unit, "\""));
    }
    total += value * scale;
  }
  if (total > 9.2e18) return bad("too large");
  return static_cast<int64_t>(total);
}

// ---------------------------------------------------------------------------------------------------
// Validate.

absl::Status RootSection::Validate() const {
  RETURN_IF_ERROR(RequireAbsolute("crio.root", root));
  RETURN_IF_ERROR(RequireAbsolute("crio.runroot", runroot));
  RETURN_IF_ERROR(RequireAbsolute("crio.log_dir", log_dir));
  if (storage_driver != "overlay" && storage_driver != "overlay2") {
    return KeyError("crio.storage_driver",
                    StrCat("\"", storage_driver, "\" is not supported (cricket stores images on overlay)"));
  }
  if (CleanPath(root) == CleanPath(runroot)) {
    return KeyError("crio.runroot", "must differ from crio.root");
  }
  return absl::OkStatus();
}

absl::Status ApiSection::Validate() const {
  RETURN_IF_ERROR(RequireAbsolute("crio.api.listen", listen));
  if (stream_address.empty()) return KeyError("crio.api.stream_address", "must not be empty");
  int port = 0;
  if (!absl::SimpleAtoi(stream_port, &port) || port < 0 || port > 65535) {
    return KeyError("crio.api.stream_port", StrCat("\"", stream_port, "\" is not a port (0-65535)"));
  }
  if (stream_enable_tls && (stream_tls_cert.empty() || stream_tls_key.empty())) {
    return KeyError("crio.api.stream_enable_tls", "needs stream_tls_cert and stream_tls_key");
  }
  if (!stream_idle_timeout.empty()) {
    auto d = ParseDuration(stream_idle_timeout);
    if (!d.ok()) return KeyError("crio.api.stream_idle_timeout", ToStd(d.status().message()));
  }
  if (grpc_max_send_msg_size <= 0) return KeyError("crio.api.grpc_max_send_msg_size", "must be positive");
  if (grpc_max_recv_msg_size <= 0) return KeyError("crio.api.grpc_max_recv_msg_size", "must be positive");
  return absl::OkStatus();
}

absl::Status RuntimeSection::Validate() const {
  auto level = log::ParseLevel(log_level);
  if (!level.ok()) return KeyError("crio.runtime.log_level", ToStd(level.status().message()));
  if (cgroup_manager != "cgroupfs" && cgroup_manager != "systemd") {
    return KeyError("crio.runtime.cgroup_manager",
                    StrCat("must be \"cgroupfs\" or \"systemd\", got \"", cgroup_manager, "\""));
  }
  for (const std::string& cap : default_capabilities) {
    std::string name = absl::AsciiStrToUpper(cap);
    if (absl::StartsWith(name, "CAP_")) name = name.substr(4);
    if (std::find(std::begin(kCapabilityNames), std::end(kCapabilityNames), name) ==
        std::end(kCapabilityNames)) {
      return KeyError("crio.runtime.default_capabilities", StrCat("unknown capability \"", cap, "\""));
    }
  }
  for (const std::string& s : default_sysctls) {
    std::pair<std::string, std::string> kv = absl::StrSplit(s, absl::MaxSplits('=', 1));
    if (kv.first.empty() || s.find('=') == std::string::npos) {
      return KeyError("crio.runtime.default_sysctls", StrCat("\"", s, "\" is not name=value"));
    }
  }
  for (const std::string& u : default_ulimits) {
    std::vector<std::string> parts = absl::StrSplit(u, absl::ByAnyChar("=:"));
    int64_t soft = 0, hard = 0;
    if (parts.size() != 3 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &soft) ||
        !absl::SimpleAtoi(parts[2], &hard) || soft > hard) {
      return KeyError("crio.runtime.default_ulimits",
                      StrCat("\"", u, "\" is not name=soft:hard with soft <= hard"));
    }
  }
  if (log_size_max != -1 && log_size_max < 8192) {
    return KeyError("crio.runtime.log_size_max", "must be -1 (no limit) or at least 8192");
  }
  if (ctr_stop_timeout < 0) return KeyError("crio.runtime.ctr_stop_timeout", "must not be negative");
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.runtime.conmon", conmon));
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.runtime.seccomp_profile", seccomp_profile));
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.runtime.container_exits_dir", container_exits_dir));
  RETURN_IF_ERROR(
      RequireAbsoluteOrEmpty("crio.runtime.container_attach_socket_dir", container_attach_socket_dir));
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.runtime.namespaces_dir", namespaces_dir));
  for (const std::string& d : hooks_dir) RETURN_IF_ERROR(RequireAbsolute("crio.runtime.hooks_dir", d));
  for (const std::string& d : cdi_spec_dirs)
    RETURN_IF_ERROR(RequireAbsolute("crio.runtime.cdi_spec_dirs", d));
  return absl::OkStatus();
}

absl::Status RuntimeHandler::Validate() const {
  if (runtime_type != "oci" && !runtime_type.empty()) {
    return absl::InvalidArgumentError(StrCat("runtime_type: \"", runtime_type,
                                             "\" is not supported (cricket's embedded runtime is \"oci\")"));
  }
  if (!runtime_root.empty() && runtime_root.front() != '/') {
    return absl::InvalidArgumentError("runtime_root: must be an absolute path");
  }
  if (!monitor_path.empty() && monitor_path.front() != '/') {
    return absl::InvalidArgumentError("monitor_path: must be an absolute path");
  }
  return absl::OkStatus();
}

absl::Status ImageSection::Validate() const {
  if (default_transport != "docker://") {
    return KeyError("crio.image.default_transport",
                    StrCat("only \"docker://\" is supported, got \"", default_transport, "\""));
  }
  if (image_volumes != "mkdir" && image_volumes != "bind" && image_volumes != "ignore") {
    return KeyError("crio.image.image_volumes",
                    StrCat("must be mkdir, bind or ignore, got \"", image_volumes, "\""));
  }
  if (max_parallel_downloads < 1 || max_parallel_downloads > 64) {
    return KeyError("crio.image.max_parallel_downloads", "must be between 1 and 64");
  }
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.image.global_auth_file", global_auth_file));
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.image.registries_conf", registries_conf));
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.image.registries_conf_dir", registries_conf_dir));
  for (const std::string& p : pinned_images) {
    if (p.empty()) return KeyError("crio.image.pinned_images", "contains an empty pattern");
  }
  for (const std::string& d : certs_dirs) RETURN_IF_ERROR(RequireAbsolute("crio.image.certs_dirs", d));
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.image.signature_policy", signature_policy));
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.image.signature_policy_dir", signature_policy_dir));
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.image.registries_d", registries_d));
  return ValidatePullBounds();
}

absl::Status ImageSection::ValidatePullBounds() const {
  const std::pair<std::string_view, int64_t> positive[] = {{"max_layer_size", max_layer_size},
                                                           {"max_layer_entries", max_layer_entries},
                                                           {"max_layer_sparse_size", max_layer_sparse_size},
                                                           {"max_image_size", max_image_size},
                                                           {"max_image_entries", max_image_entries},
                                                           {"max_image_sparse_size", max_image_sparse_size}};
  for (const auto& [key, value] : positive) {
    if (value <= 0) return KeyError(StrCat("crio.image.", key), StrCat("must be positive, got ", value));
  }
  if (max_layer_expansion_ratio < 0) {
    return KeyError("crio.image.max_layer_expansion_ratio", "must be 0 (no bound) or positive");
  }
  if (auto r = storage::ParseFreeSpaceReserve(min_free_space); !r.ok()) {
    return KeyError("crio.image.min_free_space", ToStd(r.status().message()));
  }
  auto d = ParseDuration(failed_layer_cache_duration);
  if (!d.ok()) return KeyError("crio.image.failed_layer_cache_duration", ToStd(d.status().message()));
  if (*d < 0) return KeyError("crio.image.failed_layer_cache_duration", "must not be negative");
  if (failed_layer_cache_size < 0 || failed_layer_cache_size > 100'000) {
    return KeyError("crio.image.failed_layer_cache_size", "must be between 0 and 100000");
  }
  return absl::OkStatus();
}

absl::Status NetworkSection::Validate() const {
  RETURN_IF_ERROR(RequireAbsolute("crio.network.network_dir", network_dir));
  if (plugin_dirs.empty()) return KeyError("crio.network.plugin_dirs", "must name at least one directory");
  for (const std::string& d : plugin_dirs) RETURN_IF_ERROR(RequireAbsolute("crio.network.plugin_dirs", d));
  return absl::OkStatus();
}

std::vector<std::string> MetricsSection::DefaultMetricsCollectors() { return metrics::ServedCollectors(); }

absl::Status MetricsSection::Validate() const {
  if (metrics_port < 1 || metrics_port > 65535) {
    return KeyError("crio.metrics.metrics_port", "must be between 1 and 65535");
  }
  if (enable_metrics && metrics_host.empty())
    return KeyError("crio.metrics.metrics_host", "must not be empty");
  RETURN_IF_ERROR(RequireAbsoluteOrEmpty("crio.metrics.metrics_socket", metrics_socket));
  for (const std::string& c : metrics_collectors) {
    std::string name = metrics::StripCollectorPrefix(c);
    if (!absl::c_linear_search(metrics::ServedCollectors(), name) &&
        !absl::c_linear_search(metrics::UnservedCriOCollectors(), name)) {
      return KeyError("crio.metrics.metrics_collectors", StrCat("unknown collector \"", c, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status StatsSection::Validate() const {
  constexpr std::string_view kKey = "crio.stats.included_pod_metrics";
  for (const std::string& g : included_pod_metrics) {
    if (g == "all") {
      if (included_pod_metrics.size() != 1) return KeyError(kKey, "\"all\" must be the only entry");
      continue;
    }
    if (!absl::c_linear_search(kPodMetricGroups, g)) {
      return KeyError(
          kKey, StrCat("unknown metric group \"", g, "\" (known: all, ", Join(kPodMetricGroups, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Config::Validate() const {
  RETURN_IF_ERROR(root.Validate());
  RETURN_IF_ERROR(api.Validate());
  RETURN_IF_ERROR(runtime.Validate());
  RETURN_IF_ERROR(image.Validate());
  RETURN_IF_ERROR(network.Validate());
  RETURN_IF_ERROR(metrics.Validate());
  RETURN_IF_ERROR(stats.Validate());
  if (absl::Status st = ValidateMonitorCgroup(runtime.conmon_cgroup, runtime.cgroup_manager); !st.ok()) {
    return KeyError("crio.runtime.conmon_cgroup", ToStd(st.message()));
  }
  for (const auto& [name, handler] : runtimes) {
    RETURN_IF_ERROR(Annotate(handler.Validate(), StrCat("crio.runtime.runtimes.", name)));
    if (absl::Status st = ValidateMonitorCgroup(handler.monitor_cgroup, runtime.cgroup_manager); !st.ok()) {
      return KeyError(StrCat("crio.runtime.runtimes.", name, ".monitor_cgroup"), ToStd(st.message()));
    }
  }
  if (!runtimes.contains(runtime.default_runtime)) {
    return KeyError("crio.runtime.default_runtime",
                    StrCat("\"", runtime.default_runtime, "\" has no [crio.runtime.runtimes.",
                           runtime.default_runtime, "] table"));
  }
  return absl::OkStatus();
}

std::string Config::ExitsDir() const {
  return runtime.container_exits_dir.empty() ? JoinPath(root.runroot, "exits") : runtime.container_exits_dir;
}
std::string Config::AttachSocketDir() const {
  return runtime.container_attach_socket_dir.empty() ? JoinPath(root.runroot, "attach")
                                                     : runtime.container_attach_socket_dir;
}
std::string Config::NamespacesDir() const {
  return runtime.namespaces_dir.empty() ? JoinPath(root.runroot, "ns") : runtime.namespaces_dir;
}
std::string Config::RuntimeRoot(const std::string& handler) const {
  auto it = runtimes.find(handler);
  if (it != runtimes.end() && !it->second.runtime_root.empty()) return it->second.runtime_root;
  return JoinPath(root.runroot, "runtime/" + handler);
}
std::string Config::ImageStoreDir() const { return JoinPath(root.root, "storage"); }

const RuntimeHandler* Config::FindHandler(const std::string& name) const {
  auto it = runtimes.find(name.empty() ? runtime.default_runtime : name);
  return it == runtimes.end() ? nullptr : &it->second;
}

std::string ConfigWarning::ToString() const {
  return line > 0 ? StrCat(file, ":", line, ": ", message) : StrCat(file, ": ", message);
}

// ---------------------------------------------------------------------------------------------------
// Loading.

absl::Status ApplyToml(std::string_view text, const std::string& file, Config& config,
                       std::vector<ConfigWarning>* warnings) {
  toml::table doc;
  try {
    doc = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(StrCat(file, ":", e.source().begin.line, ":", e.source().begin.column,
                                             ": invalid TOML: ", e.description()));
  }
  return ApplyTable(doc, Reader{file, warnings}, config);
}

absl::StatusOr<Config> LoadConfig(const ConfigSources& sources, const ConfigOverrides& overrides,
                                  std::vector<ConfigWarning>* warnings) {
  Config config;
  auto apply_file = [&](const std::string& path) -> absl::Status {
    ASSIGN_OR_RETURN(std::string text, ReadFile(path, 16 << 20));
    return ApplyToml(text, path, config, warnings);
  };
  if (!sources.config_file.empty()) {
    if (PathExists(sources.config_file)) {
      RETURN_IF_ERROR(apply_file(sources.config_file));
    } else if (sources.config_file_required) {
      return absl::NotFoundError(StrCat("config file ", sources.config_file, " does not exist"));
    }
  }
  if (!sources.config_dir.empty() && PathExists(sources.config_dir)) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(sources.config_dir));
    for (const std::string& name : names) {  // ListDir sorts: lexical order
      if (!absl::EndsWith(name, ".conf") || name.front() == '.') continue;
      RETURN_IF_ERROR(apply_file(JoinPath(sources.config_dir, name)));
    }
  }
  if (!overrides.listen.empty()) config.api.listen = overrides.listen;
  if (!overrides.root.empty()) config.root.root = overrides.root;
  if (!overrides.runroot.empty()) config.root.runroot = overrides.runroot;
  if (!overrides.log_level.empty()) config.runtime.log_level = overrides.log_level;
  RETURN_IF_ERROR(config.Validate());
  return config;
}

// ---------------------------------------------------------------------------------------------------
// Printing, diffing, reloading.

std::string FormatConfigToml(const Config& config) {
  std::string out =
      "# cricketd effective configuration. Tables and keys follow CRI-O's crio.conf; this file can be\n"
      "# used as /etc/cricket/cricket.conf.\n";
  auto section = [&](std::string_view table, auto fields, const auto& s) {
    StrAppend(&out, "\n[", table, "]\n");
    for (const auto& f : fields) {
      StrAppend(&out, "\n# ", f.doc, f.reloadable ? " (reloaded on SIGHUP)" : "", "\n", f.key, " = ",
                FieldText(s, f.member), "\n");
    }
  };
  ForEachSection(config, section);
  for (const auto& [name, handler] : config.runtimes) {
    section(StrCat("crio.runtime.runtimes.", name), std::span(kHandlerFields), handler);
  }
  return out;
}

std::string FormatConfigJson(const Config& config) {
  nlohmann::json j = nlohmann::json::object();
  auto section = [&](std::string_view table, auto fields, const auto& s) {
    nlohmann::json& t = j[std::string(table)];
    for (const auto& f : fields) t[std::string(f.key)] = FieldJson(s, f.member);
  };
  ForEachSection(config, section);
  for (const auto& [name, handler] : config.runtimes) {
    section(StrCat("crio.runtime.runtimes.", name), std::span(kHandlerFields), handler);
  }
  return j.dump();
}

std::vector<ConfigChange> DiffConfig(const Config& before, const Config& after) {
  std::vector<ConfigChange> changes;
  auto diff = [&](std::string_view table, auto fields, const auto* a, const auto* b) {
    for (const auto& f : fields) {
      std::string va = a ? FieldText(*a, f.member) : "(none)";
      std::string vb = b ? FieldText(*b, f.member) : "(none)";
      if (va != vb) changes.push_back({StrCat(table, ".", f.key), va, vb, f.reloadable});
    }
  };
  // Sections are visited on `before`; the same section of `after` is found by table name.
  ForEachSection(before, [&](std::string_view table, auto fields, const auto& s) {
    using S = std::decay_t<decltype(s)>;
    const S* other = nullptr;
    ForEachSection(after, [&](std::string_view t2, auto, const auto& s2) {
      if constexpr (std::is_same_v<std::decay_t<decltype(s2)>, S>) {
        if (t2 == table) other = &s2;
      }
    });
    diff(table, fields, &s, other);
  });
  std::set<std::string> names;
  for (const auto& [n, h] : before.runtimes) names.insert(n);
  for (const auto& [n, h] : after.runtimes) names.insert(n);
  for (const std::string& n : names) {
    auto a = before.runtimes.find(n);
    auto b = after.runtimes.find(n);
    diff(StrCat("crio.runtime.runtimes.", n), std::span(kHandlerFields),
         a == before.runtimes.end() ? nullptr : &a->second, b == after.runtimes.end() ? nullptr : &b->second);
  }
  return changes;
}

Config ApplyReloadable(const Config& current, const Config& next) {
  Config result = current;
  auto copy = [](auto fields, auto& dst, const auto& src) {
    for (const auto& f : fields) {
      if (f.reloadable) std::visit([&](auto ptr) { dst.*ptr = src.*ptr; }, f.member);
    }
  };
  copy(std::span(kRootFields), result.root, next.root);
  copy(std::span(kApiFields), result.api, next.api);
  copy(std::span(kRuntimeFields), result.runtime, next.runtime);
  copy(std::span(kImageFields), result.image, next.image);
  copy(std::span(kNetworkFields), result.network, next.network);
  copy(std::span(kMetricsFields), result.metrics, next.metrics);
  copy(std::span(kStatsFields), result.stats, next.stats);
  return result;
}

}  // namespace cricket::server
