// runtime.v1.ImageService: image_rpcs.cc (PullImage, ImageStatus, ListImages, StreamImages, RemoveImage) over
// ImageManager, image_fs_info.cc (ImageFsInfo). RPCs not overridden here answer UNIMPLEMENTED, named by
// the RPC interceptor.
#pragma once

#include "runtime/v1/api.grpc.pb.h"
#include "server/config_holder.h"
#include "server/cri_runtime.h"
#include "server/image_manager.h"

namespace cricket::server {

class ImageServiceImpl final : public ::runtime::v1::ImageService::Service {
 public:
  ImageServiceImpl(const ConfigHolder& config, CriRuntime& runtime)
      : config_(config), runtime_(runtime), images_(config, runtime.store()) {}

  // image_rpcs.cc
  grpc::Status ListImages(grpc::ServerContext* ctx, const ::runtime::v1::ListImagesRequest* req,
                          ::runtime::v1::ListImagesResponse* resp) override;
  grpc::Status StreamImages(grpc::ServerContext* ctx, const ::runtime::v1::StreamImagesRequest* req,
                            grpc::ServerWriter<::runtime::v1::StreamImagesResponse>* writer) override;
  grpc::Status ImageStatus(grpc::ServerContext* ctx, const ::runtime::v1::ImageStatusRequest* req,
                           ::runtime::v1::ImageStatusResponse* resp) override;
  grpc::Status PullImage(grpc::ServerContext* ctx, const ::runtime::v1::PullImageRequest* req,
                         ::runtime::v1::PullImageResponse* resp) override;
  grpc::Status RemoveImage(grpc::ServerContext* ctx, const ::runtime::v1::RemoveImageRequest* req,
                           ::runtime::v1::RemoveImageResponse* resp) override;

  // image_fs_info.cc
  grpc::Status ImageFsInfo(grpc::ServerContext* ctx, const ::runtime::v1::ImageFsInfoRequest* req,
                           ::runtime::v1::ImageFsInfoResponse* resp) override;

 private:
  absl::Status ListImagesInto(const ::runtime::v1::ImageFilter& filter,
                              ::runtime::v1::ListImagesResponse* resp);

  const ConfigHolder& config_;
  CriRuntime& runtime_;
  ImageManager images_;
};

}  // namespace cricket::server
