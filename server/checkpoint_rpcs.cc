// CheckpointContainer, CheckpointPod and RestorePod are not served: checkpoints need CRIU, and the CRIU
// Debian 12 ships (3.17) fails `criu check` on the kernels cricket runs on, so a checkpoint could not be
// made or restored reliably. The RPCs answer UNIMPLEMENTED saying so (kubelet's checkpoint API then
// reports the runtime's message).
#include "server/runtime_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {
grpc::Status NotServed(const char* rpc) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      std::string(rpc) +
                          " is not implemented by cricket: checkpoint/restore needs CRIU, and Debian 12's "
                          "CRIU 3.17 fails `criu check` on this kernel");
}
}  // namespace

grpc::Status RuntimeServiceImpl::CheckpointContainer(grpc::ServerContext*,
                                                     const v1::CheckpointContainerRequest*,
                                                     v1::CheckpointContainerResponse*) {
  return NotServed("CheckpointContainer");
}

grpc::Status RuntimeServiceImpl::CheckpointPod(grpc::ServerContext*, const v1::CheckpointPodRequest*,
                                               v1::CheckpointPodResponse*) {
  return NotServed("CheckpointPod");
}

grpc::Status RuntimeServiceImpl::RestorePod(grpc::ServerContext*, const v1::RestorePodRequest*,
                                            v1::RestorePodResponse*) {
  return NotServed("RestorePod");
}

}  // namespace cricket::server
