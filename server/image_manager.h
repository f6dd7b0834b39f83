// cricketd's images: pulls through lib/image into the CriRuntime's store, lookups, listing, removal and
// the CRI view of a stored image. The gRPC adapters are in image_rpcs.cc.
//
// Pull settings follow the running configuration: registries.conf (+ drop-ins), the global auth file
// and [crio.image] insecure_registries are re-read when a pull finds that the configuration snapshot or
// any of those files changed (mtime and size), so edits apply to the next pull without a SIGHUP.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/image/policy/signature_policy.h"
#include "lib/image/puller.h"
#include "lib/storage/store.h"
#include "runtime/v1/api.pb.h"
#include "server/config_holder.h"

namespace cricket::server {

class ImageManager {
 public:
  ImageManager(const ConfigHolder& config, storage::Store& store);

  // Pulls `image` with the request's credentials (may be null) for a pod in `pod_namespace` (may be
  // empty; it selects [crio.image] signature_policy_dir/<namespace>.json). See image::Puller::Pull for
  // errors; a signature policy refusal is PermissionDenied naming the policy file, scope and reason,
  // an unusable policy file FailedPrecondition naming it.
  // Concurrent pulls of the same name for the same pod namespace with the same credentials share one
  // pull (kubelet starting many pods of one image at once): the later callers wait for the first one's
  // result, each within its own deadline, and pull again themselves only if the first caller gave up
  // (cancelled, deadline).
  absl::StatusOr<image::PullResult> Pull(const std::string& image, const image::AuthConfig* credentials,
                                         const image::CallContext& ctx,
                                         const std::string& pod_namespace = "");

  // By id, id prefix, stored name or a name to normalise or resolve through registries.conf.
  // NotFound when absent.
  absl::StatusOr<storage::ImageInfo> Find(const std::string& image);

  // CRI RemoveImage (https://github.com/kubernetes/cri-api, api.proto RemoveImage): whatever name it is
  // given, the image is removed with all its names; an absent image is success. An image used by a
  // container is not removed: FailedPrecondition naming the container (kubelet's image GC only removes
  // unused images).
  absl::Status Remove(const std::string& image);

  // The CRI Image message for a stored image: uid/username from the config's User, pinned per
  // [crio.image] pinned_images.
  ::runtime::v1::Image ToCri(const storage::ImageInfo& info) const;
  // ImageStatus's verbose info: {"info": JSON with the image config ("imageSpec"), the manifest digest
  // and the layer chain ids}.
  static std::map<std::string, std::string> VerboseInfo(const storage::ImageInfo& info);

  storage::Store& store() { return store_; }

 private:
  struct Settings {
    std::shared_ptr<const Config> config;
    std::string fingerprint;  // of the files read
    std::shared_ptr<const image::PullPolicy> policy;
  };
  // The pull policy for the current configuration and files, rebuilt when they changed.
  absl::StatusOr<std::shared_ptr<const image::PullPolicy>> Policy();
  // registries.conf alone (for lookups); null when it cannot be loaded.
  std::shared_ptr<const image::PullPolicy> PolicyOrNull();
  // The puller (and its connection pool) for the configured certs.d directories.
  std::shared_ptr<image::Puller> PullerFor(const Config& config);
  // The signature policy loader for the configured files (re-reads them when they change).
  std::shared_ptr<image::policy::PolicyLoader> PolicyLoaderFor(const Config& config);

  // One pull, not shared with concurrent callers.
  absl::StatusOr<image::PullResult> PullOnce(const std::string& image, const image::AuthConfig* credentials,
                                             const image::CallContext& ctx, const std::string& pod_namespace);

  struct InFlight;

  const ConfigHolder& config_;
  storage::Store& store_;
  absl::Mutex inflight_mu_;
  // By image name, pod namespace and credentials (never logged).
  std::map<std::string, std::shared_ptr<InFlight>> inflight_ ABSL_GUARDED_BY(inflight_mu_);
  absl::Mutex mu_;
  Settings settings_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> certs_dirs_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<image::Puller> puller_ ABSL_GUARDED_BY(mu_);
  std::string policy_key_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<image::policy::PolicyLoader> policy_loader_ ABSL_GUARDED_BY(mu_);
};

// Whether one of `patterns` ([crio.image] pinned_images) matches `name`: exact, "prefix*" (trailing
// glob) or "*keyword*" (substring).
bool MatchesPinnedPattern(const std::vector<std::string>& patterns, const std::string& name);

// CRI Image.uid / username from an image config's User ("1000", "1000:100", "www-data", "www-data:grp").
struct ImageUser {
  std::optional<int64_t> uid;
  std::string username;
};
ImageUser ParseImageUser(std::string_view user);

}  // namespace cricket::server
