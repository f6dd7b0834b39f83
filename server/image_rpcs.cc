// ImageService RPCs (CRI api.proto, ImageService): thin adapters over ImageManager.
#include <atomic>
#include <chrono>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/grpc_status.h"
#include "server/image_service.h"
#include "server/list_streaming.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

// The CallContext of one RPC: the client's deadline, and a flag raised when the client cancels or goes
// away. The synchronous gRPC API has no cancellation callback, so a small thread polls IsCancelled.
class RpcCallContext {
 public:
  explicit RpcCallContext(grpc::ServerContext* server_ctx) : server_ctx_(server_ctx) {
    ctx_.cancelled = &cancelled_;
    auto deadline = server_ctx->deadline();
    auto now = std::chrono::system_clock::now();
    // gRPC reports "no deadline" as a time point far in the future.
    if (deadline < now + std::chrono::hours(24 * 365)) {
      int64_t left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now).count();
      ctx_.deadline = MonotonicNow() + std::max<int64_t>(left, 1);
    }
    poller_ = std::thread([this] { Poll(); });
  }
  ~RpcCallContext() {
    {
      absl::MutexLock l(&mu_);
      done_ = true;
    }
    poller_.join();
  }
  const image::CallContext& get() const { return ctx_; }

 private:
  void Poll() {
    absl::MutexLock l(&mu_);
    while (!done_) {
      if (mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Milliseconds(200))) break;
      if (server_ctx_->IsCancelled()) {
        cancelled_.store(true);
        break;
      }
    }
  }

  grpc::ServerContext* server_ctx_;
  std::atomic<bool> cancelled_{false};
  image::CallContext ctx_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread poller_;
};

image::AuthConfig FromCri(const v1::AuthConfig& a) {
  image::AuthConfig out;
  out.username = a.username();
  out.password = a.password();
  out.auth = a.auth();
  out.server_address = a.server_address();
  out.identity_token = a.identity_token();
  out.registry_token = a.registry_token();
  return out;
}

}  // namespace

grpc::Status ImageServiceImpl::PullImage(grpc::ServerContext* ctx, const v1::PullImageRequest* req,
                                         v1::PullImageResponse* resp) {
  const std::string& name = req->image().image();
  if (name.empty()) return ToGrpcStatus(absl::InvalidArgumentError("PullImage: image is empty"));
  std::optional<image::AuthConfig> creds;
  if (req->has_auth()) creds = FromCri(req->auth());
  RpcCallContext call(ctx);
  // The pod's namespace selects a per-namespace signature policy ([crio.image] signature_policy_dir).
  const std::string& ns = req->sandbox_config().metadata().namespace_();
  auto pulled = images_.Pull(name, creds ? &*creds : nullptr, call.get(), ns);
  if (!pulled.ok()) {
    runtime_.metrics().RecordPullFailure(ToStd(absl::StatusCodeToString(pulled.status().code())));
    return ToGrpcStatus(Annotate(pulled.status(), StrCat("pull ", name)));
  }
  runtime_.metrics().RecordPullSuccess(pulled->bytes_fetched, pulled->layers_reused);
  // CRI: image_ref must equal Image.id, the config digest.
  resp->set_image_ref(pulled->image.id);
  return grpc::Status::OK;
}

// Not present is an empty response, not an error (api.proto ImageStatus: "If the image is not present,
// returns a response with ImageStatusResponse.Image set to nil").
grpc::Status ImageServiceImpl::ImageStatus(grpc::ServerContext*, const v1::ImageStatusRequest* req,
                                           v1::ImageStatusResponse* resp) {
  auto found = images_.Find(req->image().image());
  if (absl::IsNotFound(found.status())) return grpc::Status::OK;
  if (!found.ok()) return ToGrpcStatus(found.status());
  *resp->mutable_image() = images_.ToCri(*found);
  if (req->verbose()) {
    for (auto& [k, v] : ImageManager::VerboseInfo(*found)) (*resp->mutable_info())[k] = v;
  }
  return grpc::Status::OK;
}

absl::Status ImageServiceImpl::ListImagesInto(const v1::ImageFilter& filter, v1::ListImagesResponse* resp) {
  const std::string& name = filter.image().image();
  if (!name.empty()) {
    auto found = images_.Find(name);
    if (absl::IsNotFound(found.status())) return absl::OkStatus();
    RETURN_IF_ERROR(found.status());
    *resp->add_images() = images_.ToCri(*found);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<storage::ImageInfo> all, images_.store().ListImages());
  for (const storage::ImageInfo& info : all) *resp->add_images() = images_.ToCri(info);
  return absl::OkStatus();
}

grpc::Status ImageServiceImpl::ListImages(grpc::ServerContext*, const v1::ListImagesRequest* req,
                                          v1::ListImagesResponse* resp) {
  return ToGrpcStatus(ListImagesInto(req->filter(), resp));
}

grpc::Status ImageServiceImpl::StreamImages(grpc::ServerContext* ctx, const v1::StreamImagesRequest* req,
                                            grpc::ServerWriter<v1::StreamImagesResponse>* writer) {
  v1::ListImagesResponse all;
  if (absl::Status st = ListImagesInto(req->filter(), &all); !st.ok()) return ToGrpcStatus(st);
  PageWriter<v1::StreamImagesResponse, v1::Image> pages("StreamImages", ctx, writer,
                                                        &v1::StreamImagesResponse::mutable_images);
  for (v1::Image& image : *all.mutable_images()) {
    if (!pages.Add(std::move(image))) break;
  }
  return pages.Finish();
}

grpc::Status ImageServiceImpl::RemoveImage(grpc::ServerContext*, const v1::RemoveImageRequest* req,
                                           v1::RemoveImageResponse*) {
  const std::string& name = req->image().image();
  if (name.empty()) return ToGrpcStatus(absl::InvalidArgumentError("RemoveImage: image is empty"));
  return ToGrpcStatus(images_.Remove(name));
}

}  // namespace cricket::server
