// ImageFsInfo: kubelet calls it at start (an error is fatal) and for eviction decisions.
#include "lib/common/path_util.h"
#include "lib/common/time_util.h"
#include "server/grpc_status.h"
#include "server/image_service.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

grpc::Status ImageServiceImpl::ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest*,
                                           v1::ImageFsInfoResponse* resp) {
  storage::Store& store = runtime_.store();
  auto usage = store.ImageStoreUsage();
  if (!usage.ok()) return ToGrpcStatus(usage.status());
  int64_t now = RealtimeNow();
  v1::FilesystemUsage* fs = resp->add_image_filesystems();
  fs->set_timestamp(now);
  fs->mutable_fs_id()->set_mountpoint(store.root());
  fs->mutable_used_bytes()->set_value(usage->bytes);
  fs->mutable_inodes_used()->set_value(usage->inodes);
  // Containers' writable layers live beside the images, in the same store.
  auto rootfs = store.ListContainerRootfs();
  if (!rootfs.ok()) return ToGrpcStatus(rootfs.status());
  storage::Usage writable;
  for (const storage::ContainerRootfs& r : *rootfs) {
    if (auto u = store.ContainerUsage(r.id); u.ok()) {
      writable.bytes += u->bytes;
      writable.inodes += u->inodes;
    }
  }
  v1::FilesystemUsage* cfs = resp->add_container_filesystems();
  cfs->set_timestamp(now);
  cfs->mutable_fs_id()->set_mountpoint(JoinPath(store.root(), "overlay-containers"));
  cfs->mutable_used_bytes()->set_value(writable.bytes);
  cfs->mutable_inodes_used()->set_value(writable.inodes);
  return grpc::Status::OK;
}

}  // namespace cricket::server
