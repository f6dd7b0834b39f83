// libFuzzer target: the SPDY frame parser, control-frame payload parsers, header-block decoding (raw and
// through one connection's zlib stream) and the session state machine, fed arbitrary client bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/streaming/spdy_frame.h"
#include "server/streaming/spdy_headers.h"
#include "server/streaming/spdy_session.h"

namespace spdy = cricket::streaming::spdy;

namespace {

class Handler : public spdy::Session::Handler {
 public:
  explicit Handler(spdy::Session& s) : s_(s) {}
  void OnStream(uint32_t id, const spdy::HeaderList& headers, bool) override {
    if (spdy::FindHeader(headers, "streamtype") == "refuse") {
      s_.Reset(id, spdy::RstStatus::kRefusedStream);
    } else {
      (void)s_.Reply(id);
      s_.Data(id, "x", false);
    }
  }
  void OnData(uint32_t id, std::string_view data, bool fin) override { s_.Data(id, data.substr(0, 16), fin); }
  void OnReset(uint32_t) override {}
  void OnGoAway() override { s_.GoAway(); }

 private:
  spdy::Session& s_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  (void)spdy::DecodeHeaderBlock(input);

  // Frame by frame, with one decompressor across the connection like a real session.
  spdy::FrameReader reader(1 << 20);
  spdy::HeaderDecompressor decompressor(64 * 1024);
  reader.Append(input);
  while (true) {
    auto frame = reader.Next();
    if (!frame.ok() || !frame->has_value()) break;
    const spdy::Frame& f = **frame;
    if (!f.control) continue;
    switch (static_cast<spdy::ControlType>(f.type)) {
      case spdy::ControlType::kSynStream:
        if (auto syn = spdy::ParseSynStream(f); syn.ok()) (void)decompressor.Decompress(syn->header_block);
        break;
      case spdy::ControlType::kSynReply:
      case spdy::ControlType::kHeaders:
        if (auto h = spdy::ParseStreamHeaders(f); h.ok()) (void)decompressor.Decompress(h->second);
        break;
      case spdy::ControlType::kRstStream:
        (void)spdy::ParseRstStream(f);
        break;
      case spdy::ControlType::kPing:
        (void)spdy::ParsePing(f);
        break;
      case spdy::ControlType::kGoAway:
        (void)spdy::ParseGoAway(f);
        break;
      default:
        break;
    }
  }

  // The whole session, fed in two pieces to exercise partial frames.
  spdy::Session session;
  Handler handler(session);
  const size_t cut = size / 2;
  if (session.Feed(input.substr(0, cut), handler).ok()) (void)session.Feed(input.substr(cut), handler);
  (void)session.TakeOutput();
  return 0;
}
