#include "lib/cdi/registry.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::cdi {

namespace {

constexpr std::string_view kComponent = "cdi";
// A spec file larger than this is refused rather than read.
constexpr size_t kMaxSpecBytes = 4 << 20;

bool IsSpecFileName(std::string_view name) {
  return (name.ends_with(".json") || name.ends_with(".yaml")) && !name.starts_with(".");
}

int64_t Nanos(const struct timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

}  // namespace

// The directories themselves (their mtime changes when a file is added, removed or renamed) and every
// spec file in them (in-place edits change only the file).
std::vector<Registry::FileState> Registry::Snapshot(const std::vector<std::string>& dirs) {
  std::vector<FileState> out;
  auto add = [&out](const std::string& path) {
    struct stat st;
    FileState f;
    f.path = path;
    if (::stat(path.c_str(), &st) == 0) {
      f.dev = st.st_dev;
      f.ino = st.st_ino;
      f.size = static_cast<uint64_t>(st.st_size);
      f.mtime_ns = Nanos(st.st_mtim);
      f.ctime_ns = Nanos(st.st_ctim);
    }
    out.push_back(std::move(f));
  };
  for (const std::string& dir : dirs) {
    add(dir);
    auto names = ListDir(dir);
    if (!names.ok()) continue;
    std::sort(names->begin(), names->end());
    for (const std::string& n : *names) {
      if (IsSpecFileName(n)) add(JoinPath(dir, n));
    }
  }
  return out;
}

void Registry::RescanLocked(const std::vector<std::string>& dirs, std::vector<FileState> snapshot) {
  specs_.clear();
  errors_.clear();
  devices_.clear();
  for (size_t priority = 0; priority < dirs.size(); ++priority) {
    const std::string& dir = dirs[priority];
    auto names = ListDir(dir);
    if (!names.ok()) {
      if (!absl::IsNotFound(names.status())) errors_[dir] = std::string(names.status().message());
      continue;
    }
    std::sort(names->begin(), names->end());
    for (const std::string& n : *names) {
      if (!IsSpecFileName(n)) continue;
      std::string path = JoinPath(dir, n);
      struct stat st;
      if (::stat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
      auto text = ReadFile(path, kMaxSpecBytes);
      absl::StatusOr<Spec> spec = text.ok() ? ParseSpec(*text, path) : Annotate(text.status(), path);
      if (!spec.ok()) {
        errors_[path] = std::string(spec.status().message());
        log::Warn(kComponent, "spec file not loaded", {{"file", path}, {"error", spec.status()}});
        continue;
      }
      specs_[path] = *std::move(spec);
    }
  }
  // Index devices: a later directory overrides an earlier one; two files of one directory conflict.
  for (size_t priority = 0; priority < dirs.size(); ++priority) {
    std::string prefix = CleanPath(dirs[priority]) + "/";
    for (const auto& [path, spec] : specs_) {
      if (!path.starts_with(prefix) || path.find('/', prefix.size()) != std::string::npos) continue;
      for (const Device& d : spec.devices) {
        std::string name = StrCat(spec.kind, "=", d.name);
        auto [it, inserted] = devices_.try_emplace(name);
        Entry& e = it->second;
        if (!inserted && e.priority == static_cast<int>(priority)) {
          e.conflict = path;
          continue;
        }
        e = Entry{path, static_cast<int>(priority), &spec, &d, ""};
      }
    }
  }
  dirs_ = dirs;
  snapshot_ = std::move(snapshot);
  scanned_ = true;
  log::Debug(kComponent, "spec directories scanned",
             {{"specs", static_cast<int64_t>(specs_.size())},
              {"devices", static_cast<int64_t>(devices_.size())},
              {"errors", static_cast<int64_t>(errors_.size())}});
}

absl::StatusOr<Resolution> Registry::Resolve(const std::vector<std::string>& dirs,
                                             const std::vector<std::string>& names) {
  Resolution out;
  std::vector<QualifiedName> wanted;
  for (const std::string& n : names) {
    ASSIGN_OR_RETURN(QualifiedName q, ParseQualifiedName(n));
    std::string canonical = q.ToString();
    if (std::find(out.devices.begin(), out.devices.end(), canonical) != out.devices.end()) continue;
    out.devices.push_back(canonical);
  }
  if (out.devices.empty()) return out;
  std::vector<std::string> clean_dirs;
  for (const std::string& d : dirs) clean_dirs.push_back(CleanPath(d));
  std::vector<FileState> snapshot = Snapshot(clean_dirs);
  absl::MutexLock l(&mu_);
  if (!scanned_ || dirs_ != clean_dirs || snapshot_ != snapshot)
    RescanLocked(clean_dirs, std::move(snapshot));
  std::set<std::string> specs_applied;
  for (const std::string& name : out.devices) {
    auto it = devices_.find(name);
    if (it == devices_.end()) {
      std::string msg =
          StrCat("CDI device \"", name, "\" is not defined by any spec file in ", Join(clean_dirs, ", "));
      if (!errors_.empty()) {
        std::vector<std::string> errs;
        for (const auto& [file, err] : errors_) errs.push_back(err);
        StrAppend(&msg, "; spec files that failed to load: ", Join(errs, "; "));
      }
      return absl::FailedPreconditionError(msg);
    }
    const Entry& e = it->second;
    if (!e.conflict.empty()) {
      return absl::FailedPreconditionError(
          StrCat("CDI device \"", name, "\" is defined by both ", e.path, " and ", e.conflict));
    }
    if (specs_applied.insert(e.path).second && !e.spec->edits.empty()) {
      out.edits.push_back({e.path, e.spec->edits});
    }
    out.edits.push_back({StrCat(name, " (", e.path, ")"), e.device->edits});
  }
  return out;
}

std::map<std::string, std::string> Registry::SpecErrors() {
  absl::MutexLock l(&mu_);
  return errors_;
}

}  // namespace cricket::cdi
