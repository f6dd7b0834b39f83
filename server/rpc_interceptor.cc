#include "server/rpc_interceptor.h"

#include <atomic>
#include <string>

#include "lib/common/logging.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::server {
namespace {

std::atomic<uint64_t> g_next_request_id{1};
std::atomic<int64_t> g_in_flight{0};
RpcDoneHook g_done_hook;

class RpcInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RpcInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method() ? info->method() : "?"),
        id_(g_next_request_id.fetch_add(1, std::memory_order_relaxed)),
        start_(MonotonicNow()) {
    g_in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  ~RpcInterceptor() override { g_in_flight.fetch_sub(1, std::memory_order_relaxed); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED && status.error_message().empty()) {
        status =
            grpc::Status(grpc::StatusCode::UNIMPLEMENTED, StrCat(method_, " is not implemented by cricket"));
        methods->ModifySendStatus(status);
      }
      if (g_done_hook) g_done_hook(method_, static_cast<int>(status.error_code()), MonotonicNow() - start_);
      if (log::Enabled(log::Level::kDebug)) {
        log::Debug("rpc", "request done",
                   {{"id", id_},
                    {"method", method_},
                    {"code", static_cast<int>(status.error_code())},
                    {"ms", (MonotonicNow() - start_) / 1000000},
                    {"error", status.error_message()}});
      }
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  uint64_t id_;
  int64_t start_;
};

}  // namespace

int64_t InFlightRpcs() { return g_in_flight.load(std::memory_order_relaxed); }

void SetRpcDoneHook(RpcDoneHook hook) { g_done_hook = std::move(hook); }

grpc::experimental::Interceptor* RpcInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcInterceptor(info);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcInterceptorFactory() {
  return std::make_unique<RpcInterceptorFactory>();
}

}  // namespace cricket::server
