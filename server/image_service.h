// runtime.v1.ImageService. RPCs not overridden here answer UNIMPLEMENTED, named
// by the RPC interceptor.
#pragma once

#include "runtime/v1/api.grpc.pb.h"
#include "server/config_holder.h"
#include "server/cri_runtime.h"

namespace cricket::server {

class ImageServiceImpl final : public ::runtime::v1::ImageService::Service {
public:
  ImageServiceImpl(const ConfigHolder &config, CriRuntime &runtime)
      : config_(config), runtime_(runtime) {}

  // image_fs_info.cc
  grpc::Status ImageFsInfo(grpc::ServerContext *ctx,
                           const ::runtime::v1::ImageFsInfoRequest *req,
                           ::runtime::v1::ImageFsInfoResponse *resp) override;

private:
  const ConfigHolder &config_;
  CriRuntime &runtime_;
};

} // namespace cricket::server
