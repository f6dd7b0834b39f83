// Serialization of the config.json model (spec.h) back to JSON, leaving out absent optionals and empty
// containers as the Go reference types do (`omitempty`).
#include "lib/oci/json_reader.h"
#include "lib/oci/spec.h"

namespace cricket::oci {

using json::Json;
using json::PutArray;
using json::PutNonEmpty;
using json::PutOpt;
using json::PutTrue;

namespace {

Json IdMappingJson(const IdMapping& m) {
  return Json{{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}};
}

Json MountJson(const Mount& m) {
  Json j = Json::object();
  j["destination"] = m.destination;
  PutNonEmpty(j, "type", m.type);
  PutNonEmpty(j, "source", m.source);
  PutNonEmpty(j, "options", m.options);
  PutArray(j, "uidMappings", m.uid_mappings, IdMappingJson);
  PutArray(j, "gidMappings", m.gid_mappings, IdMappingJson);
  return j;
}

Json CapabilitiesJson(const Capabilities& c) {
  Json j = Json::object();
  PutNonEmpty(j, "bounding", c.bounding);
  PutNonEmpty(j, "effective", c.effective);
  PutNonEmpty(j, "inheritable", c.inheritable);
  PutNonEmpty(j, "permitted", c.permitted);
  PutNonEmpty(j, "ambient", c.ambient);
  return j;
}

Json SchedulerJson(const Scheduler& s) {
  Json j = Json::object();
  j["policy"] = s.policy;
  if (s.nice != 0) j["nice"] = s.nice;
  if (s.priority != 0) j["priority"] = s.priority;
  PutNonEmpty(j, "flags", s.flags);
  if (s.runtime != 0) j["runtime"] = s.runtime;
  if (s.deadline != 0) j["deadline"] = s.deadline;
  if (s.period != 0) j["period"] = s.period;
  return j;
}

Json UserJson(const User& u) {
  Json j = Json::object();
  j["uid"] = u.uid;
  j["gid"] = u.gid;
  PutOpt(j, "umask", u.umask);
  PutNonEmpty(j, "additionalGids", u.additional_gids);
  PutNonEmpty(j, "username", u.username);
  return j;
}

Json HookJson(const Hook& h) {
  Json j = Json::object();
  j["path"] = h.path;
  PutNonEmpty(j, "args", h.args);
  PutNonEmpty(j, "env", h.env);
  PutOpt(j, "timeout", h.timeout);
  return j;
}

Json HooksJson(const Hooks& h) {
  Json j = Json::object();
  PutArray(j, "prestart", h.prestart, HookJson);
  PutArray(j, "createRuntime", h.create_runtime, HookJson);
  PutArray(j, "createContainer", h.create_container, HookJson);
  PutArray(j, "startContainer", h.start_container, HookJson);
  PutArray(j, "poststart", h.poststart, HookJson);
  PutArray(j, "poststop", h.poststop, HookJson);
  return j;
}

Json DeviceJson(const Device& d) {
  Json j = Json::object();
  j["path"] = d.path;
  j["type"] = d.type;
  j["major"] = d.major;
  j["minor"] = d.minor;
  PutOpt(j, "fileMode", d.file_mode);
  PutOpt(j, "uid", d.uid);
  PutOpt(j, "gid", d.gid);
  return j;
}

Json DeviceCgroupRuleJson(const DeviceCgroupRule& r) {
  Json j = Json::object();
  j["allow"] = r.allow;
  PutNonEmpty(j, "type", r.type);
  PutOpt(j, "major", r.major);
  PutOpt(j, "minor", r.minor);
  PutNonEmpty(j, "access", r.access);
  return j;
}

Json MemoryJson(const MemoryResources& m) {
  Json j = Json::object();
  PutOpt(j, "limit", m.limit);
  PutOpt(j, "reservation", m.reservation);
  PutOpt(j, "swap", m.swap);
  PutOpt(j, "kernel", m.kernel);
  PutOpt(j, "kernelTCP", m.kernel_tcp);
  PutOpt(j, "swappiness", m.swappiness);
  PutOpt(j, "disableOOMKiller", m.disable_oom_killer);
  PutOpt(j, "useHierarchy", m.use_hierarchy);
  PutOpt(j, "checkBeforeUpdate", m.check_before_update);
  return j;
}

Json CpuJson(const CpuResources& c) {
  Json j = Json::object();
  PutOpt(j, "shares", c.shares);
  PutOpt(j, "quota", c.quota);
  PutOpt(j, "burst", c.burst);
  PutOpt(j, "period", c.period);
  PutOpt(j, "realtimeRuntime", c.realtime_runtime);
  PutOpt(j, "realtimePeriod", c.realtime_period);
  PutNonEmpty(j, "cpus", c.cpus);
  PutNonEmpty(j, "mems", c.mems);
  PutOpt(j, "idle", c.idle);
  return j;
}

Json WeightDeviceJson(const WeightDevice& d) {
  Json j = Json::object();
  j["major"] = d.major;
  j["minor"] = d.minor;
  PutOpt(j, "weight", d.weight);
  PutOpt(j, "leafWeight", d.leaf_weight);
  return j;
}

Json ThrottleDeviceJson(const ThrottleDevice& d) {
  return Json{{"major", d.major}, {"minor", d.minor}, {"rate", d.rate}};
}

Json BlockIoJson(const BlockIoResources& b) {
  Json j = Json::object();
  PutOpt(j, "weight", b.weight);
  PutOpt(j, "leafWeight", b.leaf_weight);
  PutArray(j, "weightDevice", b.weight_device, WeightDeviceJson);
  PutArray(j, "throttleReadBpsDevice", b.throttle_read_bps_device, ThrottleDeviceJson);
  PutArray(j, "throttleWriteBpsDevice", b.throttle_write_bps_device, ThrottleDeviceJson);
  PutArray(j, "throttleReadIOPSDevice", b.throttle_read_iops_device, ThrottleDeviceJson);
  PutArray(j, "throttleWriteIOPSDevice", b.throttle_write_iops_device, ThrottleDeviceJson);
  return j;
}

Json NetworkJson(const NetworkResources& n) {
  Json j = Json::object();
  PutOpt(j, "classID", n.class_id);
  PutArray(j, "priorities", n.priorities, [](const InterfacePriority& p) {
    return Json{{"name", p.name}, {"priority", p.priority}};
  });
  return j;
}

Json SeccompArgJson(const SeccompArg& a) {
  Json j = Json::object();
  j["index"] = a.index;
  j["value"] = a.value;
  if (a.value_two != 0) j["valueTwo"] = a.value_two;
  j["op"] = SeccompOperatorName(a.op);
  return j;
}

Json SyscallJson(const SeccompSyscall& s) {
  Json j = Json::object();
  j["names"] = s.names;
  j["action"] = SeccompActionName(s.action);
  PutOpt(j, "errnoRet", s.errno_ret);
  PutArray(j, "args", s.args, SeccompArgJson);
  return j;
}

Json IntelRdtJson(const IntelRdt& r) {
  Json j = Json::object();
  PutNonEmpty(j, "closID", r.clos_id);
  PutNonEmpty(j, "schemata", r.schemata);
  PutNonEmpty(j, "l3CacheSchema", r.l3_cache_schema);
  PutNonEmpty(j, "memBwSchema", r.mem_bw_schema);
  PutTrue(j, "enableMonitoring", r.enable_monitoring);
  return j;
}

Json LinuxJson(const Linux& l) {
  Json j = Json::object();
  PutArray(j, "uidMappings", l.uid_mappings, IdMappingJson);
  PutArray(j, "gidMappings", l.gid_mappings, IdMappingJson);
  PutNonEmpty(j, "sysctl", l.sysctl);
  if (l.resources) j["resources"] = LinuxResourcesToJson(*l.resources);
  PutNonEmpty(j, "cgroupsPath", l.cgroups_path);
  PutArray(j, "namespaces", l.namespaces, [](const Namespace& ns) {
    Json n{{"type", NamespaceTypeName(ns.type)}};
    PutNonEmpty(n, "path", ns.path);
    return n;
  });
  PutArray(j, "devices", l.devices, DeviceJson);
  if (!l.net_devices.empty()) {
    Json& nd = j["netDevices"] = Json::object();
    for (const auto& [host, dev] : l.net_devices) {
      nd[host] = Json::object();
      PutNonEmpty(nd[host], "name", dev.name);
    }
  }
  if (l.seccomp) j["seccomp"] = LinuxSeccompToJson(*l.seccomp);
  PutNonEmpty(j, "rootfsPropagation", l.rootfs_propagation);
  PutNonEmpty(j, "maskedPaths", l.masked_paths);
  PutNonEmpty(j, "readonlyPaths", l.readonly_paths);
  PutNonEmpty(j, "mountLabel", l.mount_label);
  if (l.intel_rdt) j["intelRdt"] = IntelRdtJson(*l.intel_rdt);
  if (l.memory_policy) {
    Json mp{{"mode", l.memory_policy->mode}, {"nodes", l.memory_policy->nodes}};
    PutNonEmpty(mp, "flags", l.memory_policy->flags);
    j["memoryPolicy"] = std::move(mp);
  }
  if (l.personality) {
    Json p{{"domain", l.personality->domain}};
    PutNonEmpty(p, "flags", l.personality->flags);
    j["personality"] = std::move(p);
  }
  if (!l.time_offsets.empty()) {
    Json& to = j["timeOffsets"] = Json::object();
    for (const auto& [clock, off] : l.time_offsets) {
      Json o = Json::object();
      if (off.secs != 0) o["secs"] = off.secs;
      if (off.nanosecs != 0) o["nanosecs"] = off.nanosecs;
      to[clock] = std::move(o);
    }
  }
  return j;
}

}  // namespace

Json ProcessToJson(const Process& p) {
  Json j = Json::object();
  PutTrue(j, "terminal", p.terminal);
  if (p.console_size)
    j["consoleSize"] = Json{{"height", p.console_size->height}, {"width", p.console_size->width}};
  j["user"] = UserJson(p.user);
  PutNonEmpty(j, "args", p.args);
  PutNonEmpty(j, "commandLine", p.command_line);
  PutNonEmpty(j, "env", p.env);
  j["cwd"] = p.cwd;
  if (p.capabilities) j["capabilities"] = CapabilitiesJson(*p.capabilities);
  PutArray(j, "rlimits", p.rlimits, [](const Rlimit& r) {
    return Json{{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}};
  });
  PutTrue(j, "noNewPrivileges", p.no_new_privileges);
  PutNonEmpty(j, "apparmorProfile", p.apparmor_profile);
  PutOpt(j, "oomScoreAdj", p.oom_score_adj);
  if (p.scheduler) j["scheduler"] = SchedulerJson(*p.scheduler);
  PutNonEmpty(j, "selinuxLabel", p.selinux_label);
  if (p.io_priority)
    j["ioPriority"] = Json{{"class", p.io_priority->io_class}, {"priority", p.io_priority->priority}};
  if (p.exec_cpu_affinity) {
    Json a = Json::object();
    PutNonEmpty(a, "initial", p.exec_cpu_affinity->initial);
    PutNonEmpty(a, "final", p.exec_cpu_affinity->final);
    j["execCPUAffinity"] = std::move(a);
  }
  return j;
}

Json LinuxResourcesToJson(const LinuxResources& r) {
  Json j = Json::object();
  PutArray(j, "devices", r.devices, DeviceCgroupRuleJson);
  if (r.memory) j["memory"] = MemoryJson(*r.memory);
  if (r.cpu) j["cpu"] = CpuJson(*r.cpu);
  if (r.pids) {
    j["pids"] = Json::object();
    PutOpt(j["pids"], "limit", r.pids->limit);
  }
  if (r.block_io) j["blockIO"] = BlockIoJson(*r.block_io);
  PutArray(j, "hugepageLimits", r.hugepage_limits, [](const HugepageLimit& h) {
    return Json{{"pageSize", h.page_size}, {"limit", h.limit}};
  });
  if (r.network) j["network"] = NetworkJson(*r.network);
  if (!r.rdma.empty()) {
    Json& rdma = j["rdma"] = Json::object();
    for (const auto& [dev, lim] : r.rdma) {
      rdma[dev] = Json::object();
      PutOpt(rdma[dev], "hcaHandles", lim.hca_handles);
      PutOpt(rdma[dev], "hcaObjects", lim.hca_objects);
    }
  }
  PutNonEmpty(j, "unified", r.unified);
  return j;
}

Json LinuxSeccompToJson(const LinuxSeccomp& s) {
  Json j = Json::object();
  j["defaultAction"] = SeccompActionName(s.default_action);
  PutOpt(j, "defaultErrnoRet", s.default_errno_ret);
  PutNonEmpty(j, "architectures", s.architectures);
  PutNonEmpty(j, "flags", s.flags);
  PutNonEmpty(j, "listenerPath", s.listener_path);
  PutNonEmpty(j, "listenerMetadata", s.listener_metadata);
  PutArray(j, "syscalls", s.syscalls, SyscallJson);
  return j;
}

Json SpecToJson(const Spec& spec) {
  Json j = Json::object();
  j["ociVersion"] = spec.oci_version;
  if (spec.root) {
    j["root"] = Json{{"path", spec.root->path}};
    PutTrue(j["root"], "readonly", spec.root->readonly);
  }
  PutArray(j, "mounts", spec.mounts, MountJson);
  if (spec.process) j["process"] = ProcessToJson(*spec.process);
  PutNonEmpty(j, "hostname", spec.hostname);
  PutNonEmpty(j, "domainname", spec.domainname);
  if (spec.hooks) j["hooks"] = HooksJson(*spec.hooks);
  PutNonEmpty(j, "annotations", spec.annotations);
  if (spec.linux) j["linux"] = LinuxJson(*spec.linux);
  return j;
}

// Invalid UTF-8 (possible in env values handed over by CRI clients) becomes U+FFFD instead of an
// exception, as Go's encoding/json does.
std::string SerializeSpec(const Spec& spec, int indent) {
  return SpecToJson(spec).dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace cricket::oci
