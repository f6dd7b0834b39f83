#include "lib/runtime/cgroups/cgroup_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"

namespace cricket::cgroups {

absl::Status WriteCgroupFile(const std::string& dir, std::string_view file, std::string_view value) {
  return WriteKernelFile(StrCat(dir, "/", file), value);
}

absl::StatusOr<std::string> ReadCgroupFile(const std::string& dir, std::string_view file) {
  return ReadFile(StrCat(dir, "/", file), 16 << 20);
}

absl::StatusOr<std::string> ReadCgroupValue(const std::string& dir, std::string_view file) {
  ASSIGN_OR_RETURN(std::string text, ReadCgroupFile(dir, file));
  return std::string(TrimSpace(text));
}

absl::StatusOr<std::optional<uint64_t>> ReadCgroupUint(const std::string& dir, std::string_view file) {
  ASSIGN_OR_RETURN(std::string text, ReadCgroupValue(dir, file));
  if (text == "max") return std::optional<uint64_t>();
  std::optional<uint64_t> v = ParseUint64(text);
  if (!v) {
    return absl::InternalError(StrCat("read ", dir, "/", file, ": \"", text, "\" is not a number"));
  }
  return v;
}

bool CgroupFileExists(const std::string& dir, std::string_view file) {
  std::string path = StrCat(dir, "/", file);
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::map<std::string, uint64_t> ParseFlatKeyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  for (std::string_view line : Split(text, '\n')) {
    auto kv = SplitOnce(TrimSpace(line), ' ');
    if (!kv) continue;
    std::optional<uint64_t> v = ParseUint64(TrimSpace(kv->second));
    if (v) out[std::string(kv->first)] = *v;
  }
  return out;
}

absl::StatusOr<std::vector<int>> ParsePidList(std::string_view text, std::string_view what) {
  std::vector<int> pids;
  for (std::string_view line : Split(text, '\n')) {
    line = TrimSpace(line);
    if (line.empty()) continue;
    std::optional<int64_t> v = ParseInt64(line);
    if (!v || *v <= 0) return absl::InternalError(StrCat("parse ", what, ": bad pid \"", line, "\""));
    pids.push_back(static_cast<int>(*v));
  }
  return pids;
}

std::vector<std::string> ParseControllerList(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view part : Split(TrimSpace(text), ' ')) {
    part = TrimSpace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

}  // namespace cricket::cgroups
