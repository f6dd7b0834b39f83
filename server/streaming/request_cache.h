// Pending streaming requests by token (the CRI Exec/Attach/PortForward responses carry the token in
// their URL). Tokens are 8 characters of raw base64url (6 random bytes, like kubelet's server), valid for
// a limited time and consumed by their first use.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/streaming/runtime.h"

namespace cricket::streaming {

using CachedRequest = std::variant<ExecParams, AttachParams, PortForwardParams>;

class RequestCache {
 public:
  struct Options {
    int64_t ttl_ns = 60LL * 1000 * 1000 * 1000;
    size_t max_entries = 1000;
    // Clock (CLOCK_MONOTONIC ns) and token source, replaceable by tests.
    std::function<int64_t()> now;
    std::function<std::string()> new_token;
  };
  RequestCache();
  explicit RequestCache(Options options);

  // Stores `request` and returns its token; ResourceExhausted when max_entries unexpired requests are
  // pending.
  absl::StatusOr<std::string> Insert(CachedRequest request);
  // Removes and returns the request for `token`; nullopt when unknown, used or expired.
  std::optional<CachedRequest> Consume(const std::string& token);
  size_t size() const;

 private:
  struct Entry {
    CachedRequest request;
    int64_t expires;
  };
  void EvictExpiredLocked(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::streaming
