// The pull pipeline: from what a user asked for ("busybox", "quay.io/x/y@sha256:…") to an image in the
// store. Resolution goes through registries.conf (short names, aliases, mirrors, insecure and blocked
// registries), credentials are chosen per pull source (the request's AuthConfig for the registry it
// names, else the auth file), the manifest for the platform is resolved and verified, then every layer
// not stored yet is streamed — download → digest check → decompressor → tar extraction — in one pass,
// up to `max_parallel_downloads` layers at a time, and the image is recorded atomically with PutImage.
//
// Guarantees:
// - Nothing is visible before every digest matched: a layer is recorded only after its compressed
//   digest (registry client), its uncompressed diff_id (store) and its size checked out, and the image
//   only after all its layers are recorded.
// - Concurrent pulls of the same image or of images sharing layers download each layer once: the
//   store's layer claims make the second puller wait and then find the layer stored.
// - A failed or cancelled pull leaves nothing behind: layers it applied that no image uses are
//   garbage-collected before Pull returns.
// - Work is bounded: a layer that expands past the bounds of `PullPolicy::limits` or its expansion
//   ratio, or would take the store below its free-space reserve, is refused (InvalidArgument naming
//   the bound; ResourceExhausted naming the store and the space left) as soon as it crosses them,
//   and such a failure is remembered (FailedLayerCache) so that retries do not repeat the work.
// - Memory is bounded: per layer in flight, one PipeSource buffer (`pipe_capacity`) plus the
//   decompressor's and the HTTP transfer's own buffers; no layer is ever held in memory or on disk
//   as a blob.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/image/auth.h"
#include "lib/image/failed_layer_cache.h"
#include "lib/image/http_transport.h"
#include "lib/image/image_source.h"
#include "lib/image/platform.h"
#include "lib/image/registries_conf.h"
#include "lib/image/registry_client.h"
#include "lib/storage/store.h"

namespace cricket::image {

// Settings of one pull; the daemon rebuilds them when its configuration or registries.conf changes.
struct PullPolicy {
  RegistriesConf registries;
  AuthFile auth_file;  // the global auth file ([crio.image] global_auth_file); empty for none
  Platform platform = HostPlatform();
  int max_parallel_downloads = 6;          // layers downloaded and extracted at the same time (≥ 1)
  size_t pipe_capacity = size_t{1} << 20;  // bytes buffered between a download and its extraction
  // Called once the manifest the reference names is resolved and its digest verified, before any
  // layer is fetched or anything stored: an error (PermissionDenied for a signature policy refusal)
  // ends the pull. cricketd and cricket-image set it to the signature policy (lib/image/policy).
  std::function<absl::Status(const ResolvedPull&, const CallContext&)> verify;
  // What a layer and an image may expand to ([crio.image] max_layer_*, max_image_*), and how far a
  // compressed layer may expand (max_layer_expansion_ratio; 0: no bound).
  storage::ApplyLimits limits;
  uint64_t max_layer_expansion_ratio = 100;
  // What must stay free on the store's filesystem ([crio.image] min_free_space).
  storage::FreeSpaceReserve reserve{.bytes = 0, .fraction = 0.05};
  // How long a layer's own failure is remembered ([crio.image] failed_layer_cache_duration; 0: not
  // at all), and how many are ([crio.image] failed_layer_cache_size).
  int64_t failed_layer_ttl_ns = int64_t{600} * 1'000'000'000;
  size_t failed_layer_cache_size = 1000;

  // The bounds as one string: failures remembered under other bounds do not apply.
  std::string BoundsFingerprint() const;
};

struct PullResult {
  storage::ImageInfo image;   // as stored; image.id is the config digest (CRI image_ref)
  std::string name;           // the logical name it resolved to ("docker.io/library/busybox:latest")
  std::string source;         // where it was fetched from (differs from `name` for a mirror)
  std::string repo_digest;    // "repo@sha256:<digest of what the reference named>"
  int layers_fetched = 0;     // downloaded and extracted by this pull
  int layers_reused = 0;      // already stored, or stored meanwhile by a concurrent pull
  int64_t bytes_fetched = 0;  // compressed bytes of the layers this pull downloaded
};

class Puller {
 public:
  // `store` and `clients` must outlive the Puller. Thread-safe: any number of concurrent Pull calls.
  Puller(storage::Store& store, std::shared_ptr<RegistryClientPool> clients)
      : store_(store), clients_(std::move(clients)) {}

  // Pulls `image` (as a user wrote it) with `credentials` (CRI AuthConfig; may be null). `ctx` carries
  // the caller's deadline and cancellation: a cancelled pull stops its transfers and returns Cancelled
  // (or DeadlineExceeded), except that a layer another pull is downloading is waited for. Errors:
  // InvalidArgument for a bad reference, NotFound when no source has the image, PermissionDenied for
  // a blocked registry, Unauthenticated for refused credentials, DataLoss for a digest mismatch,
  // FailedPrecondition for an unsupported manifest, Unavailable when no registry answered,
  // InvalidArgument for a layer over a bound, ResourceExhausted when the store's reserve would be
  // crossed; a layer that failed so recently is refused again without being fetched.
  absl::StatusOr<PullResult> Pull(const PullPolicy& policy, std::string_view image,
                                  const AuthConfig* credentials, const CallContext& ctx);

 private:
  struct LayerPlan;
  struct LayerRun;
  absl::Status FetchLayers(const PullPolicy& policy, RegistryClient& client, const std::string& repository,
                           LayerRun& run, const CallContext& ctx);
  void LayerWorker(RegistryClient& client, const std::string& repository, const PullPolicy& policy,
                   LayerRun& run);
  absl::Status RecentFailure(const PullPolicy& policy, const std::string& key);
  absl::StatusOr<storage::LayerLease> FetchAndApply(RegistryClient& client, const std::string& repository,
                                                    const PullPolicy& policy, const LayerPlan& layer,
                                                    storage::LayerClaim& claim, LayerRun& run);

  storage::Store& store_;
  std::shared_ptr<RegistryClientPool> clients_;
  FailedLayerCache failures_;
};

}  // namespace cricket::image
