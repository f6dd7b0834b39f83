// A real cricketd for end-to-end tests: started on a temporary socket, root and runroot with a config
// file written by the test, reached through the generated CRI stubs, stopped with SIGTERM.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/v1/api.grpc.pb.h"

namespace cricket::e2e {

class TestDaemon {
 public:
  TestDaemon();
  ~TestDaemon();  // stops the daemon (SIGKILL if SIGTERM is not enough) and removes the directory

  // Directory holding socket, root, runroot, config and logs.
  const std::string& dir() const { return dir_; }
  std::string socket_path() const { return dir_ + "/cricket.sock"; }
  std::string root() const { return dir_ + "/root"; }
  std::string runroot() const { return dir_ + "/run"; }
  std::string config_path() const { return dir_ + "/cricket.conf"; }
  std::string cni_dir() const { return dir_ + "/cni"; }
  std::string stderr_path() const { return dir_ + "/cricketd.stderr"; }

  // Extra TOML, written as the drop-in conf.d/50-test.conf (read after the main config file).
  void set_extra_config(std::string toml) { extra_config_ = std::move(toml); }

  // Writes the config and starts cricketd; waits until Version answers (10 s).
  absl::Status Start();
  // Writes the config and starts cricketd without waiting for it.
  absl::Status Spawn();
  // Sends `signal` and waits for exit (timeout_ms); returns the wait status.
  absl::StatusOr<int> Stop(int signal, int timeout_ms = 15000);
  pid_t pid() const { return pid_; }

  // Runs cricketd with `args` (after --config) to completion; returns exit code and captured stderr.
  struct Result {
    int exit_code = -1;
    std::string out;
    std::string err;
  };
  Result RunOnce(const std::vector<std::string>& args);

  std::string Stderr() const;

  std::unique_ptr<runtime::v1::RuntimeService::Stub> RuntimeStub();
  std::unique_ptr<runtime::v1::ImageService::Stub> ImageStub();

 private:
  absl::Status WriteConfig();
  std::string dir_;
  std::string extra_config_;
  pid_t pid_ = -1;
};

// Path of the cricketd binary under test.
std::string DaemonBinary();

}  // namespace cricket::e2e
