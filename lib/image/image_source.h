// From a reference to everything a pull needs before the layers: the manifest the reference names
// (an index or an image manifest), the platform's image manifest, and the parsed config; every
// document's digest verified. Also trying the pull sources of registries.conf candidates in order.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/image/manifest.h"
#include "lib/image/platform.h"
#include "lib/image/reference.h"
#include "lib/image/registries_conf.h"
#include "lib/image/registry_client.h"

namespace cricket::image {

struct ResolvedImage {
  // The digest of what the reference named: the index for a multi-platform image, else the image
  // manifest. This is the RepoDigest (name@digest).
  Digest manifest_digest = Digest::Sha256Of("");
  std::string manifest_media_type;
  std::optional<ImageIndex> index;  // when the reference named an index
  // The image manifest for the platform (equal to the above for single-platform images).
  Digest image_manifest_digest = Digest::Sha256Of("");
  std::string image_manifest_bytes;
  ImageManifest manifest;
  std::string config_bytes;  // the config blob (its digest, manifest.config.digest, is the image id)
  ImageConfig config;
};

// Fetches and verifies the manifest named by `source` (its repository path and tag or digest) from
// `client` (a client of source.domain()), selects `platform` from an index, fetches the config and
// checks it has one diff_id per layer. Nested indexes are refused.
absl::StatusOr<ResolvedImage> ResolveImage(RegistryClient& client, const Reference& source,
                                           const Platform& platform, const CallContext& ctx);

// Gives the client for one pull source (e.g. from a pool keyed by registry, insecure flag and
// credentials chosen with SelectCredentials).
using ClientForSource =
    std::function<absl::StatusOr<std::shared_ptr<RegistryClient>>(const PullCandidate&, const PullSource&)>;

struct ResolvedPull {
  PullCandidate candidate;  // the logical name that resolved
  PullSource source;        // where it was found
  std::shared_ptr<RegistryClient> client;
  ResolvedImage image;
};

// Tries each candidate's sources in order and returns the first that resolves. A source that does not
// have the image, cannot be reached or refuses the credentials is skipped (logged at debug); bad data
// (a digest mismatch, an unsupported manifest) and cancellation stop the search. The error when
// nothing resolves lists every attempt; its code is the failures' code when they all agree (NotFound:
// no source had the image; Unauthenticated: every source refused), Unavailable otherwise.
absl::StatusOr<ResolvedPull> ResolveFromSources(const std::vector<PullCandidate>& candidates,
                                                const ClientForSource& client_for, const Platform& platform,
                                                const CallContext& ctx);

}  // namespace cricket::image
