#include "server/streaming/request_cache.h"

#include "lib/common/digest.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/base64.h"

namespace cricket::streaming {

RequestCache::RequestCache() : RequestCache(Options{}) {}

RequestCache::RequestCache(Options options) : options_(std::move(options)) {
  if (!options_.now) options_.now = MonotonicNow;
  if (!options_.new_token) options_.new_token = [] { return Base64RawUrlEncode(RandomBytes(6)); };
}

void RequestCache::EvictExpiredLocked(int64_t now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
  }
}

absl::StatusOr<std::string> RequestCache::Insert(CachedRequest request) {
  const int64_t now = options_.now();
  absl::MutexLock lock(&mu_);
  EvictExpiredLocked(now);
  if (entries_.size() >= options_.max_entries) {
    return absl::ResourceExhaustedError(
        StrCat("too many pending streaming requests (", options_.max_entries, "); try again later"));
  }
  // 48 random bits make a collision unlikely, not impossible: draw again rather than overwrite.
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string token = options_.new_token();
    if (entries_.contains(token)) continue;
    entries_.emplace(token, Entry{std::move(request), now + options_.ttl_ns});
    return token;
  }
  return absl::InternalError("could not draw an unused streaming token");
}

std::optional<CachedRequest> RequestCache::Consume(const std::string& token) {
  const int64_t now = options_.now();
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  if (entry.expires <= now) return std::nullopt;
  return std::move(entry.request);
}

size_t RequestCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace cricket::streaming
