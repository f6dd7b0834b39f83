// linux.namespaces → NamespacePlan (config-linux.md "Namespaces", "User namespace mappings",
// "Offset for Time Namespace").
#include <sched.h>

#include "lib/common/strings.h"
#include "lib/runtime/plan_builder.h"

namespace cricket::runtime {
namespace {

int CloneFlag(oci::NamespaceType type) {
  switch (type) {
    case oci::NamespaceType::kPid:
      return CLONE_NEWPID;
    case oci::NamespaceType::kNetwork:
      return CLONE_NEWNET;
    case oci::NamespaceType::kMount:
      return CLONE_NEWNS;
    case oci::NamespaceType::kIpc:
      return CLONE_NEWIPC;
    case oci::NamespaceType::kUts:
      return CLONE_NEWUTS;
    case oci::NamespaceType::kUser:
      return CLONE_NEWUSER;
    case oci::NamespaceType::kCgroup:
      return CLONE_NEWCGROUP;
    case oci::NamespaceType::kTime:
      return CLONE_NEWTIME;
  }
  return 0;
}

std::vector<sys::UidGidMapping> Mappings(const std::vector<oci::IdMapping>& in) {
  std::vector<sys::UidGidMapping> out;
  for (const auto& m : in) out.push_back({m.container_id, m.host_id, m.size});
  return out;
}

}  // namespace

absl::StatusOr<NamespacePlan> BuildNamespacePlan(const oci::Spec& spec) {
  NamespacePlan plan;
  static const oci::Linux kNoLinux;
  const oci::Linux& linux_cfg = spec.linux ? *spec.linux : kNoLinux;
  std::vector<NamespaceJoin> user_join;
  bool has_mount = false, has_user = false, has_time_new = false;
  for (const oci::Namespace& ns : linux_cfg.namespaces) {
    const int flag = CloneFlag(ns.type);
    has_mount |= ns.type == oci::NamespaceType::kMount;
    has_user |= ns.type == oci::NamespaceType::kUser && ns.path.empty();
    if (!ns.path.empty()) {
      if (!ns.path.starts_with("/")) {
        return absl::InvalidArgumentError(StrCat("linux.namespaces: path of the ",
                                                 oci::NamespaceTypeName(ns.type),
                                                 " namespace must be absolute: ", ns.path));
      }
      NamespaceJoin j{flag, ns.path, -1};
      (ns.type == oci::NamespaceType::kUser ? user_join : plan.joins).push_back(std::move(j));
      continue;
    }
    if (ns.type == oci::NamespaceType::kCgroup) {
      plan.new_cgroup_ns = true;
    } else {
      plan.clone_flags |= static_cast<uint64_t>(flag);
    }
    has_time_new |= ns.type == oci::NamespaceType::kTime;
  }
  plan.joins_user_ns = !user_join.empty();
  for (auto& j : user_join) plan.joins.push_back(std::move(j));
  plan.shares_host_mount_ns = !has_mount;
  plan.new_user_ns = has_user;
  if (has_user) {
    if (linux_cfg.uid_mappings.empty() || linux_cfg.gid_mappings.empty()) {
      return absl::InvalidArgumentError(
          "linux.uidMappings and linux.gidMappings are required with a new user namespace");
    }
    plan.uid_map = Mappings(linux_cfg.uid_mappings);
    plan.gid_map = Mappings(linux_cfg.gid_mappings);
  } else if (!linux_cfg.uid_mappings.empty() || !linux_cfg.gid_mappings.empty()) {
    return absl::InvalidArgumentError(
        "linux.uidMappings/gidMappings are set but no new user namespace is requested");
  }
  if (!linux_cfg.time_offsets.empty()) {
    if (!has_time_new) {
      return absl::InvalidArgumentError("linux.timeOffsets requires a new time namespace");
    }
    for (const auto& [clock, off] : linux_cfg.time_offsets) {
      if (clock != "monotonic" && clock != "boottime") {
        return absl::InvalidArgumentError(StrCat("linux.timeOffsets: unknown clock \"", clock, "\""));
      }
      StrAppend(&plan.time_offsets, clock, " ", off.secs, " ", off.nanosecs, "\n");
    }
  }
  plan.two_stage = !plan.joins.empty() || !plan.time_offsets.empty();
  return plan;
}

}  // namespace cricket::runtime
