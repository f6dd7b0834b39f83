#include "server/user_namespace.h"

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

constexpr uint64_t kIdSpace = uint64_t{1} << 32;
constexpr uint32_t kOverflowId = 65534;

std::string_view ModeName(int mode) {
  switch (mode) {
    case v1::POD:
      return "POD";
    case v1::CONTAINER:
      return "CONTAINER";
    case v1::NODE:
      return "NODE";
    case v1::TARGET:
      return "TARGET";
  }
  return "unknown";
}

absl::StatusOr<std::vector<sys::UidGidMapping>> Mappings(
    const google::protobuf::RepeatedPtrField<v1::IDMapping>& in, std::string_view what) {
  std::vector<sys::UidGidMapping> out;
  for (const v1::IDMapping& m : in) {
    std::string desc = StrCat(what, " mapping ", m.container_id(), ":", m.host_id(), ":", m.length());
    if (m.length() == 0) return absl::InvalidArgumentError(StrCat(desc, " has length 0"));
    if (uint64_t{m.host_id()} + m.length() > kIdSpace || uint64_t{m.container_id()} + m.length() > kIdSpace) {
      return absl::InvalidArgumentError(StrCat(desc, " runs past id 4294967295"));
    }
    out.push_back({m.container_id(), m.host_id(), m.length()});
  }
  return out;
}

absl::Status CheckPodMapping(const std::vector<sys::UidGidMapping>& map, std::string_view what) {
  const sys::UidGidMapping& m = map[0];
  if (m.container_id != 0) {
    return absl::InvalidArgumentError(StrCat("user namespace: container ", what,
                                             " 0 (root) is not mapped: the ", what,
                                             " mapping starts at container id ", m.container_id));
  }
  if (m.host_id == 0) {
    return absl::InvalidArgumentError(StrCat(
        "user namespace: the ", what, " mapping holds host id 0: the host's root cannot be given to a pod"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<UserNamespaceMaps>> PodUserNamespace(const v1::NamespaceOption& ns) {
  if (!ns.has_userns_options()) return std::optional<UserNamespaceMaps>();
  const v1::UserNamespace& u = ns.userns_options();
  switch (u.mode()) {
    case v1::NODE:
      if (u.uids_size() > 0 || u.gids_size() > 0) {
        return absl::InvalidArgumentError(
            "user namespace mode NODE (the host's) takes no uid or gid mappings");
      }
      return std::optional<UserNamespaceMaps>();
    case v1::POD:
      break;
    case v1::CONTAINER:
    case v1::TARGET:
      return absl::InvalidArgumentError(StrCat("user namespace mode ", ModeName(u.mode()),
                                               " is not supported: a pod runs in a user namespace of its "
                                               "own (POD) or in the host's (NODE)"));
    default:
      return absl::InvalidArgumentError(StrCat("user namespace mode ", u.mode(), " is unknown"));
  }
  if (u.uids_size() != 1 || u.gids_size() != 1) {
    return absl::InvalidArgumentError(
        StrCat("user namespace mode POD needs exactly one uid and one gid mapping, "
               "not ",
               u.uids_size(), " and ", u.gids_size()));
  }
  UserNamespaceMaps maps;
  ASSIGN_OR_RETURN(maps.uid_map, Mappings(u.uids(), "uid"));
  ASSIGN_OR_RETURN(maps.gid_map, Mappings(u.gids(), "gid"));
  RETURN_IF_ERROR(CheckPodMapping(maps.uid_map, "uid"));
  RETURN_IF_ERROR(CheckPodMapping(maps.gid_map, "gid"));
  const struct {
    v1::NamespaceMode mode;
    const char* name;
  } shared[] = {{ns.network(), "network"}, {ns.ipc(), "IPC"}, {ns.pid(), "PID"}};
  for (const auto& s : shared) {
    if (s.mode == v1::NODE) {
      return absl::InvalidArgumentError(
          StrCat("a user namespace cannot be combined with the host's ", s.name,
                 " namespace (it would not belong to the pod's user namespace)"));
    }
  }
  return std::optional<UserNamespaceMaps>(std::move(maps));
}

absl::Status CheckContainerUserNamespace(const v1::NamespaceOption& ns,
                                         const std::optional<UserNamespaceMaps>& pod) {
  if (!ns.has_userns_options()) return absl::OkStatus();
  const v1::UserNamespace& u = ns.userns_options();
  if (u.mode() != v1::POD && u.mode() != v1::NODE) {
    return absl::InvalidArgumentError(StrCat("container user namespace mode ", ModeName(u.mode()),
                                             " is not supported: containers run in their pod's"));
  }
  if (!pod) {
    if (u.mode() == v1::POD) {
      return absl::InvalidArgumentError(
          "the container asks for the pod's user namespace, but its pod runs in the host's (mode NODE)");
    }
    if (u.uids_size() > 0 || u.gids_size() > 0) {
      return absl::InvalidArgumentError("user namespace mode NODE (the host's) takes no uid or gid mappings");
    }
    return absl::OkStatus();
  }
  if (u.mode() == v1::NODE) {
    return absl::InvalidArgumentError(
        "the container asks for the host's user namespace (mode NODE), but its pod has one of its own");
  }
  UserNamespaceMaps mine;
  ASSIGN_OR_RETURN(mine.uid_map, Mappings(u.uids(), "uid"));
  ASSIGN_OR_RETURN(mine.gid_map, Mappings(u.gids(), "gid"));
  if (!(mine == *pod)) {
    return absl::InvalidArgumentError(
        "the container's user namespace mappings differ from its pod's: containers run in their pod's "
        "user namespace");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<UserNamespaceMaps>> MountIdMappings(const v1::Mount& m, std::string_view where) {
  if (m.uidmappings_size() == 0 && m.gidmappings_size() == 0) return std::optional<UserNamespaceMaps>();
  if (m.uidmappings_size() == 0 || m.gidmappings_size() == 0) {
    return absl::InvalidArgumentError(StrCat(where, ": uidMappings and gidMappings go together"));
  }
  UserNamespaceMaps maps;
  ASSIGN_OR_RETURN(maps.uid_map, Mappings(m.uidmappings(), StrCat(where, ": uid")));
  ASSIGN_OR_RETURN(maps.gid_map, Mappings(m.gidmappings(), StrCat(where, ": gid")));
  return std::optional<UserNamespaceMaps>(std::move(maps));
}

uint32_t IdInNamespace(const std::vector<sys::UidGidMapping>& map, uint32_t host_id) {
  for (const sys::UidGidMapping& m : map) {
    if (host_id >= m.host_id && host_id - m.host_id < m.size) return m.container_id + (host_id - m.host_id);
  }
  return kOverflowId;
}

std::optional<uint32_t> HostIdOf(const std::vector<sys::UidGidMapping>& map, uint32_t id) {
  for (const sys::UidGidMapping& m : map) {
    if (id >= m.container_id && id - m.container_id < m.size) return m.host_id + (id - m.container_id);
  }
  return std::nullopt;
}

}  // namespace cricket::server
