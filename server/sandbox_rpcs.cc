// gRPC adapters of the pod sandbox RPCs (the work is in sandbox_ops.cc).
#include "server/grpc_status.h"
#include "server/runtime_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

grpc::Status RuntimeServiceImpl::RunPodSandbox(grpc::ServerContext*, const v1::RunPodSandboxRequest* req,
                                               v1::RunPodSandboxResponse* resp) {
  auto id = runtime_.RunPodSandbox(req->config(), req->runtime_handler());
  if (!id.ok()) return ToGrpcStatus(id.status());
  resp->set_pod_sandbox_id(*id);
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::StopPodSandbox(grpc::ServerContext*, const v1::StopPodSandboxRequest* req,
                                                v1::StopPodSandboxResponse*) {
  return ToGrpcStatus(runtime_.StopPodSandbox(req->pod_sandbox_id()));
}

grpc::Status RuntimeServiceImpl::RemovePodSandbox(grpc::ServerContext*,
                                                  const v1::RemovePodSandboxRequest* req,
                                                  v1::RemovePodSandboxResponse*) {
  return ToGrpcStatus(runtime_.RemovePodSandbox(req->pod_sandbox_id()));
}

grpc::Status RuntimeServiceImpl::PodSandboxStatus(grpc::ServerContext*,
                                                  const v1::PodSandboxStatusRequest* req,
                                                  v1::PodSandboxStatusResponse* resp) {
  return ToGrpcStatus(runtime_.PodSandboxStatus(req->pod_sandbox_id(), req->verbose(), resp));
}

grpc::Status RuntimeServiceImpl::ListPodSandbox(grpc::ServerContext*, const v1::ListPodSandboxRequest* req,
                                                v1::ListPodSandboxResponse* resp) {
  return ToGrpcStatus(runtime_.ListPodSandbox(req->filter(), resp));
}

}  // namespace cricket::server
