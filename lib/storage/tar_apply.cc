#include "lib/storage/tar_apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/common/unique_fd.h"

namespace cricket::storage {
namespace {

constexpr size_t kReadBuffer = 1 << 20;
constexpr uint64_t kFileSlack = 4096;  // the unused part of a file's last block
constexpr uint64_t kResolveInLayer =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";

// openat2 confined to the layer: no symlinks at all, no "..", no mount crossing. -1/errno on failure;
// ENOSYS on kernels before 5.6.
int OpenInLayer(int root, const std::string& path, int flags) {
  struct open_how how;
  std::memset(&how, 0, sizeof(how));
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = kResolveInLayer;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, path.c_str(), &how, sizeof(how));
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

struct Meta {
  uint32_t uid = 0;
  uint32_t gid = 0;
  mode_t perm = 0;
  struct timespec mtime = {};
  std::map<std::string, std::string> xattrs;
};

struct DeferredTime {
  std::string path;
  struct timespec mtime;
};

std::pair<std::string, std::string> SplitParent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// A bound of ApplyLimits crossed: InvalidArgument naming the key and its value; a layer bound is a
// property of the layer (see kLayerRefusedPayload), an image bound is not.
absl::Status OverBound(std::string_view what, std::string_view key, uint64_t limit, bool layer_bound) {
  absl::Status s = absl::InvalidArgumentError(StrCat(what, " is over ", key, " (", limit, ")"));
  return layer_bound ? MarkLayerRefused(std::move(s)) : s;
}

absl::Status PwriteAll(int fd, const char* data, size_t len, off_t off, const std::string& what) {
  while (len > 0) {
    ssize_t n = ::pwrite(fd, data, len, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", what);
    }
    data += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
  return absl::OkStatus();
}

bool XattrApplied(std::string_view name) {
  return name.starts_with("user.") || name == "security.capability";
}

class Applier {
 public:
  Applier(ByteSource& source, int root, const ApplyLimits& limits, const ApplyControl& control, Hasher hasher)
      : source_(source),
        root_(root),
        limits_(limits),
        control_(control),
        stream_hash_(std::move(hasher)),
        buf_(kReadBuffer) {}

  absl::StatusOr<ApplyResult> Run();

 private:
  static la_ssize_t ReadCallback(struct archive* a, void* ctx, const void** out);
  absl::StatusOr<size_t> ReadSource();
  absl::Status ArchiveError(std::string_view what);
  absl::Status CheckStop() const;
  absl::Status CountEntry();
  absl::Status CountSparse(uint64_t declared);
  absl::Status ClaimSpace(uint64_t bytes);
  absl::Status WriteFileData(int fd, struct archive_entry* e, const std::string& path, uint64_t declared,
                             ManifestEntry* rec);
  absl::Status InitRoot();
  absl::Status Entry(struct archive_entry* e);
  absl::Status TypedEntry(struct archive_entry* e, int pfd, const std::string& path, const std::string& name,
                          const Meta& meta);
  absl::StatusOr<Meta> ReadMeta(struct archive_entry* e);
  absl::StatusOr<int> ParentFd(const std::string& parent);
  absl::StatusOr<UniqueFd> WalkCreating(const std::string& parent);
  absl::Status ClearName(int pfd, const std::string& name, const std::string& path);
  absl::Status ApplyMeta(int fd, const std::string& path, const Meta& meta, ManifestEntry* rec);
  absl::Status Directory(int pfd, const std::string& path, const std::string& name, const Meta& meta);
  absl::Status RegularFile(struct archive_entry* e, int pfd, const std::string& path, const std::string& name,
                           const Meta& meta);
  absl::Status Symlink(struct archive_entry* e, int pfd, const std::string& path, const std::string& name,
                       const Meta& meta);
  absl::Status Special(struct archive_entry* e, int pfd, const std::string& path, const std::string& name,
                       const Meta& meta);
  absl::Status Hardlink(struct archive_entry* e, int pfd, const std::string& path, const std::string& name);
  absl::Status Whiteout(int pfd, const std::string& parent, const std::string& name, const Meta& meta);
  absl::Status Opaque(int pfd, const std::string& parent);
  absl::Status FinishDirectories();
  absl::Status Drain();

  ByteSource& source_;
  int root_;
  ApplyLimits limits_;
  const ApplyControl& control_;
  Hasher stream_hash_;
  std::vector<char> buf_;
  uint64_t stream_bytes_ = 0;
  uint64_t claimed_bytes_ = 0;  // admitted by the space guard so far
  absl::Status source_error_;
  struct archive* archive_ = nullptr;
  std::string raw_name_;  // the current entry's name as in the tar, for errors
  ApplyResult result_;
  std::vector<DeferredTime> deferred_;
  std::string cached_parent_;
  UniqueFd cached_fd_;
  bool cache_stale_ = false;
};

absl::Status Refuse(std::string_view raw, std::string_view why) {
  return MarkLayerRefused(absl::InvalidArgumentError(StrCat("layer entry \"", raw, "\": ", why)));
}

la_ssize_t Applier::ReadCallback(struct archive* a, void* ctx, const void** out) {
  auto* self = static_cast<Applier*>(ctx);
  absl::StatusOr<size_t> n = self->ReadSource();
  if (!n.ok()) {
    self->source_error_ = n.status();
    archive_set_error(a, EIO, "layer stream read failed");
    return -1;
  }
  *out = self->buf_.data();
  return static_cast<la_ssize_t>(*n);
}

absl::StatusOr<size_t> Applier::ReadSource() {
  RETURN_IF_ERROR(CheckStop());
  ASSIGN_OR_RETURN(size_t n, source_.Read(buf_.data(), buf_.size()));
  stream_hash_.Update(buf_.data(), n);
  stream_bytes_ += n;
  if (stream_bytes_ > limits_.max_layer_size) {
    return OverBound(StrCat("the layer's uncompressed size (more than ", stream_bytes_, " bytes)"),
                     "max_layer_size", limits_.max_layer_size, true);
  }
  if (control_.image != nullptr) {
    uint64_t total = control_.image->bytes.fetch_add(n) + n;
    if (total > limits_.max_image_size) {
      return OverBound(StrCat("the uncompressed size of the image's layers (more than ", total, " bytes)"),
                       "max_image_size", limits_.max_image_size, false);
    }
  }
  return n;
}

absl::Status Applier::CheckStop() const {
  if (control_.cancelled != nullptr && control_.cancelled->load(std::memory_order_relaxed)) {
    return absl::CancelledError("layer extraction stopped: the pull was cancelled");
  }
  if (control_.deadline != 0 && MonotonicNow() >= control_.deadline) {
    return absl::DeadlineExceededError("layer extraction stopped: the pull's deadline passed");
  }
  return absl::OkStatus();
}

absl::Status Applier::CountEntry() {
  RETURN_IF_ERROR(CheckStop());
  if (++result_.entries > limits_.max_layer_entries) {
    return OverBound(StrCat("the layer's entry count (", result_.entries, ")"), "max_layer_entries",
                     limits_.max_layer_entries, true);
  }
  if (control_.image != nullptr) {
    uint64_t total = control_.image->entries.fetch_add(1) + 1;
    if (total > limits_.max_image_entries) {
      return OverBound(StrCat("the entry count of the image's layers (", total, ")"), "max_image_entries",
                       limits_.max_image_entries, false);
    }
  }
  return absl::OkStatus();
}

absl::Status Applier::CountSparse(uint64_t declared) {
  result_.sparse_size += declared;
  if (result_.sparse_size > limits_.max_layer_sparse_size) {
    return OverBound(
        StrCat("the total size declared by the layer's sparse files (", result_.sparse_size, ")"),
        "max_layer_sparse_size", limits_.max_layer_sparse_size, true);
  }
  if (control_.image != nullptr) {
    uint64_t total = control_.image->sparse.fetch_add(declared) + declared;
    if (total > limits_.max_image_sparse_size) {
      return OverBound(StrCat("the total size declared by the image's sparse files (", total, ")"),
                       "max_image_sparse_size", limits_.max_image_sparse_size, false);
    }
  }
  return absl::OkStatus();
}

// Admits file data about to be written. A refusal records how far the layer got: it needs at least
// that much space.
absl::Status Applier::ClaimSpace(uint64_t bytes) {
  if (control_.space == nullptr) return absl::OkStatus();
  absl::Status s = control_.space->Claim(bytes, control_.reserve);
  if (!s.ok()) {
    s.SetPayload(kLayerNeedsBytesPayload, absl::Cord(StrCat(claimed_bytes_ + bytes)));
    return s;
  }
  claimed_bytes_ += bytes;
  return absl::OkStatus();
}

absl::Status Applier::ArchiveError(std::string_view what) {
  if (!source_error_.ok()) return source_error_;
  const char* msg = archive_error_string(archive_);
  return absl::DataLossError(StrCat("layer tar: ", what, ": ", msg ? msg : "unknown error"));
}

absl::Status Applier::InitRoot() {
  struct stat st;
  if (::fstat(root_, &st) != 0) return ErrnoError("stat", "layer directory");
  ManifestEntry root;
  root.type = 'd';
  root.mode = st.st_mode & 07777;
  root.uid = st.st_uid;
  root.gid = st.st_gid;
  result_.manifest["."] = root;
  return absl::OkStatus();
}

absl::StatusOr<ApplyResult> Applier::Run() {
  RETURN_IF_ERROR(InitRoot());
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
  if (!a) return absl::ResourceExhaustedError("archive_read_new failed");
  archive_ = a.get();
  archive_read_support_format_tar(archive_);
  if (archive_read_open(archive_, this, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
    return ArchiveError("open");
  }
  for (;;) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(archive_, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return ArchiveError("read header");
    RETURN_IF_ERROR(CountEntry());
    RETURN_IF_ERROR(Entry(e));
  }
  RETURN_IF_ERROR(Drain());
  RETURN_IF_ERROR(FinishDirectories());
  result_.tar_size = stream_bytes_;
  result_.diff_id = stream_hash_.Finish();
  return std::move(result_);
}

// Everything after the end-of-archive marker (tar padding) is part of the diff_id too.
absl::Status Applier::Drain() {
  for (;;) {
    absl::StatusOr<size_t> n = ReadSource();
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::OkStatus();
  }
}

const char* NameOf(const char* mbs, const char* utf8) { return mbs != nullptr ? mbs : utf8; }

absl::StatusOr<Meta> Applier::ReadMeta(struct archive_entry* e) {
  Meta m;
  la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  if (uid < 0 || uid >= 0xFFFFFFFFLL || gid < 0 || gid >= 0xFFFFFFFFLL) {
    return Refuse(raw_name_, StrCat("owner ", uid, ":", gid, " is out of range"));
  }
  m.uid = static_cast<uint32_t>(uid);
  m.gid = static_cast<uint32_t>(gid);
  m.perm = archive_entry_perm(e) & 07777;
  m.mtime.tv_sec = archive_entry_mtime(e);
  m.mtime.tv_nsec = archive_entry_mtime_nsec(e);
  if (m.mtime.tv_nsec < 0 || m.mtime.tv_nsec >= 1000000000) m.mtime.tv_nsec = 0;
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  std::set<std::string> skipped;  // pax tars may carry an xattr twice (SCHILY. and LIBARCHIVE. keys)
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (name == nullptr) continue;
    if (!XattrApplied(name) || size > XATTR_SIZE_MAX) {
      skipped.insert(name);
      continue;
    }
    m.xattrs[name] = std::string(static_cast<const char*>(value), size);
  }
  result_.skipped_xattrs += skipped.size();
  return m;
}

absl::Status Applier::Entry(struct archive_entry* e) {
  const char* raw = NameOf(archive_entry_pathname(e), archive_entry_pathname_utf8(e));
  if (raw == nullptr) return absl::DataLossError("layer tar: entry without a name");
  raw_name_ = raw;
  absl::StatusOr<std::string> clean = CleanEntryPath(raw_name_);
  if (!clean.ok()) return Refuse(raw_name_, ToStd(clean.status().message()));
  ASSIGN_OR_RETURN(Meta meta, ReadMeta(e));
  const std::string& path = *clean;
  if (path == ".") {
    if (archive_entry_filetype(e) != AE_IFDIR || archive_entry_hardlink(e) != nullptr) {
      return Refuse(raw_name_, "the layer root must be a directory");
    }
    ManifestEntry& rec = result_.manifest["."];
    RETURN_IF_ERROR(ApplyMeta(root_, ".", meta, &rec));
    deferred_.push_back({".", meta.mtime});
    return absl::OkStatus();
  }
  auto [parent, name] = SplitParent(path);
  ASSIGN_OR_RETURN(int pfd, ParentFd(parent));
  absl::Status s;
  if (name.starts_with(kWhiteoutPrefix)) {
    if (name == kOpaqueMarker) {
      s = Opaque(pfd, parent);
    } else if (name.starts_with(kWhiteoutMetaPrefix)) {
      s = absl::OkStatus();  // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not part of the layer
    } else {
      s = Whiteout(pfd, parent, name.substr(kWhiteoutPrefix.size()), meta);
    }
  } else if (archive_entry_hardlink(e) != nullptr || archive_entry_hardlink_utf8(e) != nullptr) {
    s = Hardlink(e, pfd, path, name);
  } else {
    s = TypedEntry(e, pfd, path, name, meta);
  }
  if (!s.ok() && s.code() != absl::StatusCode::kInvalidArgument && s.code() != absl::StatusCode::kCancelled &&
      s.code() != absl::StatusCode::kDeadlineExceeded) {
    return Annotate(s, StrCat("layer entry \"", raw_name_, "\""));
  }
  return s;
}

absl::Status Applier::TypedEntry(struct archive_entry* e, int pfd, const std::string& path,
                                 const std::string& name, const Meta& meta) {
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
      return Directory(pfd, path, name, meta);
    case AE_IFREG:
      return RegularFile(e, pfd, path, name, meta);
    case AE_IFLNK:
      return Symlink(e, pfd, path, name, meta);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return Special(e, pfd, path, name, meta);
    default:
      return Refuse(raw_name_, StrCat("unsupported entry type 0", absl::StrCat(archive_entry_filetype(e))));
  }
}

absl::StatusOr<int> Applier::ParentFd(const std::string& parent) {
  if (parent.empty()) return root_;
  if (cache_stale_) {
    cached_fd_.reset();
    cached_parent_.clear();
    cache_stale_ = false;
  }
  if (cached_fd_ && cached_parent_ == parent) return cached_fd_.get();
  int fd = OpenInLayer(root_, parent, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    cached_fd_.reset(fd);
  } else if (errno == ELOOP) {
    return Refuse(raw_name_, "its path goes through a symlink (it would be written outside the layer)");
  } else if (errno == ENOTDIR) {
    return Refuse(raw_name_, "a parent of it is not a directory");
  } else if (errno == ENOENT || errno == ENOSYS) {
    ASSIGN_OR_RETURN(cached_fd_, WalkCreating(parent));
  } else {
    return ErrnoError("open parent directory of layer entry", raw_name_);
  }
  cached_parent_ = parent;
  return cached_fd_.get();
}

// Opens `parent` one component at a time with O_NOFOLLOW, creating missing directories (0755, owned by
// the store) as tar extraction does for parents the archive does not list.
absl::StatusOr<UniqueFd> Applier::WalkCreating(const std::string& parent) {
  UniqueFd cur;
  std::string sofar;
  for (std::string_view comp : Split(parent, '/')) {
    int at = cur ? cur.get() : root_;
    std::string c(comp);
    sofar = sofar.empty() ? c : StrCat(sofar, "/", c);
    int fd = ::openat(at, c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(at, c.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", sofar);
      fd = ::openat(at, c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        if (::fchmod(fd, 0755) != 0) return ErrnoError("chmod", sofar);
        ManifestEntry rec;
        rec.type = 'd';
        rec.mode = 0755;
        rec.uid = ::geteuid();
        rec.gid = ::getegid();
        result_.manifest[sofar] = rec;
      }
    }
    if (fd < 0) {
      if (errno == ELOOP)
        return Refuse(raw_name_, StrCat("its path goes through the symlink \"", sofar, "\""));
      if (errno == ENOTDIR) return Refuse(raw_name_, StrCat("\"", sofar, "\" is not a directory"));
      return ErrnoError("open", sofar);
    }
    cur.reset(fd);
  }
  return cur;
}

// Removes whatever exists at `name` (a later tar entry replaces an earlier one; a directory goes with
// its subtree) and forgets it in the manifest.
absl::Status Applier::ClearName(int pfd, const std::string& name, const std::string& path) {
  struct stat st;
  if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError("stat", path);
  }
  if (S_ISDIR(st.st_mode)) {
    RETURN_IF_ERROR(RemoveAllAt(pfd, name));
    auto& m = result_.manifest;
    m.erase(m.lower_bound(path + "/"), m.lower_bound(path + "0"));  // '0' follows '/'
    cache_stale_ = true;
  } else if (::unlinkat(pfd, name.c_str(), 0) != 0) {
    return ErrnoError("unlink", path);
  }
  result_.manifest.erase(path);
  return absl::OkStatus();
}

// Owner first, then mode (chown clears setuid/setgid), then xattrs (chown clears security.capability).
absl::Status Applier::ApplyMeta(int fd, const std::string& path, const Meta& meta, ManifestEntry* rec) {
  if (::fchown(fd, meta.uid, meta.gid) != 0) return ErrnoError("chown", path);
  if (::fchmod(fd, meta.perm) != 0) return ErrnoError("chmod", path);
  for (const auto& [name, value] : meta.xattrs) {
    if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) != 0) {
      return ErrnoError(StrCat("set xattr ", name, " on"), path);
    }
    rec->xattrs[name] = Digest::Sha256Of(value).hex();
  }
  rec->mode = meta.perm;
  rec->uid = meta.uid;
  rec->gid = meta.gid;
  return absl::OkStatus();
}

absl::Status Applier::Directory(int pfd, const std::string& path, const std::string& name, const Meta& meta) {
  struct stat st;
  bool is_dir = ::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
  ManifestEntry rec;
  rec.type = 'd';
  if (is_dir) {
    auto old = result_.manifest.find(path);
    if (old != result_.manifest.end() && old->second.xattrs.contains(kOpaqueXattr)) {
      rec.xattrs[kOpaqueXattr] = old->second.xattrs[kOpaqueXattr];
    }
  } else {
    RETURN_IF_ERROR(ClearName(pfd, name, path));
    if (::mkdirat(pfd, name.c_str(), 0700) != 0) return ErrnoError("mkdir", path);
  }
  UniqueFd fd(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoError("open", path);
  RETURN_IF_ERROR(ApplyMeta(fd.get(), path, meta, &rec));
  result_.manifest[path] = std::move(rec);
  deferred_.push_back({path, meta.mtime});
  return absl::OkStatus();
}

absl::Status Applier::RegularFile(struct archive_entry* e, int pfd, const std::string& path,
                                  const std::string& name, const Meta& meta) {
  la_int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
  if (declared < 0 || static_cast<uint64_t>(declared) > limits_.max_file_size) {
    return Refuse(raw_name_, StrCat("size ", declared, " exceeds the limit of ", limits_.max_file_size));
  }
  RETURN_IF_ERROR(ClearName(pfd, name, path));
  UniqueFd fd(::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return ErrnoError("create", path);
  ManifestEntry rec;
  rec.type = 'f';
  rec.size = static_cast<uint64_t>(declared);
  RETURN_IF_ERROR(WriteFileData(fd.get(), e, path, rec.size, &rec));
  RETURN_IF_ERROR(ApplyMeta(fd.get(), path, meta, &rec));
  struct timespec times[2] = {meta.mtime, meta.mtime};
  if (::futimens(fd.get(), times) != 0) return ErrnoError("set times of", path);
  result_.manifest[path] = std::move(rec);
  return absl::OkStatus();
}

// Writes the entry's data blocks at their offsets and hashes the content into rec->digest. A sparse
// entry's holes are skipped (the file keeps them as holes) and hashed per run of zero blocks; its
// declared size counts against the sparse bounds. Every block is admitted by the space guard first,
// with one filesystem block of slack per file for its partly used last block.
absl::Status Applier::WriteFileData(int fd, struct archive_entry* e, const std::string& path,
                                    uint64_t declared, ManifestEntry* rec) {
  bool sparse = archive_entry_sparse_count(e) > 0;
  std::optional<SparseContentHasher> holes;
  std::optional<Hasher> plain;
  if (sparse) {
    RETURN_IF_ERROR(CountSparse(declared));
    holes.emplace();
  } else {
    ASSIGN_OR_RETURN(Hasher h, Hasher::Create("sha256"));
    plain.emplace(std::move(h));
  }
  if (declared > 0) RETURN_IF_ERROR(ClaimSpace(kFileSlack));
  uint64_t pos = 0;
  for (;;) {
    const void* data;
    size_t len;
    la_int64_t off;
    int r = archive_read_data_block(archive_, &data, &len, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return ArchiveError(StrCat("read data of \"", raw_name_, "\""));
    uint64_t uoff = static_cast<uint64_t>(off);
    if (off < 0 || uoff < pos || uoff + len > declared || (!sparse && uoff != pos)) {
      return absl::DataLossError(StrCat("layer tar: entry \"", raw_name_, "\": data block out of order"));
    }
    RETURN_IF_ERROR(ClaimSpace(len));
    RETURN_IF_ERROR(PwriteAll(fd, static_cast<const char*>(data), len, static_cast<off_t>(off), path));
    if (sparse) {
      holes->Zeros(uoff - pos);
      holes->Data(static_cast<const char*>(data), len);
    } else {
      plain->Update(data, len);
    }
    pos = uoff + len;
  }
  if (pos < declared) {
    if (!sparse) return absl::DataLossError(StrCat("layer tar: entry \"", raw_name_, "\": data is short"));
    holes->Zeros(declared - pos);
    if (::ftruncate(fd, static_cast<off_t>(declared)) != 0) return ErrnoError("truncate", path);
  }
  rec->digest = sparse ? holes->Finish() : plain->Finish();
  return absl::OkStatus();
}

absl::Status Applier::Symlink(struct archive_entry* e, int pfd, const std::string& path,
                              const std::string& name, const Meta& meta) {
  const char* target = NameOf(archive_entry_symlink(e), archive_entry_symlink_utf8(e));
  if (target == nullptr || *target == '\0') return Refuse(raw_name_, "symlink without a target");
  if (std::strlen(target) >= PATH_MAX) return Refuse(raw_name_, "symlink target is too long");
  RETURN_IF_ERROR(ClearName(pfd, name, path));
  if (::symlinkat(target, pfd, name.c_str()) != 0) return ErrnoError("symlink", path);
  if (::fchownat(pfd, name.c_str(), meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError("chown", path);
  }
  struct timespec times[2] = {meta.mtime, meta.mtime};
  if (::utimensat(pfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoError("set times of", path);
  result_.skipped_xattrs += meta.xattrs.size();  // user.* xattrs cannot be set on symlinks
  ManifestEntry rec;
  rec.type = 'l';
  rec.mode = 0777;
  rec.uid = meta.uid;
  rec.gid = meta.gid;
  rec.target = target;
  result_.manifest[path] = std::move(rec);
  return absl::OkStatus();
}

// Device nodes and fifos. mknodat creates the node, so fchmodat below cannot follow a symlink: the
// staging directory is private to this apply.
absl::Status Applier::Special(struct archive_entry* e, int pfd, const std::string& path,
                              const std::string& name, const Meta& meta) {
  mode_t type = archive_entry_filetype(e);
  dev_t dev = 0;
  ManifestEntry rec;
  rec.type = 'p';
  if (type != AE_IFIFO) {
    rec.rdev_major = static_cast<uint32_t>(archive_entry_rdevmajor(e));
    rec.rdev_minor = static_cast<uint32_t>(archive_entry_rdevminor(e));
    dev = makedev(rec.rdev_major, rec.rdev_minor);
    bool whiteout_form = type == AE_IFCHR && dev == makedev(0, 0);
    rec.type = whiteout_form ? 'w' : (type == AE_IFCHR ? 'c' : 'b');
    if (!limits_.allow_device_nodes && !whiteout_form) {
      return Refuse(raw_name_, "device nodes are not allowed in layers by this store's configuration");
    }
  }
  RETURN_IF_ERROR(ClearName(pfd, name, path));
  if (::mknodat(pfd, name.c_str(), (type == AE_IFIFO ? S_IFIFO : type) | (meta.perm & 0777), dev) != 0) {
    return ErrnoError("mknod", path);
  }
  if (::fchownat(pfd, name.c_str(), meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError("chown", path);
  }
  if (::fchmodat(pfd, name.c_str(), meta.perm, 0) != 0) return ErrnoError("chmod", path);
  struct timespec times[2] = {meta.mtime, meta.mtime};
  if (::utimensat(pfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoError("set times of", path);
  result_.skipped_xattrs += meta.xattrs.size();
  rec.mode = meta.perm;
  rec.uid = meta.uid;
  rec.gid = meta.gid;
  result_.manifest[path] = std::move(rec);
  return absl::OkStatus();
}

absl::Status Applier::Hardlink(struct archive_entry* e, int pfd, const std::string& path,
                               const std::string& name) {
  std::string raw_target = NameOf(archive_entry_hardlink(e), archive_entry_hardlink_utf8(e));
  absl::StatusOr<std::string> target = CleanEntryPath(raw_target);
  if (!target.ok()) {
    return Refuse(raw_name_,
                  StrCat("hardlink target \"", raw_target, "\": ", ToStd(target.status().message())));
  }
  auto it = result_.manifest.find(*target);
  if (it == result_.manifest.end()) {
    return Refuse(raw_name_,
                  StrCat("hardlink target \"", raw_target, "\" is not an earlier entry of this layer"));
  }
  if (it->second.type == 'd' || it->second.type == 'w' || *target == path) {
    return Refuse(raw_name_, StrCat("hardlink target \"", raw_target, "\" cannot be linked"));
  }
  ManifestEntry rec = it->second;
  auto [tparent, tname] = SplitParent(*target);
  UniqueFd tpfd;
  if (!tparent.empty()) {
    tpfd.reset(OpenInLayer(root_, tparent, O_RDONLY | O_DIRECTORY));
    if (!tpfd) {
      if (errno == ELOOP) return Refuse(raw_name_, "hardlink target path goes through a symlink");
      return ErrnoError("open parent of hardlink target", raw_target);
    }
  }
  RETURN_IF_ERROR(ClearName(pfd, name, path));
  if (::linkat(tpfd ? tpfd.get() : root_, tname.c_str(), pfd, name.c_str(), 0) != 0) {
    return ErrnoError(StrCat("link ", raw_target, " to"), path);
  }
  result_.manifest[path] = std::move(rec);
  return absl::OkStatus();
}

absl::Status Applier::Whiteout(int pfd, const std::string& parent, const std::string& name,
                               const Meta& meta) {
  if (name.empty() || name == "." || name == "..") {
    return Refuse(raw_name_, "whiteout of an invalid name (it would escape its directory)");
  }
  std::string path = parent.empty() ? name : StrCat(parent, "/", name);
  RETURN_IF_ERROR(ClearName(pfd, name, path));
  if (::mknodat(pfd, name.c_str(), S_IFCHR, makedev(0, 0)) != 0) return ErrnoError("create whiteout", path);
  if (::fchownat(pfd, name.c_str(), meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError("chown", path);
  }
  ManifestEntry rec;
  rec.type = 'w';
  rec.uid = meta.uid;
  rec.gid = meta.gid;
  result_.manifest[path] = std::move(rec);
  return absl::OkStatus();
}

absl::Status Applier::Opaque(int pfd, const std::string& parent) {
  std::string dir = parent.empty() ? "." : parent;
  if (::fsetxattr(pfd, kOpaqueXattr, "y", 1, 0) != 0) return ErrnoError("mark opaque", dir);
  result_.manifest[dir].xattrs[kOpaqueXattr] = Digest::Sha256Of("y").hex();
  return absl::OkStatus();
}

// Directory times last: creating entries inside a directory changes its mtime. A directory replaced by
// a later entry is skipped (openat2 refuses the symlink, or it is gone).
absl::Status Applier::FinishDirectories() {
  cached_fd_.reset();
  for (const DeferredTime& d : deferred_) {
    UniqueFd fd(d.path == "." ? ::fcntl(root_, F_DUPFD_CLOEXEC, 0)
                              : OpenInLayer(root_, d.path, O_RDONLY | O_DIRECTORY));
    if (!fd) continue;
    struct timespec times[2] = {d.mtime, d.mtime};
    if (::futimens(fd.get(), times) != 0) return ErrnoError("set times of", d.path);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> CleanEntryPath(std::string_view raw) {
  if (raw.empty()) return absl::InvalidArgumentError("empty name");
  if (raw.front() == '/') return absl::InvalidArgumentError("absolute path");
  if (raw.size() >= PATH_MAX) return absl::InvalidArgumentError("name is too long");
  std::string out;
  for (std::string_view comp : Split(raw, '/')) {
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return absl::InvalidArgumentError("\"..\" path component");
    if (comp.size() > NAME_MAX) return absl::InvalidArgumentError("a path component is too long");
    if (!out.empty()) out.push_back('/');
    out.append(comp);
  }
  if (out.empty()) return std::string(".");
  return out;
}

absl::StatusOr<ApplyResult> ApplyLayerTar(ByteSource& source, int root_fd, const ApplyLimits& limits,
                                          const ApplyControl& control) {
  ASSIGN_OR_RETURN(Hasher hasher, Hasher::Create("sha256"));
  Applier applier(source, root_fd, limits, control, std::move(hasher));
  return applier.Run();
}

absl::Status MarkLayerRefused(absl::Status status) {
  if (!status.ok()) status.SetPayload(kLayerRefusedPayload, absl::Cord("1"));
  return status;
}

bool IsLayerRefused(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kLayerRefusedPayload).has_value();
}

std::optional<uint64_t> LayerNeedsBytes(const absl::Status& status) {
  auto p = status.GetPayload(kLayerNeedsBytesPayload);
  if (!p) return std::nullopt;
  return ParseUint64(std::string(*p));
}

}  // namespace cricket::storage
