// How cricketd starts a container's monitor: its executable, environment and cgroup, from the runtime
// handler's settings ([crio.runtime.runtimes.NAME] monitor_path, monitor_env, monitor_cgroup), each
// falling back to [crio.runtime] (conmon, conmon_env, conmon_cgroup), as crio.conf defines them.
//
// The monitor's cgroup setting:
//   ""       the monitor stays in cricketd's own cgroup (under systemd: cricket.service, which is why the
//            unit has KillMode=process);
//   "pod"    a leaf of its own in the pod's cgroup parent, "cricket-conmon-<id>" (cgroupfs) or the scope
//            "cricket-conmon-<id>.scope" in the pod's slice (systemd): the pod is charged for its
//            monitors. Removed with the container; a pod without a cgroup parent keeps the monitor in
//            cricketd's cgroup;
//   a cgroup one cgroup shared by every monitor: an absolute path with the cgroupfs driver
//            ("/cricket-monitors"), a slice with the systemd driver ("system.slice": its scope
//            "cricket-monitors.scope").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conmon/client.h"
#include "lib/runtime/cgroups/cgroup_path.h"
#include "lib/runtime/cgroups/layout.h"
#include "server/config.h"

namespace cricket::server {

struct MonitorSettings {
  std::string conmon_path;  // empty: the cricket-conmon found beside cricketd
  std::vector<std::string> env;
  std::string cgroup;  // "", "pod" or a cgroup, as above
};

MonitorSettings MonitorSettingsFor(const Config& config, const std::string& handler);

// Checks a monitor cgroup setting for the cgroup driver `cgroup_manager`; the error says what is wrong.
absl::Status ValidateMonitorCgroup(const std::string& setting, const std::string& cgroup_manager);

// The cgroup the monitor of container `id` (in a pod whose cgroup parent is `cgroup_parent`) joins, or
// nullopt when it stays in cricketd's cgroup.
absl::StatusOr<std::optional<cgroups::CgroupPath>> MonitorCgroupPath(const std::string& setting,
                                                                     const std::string& cgroup_manager,
                                                                     const std::string& cgroup_parent,
                                                                     const std::string& id);

// Creates `path` in every hierarchy of `layout` and returns the cgroup.procs files the monitor writes its
// own pid to before it creates the container.
absl::StatusOr<std::vector<std::string>> PrepareMonitorCgroup(const cgroups::Layout& layout,
                                                              const cgroups::CgroupPath& path);

// Fills mo's executable (`default_conmon` unless a setting names one), environment and cgroup.procs files
// for the monitor of container `id` of a pod with `cgroup_parent` run by `handler`, creating its cgroup.
// `layout` is null on a host without cgroups, where only the "" placement works.
absl::Status ApplyMonitorSettings(const Config& config, const std::string& handler,
                                  const cgroups::Layout* layout, const std::string& cgroup_parent,
                                  const std::string& id, const std::string& default_conmon,
                                  conmon::MonitorOptions* mo);

// Removes the "pod" monitor cgroup of container `id` if there is one (whatever the setting is now: it may
// have changed since the container was created). Idempotent.
absl::Status RemovePodMonitorCgroup(const cgroups::Layout& layout, const std::string& cgroup_manager,
                                    const std::string& cgroup_parent, const std::string& id);

}  // namespace cricket::server
