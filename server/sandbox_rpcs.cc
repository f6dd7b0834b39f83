// gRPC adapters of the pod sandbox RPCs (the work is in sandbox_ops.cc).
#include "server/grpc_status.h"
#include "server/list_streaming.h"
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

grpc::Status RuntimeServiceImpl::StreamPodSandboxes(
    grpc::ServerContext* ctx, const v1::StreamPodSandboxesRequest* req,
    grpc::ServerWriter<v1::StreamPodSandboxesResponse>* writer) {
  v1::ListPodSandboxResponse all;
  if (absl::Status st = runtime_.ListPodSandbox(req->filter(), &all); !st.ok()) return ToGrpcStatus(st);
  PageWriter<v1::StreamPodSandboxesResponse, v1::PodSandbox> pages(
      "StreamPodSandboxes", ctx, writer, &v1::StreamPodSandboxesResponse::mutable_pod_sandboxes);
  for (v1::PodSandbox& p : *all.mutable_items()) {
    if (!pages.Add(std::move(p))) break;
  }
  return pages.Finish();
}

// Best effort (api.proto): only an unknown sandbox is an error.
grpc::Status RuntimeServiceImpl::UpdatePodSandboxResources(grpc::ServerContext*,
                                                           const v1::UpdatePodSandboxResourcesRequest* req,
                                                           v1::UpdatePodSandboxResourcesResponse*) {
  return ToGrpcStatus(runtime_.UpdatePodSandboxResources(*req));
}

}  // namespace cricket::server
