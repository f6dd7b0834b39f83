#include "server/records.h"

#include <stdio.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::server {

namespace {

using nlohmann::json;

std::string EncodeProto(const google::protobuf::Message& m) {
  std::string bytes;
  m.SerializeToString(&bytes);
  return absl::Base64Escape(bytes);
}

absl::Status DecodeProto(const json& j, const char* key, google::protobuf::Message& m,
                         const std::string& what) {
  std::string bytes;
  if (!j.contains(key) || !j[key].is_string() || !absl::Base64Unescape(j[key].get<std::string>(), &bytes) ||
      !m.ParseFromString(bytes)) {
    return absl::DataLossError(StrCat(what, ": field ", key, " is not a valid encoded config"));
  }
  return absl::OkStatus();
}

// Reads j[key] into out when present with the right type; records are written by us, so a wrong type
// means damage and is an error.
template <class T>
absl::Status Get(const json& j, const char* key, T& out, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end()) return absl::OkStatus();
  try {
    out = it->get<T>();
  } catch (const json::exception& e) {
    return absl::DataLossError(StrCat(what, ": field ", key, ": ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view ContainerStateName(ContainerState s) {
  switch (s) {
    case ContainerState::kCreated:
      return "created";
    case ContainerState::kRunning:
      return "running";
    case ContainerState::kExited:
      return "exited";
    case ContainerState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view SandboxStateName(SandboxState s) { return s == SandboxState::kReady ? "ready" : "notready"; }

std::string SandboxToJson(const SandboxRecord& s) {
  json j = {{"id", s.id},
            {"name", s.name},
            {"runtime_handler", s.runtime_handler},
            {"config", EncodeProto(s.config)},
            {"state", std::string(SandboxStateName(s.state))},
            {"created_at", s.created_at},
            {"netns_path", s.netns_path},
            {"ipcns_path", s.ipcns_path},
            {"utsns_path", s.utsns_path},
            {"userns_path", s.userns_path},
            {"run_dir", s.run_dir},
            {"shm_path", s.shm_path},
            {"hostname_path", s.hostname_path},
            {"hosts_path", s.hosts_path},
            {"resolv_conf_path", s.resolv_conf_path},
            {"cgroup_parent", s.cgroup_parent},
            {"ips", s.ips},
            {"network_attached", s.network_attached},
            {"infra_pid", s.infra_pid},
            {"infra_start_time", s.infra_start_time},
            {"monitor_pid", s.monitor_pid},
            {"monitor_start_time", s.monitor_start_time}};
  if (s.pod_overhead) j["pod_overhead"] = EncodeProto(*s.pod_overhead);
  if (s.pod_resources) j["pod_resources"] = EncodeProto(*s.pod_resources);
  return j.dump();
}

absl::StatusOr<SandboxRecord> SandboxFromJson(const std::string& text, const std::string& what) {
  ASSIGN_OR_RETURN(json j, ParseJson(text, what));
  SandboxRecord s;
  std::string state;
  RETURN_IF_ERROR(Get(j, "id", s.id, what));
  RETURN_IF_ERROR(Get(j, "name", s.name, what));
  RETURN_IF_ERROR(Get(j, "runtime_handler", s.runtime_handler, what));
  RETURN_IF_ERROR(DecodeProto(j, "config", s.config, what));
  RETURN_IF_ERROR(Get(j, "state", state, what));
  s.state = state == "ready" ? SandboxState::kReady : SandboxState::kNotReady;
  RETURN_IF_ERROR(Get(j, "created_at", s.created_at, what));
  RETURN_IF_ERROR(Get(j, "netns_path", s.netns_path, what));
  RETURN_IF_ERROR(Get(j, "ipcns_path", s.ipcns_path, what));
  RETURN_IF_ERROR(Get(j, "utsns_path", s.utsns_path, what));
  RETURN_IF_ERROR(Get(j, "userns_path", s.userns_path, what));
  RETURN_IF_ERROR(Get(j, "run_dir", s.run_dir, what));
  RETURN_IF_ERROR(Get(j, "shm_path", s.shm_path, what));
  RETURN_IF_ERROR(Get(j, "hostname_path", s.hostname_path, what));
  RETURN_IF_ERROR(Get(j, "hosts_path", s.hosts_path, what));
  RETURN_IF_ERROR(Get(j, "resolv_conf_path", s.resolv_conf_path, what));
  RETURN_IF_ERROR(Get(j, "cgroup_parent", s.cgroup_parent, what));
  RETURN_IF_ERROR(Get(j, "ips", s.ips, what));
  RETURN_IF_ERROR(Get(j, "network_attached", s.network_attached, what));
  RETURN_IF_ERROR(Get(j, "infra_pid", s.infra_pid, what));
  RETURN_IF_ERROR(Get(j, "infra_start_time", s.infra_start_time, what));
  RETURN_IF_ERROR(Get(j, "monitor_pid", s.monitor_pid, what));
  RETURN_IF_ERROR(Get(j, "monitor_start_time", s.monitor_start_time, what));
  for (auto [key, field] :
       {std::pair{"pod_overhead", &s.pod_overhead}, {"pod_resources", &s.pod_resources}}) {
    if (!j.contains(key)) continue;
    RETURN_IF_ERROR(DecodeProto(j, key, field->emplace(), what));
  }
  if (s.id.empty()) return absl::DataLossError(StrCat(what, ": record without id"));
  return s;
}

std::string ContainerToJson(const ContainerRecord& c) {
  json j = {{"id", c.id},
            {"name", c.name},
            {"sandbox_id", c.sandbox_id},
            {"config", EncodeProto(c.config)},
            {"image_ref", c.image_ref},
            {"image_name", c.image_name},
            {"runtime_handler", c.runtime_handler},
            {"state", std::string(ContainerStateName(c.state))},
            {"created_at", c.created_at},
            {"started_at", c.started_at},
            {"finished_at", c.finished_at},
            {"exit_code", c.exit_code},
            {"reason", c.reason},
            {"message", c.message},
            {"log_path", c.log_path},
            {"bundle", c.bundle},
            {"rootfs", c.rootfs},
            {"stop_signal", c.stop_signal},
            {"pid", c.pid},
            {"start_time", c.start_time},
            {"monitor_pid", c.monitor_pid},
            {"monitor_start_time", c.monitor_start_time},
            {"attach_socket", c.attach_socket},
            {"control_socket", c.control_socket}};
  if (c.user) j["user"] = {{"uid", c.user->uid}, {"gid", c.user->gid}, {"groups", c.user->groups}};
  return j.dump();
}

absl::StatusOr<ContainerRecord> ContainerFromJson(const std::string& text, const std::string& what) {
  ASSIGN_OR_RETURN(json j, ParseJson(text, what));
  ContainerRecord c;
  std::string state;
  RETURN_IF_ERROR(Get(j, "id", c.id, what));
  RETURN_IF_ERROR(Get(j, "name", c.name, what));
  RETURN_IF_ERROR(Get(j, "sandbox_id", c.sandbox_id, what));
  RETURN_IF_ERROR(DecodeProto(j, "config", c.config, what));
  RETURN_IF_ERROR(Get(j, "image_ref", c.image_ref, what));
  RETURN_IF_ERROR(Get(j, "image_name", c.image_name, what));
  RETURN_IF_ERROR(Get(j, "runtime_handler", c.runtime_handler, what));
  RETURN_IF_ERROR(Get(j, "state", state, what));
  c.state = state == "created"   ? ContainerState::kCreated
            : state == "running" ? ContainerState::kRunning
            : state == "exited"  ? ContainerState::kExited
                                 : ContainerState::kUnknown;
  RETURN_IF_ERROR(Get(j, "created_at", c.created_at, what));
  RETURN_IF_ERROR(Get(j, "started_at", c.started_at, what));
  RETURN_IF_ERROR(Get(j, "finished_at", c.finished_at, what));
  RETURN_IF_ERROR(Get(j, "exit_code", c.exit_code, what));
  RETURN_IF_ERROR(Get(j, "reason", c.reason, what));
  RETURN_IF_ERROR(Get(j, "message", c.message, what));
  RETURN_IF_ERROR(Get(j, "log_path", c.log_path, what));
  RETURN_IF_ERROR(Get(j, "bundle", c.bundle, what));
  RETURN_IF_ERROR(Get(j, "rootfs", c.rootfs, what));
  RETURN_IF_ERROR(Get(j, "pid", c.pid, what));
  RETURN_IF_ERROR(Get(j, "stop_signal", c.stop_signal, what));
  RETURN_IF_ERROR(Get(j, "start_time", c.start_time, what));
  RETURN_IF_ERROR(Get(j, "monitor_pid", c.monitor_pid, what));
  RETURN_IF_ERROR(Get(j, "monitor_start_time", c.monitor_start_time, what));
  RETURN_IF_ERROR(Get(j, "attach_socket", c.attach_socket, what));
  RETURN_IF_ERROR(Get(j, "control_socket", c.control_socket, what));
  if (auto it = j.find("user"); it != j.end()) {
    ContainerRecord::User u;
    if (!it->is_object()) return absl::DataLossError(StrCat(what, ": field user is not an object"));
    RETURN_IF_ERROR(Get(*it, "uid", u.uid, what));
    RETURN_IF_ERROR(Get(*it, "gid", u.gid, what));
    RETURN_IF_ERROR(Get(*it, "groups", u.groups, what));
    c.user = std::move(u);
  }
  if (c.id.empty()) return absl::DataLossError(StrCat(what, ": record without id"));
  return c;
}

// ---------------------------------------------------------------------------------------------------

std::string StateStore::SandboxDir(const std::string& id) const { return JoinPath(dir_, "pods/" + id); }
std::string StateStore::ContainerDir(const std::string& id) const {
  return JoinPath(dir_, "containers/" + id);
}

std::string StateStore::SetAside(const std::string& kind, const std::string& id,
                                 const absl::Status& why) const {
  std::string from = JoinPath(dir_, kind + "/" + id);
  std::string to = JoinPath(dir_, StrCat("damaged/", kind, "-", id, "-", RealtimeNow()));
  absl::Status moved = MkdirAll(JoinPath(dir_, "damaged"), 0700);
  if (moved.ok() && ::rename(from.c_str(), to.c_str()) != 0) moved = ErrnoError("rename", from);
  if (!moved.ok()) return StrCat(why.message(), " (could not set it aside: ", moved.message(), ")");
  return StrCat(why.message(), "; the record was moved to ", to);
}

absl::StatusOr<std::vector<std::string>> StateStore::Load() {
  std::vector<std::string> problems;
  for (const char* kind : {"pods", "containers"}) {
    std::string base = JoinPath(dir_, kind);
    RETURN_IF_ERROR(MkdirAll(base, 0700));
    ASSIGN_OR_RETURN(std::vector<std::string> ids, ListDir(base));
    for (const std::string& id : ids) {
      bool pod = std::string_view(kind) == "pods";
      std::string file = JoinPath(base, id + (pod ? "/sandbox.json" : "/container.json"));
      auto text = ReadFile(file);
      // No record at all: a creation killed before its commit, for the start-up recovery to remove.
      if (absl::IsNotFound(text.status())) continue;
      if (!text.ok()) {
        problems.push_back(SetAside(kind, id, text.status()));
        continue;
      }
      if (pod) {
        auto rec = SandboxFromJson(*text, file);
        if (!rec.ok()) {
          problems.push_back(SetAside(kind, id, rec.status()));
          continue;
        }
        auto s = std::make_shared<Sandbox>();
        std::string name = rec->name;
        {
          absl::MutexLock l(&s->mu);
          s->record = *std::move(rec);
          s->committed = true;
        }
        if (absl::Status st = AddSandbox(s, id, name); !st.ok()) {
          problems.push_back(std::string(st.message()));
        } else if (observer_ != nullptr) {
          absl::MutexLock l(&s->mu);
          observer_->Loaded(s->record);
        }
      } else {
        auto rec = ContainerFromJson(*text, file);
        if (!rec.ok()) {
          problems.push_back(SetAside(kind, id, rec.status()));
          continue;
        }
        auto c = std::make_shared<Container>();
        std::string name = rec->name;
        std::string sandbox_id = rec->sandbox_id;
        {
          absl::MutexLock l(&c->mu);
          c->record = *std::move(rec);
          c->committed = true;
        }
        if (absl::Status st = AddContainer(c, id, name, sandbox_id); !st.ok()) {
          problems.push_back(std::string(st.message()));
        } else if (observer_ != nullptr) {
          absl::MutexLock l(&c->mu);
          observer_->Loaded(c->record);
        }
      }
    }
  }
  return problems;
}

// The observer hears of what is on disk: a record whose write failed is told with its next save (a
// failed create is never published at all).
absl::Status StateStore::Save(const SandboxRecord& s) const {
  std::string dir = SandboxDir(s.id);
  RETURN_IF_ERROR(MkdirAll(dir, 0700));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/sandbox.json", SandboxToJson(s), 0600));
  if (observer_ != nullptr) observer_->Saved(s);
  return absl::OkStatus();
}

absl::Status StateStore::Save(const ContainerRecord& c) const {
  std::string dir = ContainerDir(c.id);
  RETURN_IF_ERROR(MkdirAll(dir, 0700));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/container.json", ContainerToJson(c), 0600));
  if (observer_ != nullptr) observer_->Saved(c);
  return absl::OkStatus();
}

absl::Status StateStore::Delete(const SandboxRecord& s) const {
  RETURN_IF_ERROR(RemoveAll(SandboxDir(s.id)));
  if (observer_ != nullptr) observer_->Deleted(s);
  return absl::OkStatus();
}

absl::Status StateStore::Delete(const ContainerRecord& c) const {
  RETURN_IF_ERROR(RemoveAll(ContainerDir(c.id)));
  if (observer_ != nullptr) observer_->Deleted(c);
  return absl::OkStatus();
}

absl::Status StateStore::AddSandbox(std::shared_ptr<Sandbox> s, const std::string& id,
                                    const std::string& name) {
  absl::MutexLock l(&mu_);
  if (auto it = sandbox_names_.find(name); it != sandbox_names_.end()) {
    return absl::AlreadyExistsError(StrCat("pod sandbox name \"", name, "\" is reserved by ", it->second));
  }
  if (sandboxes_.contains(id)) return absl::AlreadyExistsError(StrCat("pod sandbox ", id, " exists"));
  sandbox_names_[name] = id;
  sandboxes_[id] = std::move(s);
  return absl::OkStatus();
}

absl::Status StateStore::AddContainer(std::shared_ptr<Container> c, const std::string& id,
                                      const std::string& name, const std::string& sandbox_id) {
  absl::MutexLock l(&mu_);
  if (auto it = container_names_.find(name); it != container_names_.end()) {
    return absl::AlreadyExistsError(StrCat("container name \"", name, "\" is reserved by ", it->second));
  }
  if (containers_.contains(id)) return absl::AlreadyExistsError(StrCat("container ", id, " exists"));
  container_names_[name] = id;
  containers_[id] = std::move(c);
  container_sandbox_[id] = sandbox_id;
  return absl::OkStatus();
}

void StateStore::RemoveSandbox(const std::string& id) {
  absl::MutexLock l(&mu_);
  sandboxes_.erase(id);
  for (auto it = sandbox_names_.begin(); it != sandbox_names_.end();) {
    it = it->second == id ? sandbox_names_.erase(it) : std::next(it);
  }
}

void StateStore::RemoveContainer(const std::string& id) {
  absl::MutexLock l(&mu_);
  containers_.erase(id);
  container_sandbox_.erase(id);
  for (auto it = container_names_.begin(); it != container_names_.end();) {
    it = it->second == id ? container_names_.erase(it) : std::next(it);
  }
}

std::shared_ptr<Sandbox> StateStore::GetSandbox(const std::string& id) const {
  absl::MutexLock l(&mu_);
  auto it = sandboxes_.find(id);
  return it == sandboxes_.end() ? nullptr : it->second;
}

std::shared_ptr<Container> StateStore::GetContainer(const std::string& id) const {
  absl::MutexLock l(&mu_);
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second;
}

namespace {
template <class Map>
absl::StatusOr<typename Map::mapped_type> FindByPrefix(const Map& map, const std::string& key,
                                                       std::string_view what) {
  if (key.empty()) return absl::InvalidArgumentError(StrCat(what, " id is empty"));
  if (auto it = map.find(key); it != map.end()) return it->second;
  auto it = map.lower_bound(key);
  if (it == map.end() || !it->first.starts_with(key)) {
    return absl::NotFoundError(StrCat(what, " \"", key, "\" not found"));
  }
  auto next = std::next(it);
  if (next != map.end() && next->first.starts_with(key)) {
    return absl::InvalidArgumentError(StrCat(what, " id prefix \"", key, "\" is ambiguous"));
  }
  return it->second;
}
}  // namespace

absl::StatusOr<std::shared_ptr<Sandbox>> StateStore::FindSandbox(const std::string& id) const {
  absl::MutexLock l(&mu_);
  return FindByPrefix(sandboxes_, id, "pod sandbox");
}

absl::StatusOr<std::shared_ptr<Container>> StateStore::FindContainer(const std::string& id) const {
  absl::MutexLock l(&mu_);
  return FindByPrefix(containers_, id, "container");
}

std::vector<std::shared_ptr<Sandbox>> StateStore::Sandboxes() const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<Sandbox>> out;
  for (const auto& [id, s] : sandboxes_) out.push_back(s);
  return out;
}

std::vector<std::shared_ptr<Container>> StateStore::Containers() const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<Container>> out;
  for (const auto& [id, c] : containers_) out.push_back(c);
  return out;
}

std::vector<std::shared_ptr<Container>> StateStore::ContainersOf(const std::string& sandbox_id) const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<Container>> out;
  for (const auto& [id, sb] : container_sandbox_) {
    if (sb == sandbox_id) out.push_back(containers_.at(id));
  }
  return out;
}

}  // namespace cricket::server
