// The OCI container state (runtime.md "State"): what `state <id>` prints, what hooks read on stdin,
// plus the properties runc adds to its `state` output (rootfs, created, owner), which tools written
// against runc read.
//
// https://github.com/opencontainers/runtime-spec/blob/v1.2.1/runtime.md#state
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::oci {

// The spec's four states, plus "paused" (a frozen cgroup), which runc reports and the spec allows
// ("Additional values MAY be defined by the runtime").
enum class ContainerStatus { kCreating, kCreated, kRunning, kStopped, kPaused };
// "creating", "created", "running", "stopped", "paused".
std::string_view ContainerStatusName(ContainerStatus status);
std::optional<ContainerStatus> ParseContainerStatus(std::string_view name);

struct State {
  std::string oci_version;  // "ociVersion"
  std::string id;
  ContainerStatus status = ContainerStatus::kCreating;
  // The container process as seen by the runtime; required when created or running. Always written
  // (0 when there is none), as runc does.
  int pid = 0;
  std::string bundle;  // absolute path of the bundle directory
  std::map<std::string, std::string> annotations;

  // runc's additions; empty/0 means absent and is not written.
  std::string rootfs;      // absolute path of the root filesystem
  int64_t created_ns = 0;  // "created": RFC 3339 with nanoseconds, UTC
  std::string owner;       // "" for containers of the invoking user (runc writes "")

  bool operator==(const State&) const = default;
};

// Errors are InvalidArgument naming the JSON path ("status: unknown container status \"zombie\"").
// ociVersion, id, status and bundle are required; unknown properties are ignored.
absl::StatusOr<State> ParseState(const nlohmann::json& json);
absl::StatusOr<State> ParseStateText(std::string_view text, std::string_view what = "state.json");
nlohmann::json StateToJson(const State& state);
std::string SerializeState(const State& state, int indent = -1);

// What the runtime sends to a seccomp listener (config-linux.md "Container Process State"): the
// state plus the names of the file descriptors passed alongside with SCM_RIGHTS.
inline constexpr std::string_view kSeccompFdName = "seccompFd";
struct ContainerProcessState {
  std::string oci_version;
  std::vector<std::string> fds;  // e.g. {"seccompFd"}, in the order of the passed descriptors
  int pid = 0;                   // the container process
  std::string metadata;          // linux.seccomp.listenerMetadata
  State state;
  bool operator==(const ContainerProcessState&) const = default;
};
nlohmann::json ContainerProcessStateToJson(const ContainerProcessState& cps);
absl::StatusOr<ContainerProcessState> ParseContainerProcessState(const nlohmann::json& json);

}  // namespace cricket::oci
