// Server interceptor for every CRI RPC: one debug line per call (request id, method, code, duration),
// and an UNIMPLEMENTED status without a message gets one naming the RPC, so a client learns which call
// cricket does not serve yet.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <memory>

namespace cricket::server {

class RpcInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;
};

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcInterceptorFactory();

// RPCs whose interceptor exists: received and not yet finished.
int64_t InFlightRpcs();

}  // namespace cricket::server
