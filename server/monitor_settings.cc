#include "server/monitor_settings.h"

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/manager.h"
#include "server/container_spec.h"

namespace cricket::server {
namespace {

constexpr std::string_view kPod = "pod";

// The monitor of `id` in the "pod" placement, as a cgroups path string of the driver's form.
std::string PodMonitorCgroupsPath(const std::string& cgroup_manager, const std::string& cgroup_parent,
                                  const std::string& id) {
  return CgroupsPath(cgroup_manager, cgroup_parent, StrCat("conmon-", id));
}

}  // namespace

MonitorSettings MonitorSettingsFor(const Config& config, const std::string& handler) {
  MonitorSettings s{config.runtime.conmon, config.runtime.conmon_env, config.runtime.conmon_cgroup};
  std::string name = handler.empty() ? config.runtime.default_runtime : handler;
  auto it = config.runtimes.find(name);
  if (it == config.runtimes.end()) return s;
  const RuntimeHandler& h = it->second;
  if (!h.monitor_path.empty()) s.conmon_path = h.monitor_path;
  s.env.insert(s.env.end(), h.monitor_env.begin(), h.monitor_env.end());
  if (!h.monitor_cgroup.empty()) s.cgroup = h.monitor_cgroup;
  return s;
}

absl::Status ValidateMonitorCgroup(const std::string& setting, const std::string& cgroup_manager) {
  if (setting.empty() || setting == kPod) return absl::OkStatus();
  if (cgroup_manager == "systemd") {
    if (!setting.ends_with(".slice") || setting.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(
          StrCat("\"", setting,
                 "\": with the systemd cgroup driver, want \"\", \"pod\" or a slice (\"system.slice\")"));
    }
    return cgroups::ExpandSlice(setting).status();
  }
  if (setting.front() != '/' || setting == "/") {
    return absl::InvalidArgumentError(StrCat(
        "\"", setting,
        "\": with the cgroupfs driver, want \"\", \"pod\" or an absolute cgroup path other than \"/\""));
  }
  ASSIGN_OR_RETURN(cgroups::Driver driver, cgroups::ParseDriver(cgroup_manager));
  return cgroups::ParseCgroupsPath(driver, setting, "monitors").status();
}

absl::StatusOr<std::optional<cgroups::CgroupPath>> MonitorCgroupPath(const std::string& setting,
                                                                     const std::string& cgroup_manager,
                                                                     const std::string& cgroup_parent,
                                                                     const std::string& id) {
  if (setting.empty() || (setting == kPod && cgroup_parent.empty())) return std::nullopt;
  ASSIGN_OR_RETURN(cgroups::Driver driver, cgroups::ParseDriver(cgroup_manager));
  std::string path;
  if (setting == kPod) {
    path = PodMonitorCgroupsPath(cgroup_manager, cgroup_parent, id);
  } else if (driver == cgroups::Driver::kSystemd) {
    path = StrCat(setting, ":cricket:monitors");
  } else {
    path = setting;
  }
  ASSIGN_OR_RETURN(cgroups::CgroupPath p, cgroups::ParseCgroupsPath(driver, path, id));
  return p;
}

absl::StatusOr<std::vector<std::string>> PrepareMonitorCgroup(const cgroups::Layout& layout,
                                                              const cgroups::CgroupPath& path) {
  ASSIGN_OR_RETURN(cgroups::Manager m, cgroups::Manager::Open(layout, path));
  RETURN_IF_ERROR(Annotate(m.Create(), "create the monitor's cgroup"));
  std::vector<std::string> procs;
  for (const cgroups::CgroupDir& d : m.dirs()) procs.push_back(d.dir + "/cgroup.procs");
  return procs;
}

absl::Status ApplyMonitorSettings(const Config& config, const std::string& handler,
                                  const cgroups::Layout* layout, const std::string& cgroup_parent,
                                  const std::string& id, const std::string& default_conmon,
                                  conmon::MonitorOptions* mo) {
  MonitorSettings s = MonitorSettingsFor(config, handler);
  mo->conmon_path = s.conmon_path.empty() ? default_conmon : s.conmon_path;
  mo->env = std::move(s.env);
  // The monitor's runtime takes the layout cricketd detected instead of reading the host's mountinfo.
  if (layout != nullptr) mo->config.cgroup_layout = layout->Serialize();
  ASSIGN_OR_RETURN(std::optional<cgroups::CgroupPath> path,
                   MonitorCgroupPath(s.cgroup, config.runtime.cgroup_manager, cgroup_parent, id));
  if (!path) return absl::OkStatus();
  if (layout == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("monitor cgroup \"", s.cgroup, "\" is configured, but this host has no cgroup hierarchy"));
  }
  ASSIGN_OR_RETURN(mo->config.cgroup_procs, PrepareMonitorCgroup(*layout, *path));
  return absl::OkStatus();
}

absl::Status RemovePodMonitorCgroup(const cgroups::Layout& layout, const std::string& cgroup_manager,
                                    const std::string& cgroup_parent, const std::string& id) {
  if (cgroup_parent.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<cgroups::CgroupPath> path,
                   MonitorCgroupPath(std::string(kPod), cgroup_manager, cgroup_parent, id));
  ASSIGN_OR_RETURN(cgroups::Manager m, cgroups::Manager::Open(layout, *path));
  return Annotate(m.Destroy(), "remove the monitor's cgroup");
}

}  // namespace cricket::server
