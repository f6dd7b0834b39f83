#include "lib/image/policy/crypto.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::image::policy {
namespace {

struct KeyPair {
  std::string public_pem;
  EVP_PKEY* key = nullptr;
};

KeyPair NewKey(const char* type, const char* curve) {
  KeyPair kp;
  kp.key = curve != nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve)
                            : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, kp.key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  kp.public_pem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
  return kp;
}

std::string Sign(const KeyPair& kp, std::string_view payload, bool ed25519) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr, kp.key);
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(payload.data());
  EVP_DigestSign(ctx, nullptr, &len, in, payload.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, payload.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

TEST(SigstoreCryptoTest, EcdsaAndEd25519) {
  std::string payload = R"({"critical":{}})";
  for (bool ed : {false, true}) {
    KeyPair kp = ed ? NewKey("ED25519", nullptr) : NewKey("EC", "P-256");
    KeyPair other = ed ? NewKey("ED25519", nullptr) : NewKey("EC", "P-256");
    std::string sig = Sign(kp, payload, ed);
    EXPECT_TRUE(VerifySigstoreSignature(payload, sig, kp.public_pem).ok());
    EXPECT_TRUE(absl::IsPermissionDenied(VerifySigstoreSignature(payload + " ", sig, kp.public_pem)));
    EXPECT_TRUE(absl::IsPermissionDenied(VerifySigstoreSignature(payload, sig, other.public_pem)));
    EXPECT_TRUE(absl::IsPermissionDenied(VerifySigstoreSignature(payload, "garbage", kp.public_pem)));
    EVP_PKEY_free(kp.key);
    EVP_PKEY_free(other.key);
  }
  EXPECT_TRUE(absl::IsInvalidArgument(VerifySigstoreSignature("x", "y", "not a key")));
}

// GPG signatures made with the gpg CLI in a throwaway home.
class GpgCryptoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PathExists("/usr/bin/gpg")) GTEST_SKIP() << "gnupg is not installed";
    char tmpl[] = "/tmp/cricket-gpgtest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (dir_.empty()) return;
    // Key generation starts a gpg-agent per home: end them before removing their sockets.
    for (const char* home : {"alice", "bob"}) {
      std::string cmd = StrCat("gpgconf --homedir ", dir_, "/", home, " --kill gpg-agent >/dev/null 2>&1");
      (void)std::system(cmd.c_str());
    }
    (void)RemoveAll(dir_);
  }
  int Gpg(const std::string& home, const std::string& args) {
    std::string cmd = StrCat("/usr/bin/gpg --homedir ", home, " --batch --quiet --pinentry-mode loopback ",
                             args, " >/dev/null 2>&1");
    return std::system(cmd.c_str());
  }
  // A key in its own home; returns the home.
  std::string NewKey(const std::string& name) {
    std::string home = StrCat(dir_, "/", name);
    EXPECT_EQ(std::system(StrCat("mkdir -m 700 ", home).c_str()), 0);
    EXPECT_EQ(Gpg(home, StrCat("--passphrase '' --quick-gen-key ", name, "@cricket.test ed25519 sign never")),
              0);
    EXPECT_EQ(Gpg(home, StrCat("--export --output ", home, "/pub.gpg")), 0);
    return home;
  }
  std::string dir_;
};

TEST_F(GpgCryptoTest, VerifiesSignedMessagesByTrustedKeysOnly) {
  std::string a = NewKey("alice");
  std::string b = NewKey("bob");
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/payload", "{\"hello\":1}").ok());
  ASSERT_EQ(Gpg(a, StrCat("--output ", dir_, "/sig-a --sign ", dir_, "/payload")), 0);
  ASSERT_EQ(Gpg(a, StrCat("--output ", dir_, "/literal --store ", dir_, "/payload")), 0);
  std::string sig = *ReadFile(dir_ + "/sig-a");
  std::string key_a = *ReadFile(a + "/pub.gpg");
  std::string key_b = *ReadFile(b + "/pub.gpg");

  auto ok = VerifyGpgSignature(sig, {key_a});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, "{\"hello\":1}");
  EXPECT_TRUE(VerifyGpgSignature(sig, {key_b, key_a}).ok());  // keyPaths: any of the keys

  auto wrong = VerifyGpgSignature(sig, {key_b});
  EXPECT_TRUE(absl::IsPermissionDenied(wrong.status())) << wrong.status();
  EXPECT_TRUE(absl::StrContains(wrong.status().message(), "not among the policy's keys")) << wrong.status();

  auto literal = VerifyGpgSignature(*ReadFile(dir_ + "/literal"), {key_a});
  EXPECT_TRUE(absl::IsPermissionDenied(literal.status())) << literal.status();
  std::string tampered = sig;
  tampered[tampered.size() / 2] ^= 0x55;
  EXPECT_FALSE(VerifyGpgSignature(tampered, {key_a}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyGpgSignature(sig, {"not a keyring"}).status()));
}

}  // namespace
}  // namespace cricket::image::policy
