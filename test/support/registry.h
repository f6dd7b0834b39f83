// A real registry for tests: Debian's docker-registry (distribution 2.8) started on 127.0.0.1 with a
// free port, a temporary config and a temporary storage directory; optionally with TLS from a test CA
// (made with the openssl CLI), htpasswd basic auth, bearer tokens from a test token issuer, or a
// storage redirect to a second server. Plus the small helper servers of registry_helper.py (token
// issuer, fault-injecting proxy, static file server). Everything is stopped and removed by the
// destructors. Never touches the system's registry service or /etc.
//
//   if (!TestRegistry::Available()) GTEST_SKIP() << "docker-registry is not installed";
//   auto reg = TestRegistry::Start({.tls = true, .htpasswd_users = {{"alice", "secret"}}});
//   ASSERT_TRUE(reg.ok()) << reg.status();
//   (*reg)->host();       // "127.0.0.1:40123": the reference domain to push and pull
//   (*reg)->certs_dir();  // a containers-certs.d root trusting the test CA for that host
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cricket::testing {

// A child process, killed (SIGTERM, then SIGKILL) and reaped by the destructor.
class ChildProcess {
 public:
  // Starts `argv` (argv[0] an absolute path) with stdout and stderr appended to `log_path`.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  // Starts a registry_helper.py server (`args` after the script name) and waits for its "PORT n" line.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> StartHelper(const std::vector<std::string>& args,
                                                                   const std::string& log_path);
  ~ChildProcess();
  pid_t pid() const { return pid_; }
  int port() const { return port_; }  // helpers only
  bool Exited();                      // true once the process has ended (it is then reaped)
  void Stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A certificate authority for one test, and certificates it issues.
class TestCa {
 public:
  // Creates ca.crt/ca.key (EC P-256) in `dir`.
  static absl::StatusOr<TestCa> Create(const std::string& dir);
  struct Pair {
    std::string cert;  // PEM file paths
    std::string key;
  };
  // A leaf certificate for 127.0.0.1 and localhost; `client` makes a client-auth certificate.
  absl::StatusOr<Pair> Issue(const std::string& name, bool client = false) const;
  const std::string& ca_cert() const { return ca_cert_; }

 private:
  std::string dir_;
  std::string ca_cert_;
  std::string ca_key_;
};

class TestRegistry {
 public:
  struct Options {
    bool tls = false;                  // https with a certificate from a test CA
    bool require_client_cert = false;  // with tls: clients must present a certificate from the test CA
    std::vector<std::pair<std::string, std::string>> htpasswd_users = {};  // basic auth (user, password)
    bool token_auth = false;  // `auth: token` backed by a token issuer (see token_* options)
    std::vector<std::pair<std::string, std::string>> token_users = {};     // issuer's Basic credentials
    std::vector<std::pair<std::string, std::string>> refresh_tokens = {};  // OAuth2 refresh token → user
    bool token_anonymous_pull = false;  // anonymous token requests get pull access
    bool redirect_blobs = false;        // 307 blob downloads to a static server on another port
  };

  // Whether /usr/bin/docker-registry exists (tests skip otherwise).
  static bool Available();
  static absl::StatusOr<std::unique_ptr<TestRegistry>> Start(const Options& options);
  static absl::StatusOr<std::unique_ptr<TestRegistry>> Start() { return Start(Options()); }
  ~TestRegistry();

  std::string host() const;  // "127.0.0.1:PORT"
  int port() const { return port_; }
  std::string url() const;  // "http[s]://127.0.0.1:PORT"
  const std::string& dir() const { return dir_; }
  std::string storage_dir() const { return dir_ + "/storage"; }
  // A containers-certs.d root with HOST:PORT/ca.crt (and client.cert/client.key with
  // require_client_cert); empty without tls.
  std::string certs_dir() const { return tls_ ? dir_ + "/certs.d" : std::string(); }
  const TestCa* ca() const { return ca_.get(); }
  // Where the registry stores a blob's bytes (to corrupt it on purpose).
  std::string BlobDataPath(const std::string& digest) const;
  std::string registry_log() const;
  // Requests seen by the token issuer / the redirect target, one JSON object each.
  std::vector<nlohmann::json> token_requests() const;
  std::vector<nlohmann::json> redirect_requests() const;
  int token_issuer_port() const;
  int redirect_port() const;

  // Starts a registry_helper.py proxy in front of this registry (plain http upstreams only).
  // `extra` are more proxy flags: "--drop-blob-after", "1000", "--ignore-range", ...
  absl::StatusOr<std::unique_ptr<ChildProcess>> StartProxy(const std::vector<std::string>& extra,
                                                           const std::string& log_path) const;

 private:
  TestRegistry() = default;
  absl::Status Launch(const Options& options);

  std::string dir_;
  int port_ = 0;
  bool tls_ = false;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<ChildProcess> registry_;
  std::unique_ptr<ChildProcess> token_issuer_;
  std::unique_ptr<ChildProcess> static_server_;
};

// Reads a file of JSON lines (helper logs); unparsable lines are skipped.
std::vector<nlohmann::json> ReadJsonLines(const std::string& path);

// Path of registry_helper.py.
std::string RegistryHelperScript();

}  // namespace cricket::testing
