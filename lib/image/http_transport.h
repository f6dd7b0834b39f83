// HTTP(S) for registry traffic over libcurl: TLS with the system CAs plus containers-certs.d(5)
// directories (HOST[:PORT]/*.crt CAs, *.cert/*.key client pairs), manual redirects that drop
// credentials when they leave the origin, connect and no-progress timeouts, and cancellation.
// Retries are the caller's business (RegistryClient): Do() makes one exchange (plus its redirects).
//
// Thread-safe: concurrent Do() calls each take a curl easy handle from a pool; handles keep their
// connections alive between calls, so sequential requests to one registry reuse connections.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/image/layer_stream.h"

namespace cricket::image {

// Cancellation and deadline of one operation (a pull: CRI PullImage carries a deadline).
struct CallContext {
  const std::atomic<bool>* cancelled = nullptr;  // set to true from any thread to stop
  int64_t deadline = 0;                          // CLOCK_MONOTONIC nanoseconds; 0: none

  // Cancelled or DeadlineExceeded once the operation must stop; OK otherwise.
  absl::Status Check() const;
  // A context that expires `timeout_ms` from now.
  static CallContext WithTimeout(int64_t timeout_ms, const std::atomic<bool>* cancelled = nullptr);
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>>
      headers;  // "Authorization" is dropped on cross-origin redirects
  // Request body: `body`, or `body_reader` (fills a buffer, returns bytes written, 0 at the end) with
  // `body_size` bytes in total.
  std::string body;
  std::function<size_t(char* buf, size_t len)> body_reader;
  int64_t body_size = -1;
  // Skip TLS verification, and allow redirects to plain http (registries marked insecure).
  bool insecure = false;
  bool follow_redirects = true;
  // A body not streamed to a receiver is collected up to this size; larger is ResourceExhausted.
  int64_t max_body = 1 << 20;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;                                          // when not streamed to a receiver
  std::string url;    // the URL that produced this response (after redirects)
  int redirects = 0;  // how many redirects were followed

  // The first value of a header (name in any case), "" when absent.
  std::string Header(std::string_view name) const;
  std::vector<std::string> Headers(std::string_view name) const;
};

// Streams the body of the final 2xx response: `accept` sees its head first and says whether to stream
// (true) or to collect the body into HttpResponse::body (false, or an error to stop).
struct BodyReceiver {
  std::function<absl::StatusOr<bool>(const HttpResponse& head)> accept;
  ChunkSink sink;
};

// "scheme://host[:port]" parts of a URL; nullopt when it does not parse.
struct UrlParts {
  std::string scheme;     // lowercased
  std::string host_port;  // as written ("r.io", "127.0.0.1:5000", "[::1]:5000")
  std::string path_and_query;
};
std::optional<UrlParts> ParseUrl(std::string_view url);

// Transport errors are Unavailable (connection refused or dropped, DNS failure, no-progress timeout:
// worth retrying), FailedPrecondition (TLS verification or handshake failures: not), Cancelled or
// DeadlineExceeded (from the CallContext), or the receiver's own error.
class HttpTransport {
 public:
  struct Options {
    // containers-certs.d(5) roots, searched in order for a HOST[:PORT] directory.
    std::vector<std::string> certs_dirs = {"/etc/containers/certs.d", "/etc/docker/certs.d"};
    int64_t connect_timeout_ms = 30'000;
    // Abort a transfer that moves fewer than low_speed_bytes per second for low_speed_time_s seconds.
    int64_t low_speed_time_s = 30;
    int64_t low_speed_bytes = 1;
    int max_redirects = 10;
    std::string user_agent = "cricket";
  };

  HttpTransport();
  explicit HttpTransport(Options options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  absl::StatusOr<HttpResponse> Do(const HttpRequest& request, const CallContext& ctx,
                                  BodyReceiver* receiver = nullptr);

  const Options& options() const { return options_; }

  // The certs.d files for "host[:port]" (exposed for tests).
  struct TlsFiles {
    std::string ca_pem;  // concatenated *.crt
    std::string client_cert;
    std::string client_key;
  };
  absl::StatusOr<TlsFiles> LoadTlsFiles(std::string_view host_port) const;

 private:
  struct Handle;
  struct Exchange;
  std::unique_ptr<Handle> Acquire();
  void Release(std::unique_ptr<Handle> h);
  absl::StatusOr<std::shared_ptr<const TlsFiles>> TlsFor(const std::string& host_port);
  // `curl` is a CURL*, `exchange` an Exchange* (kept out of this header).
  void SetTransferOptions(void* curl, void* exchange, const CallContext& ctx, char* errbuf) const;
  absl::StatusOr<std::shared_ptr<const TlsFiles>> SetTlsOptions(void* curl, const UrlParts& url,
                                                                bool insecure);
  absl::Status Perform(Handle& h, const HttpRequest& req, const std::string& url, bool same_origin,
                       const CallContext& ctx, BodyReceiver* receiver, HttpResponse* resp);

  Options options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_ ABSL_GUARDED_BY(mu_);
  struct CachedTls {
    std::shared_ptr<const TlsFiles> files;
    int64_t loaded_at = 0;
  };
  std::map<std::string, CachedTls> tls_cache_ ABSL_GUARDED_BY(mu_);
  std::string system_ca_pem_ ABSL_GUARDED_BY(mu_);
  bool system_ca_loaded_ ABSL_GUARDED_BY(mu_) = false;
};

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view s);

}  // namespace cricket::image
