// Server interceptor for every CRI RPC: one debug line per call (request id, method, code, duration),
// and an UNIMPLEMENTED status without a message gets one naming the RPC, so a client learns which call
// cricket does not serve yet.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace cricket::server {

class RpcInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;
};

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcInterceptorFactory();

// RPCs whose interceptor exists: received and not yet finished.
int64_t InFlightRpcs();

// Called once per finished RPC with its method, gRPC status code and duration (the daemon's operation
// metrics). Set before the server starts; not thread-safe to change while serving.
using RpcDoneHook = std::function<void(std::string_view method, int code, int64_t duration_ns)>;
void SetRpcDoneHook(RpcDoneHook hook);

}  // namespace cricket::server
