// UpdateRuntimeConfig's state: the pod CIDR(s) kubelet gives the runtime (node.spec.podCIDRs, joined
// with ","), kept in <root>/runtime-config.json so that pods created after a daemon restart still get
// it before kubelet sends it again. Sandbox creation passes them to CNI as the ipRanges capability
// (cni/invocation.h); a plugin that does not declare ipRanges allocates from its own configured ranges.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace cricket::server {

// "10.99.0.0/16" or "10.99.0.0/16,fd00:99::/64" → the CIDRs in canonical form (host bits cleared,
// IPv6 compressed). InvalidArgument naming the part that is not a CIDR.
absl::StatusOr<std::vector<std::string>> ParsePodCidrs(std::string_view text);

class RuntimeConfigStore {
 public:
  explicit RuntimeConfigStore(std::string path) : path_(std::move(path)) {}

  // Reads the stored CIDRs; a missing file is "none yet". A damaged one is reported and ignored
  // (kubelet sends the CIDR again at its next sync).
  absl::Status Load();
  // Validates and stores `pod_cidr`; an empty one changes nothing (api.proto: "If the CIDR is empty,
  // runtimes should omit it"). Returns whether the stored value changed.
  absl::StatusOr<bool> SetPodCidr(std::string_view pod_cidr);
  std::vector<std::string> PodCidrs() const;

 private:
  const std::string path_;
  mutable absl::Mutex mu_;
  std::vector<std::string> cidrs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::server
