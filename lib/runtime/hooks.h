// OCI hooks (config.md "POSIX-platform Hooks"): each hook runs with the container state JSON on its
// stdin, in order; a hook that exits non-zero or outlives its timeout fails.
//
// prestart, createRuntime, poststart and poststop run in the runtime's namespaces. createContainer and
// startContainer run in the container's namespaces (their path is resolved there): a helper joins the
// init's namespaces, as exec does, and executes the hook with the runtime's credentials.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "lib/oci/spec.h"
#include "lib/sys/pidfd.h"

namespace cricket::runtime {

// Runs `hooks` (of kind `kind`, for messages) in the runtime's namespaces. The first failure is
// returned: "createRuntime hook #0 (/path): exit status 1: <stderr>".
absl::Status RunHooks(const std::vector<oci::Hook>& hooks, std::string_view kind,
                      const std::string& state_json, int default_timeout_ms);

// For poststart and poststop hooks: a failure is logged as a warning and the remaining hooks still
// run (config.md: "the runtime MUST log a warning, but the remaining hooks and lifecycle continue").
void RunHooksWarnOnly(const std::vector<oci::Hook>& hooks, std::string_view kind,
                      const std::string& state_json, int default_timeout_ms, const std::string& container_id);

// Runs `hooks` in the namespaces of the process `init` (ns_flags: those that differ from ours).
absl::Status RunHooksInContainer(const std::vector<oci::Hook>& hooks, std::string_view kind,
                                 const std::string& state_json, const sys::PidFd& init, uint64_t ns_flags,
                                 int default_timeout_ms);

}  // namespace cricket::runtime
