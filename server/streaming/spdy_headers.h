// SPDY/3 header blocks (draft §2.6.10): `u32 count` then per pair `u32 len, name, u32 len, value`
// (names lowercase; several values of one name joined with NUL), compressed with zlib primed with the
// SPDY/3 dictionary. Each direction of a connection is ONE zlib stream: every block is flushed with
// Z_SYNC_FLUSH and the next block continues the same stream, so a connection needs exactly one
// compressor (outgoing) and one decompressor (incoming), used in frame order.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::streaming::spdy {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The value of header `name` (lowercase), or "" when absent.
std::string_view FindHeader(const HeaderList& headers, std::string_view name);

// Uncompressed header block encoding/decoding. Decoding lowercases nothing: SPDY/3 requires the sender
// to lowercase names, and names with uppercase letters are rejected as malformed.
std::string EncodeHeaderBlock(const HeaderList& headers);
absl::StatusOr<HeaderList> DecodeHeaderBlock(std::string_view block);

class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;

  absl::StatusOr<std::string> Compress(const HeaderList& headers);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class HeaderDecompressor {
 public:
  // Blocks inflating to more than `max_size` bytes are rejected (zip bombs).
  explicit HeaderDecompressor(size_t max_size = 256 * 1024);
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;

  // Inflates one block (the next part of this direction's zlib stream) and decodes its pairs. After an
  // error the stream state is undefined: the connection must be closed.
  absl::StatusOr<HeaderList> Decompress(std::string_view compressed);

 private:
  struct State;
  std::unique_ptr<State> state_;
  size_t max_size_;
};

}  // namespace cricket::streaming::spdy
