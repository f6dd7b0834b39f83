#include "cni/result_cache.h"

#include <unistd.h>

#include <cerrno>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

constexpr char kKind[] = "cniCacheV1";
constexpr size_t kMaxEntrySize = 8 << 20;

std::string Str(const Json& doc, const char* key) {
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string ResultCache::PathFor(const std::string& network_name, const std::string& container_id,
                                 const std::string& ifname) const {
  return JoinPath(dir_, StrCat(network_name, "-", container_id, "-", ifname));
}

Json ResultCache::ToJson(const CacheEntry& e) {
  Json args = Json::array();
  for (const auto& [k, v] : e.cni_args) args.push_back(Json::array({k, v}));
  Json doc = {
      {"kind", kKind},      {"containerId", e.container_id},      {"config", absl::Base64Escape(e.config)},
      {"ifName", e.ifname}, {"networkName", e.network_name},      {"netns", e.netns},
      {"cniArgs", args},    {"capabilityArgs", e.capability_args}};
  if (!e.result.is_null()) doc["result"] = e.result;
  return doc;
}

absl::StatusOr<CacheEntry> ResultCache::FromJson(const Json& doc, const std::string& what) {
  if (!doc.is_object() || Str(doc, "kind") != kKind) {
    return absl::InvalidArgumentError(StrCat(what, ": not a ", kKind, " CNI cache entry"));
  }
  CacheEntry e;
  e.container_id = Str(doc, "containerId");
  e.ifname = Str(doc, "ifName");
  e.network_name = Str(doc, "networkName");
  e.netns = Str(doc, "netns");
  if (e.container_id.empty() || e.ifname.empty() || e.network_name.empty()) {
    return absl::InvalidArgumentError(StrCat(what, ": containerId, ifName or networkName missing"));
  }
  std::string config_b64 = Str(doc, "config");
  if (!absl::Base64Unescape(config_b64, &e.config)) {
    return absl::InvalidArgumentError(StrCat(what, ": \"config\" is not base64"));
  }
  if (auto it = doc.find("cniArgs"); it != doc.end() && it->is_array()) {
    for (const Json& kv : *it) {
      if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string()) {
        return absl::InvalidArgumentError(StrCat(what, ": \"cniArgs\" must hold [key, value] string pairs"));
      }
      e.cni_args.emplace_back(kv[0].get<std::string>(), kv[1].get<std::string>());
    }
  }
  if (auto it = doc.find("capabilityArgs"); it != doc.end() && it->is_object()) e.capability_args = *it;
  if (auto it = doc.find("result"); it != doc.end()) e.result = *it;
  return e;
}

absl::Status ResultCache::Write(const CacheEntry& entry) const {
  RETURN_IF_ERROR(MkdirAll(dir_, 0700));
  return WriteFileAtomic(PathFor(entry.network_name, entry.container_id, entry.ifname), ToJson(entry).dump(),
                         0600);
}

absl::StatusOr<CacheEntry> ResultCache::ReadEntry(const std::string& path) const {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxEntrySize));
  ASSIGN_OR_RETURN(Json doc, ParseJson(text, path));
  return FromJson(doc, path);
}

absl::StatusOr<std::vector<CacheEntry>> ResultCache::Find(const std::string& container_id,
                                                          const std::string& ifname) const {
  std::vector<CacheEntry> out;
  if (!PathExists(dir_)) return out;
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir_));
  std::string suffix = StrCat("-", container_id, "-", ifname);
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, suffix) || name.size() == suffix.size()) continue;
    auto entry = ReadEntry(JoinPath(dir_, name));
    if (!entry.ok()) {
      if (absl::IsNotFound(entry.status())) continue;  // removed meanwhile
      return entry.status();
    }
    // Names are only a hint ("a-b" + "-c-eth0" vs "a" + "-b-c-eth0"): the content decides.
    if (entry->container_id == container_id && entry->ifname == ifname) out.push_back(std::move(*entry));
  }
  return out;
}

absl::StatusOr<std::vector<CacheEntry>> ResultCache::List(std::vector<std::string>* problems) const {
  std::vector<CacheEntry> out;
  if (!PathExists(dir_)) return out;
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir_));
  for (const std::string& name : names) {
    if (name.empty() || name[0] == '.') continue;  // atomic-write temporaries
    auto entry = ReadEntry(JoinPath(dir_, name));
    if (!entry.ok()) {
      if (problems != nullptr && !absl::IsNotFound(entry.status())) {
        problems->emplace_back(entry.status().message());
      }
      continue;
    }
    out.push_back(std::move(*entry));
  }
  return out;
}

absl::Status ResultCache::Remove(const CacheEntry& entry) const {
  std::string path = PathFor(entry.network_name, entry.container_id, entry.ifname);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove CNI cache entry", path);
  return absl::OkStatus();
}

}  // namespace cricket::cni
