#include "lib/runtime/cgroups/layout.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/cgroup_fs.h"

namespace cricket::cgroups {
namespace {

// v1 subsystems the kernel has ever had; used when /proc/cgroups is not available (fake trees).
constexpr std::string_view kKnownV1Subsystems[] = {"cpuset",  "cpu",     "cpuacct", "blkio",      "memory",
                                                   "devices", "freezer", "net_cls", "perf_event", "net_prio",
                                                   "hugetlb", "pids",    "rdma",    "misc"};

std::string UnescapeMountField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      std::string_view oct = s.substr(i + 1, 3);
      if (std::all_of(oct.begin(), oct.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(static_cast<char>((oct[0] - '0') * 64 + (oct[1] - '0') * 8 + (oct[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool IsAtOrBelow(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root ||
         (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/');
}

// `own` relative to `mount_root`: "/a/b" under mount root "/a" is "/b".
std::string RelativeToMountRoot(const std::string& own, const std::string& mount_root) {
  std::string clean = CleanPath(own.empty() ? "/" : own);
  if (mount_root == "/" || mount_root.empty()) return clean;
  if (clean == mount_root) return "/";
  if (IsAtOrBelow(clean, mount_root)) return clean.substr(mount_root.size());
  return clean;
}

}  // namespace

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kV1:
      return "v1";
    case Mode::kV2:
      return "v2";
    case Mode::kHybrid:
      return "hybrid";
  }
  return "unknown";
}

bool Hierarchy::Has(std::string_view controller) const {
  return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

std::string Hierarchy::Label() const {
  if (version == 2) return "unified";
  return Join(controllers, ",");
}

absl::StatusOr<std::vector<MountInfoEntry>> ParseMountInfo(std::string_view text) {
  std::vector<MountInfoEntry> out;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (TrimSpace(line).empty()) continue;
    std::vector<std::string_view> f = Split(line, ' ');
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 7 || dash + 2 >= f.size()) {
      return absl::InvalidArgumentError(StrCat("mountinfo line ", line_no, ": malformed: ", line));
    }
    MountInfoEntry e;
    e.root = UnescapeMountField(f[3]);
    e.mount_point = UnescapeMountField(f[4]);
    e.fstype = std::string(f[dash + 1]);
    e.source = UnescapeMountField(f[dash + 2]);
    e.super_options = dash + 3 < f.size() ? std::string(f[dash + 3]) : "";
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<ProcCgroupEntry>> ParseProcCgroup(std::string_view text) {
  std::vector<ProcCgroupEntry> out;
  for (std::string_view line : Split(text, '\n')) {
    if (TrimSpace(line).empty()) continue;
    auto first = SplitOnce(line, ':');
    if (!first) return absl::InvalidArgumentError(StrCat("/proc/self/cgroup: malformed line: ", line));
    auto second = SplitOnce(first->second, ':');
    std::optional<int64_t> id = ParseInt64(first->first);
    if (!second || !id)
      return absl::InvalidArgumentError(StrCat("/proc/self/cgroup: malformed line: ", line));
    ProcCgroupEntry e;
    e.hierarchy_id = static_cast<int>(*id);
    for (std::string_view c : Split(second->first, ',')) {
      if (!c.empty()) e.controllers.emplace_back(c);
    }
    e.path = std::string(second->second);
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<KernelController>> ParseProcCgroups(std::string_view text) {
  std::vector<KernelController> out;
  for (std::string_view line : Split(text, '\n')) {
    line = TrimSpace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> f;
    for (std::string_view part : Split(line, '\t')) {
      for (std::string_view p : Split(part, ' ')) {
        if (!p.empty()) f.push_back(p);
      }
    }
    std::optional<int64_t> id = f.size() >= 4 ? ParseInt64(f[1]) : std::nullopt;
    std::optional<int64_t> enabled = f.size() >= 4 ? ParseInt64(f[3]) : std::nullopt;
    if (!id || !enabled) return absl::InvalidArgumentError(StrCat("/proc/cgroups: malformed line: ", line));
    out.push_back(KernelController{std::string(f[0]), static_cast<int>(*id), *enabled != 0});
  }
  return out;
}

absl::StatusOr<Layout> Layout::Detect(const DetectOptions& options) {
  ASSIGN_OR_RETURN(std::string mountinfo, ReadFile(options.mountinfo_path));
  ASSIGN_OR_RETURN(std::string self_cgroup, ReadFile(options.self_cgroup_path));
  // /proc/cgroups is optional (a kernel without CONFIG_PROC_FS or a restricted /proc).
  absl::StatusOr<std::string> proc_cgroups = ReadFile(options.proc_cgroups_path);
  return FromTexts(mountinfo, self_cgroup, proc_cgroups.ok() ? *proc_cgroups : "", options);
}

absl::StatusOr<Layout> Layout::FromTexts(std::string_view mountinfo, std::string_view self_cgroup,
                                         std::string_view proc_cgroups, const DetectOptions& options) {
  ASSIGN_OR_RETURN(std::vector<MountInfoEntry> mounts, ParseMountInfo(mountinfo));
  ASSIGN_OR_RETURN(std::vector<ProcCgroupEntry> own, ParseProcCgroup(self_cgroup));
  ASSIGN_OR_RETURN(std::vector<KernelController> kernel, ParseProcCgroups(proc_cgroups));
  std::set<std::string> subsystems;
  for (const KernelController& k : kernel) subsystems.insert(k.name);
  if (subsystems.empty()) subsystems.insert(std::begin(kKnownV1Subsystems), std::end(kKnownV1Subsystems));

  std::string root = CleanPath(options.root);
  std::vector<Hierarchy> v1;
  std::optional<Hierarchy> v2;
  std::set<std::string> taken;  // v1 controllers already served by an earlier mount
  for (const MountInfoEntry& m : mounts) {
    if ((m.fstype != "cgroup" && m.fstype != "cgroup2") || !IsAtOrBelow(CleanPath(m.mount_point), root)) {
      continue;
    }
    Hierarchy h;
    h.mount_point = options.path_prefix + CleanPath(m.mount_point);
    h.mount_root = CleanPath(m.root);
    if (m.fstype == "cgroup2") {
      // Prefer the mount exactly at the root (pure v2) over one below it (hybrid's "unified").
      if (v2 && CleanPath(m.mount_point) != root) continue;
      h.version = 2;
      absl::StatusOr<std::string> ctl = ReadCgroupFile(h.mount_point, "cgroup.controllers");
      if (ctl.ok()) h.controllers = ParseControllerList(*ctl);
      for (const ProcCgroupEntry& e : own) {
        if (e.hierarchy_id == 0 && e.controllers.empty())
          h.own_cgroup = RelativeToMountRoot(e.path, h.mount_root);
      }
      v2 = std::move(h);
      continue;
    }
    for (std::string_view opt : Split(m.super_options, ',')) {
      if (opt.starts_with("name=") || subsystems.count(std::string(opt))) h.controllers.emplace_back(opt);
    }
    if (h.controllers.empty() || taken.count(h.controllers.front())) continue;  // a second bind of one
    taken.insert(h.controllers.begin(), h.controllers.end());
    for (const ProcCgroupEntry& e : own) {
      if (std::find(e.controllers.begin(), e.controllers.end(), h.controllers.front()) !=
          e.controllers.end()) {
        h.own_cgroup = RelativeToMountRoot(e.path, h.mount_root);
      }
    }
    v1.push_back(std::move(h));
  }
  if (v1.empty() && !v2) {
    return absl::FailedPreconditionError(StrCat("no cgroup hierarchy is mounted at or below ", root));
  }
  if (v2) v1.push_back(std::move(*v2));
  return FromHierarchies(std::move(v1));
}

std::string Layout::Serialize() const {
  nlohmann::json out = nlohmann::json::array();
  for (const Hierarchy& h : hierarchies_) {
    out.push_back({{"version", h.version},
                   {"mount_point", h.mount_point},
                   {"mount_root", h.mount_root},
                   {"controllers", h.controllers}});
  }
  return out.dump();
}

absl::StatusOr<Layout> Layout::Deserialize(std::string_view text, std::string_view self_cgroup) {
  ASSIGN_OR_RETURN(std::vector<ProcCgroupEntry> own, ParseProcCgroup(self_cgroup));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return absl::InvalidArgumentError("cgroup layout: not a JSON array");
  std::vector<Hierarchy> hierarchies;
  for (const nlohmann::json& e : j) {
    if (!e.is_object() || !e.contains("version") || !e["version"].is_number_integer() ||
        !e.contains("mount_point") || !e["mount_point"].is_string() || !e.contains("mount_root") ||
        !e["mount_root"].is_string() || !e.contains("controllers") || !e["controllers"].is_array()) {
      return absl::InvalidArgumentError(StrCat("cgroup layout: malformed hierarchy ", e.dump()));
    }
    Hierarchy h;
    h.version = e["version"].get<int>();
    h.mount_point = e["mount_point"].get<std::string>();
    h.mount_root = e["mount_root"].get<std::string>();
    for (const nlohmann::json& c : e["controllers"]) {
      if (!c.is_string())
        return absl::InvalidArgumentError(StrCat("cgroup layout: malformed hierarchy ", e.dump()));
      h.controllers.push_back(c.get<std::string>());
    }
    // The same rules as Detect(): v2 is the "0::" line, a v1 hierarchy the line listing its first
    // controller.
    for (const ProcCgroupEntry& p : own) {
      bool mine = h.version == 2
                      ? p.hierarchy_id == 0 && p.controllers.empty()
                      : !h.controllers.empty() && std::find(p.controllers.begin(), p.controllers.end(),
                                                            h.controllers.front()) != p.controllers.end();
      if (mine) h.own_cgroup = RelativeToMountRoot(p.path, h.mount_root);
    }
    hierarchies.push_back(std::move(h));
  }
  return FromHierarchies(std::move(hierarchies));
}

absl::StatusOr<Layout> Layout::UnifiedAt(const std::string& mount_point, std::string own_cgroup) {
  Hierarchy h;
  h.version = 2;
  h.mount_point = CleanPath(mount_point);
  ASSIGN_OR_RETURN(std::string ctl, ReadCgroupFile(h.mount_point, "cgroup.controllers"));
  h.controllers = ParseControllerList(ctl);
  h.own_cgroup = CleanPath(own_cgroup.empty() ? "/" : own_cgroup);
  return FromHierarchies({std::move(h)});
}

absl::StatusOr<Layout> Layout::FromHierarchies(std::vector<Hierarchy> hierarchies) {
  if (hierarchies.empty()) return absl::InvalidArgumentError("cgroup layout: no hierarchies");
  Layout layout;
  bool has_v1 = false;
  for (size_t i = 0; i < hierarchies.size(); ++i) {
    const Hierarchy& h = hierarchies[i];
    if (h.version == 2) {
      if (layout.unified_index_ >= 0)
        return absl::InvalidArgumentError("cgroup layout: two cgroup2 hierarchies");
      layout.unified_index_ = static_cast<int>(i);
    } else if (h.version == 1) {
      has_v1 = true;
    } else {
      return absl::InvalidArgumentError(StrCat("cgroup layout: bad version ", h.version));
    }
    if (h.mount_point.empty() || h.mount_point.front() != '/') {
      return absl::InvalidArgumentError(
          StrCat("cgroup layout: mount point \"", h.mount_point, "\" is not absolute"));
    }
  }
  layout.mode_ = !has_v1 ? Mode::kV2 : (layout.unified_index_ >= 0 ? Mode::kHybrid : Mode::kV1);
  layout.hierarchies_ = std::move(hierarchies);
  return layout;
}

const Hierarchy* Layout::unified() const {
  return unified_index_ >= 0 ? &hierarchies_[static_cast<size_t>(unified_index_)] : nullptr;
}

const Hierarchy* Layout::HierarchyFor(std::string_view controller) const {
  for (const Hierarchy& h : hierarchies_) {
    if (h.version == 1 && h.Has(controller)) return &h;
  }
  const Hierarchy* u = unified();
  if (u != nullptr && u->Has(controller)) return u;
  return nullptr;
}

std::string Layout::Describe() const {
  std::string out = StrCat(ModeName(mode_), ":");
  for (const Hierarchy& h : hierarchies_) {
    StrAppend(&out, " ", h.version == 2 ? StrCat("unified(", Join(h.controllers, ","), ")") : h.Label(), "@",
              h.mount_point);
  }
  return out;
}

}  // namespace cricket::cgroups
