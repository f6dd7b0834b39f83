// The pty master handed to whoever holds the other end of the container's terminal.
//
// runc's --console-socket protocol: the runtime connects to the AF_UNIX socket at the given path and
// sends one message whose SCM_RIGHTS ancillary data carries the master fd; the payload is the JSON
// request of runtime-tools' command-line-interface.md ({"type":"terminal","container":"<id>"}), which
// receivers written for runc ignore. No response is awaited.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::runtime {

absl::Status SendConsole(const std::string& socket_path, int master, const std::string& container_id);

// Receives one fd sent with SCM_RIGHTS on a connected socket (the console socket server side); the
// payload is returned in *payload when non-null.
absl::StatusOr<UniqueFd> ReceiveFd(int conn, std::string* payload = nullptr);

}  // namespace cricket::runtime
