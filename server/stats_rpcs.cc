// gRPC adapters of the stats RPCs (the work is in stats_ops.cc).
#include "server/grpc_status.h"
#include "server/runtime_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

grpc::Status RuntimeServiceImpl::ContainerStats(grpc::ServerContext*, const v1::ContainerStatsRequest* req,
                                                v1::ContainerStatsResponse* resp) {
  return ToGrpcStatus(runtime_.ContainerStats(req->container_id(), resp->mutable_stats()));
}

grpc::Status RuntimeServiceImpl::ListContainerStats(grpc::ServerContext*,
                                                    const v1::ListContainerStatsRequest* req,
                                                    v1::ListContainerStatsResponse* resp) {
  return ToGrpcStatus(runtime_.ListContainerStats(req->filter(), resp));
}

grpc::Status RuntimeServiceImpl::PodSandboxStats(grpc::ServerContext*, const v1::PodSandboxStatsRequest* req,
                                                 v1::PodSandboxStatsResponse* resp) {
  return ToGrpcStatus(runtime_.PodSandboxStats(req->pod_sandbox_id(), resp->mutable_stats()));
}

grpc::Status RuntimeServiceImpl::ListPodSandboxStats(grpc::ServerContext*,
                                                     const v1::ListPodSandboxStatsRequest* req,
                                                     v1::ListPodSandboxStatsResponse* resp) {
  return ToGrpcStatus(runtime_.ListPodSandboxStats(req->filter(), resp));
}

}  // namespace cricket::server
