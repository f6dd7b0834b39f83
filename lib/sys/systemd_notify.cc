#include "lib/sys/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {

absl::Status NotifySystemd(std::string_view state, const std::string& socket_path) {
  std::string path = socket_path;
  if (path.empty()) {
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (env == nullptr || env[0] == '\0') return absl::OkStatus();
    path = env;
  }
  if (path[0] != '/' && path[0] != '@') {
    return absl::InvalidArgumentError(StrCat("NOTIFY_SOCKET \"", path, "\" is not a socket path"));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(StrCat("NOTIFY_SOCKET \"", path, "\" is too long"));
  }
  memcpy(addr.sun_path, path.data(), path.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoError("socket for", "systemd notification");
  if (::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    return ErrnoError("notify systemd at", path);
  }
  return absl::OkStatus();
}

}  // namespace cricket::sys
