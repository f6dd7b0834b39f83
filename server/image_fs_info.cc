// ImageFsInfo: kubelet calls it at start (an error is fatal) and for eviction decisions.
#include "lib/common/time_util.h"
#include "lib/sys/disk_usage.h"
#include "server/grpc_status.h"
#include "server/image_service.h"

namespace cricket::server {

namespace v1 = runtime::v1;

grpc::Status ImageServiceImpl::ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest*,
                                           v1::ImageFsInfoResponse* resp) {
  auto config = config_.Get();
  std::string dir = config->ImageStoreDir();
  auto usage = sys::DirectoryUsage(dir);
  if (!usage.ok()) return ToGrpcStatus(usage.status());
  v1::FilesystemUsage* fs = resp->add_image_filesystems();
  fs->set_timestamp(RealtimeNow());
  fs->mutable_fs_id()->set_mountpoint(dir);
  fs->mutable_used_bytes()->set_value(usage->bytes);
  fs->mutable_inodes_used()->set_value(usage->inodes);
  return grpc::Status::OK;
}

}  // namespace cricket::server
