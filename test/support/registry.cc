#include "test/support/registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::testing {

namespace {

constexpr char kRegistryBinary[] = "/usr/bin/docker-registry";
constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr char kHtpasswd[] = "/usr/bin/htpasswd";
constexpr char kPython[] = "/usr/bin/python3";

[[noreturn]] void ExecChild(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
  if (out_fd >= 0) ::dup2(out_fd, STDOUT_FILENO);
  if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

// Runs a command to completion with its output appended to `log`; error with the log on failure.
absl::Status RunCommand(const std::vector<std::string>& argv, const std::string& log) {
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", log);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return ErrnoError("fork", argv[0]);
  }
  if (pid == 0) ExecChild(argv, fd, fd);
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(StrCat(Join(argv, " "), " failed: ", ReadFile(log).value_or("")));
}

absl::StatusOr<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", "tcp");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status s = ErrnoError("bind", "127.0.0.1:0");
    ::close(fd);
    return s;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  ASSIGN_OR_RETURN(std::string data, ReadFile(from));
  return WriteFileAtomic(to, data, 0600);
}

}  // namespace

std::string RegistryHelperScript() { return StrCat(CRICKET_TEST_SUPPORT_DIR, "/registry_helper.py"); }

std::vector<nlohmann::json> ReadJsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::string text = ReadFile(path).value_or("");
  for (std::string_view line : Split(text, '\n')) {
    if (TrimSpace(line).empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// ChildProcess

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                                  const std::string& log_path) {
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", log_path);
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->pid_ = ::fork();
  if (child->pid_ < 0) {
    ::close(fd);
    return ErrnoError("fork", argv[0]);
  }
  if (child->pid_ == 0) ExecChild(argv, fd, fd);
  ::close(fd);
  return child;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::StartHelper(const std::vector<std::string>& args,
                                                                        const std::string& log_path) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoError("pipe2", "helper stdout");
  int err = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err < 0) return ErrnoError("open", log_path);
  std::vector<std::string> argv = {kPython, RegistryHelperScript()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->pid_ = ::fork();
  if (child->pid_ == 0) ExecChild(argv, pipefd[1], err);
  ::close(pipefd[1]);
  ::close(err);
  if (child->pid_ < 0) {
    ::close(pipefd[0]);
    return ErrnoError("fork", "registry_helper.py");
  }
  std::string out;
  int64_t deadline = MonotonicNow() + 20'000'000'000LL;
  while (out.find('\n') == std::string::npos && MonotonicNow() < deadline) {
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    ssize_t n = ::read(pipefd[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  std::string_view line = TrimSpace(std::string_view(out).substr(0, out.find('\n')));
  if (!line.starts_with("PORT ") || !ParseInt64(line.substr(5))) {
    return absl::InternalError(StrCat("registry_helper.py ", Join(args, " "), " did not start: ", out,
                                      ReadFile(log_path).value_or("")));
  }
  child->port_ = static_cast<int>(*ParseInt64(line.substr(5)));
  return child;
}

bool ChildProcess::Exited() {
  if (pid_ <= 0) return true;
  if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
    pid_ = -1;
    return true;
  }
  return false;
}

void ChildProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int64_t deadline = MonotonicNow() + 5'000'000'000LL;
  while (MonotonicNow() < deadline) {
    if (Exited()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

ChildProcess::~ChildProcess() { Stop(); }

// ---------------------------------------------------------------------------------------------------
// TestCa

absl::StatusOr<TestCa> TestCa::Create(const std::string& dir) {
  RETURN_IF_ERROR(MkdirAll(dir, 0700));
  TestCa ca;
  ca.dir_ = dir;
  ca.ca_cert_ = dir + "/ca.crt";
  ca.ca_key_ = dir + "/ca.key";
  RETURN_IF_ERROR(RunCommand({kOpenssl,
                              "req",
                              "-x509",
                              "-newkey",
                              "ec",
                              "-pkeyopt",
                              "ec_paramgen_curve:prime256v1",
                              "-nodes",
                              "-keyout",
                              ca.ca_key_,
                              "-out",
                              ca.ca_cert_,
                              "-days",
                              "2",
                              "-subj",
                              "/CN=cricket-test-ca",
                              "-addext",
                              "basicConstraints=critical,CA:TRUE",
                              "-addext",
                              "keyUsage=critical,keyCertSign,cRLSign"},
                             dir + "/openssl.log"));
  return ca;
}

absl::StatusOr<TestCa::Pair> TestCa::Issue(const std::string& name, bool client) const {
  Pair p{StrCat(dir_, "/", name, ".crt"), StrCat(dir_, "/", name, ".key")};
  std::string csr = StrCat(dir_, "/", name, ".csr");
  std::string ext = StrCat(dir_, "/", name, ".ext");
  std::string log = dir_ + "/openssl.log";
  RETURN_IF_ERROR(
      WriteFileAtomic(ext, StrCat("subjectAltName=IP:127.0.0.1,DNS:localhost\n",
                                  "basicConstraints=CA:FALSE\n", "keyUsage=digitalSignature\n",
                                  "extendedKeyUsage=", client ? "clientAuth" : "serverAuth", "\n")));
  RETURN_IF_ERROR(RunCommand({kOpenssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                              "-nodes", "-keyout", p.key, "-out", csr, "-subj", StrCat("/CN=", name)},
                             log));
  RETURN_IF_ERROR(
      RunCommand({kOpenssl, "x509", "-req", "-in", csr, "-CA", ca_cert_, "-CAkey", ca_key_, "-CAcreateserial",
                  "-CAserial", dir_ + "/ca.srl", "-out", p.cert, "-days", "2", "-extfile", ext},
                 log));
  return p;
}

// ---------------------------------------------------------------------------------------------------
// TestRegistry

bool TestRegistry::Available() { return ::access(kRegistryBinary, X_OK) == 0; }

std::string TestRegistry::host() const { return StrCat("127.0.0.1:", port_); }
std::string TestRegistry::url() const { return StrCat(tls_ ? "https://" : "http://", host()); }
std::string TestRegistry::registry_log() const { return ReadFile(dir_ + "/registry.log").value_or(""); }
std::vector<nlohmann::json> TestRegistry::token_requests() const {
  return ReadJsonLines(dir_ + "/token.log");
}
std::vector<nlohmann::json> TestRegistry::redirect_requests() const {
  return ReadJsonLines(dir_ + "/redirect.log");
}
int TestRegistry::token_issuer_port() const { return token_issuer_ ? token_issuer_->port() : 0; }
int TestRegistry::redirect_port() const { return static_server_ ? static_server_->port() : 0; }

std::string TestRegistry::BlobDataPath(const std::string& digest) const {
  std::string hex = digest.substr(digest.find(':') + 1);
  return StrCat(storage_dir(), "/docker/registry/v2/blobs/sha256/", hex.substr(0, 2), "/", hex, "/data");
}

absl::StatusOr<std::unique_ptr<TestRegistry>> TestRegistry::Start(const Options& options) {
  auto reg = std::unique_ptr<TestRegistry>(new TestRegistry());
  char tmpl[] = "/tmp/cricket-registry-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return ErrnoError("mkdtemp", tmpl);
  reg->dir_ = tmpl;
  RETURN_IF_ERROR(reg->Launch(options));
  return reg;
}

absl::Status TestRegistry::Launch(const Options& o) {
  tls_ = o.tls;
  RETURN_IF_ERROR(MkdirAll(storage_dir()));
  std::string http_extra;
  std::string auth;
  std::string middleware;
  TestCa::Pair server;
  if (o.tls) {
    ASSIGN_OR_RETURN(TestCa ca, TestCa::Create(dir_ + "/ca"));
    ca_ = std::make_unique<TestCa>(std::move(ca));
    ASSIGN_OR_RETURN(server, ca_->Issue("server"));
    http_extra = StrCat("  tls:\n    certificate: ", server.cert, "\n    key: ", server.key, "\n");
    if (o.require_client_cert) StrAppend(&http_extra, "    clientcas:\n      - ", ca_->ca_cert(), "\n");
  }
  if (!o.htpasswd_users.empty()) {
    std::string file = dir_ + "/htpasswd";
    bool first = true;
    for (const auto& [user, password] : o.htpasswd_users) {
      std::vector<std::string> argv = {kHtpasswd, "-B", "-b"};
      if (first) argv.push_back("-c");
      argv.insert(argv.end(), {file, user, password});
      RETURN_IF_ERROR(RunCommand(argv, dir_ + "/htpasswd.log"));
      first = false;
    }
    auth = StrCat("auth:\n  htpasswd:\n    realm: cricket-test\n    path: ", file, "\n");
  }
  if (o.token_auth) {
    std::string key = dir_ + "/token.key";
    std::string cert = dir_ + "/token.crt";
    RETURN_IF_ERROR(RunCommand({kOpenssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                                "-out", cert, "-days", "2", "-subj", "/CN=cricket-test-token-signer"},
                               dir_ + "/openssl.log"));
    std::vector<std::string> args = {
        "token-issuer",     "--key", key, "--cert", cert, "--issuer", "cricket-test-issuer", "--log",
        dir_ + "/token.log"};
    for (const auto& [u, p] : o.token_users) args.insert(args.end(), {"--user", StrCat(u, ":", p)});
    for (const auto& [t, u] : o.refresh_tokens)
      args.insert(args.end(), {"--refresh-token", StrCat(t, ":", u)});
    if (o.token_anonymous_pull) args.push_back("--anonymous-pull");
    ASSIGN_OR_RETURN(token_issuer_, ChildProcess::StartHelper(args, dir_ + "/token-issuer.stderr"));
    auth = StrCat("auth:\n  token:\n    realm: http://127.0.0.1:", token_issuer_->port(),
                  "/token\n    service: cricket-test-registry\n    issuer: cricket-test-issuer\n",
                  "    rootcertbundle: ", cert, "\n");
  }
  if (o.redirect_blobs) {
    ASSIGN_OR_RETURN(static_server_, ChildProcess::StartHelper(
                                         {"static", "--dir", storage_dir(), "--log", dir_ + "/redirect.log"},
                                         dir_ + "/static.stderr"));
    middleware = StrCat("middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: ",
                        "http://127.0.0.1:", static_server_->port(), "/\n");
  }
  absl::Status last = absl::InternalError("docker-registry did not start");
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSIGN_OR_RETURN(port_, FreePort());
    std::string config = StrCat(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n", "storage:\n  filesystem:\n",
        "    rootdirectory: ", storage_dir(), "\n  delete:\n    enabled: true\n",
        "  maintenance:\n    uploadpurging:\n      enabled: false\n", "http:\n  addr: 127.0.0.1:", port_,
        "\n  secret: ", RandomHexId(), "\n", http_extra, auth, middleware);
    std::string config_path = dir_ + "/config.yml";
    RETURN_IF_ERROR(WriteFileAtomic(config_path, config));
    ASSIGN_OR_RETURN(registry_,
                     ChildProcess::Start({kRegistryBinary, "serve", config_path}, dir_ + "/registry.log"));
    int64_t deadline = MonotonicNow() + 15'000'000'000LL;
    while (MonotonicNow() < deadline && !registry_->Exited()) {
      if (CanConnect(port_)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!registry_->Exited() && CanConnect(port_)) {
      last = absl::OkStatus();
      break;
    }
    registry_.reset();
    last = absl::InternalError(StrCat("docker-registry did not start on port ", port_, ": ", registry_log()));
  }
  RETURN_IF_ERROR(last);
  if (o.tls) {
    std::string d = StrCat(certs_dir(), "/", host());
    RETURN_IF_ERROR(MkdirAll(d));
    RETURN_IF_ERROR(CopyFile(ca_->ca_cert(), d + "/ca.crt"));
    if (o.require_client_cert) {
      ASSIGN_OR_RETURN(TestCa::Pair client, ca_->Issue("client", true));
      RETURN_IF_ERROR(CopyFile(client.cert, d + "/client.cert"));
      RETURN_IF_ERROR(CopyFile(client.key, d + "/client.key"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ChildProcess>> TestRegistry::StartProxy(const std::vector<std::string>& extra,
                                                                       const std::string& log_path) const {
  std::vector<std::string> args = {"proxy", "--upstream", url(), "--log", log_path};
  args.insert(args.end(), extra.begin(), extra.end());
  return ChildProcess::StartHelper(args, log_path + ".stderr");
}

TestRegistry::~TestRegistry() {
  registry_.reset();
  token_issuer_.reset();
  static_server_.reset();
  if (!dir_.empty()) (void)RemoveAll(dir_);
}

}  // namespace cricket::testing
