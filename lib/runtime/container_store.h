// On-disk records of the containers of one runtime root: <root>/<id>/state.json (this file's
// ContainerRecord), <root>/<id>/config.json (the spec the container was created with) and
// <root>/<id>/start (the socket the held init accepts the start request on). Written atomically, so
// the CLI, a restarted monitor and the daemon all see complete records.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"
#include "lib/oci/spec.h"
#include "lib/sys/pidfd.h"

namespace cricket::runtime {

struct ContainerRecord {
  std::string id;
  std::string bundle;
  std::string rootfs;
  int64_t created_ns = 0;
  std::map<std::string, std::string> annotations;
  sys::ProcessIdentity init;  // pid 0 while creating
  bool created = false;       // setup finished (the init waits for start)
  bool started = false;       // start was requested
  std::string cgroup_driver;  // "cgroupfs" or "systemd"
  std::string cgroups_path;   // linux.cgroupsPath as given
  bool shares_host_mount_ns = false;
  bool private_pid_ns = false;
};

// Replaces `path` atomically (a temporary file renamed over it) without fsync: runtime state lives on
// /run and describes processes that do not survive a reboot, so durability would only cost time (an
// fsync on a disk-backed /run takes milliseconds to hundreds of milliseconds). Also used for pid files.
absl::Status ReplaceFile(const std::string& path, std::string_view content, mode_t mode);

// Container ids: 1-1024 characters of [A-Za-z0-9_+.-], not "." or "..".
absl::Status ValidateContainerId(std::string_view id);

class ContainerStore {
 public:
  explicit ContainerStore(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string Dir(const std::string& id) const { return root_ + "/" + id; }

  // Creates <root>/<id> exclusively (AlreadyExists when the id is taken).
  absl::Status CreateDir(const std::string& id) const;
  // Removes <root>/<id> and everything in it.
  absl::Status RemoveDir(const std::string& id) const;

  absl::Status Save(const ContainerRecord& record) const;
  // NotFound "container <id> does not exist" when there is no record.
  absl::StatusOr<ContainerRecord> Load(const std::string& id) const;
  absl::Status SaveSpec(const std::string& id, const oci::Spec& spec) const;
  absl::StatusOr<oci::Spec> LoadSpec(const std::string& id) const;
  // Ids with a record, sorted.
  absl::StatusOr<std::vector<std::string>> List() const;

  // An exclusive lock on the container's directory, blocking. NotFound when the container is gone
  // (also when it disappeared while waiting for the lock).
  absl::StatusOr<UniqueFd> Lock(const std::string& id) const;

 private:
  std::string root_;
};

}  // namespace cricket::runtime
