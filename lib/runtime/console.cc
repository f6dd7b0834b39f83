#include "lib/runtime/console.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/fd_passing.h"

namespace cricket::runtime {

absl::Status SendConsole(const std::string& socket_path, int master, const std::string& container_id) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoError("create", "console socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(StrCat("console socket path too long: ", socket_path));
  }
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoError("connect to console socket", socket_path);
  }
  std::string payload = nlohmann::json{{"type", "terminal"}, {"container", container_id}}.dump();
  if (int r = sys::SendWithFd(sock.get(), payload.data(), payload.size(), master); r < 0) {
    return ErrnoError(-r, "send pty master to", socket_path);
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> ReceiveFd(int conn, std::string* payload) {
  char buf[4096];
  int received = -1;
  ssize_t n = sys::RecvWithFd(conn, buf, sizeof(buf), &received);
  if (n < 0) return ErrnoError(static_cast<int>(-n), "receive", "fd");
  UniqueFd fd(received);
  if (!fd) return absl::InvalidArgumentError("message carried no file descriptor");
  if (payload != nullptr) payload->assign(buf, static_cast<size_t>(n));
  return fd;
}

}  // namespace cricket::runtime
