#include "server/streaming/remote_command.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <thread>

#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/remote_command_framing.h"
#include "server/streaming/stream_io.h"
#include "server/streaming/thread.h"

namespace cricket::streaming {
namespace {

constexpr std::string_view kLog = "streaming";
// Bytes read at once, from the client or from the process's output; the connection's budget must have
// room for this much more before each read (a slow stdin reader or client thus stops the other side).
constexpr size_t kReadChunk = 32 * 1024;
// Without room in the budget, how often to look again (other connections may give some back).
constexpr int kBudgetRetryMs = 100;

StreamSet StreamsOf(const CommandRequest& request) {
  return std::visit(
      [](const auto& p) {
        return StreamSet{p.stdin, p.stdout, p.stderr && !p.tty, p.tty};
      },
      request);
}

std::string CommandString(const std::vector<std::string>& cmd) { return StrCat("[", Join(cmd, " "), "]"); }

// Commands and error messages may carry any bytes: invalid UTF-8 is replaced, never thrown about.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string InternalMessage(const absl::Status& status) {
  return StrCat("Internal error occurred: ", ToStd(status.message()));
}

// Splits a byte stream of concatenated JSON objects (Go's json.Encoder output, newline-separated) into
// whole objects. Terminal sizes have no nested objects or braces in strings, but strings are skipped
// anyway so that junk cannot desynchronise the split.
class JsonObjectSplitter {
 public:
  template <class F>
  void Feed(std::string_view bytes, F&& on_object) {
    for (char c : bytes) {
      if (depth_ == 0 && c != '{') continue;  // whitespace or junk between objects
      current_ += c;
      if (in_string_) {
        if (escaped_) {
          escaped_ = false;
        } else if (c == '\\') {
          escaped_ = true;
        } else if (c == '"') {
          in_string_ = false;
        }
      } else if (c == '"') {
        in_string_ = true;
      } else if (c == '{') {
        ++depth_;
      } else if (c == '}' && --depth_ == 0) {
        on_object(std::string_view(current_));
        current_.clear();
      }
      if (current_.size() > 4096) Reset();  // not a terminal size
    }
  }

 private:
  void Reset() {
    current_.clear();
    depth_ = 0;
    in_string_ = escaped_ = false;
  }
  std::string current_;
  int depth_ = 0;
  bool in_string_ = false, escaped_ = false;
};

std::optional<TerminalSize> ParseTerminalSize(std::string_view json_text) {
  auto json = ParseJson(json_text, "terminal size");
  if (!json.ok() || !json->is_object()) return std::nullopt;
  auto field = [&](const char* name) -> std::optional<uint16_t> {
    auto it = json->find(name);
    if (it == json->end() || !it->is_number_unsigned()) return std::nullopt;
    const uint64_t v = it->get<uint64_t>();
    if (v > 0xffff) return std::nullopt;
    return static_cast<uint16_t>(v);
  };
  auto w = field("Width"), h = field("Height");
  if (!w || !h) return std::nullopt;
  return TerminalSize{*w, *h};
}

class CommandSession : public CommandSink {
 public:
  CommandSession(Conn& conn, std::unique_ptr<CommandFraming> framing, CommandProtocol protocol,
                 const CommandRequest& request, StreamingRuntime& runtime, const SessionOptions& options)
      : conn_(conn),
        framing_(std::move(framing)),
        protocol_(protocol),
        request_(request),
        runtime_(runtime),
        options_(options),
        budget_(options.buffers),
        stdin_open_(StreamsOf(request).stdin) {}

  void Run();

  // CommandSink. Stdin for a request without stdin is dropped at once, before and after the start.
  void OnStdin(std::string_view data) override {
    if (stdin_open_) stdin_buf_.append(data);
  }
  void OnStdinClose() override { stdin_eof_ = true; }
  void OnResize(std::string_view bytes) override {
    resize_.Feed(bytes, [&](std::string_view object) {
      if (auto size = ParseTerminalSize(object)) {
        if (io_)
          io_->PushResize(*size);
        else
          pending_size_ = *size;  // before the start only the latest size matters
      }
    });
  }
  void OnOutputClosed(Channel channel) override { discard_[channel] = true; }
  void OnPeerGone() override { peer_gone_ = true; }

 private:
  absl::Status Flush();
  size_t Buffered() const { return stdin_buf_.size() + framing_->buffered(); }
  // True when the budget has room for `more` bytes on top of what the session holds; settles it to
  // what the session holds otherwise.
  bool RoomFor(size_t more);
  absl::Status ReadClient();
  bool WaitForStreams();
  absl::Status StartBackend();
  void PumpUntilBackendDone();
  absl::StatusOr<int> RunBackend();
  void PumpOutput(UniqueFd& fd, Channel channel, bool drain);
  void PumpStdin();
  void Abort(std::string_view why);
  void Finish();
  std::string StatusBody() const;

  Conn& conn_;
  std::unique_ptr<CommandFraming> framing_;
  CommandProtocol protocol_;
  const CommandRequest& request_;
  StreamingRuntime& runtime_;
  SessionOptions options_;
  BufferBudget budget_;

  std::unique_ptr<PipeStreamIo> io_;
  std::thread backend_;
  UniqueFd done_fd_;
  std::optional<absl::StatusOr<int>> result_;

  std::string stdin_buf_;
  bool stdin_open_;
  bool stdin_eof_ = false;
  bool peer_gone_ = false;
  bool discard_[5] = {};
  JsonObjectSplitter resize_;
  std::optional<TerminalSize> pending_size_;
  int64_t last_activity_ = MonotonicNow();
};

absl::Status CommandSession::Flush() {
  std::string out = framing_->TakeOutput();
  if (out.empty()) return absl::OkStatus();
  return conn_.Write(out, MonotonicNow() + options_.write_timeout_ns);
}

bool CommandSession::RoomFor(size_t more) {
  if (budget_.Fit(Buffered() + more)) return true;
  budget_.Fit(Buffered());
  return false;
}

absl::Status CommandSession::ReadClient() {
  char buf[kReadChunk];
  // Bounded so that a fast client cannot starve the output direction.
  for (int i = 0; i < 8 && RoomFor(kReadChunk); ++i) {
    ASSIGN_OR_RETURN(ReadResult r, conn_.Read(buf, sizeof(buf)));
    if (r.eof) {
      peer_gone_ = true;
      return absl::OkStatus();
    }
    if (r.n == 0) return absl::OkStatus();
    last_activity_ = MonotonicNow();
    RETURN_IF_ERROR(framing_->Feed(std::string_view(buf, r.n), *this));
    if (!conn_.HasBuffered()) return absl::OkStatus();
  }
  return absl::OkStatus();
}

// Kubelet's server waits (stream creation timeout, 30 s) until the client has opened every stream the
// request implies before it starts the command.
// What arrives meanwhile (stdin before the start) is held within the connection's budget: a client that
// fills it before opening its streams (which no Kubernetes client does) is dropped.
bool CommandSession::WaitForStreams() {
  const int64_t deadline = MonotonicNow() + options_.creation_timeout_ns;
  while (!framing_->Ready()) {
    if (absl::Status s = Flush(); !s.ok()) {
      log::Warn(kLog, "stream client write failed", {{"error", s}});
      return false;
    }
    if (MonotonicNow() >= deadline) {
      log::Warn(kLog, "timed out waiting for the client to create streams");
      return false;
    }
    if (!RoomFor(kReadChunk)) {
      if (Buffered() + kReadChunk > budget_.cap()) {
        // Nothing takes these bytes before the start, and no client sends that much before opening its
        // streams: waiting would only hold the connection until the deadline.
        log::Warn(kLog, "stream client sent too much before opening its streams", {{"limit", budget_.cap()}});
        return false;
      }
      pollfd p{conn_.fd(), ClientEvents(false), 0};
      if (poll(&p, 1, std::min(kBudgetRetryMs, PollTimeoutMs(deadline))) > 0 && ClientHungUp(p.revents)) {
        return false;  // the client left
      }
      continue;
    }
    if (!conn_.HasBuffered()) {
      absl::Status s = WaitFd(conn_.fd(), POLLIN, deadline);
      if (!s.ok()) {
        log::Warn(kLog, "timed out waiting for the client to create streams");
        return false;
      }
    }
    if (absl::Status s = ReadClient(); !s.ok()) {
      log::Warn(kLog, "stream protocol error", {{"error", s}});
      (void)Flush();
      return false;
    }
    if (peer_gone_) return false;
  }
  return Flush().ok();
}

absl::Status CommandSession::StartBackend() {
  const StreamSet s = StreamsOf(request_);
  ASSIGN_OR_RETURN(io_, PipeStreamIo::Create({s.stdin, s.stdout, s.stderr, s.tty}));
  if (pending_size_) io_->PushResize(*pending_size_);
  pending_size_.reset();
  done_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!done_fd_) return ErrnoError("create", "eventfd");
  ASSIGN_OR_RETURN(backend_, StartThread("stream-exec", [this] {
                     absl::StatusOr<int> result = RunBackend();
                     result_ = std::move(result);
                     const uint64_t one = 1;
                     (void)!write(done_fd_.get(), &one, sizeof(one));
                   }));
  return absl::OkStatus();
}

// The runtime's Exec or Attach; an exception from it becomes the session's error, never the thread's end.
absl::StatusOr<int> CommandSession::RunBackend() {
  try {
    return std::visit(
        [this](const auto& p) -> absl::StatusOr<int> {
          if constexpr (std::is_same_v<std::decay_t<decltype(p)>, ExecParams>) {
            return runtime_.Exec(p, *io_);
          } else {
            absl::Status st = runtime_.Attach(p, *io_);
            if (!st.ok()) return st;
            return 0;
          }
        },
        request_);
  } catch (const std::exception& e) {
    return absl::InternalError(StrCat("exec/attach backend failed: ", e.what()));
  } catch (...) {
    return absl::InternalError("exec/attach backend failed");
  }
}

void CommandSession::PumpOutput(UniqueFd& fd, Channel channel, bool drain) {
  char buf[kReadChunk];
  // Draining after the backend returned takes what the pipe holds (64 KiB by default), bounded in case
  // a leftover writer keeps it full, and written out chunk by chunk.
  const int rounds = drain ? 256 : 8;
  for (int i = 0; i < rounds; ++i) {
    if (drain && !Flush().ok()) return;
    if (!RoomFor(kReadChunk)) return;
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n > 0) {
      last_activity_ = MonotonicNow();
      if (!discard_[channel]) framing_->SendOutput(channel, std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    fd.reset();  // EOF (or a broken pipe): this output is complete
    return;
  }
}

void CommandSession::PumpStdin() {
  UniqueFd& w = io_->stdin_writer();
  while (w && !stdin_buf_.empty()) {
    const ssize_t n = write(w.get(), stdin_buf_.data(), stdin_buf_.size());
    if (n > 0) {
      stdin_buf_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    // The process closed its stdin: the rest has nowhere to go.
    stdin_buf_.clear();
    stdin_open_ = false;
    w.reset();
  }
  if (w && stdin_buf_.empty() && stdin_eof_) {
    w.reset();  // EOF for the process
    stdin_open_ = false;
  }
}

void CommandSession::PumpUntilBackendDone() {
  while (true) {
    PumpStdin();
    if (absl::Status s = Flush(); !s.ok())
      return Abort(StrCat("write to client failed: ", ToStd(s.message())));
    if (peer_gone_) return Abort("client went away");
    const int64_t idle_deadline = last_activity_ + options_.idle_timeout_ns;
    if (MonotonicNow() >= idle_deadline) return Abort("stream idle timeout");

    // The client and the process's output are read only while the budget has room: a process that does
    // not read its stdin stops the client, a client that does not read stops the process's output.
    const bool room = RoomFor(kReadChunk);
    pollfd fds[5];
    int n = 0;
    const int conn_i = n++;
    fds[conn_i] = {conn_.fd(), ClientEvents(room), 0};
    const int done_i = n++;
    fds[done_i] = {done_fd_.get(), POLLIN, 0};
    const int out_i = room && io_->stdout_reader() ? n++ : -1;
    if (out_i >= 0) fds[out_i] = {io_->stdout_reader().get(), POLLIN, 0};
    const int err_i = room && io_->stderr_reader() ? n++ : -1;
    if (err_i >= 0) fds[err_i] = {io_->stderr_reader().get(), POLLIN, 0};
    const int in_i = io_->stdin_writer() && !stdin_buf_.empty() ? n++ : -1;
    if (in_i >= 0) fds[in_i] = {io_->stdin_writer().get(), POLLOUT, 0};

    int timeout = room && conn_.HasBuffered() ? 0 : PollTimeoutMs(idle_deadline);
    if (!room) timeout = timeout < 0 ? kBudgetRetryMs : std::min(timeout, kBudgetRetryMs);
    if (poll(fds, n, timeout) < 0 && errno != EINTR) return Abort("poll failed");

    if (!room && ClientHungUp(fds[conn_i].revents)) return Abort("client went away");
    if (room && (fds[conn_i].revents != 0 || conn_.HasBuffered())) {
      if (absl::Status s = ReadClient(); !s.ok()) {
        (void)Flush();
        return Abort(StrCat("stream protocol error: ", ToStd(s.message())));
      }
    }
    if (out_i >= 0 && fds[out_i].revents != 0) PumpOutput(io_->stdout_reader(), kStdout, false);
    if (err_i >= 0 && fds[err_i].revents != 0) PumpOutput(io_->stderr_reader(), kStderr, false);
    if (fds[done_i].revents != 0) return Finish();
  }
}

std::string CommandSession::StatusBody() const {
  const std::vector<std::string> no_cmd;
  const std::vector<std::string>& cmd =
      std::holds_alternative<ExecParams>(request_) ? std::get<ExecParams>(request_).cmd : no_cmd;
  if (protocol_ >= CommandProtocol::kV4) return CommandStatusJson(*result_, cmd);
  return CommandStatusText(*result_, cmd);
}

void CommandSession::Finish() {
  backend_.join();
  io_->CloseBackendEnds();
  // Whatever the command wrote before exiting is in the pipes: forward it before the end marker.
  if (io_->stdout_reader()) PumpOutput(io_->stdout_reader(), kStdout, true);
  if (io_->stderr_reader()) PumpOutput(io_->stderr_reader(), kStderr, true);
  if (!result_->ok()) log::Warn(kLog, "exec/attach backend failed", {{"error", result_->status()}});
  framing_->SendEnd(StatusBody());
  if (absl::Status s = Flush(); !s.ok()) log::Debug(kLog, "final write to client failed", {{"error", s}});
}

void CommandSession::Abort(std::string_view why) {
  log::Info(kLog, "ending exec/attach session early", {{"reason", why}});
  io_->Cancel();
  // Closing our ends makes the process see EOF on stdin and EPIPE on output.
  io_->stdin_writer().reset();
  io_->stdout_reader().reset();
  io_->stderr_reader().reset();
  backend_.join();
  io_->CloseBackendEnds();
}

void CommandSession::Run() {
  if (!WaitForStreams()) return;
  if (absl::Status s = StartBackend(); !s.ok()) {
    result_ = s;
    framing_->SendEnd(StatusBody());
    (void)Flush();
    return;
  }
  PumpUntilBackendDone();
}

void Serve(Conn& conn, std::unique_ptr<CommandFraming> framing, CommandProtocol protocol,
           const CommandRequest& request, StreamingRuntime& runtime, const SessionOptions& options) {
  CommandSession session(conn, std::move(framing), protocol, request, runtime, options);
  session.Run();
}

}  // namespace

std::string CommandStatusJson(const absl::StatusOr<int>& result, const std::vector<std::string>& cmd) {
  // metav1.Status as kubelet's remotecommand server writes it (k8s.io/apimachinery/pkg/api/errors).
  nlohmann::json status = {{"metadata", nlohmann::json::object()}};
  if (result.ok() && *result == 0) {
    status["status"] = "Success";
    return Dump(status);
  }
  status["status"] = "Failure";
  if (result.ok() && *result > 0 && *result <= 255) {
    status["message"] = StrCat("command terminated with non-zero exit code: error executing command ",
                               CommandString(cmd), ", exit code ", *result);
    status["reason"] = "NonZeroExitCode";
    nlohmann::json cause = nlohmann::json::object();
    cause["reason"] = "ExitCode";
    cause["message"] = StrCat(*result);
    status["details"] = nlohmann::json::object();
    status["details"]["causes"] = nlohmann::json::array({cause});
    return Dump(status);
  }
  const absl::Status error =
      result.ok() ? absl::InternalError(StrCat("invalid exit code ", *result)) : result.status();
  const std::string message(ToStd(error.message()));
  status["message"] = InternalMessage(error);
  status["reason"] = "InternalError";
  nlohmann::json cause = nlohmann::json::object();
  cause["message"] = message;
  status["details"] = nlohmann::json::object();
  status["details"]["causes"] = nlohmann::json::array({cause});
  status["code"] = 500;
  return Dump(status);
}

std::string CommandStatusText(const absl::StatusOr<int>& result, const std::vector<std::string>& cmd) {
  if (result.ok() && *result == 0) return "";
  if (result.ok()) {
    return StrCat("command terminated with non-zero exit code: error executing command ", CommandString(cmd),
                  ", exit code ", *result);
  }
  return InternalMessage(result.status());
}

void ServeSpdyCommand(Conn& conn, CommandProtocol protocol, const CommandRequest& request,
                      StreamingRuntime& runtime, const SessionOptions& options) {
  Serve(conn, NewSpdyCommandFraming(protocol, StreamsOf(request)), protocol, request, runtime, options);
}

void ServeWebSocketCommand(Conn& conn, CommandProtocol protocol, bool base64, const CommandRequest& request,
                           StreamingRuntime& runtime, const SessionOptions& options) {
  Serve(conn, NewWebSocketCommandFraming(protocol, base64, StreamsOf(request)), protocol, request, runtime,
        options);
}

}  // namespace cricket::streaming
