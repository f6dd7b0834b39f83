// Creating the container from a short-lived forked child of cricket-conmon.
//
// Runtime::Create parses config.json, detects the cgroup layout, builds plans and drives the init's
// setup: hundreds of KiB of heap and code that the monitor never needs again. Doing it in a forked
// child keeps those page touches out of the monitor's RSS. The init is cloned as the helper's child;
// when the helper exits, the init is re-parented to cricket-conmon, which is a child subreaper
// (PR_SET_CHILD_SUBREAPER must be set before calling this), so conmon reaps it and sees its exit.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conmon/protocol.h"
#include "lib/common/unique_fd.h"

namespace cricket::conmon {

struct CreateOutcome {
  StartupResult init;
  UniqueFd console;        // the pty master with --terminal
  std::string memory_dir;  // the container's memory cgroup directory; "" when there is none
  int cgroup_version = 0;  // of memory_dir's hierarchy
};

// Forks the helper, which closes every descriptor but `stdio` (the container's stdin, stdout, stderr;
// -1 for none) and its report socket, restores default signal dispositions and an empty mask (the init
// inherits them), creates the container and reports. Returns once the helper has been reaped.
absl::StatusOr<CreateOutcome> CreateInHelper(const MonitorConfig& config, const int stdio[3]);

}  // namespace cricket::conmon
