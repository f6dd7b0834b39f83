// Exec, Attach and PortForward: validate, then hand out a single-use URL of the streaming server
// (interfaces.md §2.1). The streams themselves are served by server/streaming/ and StreamingBackend.
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "server/grpc_status.h"
#include "server/runtime_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

// The container's record, when it exists and runs.
absl::StatusOr<ContainerRecord> RequireRunning(CriRuntime& runtime, const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("container_id is required");
  ASSIGN_OR_RETURN(std::shared_ptr<Container> container, runtime.state().FindContainer(id));
  ContainerRecord c = container->Snapshot();
  if (c.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(StrCat("container ", c.id, " is not running"));
  }
  return c;
}

grpc::Status UrlOrError(const absl::StatusOr<std::string>& url, std::string* out) {
  if (!url.ok()) return ToGrpcStatus(url.status());
  *out = *url;
  return grpc::Status::OK;
}

}  // namespace

grpc::Status RuntimeServiceImpl::Exec(grpc::ServerContext*, const v1::ExecRequest* req,
                                      v1::ExecResponse* resp) {
  auto c = RequireRunning(runtime_, req->container_id());
  if (!c.ok()) return ToGrpcStatus(c.status());
  streaming::ExecParams p;
  p.container_id = c->id;
  p.cmd.assign(req->cmd().begin(), req->cmd().end());
  p.tty = req->tty();
  p.stdin = req->stdin();
  p.stdout = req->stdout();
  p.stderr = req->stderr();
  return UrlOrError(streaming_.GetExecUrl(p), resp->mutable_url());
}

grpc::Status RuntimeServiceImpl::Attach(grpc::ServerContext*, const v1::AttachRequest* req,
                                        v1::AttachResponse* resp) {
  auto c = RequireRunning(runtime_, req->container_id());
  if (!c.ok()) return ToGrpcStatus(c.status());
  if (req->stdin() && !c->config.stdin()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("stdin requested, but the container was created without stdin"));
  }
  streaming::AttachParams p;
  p.container_id = c->id;
  p.tty = req->tty();
  p.stdin = req->stdin();
  p.stdout = req->stdout();
  p.stderr = req->stderr();
  return UrlOrError(streaming_.GetAttachUrl(p), resp->mutable_url());
}

grpc::Status RuntimeServiceImpl::PortForward(grpc::ServerContext*, const v1::PortForwardRequest* req,
                                             v1::PortForwardResponse* resp) {
  if (req->pod_sandbox_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("pod_sandbox_id is required"));
  }
  auto sandbox = runtime_.state().FindSandbox(req->pod_sandbox_id());
  if (!sandbox.ok()) return ToGrpcStatus(sandbox.status());
  SandboxRecord s = (*sandbox)->Snapshot();
  if (s.state != SandboxState::kReady) {
    return ToGrpcStatus(absl::FailedPreconditionError(StrCat("pod sandbox ", s.id, " is not ready")));
  }
  streaming::PortForwardParams p;
  p.sandbox_id = s.id;
  p.ports.assign(req->port().begin(), req->port().end());
  return UrlOrError(streaming_.GetPortForwardUrl(p), resp->mutable_url());
}

}  // namespace cricket::server
