#include "cni/manager.h"

#include <sys/vfs.h>

#include <cstdlib>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/sys/namespace_pin.h"

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

constexpr char kComponent[] = "cni";
constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr long kNsfsMagic = 0x6e736673;

// The netns path to hand to DEL: empty when the pinned namespace is already gone (spec: CNI_NETNS is
// optional for DEL; plugins then skip what is inside the namespace).
std::string LiveNetns(const std::string& path) {
  struct statfs st;
  if (path.empty() || statfs(path.c_str(), &st) != 0 || st.f_type != kNsfsMagic) return "";
  return path;
}

absl::Status Collect(const absl::Status& first, const absl::Status& next) {
  if (first.ok()) return next;
  if (next.ok()) return first;
  return absl::Status(first.code(), StrCat(first.message(), "; ", next.message()));
}

absl::Status ValidatePod(const PodNetwork& pod) {
  RETURN_IF_ERROR(ValidateContainerId(pod.sandbox_id));
  RETURN_IF_ERROR(ValidateIfName(pod.ifname));
  return absl::OkStatus();
}

int64_t MillisSince(int64_t start) { return (MonotonicNow() - start) / 1000000; }

}  // namespace

// Holds the per-sandbox mutex; entries are dropped when their last user leaves.
class Manager::SandboxLock {
 public:
  SandboxLock(Manager* m, const std::string& id) : m_(m), id_(id) {
    {
      absl::MutexLock l(&m_->locks_mu_);
      auto& slot = m_->locks_[id_];
      if (!slot) slot = std::make_unique<LockEntry>();
      slot->users++;
      entry_ = slot.get();
    }
    entry_->mu.Lock();
  }
  ~SandboxLock() {
    entry_->mu.Unlock();
    absl::MutexLock l(&m_->locks_mu_);
    if (--entry_->users == 0) m_->locks_.erase(id_);
  }

 private:
  Manager* m_;
  std::string id_;
  LockEntry* entry_;
};

Manager::Manager(ManagerOptions opts)
    : opts_(std::move(opts)),
      cache_(opts_.cache_dir),
      current_(absl::FailedPreconditionError("CNI configuration not loaded yet")) {
  path_env_ = opts_.path_env;
  if (path_env_.empty()) {
    const char* p = getenv("PATH");
    path_env_ = p != nullptr && *p != '\0' ? p : kDefaultPath;
  }
}

absl::StatusOr<std::shared_ptr<const NetworkConfigList>> Manager::Reload() {
  std::string fp = NetworkDirFingerprint(opts_.network_dir);
  absl::MutexLock l(&config_mu_);
  if (fp != fingerprint_) {
    auto loaded = LoadDefaultNetwork(opts_.network_dir, opts_.default_network);
    if (loaded.ok()) {
      log::Info(kComponent, "network configuration loaded",
                {{"network", loaded->name}, {"file", loaded->file}, {"cniVersion", loaded->cni_version}});
      current_ = std::make_shared<const NetworkConfigList>(std::move(*loaded));
    } else {
      log::Warn(kComponent, "no usable network configuration", {{"error", loaded.status()}});
      current_ = loaded.status();
    }
    fingerprint_ = fp;
  }
  return current_;
}

absl::StatusOr<std::shared_ptr<const NetworkConfigList>> Manager::CurrentNetwork() { return Reload(); }

absl::Status Manager::Status() {
  ASSIGN_OR_RETURN(auto list, Reload());
  for (const Json& p : list->plugins) {
    auto found = FindPlugin(p["type"].get<std::string>(), opts_.plugin_dirs);
    if (!found.ok()) {
      return absl::FailedPreconditionError(
          StrCat("network ", list->name, " (", list->file, "): ", found.status().message()));
    }
  }
  return absl::OkStatus();
}

RuntimeArgs Manager::ArgsFor(const PodNetwork& pod, const std::string& netns) const {
  RuntimeArgs args;
  args.container_id = pod.sandbox_id;
  args.netns = netns;
  args.ifname = pod.ifname;
  // What containerd and CRI-O send (K8S_POD_INFRA_CONTAINER_ID is the sandbox id).
  args.cni_args = {{"IgnoreUnknown", "1"},
                   {"K8S_POD_NAMESPACE", pod.pod_namespace},
                   {"K8S_POD_NAME", pod.pod_name},
                   {"K8S_POD_INFRA_CONTAINER_ID", pod.sandbox_id},
                   {"K8S_POD_UID", pod.pod_uid}};
  args.capability_args =
      MakeCapabilityArgs(pod.port_mappings, pod.bandwidth, pod.cgroup_parent, pod.ip_ranges);
  return args;
}

absl::StatusOr<Json> Manager::Invoke(const NetworkConfigList& list, size_t index, const std::string& command,
                                     const RuntimeArgs& args, const Json* prev_result) {
  PluginCall call;
  call.type = list.plugins[index]["type"].get<std::string>();
  call.command = command;
  ASSIGN_OR_RETURN(call.path, FindPlugin(call.type, opts_.plugin_dirs));
  ASSIGN_OR_RETURN(call.env, BuildEnv(command, args, opts_.plugin_dirs, path_env_));
  call.config = BuildPluginConfig(list, index, args.capability_args, prev_result);
  int64_t start = MonotonicNow();
  auto out = ExecPlugin(call, opts_.plugin_timeout);
  log::Debug(kComponent, "plugin",
             {{"type", call.type},
              {"command", command},
              {"container", args.container_id},
              {"ms", MillisSince(start)},
              {"ok", out.ok()}});
  return out;
}

absl::StatusOr<std::vector<Json>> Manager::AddList(const NetworkConfigList& list, const RuntimeArgs& args) {
  std::vector<Json> results;
  Json prev;
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    ASSIGN_OR_RETURN(Json out, Invoke(list, i, "ADD", args, prev.is_null() ? nullptr : &prev));
    if (!out.is_object()) {
      return absl::InternalError(
          StrCat("CNI plugin ", list.plugins[i]["type"].get<std::string>(), " ADD printed no result object"));
    }
    prev = out;
    results.push_back(out);
  }
  return results;
}

absl::Status Manager::DelList(const NetworkConfigList& list, const RuntimeArgs& args, const Json& result) {
  // Every plugin gets its DEL even when an earlier one failed: each releases its own resources.
  absl::Status status;
  for (size_t i = list.plugins.size(); i-- > 0;) {
    status = Collect(status, Invoke(list, i, "DEL", args, result.is_null() ? nullptr : &result).status());
  }
  return status;
}

absl::Status Manager::DelEntry(const CacheEntry& entry) {
  ASSIGN_OR_RETURN(NetworkConfigList list,
                   ParseNetworkConfig(cache_.PathFor(entry.network_name, entry.container_id, entry.ifname) +
                                          " (cached configuration).conflist",
                                      entry.config));
  RuntimeArgs args;
  args.container_id = entry.container_id;
  args.netns = LiveNetns(entry.netns);
  args.ifname = entry.ifname;
  args.cni_args = entry.cni_args;
  args.capability_args = entry.capability_args;
  RETURN_IF_ERROR(DelList(list, args, entry.result));
  return cache_.Remove(entry);
}

absl::StatusOr<Attachment> Manager::Setup(const PodNetwork& pod) {
  RETURN_IF_ERROR(ValidatePod(pod));
  if (pod.netns_path.empty())
    return absl::InvalidArgumentError("CNI setup needs the pod's network namespace path");
  ASSIGN_OR_RETURN(auto list, Reload());
  absl::ReaderMutexLock gc(&gc_mu_);
  SandboxLock lock(this, pod.sandbox_id);
  int64_t start = MonotonicNow();
  ASSIGN_OR_RETURN(std::vector<CacheEntry> existing, cache_.Find(pod.sandbox_id, pod.ifname));
  for (const CacheEntry& e : existing) {
    if (!e.result.is_null()) {
      return absl::AlreadyExistsError(
          StrCat("sandbox ", pod.sandbox_id, " is already attached to network ", e.network_name));
    }
    // An ADD that was interrupted (daemon crash): release what it may hold before trying again.
    RETURN_IF_ERROR(Annotate(DelEntry(e), "clean up an interrupted CNI ADD"));
  }
  if (opts_.bring_up_loopback) RETURN_IF_ERROR(sys::BringUpLoopback(pod.netns_path));

  RuntimeArgs args = ArgsFor(pod, pod.netns_path);
  RETURN_IF_ERROR(FormatCniArgs(args.cni_args).status());
  CacheEntry entry{list->name,       pod.sandbox_id, pod.ifname,           pod.netns_path,
                   list->raw.dump(), args.cni_args,  args.capability_args, Json()};
  RETURN_IF_ERROR(cache_.Write(entry));
  absl::StatusOr<Result> parsed = absl::UnknownError("");
  auto results = AddList(*list, args);
  if (results.ok()) parsed = ParseResult(results->back());
  if (parsed.ok()) {
    entry.result = results->back();
    absl::Status recorded = cache_.Write(entry);
    if (!recorded.ok()) parsed = Annotate(recorded, "record the CNI result");
  }
  if (!results.ok() || !parsed.ok()) {
    absl::Status add_error = results.ok() ? parsed.status() : results.status();
    // The ADD failed part-way: DEL the whole list so nothing stays attached. The cache entry (without a
    // result) is kept only if DEL failed too, for a later Teardown or GC.
    absl::Status del = DelList(*list, args, results.ok() ? results->back() : Json());
    if (del.ok()) del = cache_.Remove(entry);
    log::Warn(kComponent, "ADD failed",
              {{"sandbox", pod.sandbox_id}, {"error", add_error}, {"cleanup", del}});
    if (!del.ok()) return Annotate(add_error, StrCat("(cleanup DEL failed too: ", del.message(), ")"));
    return add_error;
  }
  Attachment att{list->name, std::move(*parsed), {}};
  att.ips = PodIps(att.result, pod.ifname);
  log::Info(kComponent, "pod attached",
            {{"sandbox", pod.sandbox_id},
             {"network", list->name},
             {"ips", Join(att.ips, ",")},
             {"ms", MillisSince(start)}});
  return att;
}

absl::Status Manager::Teardown(const PodNetwork& pod) {
  RETURN_IF_ERROR(ValidatePod(pod));
  absl::ReaderMutexLock gc(&gc_mu_);
  SandboxLock lock(this, pod.sandbox_id);
  int64_t start = MonotonicNow();
  ASSIGN_OR_RETURN(std::vector<CacheEntry> entries, cache_.Find(pod.sandbox_id, pod.ifname));
  absl::Status status;
  if (entries.empty()) {
    // Nothing recorded (an ADD from before the cache existed, or a lost cache): DEL with what we have.
    auto list = Reload();
    if (!list.ok()) {
      log::Warn(kComponent, "no cached attachment and no configuration: nothing to DEL",
                {{"sandbox", pod.sandbox_id}, {"error", list.status()}});
      return absl::OkStatus();
    }
    status = DelList(**list, ArgsFor(pod, LiveNetns(pod.netns_path)), Json());
  }
  for (const CacheEntry& e : entries) status = Collect(status, DelEntry(e));
  log::Info(kComponent, "pod detached",
            {{"sandbox", pod.sandbox_id}, {"ok", status.ok()}, {"ms", MillisSince(start)}});
  return status;
}

absl::Status Manager::Check(const PodNetwork& pod) {
  RETURN_IF_ERROR(ValidatePod(pod));
  absl::ReaderMutexLock gc(&gc_mu_);
  SandboxLock lock(this, pod.sandbox_id);
  ASSIGN_OR_RETURN(std::vector<CacheEntry> entries, cache_.Find(pod.sandbox_id, pod.ifname));
  bool checked_any = false;
  for (const CacheEntry& e : entries) {
    if (e.result.is_null()) continue;
    checked_any = true;
    ASSIGN_OR_RETURN(NetworkConfigList list, ParseNetworkConfig(e.network_name + ".conflist", e.config));
    // Spec: CHECK exists from 0.4.0 on, and disableCheck turns it off.
    if (list.disable_check || CompareCniVersions(list.cni_version, "0.4.0") < 0) continue;
    RuntimeArgs args;
    args.container_id = e.container_id;
    args.netns = e.netns;
    args.ifname = e.ifname;
    args.cni_args = e.cni_args;
    args.capability_args = e.capability_args;
    for (size_t i = 0; i < list.plugins.size(); ++i) {
      RETURN_IF_ERROR(Invoke(list, i, "CHECK", args, &e.result).status());
    }
  }
  if (!checked_any) return absl::NotFoundError(StrCat("sandbox ", pod.sandbox_id, " has no CNI attachment"));
  return absl::OkStatus();
}

absl::StatusOr<Attachment> Manager::CachedAttachment(const std::string& sandbox_id,
                                                     const std::string& ifname) {
  RETURN_IF_ERROR(ValidateContainerId(sandbox_id));
  RETURN_IF_ERROR(ValidateIfName(ifname));
  ASSIGN_OR_RETURN(std::vector<CacheEntry> entries, cache_.Find(sandbox_id, ifname));
  for (const CacheEntry& e : entries) {
    if (e.result.is_null()) continue;
    ASSIGN_OR_RETURN(Result r, ParseResult(e.result));
    Attachment att{e.network_name, std::move(r), {}};
    att.ips = PodIps(att.result, ifname);
    return att;
  }
  return absl::NotFoundError(StrCat("sandbox ", sandbox_id, " has no CNI attachment"));
}

absl::Status Manager::GarbageCollect(const absl::flat_hash_set<std::string>& live_sandbox_ids) {
  absl::WriterMutexLock gc(&gc_mu_);
  std::vector<std::string> problems;
  ASSIGN_OR_RETURN(std::vector<CacheEntry> entries, cache_.List(&problems));
  absl::Status status;
  for (const std::string& p : problems) log::Warn(kComponent, "unreadable CNI cache entry", {{"error", p}});
  std::vector<std::pair<std::string, std::string>> valid;
  int removed = 0;
  for (const CacheEntry& e : entries) {
    if (live_sandbox_ids.contains(e.container_id)) {
      valid.emplace_back(e.container_id, e.ifname);
      continue;
    }
    absl::Status del = DelEntry(e);
    if (del.ok()) removed++;
    status = Collect(status, Annotate(del, StrCat("GC of sandbox ", e.container_id)));
  }
  auto list = Reload();
  int gc_calls = 0;
  if (list.ok() && !(*list)->disable_gc && CompareCniVersions((*list)->cni_version, "1.1.0") >= 0) {
    std::vector<std::pair<std::string, std::string>> mine;
    for (const CacheEntry& e : entries) {
      if (e.network_name == (*list)->name && live_sandbox_ids.contains(e.container_id)) {
        mine.emplace_back(e.container_id, e.ifname);
      }
    }
    for (size_t i = 0; i < (*list)->plugins.size(); ++i) {
      PluginCall call;
      call.type = (*list)->plugins[i]["type"].get<std::string>();
      call.command = "GC";
      auto path = FindPlugin(call.type, opts_.plugin_dirs);
      if (!path.ok()) {
        status = Collect(status, path.status());
        continue;
      }
      call.path = *path;
      ASSIGN_OR_RETURN(call.env, BuildEnv("GC", RuntimeArgs(), opts_.plugin_dirs, path_env_));
      call.config = BuildGcConfig(**list, i, mine);
      status = Collect(status, ExecPlugin(call, opts_.plugin_timeout).status());
      gc_calls++;
    }
  }
  log::Info(kComponent, "garbage collection",
            {{"stale_removed", removed},
             {"live", static_cast<int64_t>(valid.size())},
             {"gc_calls", gc_calls},
             {"ok", status.ok()}});
  return status;
}

absl::StatusOr<std::vector<std::string>> Manager::PluginVersions(const std::string& type) {
  PluginCall call;
  call.type = type;
  call.command = "VERSION";
  ASSIGN_OR_RETURN(call.path, FindPlugin(type, opts_.plugin_dirs));
  ASSIGN_OR_RETURN(call.env, BuildEnv("VERSION", RuntimeArgs(), opts_.plugin_dirs, path_env_));
  call.config = {{"cniVersion", kMaxCniVersion}};
  ASSIGN_OR_RETURN(Json out, ExecPlugin(call, opts_.plugin_timeout));
  std::vector<std::string> versions;
  auto it = out.is_object() ? out.find("supportedVersions") : out.end();
  if (!out.is_object() || it == out.end() || !it->is_array()) {
    return absl::InternalError(StrCat("CNI plugin ", type, " VERSION printed no supportedVersions"));
  }
  for (const Json& v : *it) {
    if (v.is_string()) versions.push_back(v.get<std::string>());
  }
  return versions;
}

}  // namespace cricket::cni
