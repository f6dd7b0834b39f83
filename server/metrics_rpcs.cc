// gRPC adapters of the CRI metrics RPCs (the work is in cri_metrics.cc).
#include "server/grpc_status.h"
#include "server/list_streaming.h"
#include "server/runtime_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

grpc::Status RuntimeServiceImpl::ListMetricDescriptors(grpc::ServerContext*,
                                                       const v1::ListMetricDescriptorsRequest*,
                                                       v1::ListMetricDescriptorsResponse* resp) {
  return ToGrpcStatus(runtime_.ListMetricDescriptors(resp));
}

grpc::Status RuntimeServiceImpl::ListPodSandboxMetrics(grpc::ServerContext*,
                                                       const v1::ListPodSandboxMetricsRequest*,
                                                       v1::ListPodSandboxMetricsResponse* resp) {
  return ToGrpcStatus(runtime_.ListPodSandboxMetrics(resp));
}

grpc::Status RuntimeServiceImpl::StreamPodSandboxMetrics(
    grpc::ServerContext* ctx, const v1::StreamPodSandboxMetricsRequest*,
    grpc::ServerWriter<v1::StreamPodSandboxMetricsResponse>* writer) {
  v1::PodSandboxFilter ready;  // as ListPodSandboxMetrics: running pods
  ready.mutable_state()->set_state(v1::SANDBOX_READY);
  v1::ListPodSandboxResponse all;
  if (absl::Status st = runtime_.ListPodSandbox(ready, &all); !st.ok()) return ToGrpcStatus(st);
  PageWriter<v1::StreamPodSandboxMetricsResponse, v1::PodSandboxMetrics> pages(
      "StreamPodSandboxMetrics", ctx, writer,
      &v1::StreamPodSandboxMetricsResponse::mutable_pod_sandbox_metrics);
  for (const v1::PodSandbox& p : all.items()) {
    if (!pages.Alive()) break;
    v1::PodSandboxMetrics m;
    absl::Status st = runtime_.PodSandboxMetrics(p.id(), &m);
    if (absl::IsNotFound(st)) continue;  // removed meanwhile
    if (!st.ok()) return ToGrpcStatus(st);
    if (!pages.Add(std::move(m))) break;
  }
  return pages.Finish();
}

}  // namespace cricket::server
