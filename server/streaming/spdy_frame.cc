#include "server/streaming/spdy_frame.h"

#include "lib/common/strings.h"

namespace cricket::streaming::spdy {
namespace {

constexpr uint32_t kStreamIdMask = 0x7fffffff;

uint32_t Get32(std::string_view b, size_t at) {
  return (uint32_t{static_cast<uint8_t>(b[at])} << 24) | (uint32_t{static_cast<uint8_t>(b[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[at + 2])} << 8) | uint32_t{static_cast<uint8_t>(b[at + 3])};
}
void Put32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}
// flags(8) | length(24)
void PutFlagsLength(std::string* out, uint8_t flags, size_t length) {
  Put32(out, (uint32_t{flags} << 24) | static_cast<uint32_t>(length & kMaxFrameLength));
}
std::string ControlHeader(ControlType type, uint8_t flags, size_t length) {
  std::string out;
  out.reserve(kFrameHeaderSize + length);
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) >> 8));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) & 0xff));
  PutFlagsLength(&out, flags, length);
  return out;
}

absl::Status WrongLength(std::string_view name, size_t got, std::string_view want) {
  return absl::InvalidArgumentError(StrCat("SPDY ", name, " frame: payload of ", got, " bytes, want ", want));
}
absl::Status ZeroStream(std::string_view name) {
  return absl::InvalidArgumentError(StrCat("SPDY ", name, " frame: stream id 0"));
}

}  // namespace

absl::StatusOr<std::optional<Frame>> FrameReader::Next() {
  if (!in_data_) {
    const std::string_view rest = in_.View();
    if (rest.size() < kFrameHeaderSize) return std::nullopt;
    const uint32_t first = Get32(rest, 0);
    const uint32_t flags_length = Get32(rest, 4);
    const uint8_t flags = static_cast<uint8_t>(flags_length >> 24);
    const uint32_t length = flags_length & kMaxFrameLength;
    if ((first & 0x80000000u) == 0) {
      in_.Consume(kFrameHeaderSize);
      in_data_ = true;
      data_stream_ = first & kStreamIdMask;
      data_flags_ = flags;
      data_left_ = length;
    } else {
      Frame frame;
      frame.control = true;
      frame.flags = flags;
      frame.version = static_cast<uint16_t>((first >> 16) & 0x7fff);
      frame.type = static_cast<uint16_t>(first & 0xffff);
      if (frame.version != kVersion) {
        return absl::InvalidArgumentError(
            StrCat("SPDY control frame of version ", frame.version, ", want 3"));
      }
      if (length > max_control_length_) {
        return absl::InvalidArgumentError(
            StrCat("SPDY control frame of ", length, " bytes exceeds the limit of ", max_control_length_));
      }
      if (rest.size() < kFrameHeaderSize + length) return std::nullopt;
      frame.payload.assign(rest.substr(kFrameHeaderSize, length));
      in_.Consume(kFrameHeaderSize + length);
      return frame;
    }
  }
  const size_t available = in_.size();
  const size_t n = std::min<size_t>(available, data_left_);
  if (n == 0 && data_left_ > 0) return std::nullopt;
  Frame piece;
  piece.stream_id = data_stream_;
  piece.payload.assign(in_.View().substr(0, n));
  in_.Consume(n);
  data_left_ -= static_cast<uint32_t>(n);
  piece.flags = data_left_ == 0 ? data_flags_ : static_cast<uint8_t>(data_flags_ & ~kFlagFin);
  if (data_left_ == 0) in_data_ = false;
  return piece;
}

absl::StatusOr<SynStream> ParseSynStream(const Frame& frame) {
  const std::string_view p = frame.payload;
  if (p.size() < 10) return WrongLength("SYN_STREAM", p.size(), "at least 10");
  SynStream s;
  s.stream_id = Get32(p, 0) & kStreamIdMask;
  s.associated_id = Get32(p, 4) & kStreamIdMask;
  s.priority = static_cast<uint8_t>(static_cast<uint8_t>(p[8]) >> 5);
  s.fin = frame.fin();
  if (s.stream_id == 0) return ZeroStream("SYN_STREAM");
  s.header_block.assign(p.substr(10));
  return s;
}

absl::StatusOr<RstStream> ParseRstStream(const Frame& frame) {
  if (frame.payload.size() != 8) return WrongLength("RST_STREAM", frame.payload.size(), "8");
  RstStream r{Get32(frame.payload, 0) & kStreamIdMask, Get32(frame.payload, 4)};
  if (r.stream_id == 0) return ZeroStream("RST_STREAM");
  return r;
}

absl::StatusOr<uint32_t> ParsePing(const Frame& frame) {
  if (frame.payload.size() != 4) return WrongLength("PING", frame.payload.size(), "4");
  return Get32(frame.payload, 0);
}

absl::StatusOr<GoAway> ParseGoAway(const Frame& frame) {
  // SPDY/2 GOAWAY had no status; accept both.
  if (frame.payload.size() != 8 && frame.payload.size() != 4) {
    return WrongLength("GOAWAY", frame.payload.size(), "8");
  }
  GoAway g;
  g.last_good_stream_id = Get32(frame.payload, 0) & kStreamIdMask;
  if (frame.payload.size() == 8) g.status = Get32(frame.payload, 4);
  return g;
}

absl::StatusOr<std::pair<uint32_t, std::string>> ParseStreamHeaders(const Frame& frame) {
  if (frame.payload.size() < 4) return WrongLength("SYN_REPLY/HEADERS", frame.payload.size(), "at least 4");
  const uint32_t id = Get32(frame.payload, 0) & kStreamIdMask;
  if (id == 0) return ZeroStream("SYN_REPLY/HEADERS");
  return std::make_pair(id, frame.payload.substr(4));
}

std::string EncodeData(uint32_t stream_id, std::string_view data, bool fin) {
  std::string out;
  out.reserve(kFrameHeaderSize + data.size());
  Put32(&out, stream_id & kStreamIdMask);
  PutFlagsLength(&out, fin ? kFlagFin : 0, data.size());
  out.append(data);
  return out;
}

std::string EncodeSynStream(uint32_t stream_id, uint32_t associated_id, uint8_t priority, bool fin,
                            std::string_view header_block) {
  std::string out = ControlHeader(ControlType::kSynStream, fin ? kFlagFin : 0, 10 + header_block.size());
  Put32(&out, stream_id & kStreamIdMask);
  Put32(&out, associated_id & kStreamIdMask);
  out.push_back(static_cast<char>((priority & 0x7) << 5));
  out.push_back('\0');  // slot
  out.append(header_block);
  return out;
}

std::string EncodeSynReply(uint32_t stream_id, bool fin, std::string_view header_block) {
  std::string out = ControlHeader(ControlType::kSynReply, fin ? kFlagFin : 0, 4 + header_block.size());
  Put32(&out, stream_id & kStreamIdMask);
  out.append(header_block);
  return out;
}

std::string EncodeRstStream(uint32_t stream_id, RstStatus status) {
  std::string out = ControlHeader(ControlType::kRstStream, 0, 8);
  Put32(&out, stream_id & kStreamIdMask);
  Put32(&out, static_cast<uint32_t>(status));
  return out;
}

std::string EncodePing(uint32_t id) {
  std::string out = ControlHeader(ControlType::kPing, 0, 4);
  Put32(&out, id);
  return out;
}

std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status) {
  std::string out = ControlHeader(ControlType::kGoAway, 0, 8);
  Put32(&out, last_good_stream_id & kStreamIdMask);
  Put32(&out, status);
  return out;
}

}  // namespace cricket::streaming::spdy
