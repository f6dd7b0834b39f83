#include "server/streaming/base64.h"

#include <gtest/gtest.h>

namespace cricket::streaming {
namespace {

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*Base64Decode("Zm9vYg=="), "foob");
  EXPECT_EQ(*Base64Decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(*Base64Decode(""), "");
}

TEST(Base64, RawUrl) {
  EXPECT_EQ(Base64RawUrlEncode(std::string("\xfb\xff\xbf", 3)), "-_-_");
  EXPECT_EQ(Base64RawUrlEncode("f"), "Zg");
  EXPECT_EQ(Base64RawUrlEncode(std::string(6, '\0')).size(), 8u);
}

TEST(Base64, DecodeRejectsMalformed) {
  EXPECT_FALSE(Base64Decode("Zg=").has_value());
  EXPECT_FALSE(Base64Decode("Z===").has_value());
  EXPECT_FALSE(Base64Decode("Zg=a").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v!mFy").has_value());
  EXPECT_FALSE(Base64Decode("Zg==Zg==").has_value());
}

}  // namespace
}  // namespace cricket::streaming
