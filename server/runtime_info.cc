// Version, Status and RuntimeConfig: what kubelet asks at start (and Status every few seconds).
#include <nlohmann/json.hpp>

#include "cni/network_config.h"
#include "lib/common/path_util.h"
#include "lib/common/strings.h"
#include "server/build_info.h"
#include "server/config.h"
#include "server/cri_runtime.h"
#include "server/grpc_status.h"
#include "server/runtime_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

grpc::Status RuntimeServiceImpl::Version(grpc::ServerContext*, const v1::VersionRequest*,
                                         v1::VersionResponse* resp) {
  // kubelet requires version "0.1.0" and non-empty names; see reference/interfaces.md §1.3.
  resp->set_version(kKubeletApiVersion);
  resp->set_runtime_name(kRuntimeName);
  resp->set_runtime_version(kBuildVersion);
  resp->set_runtime_api_version("v1");
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::Status(grpc::ServerContext*, const v1::StatusRequest* req,
                                        v1::StatusResponse* resp) {
  auto config = config_.Get();
  v1::RuntimeCondition* runtime_ready = resp->mutable_status()->add_conditions();
  runtime_ready->set_type("RuntimeReady");
  runtime_ready->set_status(true);

  v1::RuntimeCondition* network_ready = resp->mutable_status()->add_conditions();
  network_ready->set_type("NetworkReady");
  absl::Status network = runtime_.cni().Status();
  network_ready->set_status(network.ok());
  if (!network.ok()) {
    network_ready->set_reason("NetworkPluginNotReady");
    network_ready->set_message(StrCat("Network plugin returns error: ", network.message()));
  }

  // Every handler is the embedded runtime: what the host can do, each can.
  const HostFacts& host = runtime_.host();
  auto features = [&](v1::RuntimeHandler* h) {
    h->mutable_features()->set_recursive_read_only_mounts(host.recursive_read_only.ok());
    h->mutable_features()->set_user_namespaces(host.user_namespaces.ok());
  };
  for (const auto& [name, handler] : config->runtimes) {
    v1::RuntimeHandler* h = resp->add_runtime_handlers();
    h->set_name(name);
    features(h);
  }
  if (config->runtimes.contains(config->runtime.default_runtime)) {
    // The empty name is the default handler, as kubelet sends it for pods without a RuntimeClass.
    features(resp->add_runtime_handlers());
  }
  resp->mutable_features()->set_supplemental_groups_policy(true);
  resp->mutable_features()->set_mount_options(true);
  // user_namespaces_host_network stays false: a pod's user namespace owns its network namespace.

  if (req->verbose()) {
    auto& info = *resp->mutable_info();
    // "stateDir": where container root filesystems are made, on the filesystem their idmapped layers
    // come from (critest probes idmapped mounts in its parent directory, as it does containerd's).
    nlohmann::json cfg =
        nlohmann::json::parse(FormatConfigJson(*config), nullptr, /*allow_exceptions=*/false);
    if (cfg.is_discarded()) cfg = nlohmann::json::object();
    cfg["stateDir"] = JoinPath(config->ImageStoreDir(), "overlay-containers");
    info["config"] = cfg.dump();
    nlohmann::json cni = {{"ready", network.ok()}};
    if (auto current = runtime_.cni().CurrentNetwork(); current.ok()) {
      cni["network"] = (*current)->name;
      cni["file"] = (*current)->file;
    }
    if (!network.ok()) cni["error"] = std::string(network.message());
    // UpdateRuntimeConfig's pod CIDR, handed to plugins that declare the ipRanges capability.
    cni["podCIDRs"] = runtime_.PodCidrs();
    info["cni"] = cni.dump();
  }
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::RuntimeConfig(grpc::ServerContext*, const v1::RuntimeConfigRequest*,
                                               v1::RuntimeConfigResponse* resp) {
  auto config = config_.Get();
  resp->mutable_linux()->set_cgroup_driver(config->runtime.cgroup_manager == "systemd" ? v1::SYSTEMD
                                                                                       : v1::CGROUPFS);
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::UpdateRuntimeConfig(grpc::ServerContext*,
                                                     const v1::UpdateRuntimeConfigRequest* req,
                                                     v1::UpdateRuntimeConfigResponse*) {
  return ToGrpcStatus(runtime_.UpdateRuntimeConfig(req->runtime_config()));
}

}  // namespace cricket::server
