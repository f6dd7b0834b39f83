// Layers that failed because of what they are, remembered for a while, so that a retried pull
// (kubelet retries a failed pull with back-off, and every pod using the image asks again) does not
// download and unpack the same decompression bomb each time.
//
// Remembered: layer refusals (storage::IsLayerRefused: a max_layer_* bound crossed, a hostile entry,
// a diff_id that does not match the content) and free-space refusals that say how much the layer
// needs (storage::LayerNeedsBytes; answered again only while the store still lacks that room).
// Transport errors, cancellations and per-image bounds are not properties of the layer and are never
// remembered.
//
// Keyed by where the layer comes from (registry and repository), its digest, the diff_id the image
// claims for it and the bounds in force: a registry cannot poison the entry of a layer that another
// registry serves, and changed bounds start afresh. Bounded memory: at most `capacity` entries (the
// oldest make room), messages cut to kMaxMessage bytes. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace cricket::image {

class FailedLayerCache {
 public:
  static constexpr size_t kMaxMessage = 1024;

  struct Failure {
    absl::Status error;
    std::optional<uint64_t> needs_bytes;  // a free-space refusal: what the layer needs at least
    int64_t expires = 0;                  // CLOCK_MONOTONIC ns
  };

  explicit FailedLayerCache(std::function<int64_t()> now = nullptr);

  static std::string Key(std::string_view registry, std::string_view repository, std::string_view digest,
                         std::string_view diff_id, std::string_view bounds);

  // Remembers `error` for `ttl_ns` when it is a failure of the layer itself (see above); returns
  // whether it did. ttl_ns ≤ 0 or capacity 0: nothing is remembered.
  bool Remember(const std::string& key, const absl::Status& error, int64_t ttl_ns, size_t capacity);
  // The unexpired failure remembered for `key`.
  std::optional<Failure> Find(const std::string& key);
  void Forget(const std::string& key);
  size_t size();

 private:
  std::function<int64_t()> now_;
  absl::Mutex mu_;
  std::map<std::string, Failure> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::image
