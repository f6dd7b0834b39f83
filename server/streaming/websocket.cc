#include "server/streaming/websocket.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/base64.h"

namespace cricket::streaming::ws {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr int64_t kControlWriteTimeout = 10LL * 1000 * 1000 * 1000;

absl::Status ProtocolError(std::string_view what) {
  return absl::InvalidArgumentError(StrCat("WebSocket protocol error: ", what));
}

void AppendHeader(std::string* out, uint8_t first, bool masked, size_t len) {
  out->push_back(static_cast<char>(first));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  if (len < 126) {
    out->push_back(static_cast<char>(mask_bit | len));
  } else if (len <= 0xffff) {
    out->push_back(static_cast<char>(mask_bit | 126));
    out->push_back(static_cast<char>(len >> 8));
    out->push_back(static_cast<char>(len & 0xff));
  } else {
    out->push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out->push_back(static_cast<char>((uint64_t{len} >> shift) & 0xff));
  }
}

}  // namespace

std::string AcceptKey(std::string_view client_key) {
  const std::string input = StrCat(client_key, kGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

absl::StatusOr<std::optional<Message>> MessageReader::Next() {
  while (true) {
    if (in_frame_) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(in_.size(), frame_left_));
      if (n == 0 && frame_left_ > 0) return std::nullopt;
      std::string payload(in_.View().substr(0, n));
      for (size_t i = 0; i < n; ++i) payload[i] ^= mask_[(mask_pos_ + i) % 4];
      mask_pos_ = (mask_pos_ + n) % 4;
      in_.Consume(n);
      frame_left_ -= n;
      const bool last = frame_left_ == 0 && frame_fin_;
      if (frame_left_ == 0) in_frame_ = false;
      if (n == 0 && !last) continue;  // an empty fragment: nothing to pass on
      Message m{message_opcode_, std::move(payload), !emitted_, last};
      emitted_ = true;
      if (last) in_message_ = false;
      return m;
    }
    const std::string_view rest = in_.View();
    if (rest.size() < 2) return std::nullopt;
    const uint8_t b0 = static_cast<uint8_t>(rest[0]), b1 = static_cast<uint8_t>(rest[1]);
    const bool fin = (b0 & 0x80) != 0;
    const uint8_t opcode = b0 & 0x0f;
    if ((b0 & 0x70) != 0) return ProtocolError("RSV bits set without a negotiated extension");
    if ((b1 & 0x80) == 0) return ProtocolError("client frame is not masked");
    uint64_t len = b1 & 0x7f;
    size_t pos = 2;
    if (len == 126) {
      if (rest.size() < 4) return std::nullopt;
      len = (uint64_t{static_cast<uint8_t>(rest[2])} << 8) | static_cast<uint8_t>(rest[3]);
      pos = 4;
    } else if (len == 127) {
      if (rest.size() < 10) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(rest[2 + i]);
      if (len >> 63) return ProtocolError("64-bit length with the high bit set");
      pos = 10;
    }
    const bool control = (opcode & 0x8) != 0;
    if (control && (!fin || len > 125)) return ProtocolError("fragmented or oversized control frame");
    if (!control && opcode != kContinuation && opcode != kText && opcode != kBinary) {
      return ProtocolError(StrCat("unknown opcode ", opcode));
    }
    if (control && opcode != kClose && opcode != kPing && opcode != kPong) {
      return ProtocolError(StrCat("unknown control opcode ", opcode));
    }
    if (!control) {
      if (opcode == kContinuation && !in_message_)
        return ProtocolError("continuation frame outside a message");
      if (opcode != kContinuation && in_message_)
        return ProtocolError("new data frame inside a fragmented message");
      const uint64_t so_far = opcode == kContinuation ? message_size_ : 0;
      if (len > max_message_ || so_far + len > max_message_) {
        return absl::ResourceExhaustedError(StrCat("WebSocket message exceeds ", max_message_, " bytes"));
      }
    }
    if (rest.size() < pos + 4) return std::nullopt;
    if (control) {
      if (rest.size() < pos + 4 + len) return std::nullopt;
      const std::string_view mask = rest.substr(pos, 4);
      std::string payload(rest.substr(pos + 4, len));
      for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= mask[i % 4];
      in_.Consume(pos + 4 + len);
      if (opcode == kClose && payload.size() == 1) return ProtocolError("close body of one byte");
      return Message{opcode, std::move(payload), true, true};
    }
    if (opcode != kContinuation) {
      in_message_ = true;
      message_opcode_ = opcode;
      emitted_ = false;
      message_size_ = 0;
    }
    message_size_ += len;
    memcpy(mask_, rest.data() + pos, 4);
    mask_pos_ = 0;
    frame_left_ = len;
    frame_fin_ = fin;
    in_frame_ = true;
    in_.Consume(pos + 4);
  }
}

std::string EncodeFrame(uint8_t opcode, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  AppendHeader(&out, static_cast<uint8_t>(0x80 | opcode), false, payload.size());
  out.append(payload);
  return out;
}

std::string EncodeMaskedFrame(uint8_t opcode, std::string_view payload, uint32_t mask, bool fin) {
  std::string out;
  AppendHeader(&out, static_cast<uint8_t>((fin ? 0x80 : 0) | opcode), true, payload.size());
  const char m[4] = {static_cast<char>(mask >> 24), static_cast<char>(mask >> 16),
                     static_cast<char>(mask >> 8), static_cast<char>(mask)};
  out.append(m, 4);
  for (size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ m[i % 4]));
  return out;
}

std::string EncodeClose(uint16_t code, std::string_view reason) {
  std::string body;
  body.push_back(static_cast<char>(code >> 8));
  body.push_back(static_cast<char>(code & 0xff));
  body.append(reason.substr(0, 123));
  return EncodeFrame(kClose, body);
}

uint16_t CloseCode(std::string_view body) {
  if (body.size() < 2) return 1005;
  return static_cast<uint16_t>((static_cast<uint8_t>(body[0]) << 8) | static_cast<uint8_t>(body[1]));
}

namespace {

class TunnelConn : public Conn {
 public:
  explicit TunnelConn(std::unique_ptr<Conn> inner) : inner_(std::move(inner)) {}
  int fd() const override { return inner_->fd(); }
  bool HasBuffered() const override {
    return Conn::HasBuffered() || !decoded_.empty() || inner_->HasBuffered() || (eof_ && !eof_reported_);
  }
  absl::Status Write(std::string_view data, int64_t deadline) override {
    if (closed_) return absl::FailedPreconditionError("WebSocket tunnel is closed");
    return inner_->Write(EncodeFrame(kBinary, data), deadline);
  }
  void Shutdown() override { inner_->Shutdown(); }
  void Finish(int64_t deadline) override {
    if (!closed_) {
      closed_ = true;
      (void)inner_->Write(EncodeClose(kCloseNormal, ""), deadline);
    }
    inner_->Finish(deadline);
  }

 protected:
  absl::StatusOr<ReadResult> ReadSome(char* buf, size_t len) override {
    if (decoded_.empty() && !eof_) {
      char chunk[16384];
      ASSIGN_OR_RETURN(ReadResult r, inner_->Read(chunk, sizeof(chunk)));
      if (r.eof) {
        eof_ = true;
      } else {
        reader_.Append(std::string_view(chunk, r.n));
        RETURN_IF_ERROR(Drain());
      }
    }
    if (!decoded_.empty()) {
      const size_t n = std::min(len, decoded_.size());
      memcpy(buf, decoded_.data(), n);
      decoded_.erase(0, n);
      return ReadResult{n, false};
    }
    if (eof_) {
      eof_reported_ = true;
      return ReadResult{0, true};
    }
    return ReadResult{};
  }

 private:
  absl::Status Drain() {
    while (true) {
      ASSIGN_OR_RETURN(std::optional<Message> m, reader_.Next());
      if (!m) return absl::OkStatus();
      switch (m->opcode) {
        case kBinary:
          decoded_ += m->payload;  // a piece: at most what was just read
          break;
        case kPing:
          RETURN_IF_ERROR(
              inner_->Write(EncodeFrame(kPong, m->payload), MonotonicNow() + kControlWriteTimeout));
          break;
        case kPong:
          break;
        case kClose:
          if (!closed_) {
            closed_ = true;
            (void)inner_->Write(EncodeClose(kCloseNormal, ""), MonotonicNow() + kControlWriteTimeout);
          }
          eof_ = true;
          return absl::OkStatus();
        default:
          return ProtocolError("text message in a binary tunnel");
      }
    }
  }

  std::unique_ptr<Conn> inner_;
  MessageReader reader_;
  std::string decoded_;
  bool eof_ = false;
  bool eof_reported_ = false;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<Conn> NewTunnelConn(std::unique_ptr<Conn> inner) {
  return std::make_unique<TunnelConn>(std::move(inner));
}

}  // namespace cricket::streaming::ws
