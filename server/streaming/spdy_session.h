// One SPDY/3.1 connection, server side, without I/O: received bytes go in through Feed, which reports
// streams, data and resets to a Handler; frames to send accumulate in an output buffer that the caller
// writes to the connection. Pings are echoed; SETTINGS, WINDOW_UPDATE and HEADERS are accepted and
// ignored (moby/spdystream, the Kubernetes client, does no flow control), but every header block is
// still inflated to keep the connection's zlib stream in step.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/streaming/spdy_frame.h"
#include "server/streaming/spdy_headers.h"

namespace cricket::streaming::spdy {

class Session {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // A new client stream (odd, increasing id). The handler answers with Reply or Reset. `fin` means the
    // client will send nothing on it.
    virtual void OnStream(uint32_t id, const HeaderList& headers, bool fin) = 0;
    virtual void OnData(uint32_t id, std::string_view data, bool fin) = 0;
    virtual void OnReset(uint32_t id) = 0;
    // The client will open no more streams (it is closing the connection).
    virtual void OnGoAway() = 0;
  };

  // Processes whatever complete frames `bytes` completes. An error is a connection-level protocol
  // violation: send nothing more (except GoAway) and close.
  absl::Status Feed(std::string_view bytes, Handler& handler);

  // SYN_REPLY with an empty header block; must precede any DATA on that stream (spdystream drops data
  // on unreplied streams).
  absl::Status Reply(uint32_t id);
  // DATA, split into frames of at most kMaxDataChunk bytes; an empty `data` with `fin` half-closes.
  void Data(uint32_t id, std::string_view data, bool fin);
  void Reset(uint32_t id, RstStatus status);
  void GoAway();

  bool HasOutput() const { return !output_.empty(); }
  std::string TakeOutput() { return std::exchange(output_, std::string()); }
  size_t output_size() const { return output_.size(); }
  // Received bytes not yet processed (a partial control frame), bounded by kMaxControlFrameLength.
  size_t input_buffered() const { return reader_.buffered(); }
  uint32_t last_stream_id() const { return last_stream_id_; }

  static constexpr size_t kMaxDataChunk = 32 * 1024;

 private:
  absl::Status HandleControl(const Frame& frame, Handler& handler);

  // DATA is passed on in pieces as it arrives; only a partial control frame is ever held.
  FrameReader reader_;
  HeaderCompressor compressor_;
  HeaderDecompressor decompressor_;
  std::string output_;
  uint32_t last_stream_id_ = 0;
  bool goaway_sent_ = false;
};

}  // namespace cricket::streaming::spdy
