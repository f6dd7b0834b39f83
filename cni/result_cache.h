// The persistent record of each network attachment, so that DEL, CHECK and GC can run with what ADD
// used even after a daemon restart or a change of the configuration files.
//
// One file per attachment, <dir>/<network>-<container id>-<ifname>, written atomically (mode 0600),
// in libcni's cache layout (libcni/api.go "cniCacheV1"): {"kind", "containerId", "config" (base64 of
// the conflist bytes), "ifName", "networkName", "netns", "cniArgs" ([[k, v], ...]), "capabilityArgs",
// "result"}. cricket writes the entry before the first plugin runs and adds "result" when the whole
// list succeeded, so an entry without a result is an attachment whose ADD was interrupted or failed:
// it still needs a DEL. Entries are matched by their content, not by the file name (names and ids may
// contain '-'; like libcni's, the layout would only collide for a network "a-b" with container "c" and
// a network "a" with container "b-c" on the same node).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::cni {

struct CacheEntry {
  std::string network_name;
  std::string container_id;
  std::string ifname;
  std::string netns;
  std::string config;  // the network configuration list, as JSON text
  std::vector<std::pair<std::string, std::string>> cni_args;
  nlohmann::json capability_args = nlohmann::json::object();
  nlohmann::json result;  // null until ADD completed
};

class ResultCache {
 public:
  explicit ResultCache(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string PathFor(const std::string& network_name, const std::string& container_id,
                      const std::string& ifname) const;

  // Creates or replaces the entry (the directory is created 0700 when missing).
  absl::Status Write(const CacheEntry& entry) const;
  // The entries of one container and interface, whatever network they were made for.
  absl::StatusOr<std::vector<CacheEntry>> Find(const std::string& container_id,
                                               const std::string& ifname) const;
  // Every entry. Unreadable or malformed files are skipped and listed in `problems` when given.
  absl::StatusOr<std::vector<CacheEntry>> List(std::vector<std::string>* problems = nullptr) const;
  // Removes the entry; a missing one is success.
  absl::Status Remove(const CacheEntry& entry) const;

  // Serialisation, exposed for tests.
  static nlohmann::json ToJson(const CacheEntry& entry);
  static absl::StatusOr<CacheEntry> FromJson(const nlohmann::json& doc, const std::string& what);

 private:
  absl::StatusOr<CacheEntry> ReadEntry(const std::string& path) const;
  std::string dir_;
};

}  // namespace cricket::cni
