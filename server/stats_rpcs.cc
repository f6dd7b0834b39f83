// gRPC adapters of the stats RPCs (the work is in stats_ops.cc).
#include "server/grpc_status.h"
#include "server/list_streaming.h"
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

// The stats streams read one object at a time (the List* RPCs read all of them before answering): the
// same objects (ids from the same filter), each read as its List* sibling reads it.
grpc::Status RuntimeServiceImpl::StreamContainerStats(
    grpc::ServerContext* ctx, const v1::StreamContainerStatsRequest* req,
    grpc::ServerWriter<v1::StreamContainerStatsResponse>* writer) {
  v1::ContainerFilter filter;
  filter.set_id(req->filter().id());
  filter.set_pod_sandbox_id(req->filter().pod_sandbox_id());
  *filter.mutable_label_selector() = req->filter().label_selector();
  v1::ListContainersResponse all;
  if (absl::Status st = runtime_.ListContainers(filter, &all); !st.ok()) return ToGrpcStatus(st);
  PageWriter<v1::StreamContainerStatsResponse, v1::ContainerStats> pages(
      "StreamContainerStats", ctx, writer, &v1::StreamContainerStatsResponse::mutable_container_stats);
  for (const v1::Container& c : all.containers()) {
    if (!pages.Alive()) break;
    v1::ContainerStats stats;
    absl::Status st = runtime_.ContainerStats(c.id(), &stats);
    if (absl::IsNotFound(st)) continue;  // removed meanwhile
    if (!st.ok()) return ToGrpcStatus(st);
    if (!pages.Add(std::move(stats))) break;
  }
  return pages.Finish();
}

grpc::Status RuntimeServiceImpl::StreamPodSandboxStats(
    grpc::ServerContext* ctx, const v1::StreamPodSandboxStatsRequest* req,
    grpc::ServerWriter<v1::StreamPodSandboxStatsResponse>* writer) {
  v1::PodSandboxFilter filter;  // ListPodSandboxStats lists running pods only
  filter.set_id(req->filter().id());
  filter.mutable_state()->set_state(v1::SANDBOX_READY);
  *filter.mutable_label_selector() = req->filter().label_selector();
  v1::ListPodSandboxResponse all;
  if (absl::Status st = runtime_.ListPodSandbox(filter, &all); !st.ok()) return ToGrpcStatus(st);
  PageWriter<v1::StreamPodSandboxStatsResponse, v1::PodSandboxStats> pages(
      "StreamPodSandboxStats", ctx, writer, &v1::StreamPodSandboxStatsResponse::mutable_pod_sandbox_stats);
  for (const v1::PodSandbox& p : all.items()) {
    if (!pages.Alive()) break;
    v1::PodSandboxStats stats;
    absl::Status st = runtime_.PodSandboxStats(p.id(), &stats);
    if (absl::IsNotFound(st)) continue;
    if (!st.ok()) return ToGrpcStatus(st);
    if (!pages.Add(std::move(stats))) break;
  }
  return pages.Finish();
}

}  // namespace cricket::server
