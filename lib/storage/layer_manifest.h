// The content manifest of an extracted layer: what every path in the diff directory must be (type,
// permissions, owner, size, content digest, link target, device numbers, xattr digests). It is built
// while the tar is applied (no second pass over the data), stored beside the diff directory with its
// digest in the metadata database, and used by Store::Check to verify a layer without the tar.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/common/digest.h"

namespace cricket::storage {

struct ManifestEntry {
  // 'd' directory, 'f' regular file, 'l' symlink, 'c' char device, 'b' block device, 'p' fifo,
  // 'w' overlay whiteout (char device 0/0).
  char type = 'f';
  uint32_t mode = 0;  // permission bits including setuid/setgid/sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;   // 'f' only
  std::string digest;  // 'f': "sha256:<hex>" of the content, or "sparse-sha256:<hex>" (SparseContentHasher)
  std::string target;  // 'l': link target
  uint32_t rdev_major = 0;  // 'c', 'b'
  uint32_t rdev_minor = 0;
  // xattr name → sha256 hex of its value.
  std::map<std::string, std::string> xattrs;

  bool operator==(const ManifestEntry&) const = default;
};

// The content digest of a file extracted from a sparse tar entry: sha256 over the content cut into
// kBlock-byte blocks (the last one shorter), where each run of all-zero blocks stands as 'Z' and the
// run length (8 bytes, little-endian) and every other block as 'D' and its bytes. Holes and zeros
// therefore cost time per run, not per byte, and the digest depends only on the content (not on where
// a filesystem keeps holes): the extractor feeds the tar's data and holes, the verifier the file's data
// and holes as SEEK_DATA/SEEK_HOLE report them. Written "sparse-sha256:<hex>".
class SparseContentHasher {
 public:
  static constexpr size_t kBlock = 64 << 10;
  static constexpr std::string_view kPrefix = "sparse-sha256:";
  SparseContentHasher();
  void Data(const char* data, size_t len);
  void Zeros(uint64_t len);
  std::string Finish();

 private:
  void Block(const char* data, size_t len);
  void EndZeroRun();
  Hasher hasher_;
  std::string partial_;  // the current block's bytes so far (< kBlock)
  uint64_t zero_run_ = 0;
};

// Keyed by the path relative to the layer root, "." for the root itself; sorted.
using LayerManifest = std::map<std::string, ManifestEntry>;

// Text form: a header line, then one line per path; bytes outside printable ASCII are %-escaped.
std::string SerializeManifest(const LayerManifest& manifest);
absl::StatusOr<LayerManifest> ParseManifest(std::string_view text);

// Compares the tree under `root_fd` with `manifest`: missing, extra or different entries, file content
// re-hashed. Returns one line per problem (at most `max_problems`); empty means the tree matches.
absl::StatusOr<std::vector<std::string>> VerifyTree(int root_fd, const LayerManifest& manifest,
                                                    size_t max_problems = 20);

}  // namespace cricket::storage
