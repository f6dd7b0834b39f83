#include "lib/common/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"

namespace cricket {

absl::StatusOr<std::string> ReadFile(const std::string& path, size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoError("open", path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read", path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > limit) {
      return absl::ResourceExhaustedError(StrCat("read ", path, ": larger than ", limit, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {
absl::Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}
}  // namespace

namespace {
absl::Status WriteByRename(const std::string& path, std::string_view content, mode_t mode, bool durable) {
  std::string dir = DirName(path);
  std::string tmp = StrCat(dir, "/.", BaseName(path), ".tmp-XXXXXX");
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return ErrnoError("create temporary file for", path);
  bool done = false;
  struct Unlinker {
    const std::string& p;
    bool& done;
    ~Unlinker() {
      if (!done) ::unlink(p.c_str());
    }
  } unlinker{tmp, done};
  if (::fchmod(fd.get(), mode) != 0) return ErrnoError("chmod", tmp);
  RETURN_IF_ERROR(WriteAll(fd.get(), content, tmp));
  if (durable && ::fsync(fd.get()) != 0) return ErrnoError("fsync", tmp);
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename over", path);
  done = true;
  if (!durable) return absl::OkStatus();
  UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirfd && ::fsync(dirfd.get()) != 0) return ErrnoError("fsync directory", dir);
  return absl::OkStatus();
}
}  // namespace

absl::Status WriteFileAtomic(const std::string& path, std::string_view content, mode_t mode) {
  return WriteByRename(path, content, mode, /*durable=*/true);
}

absl::Status WriteFileReplacing(const std::string& path, std::string_view content, mode_t mode) {
  return WriteByRename(path, content, mode, /*durable=*/false);
}

absl::Status WriteKernelFile(const std::string& path, std::string_view value) {
  auto failed = [&] { return ErrnoError(StrCat("write \"", TrimSpace(value), "\" to"), path); };
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return failed();
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return failed();
  if (static_cast<size_t>(n) != value.size()) {
    return absl::InternalError(StrCat("write \"", TrimSpace(value), "\" to ", path, ": short write"));
  }
  return absl::OkStatus();
}

absl::Status MkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("mkdir: empty path");
  std::string clean = CleanPath(path);
  struct stat st;
  if (::stat(clean.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(StrCat("mkdir ", clean, ": exists and is not a directory"));
  }
  if (clean != "/" && clean != ".") {
    RETURN_IF_ERROR(MkdirAll(DirName(clean), mode));
  }
  if (::mkdir(clean.c_str(), mode) != 0 && errno != EEXIST) return ErrnoError("mkdir", clean);
  return absl::OkStatus();
}

namespace {

// Removes the contents of the directory open at `dirfd` (device `dev`), then nothing else.
absl::Status RemoveContents(int dirfd, dev_t dev, const std::string& shown) {
  int dupfd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) return ErrnoError("dup", shown);
  DIR* d = ::fdopendir(dupfd);
  if (d == nullptr) {
    ::close(dupfd);
    return ErrnoError("opendir", shown);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    std::string child = StrCat(shown, "/", name);
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return ErrnoError("stat", child);
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {
        return absl::FailedPreconditionError(
            StrCat("remove ", child, ": is a mount point (another filesystem); not descending"));
      }
      UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return ErrnoError("open", child);
      RETURN_IF_ERROR(RemoveContents(sub.get(), dev, child));
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        return ErrnoError("rmdir", child);
      }
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return ErrnoError("unlink", child);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RemoveAll(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError("stat", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("unlink", path);
    return absl::OkStatus();
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoError("open", path);
  RETURN_IF_ERROR(RemoveContents(fd.get(), st.st_dev, path));
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("rmdir", path);
  return absl::OkStatus();
}

absl::Status RemoveAllAt(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError("stat", name);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return ErrnoError("unlink", name);
    return absl::OkStatus();
  }
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoError("open", name);
  RETURN_IF_ERROR(RemoveContents(fd.get(), st.st_dev, name));
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return ErrnoError("rmdir", name);
  return absl::OkStatus();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return ErrnoError("opendir", path);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace cricket
