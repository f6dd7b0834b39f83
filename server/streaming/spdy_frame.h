// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 §2.2, as spoken by moby/spdystream): the frame subset
// that Kubernetes streaming needs. Pure data transformations; no I/O.
//
//   control frame: |1|version(15)|type(16)|flags(8)|length(24)|payload
//   data frame:    |0|stream-id(31)|flags(8)|length(24)|data
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/streaming/byte_queue.h"

namespace cricket::streaming::spdy {

inline constexpr uint16_t kVersion = 3;
inline constexpr size_t kFrameHeaderSize = 8;
inline constexpr uint32_t kMaxFrameLength = (1u << 24) - 1;
// Control frames are small (a stream's headers, a ping); SYN_STREAM header blocks of the Kubernetes
// clients are a few dozen bytes.
inline constexpr uint32_t kMaxControlFrameLength = 64 * 1024;
inline constexpr uint8_t kFlagFin = 0x01;

enum class ControlType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

// RST_STREAM status codes (§2.4.2).
enum class RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kCancel = 5,
  kInternalError = 6,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
};

// One frame as read off the wire. For data frames `type` is 0 and `stream_id` is set; for control
// frames `stream_id` is 0 and the payload still needs the type's parser.
struct Frame {
  bool control = false;
  uint16_t version = 0;
  uint16_t type = 0;
  uint32_t stream_id = 0;
  uint8_t flags = 0;
  std::string payload;

  bool fin() const { return (flags & kFlagFin) != 0; }
};

// Splits a byte stream into frames. Control frames come whole; DATA frames come in pieces as their bytes
// arrive (each piece carries the stream id; only the last carries FIN; an empty frame is one empty
// piece), so that a connection never holds a large frame in memory: what it holds is bounded by what
// it was given. Control frames above `max_control_length` (and of another version) are errors: the
// connection must then be torn down.
class FrameReader {
 public:
  explicit FrameReader(uint32_t max_control_length = kMaxControlFrameLength)
      : max_control_length_(max_control_length) {}

  void Append(std::string_view bytes) { in_.Append(bytes); }
  // The next control frame or DATA piece, nullopt when more bytes are needed, or an error for a
  // malformed frame.
  absl::StatusOr<std::optional<Frame>> Next();
  // Bytes received and not yet returned.
  size_t buffered() const { return in_.size(); }

 private:
  ByteQueue in_;
  uint32_t max_control_length_;
  // Inside a DATA frame: its stream, flags and the payload bytes not yet returned.
  bool in_data_ = false;
  uint32_t data_stream_ = 0;
  uint8_t data_flags_ = 0;
  uint32_t data_left_ = 0;
};

struct SynStream {
  uint32_t stream_id = 0;
  uint32_t associated_id = 0;
  uint8_t priority = 0;
  bool fin = false;
  std::string header_block;  // still compressed
};
struct RstStream {
  uint32_t stream_id = 0;
  uint32_t status = 0;
};
struct GoAway {
  uint32_t last_good_stream_id = 0;
  uint32_t status = 0;
};

// Payload parsers for received control frames; errors name the frame and what was wrong.
absl::StatusOr<SynStream> ParseSynStream(const Frame& frame);
absl::StatusOr<RstStream> ParseRstStream(const Frame& frame);
absl::StatusOr<uint32_t> ParsePing(const Frame& frame);
absl::StatusOr<GoAway> ParseGoAway(const Frame& frame);
// SYN_REPLY and HEADERS: the stream id and the (compressed) header block.
absl::StatusOr<std::pair<uint32_t, std::string>> ParseStreamHeaders(const Frame& frame);

// Encoders. `data` and `header_block` must fit in kMaxFrameLength (DATA is split by the caller).
std::string EncodeData(uint32_t stream_id, std::string_view data, bool fin);
std::string EncodeSynStream(uint32_t stream_id, uint32_t associated_id, uint8_t priority, bool fin,
                            std::string_view header_block);
std::string EncodeSynReply(uint32_t stream_id, bool fin, std::string_view header_block);
std::string EncodeRstStream(uint32_t stream_id, RstStatus status);
std::string EncodePing(uint32_t id);
std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status);

}  // namespace cricket::streaming::spdy
