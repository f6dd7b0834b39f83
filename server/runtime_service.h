// runtime.v1.RuntimeService. Each RPC group lives in its own file (runtime_info.cc: Version, Status,
// RuntimeConfig). RPCs not overridden here answer UNIMPLEMENTED, named by the RPC interceptor.
#pragma once

#include "runtime/v1/api.grpc.pb.h"
#include "server/config_holder.h"

namespace cricket::server {

class RuntimeServiceImpl final : public runtime::v1::RuntimeService::Service {
 public:
  explicit RuntimeServiceImpl(const ConfigHolder& config) : config_(config) {}

  // runtime_info.cc
  grpc::Status Version(grpc::ServerContext* ctx, const runtime::v1::VersionRequest* req,
                       runtime::v1::VersionResponse* resp) override;
  grpc::Status Status(grpc::ServerContext* ctx, const runtime::v1::StatusRequest* req,
                      runtime::v1::StatusResponse* resp) override;
  grpc::Status RuntimeConfig(grpc::ServerContext* ctx, const runtime::v1::RuntimeConfigRequest* req,
                             runtime::v1::RuntimeConfigResponse* resp) override;

 private:
  const ConfigHolder& config_;
};

}  // namespace cricket::server
