// The Prometheus scrape endpoint: a minimal HTTP/1.1 server answering `GET /metrics` with the text
// exposition (Content-Type text/plain; version=0.0.4) on a TCP address ([crio.metrics] metrics_host and
// metrics_port) and optionally a unix socket (metrics_socket), as CRI-O serves it. One thread serves
// every connection in turn, each closed after its response; a client that does not send its request
// within a couple of seconds is dropped, so a stuck client delays scrapes only briefly.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::metrics {

struct EndpointOptions {
  std::string host = "127.0.0.1";  // an address or a name that resolves to one; "" or "0.0.0.0": all
  int port = 9090;                 // 0 picks a free port (see Endpoint::port())
  std::string socket_path;         // also listen here when not empty (mode 0660)
  int request_timeout_ms = 2000;
};

class Endpoint {
 public:
  // Binds and starts serving `render()` at /metrics. Errors name the address or socket that failed. A
  // stale socket file at `socket_path` is replaced; anything else there is an error.
  static absl::StatusOr<std::unique_ptr<Endpoint>> Start(const EndpointOptions& options,
                                                         std::function<std::string()> render);
  ~Endpoint();  // Stop()
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  int port() const { return port_; }
  // Stops serving, closes the listeners and removes the socket file.
  void Stop();

 private:
  Endpoint() = default;
  void Serve();
  void HandleConnection(int fd);

  EndpointOptions options_;
  std::function<std::string()> render_;
  UniqueFd tcp_;
  UniqueFd unix_;
  UniqueFd stop_;  // eventfd
  int port_ = 0;
  std::thread thread_;
};

// The response to one raw HTTP request (exposed for tests): 200 with the exposition for GET (or HEAD)
// of /metrics, 404 for other paths, 405 for other methods, 400 when the request line is malformed.
std::string HttpResponse(std::string_view request, const std::function<std::string()>& render);

}  // namespace cricket::metrics
