// The one place where absl::Status codes become gRPC codes (the server edge).
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace cricket::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace cricket::server
