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

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/storage/byte_source.h"
#include "lib/storage/layer_manifest.h"
#include "lib/storage/space_guard.h"

namespace cricket::storage {

// Bounds on what one layer, and the layers one pull applies for an image, may expand to. Each field
// is named after its [crio.image] key; crossing one is InvalidArgument naming the key and its value.
// The defaults are far above real images: they stop hostile layers, which the expansion bound
// (lib/image, max_layer_expansion_ratio) and the free-space reserve (SpaceGuard) usually stop first.
struct ApplyLimits {
  // Device nodes other than whiteouts (char/block). Harmless without device cgroup access, and found
  // in some old images; refused when false.
  bool allow_device_nodes = true;
  uint64_t max_file_size = uint64_t{64} << 30;          // one regular file's size in its header
  uint64_t max_layer_size = uint64_t{256} << 30;        // uncompressed tar bytes of one layer
  uint64_t max_layer_entries = 2'000'000;               // tar entries of one layer
  uint64_t max_layer_sparse_size = uint64_t{64} << 30;  // the sizes sparse entries declare, summed
  uint64_t max_image_size = uint64_t{512} << 30;        // the same three over one pull's layers
  uint64_t max_image_entries = 8'000'000;
  uint64_t max_image_sparse_size = uint64_t{256} << 30;
};

// Running totals of the layers one pull applies, for the max_image_* bounds. Shared by the pull's
// concurrent applies.
struct ImageTally {
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> sparse{0};
};

// How one apply is steered from outside: its caller's cancellation and deadline (checked for every
// chunk read and every entry, so a cancelled apply stops within milliseconds), the image totals and
// the free-space admission of its store.
struct ApplyControl {
  const std::atomic<bool>* cancelled = nullptr;  // stop when it becomes true
  int64_t deadline = 0;                          // CLOCK_MONOTONIC ns; 0: none
  ImageTally* image = nullptr;                   // null: no per-image bounds
  SpaceGuard* space = nullptr;                   // null: no free-space check
  FreeSpaceReserve reserve;
};

// Refusals that are properties of the layer's content (a max_layer_* bound crossed, a hostile entry,
// a diff_id that does not match) carry this payload: the same layer would be refused again, so a
// puller may remember the failure instead of fetching the layer again.
inline constexpr char kLayerRefusedPayload[] = "type.cricket.dev/layer-refused";
absl::Status MarkLayerRefused(absl::Status status);
bool IsLayerRefused(const absl::Status& status);
// A free-space refusal carries the bytes the layer had reached (it needs at least that much).
inline constexpr char kLayerNeedsBytesPayload[] = "type.cricket.dev/layer-needs-bytes";
std::optional<uint64_t> LayerNeedsBytes(const absl::Status& status);

struct ApplyResult {
  std::string diff_id;       // "sha256:<hex>" of every byte read from the stream, trailing padding included
  uint64_t tar_size = 0;     // bytes read from the stream
  uint64_t entries = 0;      // tar entries processed
  uint64_t sparse_size = 0;  // the sizes declared by sparse entries, summed
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
// ids ≥ 2^32-1, and sizes over `limits`. Truncated or malformed streams fail with DataLoss; a write the
// free-space reserve does not admit with ResourceExhausted; cancellation with Cancelled or
// DeadlineExceeded.
//
// Sparse entries are written with holes and hashed for the manifest with SparseContentHasher, so a
// hole costs neither space nor hashing time; their declared sizes count against max_*_sparse_size.
absl::StatusOr<ApplyResult> ApplyLayerTar(ByteSource& source, int root_fd, const ApplyLimits& limits,
                                          const ApplyControl& control = {});

// The cleaned relative form of a tar entry name ("./a//b/" → "a/b"; "." for the root), or
// InvalidArgument for an absolute path, a `..` component or an over-long name. Exposed for tests.
absl::StatusOr<std::string> CleanEntryPath(std::string_view raw);

}  // namespace cricket::storage
