// The signature verification policy, containers-policy.json(5): per transport and scope, the list of
// requirements an image must all satisfy (insecureAcceptAnything, reject, signedBy with GPG keys,
// sigstoreSigned with a public key), each signature requirement with its signedIdentity rule.
//
// Parsing is strict, as the man page asks: an unknown, misspelled or mistyped member, a missing
// `default`, an empty requirement list or an invalid scope rejects the whole file, and the error names
// the file and the member. Lookup takes the most specific scope that matches an image; more general
// scopes (and `default`) are then ignored.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::image::policy {

// signedIdentity: what identity a signature must claim for an image.
struct IdentityRule {
  enum class Type {
    kMatchExact,
    kMatchRepoDigestOrExact,  // the default when signedIdentity is absent
    kMatchRepository,
    kExactReference,
    kExactRepository,
    kRemapIdentity,
  };
  Type type = Type::kMatchRepoDigestOrExact;
  std::string docker_reference;   // exactReference
  std::string docker_repository;  // exactRepository
  std::string prefix;             // remapIdentity
  std::string signed_prefix;      // remapIdentity

  std::string Describe() const;
};

struct Requirement {
  enum class Type { kInsecureAcceptAnything, kReject, kSignedBy, kSigstoreSigned };
  Type type = Type::kReject;
  // signedBy: keyPath, keyPaths or keyData (base64 of a keyring). sigstoreSigned: keyPath or keyData
  // (base64 of a PEM public key). Exactly one source is set.
  std::vector<std::string> key_paths;
  std::string key_data;  // decoded bytes
  // sigstoreSigned with `fulcio` or a Rekor key: parsed, but cricket cannot verify certificate-based
  // signatures; the requirement then rejects every image with that reason.
  std::string unsupported;
  IdentityRule identity;

  std::string Name() const;  // "signedBy", ...
};

// One matched scope: the requirements that apply and where they were found.
struct ScopeMatch {
  std::string transport;  // "docker", ... ; "" for the global default
  std::string scope;      // "127.0.0.1:5000/signed", "" for a transport default
  const std::vector<Requirement>* requirements = nullptr;

  // `docker scope "r.io/ns"`, `docker default`, `default`.
  std::string Describe() const;
};

class PolicyFile {
 public:
  // `what` names the source in errors (the file path). InvalidArgument naming it and the member.
  static absl::StatusOr<PolicyFile> Parse(std::string_view json, std::string_view what);
  static absl::StatusOr<PolicyFile> Load(const std::string& path);
  // A policy that accepts everything (used when no policy file exists and none was configured).
  static PolicyFile AcceptAnything(std::string source);

  // The most specific scope matching an image of `transport`. `identity` is the transport's policy
  // identity: for docker, the fully expanded reference ("r.io/ns/repo:tag" or "…@sha256:…"); for
  // dir and oci, the absolute directory (oci: "DIR:TAG" when there is a tag).
  ScopeMatch Lookup(std::string_view transport, std::string_view identity) const;

  const std::string& source() const { return source_; }

 private:
  struct Scope {
    std::string name;
    std::vector<Requirement> requirements;
  };
  struct Transport {
    std::string name;
    std::vector<Scope> scopes;
  };
  std::string source_;
  std::vector<Requirement> default_;
  std::vector<Transport> transports_;
};

// The candidate scopes for an image, most specific first (exposed for tests): for docker
// "r.io:5000/a/b:tag" → "r.io:5000/a/b:tag", "r.io:5000/a/b", "r.io:5000/a", "r.io:5000", then
// "*.io"-style wildcards for a host name without a port; for dir/oci the path, then its parents.
std::vector<std::string> ScopeCandidates(std::string_view transport, std::string_view identity);

}  // namespace cricket::image::policy
