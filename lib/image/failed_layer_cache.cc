#include "lib/image/failed_layer_cache.h"

#include <algorithm>

#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/storage/tar_apply.h"

namespace cricket::image {

FailedLayerCache::FailedLayerCache(std::function<int64_t()> now) : now_(std::move(now)) {
  if (!now_) now_ = MonotonicNow;
}

std::string FailedLayerCache::Key(std::string_view registry, std::string_view repository,
                                  std::string_view digest, std::string_view diff_id,
                                  std::string_view bounds) {
  return StrCat(registry, "/", repository, "@", digest, "\n", diff_id, "\n", bounds);
}

bool FailedLayerCache::Remember(const std::string& key, const absl::Status& error, int64_t ttl_ns,
                                size_t capacity) {
  if (ttl_ns <= 0 || capacity == 0 || error.ok()) return false;
  std::optional<uint64_t> needs = storage::LayerNeedsBytes(error);
  if (!storage::IsLayerRefused(error) && !(absl::IsResourceExhausted(error) && needs)) return false;
  std::string_view msg = ToStd(error.message());
  Failure f{absl::Status(error.code(), std::string(msg.substr(0, kMaxMessage))), needs, now_() + ttl_ns};
  absl::MutexLock l(&mu_);
  int64_t now = now_();
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
  }
  while (entries_.size() >= capacity && !entries_.contains(key)) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    });
    entries_.erase(oldest);
  }
  entries_[key] = std::move(f);
  return true;
}

std::optional<FailedLayerCache::Failure> FailedLayerCache::Find(const std::string& key) {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= now_()) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void FailedLayerCache::Forget(const std::string& key) {
  absl::MutexLock l(&mu_);
  entries_.erase(key);
}

size_t FailedLayerCache::size() {
  absl::MutexLock l(&mu_);
  return entries_.size();
}

}  // namespace cricket::image
