#include "cni/network_config.h"

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

absl::Status CheckPlugin(const std::string& file, const nlohmann::json& p, size_t index) {
  if (!p.is_object()) return Invalid(file, StrCat("plugins[", index, "] is not an object"));
  auto type = p.find("type");
  if (type == p.end() || !type->is_string() || type->get<std::string>().empty()) {
    return Invalid(file, StrCat("plugins[", index, "] has no \"type\""));
  }
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
  if (auto it = doc.find("disableCheck"); it != doc.end() && it->is_boolean()) list.disable_check = *it;
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
    if (!absl::EndsWith(name, ".conflist") && !absl::EndsWith(name, ".conf") &&
        !absl::EndsWith(name, ".json")) {
      continue;
    }
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

}  // namespace cricket::cni
