// gRPC adapters of the container RPCs (the work is in container_ops.cc and exec_ops.cc).
#include "lib/common/strings.h"
#include "server/grpc_status.h"
#include "server/list_streaming.h"
#include "server/runtime_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

grpc::Status RuntimeServiceImpl::CreateContainer(grpc::ServerContext*, const v1::CreateContainerRequest* req,
                                                 v1::CreateContainerResponse* resp) {
  auto id = runtime_.CreateContainer(req->pod_sandbox_id(), req->config());
  if (!id.ok()) return ToGrpcStatus(id.status());
  resp->set_container_id(*id);
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::StartContainer(grpc::ServerContext*, const v1::StartContainerRequest* req,
                                                v1::StartContainerResponse*) {
  return ToGrpcStatus(runtime_.StartContainer(req->container_id()));
}

grpc::Status RuntimeServiceImpl::StopContainer(grpc::ServerContext*, const v1::StopContainerRequest* req,
                                               v1::StopContainerResponse*) {
  return ToGrpcStatus(runtime_.StopContainer(req->container_id(), req->timeout()));
}

grpc::Status RuntimeServiceImpl::RemoveContainer(grpc::ServerContext*, const v1::RemoveContainerRequest* req,
                                                 v1::RemoveContainerResponse*) {
  return ToGrpcStatus(runtime_.RemoveContainer(req->container_id()));
}

grpc::Status RuntimeServiceImpl::ContainerStatus(grpc::ServerContext*, const v1::ContainerStatusRequest* req,
                                                 v1::ContainerStatusResponse* resp) {
  return ToGrpcStatus(runtime_.ContainerStatus(req->container_id(), req->verbose(), resp));
}

grpc::Status RuntimeServiceImpl::ListContainers(grpc::ServerContext*, const v1::ListContainersRequest* req,
                                                v1::ListContainersResponse* resp) {
  return ToGrpcStatus(runtime_.ListContainers(req->filter(), resp));
}

grpc::Status RuntimeServiceImpl::StreamContainers(grpc::ServerContext* ctx,
                                                  const v1::StreamContainersRequest* req,
                                                  grpc::ServerWriter<v1::StreamContainersResponse>* writer) {
  v1::ListContainersResponse all;
  if (absl::Status st = runtime_.ListContainers(req->filter(), &all); !st.ok()) return ToGrpcStatus(st);
  PageWriter<v1::StreamContainersResponse, v1::Container> pages(
      "StreamContainers", ctx, writer, &v1::StreamContainersResponse::mutable_containers);
  for (v1::Container& c : *all.mutable_containers()) {
    if (!pages.Add(std::move(c))) break;
  }
  return pages.Finish();
}

grpc::Status RuntimeServiceImpl::UpdateContainerResources(grpc::ServerContext*,
                                                          const v1::UpdateContainerResourcesRequest* req,
                                                          v1::UpdateContainerResourcesResponse*) {
  return ToGrpcStatus(runtime_.UpdateContainerResources(req->container_id(), req->linux()));
}

grpc::Status RuntimeServiceImpl::ReopenContainerLog(grpc::ServerContext*,
                                                    const v1::ReopenContainerLogRequest* req,
                                                    v1::ReopenContainerLogResponse*) {
  return ToGrpcStatus(runtime_.ReopenContainerLog(req->container_id()));
}

grpc::Status RuntimeServiceImpl::ExecSync(grpc::ServerContext*, const v1::ExecSyncRequest* req,
                                          v1::ExecSyncResponse* resp) {
  std::vector<std::string> cmd(req->cmd().begin(), req->cmd().end());
  auto result = runtime_.ExecSync(req->container_id(), cmd, req->timeout());
  if (!result.ok()) return ToGrpcStatus(result.status());
  resp->set_stdout(std::move(result->stdout_data));
  resp->set_stderr(std::move(result->stderr_data));
  resp->set_exit_code(result->exit_code);
  return grpc::Status::OK;
}

}  // namespace cricket::server
