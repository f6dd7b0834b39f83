// Platforms in the OCI image-index sense (os, architecture, variant; Go's GOOS/GOARCH names), the
// host's platform, and choosing a manifest from an index (image-spec image-index.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::image {

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version = {};
  std::vector<std::string> os_features = {};

  // "os/architecture[/variant]".
  std::string ToString() const;
  bool operator==(const Platform& o) const = default;
};

// Parses "os/architecture[/variant]" ("linux/arm64/v8"), normalising the names.
absl::StatusOr<Platform> ParsePlatform(std::string_view text);

// Go names for common aliases: x86_64 → amd64, aarch64 → arm64 (variant v8), armhf → arm/v7,
// armel → arm/v6, i386/i686 → 386; arm64's variant defaults to v8; os is lowercased.
Platform NormalizePlatform(Platform p);

// The platform of this machine (uname), normalised: e.g. linux/amd64, linux/arm64/v8, linux/arm/v7.
Platform HostPlatform();

// Whether an image built for `have` runs on `want`, and how well: 0 = no; higher is a better match
// (an exact variant beats an older compatible one, e.g. arm/v7 on an arm/v7 host beats arm/v6).
int PlatformMatchScore(const Platform& want, const Platform& have);

}  // namespace cricket::image
