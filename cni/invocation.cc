#include "cni/invocation.h"

#include "lib/common/json_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/subprocess.h"

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

constexpr size_t kStdoutLimit = 4 << 20;
constexpr size_t kStderrLimit = 256 << 10;
constexpr size_t kStderrInError = 2048;

// "[code 11] msg: details" from a spec error object ({cniVersion, code, msg, details}).
std::string DescribeErrorObject(const Json& doc) {
  if (!doc.is_object() || !doc.contains("code")) return "";
  std::string out;
  if (doc["code"].is_number_integer()) out = StrCat("[code ", doc["code"].get<int64_t>(), "]");
  if (auto it = doc.find("msg"); it != doc.end() && it->is_string())
    StrAppend(&out, " ", it->get<std::string>());
  if (auto it = doc.find("details"); it != doc.end() && it->is_string() && !it->get<std::string>().empty()) {
    StrAppend(&out, ": ", it->get<std::string>());
  }
  return out;
}

std::string StderrTail(const sys::RunResult& r) {
  std::string_view err = TrimSpace(r.stderr_data);
  if (err.size() > kStderrInError) err = err.substr(err.size() - kStderrInError);
  return std::string(err);
}

}  // namespace

absl::Status ValidateContainerId(std::string_view id) {
  if (!IsCniIdentifier(id)) {
    return absl::InvalidArgumentError(
        StrCat("container id \"", id, "\" must be alphanumerics, '_', '.' or '-', starting alphanumeric"));
  }
  return absl::OkStatus();
}

absl::Status ValidateIfName(std::string_view ifname) {
  bool ok = !ifname.empty() && ifname.size() <= 15 && ifname != "." && ifname != "..";
  for (char c : ifname)
    ok = ok && c != '/' && c != ':' && !isspace(static_cast<unsigned char>(c)) && c != '\0';
  if (!ok) {
    return absl::InvalidArgumentError(
        StrCat("interface name \"", ifname, "\" must have 1-15 characters and no '/', ':' or whitespace"));
  }
  return absl::OkStatus();
}

Json MakeCapabilityArgs(const std::vector<PortMapping>& port_mappings, const BandwidthLimits& bandwidth,
                        const std::string& cgroup_path, const std::vector<std::string>& ip_ranges) {
  Json args = Json::object();
  Json ports = Json::array();
  for (const PortMapping& pm : port_mappings) {
    if (pm.host_port <= 0) continue;  // as containerd: container-only ports are not mapped
    ports.push_back({{"hostPort", pm.host_port},
                     {"containerPort", pm.container_port},
                     {"protocol", pm.protocol.empty() ? std::string("tcp") : ToLower(pm.protocol)},
                     {"hostIP", pm.host_ip}});
  }
  if (!ports.empty()) args["portMappings"] = ports;
  if (bandwidth.ingress_rate || bandwidth.ingress_burst || bandwidth.egress_rate || bandwidth.egress_burst) {
    Json bw = Json::object();
    if (bandwidth.ingress_rate) bw["ingressRate"] = bandwidth.ingress_rate;
    if (bandwidth.ingress_burst) bw["ingressBurst"] = bandwidth.ingress_burst;
    if (bandwidth.egress_rate) bw["egressRate"] = bandwidth.egress_rate;
    if (bandwidth.egress_burst) bw["egressBurst"] = bandwidth.egress_burst;
    args["bandwidth"] = bw;
  }
  if (!cgroup_path.empty()) args["cgroupPath"] = cgroup_path;
  if (!ip_ranges.empty()) {
    Json sets = Json::array();
    for (const std::string& subnet : ip_ranges) sets.push_back(Json::array({{{"subnet", subnet}}}));
    args["ipRanges"] = sets;
  }
  return args;
}

absl::StatusOr<std::string> FormatCniArgs(const std::vector<std::pair<std::string, std::string>>& args) {
  std::string out;
  for (const auto& [k, v] : args) {
    if (k.empty() || k.find_first_of(";=") != std::string::npos ||
        v.find_first_of(";=") != std::string::npos) {
      return absl::InvalidArgumentError(
          StrCat("CNI_ARGS entry \"", k, "=", v, "\" may not contain ';' or '='"));
    }
    StrAppend(&out, out.empty() ? "" : ";", k, "=", v);
  }
  return out;
}

Json BuildPluginConfig(const NetworkConfigList& list, size_t index, const Json& capability_args,
                       const Json* prev_result) {
  Json conf = list.plugins[index];
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  Json runtime = Json::object();
  if (auto caps = conf.find("capabilities"); caps != conf.end()) {
    if (caps->is_object()) {
      for (const auto& [cap, enabled] : caps->items()) {
        if (enabled.is_boolean() && enabled.get<bool>() && capability_args.contains(cap)) {
          runtime[cap] = capability_args[cap];
        }
      }
    }
    conf.erase("capabilities");
  }
  if (!runtime.empty()) conf["runtimeConfig"] = runtime;
  if (prev_result != nullptr && !prev_result->is_null()) conf["prevResult"] = *prev_result;
  return conf;
}

Json BuildGcConfig(const NetworkConfigList& list, size_t index,
                   const std::vector<std::pair<std::string, std::string>>& valid_attachments) {
  Json conf = list.plugins[index];
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  conf.erase("capabilities");
  Json valid = Json::array();
  for (const auto& [id, ifname] : valid_attachments)
    valid.push_back({{"containerID", id}, {"ifname", ifname}});
  conf["cni.dev/valid-attachments"] = valid;
  return conf;
}

absl::StatusOr<std::vector<std::string>> BuildEnv(std::string_view command, const RuntimeArgs& args,
                                                  const std::vector<std::string>& plugin_dirs,
                                                  const std::string& path_env) {
  std::vector<std::string> env = {StrCat("CNI_COMMAND=", command)};
  bool per_attachment = command == "ADD" || command == "DEL" || command == "CHECK";
  if (per_attachment) {
    ASSIGN_OR_RETURN(std::string cni_args, FormatCniArgs(args.cni_args));
    env.push_back(StrCat("CNI_CONTAINERID=", args.container_id));
    env.push_back(StrCat("CNI_NETNS=", args.netns));
    env.push_back(StrCat("CNI_IFNAME=", args.ifname));
    env.push_back(StrCat("CNI_ARGS=", cni_args));
  }
  env.push_back(StrCat("CNI_PATH=", Join(plugin_dirs, ":")));
  env.push_back(StrCat("PATH=", path_env));
  return env;
}

absl::StatusOr<Json> ExecPlugin(const PluginCall& call, absl::Duration timeout) {
  sys::RunOptions opts;
  opts.stdin_data = call.config.dump();
  opts.stdout_limit = kStdoutLimit;
  opts.stderr_limit = kStderrLimit;
  opts.timeout = timeout;
  std::string what = StrCat("CNI plugin ", call.type, " ", call.command);
  auto run = sys::RunProcess(sys::Command{call.path, {call.path}, call.env, ""}, opts);
  if (!run.ok()) return Annotate(run.status(), what);
  const sys::RunResult& r = *run;
  std::string_view out = TrimSpace(r.stdout_data);
  absl::StatusOr<Json> doc = out.empty() ? Json() : ParseJson(out, StrCat(what, " output"));
  if (r.timed_out || !r.status.success()) {
    std::string msg = r.timed_out
                          ? StrCat(what, ": killed after the timeout of ", absl::FormatDuration(timeout))
                          : StrCat(what, " failed (", r.status.ToString(), ")");
    std::string described = doc.ok() ? DescribeErrorObject(*doc) : "";
    if (!described.empty()) {
      StrAppend(&msg, ": ", described);
    } else if (!out.empty()) {
      StrAppend(&msg, ": output: ", out.substr(0, kStderrInError));
    }
    std::string err = StderrTail(r);
    if (!err.empty()) StrAppend(&msg, "; stderr: ", err);
    return r.timed_out ? absl::DeadlineExceededError(msg) : absl::InternalError(msg);
  }
  if (!doc.ok()) {
    // DEL, CHECK and GC print nothing useful on success; only a result that is needed must parse.
    if (call.command == "ADD" || call.command == "VERSION") return doc.status();
    return Json();
  }
  return *doc;
}

}  // namespace cricket::cni
