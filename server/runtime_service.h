// runtime.v1.RuntimeService. Each RPC group lives in its own file (runtime_info.cc: Version, Status,
// RuntimeConfig). RPCs not overridden here answer UNIMPLEMENTED, named by the RPC interceptor.
#pragma once

#include "runtime/v1/api.grpc.pb.h"
#include "server/config_holder.h"
#include "server/cri_runtime.h"
#include "server/streaming/server.h"

namespace cricket::server {

class RuntimeServiceImpl final : public ::runtime::v1::RuntimeService::Service {
 public:
  RuntimeServiceImpl(const ConfigHolder& config, CriRuntime& runtime, streaming::StreamingServer& streaming)
      : config_(config), runtime_(runtime), streaming_(streaming) {}

  // runtime_info.cc
  grpc::Status Version(grpc::ServerContext* ctx, const ::runtime::v1::VersionRequest* req,
                       ::runtime::v1::VersionResponse* resp) override;
  grpc::Status Status(grpc::ServerContext* ctx, const ::runtime::v1::StatusRequest* req,
                      ::runtime::v1::StatusResponse* resp) override;
  grpc::Status RuntimeConfig(grpc::ServerContext* ctx, const ::runtime::v1::RuntimeConfigRequest* req,
                             ::runtime::v1::RuntimeConfigResponse* resp) override;

  // sandbox_rpcs.cc
  grpc::Status RunPodSandbox(grpc::ServerContext* ctx, const ::runtime::v1::RunPodSandboxRequest* req,
                             ::runtime::v1::RunPodSandboxResponse* resp) override;
  grpc::Status StopPodSandbox(grpc::ServerContext* ctx, const ::runtime::v1::StopPodSandboxRequest* req,
                              ::runtime::v1::StopPodSandboxResponse* resp) override;
  grpc::Status RemovePodSandbox(grpc::ServerContext* ctx, const ::runtime::v1::RemovePodSandboxRequest* req,
                                ::runtime::v1::RemovePodSandboxResponse* resp) override;
  grpc::Status PodSandboxStatus(grpc::ServerContext* ctx, const ::runtime::v1::PodSandboxStatusRequest* req,
                                ::runtime::v1::PodSandboxStatusResponse* resp) override;
  grpc::Status ListPodSandbox(grpc::ServerContext* ctx, const ::runtime::v1::ListPodSandboxRequest* req,
                              ::runtime::v1::ListPodSandboxResponse* resp) override;

  // container_rpcs.cc
  grpc::Status CreateContainer(grpc::ServerContext* ctx, const ::runtime::v1::CreateContainerRequest* req,
                               ::runtime::v1::CreateContainerResponse* resp) override;
  grpc::Status StartContainer(grpc::ServerContext* ctx, const ::runtime::v1::StartContainerRequest* req,
                              ::runtime::v1::StartContainerResponse* resp) override;
  grpc::Status StopContainer(grpc::ServerContext* ctx, const ::runtime::v1::StopContainerRequest* req,
                             ::runtime::v1::StopContainerResponse* resp) override;
  grpc::Status RemoveContainer(grpc::ServerContext* ctx, const ::runtime::v1::RemoveContainerRequest* req,
                               ::runtime::v1::RemoveContainerResponse* resp) override;
  grpc::Status ContainerStatus(grpc::ServerContext* ctx, const ::runtime::v1::ContainerStatusRequest* req,
                               ::runtime::v1::ContainerStatusResponse* resp) override;
  grpc::Status ListContainers(grpc::ServerContext* ctx, const ::runtime::v1::ListContainersRequest* req,
                              ::runtime::v1::ListContainersResponse* resp) override;
  grpc::Status UpdateContainerResources(grpc::ServerContext* ctx,
                                        const ::runtime::v1::UpdateContainerResourcesRequest* req,
                                        ::runtime::v1::UpdateContainerResourcesResponse* resp) override;
  grpc::Status ReopenContainerLog(grpc::ServerContext* ctx,
                                  const ::runtime::v1::ReopenContainerLogRequest* req,
                                  ::runtime::v1::ReopenContainerLogResponse* resp) override;
  grpc::Status ExecSync(grpc::ServerContext* ctx, const ::runtime::v1::ExecSyncRequest* req,
                        ::runtime::v1::ExecSyncResponse* resp) override;

  // stats_rpcs.cc
  grpc::Status ContainerStats(grpc::ServerContext* ctx, const ::runtime::v1::ContainerStatsRequest* req,
                              ::runtime::v1::ContainerStatsResponse* resp) override;
  grpc::Status ListContainerStats(grpc::ServerContext* ctx,
                                  const ::runtime::v1::ListContainerStatsRequest* req,
                                  ::runtime::v1::ListContainerStatsResponse* resp) override;
  grpc::Status PodSandboxStats(grpc::ServerContext* ctx, const ::runtime::v1::PodSandboxStatsRequest* req,
                               ::runtime::v1::PodSandboxStatsResponse* resp) override;
  grpc::Status ListPodSandboxStats(grpc::ServerContext* ctx,
                                   const ::runtime::v1::ListPodSandboxStatsRequest* req,
                                   ::runtime::v1::ListPodSandboxStatsResponse* resp) override;

  // streaming_rpcs.cc
  grpc::Status Exec(grpc::ServerContext* ctx, const ::runtime::v1::ExecRequest* req,
                    ::runtime::v1::ExecResponse* resp) override;
  grpc::Status Attach(grpc::ServerContext* ctx, const ::runtime::v1::AttachRequest* req,
                      ::runtime::v1::AttachResponse* resp) override;
  grpc::Status PortForward(grpc::ServerContext* ctx, const ::runtime::v1::PortForwardRequest* req,
                           ::runtime::v1::PortForwardResponse* resp) override;

  // The Stream* list RPCs beside their List* siblings (sandbox_rpcs.cc, container_rpcs.cc,
  // stats_rpcs.cc, metrics_rpcs.cc; list_streaming.h).
  grpc::Status StreamPodSandboxes(
      grpc::ServerContext* ctx, const ::runtime::v1::StreamPodSandboxesRequest* req,
      grpc::ServerWriter<::runtime::v1::StreamPodSandboxesResponse>* writer) override;
  grpc::Status StreamContainers(grpc::ServerContext* ctx, const ::runtime::v1::StreamContainersRequest* req,
                                grpc::ServerWriter<::runtime::v1::StreamContainersResponse>* writer) override;
  grpc::Status StreamContainerStats(
      grpc::ServerContext* ctx, const ::runtime::v1::StreamContainerStatsRequest* req,
      grpc::ServerWriter<::runtime::v1::StreamContainerStatsResponse>* writer) override;
  grpc::Status StreamPodSandboxStats(
      grpc::ServerContext* ctx, const ::runtime::v1::StreamPodSandboxStatsRequest* req,
      grpc::ServerWriter<::runtime::v1::StreamPodSandboxStatsResponse>* writer) override;

  // events_rpcs.cc
  grpc::Status GetContainerEvents(grpc::ServerContext* ctx, const ::runtime::v1::GetEventsRequest* req,
                                  grpc::ServerWriter<::runtime::v1::ContainerEventResponse>* writer) override;

  // metrics_rpcs.cc
  grpc::Status ListMetricDescriptors(grpc::ServerContext* ctx,
                                     const ::runtime::v1::ListMetricDescriptorsRequest* req,
                                     ::runtime::v1::ListMetricDescriptorsResponse* resp) override;
  grpc::Status ListPodSandboxMetrics(grpc::ServerContext* ctx,
                                     const ::runtime::v1::ListPodSandboxMetricsRequest* req,
                                     ::runtime::v1::ListPodSandboxMetricsResponse* resp) override;
  grpc::Status StreamPodSandboxMetrics(
      grpc::ServerContext* ctx, const ::runtime::v1::StreamPodSandboxMetricsRequest* req,
      grpc::ServerWriter<::runtime::v1::StreamPodSandboxMetricsResponse>* writer) override;

  // runtime_info.cc
  grpc::Status UpdateRuntimeConfig(grpc::ServerContext* ctx,
                                   const ::runtime::v1::UpdateRuntimeConfigRequest* req,
                                   ::runtime::v1::UpdateRuntimeConfigResponse* resp) override;

  // sandbox_rpcs.cc
  grpc::Status UpdatePodSandboxResources(grpc::ServerContext* ctx,
                                         const ::runtime::v1::UpdatePodSandboxResourcesRequest* req,
                                         ::runtime::v1::UpdatePodSandboxResourcesResponse* resp) override;

  // checkpoint_rpcs.cc: not served (see there).
  grpc::Status CheckpointContainer(grpc::ServerContext* ctx,
                                   const ::runtime::v1::CheckpointContainerRequest* req,
                                   ::runtime::v1::CheckpointContainerResponse* resp) override;
  grpc::Status CheckpointPod(grpc::ServerContext* ctx, const ::runtime::v1::CheckpointPodRequest* req,
                             ::runtime::v1::CheckpointPodResponse* resp) override;
  grpc::Status RestorePod(grpc::ServerContext* ctx, const ::runtime::v1::RestorePodRequest* req,
                          ::runtime::v1::RestorePodResponse* resp) override;

 private:
  const ConfigHolder& config_;
  CriRuntime& runtime_;
  streaming::StreamingServer& streaming_;
};

}  // namespace cricket::server
