#include "lib/image/platform.h"

#include <sys/utsname.h>

#include "lib/common/strings.h"

namespace cricket::image {

namespace {

// "vN" → N, else -1.
int VariantNumber(std::string_view v) {
  if (v.size() < 2 || v[0] != 'v') return -1;
  auto n = ParseUint64(v.substr(1));
  return n && *n < 100 ? static_cast<int>(*n) : -1;
}

}  // namespace

std::string Platform::ToString() const {
  std::string out = StrCat(os, "/", architecture);
  if (!variant.empty()) StrAppend(&out, "/", variant);
  return out;
}

Platform NormalizePlatform(Platform p) {
  p.os = ToLower(p.os);
  std::string arch = ToLower(p.architecture);
  if (arch == "x86_64" || arch == "x86-64") {
    arch = "amd64";
  } else if (arch == "aarch64") {
    arch = "arm64";
  } else if (arch == "armhf") {
    arch = "arm";
    if (p.variant.empty()) p.variant = "v7";
  } else if (arch == "armel") {
    arch = "arm";
    if (p.variant.empty()) p.variant = "v6";
  } else if (arch == "i386" || arch == "i686") {
    arch = "386";
  }
  p.architecture = arch;
  p.variant = ToLower(p.variant);
  if (arch == "arm64" && p.variant.empty()) p.variant = "v8";
  if (arch == "arm" && (p.variant == "7" || p.variant == "6" || p.variant == "5" || p.variant == "8")) {
    p.variant = "v" + p.variant;
  }
  return p;
}

absl::StatusOr<Platform> ParsePlatform(std::string_view text) {
  std::vector<std::string_view> parts = Split(text, '/');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty() ||
      (parts.size() == 3 && parts[2].empty())) {
    return absl::InvalidArgumentError(
        StrCat("invalid platform \"", text, "\": want os/architecture[/variant], e.g. linux/arm64/v8"));
  }
  Platform p;
  p.os = std::string(parts[0]);
  p.architecture = std::string(parts[1]);
  if (parts.size() == 3) p.variant = std::string(parts[2]);
  return NormalizePlatform(std::move(p));
}

Platform HostPlatform() {
  Platform p;
  p.os = "linux";
  struct utsname u;
  std::string machine = ::uname(&u) == 0 ? u.machine : "";
  if (machine == "armv7l" || machine == "armv7") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (machine == "armv6l") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (machine == "armv5tel" || machine == "armv5l") {
    p.architecture = "arm";
    p.variant = "v5";
  } else if (machine == "ppc64le" || machine == "s390x" || machine == "riscv64" || machine == "mips64") {
    p.architecture = machine;
  } else if (machine == "loongarch64") {
    p.architecture = "loong64";
  } else {
    p.architecture = machine;
  }
  return NormalizePlatform(std::move(p));
}

int PlatformMatchScore(const Platform& want_in, const Platform& have_in) {
  Platform want = NormalizePlatform(want_in);
  Platform have = NormalizePlatform(have_in);
  if (want.os != have.os || want.architecture != have.architecture) return 0;
  if (want.variant == have.variant) return 100;
  int w = VariantNumber(want.variant);
  int h = VariantNumber(have.variant);
  const std::string& arch = want.architecture;
  if (arch == "arm" || arch == "arm64") {
    // Newer ARM cores run code built for older variants of the same architecture.
    if (have.variant.empty()) return 1;
    if (w >= 0 && h >= 0 && h <= w) return 50 - (w - h);
    return 0;
  }
  if (arch == "amd64") {
    // GOAMD64 levels: v1 is the baseline and the meaning of no variant.
    int wl = want.variant.empty() ? 1 : w;
    int hl = have.variant.empty() ? 1 : h;
    if (wl >= 0 && hl >= 0 && hl <= wl) return 50 - (wl - hl);
    return 0;
  }
  // Elsewhere: an entry without a variant runs anywhere its architecture does.
  return have.variant.empty() ? 1 : 0;
}

}  // namespace cricket::image
