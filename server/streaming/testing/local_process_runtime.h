// A StreamingRuntime for tests: "containers" are commands run as local processes (fork/exec, with pipes or
// a pty), "sandboxes" are names whose ports are dialled on 127.0.0.1. It exercises the streaming
// server with real processes (exit codes, ttys, resizes, kills) without containers.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/streaming/runtime.h"

namespace cricket::streaming::testing {

class LocalProcessRuntime : public StreamingRuntime {
 public:
  // Attach to `container_id` runs `cmd` afresh (a stand-in for a container's main process).
  void AddContainer(const std::string& container_id, std::vector<std::string> cmd);
  void AddSandbox(const std::string& sandbox_id);

  absl::StatusOr<int> Exec(const ExecParams& params, StreamIo& io) override;
  absl::Status Attach(const AttachParams& params, StreamIo& io) override;
  absl::StatusOr<UniqueFd> DialPort(const std::string& sandbox_id, int32_t port) override;

  // Runs `cmd` connected to `io` until it exits (its exit code, 128+signal when killed) or until `io`
  // is cancelled (then its process group is killed).
  static absl::StatusOr<int> Run(const std::vector<std::string>& cmd, StreamIo& io);

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::string>> containers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> sandboxes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::streaming::testing
