// CNI network configuration files: finding the network a pod joins (the first usable file in lexical
// order in network_dir, or the one named by cni_default_network), checking it is usable, and finding
// its plugins. Spec: https://github.com/containernetworking/cni/blob/main/SPEC.md section 1.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::cni {

// A network configuration list (a .conflist, or a single-plugin .conf/.json lifted into a list).
struct NetworkConfigList {
  std::string file;  // where it was read from
  std::string name;  // "name"
  // The version the runtime speaks to the plugins: the highest of "cniVersions" that cricket supports
  // (spec 1.1), else "cniVersion" (empty when absent, which plugins read as 0.1.0).
  std::string cni_version;
  bool disable_check = false;           // "disableCheck": CHECK is skipped
  bool disable_gc = false;              // "disableGC": the GC command is not sent
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

// Spec section 1/2 identifier syntax (network names, container ids): an alphanumeric character, then
// alphanumerics, '_', '.' or '-'.
bool IsCniIdentifier(std::string_view s);

// Whether `name` is a configuration file name runtimes read (.conflist, .conf, .json).
bool IsNetworkConfigFileName(std::string_view name);

// A cheap summary of network_dir (its mtime and each configuration file's name, inode, size and mtime)
// that changes whenever a file is added, removed, replaced or rewritten. A missing directory gives a
// distinct value rather than an error.
std::string NetworkDirFingerprint(const std::string& network_dir);

// The newest CNI spec version cricket speaks.
inline constexpr char kMaxCniVersion[] = "1.1.0";

// Orders CNI versions ("0.3.1" < "0.4.0" < "1.0.0"); "" counts as 0.1.0. Unparsable parts count as 0.
int CompareCniVersions(std::string_view a, std::string_view b);

// The executable of plugin `type` in the first of `plugin_dirs` that has it. InvalidArgument when the
// type is not a bare file name; NotFound naming the directories searched.
absl::StatusOr<std::string> FindPlugin(const std::string& type, const std::vector<std::string>& plugin_dirs);

}  // namespace cricket::cni
