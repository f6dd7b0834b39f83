#include "server/streaming/spdy_session.h"

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::streaming::spdy {

absl::Status Session::Feed(std::string_view bytes, Handler& handler) {
  reader_.Append(bytes);
  while (true) {
    ASSIGN_OR_RETURN(std::optional<Frame> frame, reader_.Next());
    if (!frame) return absl::OkStatus();
    if (frame->control) {
      RETURN_IF_ERROR(HandleControl(*frame, handler));
    } else {
      if (frame->stream_id == 0) return absl::InvalidArgumentError("SPDY DATA frame on stream 0");
      handler.OnData(frame->stream_id, frame->payload, frame->fin());
    }
  }
}

absl::Status Session::HandleControl(const Frame& frame, Handler& handler) {
  switch (static_cast<ControlType>(frame.type)) {
    case ControlType::kSynStream: {
      ASSIGN_OR_RETURN(SynStream syn, ParseSynStream(frame));
      // The block is part of the zlib stream whether or not the stream is accepted.
      ASSIGN_OR_RETURN(HeaderList headers, decompressor_.Decompress(syn.header_block));
      if (syn.stream_id % 2 == 0 || syn.stream_id <= last_stream_id_) {
        // §2.3.2: client-initiated ids are odd and increase.
        Reset(syn.stream_id, RstStatus::kProtocolError);
        return absl::OkStatus();
      }
      last_stream_id_ = syn.stream_id;
      handler.OnStream(syn.stream_id, headers, syn.fin);
      return absl::OkStatus();
    }
    case ControlType::kSynReply:
    case ControlType::kHeaders: {
      ASSIGN_OR_RETURN(auto parsed, ParseStreamHeaders(frame));
      ASSIGN_OR_RETURN(HeaderList ignored, decompressor_.Decompress(parsed.second));
      (void)ignored;
      return absl::OkStatus();
    }
    case ControlType::kRstStream: {
      ASSIGN_OR_RETURN(RstStream rst, ParseRstStream(frame));
      handler.OnReset(rst.stream_id);
      return absl::OkStatus();
    }
    case ControlType::kPing: {
      ASSIGN_OR_RETURN(uint32_t id, ParsePing(frame));
      // Server-initiated pings would be even; this server sends none, so every ping is the client's.
      output_ += EncodePing(id);
      return absl::OkStatus();
    }
    case ControlType::kGoAway: {
      ASSIGN_OR_RETURN(spdy::GoAway g, ParseGoAway(frame));
      (void)g;
      handler.OnGoAway();
      return absl::OkStatus();
    }
    case ControlType::kSettings:
    case ControlType::kWindowUpdate:
      return absl::OkStatus();
    default:
      // §2.2.1: unknown control frame types are ignored.
      return absl::OkStatus();
  }
}

absl::Status Session::Reply(uint32_t id) {
  ASSIGN_OR_RETURN(std::string block, compressor_.Compress({}));
  output_ += EncodeSynReply(id, false, block);
  return absl::OkStatus();
}

void Session::Data(uint32_t id, std::string_view data, bool fin) {
  do {
    const std::string_view chunk = data.substr(0, kMaxDataChunk);
    data.remove_prefix(chunk.size());
    output_ += EncodeData(id, chunk, fin && data.empty());
  } while (!data.empty());
}

void Session::Reset(uint32_t id, RstStatus status) { output_ += EncodeRstStream(id, status); }

void Session::GoAway() {
  if (goaway_sent_) return;
  goaway_sent_ = true;
  output_ += EncodeGoAway(last_stream_id_, 0);
}

}  // namespace cricket::streaming::spdy
