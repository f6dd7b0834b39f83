// Cryptographic checks of container signatures, with libraries made for them: OpenPGP "simple signing"
// blobs through GPGME (the gpg engine), sigstore signatures (ECDSA, RSA PKCS#1 v1.5 with SHA-256, or
// Ed25519 over the payload) through OpenSSL. Neither parses the payload: callers parse it only after
// the signature checked out (containers-signature(5)).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::image::policy {

// Verifies an OpenPGP signed message (`blob`, binary or armored) against `keyrings` (each a keyring,
// binary or armored, of one or more public keys) in a throwaway gpg home, and returns the signed
// content. PermissionDenied with the reason when the blob is not exactly one valid, unexpired
// signature made by one of the keys (or their subkeys); InvalidArgument when a keyring holds no key;
// Internal when GPGME or gpg cannot run.
absl::StatusOr<std::string> VerifyGpgSignature(std::string_view blob,
                                               const std::vector<std::string>& keyrings);

// Verifies `signature` (raw bytes, not base64) over `payload` with a PEM public key (SubjectPublicKeyInfo).
// PermissionDenied when it does not verify; InvalidArgument when the key does not parse or is of an
// unsupported type.
absl::Status VerifySigstoreSignature(std::string_view payload, std::string_view signature,
                                     std::string_view public_key_pem);

}  // namespace cricket::image::policy
