// cricket's image store: content store (manifests, configs), layer store (extracted diffs in overlayfs
// form, keyed by chain id), images with their names, and per-container overlay root filesystems.
// Metadata lives in SQLite (WAL, synchronous commits) at <root>/storage.db; file content on disk. See
// lib/storage/README.md for the layout, the schema and the crash-safety argument.
//
// Thread-safe: any number of threads may call any method concurrently. One process opens a root at a
// time (<root>/storage.lock); other processes may read storage.db with SQLite while it is open.
//
// Typical pull (the pipeline in lib/image):
//   for each layer i (may run in parallel):
//     ASSIGN_OR_RETURN(LayerClaim claim, store.ClaimLayer(chain[i-1] or "", diff_ids[i]));
//     if (!claim.stored()) { download + decompress into a ByteSource; claim.Apply(source) }
//     keep claim.lease() (or the lease Apply returns) until PutImage returns
//   store.PutImage({config, manifest, {"docker.io/library/busybox:latest", "…@sha256:…"}});
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/storage/byte_source.h"
#include "lib/storage/space_guard.h"
#include "lib/storage/tar_apply.h"
#include "lib/sys/clone.h"
#include "lib/sys/file_lock.h"

namespace cricket::storage {

class Database;
class Store;

struct StoreOptions {
  std::string root;          // cricketd passes Config::ImageStoreDir() (<root>/storage)
  ApplyLimits limits;        // what a layer tar may contain, unless an apply says otherwise
  FreeSpaceReserve reserve;  // what layer applies must leave free, unless an apply says otherwise
  // syncfs() each extracted layer before recording it, so a power loss cannot leave a recorded layer
  // with unwritten content. Tests turn it off for speed.
  bool sync_layers = true;
  // Extra overlay mount options for container root filesystems (e.g. "metacopy=off").
  std::vector<std::string> mount_options;
  // Opened by a tool (cricket-image) beside the daemon that owns the store: no storage.lock, no
  // recovery sweeps. Layer claims and leases are file locks (<root>/locks/<chain-hex>), shared by
  // every process, so a tool and cricketd never apply the same layer twice nor delete a layer the
  // other is about to use; the daemon sweeps staging leftovers only when no tool has the store open.
  bool shared = false;
};

// The settings of one LayerClaim::Apply.
struct ApplyOptions {
  ApplyLimits limits;
  FreeSpaceReserve reserve;
  const std::atomic<bool>* cancelled = nullptr;  // the caller's cancellation; see ApplyControl
  int64_t deadline = 0;                          // CLOCK_MONOTONIC ns; 0: none
  ImageTally* image = nullptr;                   // totals shared by the layers of one pull
};

struct LayerInfo {
  std::string chain_id;     // "sha256:…" (image-spec config.md ChainID)
  std::string diff_id;      // "sha256:…" of the uncompressed tar
  std::string parent;       // chain id of the layer below; "" for a base layer
  std::string link;         // short name: <root>/overlay/l/<link> → the diff directory
  std::string diff_dir;     // absolute path of the extracted diff directory
  uint64_t tar_size = 0;    // uncompressed tar bytes
  uint64_t disk_bytes = 0;  // allocated bytes of the diff directory, measured at apply time
  uint64_t inodes = 0;
  int64_t created = 0;      // unix nanoseconds
  int64_t image_users = 0;  // images whose layer chains contain this layer
};

struct ImageInfo {
  std::string id;                         // "sha256:<hex>" of the config blob
  std::vector<std::string> repo_tags;     // "docker.io/library/busybox:latest"
  std::vector<std::string> repo_digests;  // "docker.io/library/busybox@sha256:…"
  std::vector<std::string> layers;        // chain ids, base first
  std::vector<std::string> diff_ids;      // base first
  std::string top_layer;                  // "" for an image without layers
  uint64_t size = 0;            // sum of the layers' uncompressed sizes plus the config and manifest bytes
  int64_t created = 0;          // when it was stored, unix nanoseconds
  std::string config;           // raw config JSON
  std::string manifest_digest;  // the manifest it was stored with; "" when none was given
};

struct NewImage {
  std::string config;    // raw config JSON; its sha256 is the image id; rootfs.diff_ids lists the layers
  std::string manifest;  // raw manifest bytes, kept in the content store; may be empty
  // Already normalised names: tags "repo:tag", digests "repo@sha256:…". A name held by another image
  // moves to this one.
  std::vector<std::string> names;
};

struct RemoveImageResult {
  std::string image_id;
  bool image_deleted = false;             // false: only `removed_name` was taken off the image
  std::string removed_name;               // the name removed when untagging
  std::vector<std::string> freed_layers;  // chain ids deleted with the image
};

// The user namespace a container runs in, for its rootfs: the layers are mounted idmapped with its maps
// (so that the image's root-owned files are the container root's, with no layer chowned) and the upper
// directory belongs to the host ids the image's root directory owner maps to.
struct RootfsIdmap {
  std::vector<sys::UidGidMapping> uid_map;
  std::vector<sys::UidGidMapping> gid_map;
  bool empty() const { return uid_map.empty() && gid_map.empty(); }
};

struct RootfsOptions {
  bool readonly = false;  // mount without an upper layer, read-only (CRI readonly_rootfs)
  RootfsIdmap idmap;      // empty: no user namespace
};

struct ContainerRootfs {
  std::string id;
  std::string image_id;
  bool readonly = false;
  int64_t created = 0;
  std::string dir;     // <root>/overlay-containers/<id>
  std::string upper;   // dir/upper (empty for readonly)
  std::string work;    // dir/work
  std::string merged;  // dir/merged: the mount point, the OCI root.path
};

// An image mounted read-only for a container (a CRI image volume; Kubernetes ImageVolume).
struct ImageVolume {
  std::string container_id;
  int index = 0;  // 0, 1, ... in the order they were added to the container
  std::string image_id;
  std::string merged;  // <root>/overlay-containers/<id>/image-volumes/<index>/merged: the mount point
};

// The host path of `sub_path` inside an image volume ("" for the volume itself). sub_path must be
// relative without ".." components (InvalidArgument: it would escape the image); symlinks in it are
// resolved inside the image, as the image's own root would see them (an absolute link target means the
// image's root). InvalidArgument naming the path when it does not exist in the image.
absl::StatusOr<std::string> ResolveImageVolumePath(const ImageVolume& volume, std::string_view sub_path);

struct Usage {
  uint64_t bytes = 0;
  uint64_t inodes = 0;
};

struct CheckReport {
  std::vector<std::string> problems;        // one line each, naming the object
  std::vector<std::string> damaged_layers;  // chain ids
  std::vector<std::string> damaged_images;  // ids of images using a damaged layer or blob
  std::vector<std::string> repaired;        // what repair did, one line each
  bool ok() const { return problems.empty(); }
};

// Keeps one stored layer from being garbage-collected while a pull that needs it is between applying
// (or finding) it and PutImage. Move-only; must not outlive the Store.
class LayerLease {
 public:
  LayerLease(LayerLease&& o) noexcept
      : store_(std::exchange(o.store_, nullptr)), info_(std::move(o.info_)), lock_(std::move(o.lock_)) {}
  LayerLease& operator=(LayerLease&& o) noexcept;
  ~LayerLease();
  const LayerInfo& layer() const { return info_; }

 private:
  friend class Store;
  LayerLease(Store* store, LayerInfo info, std::shared_ptr<sys::OfdLock> lock)
      : store_(store), info_(std::move(info)), lock_(std::move(lock)) {}
  Store* store_;
  LayerInfo info_;
  std::shared_ptr<sys::OfdLock> lock_;  // shared lock on the layer's lock file: other processes see the lease
};

// The right to extract one layer, or the lease on it when it is already stored. Only one claim per
// chain id needs content at a time: ClaimLayer waits while another claim on the same chain id is
// outstanding, so concurrent pulls of one layer share one download and extraction. Release a claim
// (apply or drop it) before claiming another layer from the same thread, or two pulls that claim in
// different orders could wait on each other.
class LayerClaim {
 public:
  LayerClaim(LayerClaim&& o) noexcept;
  LayerClaim& operator=(LayerClaim&&) = delete;
  ~LayerClaim();

  // The layer is already stored: lease() holds it and no content is needed.
  bool stored() const { return lease_.has_value(); }
  const std::string& chain_id() const { return chain_id_; }
  LayerLease& lease() { return *lease_; }

  // Extracts the uncompressed tar read from `tar` (every byte read exactly once, hashed as it is
  // extracted), checks its sha256 against the claimed diff_id and records the layer. On any error
  // (mismatch: DataLoss; hostile entry: InvalidArgument; stream error: as returned by `tar`) nothing is
  // stored and the partial extraction is removed. May be called once, only when !stored(). The
  // first form uses the store's limits and reserve. After a failure the claim is still held until
  // the LayerClaim is destroyed, so the caller can record the failure before a waiting claimant of
  // the same layer goes ahead.
  absl::StatusOr<LayerLease> Apply(ByteSource& tar);
  absl::StatusOr<LayerLease> Apply(ByteSource& tar, const ApplyOptions& options);

 private:
  friend class Store;
  LayerClaim(Store* store, std::string chain_id, std::string parent, std::string diff_id)
      : store_(store),
        chain_id_(std::move(chain_id)),
        parent_(std::move(parent)),
        diff_id_(std::move(diff_id)) {}
  Store* store_;
  std::string chain_id_, parent_, diff_id_;
  std::optional<LayerLease> lease_;
  bool owner_ = false;                  // holds the in-progress slot for chain_id_
  std::shared_ptr<sys::OfdLock> lock_;  // exclusive while owner_: no other process applies the layer
  bool applied_ = false;                // Apply was called
};

class Store {
 public:
  // Creates the layout if needed, takes <root>/storage.lock (FailedPrecondition naming the holder's
  // pid when another process has the store open), opens the database and recovers: staging leftovers,
  // layer directories, links and blobs not recorded in the database, and layers no image uses are
  // removed.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();

  // image-spec config.md: ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " +
  // DiffID(Ln)).
  static std::string ChainId(std::string_view parent_chain_id, std::string_view diff_id);

  // ---- layers
  absl::StatusOr<LayerClaim> ClaimLayer(std::string_view parent_chain_id, std::string_view diff_id);
  absl::StatusOr<LayerInfo> GetLayer(std::string_view chain_id);
  absl::StatusOr<std::vector<LayerInfo>> ListLayers();

  // ---- images
  // Records the image atomically: its layers (rootfs.diff_ids of the config → chain ids) must all be
  // stored (NotFound naming the first missing one otherwise); config and manifest go to the content
  // store; names move to it. Nothing is visible before the one transaction commits. Storing an image
  // that exists only adds the names.
  absl::StatusOr<ImageInfo> PutImage(const NewImage& image);
  // Exact id ("sha256:<hex>" or the bare hex).
  absl::StatusOr<ImageInfo> GetImage(std::string_view id);
  // Exact id, then exact name (tag or digest), then a unique id prefix of at least 3 hex digits
  // (InvalidArgument when ambiguous). NotFound when nothing matches.
  absl::StatusOr<ImageInfo> FindImage(std::string_view name_or_id);
  absl::StatusOr<std::vector<ImageInfo>> ListImages();
  // Adds `name` to the image `id`, moving it from the image that held it.
  absl::Status TagImage(std::string_view id, std::string_view name);
  // A name (tag or digest) that is not the image's last name is only removed from it. An id, a prefix
  // or the last name deletes the image, its blobs and the layers no other image uses; an image used by
  // a container rootfs is not deleted: FailedPrecondition naming the container. NotFound when nothing
  // matches (CRI RemoveImage treats that as success).
  absl::StatusOr<RemoveImageResult> RemoveImage(std::string_view name_or_id);
  // A blob of the content store by digest (configs and manifests of stored images).
  absl::StatusOr<std::string> GetBlob(std::string_view digest);

  // ---- container root filesystems
  // Records a rootfs for container `id` (1-128 of [A-Za-z0-9_.-]) on image `image_id` (exact id) and
  // creates its directories. AlreadyExists when the id is taken. The image cannot be deleted until the
  // rootfs is removed.
  absl::StatusOr<ContainerRootfs> CreateContainerRootfs(std::string_view id, std::string_view image_id,
                                                        const RootfsOptions& options = {});
  // Mounts the overlay (idempotent: an existing mount is kept) and returns the merged path. The mount
  // is made in the caller's mount namespace (the host's for cricketd) and survives a daemon restart.
  // With `idmap` (the one the rootfs was created with) the lower layers are idmapped mounts
  // (MountIdmappedOverlay): FailedPrecondition when the kernel cannot do that.
  absl::StatusOr<std::string> MountContainerRootfs(std::string_view id, const RootfsIdmap& idmap = {});
  // Unmounts (lazily when busy); not mounted or unknown is success.
  absl::Status UnmountContainerRootfs(std::string_view id);
  // Unmounts and deletes the directories and the record; unknown is success.
  absl::Status RemoveContainerRootfs(std::string_view id);
  absl::StatusOr<ContainerRootfs> GetContainerRootfs(std::string_view id);
  absl::StatusOr<std::vector<ContainerRootfs>> ListContainerRootfs();
  absl::StatusOr<bool> IsContainerRootfsMounted(std::string_view id);

  // ---- image volumes (image_volume.cc): images mounted read-only for a container
  // Records image `image_id` (exact id) as used by container `id`, whose rootfs must exist (NotFound
  // otherwise), then mounts an overlay of the image's layers without an upper layer, read-only, nodev
  // and nosuid, at ImageVolume::merged. The image cannot be deleted until RemoveContainerRootfs, which
  // also unmounts the volume and drops the record (so does Open for directories without a record).
  // The record comes first: a crash leaves a record whose mount, if any, the container's removal
  // cleans up. With `idmap` (the container's user namespace) the layers are idmapped mounts, as for
  // its rootfs (MountContainerRootfs): FailedPrecondition when the kernel cannot do that.
  absl::StatusOr<ImageVolume> AddImageVolume(std::string_view id, std::string_view image_id,
                                             const RootfsIdmap& idmap = {});
  absl::StatusOr<std::vector<ImageVolume>> ListImageVolumes(std::string_view id);

  // ---- usage, maintenance
  // Bytes and inodes used by images: the layers (measured when applied), blobs and the database.
  absl::StatusOr<Usage> ImageStoreUsage();
  // Free bytes on the store's filesystem above `reserve`, now (0 when below it).
  absl::StatusOr<uint64_t> FreeSpaceHeadroom(const FreeSpaceReserve& reserve);
  // A container's writable layer (its upper directory).
  absl::StatusOr<Usage> ContainerUsage(std::string_view id);
  // Deletes layers no image uses and no lease or claim holds; returns their chain ids.
  absl::StatusOr<std::vector<std::string>> GarbageCollect();
  // Verifies the database, every layer (its content manifest's digest, then every file re-hashed and
  // compared with the manifest), links and blobs. With `repair`: recreates missing links, rewrites
  // config blobs from the database, and deletes damaged layers with the images using them, except
  // images in use by a container (reported only).
  absl::StatusOr<CheckReport> Check(bool repair);

  const std::string& root() const { return options_.root; }

 private:
  friend class LayerClaim;
  friend class LayerLease;
  struct Trash;

  explicit Store(const StoreOptions& options);
  absl::Status Init();
  absl::Status Recover();
  std::string Path(std::string_view rel) const;
  std::string LayerDir(std::string_view chain_id) const;
  std::string BlobPath(std::string_view digest) const;
  std::string ContainerDir(std::string_view id) const;
  std::string LayerLockPath(std::string_view chain_id) const;

  // Layers (store.cc).
  absl::StatusOr<std::optional<LayerInfo>> LoadLayerLocked(std::string_view chain_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<LayerLease> ApplyClaimed(LayerClaim& claim, ByteSource& tar, const ApplyOptions& options);
  absl::StatusOr<LayerLease> CommitLayer(const LayerClaim& claim, const std::string& staging,
                                         const ApplyResult& result, uint64_t disk_bytes, uint64_t inodes,
                                         const std::string& manifest_digest);
  void EndClaim(const std::string& chain_id);
  void ReleaseLease(const std::string& chain_id);
  // Deletes the records of layers no image uses and no lease or claim holds, among `candidates` (all
  // layers when empty), inside the caller's open transaction. Returns (chain id, link) pairs whose
  // files DiscardLayerFilesLocked removes once the transaction has committed.
  using LayerFiles = std::vector<std::pair<std::string, std::string>>;
  absl::StatusOr<LayerFiles> DeleteUnusedLayersLocked(const std::vector<std::string>& candidates)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DiscardLayerFilesLocked(const LayerFiles& layers, std::vector<std::string>* trash)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status MoveToTrash(const std::string& path, std::vector<std::string>* trash);
  void EmptyTrash(const std::vector<std::string>& trash);
  absl::Status RemoveUnreferencedBlobsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Images (image_store.cc).
  absl::StatusOr<std::optional<ImageInfo>> LoadImageLocked(std::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::string> ResolveImageLocked(std::string_view name_or_id, bool* by_name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutNameLocked(const std::string& id, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteBlobLocked(const std::string& data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Containers (container_rootfs.cc).
  absl::StatusOr<std::optional<ContainerRootfs>> LoadContainerLocked(std::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecoverContainersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unmounts the image volumes under a container directory (recorded or not).
  static absl::Status UnmountImageVolumesAt(const std::string& container_dir);
  // Ids of containers whose rootfs or image volumes use `image_id` (at most `limit`).
  absl::StatusOr<std::vector<std::string>> ImageUsersLocked(const std::string& image_id, int limit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The lower layer links of an image, top first ("l/<link>"), for an overlay mount.
  absl::StatusOr<std::vector<std::string>> ImageLowersLocked(const std::string& image_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Check (check.cc).
  void CheckLayer(const LayerInfo& layer, const std::string& manifest_digest, CheckReport* report);
  void CheckBlobsLocked(bool repair, CheckReport* report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RepairLayersLocked(CheckReport* report, std::vector<std::string>* trash)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StoreOptions options_;
  std::unique_ptr<SpaceGuard> space_;  // admission of layer data against the free-space reserve
  std::optional<sys::FileLock> lock_;
  // Held shared by every process with the store open; the daemon's open takes it exclusive first to
  // learn whether it is the only user (then staging and unrecorded leftovers can be swept).
  std::optional<sys::OfdLock> users_lock_;
  bool sole_user_at_open_ = false;
  // Exclusive locks on layers being deleted, from DeleteUnusedLayersLocked until their files are gone.
  absl::flat_hash_map<std::string, sys::OfdLock> deleting_ ABSL_GUARDED_BY(mu_);
  absl::Mutex mu_;
  absl::CondVar claims_cv_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> in_progress_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> leases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::storage
