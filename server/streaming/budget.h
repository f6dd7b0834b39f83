// The bytes a streaming connection may make cricketd hold: client data queued for a process or a pod,
// output queued for the client, partial frames. Each connection is guaranteed a floor (enough for one
// read of the client at any time, so that it always makes progress); beyond it, it borrows from a pool
// shared by all connections, up to its own cap. A connection that cannot get room stops reading from
// its client (backpressure: TCP then stops the client) instead of queueing more.
//
//   BufferPool pool(/*total=*/24 << 20, /*floor=*/64 << 10, /*cap=*/1 << 20, /*max_connections=*/256);
//   BufferBudget budget(&pool);                 // one per connection
//   budget.Fit(Buffered());                     // settle: give back what is no longer needed
//   if (budget.Fit(Buffered() + kChunk)) Read(kChunk);
#pragma once

#include <atomic>
#include <cstddef>

#include "absl/status/status.h"

namespace cricket::streaming {

class BufferPool {
 public:
  // `total` must cover every connection's floor (floor * max_connections); floor <= cap.
  BufferPool(size_t total, size_t floor, size_t cap, size_t max_connections);
  static absl::Status Validate(size_t total, size_t floor, size_t cap, size_t max_connections);

  size_t floor() const { return floor_; }
  size_t cap() const { return cap_; }
  // Bytes lent beyond the floors, now (for tests and logs).
  size_t borrowed() const { return borrowed_.load(); }

 private:
  friend class BufferBudget;
  bool Borrow(size_t n);
  void Return(size_t n) { borrowed_.fetch_sub(n); }

  size_t floor_;
  size_t cap_;
  size_t shared_;  // total minus every floor
  std::atomic<size_t> borrowed_{0};
};

class BufferBudget {
 public:
  // `pool` may be nullptr: then the connection has the default cap and borrows from nobody.
  explicit BufferBudget(BufferPool* pool);
  ~BufferBudget();
  BufferBudget(const BufferBudget&) = delete;
  BufferBudget& operator=(const BufferBudget&) = delete;

  // Makes the connection's allowance `bytes`: true when it may hold that many (within its floor, or
  // with what it could borrow, and never above its cap). Asking for less returns what it no longer
  // needs to the pool and always succeeds.
  bool Fit(size_t bytes);
  size_t cap() const { return cap_; }

  static constexpr size_t kDefaultCap = 1 << 20;

 private:
  BufferPool* pool_;
  size_t floor_;
  size_t cap_;
  size_t borrowed_ = 0;
};

}  // namespace cricket::streaming
