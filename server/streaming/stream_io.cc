#include "server/streaming/stream_io.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/common/status.h"

namespace cricket::streaming {
namespace {

// A pipe whose `nonblocking_end` (0 = read, 1 = write) is O_NONBLOCK; both ends close-on-exec.
absl::Status MakePipe(UniqueFd* r, UniqueFd* w, int nonblocking_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("create", "stream pipe");
  r->reset(fds[0]);
  w->reset(fds[1]);
  const int fd = nonblocking_end == 0 ? fds[0] : fds[1];
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
    return ErrnoError("set O_NONBLOCK on", "stream pipe");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PipeStreamIo>> PipeStreamIo::Create(const Wants& wants) {
  std::unique_ptr<PipeStreamIo> io(new PipeStreamIo());
  io->tty_ = wants.tty;
  if (wants.stdin) RETURN_IF_ERROR(MakePipe(&io->stdin_r_, &io->stdin_w_, 1));
  if (wants.stdout) RETURN_IF_ERROR(MakePipe(&io->stdout_r_, &io->stdout_w_, 0));
  if (wants.stderr && !wants.tty) RETURN_IF_ERROR(MakePipe(&io->stderr_r_, &io->stderr_w_, 0));
  // Both resize ends non-blocking: the session must never wait for the backend, nor NextResize.
  RETURN_IF_ERROR(MakePipe(&io->resize_r_, &io->resize_w_, 1));
  if (fcntl(io->resize_r_.get(), F_SETFL, O_NONBLOCK) != 0)
    return ErrnoError("set O_NONBLOCK on", "resize pipe");
  io->cancel_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!io->cancel_) return ErrnoError("create", "cancel eventfd");
  return io;
}

std::optional<TerminalSize> PipeStreamIo::NextResize() {
  unsigned char rec[4];
  // Records are 4 bytes and PIPE_BUF-atomic, so a read returns whole records.
  const ssize_t n = read(resize_r_.get(), rec, sizeof(rec));
  if (n != sizeof(rec)) return std::nullopt;
  return TerminalSize{static_cast<uint16_t>(rec[0] << 8 | rec[1]),
                      static_cast<uint16_t>(rec[2] << 8 | rec[3])};
}

void PipeStreamIo::PushResize(TerminalSize size) {
  const unsigned char rec[4] = {
      static_cast<unsigned char>(size.width >> 8), static_cast<unsigned char>(size.width),
      static_cast<unsigned char>(size.height >> 8), static_cast<unsigned char>(size.height)};
  if (resize_w_) (void)!write(resize_w_.get(), rec, sizeof(rec));
}

void PipeStreamIo::Cancel() {
  if (cancelled_.exchange(true)) return;
  const uint64_t one = 1;
  (void)!write(cancel_.get(), &one, sizeof(one));
}

void PipeStreamIo::CloseBackendEnds() {
  stdin_r_.reset();
  stdout_w_.reset();
  stderr_w_.reset();
}

}  // namespace cricket::streaming
