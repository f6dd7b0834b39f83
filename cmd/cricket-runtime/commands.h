// The cricket-runtime commands (runc's CLI surface over lib/runtime). Each returns the process exit
// code; errors are returned as statuses and printed by main with exit code 1.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/runtime/runtime.h"

namespace cricket::cli {

struct GlobalOptions {
  std::string root = "/run/cricket-runtime";
  bool systemd_cgroup = false;
};

using Args = std::vector<std::string>;

absl::StatusOr<int> CmdCreate(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdRun(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdStart(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdState(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdKill(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdDelete(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdList(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdPs(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdPause(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdResume(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdUpdate(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdExec(runtime::Runtime& rt, const Args& args, size_t begin);
absl::StatusOr<int> CmdFeatures(const Args& args, size_t begin);

// "SIGKILL", "KILL", "9" → 9.
absl::StatusOr<int> ParseSignal(const std::string& s);
// "512m", "1G", "1024" → bytes (binary units, as runc's update flags).
absl::StatusOr<int64_t> ParseBytes(const std::string& s);

// Waits for `pidfd` (a child) while forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to it,
// and, when `console` >= 0, copying stdin → console and console → stdout. Returns the shell exit code.
absl::StatusOr<int> WaitForwarding(const sys::PidFd& pidfd, int console);

}  // namespace cricket::cli
