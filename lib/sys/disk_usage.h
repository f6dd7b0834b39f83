// Space and inodes used by a directory tree, as ImageFsInfo reports them.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace cricket::sys {

struct DiskUsage {
  uint64_t bytes = 0;   // allocated blocks × 512, each inode counted once (hard links)
  uint64_t inodes = 0;  // distinct inodes, the root directory included
};

// Walks `path` without following symlinks and without crossing into other filesystems (mounted
// container rootfs are not image-store usage). A missing path is zero usage.
absl::StatusOr<DiskUsage> DirectoryUsage(const std::string& path);

}  // namespace cricket::sys
