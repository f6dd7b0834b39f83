// What cricketd remembers about each pod sandbox and container, in memory and on disk
// (<root>/pods/<id>/ and <root>/containers/<id>/: a JSON record plus the CRI config as protobuf),
// written atomically so that a restarted daemon finds every pod and container it had.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runtime/v1/api.pb.h"

namespace cricket::server {

enum class SandboxState { kReady, kNotReady };

struct SandboxRecord {
  std::string id;
  std::string name;  // unique: <name>_<namespace>_<uid>_<attempt>
  std::string runtime_handler;
  ::runtime::v1::PodSandboxConfig config;
  SandboxState state = SandboxState::kNotReady;
  int64_t created_at = 0;  // ns
  // Pinned namespaces ("" when the pod uses the host's).
  std::string netns_path;
  std::string ipcns_path;
  std::string utsns_path;
  std::string userns_path;  // "" when the pod runs in the host's user namespace
  // The pod's files and /dev/shm.
  std::string run_dir;  // <runroot>/pods/<id>
  std::string shm_path;
  std::string hostname_path;
  std::string hosts_path;
  std::string resolv_conf_path;
  std::string cgroup_parent;
  std::vector<std::string> ips;   // primary first
  bool network_attached = false;  // CNI ADD done and not yet torn down
  // The infra container (same id as the sandbox); 0 when the pod runs none (drop_infra_ctr).
  int infra_pid = 0;
  uint64_t infra_start_time = 0;  // /proc/<pid>/stat field 22: with the pid, the process identity
  int monitor_pid = 0;
  uint64_t monitor_start_time = 0;
  // UpdatePodSandboxResources: the pod-level resources kubelet applied to the pod's cgroup after a
  // resize (shown in the verbose status). Unset until the first call.
  std::optional<::runtime::v1::LinuxContainerResources> pod_overhead;
  std::optional<::runtime::v1::LinuxContainerResources> pod_resources;
};

enum class ContainerState { kCreated, kRunning, kExited, kUnknown };

struct ContainerRecord {
  std::string id;
  std::string name;  // unique within cricketd: <name>_<sandbox name>_<attempt>
  std::string sandbox_id;
  ::runtime::v1::ContainerConfig config;
  std::string image_ref;   // the image id (config digest)
  std::string image_name;  // as requested (config.image.image), normalised when pulled by name
  std::string runtime_handler;
  ContainerState state = ContainerState::kCreated;
  int64_t created_at = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int32_t exit_code = 0;
  std::string reason;  // Completed, Error, OOMKilled
  std::string message;
  std::string log_path;  // absolute
  std::string bundle;    // <runroot>/containers/<id>
  std::string rootfs;    // the mounted overlay
  int stop_signal = 15;  // from the CRI config or the image's StopSignal; SIGTERM otherwise
  int pid = 0;
  uint64_t start_time = 0;
  int monitor_pid = 0;
  uint64_t monitor_start_time = 0;
  std::string attach_socket;
  std::string control_socket;
  // The ids the container's process got, as the container sees them: read from the process once it was
  // created (its credentials are set before it waits for start). ContainerStatus.user of a container
  // whose process is gone.
  struct User {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::vector<uint32_t> groups;
    bool operator==(const User&) const = default;
  };
  std::optional<User> user;
};

// Serialization, for the on-disk record and for verbose status info.
std::string SandboxToJson(const SandboxRecord& s);
absl::StatusOr<SandboxRecord> SandboxFromJson(const std::string& json, const std::string& what);
std::string ContainerToJson(const ContainerRecord& c);
absl::StatusOr<ContainerRecord> ContainerFromJson(const std::string& json, const std::string& what);

std::string_view ContainerStateName(ContainerState s);
std::string_view SandboxStateName(SandboxState s);

// A record shared by RPCs and the exit monitor. Two locks:
// - `op_mu` serialises operations on one object (two StopContainer calls, a Remove racing a Start) and
//   may be held for long (waiting for an exit);
// - `mu` guards `record` and `committed` and is held only briefly, so status and list calls never wait
//   for a slow operation. An operation holding `op_mu` changes the record under `mu` in short steps and
//   never writes back a stale copy (the exit monitor updates records under `mu` alone).
// `committed` is false while the object is being created: it is then invisible to status and list.
template <class R>
struct Guarded {
  absl::Mutex op_mu;
  absl::Mutex mu ABSL_ACQUIRED_AFTER(op_mu);
  R record ABSL_GUARDED_BY(mu);
  bool committed ABSL_GUARDED_BY(mu) = false;

  R Snapshot() {
    absl::MutexLock l(&mu);
    return record;
  }
  bool IsCommitted() {
    absl::MutexLock l(&mu);
    return committed;
  }
};
using Sandbox = Guarded<SandboxRecord>;
using Container = Guarded<ContainerRecord>;

// Told of every record the store loads, saves (successfully) and deletes: the one place where state
// changes of sandboxes and containers are recorded (container events and their metrics hang off it).
// Saved runs with the object's mutex held (as Save requires), so an observer must be quick, take only
// locks of its own, and never call back into the store.
class RecordObserver {
 public:
  virtual ~RecordObserver() = default;
  virtual void Loaded(const SandboxRecord& s) = 0;  // at daemon start, before anything changes
  virtual void Loaded(const ContainerRecord& c) = 0;
  virtual void Saved(const SandboxRecord& s) = 0;
  virtual void Saved(const ContainerRecord& c) = 0;
  virtual void Deleted(const SandboxRecord& s) = 0;
  virtual void Deleted(const ContainerRecord& c) = 0;
};

// The in-memory index of every sandbox and container, backed by the on-disk records.
class StateStore {
 public:
  // `dir` is <root>; records live in <dir>/pods and <dir>/containers.
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}

  // Set once, before Load; not owned, must outlive the store.
  void SetObserver(RecordObserver* observer) { observer_ = observer; }

  // Loads every record from disk (at daemon start). A record that cannot be read or parsed is moved to
  // <dir>/damaged/ (kept for inspection, never loaded again) and reported in the returned problems,
  // naming the file: its object is then unknown, and start-up recovery removes what it left on the
  // host. A directory without a record (a creation killed before its commit) is skipped silently.
  absl::StatusOr<std::vector<std::string>> Load();

  // Persist a record (atomic replace). The caller holds the object's mutex.
  absl::Status Save(const SandboxRecord& s) const;
  absl::Status Save(const ContainerRecord& c) const;
  absl::Status Delete(const SandboxRecord& s) const;
  absl::Status Delete(const ContainerRecord& c) const;

  // Name reservation: AlreadyExists naming the holder when `name` is taken.
  absl::Status AddSandbox(std::shared_ptr<Sandbox> s, const std::string& id, const std::string& name);
  absl::Status AddContainer(std::shared_ptr<Container> c, const std::string& id, const std::string& name,
                            const std::string& sandbox_id);
  void RemoveSandbox(const std::string& id);
  void RemoveContainer(const std::string& id);

  std::shared_ptr<Sandbox> GetSandbox(const std::string& id) const;
  std::shared_ptr<Container> GetContainer(const std::string& id) const;
  // Exact id, or a unique id prefix (crictl abbreviates ids). NotFound / InvalidArgument (ambiguous).
  absl::StatusOr<std::shared_ptr<Sandbox>> FindSandbox(const std::string& id_or_prefix) const;
  absl::StatusOr<std::shared_ptr<Container>> FindContainer(const std::string& id_or_prefix) const;
  std::vector<std::shared_ptr<Sandbox>> Sandboxes() const;
  std::vector<std::shared_ptr<Container>> Containers() const;
  std::vector<std::shared_ptr<Container>> ContainersOf(const std::string& sandbox_id) const;

 private:
  std::string SandboxDir(const std::string& id) const;
  std::string ContainerDir(const std::string& id) const;
  // Moves <dir>/<kind>/<id> to <dir>/damaged/; returns the problem's description.
  std::string SetAside(const std::string& kind, const std::string& id, const absl::Status& why) const;

  std::string dir_;
  RecordObserver* observer_ = nullptr;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Sandbox>> sandboxes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Container>> containers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> sandbox_names_ ABSL_GUARDED_BY(mu_);      // name → id
  std::map<std::string, std::string> container_names_ ABSL_GUARDED_BY(mu_);    // name → id
  std::map<std::string, std::string> container_sandbox_ ABSL_GUARDED_BY(mu_);  // id → sandbox id
};

}  // namespace cricket::server
