#include "lib/storage/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/cleanup/cleanup.h"
#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/common/unique_fd.h"
#include "lib/storage/metadata_db.h"
#include "lib/sys/disk_usage.h"

namespace cricket::storage {
namespace {

constexpr std::string_view kComponent = "storage";
constexpr std::string_view kContentManifest = "content-manifest";

// Schema version 1. Layers are referenced by images through image_layers (every layer of the chain,
// so a layer's users are the images listing it); containers reference images, for their rootfs and
// their image volumes (RESTRICT: an image with a container cannot be deleted). image_volumes was added
// after version 1 without a version change: CREATE TABLE IF NOT EXISTS adds it to older databases.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS layers(
  chain_id TEXT PRIMARY KEY,
  diff_id TEXT NOT NULL,
  parent TEXT NOT NULL,
  link TEXT NOT NULL UNIQUE,
  tar_size INTEGER NOT NULL,
  disk_bytes INTEGER NOT NULL,
  inodes INTEGER NOT NULL,
  content_manifest TEXT NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS images(
  id TEXT PRIMARY KEY,
  config BLOB NOT NULL,
  manifest_digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS image_layers(
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  chain_id TEXT NOT NULL REFERENCES layers(chain_id),
  PRIMARY KEY(image_id, position));
CREATE INDEX IF NOT EXISTS image_layers_by_layer ON image_layers(chain_id);
CREATE TABLE IF NOT EXISTS names(
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK(kind IN ('tag', 'digest')),
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  added INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS names_by_image ON names(image_id);
CREATE TABLE IF NOT EXISTS blobs(
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  kind TEXT NOT NULL CHECK(kind IN ('config', 'manifest')),
  size INTEGER NOT NULL,
  PRIMARY KEY(image_id, digest));
CREATE INDEX IF NOT EXISTS blobs_by_digest ON blobs(digest);
CREATE TABLE IF NOT EXISTS containers(
  id TEXT PRIMARY KEY,
  image_id TEXT NOT NULL REFERENCES images(id),
  readonly INTEGER NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS image_volumes(
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  image_id TEXT NOT NULL REFERENCES images(id),
  PRIMARY KEY(container_id, position));
CREATE INDEX IF NOT EXISTS image_volumes_by_image ON image_volumes(image_id);
CREATE VIEW IF NOT EXISTS layer_users AS
  SELECT l.chain_id AS chain_id,
         (SELECT COUNT(*) FROM image_layers il WHERE il.chain_id = l.chain_id) AS images
  FROM layers l;
PRAGMA user_version = 1;
)sql";

std::string HexOf(std::string_view digest) {
  auto colon = digest.find(':');
  return std::string(colon == std::string_view::npos ? digest : digest.substr(colon + 1));
}

// 12 characters of base32: 60 random bits. "l/<link>:" is 15 bytes of the lowerdir option per layer.
std::string NewLinkId() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string bytes = RandomBytes(12);
  std::string out;
  for (char c : bytes) out.push_back(kAlphabet[static_cast<unsigned char>(c) & 31]);
  return out;
}

absl::Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoError("open", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError("fsync", dir);
  return absl::OkStatus();
}

}  // namespace

// ---- leases and claims

LayerLease& LayerLease::operator=(LayerLease&& o) noexcept {
  if (this != &o) {
    if (store_ != nullptr) store_->ReleaseLease(info_.chain_id);
    store_ = std::exchange(o.store_, nullptr);
    info_ = std::move(o.info_);
    lock_ = std::move(o.lock_);
  }
  return *this;
}

LayerLease::~LayerLease() {
  if (store_ != nullptr) store_->ReleaseLease(info_.chain_id);
}

LayerClaim::LayerClaim(LayerClaim&& o) noexcept
    : store_(o.store_),
      chain_id_(std::move(o.chain_id_)),
      parent_(std::move(o.parent_)),
      diff_id_(std::move(o.diff_id_)),
      lease_(std::move(o.lease_)),
      owner_(std::exchange(o.owner_, false)),
      lock_(std::move(o.lock_)),
      applied_(o.applied_) {
  o.lease_.reset();
}

LayerClaim::~LayerClaim() {
  lock_.reset();  // before waking a waiter of this process, which then takes the lock file
  if (owner_) store_->EndClaim(chain_id_);
}

absl::StatusOr<LayerLease> LayerClaim::Apply(ByteSource& tar) {
  ApplyOptions options;
  options.limits = store_->options_.limits;
  options.reserve = store_->options_.reserve;
  return Apply(tar, options);
}

absl::StatusOr<LayerLease> LayerClaim::Apply(ByteSource& tar, const ApplyOptions& options) {
  if (!owner_ || applied_)
    return absl::FailedPreconditionError(StrCat("layer ", chain_id_, " is stored or already applied"));
  applied_ = true;
  absl::StatusOr<LayerLease> lease = store_->ApplyClaimed(*this, tar, options);
  if (lease.ok()) {
    owner_ = false;
    lock_.reset();  // the lease keeps its own reference when the layer was stored
    store_->EndClaim(chain_id_);
  }
  return lease;
}

std::string Store::ChainId(std::string_view parent_chain_id, std::string_view diff_id) {
  if (parent_chain_id.empty()) return std::string(diff_id);
  return Digest::Sha256Of(StrCat(parent_chain_id, " ", diff_id)).ToString();
}

void Store::EndClaim(const std::string& chain_id) {
  absl::MutexLock l(&mu_);
  in_progress_.erase(chain_id);
  claims_cv_.SignalAll();
}

void Store::ReleaseLease(const std::string& chain_id) {
  absl::MutexLock l(&mu_);
  auto it = leases_.find(chain_id);
  if (it != leases_.end() && --it->second <= 0) leases_.erase(it);
}

// ---- open and recovery

std::string Store::Path(std::string_view rel) const { return StrCat(options_.root, "/", rel); }
std::string Store::LayerDir(std::string_view chain_id) const {
  return Path(StrCat("overlay/", HexOf(chain_id)));
}
std::string Store::BlobPath(std::string_view digest) const {
  return Path(StrCat("blobs/sha256/", HexOf(digest)));
}
std::string Store::ContainerDir(std::string_view id) const { return Path(StrCat("overlay-containers/", id)); }
std::string Store::LayerLockPath(std::string_view chain_id) const {
  return Path(StrCat("locks/", HexOf(chain_id)));
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.root.empty() || options.root[0] != '/') {
    return absl::InvalidArgumentError(StrCat("storage root \"", options.root, "\" must be an absolute path"));
  }
  std::unique_ptr<Store> store(new Store(options));
  store->options_.root = CleanPath(options.root);
  store->space_ = std::make_unique<SpaceGuard>(store->options_.root);
  RETURN_IF_ERROR(store->Init());
  RETURN_IF_ERROR(store->Recover());
  return store;
}

Store::Store(const StoreOptions& options) : options_(options) {}
Store::~Store() = default;

absl::StatusOr<uint64_t> Store::FreeSpaceHeadroom(const FreeSpaceReserve& reserve) {
  return space_->Headroom(reserve);
}

absl::Status Store::Init() {
  for (std::string_view d :
       {"", "blobs/sha256", "overlay/l", "overlay/empty", "overlay-containers", "tmp", "locks"}) {
    RETURN_IF_ERROR(MkdirAll(d.empty() ? options_.root : Path(d), 0700));
  }
  // Lower layers are reached through overlay/l; the directories above them need only be searchable.
  if (::chmod(Path("overlay").c_str(), 0711) != 0) return ErrnoError("chmod", Path("overlay"));
  if (::chmod(Path("overlay/empty").c_str(), 0755) != 0) return ErrnoError("chmod", Path("overlay/empty"));
  if (!options_.shared) {
    ASSIGN_OR_RETURN(sys::FileLock lock, sys::FileLock::TryAcquire(Path("storage.lock")));
    lock_.emplace(std::move(lock));
    // An open-file-description lock is shared with every fork copy of its holder until that copy
    // execs or ends: right after a daemon was killed, one of its children (a spawn before its execve)
    // may still hold it for a moment. Asking a few times over up to 2 s tells that apart from a tool
    // really using the store, which keeps it for the whole of its copy.
    std::optional<sys::OfdLock> sole;
    for (int attempt = 0; attempt < 40 && !sole; ++attempt) {
      if (attempt > 0) ::usleep(50'000);
      ASSIGN_OR_RETURN(sole,
                       sys::OfdLock::Acquire(Path("users.lock"), sys::OfdLock::Mode::kExclusive, false));
    }
    sole_user_at_open_ = sole.has_value();
    if (sole) users_lock_.emplace(*std::move(sole));
  }
  if (!users_lock_) {
    // Waits while a daemon's open holds it exclusive for its recovery.
    ASSIGN_OR_RETURN(std::optional<sys::OfdLock> shared,
                     sys::OfdLock::Acquire(Path("users.lock"), sys::OfdLock::Mode::kShared, true));
    users_lock_.emplace(*std::move(shared));
  }
  absl::MutexLock l(&mu_);
  // A damaged database is refused at open (PRAGMA quick_check), not met by some later query: images,
  // layers and container rootfs records would be served wrong or lost one by one.
  absl::Status opened = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(db_, Database::Open(Path("storage.db")));
    ASSIGN_OR_RETURN(Statement qc, db_->Prepare("PRAGMA quick_check"));
    std::vector<std::string> damage;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, qc.Step());
      if (!row) break;
      if (qc.Text(0) != "ok") damage.push_back(qc.Text(0));
    }
    if (!damage.empty()) return absl::DataLossError(Join(damage, "; "));
    return db_->Exec(kSchema);
  }();
  if (absl::IsDataLoss(opened)) {
    db_.reset();
    return absl::DataLossError(
        StrCat("the image store's metadata database ", Path("storage.db"), " is damaged (", opened.message(),
               "); not opening the store. Restore the file from a backup, or stop every pod and move ",
               options_.root, " away to start with an empty image store (images are pulled again)"));
  }
  return opened;
}

absl::Status Store::MoveToTrash(const std::string& path, std::vector<std::string>* trash) {
  std::string dest = Path(StrCat("tmp/trash-", RandomHexId().substr(0, 16)));
  if (::rename(path.c_str(), dest.c_str()) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError(StrCat("move to ", dest), path);
  }
  trash->push_back(dest);
  return absl::OkStatus();
}

void Store::EmptyTrash(const std::vector<std::string>& trash) {
  for (const std::string& t : trash) {
    absl::Status s = RemoveAll(t);
    if (!s.ok())
      log::Warn(kComponent, "cannot remove deleted data; retried at the next open", {{"error", s}});
  }
}

absl::Status Store::Recover() {
  if (options_.shared) return absl::OkStatus();  // the daemon recovers; a tool must not sweep its work
  if (!sole_user_at_open_) {
    // A tool is copying into the store: its staging directories and layers between apply and
    // PutImage look like leftovers. Only container records are recovered now; the rest at a later open.
    log::Info(kComponent, "another process has the store open; leftover sweep deferred to the next start");
    absl::MutexLock l(&mu_);
    return RecoverContainersLocked();
  }
  absl::Cleanup share = [this] {
    absl::Status s = users_lock_->Downgrade();
    if (!s.ok()) log::Warn(kComponent, "cannot share the store with tools", {{"error", s}});
  };
  std::vector<std::string> trash;
  {
    absl::MutexLock l(&mu_);
    // Staging directories of applies and removals that did not finish.
    ASSIGN_OR_RETURN(std::vector<std::string> leftovers, ListDir(Path("tmp")));
    for (const std::string& n : leftovers) trash.push_back(Path(StrCat("tmp/", n)));
    // Layers of pulls that never reached PutImage (no pull is in progress at open).
    ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
    ASSIGN_OR_RETURN(LayerFiles unused, DeleteUnusedLayersLocked({}));
    RETURN_IF_ERROR(tx->Commit());
    DiscardLayerFilesLocked(unused, &trash);
    // Directories and links the database does not know: renamed into place before a commit that
    // never happened, or left by a removal that committed and stopped.
    absl::flat_hash_set<std::string> hexes, links;
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT chain_id, link FROM layers"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      hexes.insert(HexOf(q.Text(0)));
      links.insert(q.Text(1));
    }
    ASSIGN_OR_RETURN(std::vector<std::string> dirs, ListDir(Path("overlay")));
    for (const std::string& n : dirs) {
      if (n == "l" || n == "empty" || hexes.contains(n)) continue;
      log::Info(kComponent, "removing unrecorded layer directory", {{"dir", n}});
      RETURN_IF_ERROR(MoveToTrash(Path(StrCat("overlay/", n)), &trash));
    }
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(Path("overlay/l")));
    for (const std::string& n : names) {
      if (!links.contains(n) && ::unlink(Path(StrCat("overlay/l/", n)).c_str()) != 0 && errno != ENOENT) {
        return ErrnoError("unlink", Path(StrCat("overlay/l/", n)));
      }
    }
    RETURN_IF_ERROR(RemoveUnreferencedBlobsLocked());
    RETURN_IF_ERROR(RecoverContainersLocked());
  }
  EmptyTrash(trash);
  return absl::OkStatus();
}

// ---- layers

absl::StatusOr<std::optional<LayerInfo>> Store::LoadLayerLocked(std::string_view chain_id) {
  ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare("SELECT chain_id, diff_id, parent, link, tar_size, disk_bytes, inodes, created,"
                   " (SELECT COUNT(*) FROM image_layers il WHERE il.chain_id = l.chain_id)"
                   " FROM layers l WHERE chain_id = ?"));
  q.Bind(1, chain_id);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<LayerInfo>();
  LayerInfo info;
  info.chain_id = q.Text(0);
  info.diff_id = q.Text(1);
  info.parent = q.Text(2);
  info.link = q.Text(3);
  info.tar_size = static_cast<uint64_t>(q.Int(4));
  info.disk_bytes = static_cast<uint64_t>(q.Int(5));
  info.inodes = static_cast<uint64_t>(q.Int(6));
  info.created = q.Int(7);
  info.image_users = q.Int(8);
  info.diff_dir = LayerDir(info.chain_id) + "/diff";
  return std::optional<LayerInfo>(std::move(info));
}

absl::StatusOr<LayerInfo> Store::GetLayer(std::string_view chain_id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::optional<LayerInfo> info, LoadLayerLocked(chain_id));
  if (!info) return absl::NotFoundError(StrCat("layer ", chain_id, " is not stored"));
  return *info;
}

absl::StatusOr<std::vector<LayerInfo>> Store::ListLayers() {
  absl::MutexLock l(&mu_);
  std::vector<std::string> ids;
  {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT chain_id FROM layers ORDER BY created, chain_id"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ids.push_back(q.Text(0));
    }
  }
  std::vector<LayerInfo> out;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(std::optional<LayerInfo> info, LoadLayerLocked(id));
    if (info) out.push_back(std::move(*info));
  }
  return out;
}

absl::StatusOr<LayerClaim> Store::ClaimLayer(std::string_view parent_chain_id, std::string_view diff_id) {
  absl::StatusOr<Digest> d = Digest::Parse(diff_id);
  if (!d.ok() || d->algorithm() != "sha256") {
    return absl::InvalidArgumentError(StrCat("layer diff_id \"", diff_id, "\" is not a sha256 digest"));
  }
  if (!parent_chain_id.empty() && !Digest::Parse(parent_chain_id).ok()) {
    return absl::InvalidArgumentError(StrCat("parent chain id \"", parent_chain_id, "\" is not a digest"));
  }
  LayerClaim claim(this, ChainId(parent_chain_id, diff_id), std::string(parent_chain_id),
                   std::string(diff_id));
  {
    // One claim per chain id in this process; the layer's lock file orders processes.
    absl::MutexLock l(&mu_);
    while (in_progress_.contains(claim.chain_id_)) claims_cv_.Wait(&mu_);
    in_progress_.insert(claim.chain_id_);
  }
  claim.owner_ = true;  // released by ~LayerClaim unless the layer turns out to be stored
  auto lease_if_stored = [&]() -> absl::StatusOr<bool> {
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(std::optional<LayerInfo> info, LoadLayerLocked(claim.chain_id_));
    if (!info) return false;
    leases_[claim.chain_id_]++;
    claim.lease_.emplace(LayerLease(this, std::move(*info), claim.lock_));
    return true;
  };
  using Mode = sys::OfdLock::Mode;
  std::string lock_path = LayerLockPath(claim.chain_id_);
  // Shared first: a stored layer is leased without waiting for anyone but a deleter.
  ASSIGN_OR_RETURN(std::optional<sys::OfdLock> shared, sys::OfdLock::Acquire(lock_path, Mode::kShared, true));
  claim.lock_ = std::make_shared<sys::OfdLock>(*std::move(shared));
  ASSIGN_OR_RETURN(bool stored, lease_if_stored());
  if (!stored) {
    // Not stored: take it exclusive (waiting for another process applying it), then look again.
    claim.lock_.reset();
    ASSIGN_OR_RETURN(std::optional<sys::OfdLock> exclusive,
                     sys::OfdLock::Acquire(lock_path, Mode::kExclusive, true));
    claim.lock_ = std::make_shared<sys::OfdLock>(*std::move(exclusive));
    ASSIGN_OR_RETURN(stored, lease_if_stored());
    if (stored) RETURN_IF_ERROR(claim.lock_->Downgrade());
  }
  if (stored) {
    claim.owner_ = false;
    EndClaim(claim.chain_id_);
  }
  return claim;
}

absl::StatusOr<LayerLease> Store::ApplyClaimed(LayerClaim& claim, ByteSource& tar,
                                               const ApplyOptions& options) {
  // A store already below its reserve takes nothing more, not even a small layer.
  RETURN_IF_ERROR(space_->Claim(0, options.reserve));
  std::string staging = Path(StrCat("tmp/layer-", RandomHexId().substr(0, 16)));
  if (::mkdir(staging.c_str(), 0700) != 0) return ErrnoError("mkdir", staging);
  absl::Cleanup remove_staging = [&] {
    absl::Status s = RemoveAll(staging);
    if (!s.ok()) log::Warn(kComponent, "cannot remove layer staging directory", {{"error", s}});
  };
  std::string diff = staging + "/diff";
  // Explicit mode: the daemon's umask must not reach the root of a layer (it becomes the container's /).
  if (::mkdir(diff.c_str(), 0755) != 0 || ::chmod(diff.c_str(), 0755) != 0) return ErrnoError("create", diff);
  UniqueFd fd(::open(diff.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoError("open", diff);
  ApplyControl control;
  control.cancelled = options.cancelled;
  control.deadline = options.deadline;
  control.image = options.image;
  control.space = space_.get();
  control.reserve = options.reserve;
  absl::StatusOr<ApplyResult> r = ApplyLayerTar(tar, fd.get(), options.limits, control);
  if (!r.ok()) return Annotate(r.status(), StrCat("apply layer ", claim.diff_id_, " into ", diff));
  if (r->diff_id != claim.diff_id_) {
    return MarkLayerRefused(
        absl::DataLossError(StrCat("layer ", claim.diff_id_, ": the uncompressed stream (", r->tar_size,
                                   " bytes) has digest ", r->diff_id, "; nothing stored")));
  }
  std::string manifest = SerializeManifest(r->manifest);
  RETURN_IF_ERROR(WriteFileAtomic(StrCat(staging, "/", kContentManifest), manifest, 0600));
  ASSIGN_OR_RETURN(sys::DiskUsage usage, sys::DirectoryUsage(diff));
  if (options_.sync_layers && ::syncfs(fd.get()) != 0) return ErrnoError("syncfs", diff);
  return CommitLayer(claim, staging, *r, usage.bytes, usage.inodes, Digest::Sha256Of(manifest).ToString());
}

// The database row is the commit point: the directory is renamed into place and linked first, so a
// crash before the commit leaves only unrecorded files, which Recover removes.
absl::StatusOr<LayerLease> Store::CommitLayer(const LayerClaim& claim, const std::string& staging,
                                              const ApplyResult& result, uint64_t disk_bytes, uint64_t inodes,
                                              const std::string& manifest_digest) {
  std::vector<std::string> trash;
  absl::Cleanup empty = [&] { EmptyTrash(trash); };
  absl::MutexLock l(&mu_);
  std::string final_dir = LayerDir(claim.chain_id_);
  RETURN_IF_ERROR(MoveToTrash(final_dir, &trash));  // an unrecorded leftover of an earlier attempt
  if (::rename(staging.c_str(), final_dir.c_str()) != 0)
    return ErrnoError(StrCat("rename ", staging, " to"), final_dir);
  std::string link;
  for (int attempt = 0;; ++attempt) {
    link = NewLinkId();
    std::string target = StrCat("../", HexOf(claim.chain_id_), "/diff");
    if (::symlink(target.c_str(), Path(StrCat("overlay/l/", link)).c_str()) == 0) break;
    if (errno != EEXIST || attempt > 8) {
      absl::Status s = ErrnoError("create layer link", Path(StrCat("overlay/l/", link)));
      (void)MoveToTrash(final_dir, &trash);
      return s;
    }
  }
  absl::Cleanup undo = [&] {
    ::unlink(Path(StrCat("overlay/l/", link)).c_str());
    (void)MoveToTrash(final_dir, &trash);
  };
  RETURN_IF_ERROR(FsyncDir(Path("overlay")));
  RETURN_IF_ERROR(FsyncDir(Path("overlay/l")));
  ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
  ASSIGN_OR_RETURN(Statement ins, db_->Prepare("INSERT INTO layers(chain_id, diff_id, parent, link, tar_size,"
                                               " disk_bytes, inodes, content_manifest, created)"
                                               " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  ins.Bind(1, claim.chain_id_).Bind(2, claim.diff_id_).Bind(3, claim.parent_).Bind(4, link);
  ins.Bind(5, static_cast<int64_t>(result.tar_size)).Bind(6, static_cast<int64_t>(disk_bytes));
  ins.Bind(7, static_cast<int64_t>(inodes)).Bind(8, manifest_digest).Bind(9, RealtimeNow());
  RETURN_IF_ERROR(ins.Run());
  RETURN_IF_ERROR(tx->Commit());
  std::move(undo).Cancel();
  // Atomically from exclusive to shared: the new layer is leased before any other process can see
  // it unused and delete it.
  RETURN_IF_ERROR(claim.lock_->Downgrade());
  ASSIGN_OR_RETURN(std::optional<LayerInfo> info, LoadLayerLocked(claim.chain_id_));
  if (!info) return absl::InternalError(StrCat("layer ", claim.chain_id_, " vanished after its commit"));
  leases_[claim.chain_id_]++;
  log::Debug(kComponent, "layer stored",
             {{"chain_id", claim.chain_id_}, {"bytes", result.tar_size}, {"entries", result.entries}});
  return LayerLease(this, std::move(*info), claim.lock_);
}

absl::StatusOr<Store::LayerFiles> Store::DeleteUnusedLayersLocked(
    const std::vector<std::string>& candidates) {
  absl::flat_hash_set<std::string> wanted(candidates.begin(), candidates.end());
  deleting_.clear();  // locks left by a deletion whose transaction did not commit
  LayerFiles unused;
  {
    ASSIGN_OR_RETURN(Statement q,
                     db_->Prepare("SELECT chain_id, link FROM layers l WHERE NOT EXISTS"
                                  " (SELECT 1 FROM image_layers il WHERE il.chain_id = l.chain_id)"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      std::string chain = q.Text(0);
      if (!wanted.empty() && !wanted.contains(chain)) continue;
      if (leases_.contains(chain) || in_progress_.contains(chain)) continue;
      // Another process's lease or claim holds the lock file shared or exclusive.
      ASSIGN_OR_RETURN(std::optional<sys::OfdLock> lock,
                       sys::OfdLock::Acquire(LayerLockPath(chain), sys::OfdLock::Mode::kExclusive, false));
      if (!lock) continue;
      deleting_.insert_or_assign(chain, *std::move(lock));
      unused.emplace_back(chain, q.Text(1));
    }
  }
  for (const auto& [chain, link] : unused) {
    ASSIGN_OR_RETURN(Statement del, db_->Prepare("DELETE FROM layers WHERE chain_id = ?"));
    RETURN_IF_ERROR(del.Bind(1, chain).Run());
  }
  return unused;
}

void Store::DiscardLayerFilesLocked(const LayerFiles& layers, std::vector<std::string>* trash) {
  for (const auto& [chain, link] : layers) {
    ::unlink(Path(StrCat("overlay/l/", link)).c_str());
    absl::Status s = MoveToTrash(LayerDir(chain), trash);
    if (!s.ok())
      log::Warn(kComponent, "cannot move deleted layer away; removed at the next open", {{"error", s}});
    log::Debug(kComponent, "layer deleted", {{"chain_id", chain}});
    if (auto it = deleting_.find(chain); it != deleting_.end()) {
      it->second.UnlinkWhileHeld();
      deleting_.erase(it);
    }
  }
}

absl::StatusOr<std::vector<std::string>> Store::GarbageCollect() {
  std::vector<std::string> trash, freed;
  {
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
    ASSIGN_OR_RETURN(LayerFiles unused, DeleteUnusedLayersLocked({}));
    RETURN_IF_ERROR(tx->Commit());
    DiscardLayerFilesLocked(unused, &trash);
    RETURN_IF_ERROR(RemoveUnreferencedBlobsLocked());
    for (auto& [chain, link] : unused) freed.push_back(chain);
  }
  EmptyTrash(trash);
  return freed;
}

absl::Status Store::RemoveUnreferencedBlobsLocked() {
  // Inside a write transaction: another process's PutImage writes its blobs inside its own, so a blob
  // written but not yet referenced is never seen here.
  ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
  absl::flat_hash_set<std::string> referenced;
  ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT DISTINCT digest FROM blobs"));
  for (;;) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    referenced.insert(HexOf(q.Text(0)));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, ListDir(Path("blobs/sha256")));
  for (const std::string& f : files) {
    if (referenced.contains(f)) continue;
    std::string p = Path(StrCat("blobs/sha256/", f));
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return ErrnoError("unlink", p);
  }
  return absl::OkStatus();
}

absl::StatusOr<Usage> Store::ImageStoreUsage() {
  absl::MutexLock l(&mu_);
  Usage u;
  {
    ASSIGN_OR_RETURN(Statement q,
                     db_->Prepare("SELECT COALESCE(SUM(disk_bytes), 0), COALESCE(SUM(inodes), 0),"
                                  " COUNT(*) FROM layers"));
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      u.bytes = static_cast<uint64_t>(q.Int(0));
      // Each layer also has its directory, content manifest and link.
      u.inodes = static_cast<uint64_t>(q.Int(1)) + 3 * static_cast<uint64_t>(q.Int(2));
    }
  }
  std::vector<std::string> files = {Path("storage.db"), Path("storage.db-wal"), Path("storage.db-shm")};
  {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT DISTINCT digest FROM blobs"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      files.push_back(BlobPath(q.Text(0)));
    }
  }
  for (const std::string& f : files) {
    struct stat st;
    if (::lstat(f.c_str(), &st) != 0) continue;
    u.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    u.inodes++;
  }
  return u;
}

}  // namespace cricket::storage
