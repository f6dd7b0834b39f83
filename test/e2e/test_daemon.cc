#include "test/e2e/test_daemon.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::e2e {

std::string DaemonBinary() { return CRICKET_DAEMON_PATH; }

TestDaemon::TestDaemon() {
  char tmpl[] = "/tmp/cricket-e2e-XXXXXX";
  if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  (void)MkdirAll(cni_dir());
}

TestDaemon::~TestDaemon() {
  if (pid_ > 0) {
    if (!Stop(SIGTERM, 15000).ok()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  if (!dir_.empty()) (void)RemoveAll(dir_);
}

absl::Status TestDaemon::WriteConfig() {
  std::string toml = StrCat("[crio]\nroot = \"", root(), "\"\nrunroot = \"", runroot(), "\"\nlog_dir = \"",
                            dir_, "/logs\"\n\n[crio.api]\nlisten = \"", socket_path(),
                            "\"\n\n[crio.runtime]\nlog_level = \"debug\"\n\n",
                            "[crio.network]\nnetwork_dir = \"", cni_dir(), "\"\n");
  RETURN_IF_ERROR(WriteFileAtomic(config_path(), toml));
  // Test-specific settings go in a drop-in, so they may reopen any table of the main file.
  RETURN_IF_ERROR(MkdirAll(dir_ + "/conf.d"));
  std::string drop_in = dir_ + "/conf.d/50-test.conf";
  if (extra_config_.empty()) return RemoveAll(drop_in);
  return WriteFileAtomic(drop_in, extra_config_);
}

absl::Status TestDaemon::Start() {
  RETURN_IF_ERROR(Spawn());
  int64_t deadline = MonotonicNow() + 10'000'000'000LL;
  while (MonotonicNow() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(StrCat("cricketd exited during start: ", Stderr()));
    }
    if (PathExists(socket_path())) {
      // A fresh channel per attempt: a channel that met a stale socket would wait out its backoff.
      auto stub = RuntimeStub();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
      runtime::v1::VersionRequest req;
      runtime::v1::VersionResponse resp;
      if (stub->Version(&ctx, req, &resp).ok()) return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(StrCat("cricketd did not answer within 10 s: ", Stderr()));
}

absl::Status TestDaemon::Spawn() {
  if (pid_ > 0) return absl::FailedPreconditionError("cricketd is running already");
  RETURN_IF_ERROR(WriteConfig());
  std::string config = config_path();
  std::string config_dir = dir_ + "/conf.d";
  std::string err = stderr_path();
  pid_ = ::fork();
  if (pid_ < 0) return ErrnoError("fork", "cricketd");
  if (pid_ == 0) {
    int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) ::dup2(fd, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::string bin = DaemonBinary();
    ::execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), "--config-dir", config_dir.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> TestDaemon::Stop(int signal, int timeout_ms) {
  if (pid_ <= 0) return absl::FailedPreconditionError("cricketd is not running");
  ::kill(pid_, signal);
  int64_t deadline = MonotonicNow() + static_cast<int64_t>(timeout_ms) * 1000000;
  while (MonotonicNow() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::DeadlineExceededError("cricketd did not exit");
}

TestDaemon::Result TestDaemon::RunOnce(const std::vector<std::string>& args) {
  Result result;
  if (!WriteConfig().ok()) return result;
  std::string out_path = dir_ + "/once.stdout";
  std::string err_path = dir_ + "/once.stderr";
  std::string config = config_path();
  std::string config_dir = dir_ + "/conf.d";
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    std::vector<std::string> all = {DaemonBinary(), "--config", config, "--config-dir", config_dir};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path).value_or("");
  result.err = ReadFile(err_path).value_or("");
  return result;
}

std::string TestDaemon::Stderr() const { return ReadFile(stderr_path()).value_or(""); }

std::unique_ptr<runtime::v1::RuntimeService::Stub> TestDaemon::RuntimeStub() {
  return runtime::v1::RuntimeService::NewStub(
      grpc::CreateChannel("unix:" + socket_path(), grpc::InsecureChannelCredentials()));
}

std::unique_ptr<runtime::v1::ImageService::Stub> TestDaemon::ImageStub() {
  return runtime::v1::ImageService::NewStub(
      grpc::CreateChannel("unix:" + socket_path(), grpc::InsecureChannelCredentials()));
}

}  // namespace cricket::e2e
