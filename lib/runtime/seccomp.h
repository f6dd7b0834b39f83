// linux.seccomp → a BPF program, compiled with libseccomp in the runtime's own process; the container
// process only installs it with seccomp(2) (config-linux.md "Seccomp").
//
// Rules are added in order. A syscall name libseccomp does not know (for this kernel's architectures)
// is skipped with a debug log, as other runtimes do, so one profile serves several kernels. A rule
// whose action equals the default action is redundant and skipped. When a rule compares the same
// argument more than once, each comparison becomes a rule of its own (libseccomp cannot AND two
// comparisons of one argument): the rule then matches when any of them holds, the behaviour profiles
// written for runc expect.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/oci/spec.h"
#include "lib/runtime/plan.h"

namespace cricket::runtime {

struct SeccompCompileResult {
  SeccompProgram program;
  std::vector<std::string> skipped_syscalls;  // names unknown to libseccomp
};

// InvalidArgument for unknown architectures or flags; Unimplemented for SCMP_ACT_NOTIFY/listenerPath.
absl::StatusOr<SeccompCompileResult> CompileSeccomp(const oci::LinuxSeccomp& seccomp);

// libseccomp's pseudo-filter-code rendering of the same filter, for tests and debugging.
absl::StatusOr<std::string> SeccompPfc(const oci::LinuxSeccomp& seccomp);

}  // namespace cricket::runtime
