// gRPC adapter of GetContainerEvents (the events come from container_events.h).
#include "absl/cleanup/cleanup.h"
#include "server/grpc_status.h"
#include "server/runtime_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {
// How often an idle stream looks whether its client is still there (the synchronous API has no
// cancellation callback).
constexpr absl::Duration kIdlePoll = absl::Seconds(1);
}  // namespace

grpc::Status RuntimeServiceImpl::GetContainerEvents(grpc::ServerContext* ctx, const v1::GetEventsRequest*,
                                                    grpc::ServerWriter<v1::ContainerEventResponse>* writer) {
  ContainerEvents& events = runtime_.events();
  auto sub = events.Subscribe([ctx] { ctx->TryCancel(); });
  if (!sub.ok()) return ToGrpcStatus(sub.status());
  absl::Cleanup unsubscribe = [&] { events.Unsubscribe(*sub); };
  for (;;) {
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    auto next = (*sub)->Next(kIdlePoll);
    if (!next.ok()) return ToGrpcStatus(next.status());
    if (*next == nullptr) continue;
    v1::ContainerEventResponse resp;
    runtime_.EventToCri(**next, &resp);
    (*sub)->BeginWrite();
    bool written = writer->Write(resp);
    (*sub)->EndWrite();
    if (!written) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  }
}

}  // namespace cricket::server
