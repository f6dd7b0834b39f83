#include "lib/image/policy/policy.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "lib/common/strings.h"
#include "lib/image/policy/payload.h"
#include "lib/image/policy/registries_d.h"

namespace cricket::image::policy {
namespace {

using T = Requirement::Type;

PolicyFile MustParse(std::string_view text) {
  auto p = PolicyFile::Parse(text, "/etc/containers/policy.json");
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : PolicyFile::AcceptAnything("x");
}

void ExpectRefused(std::string_view text, std::string_view needle) {
  auto p = PolicyFile::Parse(text, "/p.json");
  ASSERT_FALSE(p.ok()) << text;
  EXPECT_TRUE(absl::IsInvalidArgument(p.status()));
  EXPECT_TRUE(absl::StrContains(p.status().message(), "/p.json")) << p.status();
  EXPECT_TRUE(absl::StrContains(p.status().message(), ToAbsl(needle))) << p.status();
}

TEST(PolicyFileTest, MostSpecificScopeWins) {
  PolicyFile p = MustParse(R"({
    "default": [{"type": "reject"}],
    "transports": {
      "docker": {
        "": [{"type": "insecureAcceptAnything"}],
        "r.io": [{"type": "reject"}],
        "r.io/ns": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}],
        "r.io/ns/app:v1": [{"type": "insecureAcceptAnything"}],
        "*.example.com": [{"type": "sigstoreSigned", "keyData": "a2V5",
                           "signedIdentity": {"type": "matchRepository"}}]
      },
      "dir": {"/srv/images": [{"type": "reject"}]}
    }})");
  auto m = p.Lookup("docker", "r.io/ns/app:v1");
  EXPECT_EQ(m.scope, "r.io/ns/app:v1");
  m = p.Lookup("docker", "r.io/ns/app:v2");
  EXPECT_EQ(m.scope, "r.io/ns");
  EXPECT_EQ((*m.requirements)[0].type, T::kSignedBy);
  EXPECT_EQ((*m.requirements)[0].identity.type, IdentityRule::Type::kMatchRepoDigestOrExact);
  EXPECT_EQ(m.Describe(), "docker scope \"r.io/ns\"");
  EXPECT_EQ(p.Lookup("docker", "r.io/other/x:1").scope, "r.io");
  m = p.Lookup("docker", "a.b.example.com/x/y:1");
  EXPECT_EQ(m.scope, "*.example.com");
  EXPECT_EQ((*m.requirements)[0].key_data, "key");
  m = p.Lookup("docker", "q.io/x:1");
  EXPECT_EQ(m.Describe(), "docker default");
  EXPECT_EQ(p.Lookup("dir", "/srv/images/a/b").scope, "/srv/images");
  EXPECT_EQ(p.Lookup("dir", "/srv/other").Describe(), "default");
  EXPECT_EQ(p.Lookup("oci", "/x:1").Describe(), "default");
}

TEST(PolicyFileTest, ScopeCandidatesGoFromSpecificToGeneral) {
  EXPECT_EQ(
      ScopeCandidates("docker", "r.io:5000/a/b@sha256:00"),
      (std::vector<std::string>{"r.io:5000/a/b@sha256:00", "r.io:5000/a/b", "r.io:5000/a", "r.io:5000"}));
  EXPECT_EQ(ScopeCandidates("docker", "x.r.io/a:t"),
            (std::vector<std::string>{"x.r.io/a:t", "x.r.io/a", "x.r.io", "*.r.io", "*.io"}));
  EXPECT_EQ(ScopeCandidates("oci", "/a/b:t"), (std::vector<std::string>{"/a/b:t", "/a/b", "/a"}));
}

TEST(PolicyFileTest, MalformedFilesAreRefusedNamingTheMember) {
  ExpectRefused("{", "/p.json");
  ExpectRefused(R"({"transports": {}})", "\"default\" is missing");
  ExpectRefused(R"({"default": []})", "must not be empty");
  ExpectRefused(R"({"default": [{"type": "insecureAcceptAnything"}], "extra": 1})",
                "unknown member \"extra\"");
  ExpectRefused(R"({"default": [{"type": "acceptSome"}]})", "unknown requirement type");
  ExpectRefused(R"({"default": [{"type": "reject", "keyPath": "/x"}]})", "unknown member \"keyPath\"");
  ExpectRefused(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys"}]})", "exactly one of keyPath");
  ExpectRefused(
      R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "keyData": "eA=="}]})",
      "exactly one of keyPath");
  ExpectRefused(R"({"default": [{"type": "signedBy", "keyType": "X509", "keyPath": "/a"}]})", "keyType");
  ExpectRefused(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "rel/key"}]})",
                "absolute");
  ExpectRefused(R"({"default": [{"type": "sigstoreSigned", "keyData": "!!"}]})", "keyData: is not base64");
  ExpectRefused(
      R"({"default": [{"type": "sigstoreSigned", "keyPath": "/k", "signedIdentity": {"type": "x"}}]})",
      "unknown signedIdentity type");
  ExpectRefused(R"({"default": [{"type": "sigstoreSigned", "keyPath": "/k",
                   "signedIdentity": {"type": "exactReference", "dockerReference": "busybox"}}]})",
                "dockerReference");
  ExpectRefused(
      R"({"default": [{"type": "reject"}], "transports": {"docker": {"bad host!": [{"type": "reject"}]}}})",
      "invalid registry scope");
  ExpectRefused(
      R"({"default": [{"type": "reject"}], "transports": {"docker": {"library/busybox": [{"type": "reject"}]}}})",
      "not a fully expanded name");
  ExpectRefused(R"({"default": [{"type": "reject"}], "transports": {"dir": {"/": [{"type": "reject"}]}}})",
                "absolute path other than");
}

TEST(PolicyFileTest, FulcioIsParsedButMarkedUnsupported) {
  PolicyFile p = MustParse(R"({"default": [{"type": "sigstoreSigned",
      "fulcio": {"caPath": "/ca", "oidcIssuer": "https://x", "subjectEmail": "a@b"},
      "rekorPublicKeyPath": "/rekor.pub"}]})");
  auto m = p.Lookup("docker", "r.io/a:1");
  EXPECT_TRUE(absl::StrContains((*m.requirements)[0].unsupported, "not supported"));
}

Reference Ref(std::string_view s) { return *Reference::ParseNormalized(s); }

IdentityRule Rule(IdentityRule::Type t) {
  IdentityRule r;
  r.type = t;
  return r;
}

TEST(IdentityTest, RulesFollowThePolicyManPage) {
  using I = IdentityRule::Type;
  IdentityRule exact_or_repo = Rule(I::kMatchRepoDigestOrExact);
  EXPECT_TRUE(MatchIdentity(exact_or_repo, Ref("r.io/a/b:1"), "r.io/a/b:1").ok());
  auto bad = MatchIdentity(exact_or_repo, Ref("r.io/a/b:1"), "r.io/a/b:2");
  EXPECT_TRUE(absl::IsPermissionDenied(bad));
  EXPECT_TRUE(absl::StrContains(bad.message(), "identity mismatch")) << bad;
  std::string digest = "sha256:" + std::string(64, 'a');
  EXPECT_TRUE(MatchIdentity(exact_or_repo, Ref("r.io/a/b@" + digest), "r.io/a/b:any").ok());
  EXPECT_FALSE(MatchIdentity(exact_or_repo, Ref("r.io/a/b@" + digest), "r.io/a/c:any").ok());
  EXPECT_FALSE(MatchIdentity(exact_or_repo, Ref("r.io/a/b:1"), "r.io/a/b").ok());  // cosign: repo only
  EXPECT_FALSE(MatchIdentity(Rule(I::kMatchExact), Ref("r.io/a/b@" + digest), "r.io/a/b:1").ok());
  EXPECT_TRUE(MatchIdentity(Rule(I::kMatchRepository), Ref("r.io/a/b:1"), "r.io/a/b").ok());
  EXPECT_TRUE(MatchIdentity(Rule(I::kMatchRepository), Ref("busybox:1"), "docker.io/library/busybox:2").ok());
  EXPECT_FALSE(MatchIdentity(Rule(I::kMatchRepository), Ref("r.io/a/b:1"), "r.io/a/bb").ok());
  IdentityRule exact_ref = Rule(I::kExactReference);
  exact_ref.docker_reference = "vendor.io/p/app:1";
  EXPECT_TRUE(MatchIdentity(exact_ref, Ref("mirror.local/app:1"), "vendor.io/p/app:1").ok());
  EXPECT_FALSE(MatchIdentity(exact_ref, Ref("mirror.local/app:1"), "vendor.io/p/app:2").ok());
  IdentityRule exact_repo = Rule(I::kExactRepository);
  exact_repo.docker_repository = "vendor.io/p/app";
  EXPECT_TRUE(MatchIdentity(exact_repo, Ref("mirror.local/app:1"), "vendor.io/p/app:7").ok());
  IdentityRule remap = Rule(I::kRemapIdentity);
  remap.prefix = "mirror.local/vendor";
  remap.signed_prefix = "vendor.io";
  EXPECT_TRUE(MatchIdentity(remap, Ref("mirror.local/vendor/a/img:1"), "vendor.io/a/img:1").ok());
  EXPECT_FALSE(MatchIdentity(remap, Ref("mirror.local/vendor/a/img:1"), "mirror.local/vendor/a/img:2").ok());
  // Not under the prefix: plain matchRepoDigestOrExact.
  EXPECT_TRUE(MatchIdentity(remap, Ref("mirror.local/vendorx/img:1"), "mirror.local/vendorx/img:1").ok());
  EXPECT_FALSE(MatchIdentity(exact_or_repo, Ref("r.io/a:1"), "NOT A REF").ok());
}

TEST(PayloadTest, StrictCriticalSection) {
  std::string digest = "sha256:" + std::string(64, 'b');
  std::string good =
      R"({"critical":{"identity":{"docker-reference":"r.io/a:1"},"image":{"docker-manifest-digest":")" +
      digest + R"("},"type":"atomic container signature"},"optional":{"creator":"x"}})";
  auto p = ParsePayload(good, kAtomicSignatureType);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->manifest_digest.ToString(), digest);
  EXPECT_EQ(p->docker_reference, "r.io/a:1");
  EXPECT_FALSE(ParsePayload(good, kCosignSignatureType).ok());
  std::string extra = good;
  extra.replace(extra.find("\"type\""), 6, "\"extra\":1,\"type\"");
  EXPECT_TRUE(absl::IsPermissionDenied(ParsePayload(extra, kAtomicSignatureType).status()));
  std::string cosign =
      R"({"critical":{"identity":{"docker-reference":"r.io/a"},"image":{"docker-manifest-digest":")" +
      digest + R"("},"type":"cosign container image signature"},"optional":null})";
  EXPECT_TRUE(ParsePayload(cosign, kCosignSignatureType).ok());
  EXPECT_FALSE(ParsePayload("[]", kAtomicSignatureType).ok());
}

TEST(RegistriesDTest, MostSpecificScopeAndDuplicates) {
  RegistriesD d;
  ASSERT_TRUE(d.Add(R"(
default-docker:
  lookaside: https://sigs.example.com/
docker:
  r.io:
    lookaside: file:///var/sigs
  r.io/team/app:
    sigstore: http://127.0.0.1:9/sigs
    use-sigstore-attachments: true
)",
                    "/etc/containers/registries.d/a.yaml")
                  .ok());
  EXPECT_EQ(d.For("r.io/other/x:1").lookaside, "file:///var/sigs");
  EXPECT_FALSE(d.For("r.io/other/x:1").use_sigstore_attachments);
  auto app = d.For("r.io/team/app:2");
  EXPECT_EQ(app.lookaside, "http://127.0.0.1:9/sigs");
  EXPECT_TRUE(app.use_sigstore_attachments);
  EXPECT_EQ(d.For("q.io/x:1").lookaside, "https://sigs.example.com");
  auto dup = d.Add("docker:\n  r.io:\n    lookaside: file:///x\n", "/b.yaml");
  EXPECT_TRUE(absl::StrContains(dup.message(), "already defined in /etc/containers/registries.d/a.yaml"))
      << dup;
  EXPECT_TRUE(
      absl::StrContains(d.Add("docker:\n  q.io:\n    lookaside: ftp://x\n", "/c.yaml").message(), "/c.yaml"));
  EXPECT_FALSE(d.Add("docker:\n  q.io:\n    colour: red\n", "/d.yaml").ok());
  EXPECT_FALSE(d.Add("docker: [", "/e.yaml").ok());
  RegistriesD empty;
  EXPECT_EQ(empty.For("r.io/a:1").lookaside, "file:///var/lib/containers/sigstore");
}

}  // namespace
}  // namespace cricket::image::policy
