// Free-space admission for the writes of layer applies: a write is admitted only while it leaves at
// least the reserve ([crio.image] min_free_space) free on the store's filesystem, so a pull cannot take
// the space that running containers and their logs need.
//
// statvfs(2) is asked at most every kRefreshNs while there is room; admitted bytes are subtracted from
// the last answer in between, so concurrent applies cannot together overshoot the reserve by more
// than what others wrote outside cricket during one refresh interval. ext4, xfs and tmpfs count
// delayed-allocation (dirty, unwritten) blocks as used in statvfs, so the answer already includes
// what was written but not yet flushed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace cricket::storage {

// What must stay free: the larger of a byte count and a fraction of the filesystem's size. Zero for
// both: no reserve (every write is admitted without a statvfs).
struct FreeSpaceReserve {
  uint64_t bytes = 0;
  double fraction = 0;  // 0.05 for "5%"

  bool enabled() const { return bytes > 0 || fraction > 0; }
  uint64_t For(uint64_t filesystem_size) const;
  // "128 MiB" or "5% (2.1 GiB)" for messages.
  std::string Describe(uint64_t filesystem_size) const;
};

// Parses a reserve: bytes with an optional binary or decimal unit ("0", "134217728", "128MiB",
// "10G", "1.5GiB") or a percentage of the filesystem ("5%"). InvalidArgument otherwise.
absl::StatusOr<FreeSpaceReserve> ParseFreeSpaceReserve(std::string_view text);

// "1.5 GiB", "512 KiB", "17 bytes".
std::string HumanBytes(uint64_t bytes);

class SpaceGuard {
 public:
  struct FsSpace {
    uint64_t size = 0;       // f_blocks × f_frsize
    uint64_t available = 0;  // f_bavail × f_frsize (what an unprivileged writer may still use)
  };
  using StatFn = std::function<absl::StatusOr<FsSpace>()>;
  static constexpr int64_t kRefreshNs = 50'000'000;

  // Watches the filesystem holding `path`; `stat` replaces statvfs in tests.
  explicit SpaceGuard(std::string path, StatFn stat = nullptr, std::function<int64_t()> now = nullptr);

  // Admits `bytes` about to be written. ResourceExhausted naming the path, the space left and the
  // reserve when they would leave less than `reserve` free (checked against a fresh statvfs before
  // refusing).
  absl::Status Claim(uint64_t bytes, const FreeSpaceReserve& reserve);
  // Free bytes above the reserve, from a fresh statvfs (0 when already below it).
  absl::StatusOr<uint64_t> Headroom(const FreeSpaceReserve& reserve);

  const std::string& path() const { return path_; }

 private:
  absl::Status RefreshLocked(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string path_;
  StatFn stat_;
  std::function<int64_t()> now_;
  absl::Mutex mu_;
  int64_t checked_at_ ABSL_GUARDED_BY(mu_) = 0;  // CLOCK_MONOTONIC ns of the last statvfs; 0: never
  FsSpace space_ ABSL_GUARDED_BY(mu_);           // its answer, minus the bytes admitted since
};

}  // namespace cricket::storage
