// Applies one layer's uncompressed tar stream to an empty diff directory, in overlayfs form.
//
// libarchive is used only as the tar reader; every filesystem operation is done here relative to the
// layer's directory fd: parents are opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), new
// entries are created with *at() calls and O_NOFOLLOW/O_EXCL, so nothing in the tar can make the
// extraction touch a path outside the layer. Entries that try are refused with an error naming them.
//
// Whiteouts (image-spec layer.md): `.wh.NAME` becomes a char device 0/0 named NAME (owned by the
// header's uid/gid); `.wh..wh..opq` sets trusted.overlay.opaque="y" on its directory; other `.wh..wh.*`
// entries (AUFS metadata) are skipped.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "lib/storage/byte_source.h"
#include "lib/storage/layer_manifest.h"

namespace cricket::storage {

struct ApplyLimits {
  // Device nodes other than whiteouts (char/block). Harmless without device cgroup access, and found
  // in some old images; refused when false.
  bool allow_device_nodes = true;
  uint64_t max_file_size = uint64_t{64} << 30;     // one regular file's size in its header
  uint64_t max_stream_size = uint64_t{512} << 30;  // the whole uncompressed tar stream
  uint64_t max_entries = 10'000'000;
};

struct ApplyResult {
  std::string diff_id;    // "sha256:<hex>" of every byte read from the stream, trailing padding included
  uint64_t tar_size = 0;  // bytes read from the stream
  uint64_t entries = 0;   // tar entries processed
  uint64_t skipped_xattrs = 0;  // xattrs outside the applied namespaces (see ApplyLayerTar)
  LayerManifest manifest;
};

// Extracts the tar read from `source` into the directory open at `root_fd` (O_RDONLY|O_DIRECTORY,
// normally empty). Applied xattrs: user.* and security.capability; others (trusted.*, security.selinux,
// system.*) are skipped and counted. Owners are numeric (uname/gname ignored). On error the directory
// holds a partial tree: the caller removes it.
//
// Refused (InvalidArgument naming the entry): absolute paths, `..` components, paths through a
// symlink, hardlinks whose target is outside the layer or not yet extracted, whiteouts of "", "." or
// "..", device nodes when not allowed, unknown entry types, names or targets over the kernel limits,
// ids ≥ 2^32-1, and sizes over `limits`. Truncated or malformed streams fail with DataLoss.
absl::StatusOr<ApplyResult> ApplyLayerTar(ByteSource& source, int root_fd, const ApplyLimits& limits);

// The cleaned relative form of a tar entry name ("./a//b/" → "a/b"; "." for the root), or
// InvalidArgument for an absolute path, a `..` component or an over-long name. Exposed for tests.
absl::StatusOr<std::string> CleanEntryPath(std::string_view raw);

}  // namespace cricket::storage
