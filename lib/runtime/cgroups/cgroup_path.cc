#include "lib/runtime/cgroups/cgroup_path.h"

#include <vector>

#include "lib/common/path_util.h"
#include "lib/common/strings.h"

namespace cricket::cgroups {
namespace {

bool HasBadChars(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::StatusOr<CgroupPath> ParseCgroupfsPath(std::string_view value, std::string_view container_id) {
  if (value.empty()) {
    if (container_id.empty() || container_id.find('/') != std::string_view::npos || container_id == "." ||
        container_id == "..") {
      return absl::InvalidArgumentError(
          StrCat("cgroupsPath is empty and container id \"", container_id, "\" cannot name a cgroup"));
    }
    return CgroupPath{std::string(container_id), true};
  }
  if (HasBadChars(value)) return absl::InvalidArgumentError("cgroupsPath contains control characters");
  for (std::string_view part : Split(value, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(StrCat("cgroupsPath \"", value, "\" must not contain \"..\""));
    }
  }
  std::vector<std::string_view> colon = Split(value, ':');
  if (colon.size() == 3 && value.front() != '/' && colon[0].ends_with(".slice")) {
    return absl::InvalidArgumentError(StrCat("cgroupsPath \"", value,
                                             "\" is a systemd slice:prefix:name path but the cgroup driver "
                                             "is cgroupfs"));
  }
  CgroupPath p;
  p.relative = value.front() != '/';
  p.path = CleanPath(value);
  if (p.path == "/" || p.path == ".") {
    return absl::InvalidArgumentError(
        StrCat("cgroupsPath \"", value, "\" names the caller's or the root cgroup"));
  }
  return p;
}

absl::StatusOr<CgroupPath> ParseSystemdPath(std::string_view value, std::string_view container_id) {
  std::string owned = value.empty() ? StrCat("system.slice:cricket:", container_id) : std::string(value);
  std::vector<std::string_view> parts = Split(owned, ':');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(StrCat("cgroupsPath \"", value,
                                             "\" is not of the form slice:prefix:name required by the "
                                             "systemd cgroup driver"));
  }
  std::string_view slice = parts[0].empty() ? std::string_view("system.slice") : parts[0];
  std::string_view prefix = parts[1];
  std::string_view name = parts[2];
  if (name.empty()) return absl::InvalidArgumentError(StrCat("cgroupsPath \"", value, "\": empty unit name"));
  for (std::string_view s : {prefix, name}) {
    if (s.find('/') != std::string_view::npos || s == "." || s == ".." || HasBadChars(s)) {
      return absl::InvalidArgumentError(
          StrCat("cgroupsPath \"", value, "\": bad unit name part \"", s, "\""));
    }
  }
  absl::StatusOr<std::string> slice_path = ExpandSlice(slice);
  if (!slice_path.ok()) {
    return absl::InvalidArgumentError(StrCat("cgroupsPath \"", value, "\": ", slice_path.status().message()));
  }
  std::string unit;
  if (name.ends_with(".slice")) {
    unit = std::string(name);
  } else {
    unit = prefix.empty() ? StrCat(name, ".scope") : StrCat(prefix, "-", name, ".scope");
  }
  return CgroupPath{JoinPath(*slice_path, unit), false};
}

}  // namespace

absl::StatusOr<Driver> ParseDriver(std::string_view name) {
  if (name == "cgroupfs") return Driver::kCgroupfs;
  if (name == "systemd") return Driver::kSystemd;
  return absl::InvalidArgumentError(
      StrCat("unknown cgroup driver \"", name, "\" (want cgroupfs or systemd)"));
}

std::string_view DriverName(Driver driver) { return driver == Driver::kSystemd ? "systemd" : "cgroupfs"; }

absl::StatusOr<CgroupPath> ParseCgroupsPath(Driver driver, std::string_view cgroups_path,
                                            std::string_view container_id) {
  if (driver == Driver::kSystemd) return ParseSystemdPath(cgroups_path, container_id);
  return ParseCgroupfsPath(cgroups_path, container_id);
}

absl::StatusOr<std::string> ExpandSlice(std::string_view slice) {
  constexpr std::string_view kSuffix = ".slice";
  if (!slice.ends_with(kSuffix) || slice.size() == kSuffix.size()) {
    return absl::InvalidArgumentError(StrCat("slice \"", slice, "\" does not end in .slice"));
  }
  if (slice.find('/') != std::string_view::npos || HasBadChars(slice)) {
    return absl::InvalidArgumentError(StrCat("slice \"", slice, "\" contains a bad character"));
  }
  if (slice == "-.slice") return std::string("/");
  std::string_view base = slice.substr(0, slice.size() - kSuffix.size());
  std::string path;
  std::string prefix;
  for (std::string_view part : Split(base, '-')) {
    if (part.empty()) {
      return absl::InvalidArgumentError(
          StrCat("slice \"", slice, "\" has an empty dash-separated component"));
    }
    if (!prefix.empty()) prefix.push_back('-');
    prefix.append(part);
    StrAppend(&path, "/", prefix, kSuffix);
  }
  return path;
}

std::string CgroupIn(const Hierarchy& h, const CgroupPath& path) {
  if (path.relative) return JoinPath(h.own_cgroup.empty() ? "/" : h.own_cgroup, path.path);
  return CleanPath(path.path);
}

std::string DirIn(const Hierarchy& h, const CgroupPath& path) {
  std::string cg = CgroupIn(h, path);
  return cg == "/" ? h.mount_point : StrCat(h.mount_point, cg);
}

}  // namespace cricket::cgroups
