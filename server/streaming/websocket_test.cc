#include "server/streaming/websocket.h"

#include <gtest/gtest.h>

namespace cricket::streaming::ws {
namespace {

TEST(WebSocket, AcceptKeyRfc6455Example) {
  EXPECT_EQ(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocket, ServerFrameLengths) {
  EXPECT_EQ(EncodeFrame(kBinary, "hi"), std::string("\x82\x02hi", 4));
  const std::string mid = EncodeFrame(kBinary, std::string(300, 'a'));
  EXPECT_EQ(mid.substr(0, 4), std::string("\x82\x7e\x01\x2c", 4));
  const std::string big = EncodeFrame(kText, std::string(70000, 'a'));
  EXPECT_EQ(big.substr(0, 10), std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10));
  EXPECT_EQ(EncodeClose(1000, ""), std::string("\x88\x02\x03\xe8", 4));
  EXPECT_EQ(CloseCode(std::string("\x03\xe8", 2)), 1000);
  EXPECT_EQ(CloseCode(""), 1005);
}

TEST(WebSocket, ReadsMaskedAndFragmentedMessagesWithInterleavedControl) {
  MessageReader reader;
  reader.Append(EncodeMaskedFrame(kBinary, std::string("\x00he", 3), 0x11223344, false));
  reader.Append(EncodeMaskedFrame(kPing, "p", 0x01020304));
  reader.Append(EncodeMaskedFrame(kContinuation, "llo", 0xa5a5a5a5, true));
  reader.Append(EncodeMaskedFrame(kBinary, std::string(200, 'z'), 0xdeadbeef));
  // Pieces of the fragmented message as they arrive, the ping between them.
  auto p1 = reader.Next();
  ASSERT_TRUE(p1.ok() && p1->has_value()) << p1.status();
  EXPECT_EQ((*p1)->opcode, kBinary);
  EXPECT_EQ((*p1)->payload, std::string("\x00he", 3));
  EXPECT_TRUE((*p1)->first);
  EXPECT_FALSE((*p1)->fin);
  auto ping = reader.Next();
  ASSERT_TRUE(ping.ok() && ping->has_value());
  EXPECT_EQ((*ping)->opcode, kPing);
  EXPECT_EQ((*ping)->payload, "p");
  auto p2 = reader.Next();
  ASSERT_TRUE(p2.ok() && p2->has_value());
  EXPECT_EQ((*p2)->opcode, kBinary);
  EXPECT_EQ((*p2)->payload, "llo");
  EXPECT_FALSE((*p2)->first);
  EXPECT_TRUE((*p2)->fin);
  auto m3 = reader.Next();
  ASSERT_TRUE(m3.ok() && m3->has_value());
  EXPECT_EQ((*m3)->payload, std::string(200, 'z'));
  EXPECT_TRUE((*m3)->first && (*m3)->fin);
  auto none = reader.Next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(WebSocket, PartialInputWaits) {
  const std::string frame = EncodeMaskedFrame(kBinary, std::string(70000, 'q'), 7);
  MessageReader reader;
  reader.Append(std::string_view(frame).substr(0, 9));
  auto m = reader.Next();
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());
  reader.Append(std::string_view(frame).substr(9));
  m = reader.Next();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->payload.size(), 70000u);
}

TEST(WebSocket, LargeMessagesArriveInPiecesWithoutBeingHeld) {
  const std::string body = std::string(100000, 'a') + std::string(100000, 'b');
  const std::string frame = EncodeMaskedFrame(kBinary, body, 0x01020304);
  MessageReader reader;
  std::string got;
  for (size_t at = 0; at < frame.size(); at += 4093) {
    reader.Append(std::string_view(frame).substr(at, 4093));
    while (true) {
      auto m = reader.Next();
      ASSERT_TRUE(m.ok()) << m.status();
      if (!m->has_value()) break;
      EXPECT_EQ((*m)->first, got.empty());
      got += (*m)->payload;
      EXPECT_EQ((*m)->fin, got.size() == body.size());
    }
    EXPECT_LT(reader.buffered(), 16u);
  }
  EXPECT_EQ(got, body);
}

TEST(WebSocket, RejectsProtocolViolations) {
  auto fails = [](std::string bytes, size_t max = 1 << 20) {
    MessageReader reader(max);
    reader.Append(bytes);
    while (true) {
      auto m = reader.Next();
      if (!m.ok()) return true;
      if (!m->has_value()) return false;
    }
  };
  EXPECT_TRUE(fails(EncodeFrame(kBinary, "unmasked")));
  EXPECT_TRUE(fails(EncodeMaskedFrame(kPing, std::string(126, 'x'), 1)));
  EXPECT_TRUE(fails(EncodeMaskedFrame(kPing, "x", 1, false)));
  EXPECT_TRUE(fails(EncodeMaskedFrame(kContinuation, "x", 1)));
  EXPECT_TRUE(fails(EncodeMaskedFrame(0x3, "x", 1)));
  EXPECT_TRUE(fails(EncodeMaskedFrame(0xB, "x", 1)));
  EXPECT_TRUE(fails(EncodeMaskedFrame(kBinary, "x", 1, false) + EncodeMaskedFrame(kBinary, "y", 1)));
  EXPECT_TRUE(fails(EncodeMaskedFrame(kBinary, std::string(100, 'x'), 1), 50));
  std::string rsv = EncodeMaskedFrame(kBinary, "x", 1);
  rsv[0] = static_cast<char>(rsv[0] | 0x40);
  EXPECT_TRUE(fails(rsv));
  EXPECT_TRUE(fails(EncodeMaskedFrame(kClose, "x", 1)));
}

}  // namespace
}  // namespace cricket::streaming::ws
