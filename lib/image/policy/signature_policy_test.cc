#include "lib/image/policy/signature_policy.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::image::policy {
namespace {

std::string CosignPayload(const Digest& d, const std::string& identity) {
  return StrCat(R"({"critical":{"identity":{"docker-reference":")", identity,
                R"("},"image":{"docker-manifest-digest":")", d.ToString(),
                R"("},"type":"cosign container image signature"},"optional":null})");
}

// Sigstore requirements end to end without a registry: the signatures come from the PolicyImage.
class SigstorePolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key_);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    pub_.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }
  void TearDown() override { EVP_PKEY_free(key_); }

  SigstoreSignature Sign(const std::string& payload) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_);
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(payload.data());
    EVP_DigestSign(ctx, nullptr, &len, in, payload.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, payload.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return SigstoreSignature{payload, sig};
  }

  SignaturePolicy Policy(const std::string& identity_rule) {
    std::string b64;
    absl::Base64Escape(ToAbsl(pub_), &b64);
    auto file =
        PolicyFile::Parse(StrCat(R"({"default": [{"type": "reject"}], "transports": {"docker": {"r.io/team": [
        {"type": "sigstoreSigned", "keyData": ")",
                                 b64, "\"", identity_rule, R"(}]}}})"),
                          "/etc/containers/policy.json");
    EXPECT_TRUE(file.ok()) << file.status();
    return SignaturePolicy(*std::move(file), RegistriesD(), nullptr);
  }

  PolicyImage Image(std::vector<SigstoreSignature> sigs) {
    PolicyImage img;
    img.transport = "docker";
    img.docker_reference = *Reference::ParseNormalized("r.io/team/app:v1");
    img.identity = img.docker_reference->ToString();
    img.manifest_digest = digest_;
    img.sigstore_signatures = [sigs](const CallContext&) -> absl::StatusOr<std::vector<SigstoreSignature>> {
      return sigs;
    };
    return img;
  }

  EVP_PKEY* key_ = nullptr;
  std::string pub_;
  Digest digest_ = Digest::Sha256Of("manifest");
};

TEST_F(SigstorePolicyTest, AcceptsAValidSignatureAndExplainsEachRefusal) {
  SignaturePolicy p = Policy(R"(, "signedIdentity": {"type": "matchRepository"})");
  CallContext ctx;
  EXPECT_TRUE(p.Check(Image({Sign(CosignPayload(digest_, "r.io/team/app"))}), ctx).ok());

  absl::Status none = p.Check(Image({}), ctx);
  EXPECT_TRUE(absl::IsPermissionDenied(none));
  EXPECT_TRUE(absl::StrContains(none.message(), "/etc/containers/policy.json")) << none;
  EXPECT_TRUE(absl::StrContains(none.message(), "docker scope \"r.io/team\"")) << none;
  EXPECT_TRUE(absl::StrContains(none.message(), "no signature exists")) << none;

  SigstoreSignature forged = Sign(CosignPayload(digest_, "r.io/team/app"));
  forged.payload = CosignPayload(digest_, "r.io/team/evil");
  absl::Status bad = p.Check(Image({forged}), ctx);
  EXPECT_TRUE(absl::StrContains(bad.message(), "does not verify")) << bad;

  absl::Status other = p.Check(Image({Sign(CosignPayload(Digest::Sha256Of("other"), "r.io/team/app"))}), ctx);
  EXPECT_TRUE(absl::StrContains(other.message(), "is for manifest")) << other;

  absl::Status who = p.Check(Image({Sign(CosignPayload(digest_, "r.io/elsewhere/app"))}), ctx);
  EXPECT_TRUE(absl::StrContains(who.message(), "identity mismatch")) << who;

  // One good signature among bad ones is enough.
  EXPECT_TRUE(p.Check(Image({forged, Sign(CosignPayload(digest_, "r.io/team/app"))}), ctx).ok());

  // Outside the scope: the default rejects.
  PolicyImage outside = Image({});
  outside.identity = "q.io/x:1";
  absl::Status rejected = p.Check(outside, ctx);
  EXPECT_TRUE(absl::StrContains(rejected.message(), "(default)")) << rejected;
}

TEST_F(SigstorePolicyTest, DefaultIdentityRuleRefusesCosignsRepositoryOnlyClaims) {
  SignaturePolicy p = Policy("");
  absl::Status s = p.Check(Image({Sign(CosignPayload(digest_, "r.io/team/app"))}), CallContext());
  EXPECT_TRUE(absl::StrContains(s.message(), "identity mismatch")) << s;
  EXPECT_TRUE(p.Check(Image({Sign(CosignPayload(digest_, "r.io/team/app:v1"))}), CallContext()).ok());
}

TEST(PolicyLoaderTest, MissingDefaultAcceptsConfiguredMissingAndMalformedRefuse) {
  char tmpl[] = "/tmp/cricket-policyloader-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  PolicyLoader::Options o;
  o.policy_path = dir + "/policy.json";
  o.policy_dir = dir + "/ns";
  o.registries_d = dir + "/registries.d";
  PolicyLoader loader(o, nullptr);
  auto missing = loader.Get("");
  EXPECT_TRUE(absl::IsFailedPrecondition(missing.status())) << missing.status();
  ASSERT_TRUE(WriteFileAtomic(o.policy_path, "{\"default\": []}").ok());
  auto malformed = loader.Get("");
  EXPECT_TRUE(absl::StrContains(malformed.status().message(), o.policy_path)) << malformed.status();
  ASSERT_TRUE(WriteFileAtomic(o.policy_path, R"({"default": [{"type": "insecureAcceptAnything"}]})").ok());
  auto ok = loader.Get("");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->file().source(), o.policy_path);
  ASSERT_TRUE(MkdirAll(o.policy_dir).ok());
  ASSERT_TRUE(WriteFileAtomic(o.policy_dir + "/prod.json", R"({"default": [{"type": "reject"}]})").ok());
  EXPECT_EQ((*loader.Get("prod"))->file().source(), o.policy_dir + "/prod.json");
  EXPECT_EQ((*loader.Get("dev"))->file().source(), o.policy_path);
  EXPECT_EQ((*loader.Get("../prod"))->file().source(), o.policy_path);
  ASSERT_TRUE(MkdirAll(o.registries_d).ok());
  ASSERT_TRUE(WriteFileAtomic(o.registries_d + "/bad.yaml", "docker: [").ok());
  auto bad_regd = loader.Get("");
  EXPECT_TRUE(absl::StrContains(bad_regd.status().message(), "bad.yaml")) << bad_regd.status();

  PolicyLoader::Options defaults;
  defaults.registries_d = dir + "/none";
  PolicyLoader implicit(defaults, nullptr);
  // The default path is used; on a machine without it, everything is accepted.
  auto d = implicit.Get("");
  EXPECT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(RemoveAll(dir).ok());
}

}  // namespace
}  // namespace cricket::image::policy
