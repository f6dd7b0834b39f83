// cricketd's process: owns the configuration, the locks on the socket and the roots, the gRPC server,
// and the signal loop (SIGTERM/SIGINT: clean shutdown; SIGHUP: reload).
#pragma once

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "server/config.h"
#include "server/config_holder.h"

namespace cricket::server {

class Daemon {
 public:
  Daemon(Config config, ConfigSources sources, ConfigOverrides overrides);
  ~Daemon();

  // Serves until SIGTERM or SIGINT. The caller must have blocked SIGTERM, SIGINT and SIGHUP in every
  // thread (BlockDaemonSignals) before anything started threads.
  absl::Status Run();

 private:
  void Reload();

  ConfigHolder config_;
  ConfigSources sources_;
  ConfigOverrides overrides_;
};

// Blocks the signals the daemon waits for, and ignores SIGPIPE; call first thing in main.
void BlockDaemonSignals();

}  // namespace cricket::server
