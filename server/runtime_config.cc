#include "server/runtime_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "server/cri_runtime.h"

namespace cricket::server {

namespace {

absl::StatusOr<std::string> CanonicalCidr(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(StrCat("pod CIDR \"", text, "\" ", why));
  };
  auto split = SplitOnce(text, '/');
  if (!split) return bad("has no prefix length (want ADDRESS/BITS)");
  std::string addr(split->first);
  auto bits = ParseInt64(split->second);
  unsigned char raw[16] = {};
  int family = addr.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (::inet_pton(family, addr.c_str(), raw) != 1) return bad("is not an IPv4 or IPv6 address");
  int max_bits = family == AF_INET ? 32 : 128;
  if (!bits || *bits < 0 || *bits > max_bits) return bad(StrCat("has a prefix length outside 0-", max_bits));
  for (int i = 0; i < max_bits / 8; ++i) {
    int keep = static_cast<int>(std::clamp<int64_t>(*bits - i * 8, 0, 8));
    raw[i] &= static_cast<unsigned char>(0xff00 >> keep);
  }
  char out[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, raw, out, sizeof(out));
  return StrCat(out, "/", *bits);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParsePodCidrs(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view part : Split(text, ',')) {
    part = TrimSpace(part);
    if (part.empty())
      return absl::InvalidArgumentError(StrCat("pod CIDR list \"", text, "\" has an empty entry"));
    ASSIGN_OR_RETURN(std::string cidr, CanonicalCidr(part));
    out.push_back(std::move(cidr));
  }
  return out;
}

absl::Status RuntimeConfigStore::Load() {
  if (!PathExists(path_)) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path_, 1 << 20));
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, path_));
  if (!j.is_object() || !j.contains("podCIDR") || !j["podCIDR"].is_string()) {
    return absl::DataLossError(StrCat(path_, ": no podCIDR string"));
  }
  auto cidrs = ParsePodCidrs(j["podCIDR"].get<std::string>());
  if (!cidrs.ok()) return absl::DataLossError(StrCat(path_, ": ", cidrs.status().message()));
  absl::MutexLock l(&mu_);
  cidrs_ = *std::move(cidrs);
  return absl::OkStatus();
}

absl::StatusOr<bool> RuntimeConfigStore::SetPodCidr(std::string_view pod_cidr) {
  if (TrimSpace(pod_cidr).empty()) return false;
  ASSIGN_OR_RETURN(std::vector<std::string> cidrs, ParsePodCidrs(pod_cidr));
  absl::MutexLock l(&mu_);
  if (cidrs == cidrs_) return false;
  nlohmann::json j = {{"podCIDR", Join(cidrs, ",")}};
  RETURN_IF_ERROR(WriteFileAtomic(path_, j.dump() + "\n", 0600));
  cidrs_ = std::move(cidrs);
  return true;
}

std::vector<std::string> RuntimeConfigStore::PodCidrs() const {
  absl::MutexLock l(&mu_);
  return cidrs_;
}

absl::Status CriRuntime::UpdateRuntimeConfig(const ::runtime::v1::RuntimeConfig& config) {
  const std::string& cidr = config.network_config().pod_cidr();
  ASSIGN_OR_RETURN(bool changed, runtime_config_.SetPodCidr(cidr));
  if (changed) log::Info("cni", "pod CIDR set", {{"podCIDR", cidr}});
  return absl::OkStatus();
}

}  // namespace cricket::server
