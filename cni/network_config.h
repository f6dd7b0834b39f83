// CNI network configuration files: finding the network a pod joins (the first usable file in lexical
// order in network_dir, or the one named by cni_default_network) and checking it is usable.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::cni {

// A network configuration list (a .conflist, or a single-plugin .conf/.json lifted into a list).
struct NetworkConfigList {
  std::string file;         // where it was read from
  std::string name;         // "name"
  std::string cni_version;  // "cniVersion"
  bool disable_check = false;
  std::vector<nlohmann::json> plugins;  // each plugin's config object, as written
  nlohmann::json raw;                   // the whole document
};

// Parses one configuration file's content; `file` names it in errors, and its extension decides
// between a list (.conflist) and a single plugin (.conf, .json, unless it has "plugins").
absl::StatusOr<NetworkConfigList> ParseNetworkConfig(const std::string& file, const std::string& content);

// Reads network_dir (.conflist, .conf, .json in lexical order) and returns the first valid list, or the
// one whose name is `default_name` when that is not empty. FailedPrecondition saying why when none is
// usable (no files, or every file invalid: each problem listed).
absl::StatusOr<NetworkConfigList> LoadDefaultNetwork(const std::string& network_dir,
                                                     const std::string& default_name);

}  // namespace cricket::cni
