#include "server/streaming/budget.h"

#include "lib/common/strings.h"

namespace cricket::streaming {

absl::Status BufferPool::Validate(size_t total, size_t floor, size_t cap, size_t max_connections) {
  if (max_connections == 0) return absl::InvalidArgumentError("the connection limit must be at least 1");
  if (floor == 0 || floor > cap) {
    return absl::InvalidArgumentError(
        StrCat("per-connection buffer floor ", floor, " must be between 1 and the cap ", cap));
  }
  if (floor > total / max_connections) {
    return absl::InvalidArgumentError(StrCat("total stream buffer ", total, " bytes cannot give ",
                                             max_connections, " connections ", floor, " bytes each"));
  }
  return absl::OkStatus();
}

BufferPool::BufferPool(size_t total, size_t floor, size_t cap, size_t max_connections)
    : floor_(floor),
      cap_(cap),
      shared_(total > floor * max_connections ? total - floor * max_connections : 0) {}

bool BufferPool::Borrow(size_t n) {
  size_t now = borrowed_.load();
  do {
    if (now + n > shared_) return false;
  } while (!borrowed_.compare_exchange_weak(now, now + n));
  return true;
}

BufferBudget::BufferBudget(BufferPool* pool)
    : pool_(pool), floor_(pool ? pool->floor() : kDefaultCap), cap_(pool ? pool->cap() : kDefaultCap) {}

BufferBudget::~BufferBudget() {
  if (pool_ != nullptr && borrowed_ > 0) pool_->Return(borrowed_);
}

bool BufferBudget::Fit(size_t bytes) {
  if (bytes > cap_) return false;
  const size_t need = bytes > floor_ ? bytes - floor_ : 0;
  if (need <= borrowed_) {
    if (pool_ != nullptr && need < borrowed_) pool_->Return(borrowed_ - need);
    borrowed_ = need;
    return true;
  }
  if (pool_ == nullptr || !pool_->Borrow(need - borrowed_)) return false;
  borrowed_ = need;
  return true;
}

}  // namespace cricket::streaming
