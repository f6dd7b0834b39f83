#include "server/streaming/spdy_frame.h"

#include <gtest/gtest.h>

namespace cricket::streaming::spdy {
namespace {

TEST(SpdyFrame, DataFrameRoundTrip) {
  const std::string wire = EncodeData(5, "hello", true);
  ASSERT_EQ(wire.size(), 13u);
  EXPECT_EQ(wire.substr(0, 8), std::string("\x00\x00\x00\x05\x01\x00\x00\x05", 8));
  FrameReader reader;
  reader.Append(wire);
  auto frame = reader.Next();
  ASSERT_TRUE(frame.ok()) << frame.status();
  ASSERT_TRUE(frame->has_value());
  EXPECT_FALSE((*frame)->control);
  EXPECT_EQ((*frame)->stream_id, 5u);
  EXPECT_TRUE((*frame)->fin());
  EXPECT_EQ((*frame)->payload, "hello");
}

TEST(SpdyFrame, ReaderWaitsForCompleteFramesByteByByte) {
  const std::string wire = EncodePing(7) + EncodeData(3, "abc", false);
  FrameReader reader;
  std::vector<Frame> frames;
  for (char c : wire) {
    reader.Append(std::string_view(&c, 1));
    auto f = reader.Next();
    ASSERT_TRUE(f.ok());
    if (f->has_value()) frames.push_back(**f);
  }
  // The ping whole; the data frame's payload byte by byte, as it arrived.
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_TRUE(frames[0].control);
  EXPECT_EQ(frames[0].type, static_cast<uint16_t>(ControlType::kPing));
  EXPECT_EQ(*ParsePing(frames[0]), 7u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(frames[1 + i].control);
    EXPECT_EQ(frames[1 + i].stream_id, 3u);
    EXPECT_EQ(frames[1 + i].payload, std::string(1, "abc"[i]));
  }
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(SpdyFrame, DataPiecesHoldNothingBackAndFinComesLast) {
  FrameReader reader;
  const std::string wire = EncodeData(9, std::string(100000, 'd'), true) + EncodeData(11, "", true);
  reader.Append(wire.substr(0, 50000));
  auto first = reader.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->payload.size(), 50000u - kFrameHeaderSize);
  EXPECT_FALSE((*first)->fin());
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_FALSE(reader.Next()->has_value());
  reader.Append(wire.substr(50000));
  auto second = reader.Next();
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->payload.size(), 100000u - (50000u - kFrameHeaderSize));
  EXPECT_TRUE((*second)->fin());
  auto empty = reader.Next();
  ASSERT_TRUE(empty.ok() && empty->has_value());
  EXPECT_EQ((*empty)->stream_id, 11u);
  EXPECT_TRUE((*empty)->fin());
  EXPECT_EQ((*empty)->payload, "");
  EXPECT_FALSE(reader.Next()->has_value());
}

TEST(SpdyFrame, ControlFrameLayout) {
  const std::string ping = EncodePing(0x01020304);
  EXPECT_EQ(ping, std::string("\x80\x03\x00\x06\x00\x00\x00\x04\x01\x02\x03\x04", 12));
  const std::string rst = EncodeRstStream(9, RstStatus::kProtocolError);
  EXPECT_EQ(rst, std::string("\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x09\x00\x00\x00\x01", 16));
  const std::string goaway = EncodeGoAway(3, 0);
  EXPECT_EQ(goaway, std::string("\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x03\x00\x00\x00\x00", 16));
}

TEST(SpdyFrame, SynStreamParse) {
  FrameReader reader;
  reader.Append(EncodeSynStream(1, 0, 2, true, "HDRS"));
  auto f = reader.Next();
  ASSERT_TRUE(f.ok() && f->has_value());
  auto syn = ParseSynStream(**f);
  ASSERT_TRUE(syn.ok()) << syn.status();
  EXPECT_EQ(syn->stream_id, 1u);
  EXPECT_EQ(syn->priority, 2);
  EXPECT_TRUE(syn->fin);
  EXPECT_EQ(syn->header_block, "HDRS");
}

TEST(SpdyFrame, SynReplyParse) {
  FrameReader reader;
  reader.Append(EncodeSynReply(11, false, "xyz"));
  auto f = reader.Next();
  ASSERT_TRUE(f.ok() && f->has_value());
  auto parsed = ParseStreamHeaders(**f);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->first, 11u);
  EXPECT_EQ(parsed->second, "xyz");
}

TEST(SpdyFrame, RejectsMalformedFrames) {
  {
    FrameReader reader;
    reader.Append(std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));  // version 2
    EXPECT_FALSE(reader.Next().ok());
  }
  {
    FrameReader reader(1024);
    reader.Append(std::string("\x80\x03\x00\x06\x00\x01\x00\x00", 8));  // 64 KiB ping, limit 1 KiB
    EXPECT_FALSE(reader.Next().ok());
  }
  Frame short_ping{true, 3, 6, 0, 0, "abc"};
  EXPECT_FALSE(ParsePing(short_ping).ok());
  Frame short_syn{true, 3, 1, 0, 0, "123456789"};
  EXPECT_FALSE(ParseSynStream(short_syn).ok());
  Frame zero_syn{true, 3, 1, 0, 0, std::string(10, '\0')};
  EXPECT_FALSE(ParseSynStream(zero_syn).ok());
  Frame bad_rst{true, 3, 3, 0, 0, std::string(7, '\1')};
  EXPECT_FALSE(ParseRstStream(bad_rst).ok());
}

TEST(SpdyFrame, MaxLengthDataFrameHeader) {
  const std::string big(kMaxFrameLength, 'x');
  const std::string wire = EncodeData(1, big, false);
  EXPECT_EQ(wire.substr(4, 4), std::string("\x00\xff\xff\xff", 4));
}

}  // namespace
}  // namespace cricket::streaming::spdy
