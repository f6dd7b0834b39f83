// Deciding whether an image may be pulled or copied: the policy.json requirements of the image's most
// specific scope, each checked against the image's signatures — "simple signing" GPG signatures from
// the lookaside store registries.d names (file:// or http(s)://, `…/<repo>@sha256=<hex>/signature-N`)
// or from a dir: image's `signature-N` files, and sigstore signatures from the registry's
// `sha256-<hex>.sig` tag (cosign's layout: one layer per signature, media type
// application/vnd.dev.cosign.simplesigning.v1+json, the payload as the blob, the base64 signature in
// the layer annotation dev.cosignproject.cosign/signature) when registries.d enables
// use-sigstore-attachments. Every requirement must accept; a signature requirement accepts when at least
// one signature verifies with its keys, covers the image's manifest digest and claims an acceptable
// identity.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/image/http_transport.h"
#include "lib/image/image_source.h"
#include "lib/image/policy/policy.h"
#include "lib/image/policy/registries_d.h"
#include "lib/image/registry_client.h"

namespace cricket::image::policy {

struct SigstoreSignature {
  std::string payload;    // the blob, verified against its descriptor's digest
  std::string signature;  // decoded from base64
};

// What the policy sees of one image before any of it is stored.
struct PolicyImage {
  std::string transport;                          // "docker", "dir", "oci"
  std::string identity;                           // the policy identity (see PolicyFile::Lookup)
  std::optional<Reference> docker_reference;      // for signedIdentity rules (docker images)
  Digest manifest_digest = Digest::Sha256Of("");  // of the manifest the reference names
  // Signature sources; null: the transport has none (the requirement then finds no signature).
  std::function<absl::StatusOr<std::vector<std::string>>(const CallContext&)> simple_signatures;
  std::function<absl::StatusOr<std::vector<SigstoreSignature>>(const CallContext&)> sigstore_signatures;
};

class SignaturePolicy {
 public:
  SignaturePolicy(PolicyFile file, RegistriesD registries_d, std::shared_ptr<HttpTransport> transport)
      : file_(std::move(file)), registries_d_(std::move(registries_d)), transport_(std::move(transport)) {}

  // OK when every requirement of the image's scope accepts; PermissionDenied naming the policy file,
  // the scope and each refusal's reason (no signature, wrong key, identity or digest mismatch)
  // otherwise. Fetch errors of signature stores are part of the refusal.
  absl::Status Check(const PolicyImage& image, const CallContext& ctx) const;

  // The PolicyImage of a docker pull (identity = the logical name, signatures from `pull.source`).
  PolicyImage ForDockerPull(const ResolvedPull& pull) const;

  // Lookaside signatures of a docker image stored at `source` with manifest `digest`.
  absl::StatusOr<std::vector<std::string>> LookasideSignatures(const Reference& source, const Digest& digest,
                                                               const CallContext& ctx) const;

  const PolicyFile& file() const { return file_; }
  const RegistriesD& registries_d() const { return registries_d_; }

 private:
  absl::Status CheckRequirement(const Requirement& req, const PolicyImage& image,
                                const CallContext& ctx) const;

  PolicyFile file_;
  RegistriesD registries_d_;
  std::shared_ptr<HttpTransport> transport_;
};

// Sigstore signatures attached to `digest` in `repository` of `client`'s registry (cosign's tag
// layout). No such tag: an empty list.
absl::StatusOr<std::vector<SigstoreSignature>> FetchSigstoreSignatures(RegistryClient& client,
                                                                       const std::string& repository,
                                                                       const Digest& digest,
                                                                       const CallContext& ctx);

// `signature-1`, `signature-2`, … of a local directory, until one is missing.
absl::StatusOr<std::vector<std::string>> ReadSignatureFiles(const std::string& dir);

// The node's policy files, re-read when they change: policy.json (or, with a namespace, the
// `<policy_dir>/<namespace>.json` that exists) and the registries.d directory. A missing default
// policy file accepts everything (with a warning) unless it was configured explicitly, in which case
// every pull is refused naming it; a malformed one refuses every pull naming the file and the problem.
class PolicyLoader {
 public:
  struct Options {
    std::string policy_path;  // empty: /etc/containers/policy.json, not required to exist
    std::string policy_dir;   // per-namespace policies; empty: none
    std::string registries_d = "/etc/containers/registries.d";
  };
  PolicyLoader(Options options, std::shared_ptr<HttpTransport> transport);

  // The policy for a pull of a pod in `ns` ("" for none).
  absl::StatusOr<std::shared_ptr<const SignaturePolicy>> Get(const std::string& ns);

 private:
  struct Cached {
    std::string stamp;
    absl::StatusOr<std::shared_ptr<const SignaturePolicy>> policy = absl::UnknownError("not loaded");
  };
  Options options_;
  std::shared_ptr<HttpTransport> transport_;
  absl::Mutex mu_;
  std::map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);  // by policy file path
};

inline constexpr std::string_view kDefaultPolicyPath = "/etc/containers/policy.json";

}  // namespace cricket::image::policy
