// The systemd readiness protocol (sd_notify(3)): a datagram such as "READY=1" sent to the unix socket
// named by $NOTIFY_SOCKET ("@name" is an abstract socket). Written here rather than linking libsystemd,
// which would add several shared libraries (and their resident pages) to cricketd for one sendmsg.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace cricket::sys {

// Sends `state` ("READY=1", "STOPPING=1", "RELOADING=1", ...) to `socket_path`, or to $NOTIFY_SOCKET
// when `socket_path` is empty. Without a notify socket (not under systemd) it does nothing.
absl::Status NotifySystemd(std::string_view state, const std::string& socket_path = "");

}  // namespace cricket::sys
