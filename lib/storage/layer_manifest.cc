#include "lib/storage/layer_manifest.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <set>

#include "absl/strings/str_format.h"
#include "lib/common/digest.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"

namespace cricket::storage {
namespace {

constexpr std::string_view kHeader = "cricket-layer-manifest 1";

bool NeedsEscape(unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '%' || c == ',' || c == '='; }

std::string Escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (NeedsEscape(c)) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

absl::StatusOr<std::string> Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return absl::InvalidArgumentError("layer manifest: truncated %-escape");
    }
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("layer manifest: bad %-escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

template <class T>
absl::StatusOr<T> ParseNum(std::string_view s, int base, std::string_view what) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return absl::InvalidArgumentError(StrCat("layer manifest: bad ", what, " \"", s, "\""));
  }
  return v;
}

absl::StatusOr<std::pair<std::string, ManifestEntry>> ParseLine(std::string_view line) {
  std::vector<std::string_view> f = Split(line, '\t');
  if (f.size() != 8 || f[1].size() != 1) {
    return absl::InvalidArgumentError(StrCat("layer manifest: malformed line \"", line, "\""));
  }
  ManifestEntry e;
  ASSIGN_OR_RETURN(std::string path, Unescape(f[0]));
  e.type = f[1][0];
  ASSIGN_OR_RETURN(e.mode, ParseNum<uint32_t>(f[2], 8, "mode"));
  ASSIGN_OR_RETURN(e.uid, ParseNum<uint32_t>(f[3], 10, "uid"));
  ASSIGN_OR_RETURN(e.gid, ParseNum<uint32_t>(f[4], 10, "gid"));
  ASSIGN_OR_RETURN(e.size, ParseNum<uint64_t>(f[5], 10, "size"));
  switch (e.type) {
    case 'f':
      e.digest = std::string(f[6]);
      break;
    case 'l': {
      ASSIGN_OR_RETURN(e.target, Unescape(f[6]));
      break;
    }
    case 'c':
    case 'b': {
      auto mm = SplitOnce(f[6], ':');
      if (!mm) return absl::InvalidArgumentError(StrCat("layer manifest: bad device \"", f[6], "\""));
      ASSIGN_OR_RETURN(e.rdev_major, ParseNum<uint32_t>(mm->first, 10, "major"));
      ASSIGN_OR_RETURN(e.rdev_minor, ParseNum<uint32_t>(mm->second, 10, "minor"));
      break;
    }
    case 'd':
    case 'p':
    case 'w':
      break;
    default:
      return absl::InvalidArgumentError(StrCat("layer manifest: unknown type '", f[1], "'"));
  }
  if (f[7] != "-") {
    for (std::string_view kv : Split(f[7], ',')) {
      auto p = SplitOnce(kv, '=');
      if (!p) return absl::InvalidArgumentError(StrCat("layer manifest: bad xattr \"", kv, "\""));
      ASSIGN_OR_RETURN(std::string name, Unescape(p->first));
      e.xattrs[name] = std::string(p->second);
    }
  }
  return std::make_pair(std::move(path), std::move(e));
}

char TypeOf(const struct stat& st) {
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
      return 'd';
    case S_IFREG:
      return 'f';
    case S_IFLNK:
      return 'l';
    case S_IFCHR:
      return st.st_rdev == makedev(0, 0) ? 'w' : 'c';
    case S_IFBLK:
      return 'b';
    case S_IFIFO:
      return 'p';
    default:
      return '?';
  }
}

bool AllZero(const char* p, size_t n) { return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0); }

// The sparse digest of an open file: its holes (SEEK_HOLE) are fed as zeros without reading them.
absl::StatusOr<std::string> HashSparseFd(int fd, uint64_t size, const std::string& shown) {
  SparseContentHasher h;
  std::string buf(1 << 16, '\0');
  uint64_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 && errno != ENXIO) return ErrnoError("seek data in", shown);
    uint64_t start = data < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(data), size);
    h.Zeros(start - pos);
    pos = start;
    if (pos >= size) break;
    off_t hole = ::lseek(fd, static_cast<off_t>(pos), SEEK_HOLE);
    if (hole < 0) return ErrnoError("seek hole in", shown);
    uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    while (pos < end) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - pos));
      ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("read", shown);
      if (n == 0) return absl::DataLossError(StrCat(shown, ": shorter than its size"));
      h.Data(buf.data(), static_cast<size_t>(n));
      pos += static_cast<uint64_t>(n);
    }
  }
  return h.Finish();
}

absl::StatusOr<std::string> HashFd(int fd, const std::string& shown) {
  ASSIGN_OR_RETURN(Hasher h, Hasher::Create("sha256"));
  std::string buf(1 << 16, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read", shown);
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  return h.Finish();
}

// Reads an xattr of `name` inside the directory `dirfd` without following a symlink.
absl::StatusOr<std::string> GetXattr(int dirfd, const std::string& name, const std::string& attr) {
  std::string path = StrCat("/proc/self/fd/", dirfd, "/", name);
  ssize_t n = ::lgetxattr(path.c_str(), attr.c_str(), nullptr, 0);
  if (n < 0) return ErrnoError("getxattr", attr);
  std::string value(static_cast<size_t>(n), '\0');
  n = ::lgetxattr(path.c_str(), attr.c_str(), value.data(), value.size());
  if (n < 0) return ErrnoError("getxattr", attr);
  value.resize(static_cast<size_t>(n));
  return value;
}

struct Verifier {
  const LayerManifest& manifest;
  size_t max_problems;
  std::vector<std::string> problems;
  std::set<std::string> seen;

  bool Full() const { return problems.size() >= max_problems; }
  void Problem(std::string p) {
    if (!Full()) problems.push_back(std::move(p));
  }

  absl::Status CheckEntry(int dirfd, const std::string& name, const std::string& path,
                          const struct stat& st) {
    seen.insert(path);
    auto it = manifest.find(path);
    if (it == manifest.end()) {
      Problem(StrCat(path, ": not in the layer manifest"));
      return absl::OkStatus();
    }
    const ManifestEntry& want = it->second;
    char type = TypeOf(st);
    if (type != want.type) {
      Problem(
          StrCat(path, ": type '", std::string(1, type), "', recorded '", std::string(1, want.type), "'"));
      return absl::OkStatus();
    }
    if (type != 'l' && (st.st_mode & 07777) != want.mode) {
      Problem(StrCat(path, ": mode ", absl::StrFormat("%04o", st.st_mode & 07777), ", recorded ",
                     absl::StrFormat("%04o", want.mode)));
    }
    if (st.st_uid != want.uid || st.st_gid != want.gid) {
      Problem(StrCat(path, ": owner ", st.st_uid, ":", st.st_gid, ", recorded ", want.uid, ":", want.gid));
    }
    if (type == 'f') {
      if (static_cast<uint64_t>(st.st_size) != want.size) {
        Problem(StrCat(path, ": size ", st.st_size, ", recorded ", want.size));
      } else {
        UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) return ErrnoError("open", path);
        ASSIGN_OR_RETURN(std::string digest, want.digest.starts_with(SparseContentHasher::kPrefix)
                                                 ? HashSparseFd(fd.get(), want.size, path)
                                                 : HashFd(fd.get(), path));
        if (digest != want.digest) Problem(StrCat(path, ": content ", digest, ", recorded ", want.digest));
      }
    } else if (type == 'l') {
      std::string target(PATH_MAX, '\0');
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoError("readlink", path);
      target.resize(static_cast<size_t>(n));
      if (target != want.target) Problem(StrCat(path, ": symlink target changed"));
    } else if (type == 'c' || type == 'b') {
      if (major(st.st_rdev) != want.rdev_major || minor(st.st_rdev) != want.rdev_minor) {
        Problem(StrCat(path, ": device numbers changed"));
      }
    }
    for (const auto& [attr, hex] : want.xattrs) {
      auto value = GetXattr(dirfd, name, attr);
      if (!value.ok() || Digest::Sha256Of(*value).hex() != hex) {
        Problem(StrCat(path, ": xattr ", attr, " missing or changed"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Walk(int dirfd, const std::string& prefix) {
    std::vector<std::string> names;
    {
      // A new open file description: a dup would share (and leave at the end) the read position.
      int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dup < 0) return ErrnoError("open", prefix);
      DIR* d = ::fdopendir(dup);
      if (d == nullptr) {
        ::close(dup);
        return ErrnoError("opendir", prefix);
      }
      while (struct dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
      }
      ::closedir(d);
    }
    for (const std::string& name : names) {
      if (Full()) break;
      std::string path = prefix == "." ? name : StrCat(prefix, "/", name);
      struct stat st;
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoError("stat", path);
      RETURN_IF_ERROR(CheckEntry(dirfd, name, path, st));
      if (S_ISDIR(st.st_mode)) {
        UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) return ErrnoError("open", path);
        RETURN_IF_ERROR(Walk(sub.get(), path));
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

SparseContentHasher::SparseContentHasher() : hasher_(*Hasher::Create("sha256")) { partial_.reserve(kBlock); }

void SparseContentHasher::EndZeroRun() {
  if (zero_run_ == 0) return;
  char rec[9] = {'Z'};
  for (int i = 0; i < 8; ++i) rec[1 + i] = static_cast<char>((zero_run_ >> (8 * i)) & 0xff);
  hasher_.Update(rec, sizeof(rec));
  zero_run_ = 0;
}

void SparseContentHasher::Block(const char* data, size_t len) {
  if (AllZero(data, len)) {
    ++zero_run_;
    return;
  }
  EndZeroRun();
  hasher_.Update("D", 1);
  hasher_.Update(data, len);
}

void SparseContentHasher::Data(const char* data, size_t len) {
  if (!partial_.empty()) {
    size_t take = std::min(len, kBlock - partial_.size());
    partial_.append(data, take);
    data += take;
    len -= take;
    if (partial_.size() < kBlock) return;
    Block(partial_.data(), partial_.size());
    partial_.clear();
  }
  for (; len >= kBlock; data += kBlock, len -= kBlock) Block(data, kBlock);
  partial_.append(data, len);
}

void SparseContentHasher::Zeros(uint64_t len) {
  if (!partial_.empty()) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(len, kBlock - partial_.size()));
    partial_.append(take, '\0');
    len -= take;
    if (partial_.size() < kBlock) return;
    Block(partial_.data(), partial_.size());
    partial_.clear();
  }
  zero_run_ += len / kBlock;
  partial_.append(static_cast<size_t>(len % kBlock), '\0');
}

std::string SparseContentHasher::Finish() {
  if (!partial_.empty()) Block(partial_.data(), partial_.size());
  partial_.clear();
  EndZeroRun();
  std::string d = hasher_.Finish();  // "sha256:<hex>"
  return StrCat(kPrefix, d.substr(d.find(':') + 1));
}

std::string SerializeManifest(const LayerManifest& manifest) {
  std::string out(kHeader);
  out.push_back('\n');
  for (const auto& [path, e] : manifest) {
    std::string extra = "-";
    if (e.type == 'f') {
      extra = e.digest;
    } else if (e.type == 'l') {
      extra = Escape(e.target);
    } else if (e.type == 'c' || e.type == 'b') {
      extra = StrCat(e.rdev_major, ":", e.rdev_minor);
    }
    std::string xattrs;
    for (const auto& [name, hex] : e.xattrs) {
      if (!xattrs.empty()) xattrs.push_back(',');
      StrAppend(&xattrs, Escape(name), "=", hex);
    }
    if (xattrs.empty()) xattrs.push_back('-');
    StrAppend(&out, Escape(path), "\t", std::string_view(&e.type, 1), "\t", absl::StrFormat("%o", e.mode),
              "\t", e.uid, "\t", e.gid, "\t", e.size, "\t", extra, "\t", xattrs, "\n");
  }
  return out;
}

absl::StatusOr<LayerManifest> ParseManifest(std::string_view text) {
  std::vector<std::string_view> lines = Split(text, '\n');
  if (lines.empty() || lines[0] != kHeader) {
    return absl::InvalidArgumentError("layer manifest: missing or unknown header");
  }
  if (lines.back() != "") return absl::InvalidArgumentError("layer manifest: truncated (no final newline)");
  LayerManifest out;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    ASSIGN_OR_RETURN(auto entry, ParseLine(lines[i]));
    out.emplace(std::move(entry.first), std::move(entry.second));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> VerifyTree(int root_fd, const LayerManifest& manifest,
                                                    size_t max_problems) {
  Verifier v{manifest, max_problems, {}, {}};
  struct stat st;
  if (::fstat(root_fd, &st) != 0) return ErrnoError("stat", "layer root");
  // The root is checked as "." inside itself, so xattrs use the same /proc/self/fd path.
  RETURN_IF_ERROR(v.CheckEntry(root_fd, ".", ".", st));
  RETURN_IF_ERROR(v.Walk(root_fd, "."));
  for (const auto& [path, e] : manifest) {
    if (v.Full()) break;
    if (!v.seen.contains(path)) v.Problem(StrCat(path, ": missing"));
  }
  return std::move(v.problems);
}

}  // namespace cricket::storage
