// The JSON payload of container signatures (containers-signature(5), "JSON data format"), parsed only
// after the cryptographic check: `critical` must hold exactly `type`, `image.docker-manifest-digest`
// and `identity.docker-reference`, nothing else; `optional` is an object (or null in cosign's payloads)
// whose members are not interpreted. And the signedIdentity rules of containers-policy.json(5).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/common/digest.h"
#include "lib/image/policy/policy.h"
#include "lib/image/reference.h"

namespace cricket::image::policy {

inline constexpr std::string_view kAtomicSignatureType = "atomic container signature";
inline constexpr std::string_view kCosignSignatureType = "cosign container image signature";

struct SignaturePayload {
  Digest manifest_digest = Digest::Sha256Of("");
  std::string docker_reference;  // as claimed
};

// PermissionDenied (the signature is unusable) naming what is wrong; `type` is the expected critical.type.
absl::StatusOr<SignaturePayload> ParsePayload(std::string_view json, std::string_view type);

// Whether a signature claiming `signed_identity` is acceptable for an image known as `image` (a
// normalised docker reference) under `rule`. PermissionDenied naming both identities otherwise.
absl::Status MatchIdentity(const IdentityRule& rule, const Reference& image,
                           std::string_view signed_identity);

}  // namespace cricket::image::policy
