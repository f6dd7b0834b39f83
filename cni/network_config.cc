#include "cni/network_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::cni {
namespace {

absl::Status Invalid(const std::string& file, std::string_view why) {
  return absl::InvalidArgumentError(StrCat(file, ": ", why));
}

bool IsBareName(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\0') == std::string::npos;
}

absl::Status CheckPlugin(const std::string& file, const nlohmann::json& p, size_t index) {
  if (!p.is_object()) return Invalid(file, StrCat("plugins[", index, "] is not an object"));
  auto type = p.find("type");
  if (type == p.end() || !type->is_string() || type->get<std::string>().empty()) {
    return Invalid(file, StrCat("plugins[", index, "] has no \"type\""));
  }
  if (!IsBareName(type->get<std::string>())) {
    return Invalid(file,
                   StrCat("plugins[", index, "].type \"", type->get<std::string>(), "\" is not a file name"));
  }
  return absl::OkStatus();
}

// Spec 1.1: "cniVersions" lists the versions the file is valid for; the runtime uses the highest it
// supports.
absl::Status PickVersion(const std::string& file, const nlohmann::json& doc, std::string* version) {
  auto it = doc.find("cniVersions");
  if (it == doc.end()) return absl::OkStatus();
  if (!it->is_array()) return Invalid(file, "\"cniVersions\" must be an array of strings");
  std::string best;
  for (const auto& v : *it) {
    if (!v.is_string()) return Invalid(file, "\"cniVersions\" must be an array of strings");
    std::string s = v.get<std::string>();
    if (CompareCniVersions(s, kMaxCniVersion) <= 0 && (best.empty() || CompareCniVersions(s, best) > 0))
      best = s;
  }
  if (best.empty())
    return Invalid(file, StrCat("no version in \"cniVersions\" is supported (up to ", kMaxCniVersion, ")"));
  *version = best;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<NetworkConfigList> ParseNetworkConfig(const std::string& file, const std::string& content) {
  ASSIGN_OR_RETURN(nlohmann::json doc, ParseJson(content, file));
  if (!doc.is_object()) return Invalid(file, "not a JSON object");
  NetworkConfigList list;
  list.file = file;
  list.raw = doc;
  auto str = [&](const char* key) -> std::string {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : "";
  };
  list.name = str("name");
  list.cni_version = str("cniVersion");
  if (list.name.empty()) return Invalid(file, "missing \"name\"");
  if (!IsCniIdentifier(list.name)) {
    return Invalid(file, StrCat("network name \"", list.name, "\" must be alphanumerics, '_', '.' or '-'"));
  }
  RETURN_IF_ERROR(PickVersion(file, doc, &list.cni_version));
  if (auto it = doc.find("disableCheck"); it != doc.end() && it->is_boolean()) list.disable_check = *it;
  if (auto it = doc.find("disableGC"); it != doc.end() && it->is_boolean()) list.disable_gc = *it;
  bool is_list = absl::EndsWith(file, ".conflist") || doc.contains("plugins");
  if (is_list) {
    auto plugins = doc.find("plugins");
    if (plugins == doc.end() || !plugins->is_array() || plugins->empty()) {
      return Invalid(file, "\"plugins\" must be a non-empty array");
    }
    for (size_t i = 0; i < plugins->size(); ++i) {
      RETURN_IF_ERROR(CheckPlugin(file, (*plugins)[i], i));
      list.plugins.push_back((*plugins)[i]);
    }
  } else {
    RETURN_IF_ERROR(CheckPlugin(file, doc, 0));
    list.plugins.push_back(doc);
  }
  return list;
}

absl::StatusOr<NetworkConfigList> LoadDefaultNetwork(const std::string& network_dir,
                                                     const std::string& default_name) {
  auto names = ListDir(network_dir);
  if (!names.ok()) {
    return absl::FailedPreconditionError(
        StrCat("no CNI configuration: cannot read ", network_dir, ": ", names.status().message()));
  }
  std::vector<std::string> problems;
  for (const std::string& name : *names) {
    if (!IsNetworkConfigFileName(name)) continue;
    std::string path = JoinPath(network_dir, name);
    auto content = ReadFile(path, 1 << 20);
    if (!content.ok()) {
      problems.emplace_back(content.status().message());
      continue;
    }
    auto list = ParseNetworkConfig(path, *content);
    if (!list.ok()) {
      problems.emplace_back(list.status().message());
      continue;
    }
    if (default_name.empty() || list->name == default_name) return list;
  }
  if (!default_name.empty()) {
    problems.push_back(StrCat("no network named \"", default_name, "\""));
  }
  if (problems.empty()) {
    return absl::FailedPreconditionError(StrCat("no CNI configuration file in ", network_dir));
  }
  return absl::FailedPreconditionError(
      StrCat("no usable CNI configuration in ", network_dir, ": ", absl::StrJoin(problems, "; ")));
}

bool IsCniIdentifier(std::string_view s) {
  if (s.empty() || !isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsNetworkConfigFileName(std::string_view name) {
  absl::string_view n = ToAbsl(name);
  return absl::EndsWith(n, ".conflist") || absl::EndsWith(n, ".conf") || absl::EndsWith(n, ".json");
}

std::string NetworkDirFingerprint(const std::string& network_dir) {
  struct stat st;
  if (stat(network_dir.c_str(), &st) != 0) return StrCat("missing:", errno);
  std::string out = StrCat(st.st_dev, ":", st.st_ino, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  auto names = ListDir(network_dir);
  if (!names.ok()) return StrCat(out, "|unreadable");
  for (const std::string& name : *names) {
    if (!IsNetworkConfigFileName(name)) continue;
    std::string path = JoinPath(network_dir, name);
    if (stat(path.c_str(), &st) != 0) {
      StrAppend(&out, "|", name, ":gone");
      continue;
    }
    StrAppend(&out, "|", name, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
              st.st_mtim.tv_nsec);
  }
  return out;
}

int CompareCniVersions(std::string_view a, std::string_view b) {
  auto parts = [](std::string_view v) {
    std::vector<int64_t> out = {0, 1, 0};
    if (v.empty()) return out;
    auto pieces = Split(v, '.');
    for (size_t i = 0; i < 3; ++i) out[i] = i < pieces.size() ? ParseInt64(pieces[i]).value_or(0) : 0;
    return out;
  };
  auto pa = parts(a), pb = parts(b);
  return pa < pb ? -1 : (pa > pb ? 1 : 0);
}

absl::StatusOr<std::string> FindPlugin(const std::string& type, const std::vector<std::string>& plugin_dirs) {
  if (!IsBareName(type))
    return absl::InvalidArgumentError(StrCat("CNI plugin type \"", type, "\" is not a file name"));
  for (const std::string& dir : plugin_dirs) {
    std::string path = JoinPath(dir, type);
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0) return path;
  }
  return absl::NotFoundError(StrCat("CNI plugin \"", type, "\" not found in ",
                                    plugin_dirs.empty() ? "(no plugin_dirs)" : Join(plugin_dirs, ", ")));
}

}  // namespace cricket::cni
