// WebSocket (RFC 6455) server side: the opening handshake key, frame decoding of (masked) client frames,
// message reassembly with control frames interleaved, and unmasked server frames. No extensions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/streaming/byte_queue.h"
#include "server/streaming/conn.h"

namespace cricket::streaming::ws {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes (RFC 6455 §7.4.1).
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseUnsupportedData = 1003;
inline constexpr uint16_t kCloseTooBig = 1009;
inline constexpr uint16_t kCloseInternalError = 1011;

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)).
std::string AcceptKey(std::string_view client_key);

// A control frame from the client (whole), or a piece of a data message: data messages are passed on
// as their bytes arrive, so that a connection never holds a large message in memory.
struct Message {
  uint8_t opcode = kBinary;  // kText, kBinary (for every piece of the message), kClose, kPing or kPong
  std::string payload;       // this piece; for kClose: the raw close body (code + reason)
  bool first = true;         // the first piece of its message
  bool fin = true;           // the last piece of its message
};

// Decodes the client's byte stream into control frames and message pieces. Client frames must be masked
// (§5.1), carry no RSV bits, and control frames must be unfragmented and at most 125 bytes (§5.5).
// Messages above `max_message` bytes are errors (close 1009).
class MessageReader {
 public:
  explicit MessageReader(size_t max_message = 16 << 20) : max_message_(max_message) {}
  void Append(std::string_view bytes) { in_.Append(bytes); }
  // The next control frame or message piece, nullopt when more bytes are needed, or an error (close the
  // connection).
  absl::StatusOr<std::optional<Message>> Next();
  // Bytes received and not yet returned (at most a frame header or a partial control frame).
  size_t buffered() const { return in_.size(); }

 private:
  ByteQueue in_;
  size_t max_message_;
  // The data frame being read: payload bytes left, its mask and position in it, its FIN bit.
  bool in_frame_ = false;
  uint64_t frame_left_ = 0;
  char mask_[4] = {};
  size_t mask_pos_ = 0;
  bool frame_fin_ = false;
  // The data message being read.
  bool in_message_ = false;
  uint8_t message_opcode_ = 0;
  bool emitted_ = false;
  uint64_t message_size_ = 0;
};

// A server frame (unmasked, FIN set) carrying `payload`.
std::string EncodeFrame(uint8_t opcode, std::string_view payload);
// A client frame (masked with `mask`), for tests and fuzzing.
std::string EncodeMaskedFrame(uint8_t opcode, std::string_view payload, uint32_t mask, bool fin = true);
std::string EncodeClose(uint16_t code, std::string_view reason);
// The close code in a close body; 1005 (no status) when empty.
uint16_t CloseCode(std::string_view body);

// A byte stream carried in binary messages over `inner` (client-go's SPDY-over-WebSocket tunnel,
// subprotocol "SPDY/3.1+portforward.k8s.io"): reads return the concatenated payloads, writes send one
// binary message each. Pings are answered; a close frame reads as EOF; Finish sends close 1000.
std::unique_ptr<Conn> NewTunnelConn(std::unique_ptr<Conn> inner);

}  // namespace cricket::streaming::ws
