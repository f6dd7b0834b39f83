// Streaming verification and decompression of blobs: every byte of a blob goes once through the digest
// check, and a layer's bytes through the decompressor its media type (or, for plain tar types, its
// magic bytes) calls for, to a caller-supplied sink. A digest or size mismatch is reported by Finish(),
// after the sink has seen the data: a consumer must treat everything it wrote as garbage unless Finish
// succeeds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/common/digest.h"
#include "lib/image/manifest.h"

namespace cricket::image {

// Receives data in order; an error stops the stream and is returned to the caller of Write/Finish.
using ChunkSink = std::function<absl::Status(std::string_view chunk)>;

// Decompressed output is delivered in chunks of at most this many bytes.
inline constexpr size_t kDecompressChunk = 128 << 10;

enum class Compression { kNone, kGzip, kZstd };
std::string_view CompressionName(Compression c);

// What a layer media type says: gzip and zstd types name their compression, the plain tar types say
// kNone (but see LayerDecoder: magic bytes may still reveal gzip or zstd). InvalidArgument otherwise.
absl::StatusOr<Compression> CompressionForMediaType(std::string_view media_type);

// Recognises gzip (1f 8b) and zstd (28 b5 2f fd) magic; kNone for anything else. Needs ≥ 4 bytes to
// rule out zstd.
Compression DetectCompression(std::string_view prefix);

class Decompressor {
 public:
  virtual ~Decompressor() = default;
  // Consumes compressed input; output goes to the sink given at construction.
  virtual absl::Status Write(std::string_view in) = 0;
  // Ends the stream: DataLoss when it was truncated (or empty, for gzip and zstd).
  virtual absl::Status Finish() = 0;
};

// How gzip is inflated: kDefault is ISA-L's igzip when cricket was built with libisal (several times
// faster), else zlib; kZlib is zlib.
enum class GzipEngine { kDefault, kZlib };
// "igzip" or "zlib": what kDefault uses in this build.
std::string_view GzipEngineName();

// gzip accepts concatenated members; zstd concatenated frames (and skippable frames).
std::unique_ptr<Decompressor> NewDecompressor(Compression c, ChunkSink sink,
                                              GzipEngine engine = GzipEngine::kDefault);

// Counts and hashes a blob's bytes against its descriptor.
class BlobVerifier {
 public:
  // `expected_size` < 0: unknown (only the digest is checked). `what` names the blob in errors.
  BlobVerifier(const Digest& expected, int64_t expected_size, std::string what);
  // OutOfRange as soon as more than expected_size bytes arrive.
  absl::Status Update(std::string_view data);
  // DataLoss on a size or digest mismatch. The verifier cannot be used afterwards.
  absl::Status Finish();
  int64_t bytes() const { return bytes_; }

 private:
  Digest expected_;
  int64_t expected_size_;
  std::string what_;
  Hasher hasher_;
  int64_t bytes_ = 0;
};

struct LayerStreamResult {
  Compression compression = Compression::kNone;
  int64_t compressed_size = 0;
  int64_t uncompressed_size = 0;
  std::optional<Digest> diff_id;  // only with LayerDecoder::Options::compute_diff_id
};

// A layer's compressed bytes in, verified and decompressed bytes out.
class LayerDecoder {
 public:
  struct Options {
    // Also hash the uncompressed stream (the storage layer usually does this itself).
    bool compute_diff_id = false;
    // Refuse (InvalidArgument naming max_layer_expansion_ratio, marked as a layer refusal) once the
    // uncompressed bytes exceed this many times the compressed bytes received so far, plus
    // kExpansionAllowance; 0: no bound. Checked as the data arrives, so a decompression bomb stops
    // after a few MiB instead of after its whole expansion.
    uint64_t max_expansion_ratio = 0;
  };
  // What any layer may expand to regardless of the ratio (small layers of empty files or zeros).
  static constexpr uint64_t kExpansionAllowance = uint64_t{16} << 20;
  // InvalidArgument for a descriptor that is not a layer (unknown media type).
  static absl::StatusOr<std::unique_ptr<LayerDecoder>> Create(const Descriptor& layer, ChunkSink sink,
                                                              Options options);
  static absl::StatusOr<std::unique_ptr<LayerDecoder>> Create(const Descriptor& layer, ChunkSink sink) {
    return Create(layer, std::move(sink), Options());
  }

  absl::Status Write(std::string_view compressed);
  // Checks size and digest of the compressed bytes first, then that the compressed stream ended properly.
  absl::StatusOr<LayerStreamResult> Finish();

 private:
  LayerDecoder(const Descriptor& layer, ChunkSink sink, Options options, Compression declared);
  absl::Status Start(Compression c);
  absl::Status CheckExpansion() const;

  BlobVerifier verifier_;
  ChunkSink sink_;
  Options options_;
  bool sniff_;                // plain tar media type: decide by magic bytes
  std::string sniff_buffer_;  // first bytes, while sniffing
  std::unique_ptr<Decompressor> decompressor_;
  std::optional<Hasher> diff_hasher_;
  Compression compression_ = Compression::kNone;
  int64_t uncompressed_ = 0;
  std::string what_;
};

}  // namespace cricket::image
