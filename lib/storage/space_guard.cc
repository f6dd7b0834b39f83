#include "lib/storage/space_guard.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::storage {

uint64_t FreeSpaceReserve::For(uint64_t filesystem_size) const {
  double part = std::ceil(fraction * static_cast<double>(filesystem_size));
  return std::max(bytes, static_cast<uint64_t>(part));
}

std::string FreeSpaceReserve::Describe(uint64_t filesystem_size) const {
  if (fraction > 0 && bytes == 0) {
    return StrCat(absl::StrFormat("%g%%", fraction * 100), " (", HumanBytes(For(filesystem_size)), ")");
  }
  return HumanBytes(For(filesystem_size));
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return StrCat(bytes, " bytes");
  double v = static_cast<double>(bytes);
  int unit = -1;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.*f %s", v < 10 ? 1 : 0, v, kUnits[unit]);
}

absl::StatusOr<FreeSpaceReserve> ParseFreeSpaceReserve(std::string_view text) {
  std::string s(TrimSpace(text));
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(StrCat("invalid free-space reserve \"", text, "\": ", why));
  };
  if (s.empty()) return bad("empty (use \"0\" for none)");
  size_t i = 0;
  while (i < s.size() && (absl::ascii_isdigit(s[i]) || s[i] == '.')) ++i;
  double value = 0;
  if (i == 0 || !absl::SimpleAtod(s.substr(0, i), &value) || value < 0) return bad("expected a number");
  std::string unit = absl::AsciiStrToLower(std::string(TrimSpace(std::string_view(s).substr(i))));
  FreeSpaceReserve r;
  if (unit == "%") {
    if (value > 100) return bad("more than 100%");
    r.fraction = value / 100;
    return r;
  }
  static const std::pair<std::string_view, double> kScales[] = {{"", 1},
                                                                {"b", 1},
                                                                {"k", 1e3},
                                                                {"kb", 1e3},
                                                                {"kib", 1024.0},
                                                                {"m", 1e6},
                                                                {"mb", 1e6},
                                                                {"mib", 1048576.0},
                                                                {"g", 1e9},
                                                                {"gb", 1e9},
                                                                {"gib", 1073741824.0},
                                                                {"t", 1e12},
                                                                {"tb", 1e12},
                                                                {"tib", 1099511627776.0}};
  for (const auto& [name, scale] : kScales) {
    if (unit != name) continue;
    double bytes = value * scale;
    if (bytes >= 1.8e19) return bad("too large");
    r.bytes = static_cast<uint64_t>(bytes);
    return r;
  }
  return bad("unknown unit (use bytes, KiB, MiB, GiB, TiB, k, M, G, T or %)");
}

SpaceGuard::SpaceGuard(std::string path, StatFn stat, std::function<int64_t()> now)
    : path_(std::move(path)), stat_(std::move(stat)), now_(std::move(now)) {
  if (!stat_) {
    stat_ = [p = path_]() -> absl::StatusOr<FsSpace> {
      struct statvfs st;
      if (::statvfs(p.c_str(), &st) != 0) return ErrnoError("statvfs", p);
      return FsSpace{static_cast<uint64_t>(st.f_blocks) * st.f_frsize,
                     static_cast<uint64_t>(st.f_bavail) * st.f_frsize};
    };
  }
  if (!now_) now_ = MonotonicNow;
}

absl::Status SpaceGuard::RefreshLocked(int64_t now) {
  ASSIGN_OR_RETURN(space_, stat_());
  checked_at_ = now;
  return absl::OkStatus();
}

absl::Status SpaceGuard::Claim(uint64_t bytes, const FreeSpaceReserve& reserve) {
  if (!reserve.enabled()) return absl::OkStatus();
  absl::MutexLock l(&mu_);
  int64_t now = now_();
  auto fits = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t keep = reserve.For(space_.size);
    return space_.available >= keep && space_.available - keep >= bytes;
  };
  bool fresh = false;
  if (checked_at_ == 0 || now - checked_at_ >= kRefreshNs) {
    RETURN_IF_ERROR(RefreshLocked(now));
    fresh = true;
  }
  if (!fits() && !fresh) RETURN_IF_ERROR(RefreshLocked(now));
  if (!fits()) {
    return absl::ResourceExhaustedError(
        StrCat("image store ", path_, ": ", HumanBytes(space_.available), " left on its filesystem, and ",
               reserve.Describe(space_.size), " must stay free ([crio.image] min_free_space); ",
               bytes == 0 ? std::string("nothing more may be written")
                          : StrCat(HumanBytes(bytes), " more would cross it")));
  }
  space_.available -= bytes;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SpaceGuard::Headroom(const FreeSpaceReserve& reserve) {
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(RefreshLocked(now_()));
  uint64_t keep = reserve.For(space_.size);
  return space_.available > keep ? space_.available - keep : 0;
}

}  // namespace cricket::storage
