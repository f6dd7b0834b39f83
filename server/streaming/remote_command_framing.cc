#include "server/streaming/remote_command_framing.h"

#include <map>

#include "lib/common/strings.h"
#include "server/streaming/base64.h"
#include "server/streaming/counted_warning.h"
#include "server/streaming/spdy_session.h"
#include "server/streaming/websocket.h"

namespace cricket::streaming {
namespace {

std::optional<Channel> ChannelOfStreamType(std::string_view type) {
  if (type == "stdin") return kStdin;
  if (type == "stdout") return kStdout;
  if (type == "stderr") return kStderr;
  if (type == "error") return kError;
  if (type == "resize") return kResize;
  return std::nullopt;
}

// SPDY: the client opens one stream per channel, named by its "streamtype" header (client-go
// tools/remotecommand/v2.go createStreams; v3.go adds resize when tty).
class SpdyCommandFraming : public CommandFraming, private spdy::Session::Handler {
 public:
  SpdyCommandFraming(CommandProtocol protocol, const StreamSet& s) : protocol_(protocol) {
    expected_[kError] = true;
    expected_[kStdin] = s.stdin;
    expected_[kStdout] = s.stdout;
    expected_[kStderr] = s.stderr && !s.tty;
    expected_[kResize] = s.tty && protocol >= CommandProtocol::kV3;
  }

  absl::Status Feed(std::string_view bytes, CommandSink& sink) override {
    sink_ = &sink;
    return session_.Feed(bytes, *this);
  }

  bool Ready() const override {
    for (int c = 0; c < 5; ++c) {
      if (expected_[c] && ids_[c] == 0) return false;
    }
    return true;
  }

  void SendOutput(Channel channel, std::string_view data) override {
    if (ids_[channel] != 0 && !closed_[channel] && !data.empty()) session_.Data(ids_[channel], data, false);
  }

  void SendEnd(std::string_view status_body) override {
    for (Channel c : {kStdin, kStdout, kStderr, kResize}) Finish(c);
    if (ids_[kError] != 0 && !closed_[kError]) {
      session_.Data(ids_[kError], status_body, true);
      closed_[kError] = true;
    }
    session_.GoAway();
  }

  std::string TakeOutput() override { return session_.TakeOutput(); }
  size_t buffered() const override { return session_.output_size() + session_.input_buffered(); }

 private:
  void Finish(Channel c) {
    if (ids_[c] != 0 && !closed_[c]) session_.Data(ids_[c], "", true);
    closed_[c] = true;
  }

  void OnStream(uint32_t id, const spdy::HeaderList& headers, bool fin) override {
    const std::string_view type = spdy::FindHeader(headers, "streamtype");
    const std::optional<Channel> channel = ChannelOfStreamType(type);
    if (!channel || ids_[*channel] != 0) {
      refusals_.Add({{"type", type}, {"id", id}});
      session_.Reset(id, spdy::RstStatus::kRefusedStream);
      return;
    }
    if (!session_.Reply(id).ok()) {
      session_.Reset(id, spdy::RstStatus::kInternalError);
      return;
    }
    ids_[*channel] = id;
    by_id_[id] = *channel;
    if (*channel == kStdin && (fin || protocol_ == CommandProtocol::kV1)) {
      // v1 servers half-closed stdin right away (kubelet's v1ProtocolHandler); the client's stdin data
      // still flows, only the server-to-client direction closes.
      if (protocol_ == CommandProtocol::kV1) Finish(kStdin);
      if (fin) sink_->OnStdinClose();
    }
  }

  void OnData(uint32_t id, std::string_view data, bool fin) override {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) {
      session_.Reset(id, spdy::RstStatus::kInvalidStream);
      return;
    }
    switch (it->second) {
      case kStdin:
        if (!data.empty()) sink_->OnStdin(data);
        if (fin) sink_->OnStdinClose();
        break;
      case kResize:
        if (!data.empty()) sink_->OnResize(data);
        break;
      default:
        break;  // the client has nothing to say on output and error streams
    }
  }

  void OnReset(uint32_t id) override {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    const Channel c = it->second;
    closed_[c] = true;
    if (c == kStdin) sink_->OnStdinClose();
    if (c == kStdout || c == kStderr) sink_->OnOutputClosed(c);
  }

  void OnGoAway() override { sink_->OnPeerGone(); }

  CommandProtocol protocol_;
  spdy::Session session_;
  CommandSink* sink_ = nullptr;
  bool expected_[5] = {};
  uint32_t ids_[5] = {};
  bool closed_[5] = {};
  std::map<uint32_t, Channel> by_id_;
  CountedWarning refusals_{"refusing remotecommand stream"};
};

// WebSocket channels (k8s.io/apimachinery wsstream): every binary message starts with its channel byte;
// the base64 variants send text messages with an ASCII channel digit and a base64 payload. v5 adds the
// CLOSE message [0xFF, channel] (client-go tools/remotecommand/websocket.go stream.Close).
class WebSocketCommandFraming : public CommandFraming {
 public:
  WebSocketCommandFraming(CommandProtocol protocol, bool base64, const StreamSet& s)
      : protocol_(protocol), base64_(base64) {
    // kubelet's server writes an empty message on the lowest writable channel so that the client knows the
    // connection is established; clients ignore it.
    SendMessage(s.stdout ? kStdout : (s.stderr && !s.tty ? kStderr : kError), "");
  }

  absl::Status Feed(std::string_view bytes, CommandSink& sink) override {
    reader_.Append(bytes);
    while (true) {
      auto next = reader_.Next();
      if (!next.ok()) {
        if (!closing_) output_ += ws::EncodeClose(ws::kCloseProtocolError, "");
        closing_ = true;
        return next.status();
      }
      if (!next->has_value()) return absl::OkStatus();
      ws::Message& m = **next;
      switch (m.opcode) {
        case ws::kPing:
          output_ += ws::EncodeFrame(ws::kPong, m.payload);
          break;
        case ws::kPong:
          break;
        case ws::kClose:
          if (!closing_) output_ += ws::EncodeClose(ws::kCloseNormal, "");
          closing_ = true;
          sink.OnPeerGone();
          return absl::OkStatus();
        case ws::kBinary:
        case ws::kText:
          HandlePiece(m, sink);
          break;
      }
    }
  }

  bool Ready() const override { return true; }

  void SendOutput(Channel channel, std::string_view data) override {
    if (!data.empty()) SendMessage(channel, data);
  }

  void SendEnd(std::string_view status_body) override {
    if (!status_body.empty()) SendMessage(kError, status_body);
    if (!closing_) output_ += ws::EncodeClose(ws::kCloseNormal, "");
    closing_ = true;
  }

  std::string TakeOutput() override { return std::exchange(output_, std::string()); }
  size_t buffered() const override { return output_.size() + reader_.buffered() + b64_carry_.size(); }

 private:
  static constexpr int kUnknownChannel = -1;
  static constexpr int kCloseMessage = 0xFF;

  // A message arrives in pieces: its first byte names the channel (an ASCII digit with base64), the rest
  // is data for it, base64-decoded in groups of four characters as they come.
  void HandlePiece(const ws::Message& m, CommandSink& sink) {
    if (m.first) {
      channel_ = kUnknownChannel;
      skip_ = (m.opcode == ws::kText) != base64_;  // the wrong message type for the protocol: ignored
      b64_carry_.clear();
      close_body_.clear();
    }
    if (skip_) return;
    std::string_view data = m.payload;
    if (channel_ == kUnknownChannel) {
      if (data.empty()) return;
      const uint8_t first = static_cast<uint8_t>(data[0]);
      data.remove_prefix(1);
      if (protocol_ == CommandProtocol::kV5 && first == kCloseMessage) {
        channel_ = kCloseMessage;
      } else {
        channel_ = base64_ ? first - '0' : first;
      }
    }
    if (channel_ == kCloseMessage) {
      // [0xFF, channel]: the client closed its side of a channel.
      if (close_body_.size() < 2) close_body_.append(data.substr(0, 2 - close_body_.size()));
      if (m.fin && close_body_.size() == 1 && close_body_[0] == kStdin) sink.OnStdinClose();
      return;
    }
    std::string decoded;
    if (base64_) {
      b64_carry_.append(data);
      const size_t whole = m.fin ? b64_carry_.size() : b64_carry_.size() / 4 * 4;
      auto d = Base64Decode(std::string_view(b64_carry_).substr(0, whole));
      b64_carry_.erase(0, whole);
      if (!d) {
        skip_ = true;  // not base64: the rest of the message is dropped
        return;
      }
      decoded = *std::move(d);
      data = decoded;
    }
    if (channel_ == kStdin && !data.empty()) sink.OnStdin(data);
    if (channel_ == kResize && !data.empty()) sink.OnResize(data);
  }

  void SendMessage(Channel channel, std::string_view data) {
    if (closing_) return;
    if (base64_) {
      output_ += ws::EncodeFrame(
          ws::kText, StrCat(std::string(1, static_cast<char>('0' + channel)), Base64Encode(data)));
    } else {
      std::string body(1, static_cast<char>(channel));
      body.append(data);
      output_ += ws::EncodeFrame(ws::kBinary, body);
    }
  }

  CommandProtocol protocol_;
  bool base64_;
  ws::MessageReader reader_;
  std::string output_;
  bool closing_ = false;
  // The message being received.
  int channel_ = kUnknownChannel;
  bool skip_ = false;
  std::string b64_carry_;
  std::string close_body_;
};

}  // namespace

std::unique_ptr<CommandFraming> NewSpdyCommandFraming(CommandProtocol protocol, const StreamSet& streams) {
  return std::make_unique<SpdyCommandFraming>(protocol, streams);
}

std::unique_ptr<CommandFraming> NewWebSocketCommandFraming(CommandProtocol protocol, bool base64,
                                                           const StreamSet& streams) {
  return std::make_unique<WebSocketCommandFraming>(protocol, base64, streams);
}

}  // namespace cricket::streaming
