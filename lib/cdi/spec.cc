#include "lib/cdi/spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/json_reader.h"

namespace cricket::cdi {

namespace {

using Json = nlohmann::json;
using oci::json::FieldPath;
using oci::json::IndexPath;
using oci::json::Object;
using oci::json::PathError;

// ---------------------------------------------------------------------------------------------------
// YAML → JSON. Plain (unquoted) YAML scalars carry no type of their own; as the spec's YAML loader
// does with its Go struct's field types, a scalar becomes a number or a bool only where the schema has
// one (the keys below, outside annotation maps), and a string everywhere else, so that a device named
// `0` or a version written `1.0` keeps its text.

const std::set<std::string_view> kIntegerKeys = {"major", "minor",   "fileMode",      "uid",
                                                 "gid",   "timeout", "additionalGids"};
const std::set<std::string_view> kBoolKeys = {"enableMonitoring"};

bool IsYamlNull(const YAML::Node& n) {
  if (n.IsNull()) return true;
  if (!n.IsScalar() || n.Tag() == "!") return false;
  const std::string& s = n.Scalar();
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// YAML integers: decimal, 0x hex, 0o octal and YAML 1.1's leading-zero octal (file modes are
// commonly written 0666).
std::optional<int64_t> ParseYamlInt(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.starts_with("0x") || s.starts_with("0X")) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.starts_with("0o")) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : 99;
    if (d >= base || v > (INT64_MAX - d) / base) return std::nullopt;
    v = v * base + d;
  }
  return negative ? -v : v;
}

Json YamlScalar(const YAML::Node& n, std::string_view key) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  if (kIntegerKeys.contains(key)) {
    if (auto v = ParseYamlInt(s)) return *v;
  } else if (kBoolKeys.contains(key)) {
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  return s;
}

// `key` is the mapping key the node is the value of (or, for sequence items, their sequence's key).
absl::StatusOr<Json> YamlToJson(const YAML::Node& n, std::string_view key, bool in_annotations,
                                const std::string& path) {
  if (IsYamlNull(n)) return Json(nullptr);
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return in_annotations ? Json(n.Scalar()) : YamlScalar(n, key);
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      size_t i = 0;
      for (const YAML::Node& item : n) {
        ASSIGN_OR_RETURN(Json v, YamlToJson(item, key, in_annotations, IndexPath(path, i++)));
        arr.push_back(std::move(v));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) return PathError(path, "a mapping key is not a string");
        std::string k = kv.first.Scalar();
        if (obj.contains(k)) return PathError(FieldPath(path, k), "duplicate key");
        ASSIGN_OR_RETURN(Json v,
                         YamlToJson(kv.second, k, in_annotations || k == "annotations", FieldPath(path, k)));
        obj[k] = std::move(v);
      }
      return obj;
    }
    default:
      return PathError(path, "unsupported YAML node");
  }
}

absl::StatusOr<Json> ParseYaml(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        StrCat("YAML syntax error at line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  return YamlToJson(root, "", false, "");
}

absl::StatusOr<Json> ParseJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  return j;
}

// ---------------------------------------------------------------------------------------------------
// Typed reading.

absl::StatusOr<Object> StrictObject(const Json& value, const std::string& path,
                                    std::initializer_list<std::string_view> known) {
  ASSIGN_OR_RETURN(Object o, Object::Of(value, path));
  for (const auto& [k, v] : value.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      return PathError(FieldPath(path, k), "unknown property");
    }
  }
  return o;
}

absl::Status ReadDeviceNode(const Json& v, const std::string& path, DeviceNode* out) {
  ASSIGN_OR_RETURN(Object o, StrictObject(v, path,
                                          {"path", "hostPath", "type", "major", "minor", "fileMode",
                                           "permissions", "uid", "gid"}));
  RETURN_IF_ERROR(o.Req("path", &out->path));
  RETURN_IF_ERROR(o.Opt("hostPath", &out->host_path));
  RETURN_IF_ERROR(o.Opt("type", &out->type));
  RETURN_IF_ERROR(o.Opt("major", &out->major));
  RETURN_IF_ERROR(o.Opt("minor", &out->minor));
  RETURN_IF_ERROR(o.Opt("fileMode", &out->file_mode));
  RETURN_IF_ERROR(o.Opt("permissions", &out->permissions));
  RETURN_IF_ERROR(o.Opt("uid", &out->uid));
  return o.Opt("gid", &out->gid);
}

absl::Status ReadMount(const Json& v, const std::string& path, Mount* out) {
  ASSIGN_OR_RETURN(Object o, StrictObject(v, path, {"hostPath", "containerPath", "options", "type"}));
  RETURN_IF_ERROR(o.Req("hostPath", &out->host_path));
  RETURN_IF_ERROR(o.Req("containerPath", &out->container_path));
  RETURN_IF_ERROR(o.OptArray("options", &out->options));
  return o.Opt("type", &out->type);
}

absl::Status ReadHook(const Json& v, const std::string& path, Hook* out) {
  ASSIGN_OR_RETURN(Object o, StrictObject(v, path, {"hookName", "path", "args", "env", "timeout"}));
  RETURN_IF_ERROR(o.Req("hookName", &out->hook_name));
  RETURN_IF_ERROR(o.Req("path", &out->path));
  RETURN_IF_ERROR(o.OptArray("args", &out->args));
  RETURN_IF_ERROR(o.OptArray("env", &out->env));
  return o.Opt("timeout", &out->timeout);
}

absl::Status ReadIntelRdt(const Json& v, const std::string& path, IntelRdt* out) {
  ASSIGN_OR_RETURN(
      Object o,
      StrictObject(v, path, {"closID", "l3CacheSchema", "memBwSchema", "schemata", "enableMonitoring"}));
  RETURN_IF_ERROR(o.Opt("closID", &out->clos_id));
  RETURN_IF_ERROR(o.Opt("l3CacheSchema", &out->l3_cache_schema));
  RETURN_IF_ERROR(o.Opt("memBwSchema", &out->mem_bw_schema));
  if (o.Has("schemata")) {
    std::vector<std::string> s;
    RETURN_IF_ERROR(o.OptArray("schemata", &s));
    out->schemata = std::move(s);
  }
  return o.Opt("enableMonitoring", &out->enable_monitoring);
}

absl::Status ReadNetDevice(const Json& v, const std::string& path, NetDevice* out) {
  ASSIGN_OR_RETURN(Object o, StrictObject(v, path, {"hostInterfaceName", "name"}));
  RETURN_IF_ERROR(o.Req("hostInterfaceName", &out->host_interface_name));
  return o.Req("name", &out->name);
}

absl::Status ReadEdits(const Json& v, const std::string& path, ContainerEdits* out) {
  ASSIGN_OR_RETURN(Object o, StrictObject(v, path,
                                          {"env", "deviceNodes", "netDevices", "hooks", "mounts", "intelRdt",
                                           "additionalGids"}));
  RETURN_IF_ERROR(o.OptArray("env", &out->env));
  RETURN_IF_ERROR(o.OptArray("deviceNodes", &out->device_nodes, ReadDeviceNode));
  RETURN_IF_ERROR(o.OptArray("netDevices", &out->net_devices, ReadNetDevice));
  RETURN_IF_ERROR(o.OptArray("hooks", &out->hooks, ReadHook));
  RETURN_IF_ERROR(o.OptArray("mounts", &out->mounts, ReadMount));
  RETURN_IF_ERROR(o.OptObject("intelRdt", &out->intel_rdt, ReadIntelRdt));
  return o.OptArray("additionalGids", &out->additional_gids);
}

absl::Status ReadDevice(const Json& v, const std::string& path, Device* out) {
  ASSIGN_OR_RETURN(Object o, StrictObject(v, path, {"name", "annotations", "containerEdits"}));
  RETURN_IF_ERROR(o.Req("name", &out->name));
  RETURN_IF_ERROR(o.OptMap("annotations", &out->annotations));
  if (!o.Has("containerEdits")) return o.Missing("containerEdits");
  return ReadEdits(*o.Find("containerEdits"), o.PathOf("containerEdits"), &out->edits);
}

absl::StatusOr<Spec> ReadSpec(const Json& v) {
  Spec spec;
  ASSIGN_OR_RETURN(Object o,
                   StrictObject(v, "", {"cdiVersion", "kind", "annotations", "devices", "containerEdits"}));
  RETURN_IF_ERROR(o.Req("cdiVersion", &spec.version));
  RETURN_IF_ERROR(o.Req("kind", &spec.kind));
  RETURN_IF_ERROR(o.OptMap("annotations", &spec.annotations));
  if (!o.Has("devices")) return o.Missing("devices");
  RETURN_IF_ERROR(o.OptArray("devices", &spec.devices, ReadDevice));
  if (const Json* e = o.Find("containerEdits")) RETURN_IF_ERROR(ReadEdits(*e, "containerEdits", &spec.edits));
  return spec;
}

// ---------------------------------------------------------------------------------------------------
// Validation.

bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsLetter(c) || (c >= '0' && c <= '9'); }

absl::Status ValidateEnv(const std::vector<std::string>& env, const std::string& path) {
  for (size_t i = 0; i < env.size(); ++i) {
    size_t eq = env[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return PathError(IndexPath(path, i), StrCat("\"", env[i], "\" is not KEY=value"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEdits(const ContainerEdits& e, const std::string& path) {
  RETURN_IF_ERROR(ValidateEnv(e.env, FieldPath(path, "env")));
  for (size_t i = 0; i < e.device_nodes.size(); ++i) {
    const DeviceNode& d = e.device_nodes[i];
    std::string p = IndexPath(FieldPath(path, "deviceNodes"), i);
    if (d.path.empty()) return PathError(FieldPath(p, "path"), "must not be empty");
    if (d.type != "" && d.type != "b" && d.type != "c" && d.type != "u" && d.type != "p") {
      return PathError(FieldPath(p, "type"), StrCat("\"", d.type, "\" is not one of b, c, u, p"));
    }
    if (d.permissions != "none" && d.permissions.find_first_not_of("rwm") != std::string::npos) {
      return PathError(FieldPath(p, "permissions"),
                       StrCat("\"", d.permissions, "\" is not a combination of r, w, m (or \"none\")"));
    }
    if (d.major < 0 || d.minor < 0) return PathError(p, "negative device number");
  }
  std::set<std::string> host_names, names;
  for (size_t i = 0; i < e.net_devices.size(); ++i) {
    const NetDevice& n = e.net_devices[i];
    std::string p = IndexPath(FieldPath(path, "netDevices"), i);
    if (n.host_interface_name.empty())
      return PathError(FieldPath(p, "hostInterfaceName"), "must not be empty");
    if (n.name.empty()) return PathError(FieldPath(p, "name"), "must not be empty");
    if (!host_names.insert(n.host_interface_name).second) {
      return PathError(p, StrCat("host interface \"", n.host_interface_name, "\" is listed twice"));
    }
    if (!names.insert(n.name).second) return PathError(p, StrCat("name \"", n.name, "\" is listed twice"));
  }
  static const std::set<std::string_view> kHookNames = {"prestart",       "createRuntime", "createContainer",
                                                        "startContainer", "poststart",     "poststop"};
  for (size_t i = 0; i < e.hooks.size(); ++i) {
    const Hook& h = e.hooks[i];
    std::string p = IndexPath(FieldPath(path, "hooks"), i);
    if (!kHookNames.contains(h.hook_name)) {
      return PathError(FieldPath(p, "hookName"), StrCat("unknown hook \"", h.hook_name, "\""));
    }
    if (h.path.empty() || h.path[0] != '/')
      return PathError(FieldPath(p, "path"), "must be an absolute path");
    RETURN_IF_ERROR(ValidateEnv(h.env, FieldPath(p, "env")));
    if (h.timeout && *h.timeout <= 0) return PathError(FieldPath(p, "timeout"), "must be positive");
  }
  for (size_t i = 0; i < e.mounts.size(); ++i) {
    const Mount& m = e.mounts[i];
    std::string p = IndexPath(FieldPath(path, "mounts"), i);
    if (m.host_path.empty()) return PathError(FieldPath(p, "hostPath"), "must not be empty");
    if (m.container_path.empty()) return PathError(FieldPath(p, "containerPath"), "must not be empty");
  }
  return absl::OkStatus();
}

int VersionIndex(std::string_view v) {
  if (v.starts_with("v")) v.remove_prefix(1);
  for (size_t i = 0; i < std::size(kSpecVersions); ++i) {
    if (kSpecVersions[i] == v) return static_cast<int>(i);
  }
  return -1;
}

// The features each spec version added, newest first (SPEC.md "Released versions").
bool Needs110(const ContainerEdits& e) {
  return !e.net_devices.empty() || (e.intel_rdt && (e.intel_rdt->schemata || e.intel_rdt->enable_monitoring));
}
bool Needs070(const ContainerEdits& e) { return e.intel_rdt.has_value() || !e.additional_gids.empty(); }
bool Needs050(const ContainerEdits& e) {
  return std::any_of(e.device_nodes.begin(), e.device_nodes.end(),
                     [](const DeviceNode& d) { return !d.host_path.empty(); });
}
bool Needs040(const ContainerEdits& e) {
  return std::any_of(e.mounts.begin(), e.mounts.end(), [](const Mount& m) { return !m.type.empty(); });
}

template <class Pred>
bool AnyEdits(const Spec& s, Pred pred) {
  if (pred(s.edits)) return true;
  return std::any_of(s.devices.begin(), s.devices.end(), [&](const Device& d) { return pred(d.edits); });
}

}  // namespace

bool ContainerEdits::empty() const {
  return env.empty() && device_nodes.empty() && net_devices.empty() && hooks.empty() && mounts.empty() &&
         !intel_rdt && additional_gids.empty();
}

std::string_view MinimumVersion(const Spec& s) {
  if (AnyEdits(s, Needs110)) return "1.1.0";
  if (AnyEdits(s, Needs070)) return "0.7.0";
  auto class_part = SplitOnce(s.kind, '/');
  if (!s.annotations.empty() ||
      std::any_of(s.devices.begin(), s.devices.end(),
                  [](const Device& d) { return !d.annotations.empty(); }) ||
      (class_part && class_part->second.find('.') != std::string_view::npos)) {
    return "0.6.0";
  }
  if (AnyEdits(s, Needs050) || std::any_of(s.devices.begin(), s.devices.end(), [](const Device& d) {
        return !d.name.empty() && d.name[0] >= '0' && d.name[0] <= '9';
      })) {
    return "0.5.0";
  }
  if (AnyEdits(s, Needs040)) return "0.4.0";
  return "0.3.0";
}

absl::Status ValidateVendorOrClass(std::string_view what, std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(StrCat(what, " is empty"));
  if (!IsLetter(value.front())) {
    return absl::InvalidArgumentError(StrCat(what, " \"", value, "\" does not start with a letter"));
  }
  if (!IsAlnum(value.back())) {
    return absl::InvalidArgumentError(StrCat(what, " \"", value, "\" does not end with a letter or digit"));
  }
  for (char c : value) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.') {
      return absl::InvalidArgumentError(StrCat(what, " \"", value, "\" contains '", std::string(1, c), "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDeviceName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("device name is empty");
  if (!IsAlnum(name.front()) || !IsAlnum(name.back())) {
    return absl::InvalidArgumentError(
        StrCat("device name \"", name, "\" does not start and end with a letter or digit"));
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.' && c != ':') {
      return absl::InvalidArgumentError(
          StrCat("device name \"", name, "\" contains '", std::string(1, c), "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<QualifiedName> ParseQualifiedName(std::string_view device) {
  auto fail = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat("CDI device \"", device, "\" is not a fully qualified name (vendor.com/class=name): ", why));
  };
  auto eq = SplitOnce(device, '=');
  if (!eq || eq->first.empty() || eq->second.empty()) return fail("no '='");
  auto slash = SplitOnce(eq->first, '/');
  if (!slash || slash->first.empty() || slash->second.empty()) return fail("no vendor/class before '='");
  QualifiedName q{std::string(slash->first), std::string(slash->second), std::string(eq->second)};
  if (absl::Status s = ValidateVendorOrClass("vendor", q.vendor); !s.ok()) return fail(ToStd(s.message()));
  if (absl::Status s = ValidateVendorOrClass("class", q.device_class); !s.ok())
    return fail(ToStd(s.message()));
  if (absl::Status s = ValidateDeviceName(q.name); !s.ok()) return fail(ToStd(s.message()));
  return q;
}

absl::Status ValidateSpec(const Spec& spec) {
  int have = VersionIndex(spec.version);
  if (have < 0) {
    return PathError("cdiVersion", StrCat("\"", spec.version, "\" is not a CDI spec version cricket knows (",
                                          Join(kSpecVersions, ", "), ")"));
  }
  std::string_view need = MinimumVersion(spec);
  if (VersionIndex(need) > have) {
    return PathError("cdiVersion",
                     StrCat("the spec uses features of version ", need, " but says ", spec.version));
  }
  auto kind = SplitOnce(spec.kind, '/');
  if (!kind || kind->second.find('/') != std::string_view::npos) {
    return PathError("kind", StrCat("\"", spec.kind, "\" is not vendor/class"));
  }
  if (absl::Status s = ValidateVendorOrClass("vendor", kind->first); !s.ok()) {
    return PathError("kind", ToStd(s.message()));
  }
  if (absl::Status s = ValidateVendorOrClass("class", kind->second); !s.ok()) {
    return PathError("kind", ToStd(s.message()));
  }
  if (spec.devices.empty()) return PathError("devices", "must list at least one device");
  RETURN_IF_ERROR(ValidateEdits(spec.edits, "containerEdits"));
  std::set<std::string> names;
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    const Device& d = spec.devices[i];
    std::string p = IndexPath("devices", i);
    if (absl::Status s = ValidateDeviceName(d.name); !s.ok()) {
      return PathError(FieldPath(p, "name"), ToStd(s.message()));
    }
    if (!names.insert(d.name).second)
      return PathError(FieldPath(p, "name"), StrCat("\"", d.name, "\" is listed twice"));
    if (d.edits.empty()) return PathError(FieldPath(p, "containerEdits"), "must not be empty");
    RETURN_IF_ERROR(ValidateEdits(d.edits, FieldPath(p, "containerEdits")));
  }
  return absl::OkStatus();
}

absl::StatusOr<Spec> ParseSpec(std::string_view text, std::string_view path) {
  auto parsed = path.ends_with(".yaml") ? ParseYaml(text) : ParseJson(text);
  if (!parsed.ok()) return Annotate(parsed.status(), path);
  auto spec = ReadSpec(*parsed);
  if (!spec.ok()) return Annotate(spec.status(), path);
  if (absl::Status s = ValidateSpec(*spec); !s.ok()) return Annotate(s, path);
  return spec;
}

}  // namespace cricket::cdi
