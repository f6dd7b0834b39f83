// Per-process settings the runtime applies from outside, to the held init or an exec'd process, before
// it continues: rlimits (prlimit), oom_score_adj, scheduler (sched_setattr) and I/O priority.
//
// Limits the host does not allow are clamped, not fatal: on this kind of host root may lack
// CAP_SYS_RESOURCE, so raising a hard rlimit or lowering oom_score_adj below the current value fails;
// the closest allowed value is used and a warning names what was requested.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/oci/spec.h"

namespace cricket::runtime {

// RLIMIT_* number of a spec rlimit type ("RLIMIT_NOFILE"), or -1.
int RlimitResource(std::string_view type);

absl::Status ApplyRlimits(pid_t pid, const std::vector<oci::Rlimit>& rlimits,
                          std::vector<std::string>* warnings);
absl::Status ApplyOomScoreAdj(pid_t pid, int value, std::vector<std::string>* warnings);
absl::Status ApplyScheduler(pid_t pid, const oci::Scheduler& scheduler);
absl::Status ApplyIoPriority(pid_t pid, const oci::IoPriority& prio);

// sched_setaffinity with a cpuset list ("0-3,7").
absl::Status ApplyCpuAffinity(pid_t pid, const std::string& cpus);

// All of the above that `process` sets.
absl::Status ApplyProcessLimits(pid_t pid, const oci::Process& process, std::vector<std::string>* warnings);

}  // namespace cricket::runtime
