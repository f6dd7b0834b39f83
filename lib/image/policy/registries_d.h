// containers-registries.d(5): where signatures of images in a registry live. Every *.yaml file of the
// directory is read; a `docker` map of scopes (host[:port], namespaces, repositories, references) and
// an optional `default-docker` section, each with `lookaside` (URL of a "simple signing" signature
// store: file:// or http(s)://; `sigstore` is its older name), `lookaside-staging` / `sigstore-staging`
// (where signers write; read only when no `lookaside` is set) and `use-sigstore-attachments`.
// The most precisely matching scope wins whole; a scope or `default-docker` defined twice, in one file
// or across files, is an error naming both.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cricket::image::policy {

struct SignatureStorage {
  std::string lookaside;  // URL; empty: no signature store
  bool use_sigstore_attachments = false;
  std::string origin;  // "FILE: docker[\"scope\"]", "built-in default": for messages
};

class RegistriesD {
 public:
  RegistriesD() = default;
  // A missing directory is an empty configuration. Malformed YAML or a bad value: InvalidArgument
  // naming the file and the key.
  static absl::StatusOr<RegistriesD> Load(const std::string& dir);
  // One document (exposed for tests); `file` names it in errors.
  absl::Status Add(std::string_view yaml, const std::string& file);

  // The configuration for a docker image (fully expanded "host/path[:tag|@digest]"): the most specific
  // `docker` scope, else `default-docker`, else the built-in default (lookaside
  // file:///var/lib/containers/sigstore, no sigstore attachments).
  SignatureStorage For(std::string_view docker_reference) const;

 private:
  std::map<std::string, SignatureStorage> docker_;
  std::optional<SignatureStorage> default_docker_;
};

}  // namespace cricket::image::policy
