// The pipes behind a StreamIo: the backend gets one end of each (through the StreamIo interface), the
// session loop keeps the other, non-blocking.
#pragma once

#include <atomic>

#include "absl/status/statusor.h"
#include "server/streaming/runtime.h"

namespace cricket::streaming {

class PipeStreamIo : public StreamIo {
 public:
  struct Wants {
    bool stdin = false;
    bool stdout = false;
    bool stderr = false;
    bool tty = false;
  };
  static absl::StatusOr<std::unique_ptr<PipeStreamIo>> Create(const Wants& wants);

  // StreamIo (backend side).
  bool tty() const override { return tty_; }
  int stdin_fd() const override { return stdin_r_.get(); }
  int stdout_fd() const override { return stdout_w_.get(); }
  int stderr_fd() const override { return stderr_w_.get(); }
  UniqueFd TakeStdin() override { return std::move(stdin_r_); }
  UniqueFd TakeStdout() override { return std::move(stdout_w_); }
  UniqueFd TakeStderr() override { return std::move(stderr_w_); }
  int resize_fd() const override { return resize_r_.get(); }
  std::optional<TerminalSize> NextResize() override;
  int cancel_fd() const override { return cancel_.get(); }
  bool cancelled() const override { return cancelled_.load(); }

  // Session side: non-blocking ends.
  UniqueFd& stdin_writer() { return stdin_w_; }
  UniqueFd& stdout_reader() { return stdout_r_; }
  UniqueFd& stderr_reader() { return stderr_r_; }
  // Queues a size for the backend; drops it when the backend lags far behind (only the latest matters).
  void PushResize(TerminalSize size);
  void Cancel();
  // Closes the backend's ends that it did not take (after the backend returned).
  void CloseBackendEnds();

 private:
  PipeStreamIo() = default;

  bool tty_ = false;
  UniqueFd stdin_r_, stdin_w_, stdout_r_, stdout_w_, stderr_r_, stderr_w_, resize_r_, resize_w_, cancel_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace cricket::streaming
