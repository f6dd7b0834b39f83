#include "lib/runtime/container_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::runtime {
namespace {

constexpr char kStateFile[] = "state.json";

nlohmann::json ToJson(const ContainerRecord& r) {
  nlohmann::json j;
  j["id"] = r.id;
  j["bundle"] = r.bundle;
  j["rootfs"] = r.rootfs;
  j["created"] = r.created_ns;
  j["annotations"] = r.annotations;
  j["initPid"] = r.init.pid;
  j["initStartTime"] = r.init.start_time;
  j["setupDone"] = r.created;
  j["started"] = r.started;
  j["cgroupDriver"] = r.cgroup_driver;
  j["cgroupsPath"] = r.cgroups_path;
  j["sharesHostMountNs"] = r.shares_host_mount_ns;
  j["privatePidNs"] = r.private_pid_ns;
  return j;
}

absl::StatusOr<ContainerRecord> FromJson(const nlohmann::json& j, const std::string& path) {
  ContainerRecord r;
  try {
    r.id = j.at("id").get<std::string>();
    r.bundle = j.value("bundle", "");
    r.rootfs = j.value("rootfs", "");
    r.created_ns = j.value("created", int64_t{0});
    r.annotations = j.value("annotations", std::map<std::string, std::string>{});
    r.init.pid = j.value("initPid", 0);
    r.init.start_time = j.value("initStartTime", uint64_t{0});
    r.created = j.value("setupDone", false);
    r.started = j.value("started", false);
    r.cgroup_driver = j.value("cgroupDriver", "cgroupfs");
    r.cgroups_path = j.value("cgroupsPath", "");
    r.shares_host_mount_ns = j.value("sharesHostMountNs", false);
    r.private_pid_ns = j.value("privatePidNs", false);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(StrCat(path, ": ", e.what()));
  }
  return r;
}

}  // namespace

absl::Status ReplaceFile(const std::string& path, std::string_view content, mode_t mode) {
  std::string tmp = StrCat(DirName(path), "/.", BaseName(path), ".tmp-", ::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return ErrnoError("create", tmp);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("write", tmp);
    off += static_cast<size_t>(n);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename", tmp);
  return absl::OkStatus();
}
constexpr char kSpecFile[] = "config.json";

absl::Status ValidateContainerId(std::string_view id) {
  if (id.empty() || id.size() > 1024 || id == "." || id == "..") {
    return absl::InvalidArgumentError(StrCat("invalid container id \"", id, "\""));
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '+' || c == '-' || c == '.';
    if (!ok) return absl::InvalidArgumentError(StrCat("invalid container id \"", id, "\""));
  }
  return absl::OkStatus();
}

absl::Status ContainerStore::CreateDir(const std::string& id) const {
  RETURN_IF_ERROR(ValidateContainerId(id));
  RETURN_IF_ERROR(MkdirAll(root_, 0700));
  std::string dir = Dir(id);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(StrCat("container with id ", id, " already exists"));
    return ErrnoError("create state directory", dir);
  }
  return absl::OkStatus();
}

absl::Status ContainerStore::RemoveDir(const std::string& id) const {
  RETURN_IF_ERROR(ValidateContainerId(id));
  return RemoveAll(Dir(id));
}

absl::Status ContainerStore::Save(const ContainerRecord& record) const {
  return ReplaceFile(Dir(record.id) + "/" + kStateFile, ToJson(record).dump(), 0600);
}

absl::StatusOr<ContainerRecord> ContainerStore::Load(const std::string& id) const {
  RETURN_IF_ERROR(ValidateContainerId(id));
  std::string path = Dir(id) + "/" + kStateFile;
  auto text = ReadFile(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status()))
      return absl::NotFoundError(StrCat("container ", id, " does not exist"));
    return text.status();
  }
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(*text, path));
  return FromJson(j, path);
}

absl::Status ContainerStore::SaveSpec(const std::string& id, const oci::Spec& spec) const {
  return ReplaceFile(Dir(id) + "/" + kSpecFile, oci::SerializeSpec(spec), 0600);
}

absl::StatusOr<oci::Spec> ContainerStore::LoadSpec(const std::string& id) const {
  std::string path = Dir(id) + "/" + kSpecFile;
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return oci::ParseSpecText(text, path);
}

absl::StatusOr<std::vector<std::string>> ContainerStore::List() const {
  if (!PathExists(root_)) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(auto names, ListDir(root_));
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (ValidateContainerId(n).ok() && PathExists(Dir(n) + "/" + kStateFile)) out.push_back(n);
  }
  return out;
}

absl::StatusOr<UniqueFd> ContainerStore::Lock(const std::string& id) const {
  RETURN_IF_ERROR(ValidateContainerId(id));
  std::string dir = Dir(id);
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("container ", id, " does not exist"));
    return ErrnoError("open", dir);
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoError("lock", dir);
  }
  // The directory may have been removed by a delete that held the lock before us.
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || st.st_nlink == 0) {
    return absl::NotFoundError(StrCat("container ", id, " does not exist"));
  }
  return fd;
}

}  // namespace cricket::runtime
