// A client of one registry (distribution-spec v1.1 API) for one set of credentials: manifests and
// blobs with digest verification, the token flow (docs/spec/auth/token.md) with a shared token cache,
// basic auth, retries with backoff, Range resume of interrupted blobs, and a small push API (used by
// tests and tools to put images into a local registry).
//
// Thread-safe: a pull fetches several layers at once through one client; every call is independent.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/common/digest.h"
#include "lib/image/auth.h"
#include "lib/image/auth_challenge.h"
#include "lib/image/http_transport.h"
#include "lib/image/layer_stream.h"
#include "lib/image/manifest.h"

namespace cricket::image {

// Bearer tokens by registry, realm, service, scope and the credentials that obtained them (a token
// fetched with one user's password is never handed to another caller, nor a token for one registry
// sent to another). Thread-safe; share one per process.
class TokenCache {
 public:
  std::optional<std::string> Get(const std::string& key);
  void Put(const std::string& key, std::string token, int64_t lifetime_seconds);
  void Erase(const std::string& key);

 private:
  struct Entry {
    std::string token;
    int64_t expires_at = 0;  // CLOCK_MONOTONIC ns
  };
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

class RegistryClient {
 public:
  struct Options {
    int max_attempts = 5;  // per request, and per blob without progress
    int64_t initial_backoff_ms = 200;
    int64_t max_backoff_ms = 5000;
    // OAuth2 client_id sent with identity-token (refresh token) requests.
    std::string client_id = "cricket";
  };

  // `registry` is a reference domain ("quay.io", "localhost:5000"; "docker.io" is served by
  // registry-1.docker.io). `insecure`: try https without verification, then plain http.
  RegistryClient(std::shared_ptr<HttpTransport> transport, std::shared_ptr<TokenCache> tokens,
                 std::string registry, bool insecure, std::optional<AuthConfig> credentials, Options options);
  RegistryClient(std::shared_ptr<HttpTransport> transport, std::shared_ptr<TokenCache> tokens,
                 std::string registry, bool insecure, std::optional<AuthConfig> credentials)
      : RegistryClient(std::move(transport), std::move(tokens), std::move(registry), insecure,
                       std::move(credentials), Options()) {}

  const std::string& registry() const { return registry_; }

  // GET /v2/: finds the scheme (for insecure registries) and the auth challenge. Other calls do this
  // on first use; calling it first gives an early, clear error for an unreachable registry.
  absl::Status Ping(const CallContext& ctx);

  struct FetchedManifest {
    std::string bytes;
    std::string content_type;
    Digest digest;  // of `bytes`; the requested digest, or what Docker-Content-Digest said, verified
  };
  // `reference` is a tag or a digest. The digest of the bytes must equal a requested digest, or the
  // registry's Docker-Content-Digest when fetched by tag (DataLoss otherwise). NotFound when absent.
  absl::StatusOr<FetchedManifest> GetManifest(std::string_view repository, std::string_view reference,
                                              const CallContext& ctx);

  // Delivers the blob's bytes in order, each exactly once, resuming with "Range: bytes=N-" after a
  // dropped connection (a 200 answer to a Range request is read again from the start, skipping the N
  // bytes already delivered). Verifies nothing; see FetchBlob.
  absl::Status ReadBlob(std::string_view repository, const Descriptor& blob, const ChunkSink& sink,
                        const CallContext& ctx);
  // ReadBlob through a BlobVerifier: DataLoss unless the size and digest match (after the sink saw
  // the bytes).
  absl::Status FetchBlob(std::string_view repository, const Descriptor& blob, const ChunkSink& sink,
                         const CallContext& ctx);
  // A small blob (a config) into memory, verified; ResourceExhausted above `limit`.
  absl::StatusOr<std::string> FetchBlobToString(std::string_view repository, const Descriptor& blob,
                                                int64_t limit, const CallContext& ctx);
  // A layer: verified compressed bytes through the decompressor, uncompressed bytes to `sink`.
  // Errors (digest or size mismatch, truncation) come after the sink has seen data: discard it.
  absl::StatusOr<LayerStreamResult> FetchLayer(std::string_view repository, const Descriptor& layer,
                                               const ChunkSink& sink, const CallContext& ctx,
                                               LayerDecoder::Options options = {});

  // Push API (monolithic uploads).
  absl::StatusOr<bool> HasBlob(std::string_view repository, const Digest& digest, const CallContext& ctx);
  // Uploads `data` unless the registry already has it; returns its digest.
  absl::StatusOr<Digest> PushBlob(std::string_view repository, std::string_view data, const CallContext& ctx);
  // PUT /v2/<repository>/manifests/<reference>; returns the manifest's digest.
  absl::StatusOr<Digest> PushManifest(std::string_view repository, std::string_view reference,
                                      std::string_view media_type, std::string_view bytes,
                                      const CallContext& ctx);

  // GET /v2/<repository>/tags/list, following pagination links.
  absl::StatusOr<std::vector<std::string>> ListTags(std::string_view repository, const CallContext& ctx);
  // DELETE /v2/<repository>/manifests/<digest> (the registry must allow deletes).
  absl::Status DeleteManifest(std::string_view repository, const Digest& digest, const CallContext& ctx);
  // GET /v2/ with the client's credentials: Unauthenticated (a clear "wrong username or password")
  // when the registry refuses them.
  absl::Status CheckCredentials(const CallContext& ctx);

  // The host contacted for a registry domain (docker.io → registry-1.docker.io).
  static std::string ApiHost(std::string_view registry);

 private:
  struct Request {
    std::string method = "GET";
    std::string url;  // absolute
    std::vector<std::pair<std::string, std::string>> headers;
    std::string scope;  // "repository:<name>:pull[,push]"; empty for /v2/
    std::string body;
    int64_t max_body = 1 << 20;
  };
  // One exchange with auth: adds credentials, answers one 401 challenge and tries again.
  absl::StatusOr<HttpResponse> SendOnce(const Request& req, const CallContext& ctx, BodyReceiver* receiver);
  // SendOnce with retries on transport errors, 429 and 5xx.
  absl::StatusOr<HttpResponse> Send(const Request& req, const CallContext& ctx);
  absl::StatusOr<std::string> BaseUrl(const CallContext& ctx);
  absl::StatusOr<std::string> AuthorizationFor(const std::string& scope, const std::string& extra_scope,
                                               const CallContext& ctx, bool refresh);
  absl::StatusOr<TokenResponse> FetchToken(const AuthChallenge& ch, const std::vector<std::string>& scopes,
                                           const CallContext& ctx);
  absl::Status Backoff(int attempt, const CallContext& ctx);
  std::string RepoUrl(const std::string& base, std::string_view repository, std::string_view kind,
                      std::string_view ref) const;

  std::shared_ptr<HttpTransport> transport_;
  std::shared_ptr<TokenCache> tokens_;
  std::string registry_;
  std::string host_;
  bool insecure_;
  std::optional<AuthConfig> credentials_;
  std::string fingerprint_;
  Options options_;

  absl::Mutex mu_;
  std::string base_url_ ABSL_GUARDED_BY(mu_);  // "https://host" once known
  std::optional<AuthChallenge> challenge_ ABSL_GUARDED_BY(mu_);
  bool pinged_ ABSL_GUARDED_BY(mu_) = false;
};

// Shares clients across pulls: one per (registry, insecure, credentials), so that pings, challenges and
// connections are reused; a client is replaced after `ttl_seconds` (a registry may change its auth or
// TLS setup). Thread-safe.
class RegistryClientPool {
 public:
  explicit RegistryClientPool(std::shared_ptr<HttpTransport> transport, RegistryClient::Options options = {},
                              int64_t ttl_seconds = 600);
  std::shared_ptr<RegistryClient> Get(const std::string& registry, bool insecure,
                                      const std::optional<AuthConfig>& credentials);
  const std::shared_ptr<TokenCache>& tokens() const { return tokens_; }

 private:
  struct Entry {
    std::shared_ptr<RegistryClient> client;
    int64_t created = 0;
  };
  std::shared_ptr<HttpTransport> transport_;
  std::shared_ptr<TokenCache> tokens_;
  RegistryClient::Options options_;
  int64_t ttl_ns_;
  absl::Mutex mu_;
  std::map<std::string, Entry> clients_ ABSL_GUARDED_BY(mu_);
};

// Turns a registry's error response into a Status: 401 Unauthenticated, 403 PermissionDenied,
// 404 NotFound, 429 ResourceExhausted, 5xx Unavailable, anything else Unknown; the message carries
// `what`, the status and the registry's error codes and messages (never headers or credentials).
absl::Status HttpError(std::string_view what, const HttpResponse& resp);

}  // namespace cricket::image
