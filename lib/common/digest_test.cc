#include "lib/common/digest.h"

#include <gtest/gtest.h>

namespace cricket {
namespace {

TEST(Digest, ParseValidatesAlgorithmAndHex) {
  std::string ok = "sha256:" + std::string(64, 'a');
  auto d = Digest::Parse(ok);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->algorithm(), "sha256");
  EXPECT_EQ(d->ToString(), ok);
  EXPECT_FALSE(Digest::Parse("sha256:" + std::string(63, 'a')).ok());
  EXPECT_FALSE(Digest::Parse("sha256:" + std::string(64, 'A')).ok());
  EXPECT_FALSE(Digest::Parse("md5:" + std::string(32, 'a')).ok());
  EXPECT_FALSE(Digest::Parse(std::string(64, 'a')).ok());
  EXPECT_TRUE(Digest::Parse("sha512:" + std::string(128, '0')).ok());
}

TEST(Digest, Sha256KnownVectors) {
  EXPECT_EQ(Digest::Sha256Of("").ToString(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto h = Hasher::Create("sha256");
  ASSERT_TRUE(h.ok());
  h->Update("ab");
  h->Update("c");
  EXPECT_EQ(h->bytes(), 3u);
  EXPECT_EQ(h->Finish(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(Hasher::Create("md5").ok());
}

TEST(RandomHexId, IsHexAndDistinct) {
  std::string a = RandomHexId();
  std::string b = RandomHexId();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(Digest::Parse("sha256:" + a).ok());
}

}  // namespace
}  // namespace cricket
