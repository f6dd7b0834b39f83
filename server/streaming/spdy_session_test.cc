#include "server/streaming/spdy_session.h"

#include <gtest/gtest.h>

#include <vector>

namespace cricket::streaming::spdy {
namespace {

// Plays the client: its own compressor and decompressor, one zlib stream per direction.
class Client {
 public:
  std::string Syn(uint32_t id, const HeaderList& headers, bool fin = false) {
    return EncodeSynStream(id, 0, 0, fin, *out_.Compress(headers));
  }
  std::vector<Frame> Parse(const std::string& bytes) {
    reader_.Append(bytes);
    std::vector<Frame> frames;
    while (true) {
      auto f = reader_.Next();
      EXPECT_TRUE(f.ok()) << f.status();
      if (!f.ok() || !f->has_value()) break;
      if ((*f)->control && (*f)->type == static_cast<uint16_t>(ControlType::kSynReply)) {
        auto h = ParseStreamHeaders(**f);
        EXPECT_TRUE(h.ok());
        auto headers = in_.Decompress(h->second);
        EXPECT_TRUE(headers.ok()) << headers.status();
        EXPECT_TRUE(headers->empty());
      }
      frames.push_back(**f);
    }
    return frames;
  }

 private:
  HeaderCompressor out_;
  HeaderDecompressor in_;
  FrameReader reader_;
};

struct Recorder : Session::Handler {
  explicit Recorder(Session& s) : session(s) {}
  void OnStream(uint32_t id, const HeaderList& headers, bool fin) override {
    streams.push_back({id, std::string(FindHeader(headers, "streamtype")), fin});
    EXPECT_TRUE(session.Reply(id).ok());
  }
  void OnData(uint32_t id, std::string_view d, bool fin) override {
    data.push_back({id, std::string(d), fin});
  }
  void OnReset(uint32_t id) override { resets.push_back(id); }
  void OnGoAway() override { goaway = true; }

  struct StreamEvent {
    uint32_t id;
    std::string type;
    bool fin;
  };
  struct DataEvent {
    uint32_t id;
    std::string data;
    bool fin;
  };
  Session& session;
  std::vector<StreamEvent> streams;
  std::vector<DataEvent> data;
  std::vector<uint32_t> resets;
  bool goaway = false;
};

TEST(SpdySession, StreamsRepliesDataPingResetGoAway) {
  Session session;
  Recorder rec(session);
  Client client;
  // One statement per block: the zlib stream must see them in wire order.
  std::string wire = client.Syn(1, {{"streamtype", "error"}});
  wire += client.Syn(3, {{"streamtype", "stdin"}});
  wire += EncodeData(3, "input", true) + EncodePing(7) + EncodeRstStream(1, RstStatus::kCancel) +
          EncodeGoAway(3, 0);
  ASSERT_TRUE(session.Feed(wire, rec).ok());
  ASSERT_EQ(rec.streams.size(), 2u);
  EXPECT_EQ(rec.streams[0].type, "error");
  EXPECT_EQ(rec.streams[1].id, 3u);
  ASSERT_EQ(rec.data.size(), 1u);
  EXPECT_EQ(rec.data[0].data, "input");
  EXPECT_TRUE(rec.data[0].fin);
  EXPECT_EQ(rec.resets, std::vector<uint32_t>{1});
  EXPECT_TRUE(rec.goaway);

  session.Data(3, std::string(Session::kMaxDataChunk + 10, 'o'), true);
  session.GoAway();
  session.GoAway();  // only once
  std::vector<Frame> out = client.Parse(session.TakeOutput());
  ASSERT_EQ(out.size(), 6u);  // 2 replies, ping echo, 2 data chunks, goaway
  EXPECT_EQ(out[0].type, static_cast<uint16_t>(ControlType::kSynReply));
  EXPECT_EQ(out[1].type, static_cast<uint16_t>(ControlType::kSynReply));
  EXPECT_EQ(out[2].type, static_cast<uint16_t>(ControlType::kPing));
  EXPECT_EQ(*ParsePing(out[2]), 7u);
  EXPECT_FALSE(out[3].control);
  EXPECT_FALSE(out[3].fin());
  EXPECT_EQ(out[3].payload.size(), Session::kMaxDataChunk);
  EXPECT_TRUE(out[4].fin());
  EXPECT_EQ(out[4].payload.size(), 10u);
  auto goaway = ParseGoAway(out[5]);
  ASSERT_TRUE(goaway.ok());
  EXPECT_EQ(goaway->last_good_stream_id, 3u);
}

TEST(SpdySession, RejectsEvenOrDecreasingStreamIds) {
  Session session;
  Recorder rec(session);
  Client client;
  std::string wire = client.Syn(5, {{"streamtype", "a"}});
  wire += client.Syn(2, {{"streamtype", "b"}});
  wire += client.Syn(3, {{"streamtype", "c"}});
  ASSERT_TRUE(session.Feed(wire, rec).ok());
  ASSERT_EQ(rec.streams.size(), 1u);
  std::vector<Frame> out = client.Parse(session.TakeOutput());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].type, static_cast<uint16_t>(ControlType::kRstStream));
  EXPECT_EQ(ParseRstStream(out[1])->stream_id, 2u);
  EXPECT_EQ(ParseRstStream(out[2])->stream_id, 3u);
}

TEST(SpdySession, HeadersFramesKeepTheZlibStreamInStep) {
  Session session;
  Recorder rec(session);
  HeaderCompressor out;
  std::string headers_frame = *out.Compress({{"x", "y"}});
  std::string wire;
  // HEADERS frame: control header + stream id + block.
  wire += std::string("\x80\x03\x00\x08", 4);
  const uint32_t len = 4 + headers_frame.size();
  wire +=
      std::string{'\0', static_cast<char>(len >> 16), static_cast<char>(len >> 8), static_cast<char>(len)};
  wire += std::string("\x00\x00\x00\x01", 4) + headers_frame;
  wire += EncodeSynStream(1, 0, 0, false, *out.Compress({{"streamtype", "stdout"}}));
  ASSERT_TRUE(session.Feed(wire, rec).ok());
  ASSERT_EQ(rec.streams.size(), 1u);
  EXPECT_EQ(rec.streams[0].type, "stdout");
}

TEST(SpdySession, ConnectionErrors) {
  Session session;
  Recorder rec(session);
  EXPECT_FALSE(session.Feed(EncodeData(0, "x", false), rec).ok());
  Session bad_block;
  Recorder rec2(bad_block);
  EXPECT_FALSE(bad_block.Feed(EncodeSynStream(1, 0, 0, false, "garbage"), rec2).ok());
  Session ignores;
  Recorder rec3(ignores);
  // SETTINGS, WINDOW_UPDATE and unknown control types are ignored.
  std::string settings("\x80\x03\x00\x04\x00\x00\x00\x04\x00\x00\x00\x00", 12);
  std::string window("\x80\x03\x00\x09\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x10\x00", 16);
  std::string unknown("\x80\x03\x00\x63\x00\x00\x00\x00", 8);
  EXPECT_TRUE(ignores.Feed(settings + window + unknown, rec3).ok());
  EXPECT_FALSE(ignores.HasOutput());
}

}  // namespace
}  // namespace cricket::streaming::spdy
