#include "lib/runtime/console.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "lib/common/status.h"
#include "lib/common/strings.h"

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
  iovec iov{payload.data(), payload.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &master, sizeof(int));
  if (::sendmsg(sock.get(), &mh, MSG_NOSIGNAL) < 0) return ErrnoError("send pty master to", socket_path);
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> ReceiveFd(int conn, std::string* payload) {
  char buf[4096];
  iovec iov{buf, sizeof(buf)};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError("receive", "fd");
  UniqueFd fd;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int f;
      memcpy(&f, CMSG_DATA(c), sizeof(int));
      fd.reset(f);
      break;
    }
  }
  if (!fd) return absl::InvalidArgumentError("message carried no file descriptor");
  if (payload != nullptr) payload->assign(buf, static_cast<size_t>(n));
  return fd;
}

}  // namespace cricket::runtime
