// Signature policy on CRI PullImage against Debian's docker-registry on loopback: images signed offline
// with Debian's skopeo (`--sign-by`, GPG "simple signing" into a file:// lookaside store, keys made in a
// throwaway gnupg home) and with test/support/sigstore_signer.py (sigstore signatures in the registry's
// sha256-<digest>.sig tag, ECDSA P-256 keys, through python3-cryptography), pulled by the real cricketd
// under signedBy and sigstoreSigned policies: the good ones are stored; unsigned, wrongly signed and
// identity-mismatched ones are PermissionDenied naming the policy scope and the reason, with nothing
// stored. Also per-namespace policies (signature_policy_dir) and a malformed policy.json (every pull
// refused, re-read once fixed). Needs root, docker-registry, skopeo, gnupg and python3 with
// python3-cryptography (skips otherwise).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/image/registry_client.h"
#include "test/e2e/test_daemon.h"
#include "test/support/registry.h"
#include "test/support/test_image.h"

namespace cricket::e2e {
namespace {

namespace v1 = ::runtime::v1;
using testing::TestImage;
using testing::TestRegistry;

constexpr char kPython[] = "/usr/bin/python3";

image::CallContext Ctx() { return image::CallContext::WithTimeout(60'000); }

// Runs `cmd` with /bin/sh; returns the exit status and, in `out`, stdout and stderr.
int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* f = ::popen(StrCat(cmd, " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  std::string text;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), f)) > 0;) text.append(buf, n);
  int rc = ::pclose(f);
  if (out != nullptr) *out = text;
  if (rc != 0) ADD_FAILURE() << cmd << "\n" << text;
  return rc;
}

TestImage MarkedImage(const std::string& marker) { return testing::MarkedBusyboxImage(marker); }

class SignatureE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "cricketd needs root";
    if (!TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
    for (const char* tool : {"/bin/busybox", "/usr/bin/skopeo", "/usr/bin/gpg", kPython}) {
      if (!PathExists(tool))
        GTEST_SKIP() << tool << " is not installed (busybox-static, skopeo, gnupg, python3)";
    }
    if (std::system(StrCat(kPython, " -c 'import cryptography' 2>/dev/null").c_str()) != 0)
      GTEST_SKIP() << "python3-cryptography is not installed";
    work_ = daemon_.dir() + "/sig";
    ASSERT_TRUE(MkdirAll(work_ + "/gnupg", 0700).ok());
    ASSERT_TRUE(MkdirAll(work_ + "/policies", 0755).ok());
    ASSERT_TRUE(MkdirAll(work_ + "/registries.d", 0755).ok());
  }
  void TearDown() override {
    if (!work_.empty()) {
      Sh(StrCat("gpgconf --homedir ", work_, "/gnupg --kill gpg-agent"));
    }
    if (daemon_.pid() > 0) (void)daemon_.Stop(SIGTERM);
    std::string ns = daemon_.runroot() + "/ns";
    if (PathExists(ns)) ::umount2(ns.c_str(), MNT_DETACH);
  }

  std::string Gpg(const std::string& args) {
    return StrCat("GNUPGHOME=", work_, "/gnupg gpg --batch --quiet --pinentry-mode loopback ", args);
  }
  std::string Skopeo(const std::string& args) {
    return StrCat("GNUPGHOME=", work_, "/gnupg skopeo --registries.d ", work_, "/registries.d ", args);
  }
  // test/support/sigstore_signer.py: keygen PREFIX | sign --key ... (see its docstring).
  std::string Sigstore(const std::string& args) {
    return StrCat("cd ", work_, " && ", kPython, " ", CRICKET_SOURCE_DIR, "/test/support/sigstore_signer.py ",
                  args);
  }

  void Push(const std::string& repo, const std::string& tag, const TestImage& img) {
    image::HttpTransport::Options t;
    t.certs_dirs = {"/nonexistent"};
    image::RegistryClient client(std::make_shared<image::HttpTransport>(t),
                                 std::make_shared<image::TokenCache>(), reg_->host(), true, std::nullopt);
    auto pushed = testing::PushImage(client, repo, tag, img, Ctx());
    ASSERT_TRUE(pushed.ok()) << pushed.status();
  }

  grpc::Status Pull(const std::string& ref, const std::string& ns = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    if (!ns.empty()) req.mutable_sandbox_config()->mutable_metadata()->set_namespace_(ns);
    v1::PullImageResponse resp;
    return images_->PullImage(&ctx, req, &resp);
  }

  void ExpectRefused(const std::string& ref, grpc::StatusCode code, const std::vector<std::string>& needles,
                     const std::string& ns = "") {
    grpc::Status s = Pull(ref, ns);
    EXPECT_EQ(s.error_code(), code) << ref << ": " << s.error_message();
    for (const std::string& n : needles) {
      EXPECT_TRUE(absl::StrContains(s.error_message(), n))
          << ref << ": \"" << n << "\" not in " << s.error_message();
    }
  }

  std::vector<std::string> ListedTags() {
    grpc::ClientContext ctx;
    v1::ListImagesResponse resp;
    EXPECT_TRUE(images_->ListImages(&ctx, v1::ListImagesRequest(), &resp).ok());
    std::vector<std::string> tags;
    for (const auto& img : resp.images())
      for (const auto& t : img.repo_tags()) tags.push_back(t);
    std::sort(tags.begin(), tags.end());
    return tags;
  }

  size_t LayerDirs() {
    auto names = ListDir(daemon_.root() + "/storage/overlay");
    size_t n = 0;
    for (const std::string& d : names.value_or(std::vector<std::string>{})) n += d != "l" && d != "empty";
    return n;
  }

  TestDaemon daemon_;
  std::unique_ptr<v1::ImageService::Stub> images_;
  std::unique_ptr<TestRegistry> reg_;
  std::string work_;
};

TEST_F(SignatureE2eTest, SignedImagesArePulledAndTheOthersRefusedWithNothingStored) {
  auto reg = TestRegistry::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  reg_ = *std::move(reg);
  const std::string host = reg_->host();

  // Keys: GPG (trusted and rogue) in a throwaway home; two ECDSA P-256 pairs for sigstore.
  for (const char* who : {"trusted", "rogue"}) {
    ASSERT_EQ(Sh(Gpg(StrCat("--passphrase '' --quick-gen-key ", who, "@cricket.test ed25519 sign never"))),
              0);
  }
  ASSERT_EQ(Sh(Gpg(StrCat("--export --output ", work_, "/trusted.gpg trusted@cricket.test"))), 0);
  std::string colons;
  ASSERT_EQ(Sh(Gpg("--with-colons --list-keys trusted@cricket.test"), &colons), 0);
  std::string fpr = colons.substr(colons.find("fpr:::::::::") + 12, 40);
  ASSERT_EQ(Sh(Sigstore("keygen k1")), 0);
  ASSERT_EQ(Sh(Sigstore("keygen k2")), 0);
  ASSERT_TRUE(WriteFileAtomic(StrCat(work_, "/registries.d/test.yaml"),
                              StrCat("docker:\n  ", host, ":\n    lookaside: file://", work_,
                                     "/lookaside\n    use-sigstore-attachments: true\n"))
                  .ok());

  // One image per case (signatures are per manifest digest).
  std::map<std::string, TestImage> imgs;
  for (std::string repo : {"signed/app", "sigstore/app"}) {
    for (std::string tag : {"good", "unsigned", "wrongkey", "mismatch"}) {
      imgs[repo + ":" + tag] = MarkedImage(repo + tag);
      Push(repo, tag, imgs[repo + ":" + tag]);
    }
  }
  Push("plain/app", "v1", MarkedImage("plain"));
  std::string tls = "--src-tls-verify=false --dest-tls-verify=false";
  auto ref = [&](const std::string& r) { return StrCat(host, "/", r); };
  ASSERT_EQ(Sh(Skopeo(StrCat("copy -q ", tls, " --sign-by trusted@cricket.test docker://",
                             ref("signed/app:good"), " docker://", ref("signed/app:good")))),
            0);
  ASSERT_EQ(Sh(Skopeo(StrCat("copy -q ", tls, " --sign-by rogue@cricket.test docker://",
                             ref("signed/app:wrongkey"), " docker://", ref("signed/app:wrongkey")))),
            0);
  // A valid signature by the trusted key that claims another identity, placed in the lookaside store.
  const TestImage& mismatch = imgs["signed/app:mismatch"];
  ASSERT_TRUE(WriteFileAtomic(work_ + "/mismatch.manifest", mismatch.manifest).ok());
  std::string sigdir = StrCat(work_, "/lookaside/signed/app@sha256=", mismatch.manifest_digest.hex());
  ASSERT_TRUE(MkdirAll(sigdir, 0755).ok());
  ASSERT_EQ(Sh(Skopeo(StrCat("standalone-sign --output ", sigdir, "/signature-1 ", work_,
                             "/mismatch.manifest ", ref("signed/other:good"), " ", fpr))),
            0);
  // Sigstore signatures name the repository (host/sigstore/app) unless --identity says otherwise.
  auto sigstore_sign = [&](const std::string& key, const std::string& r, const std::string& extra) {
    return Sh(
        Sigstore(StrCat("sign --key ", key, " --registry ", host, " --repository ", r.substr(0, r.find(':')),
                        " --digest ", imgs[r].manifest_digest.ToString(), " ", extra)));
  };
  // The good image carries a signature by the wrong key before the trusted one: one that verifies is
  // enough.
  ASSERT_EQ(sigstore_sign("k2.key", "sigstore/app:good", ""), 0);
  ASSERT_EQ(sigstore_sign("k1.key", "sigstore/app:good", ""), 0);
  ASSERT_EQ(sigstore_sign("k2.key", "sigstore/app:wrongkey", ""), 0);
  ASSERT_EQ(sigstore_sign("k1.key", "sigstore/app:mismatch", StrCat("--identity ", ref("elsewhere/app"))), 0);

  std::string policy = work_ + "/policy.json";
  std::string good_policy =
      StrCat(R"({"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {")", host,
             R"(/signed": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": ")", work_,
             R"(/trusted.gpg"}], ")", host, R"(/sigstore": [{"type": "sigstoreSigned", "keyPath": ")", work_,
             R"(/k1.pub", "signedIdentity": {"type": "matchRepository"}}]}}})");
  ASSERT_TRUE(WriteFileAtomic(policy, good_policy).ok());
  ASSERT_TRUE(WriteFileAtomic(daemon_.dir() + "/registries.conf",
                              StrCat("[[registry]]\nlocation = \"", host, "\"\ninsecure = true\n"))
                  .ok());
  daemon_.set_extra_config(StrCat("[crio.image]\nregistries_conf = \"", daemon_.dir(),
                                  "/registries.conf\"\nregistries_conf_dir = \"\"\nsignature_policy = \"",
                                  policy, "\"\nsignature_policy_dir = \"", work_,
                                  "/policies\"\nregistries_d = \"", work_, "/registries.d\"\n"));
  absl::Status started = daemon_.Start();
  ASSERT_TRUE(started.ok()) << started << daemon_.Stderr();
  images_ = daemon_.ImageStub();

  const grpc::StatusCode kDenied = grpc::StatusCode::PERMISSION_DENIED;
  std::string gpg_scope = StrCat("docker scope \"", host, "/signed\"");
  std::string sigstore_scope = StrCat("docker scope \"", host, "/sigstore\"");
  ExpectRefused(ref("signed/app:unsigned"), kDenied, {policy, gpg_scope, "signedBy", "no signature exists"});
  ExpectRefused(ref("signed/app:wrongkey"), kDenied, {gpg_scope, "not among the policy's keys"});
  ExpectRefused(ref("signed/app:mismatch"), kDenied,
                {gpg_scope, "identity mismatch", ref("signed/other:good")});
  ExpectRefused(ref("sigstore/app:unsigned"), kDenied,
                {sigstore_scope, "sigstoreSigned", "no signature exists"});
  ExpectRefused(ref("sigstore/app:wrongkey"), kDenied, {sigstore_scope, "does not verify"});
  ExpectRefused(ref("sigstore/app:mismatch"), kDenied,
                {sigstore_scope, "identity mismatch", ref("elsewhere/app")});
  EXPECT_TRUE(ListedTags().empty());
  EXPECT_EQ(LayerDirs(), 0u) << "a refused pull stored layers";

  grpc::Status ok = Pull(ref("signed/app:good"));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  ok = Pull(ref("sigstore/app:good"));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(ListedTags(), (std::vector<std::string>{ref("signed/app:good"), ref("sigstore/app:good")}));
  EXPECT_EQ(LayerDirs(), 3u);  // the shared busybox layer and each image's marker layer

  // A pod's namespace selects <signature_policy_dir>/<namespace>.json.
  ASSERT_TRUE(WriteFileAtomic(work_ + "/policies/locked.json", R"({"default": [{"type": "reject"}]})").ok());
  ExpectRefused(ref("plain/app:v1"), kDenied, {"locked.json", "every image in this scope is rejected"},
                "locked");
  ok = Pull(ref("plain/app:v1"), "open");
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  // A malformed policy refuses every pull naming the file; it is re-read once fixed.
  ASSERT_TRUE(
      WriteFileAtomic(policy, R"({"default": [{"type": "insecureAcceptAnything", "bogus": 1}]})").ok());
  ExpectRefused(ref("plain/app:v1"), grpc::StatusCode::FAILED_PRECONDITION,
                {policy, "unknown member \"bogus\""});
  ASSERT_TRUE(WriteFileAtomic(policy, good_policy).ok());
  ok = Pull(ref("plain/app:v1"));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(LayerDirs(), 4u);
}

}  // namespace
}  // namespace cricket::e2e
