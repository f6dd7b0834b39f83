// Copying images between transports, as skopeo does, for cricket-image: `docker://REF` (a registry),
// `oci:DIR[:TAG]` (an OCI image layout), `dir:DIR` (skopeo's directory layout: manifest.json, version,
// one file per blob named by its hex digest) and `cricket:[NAME]` (the node's image store, written by
// the same pull pipeline as cricketd, with the store's file locks). Every blob is verified against its
// digest while it is copied; a destination file appears (by rename) only once it verified. The
// signature policy is checked on the source before anything is written.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/image/auth.h"
#include "lib/image/manifest.h"
#include "lib/image/platform.h"
#include "lib/image/policy/signature_policy.h"
#include "lib/image/puller.h"
#include "lib/image/reference.h"
#include "lib/image/registries_conf.h"
#include "lib/image/registry_client.h"

namespace cricket::image::copy {

struct Location {
  enum class Kind { kDocker, kOci, kDir, kCricket };
  Kind kind = Kind::kDocker;
  std::optional<Reference> docker;  // docker: normalised
  std::string path;                 // oci, dir: absolute, clean
  std::string tag;                  // oci: the ref.name ("" for none)
  std::string name;                 // cricket: name or id ("" as a destination: the source's name)
  std::string ToString() const;
  // The policy transport and identity (containers-policy.json(5) scopes).
  std::string PolicyTransport() const;
  std::string PolicyIdentity() const;
};

// "docker://busybox", "oci:/srv/layout:v1", "dir:/srv/img", "cricket:", "cricket:busybox". Relative
// paths are made absolute. InvalidArgument naming what is wrong.
absl::StatusOr<Location> ParseLocation(std::string_view text);

// Progress of one blob transfer, reported as it goes (from copy threads).
struct BlobProgress {
  std::string digest;
  int64_t done = 0;
  int64_t total = 0;
  bool finished = false;
};
using ProgressFn = std::function<void(const BlobProgress&)>;

// The settings shared by every command: the node's registries.conf, auth file, certs.d and policy.
struct Environment {
  RegistriesConf registries;
  AuthFile auth_file;
  std::shared_ptr<HttpTransport> transport;
  std::shared_ptr<const policy::SignaturePolicy> policy;  // null: accept everything (--insecure-policy)
  std::string store_root;                                 // cricket: transport
  Platform platform = HostPlatform();
  std::optional<bool> tls_verify;  // from the command line; unset: registries.conf decides
  std::optional<AuthConfig> credentials;

  // A client for `ref`'s registry with the credentials that apply.
  std::shared_ptr<RegistryClient> ClientFor(const Reference& ref) const;
};

struct CopyOptions {
  bool all = false;  // an index with all its instances (else the host platform's image)
  int parallel = 6;
  ProgressFn progress;
  const std::atomic<bool>* cancelled = nullptr;
};

struct CopyResult {
  std::string manifest_digest;  // of what was written at the destination's top level
  std::string media_type;
  int blobs_copied = 0;
  int blobs_skipped = 0;  // already present at the destination
  int64_t bytes = 0;
  std::string stored_id;  // cricket: the image id
};

// Copies `src` to `dst`. Source and destination environments may differ (credentials, TLS).
absl::StatusOr<CopyResult> Copy(const Location& src, const Environment& src_env, const Location& dst,
                                const Environment& dst_env, const CopyOptions& options);

// What `inspect` shows: the manifest the location names (raw), the platform's image manifest and
// config, and the location's digest.
struct Inspected {
  std::string raw_manifest;
  std::string raw_media_type;
  Digest digest = Digest::Sha256Of("");
  std::optional<ImageManifest> manifest;  // the platform's image (absent for an index with --raw only)
  std::string config;
  std::vector<std::string> tags;  // docker: the repository's tags
};
absl::StatusOr<Inspected> Inspect(const Location& loc, const Environment& env, bool with_tags);

}  // namespace cricket::image::copy
