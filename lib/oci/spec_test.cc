#include "lib/oci/spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::oci {
namespace {

using nlohmann::json;

// A config.json touching every modelled property, with values different from their defaults.
constexpr char kFullSpec[] = R"json({
  "ociVersion": "1.2.1",
  "root": {"path": "rootfs", "readonly": true},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/data", "type": "none", "source": "/volumes/d", "options": ["rbind", "ro", "idmap"],
     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
     "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}
  ],
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6]},
    "args": ["sh", "-c", "true"],
    "env": ["PATH=/bin", "TERM=xterm"],
    "cwd": "/work",
    "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "inheritable": ["CAP_KILL"],
                     "permitted": ["CAP_CHOWN", "CAP_KILL"], "ambient": ["CAP_NET_RAW"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512},
                {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 18446744073709551615}],
    "noNewPrivileges": true,
    "apparmorProfile": "cricket-default",
    "oomScoreAdj": -500,
    "scheduler": {"policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
    "selinuxLabel": "system_u:system_r:container_t:s0",
    "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
    "execCPUAffinity": {"initial": "0", "final": "0-1"}
  },
  "hostname": "box",
  "domainname": "example.org",
  "hooks": {
    "prestart": [{"path": "/bin/pre"}],
    "createRuntime": [{"path": "/bin/cr", "args": ["cr", "x"], "env": ["A=B"], "timeout": 5}],
    "createContainer": [{"path": "/bin/cc"}],
    "startContainer": [{"path": "/bin/sc"}],
    "poststart": [{"path": "/bin/ps"}],
    "poststop": [{"path": "/bin/pst"}]
  },
  "annotations": {"io.kubernetes.pod": "p1", "org.example/x": "y"},
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "sysctl": {"net.ipv4.ip_forward": "1"},
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
      "memory": {"limit": 16777216, "reservation": 0, "swap": -1, "kernel": 1, "kernelTCP": 2, "swappiness": 0,
                 "disableOOMKiller": false, "useHierarchy": true, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 50000, "burst": 10000, "period": 100000, "realtimeRuntime": 0,
              "realtimePeriod": 0, "cpus": "0-1", "mems": "0", "idle": 0},
      "pids": {"limit": 64},
      "blockIO": {"weight": 500, "leafWeight": 300,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 600}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                  "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2000}],
                  "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 3}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 4}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
      "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
      "unified": {"memory.high": "1G", "io.weight": "default 100"}
    },
    "cgroupsPath": "/cricket/c1",
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/n1"}, {"type": "mount"},
                   {"type": "ipc"}, {"type": "uts"}, {"type": "user"}, {"type": "cgroup"}, {"type": "time"}],
    "timeOffsets": {"monotonic": {"secs": 10, "nanosecs": 5}, "boottime": {"secs": -3}},
    "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
                {"path": "/dev/fifo", "type": "p", "major": 0, "minor": 0}],
    "netDevices": {"eth1": {"name": "net1"}, "eth2": {}},
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "listenerPath": "/run/seccomp.sock", "listenerMetadata": "meta",
      "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                   {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                    "args": [{"index": 0, "value": 8, "valueTwo": 255, "op": "SCMP_CMP_MASKED_EQ"}]}]
    },
    "rootfsPropagation": "slave",
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "intelRdt": {"closID": "guaranteed", "schemata": ["L3:0=ff"], "l3CacheSchema": "L3:0=ff",
                 "memBwSchema": "MB:0=50", "enableMonitoring": true},
    "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]},
    "personality": {"domain": "LINUX32"}
  }
})json";

Spec MinimalValidSpec() {
  Spec s;
  s.oci_version = "1.2.1";
  s.root = Root{.path = "rootfs", .readonly = false};
  s.process.emplace();
  s.process->args = {"sh"};
  s.process->cwd = "/";
  s.linux.emplace();
  return s;
}

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<Spec> spec = ParseSpecText(text, "config.json");
  EXPECT_FALSE(spec.ok()) << text;
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

std::string ValidationError(const Spec& spec) {
  absl::Status st = ValidateSpec(spec);
  EXPECT_FALSE(st.ok());
  return std::string(st.message());
}

TEST(Spec, ParsesEveryField) {
  absl::StatusOr<Spec> spec = ParseSpecText(kFullSpec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->oci_version, "1.2.1");
  EXPECT_EQ(spec->root->path, "rootfs");
  EXPECT_TRUE(spec->root->readonly);
  ASSERT_EQ(spec->mounts.size(), 2u);
  EXPECT_EQ(spec->mounts[1].options, (std::vector<std::string>{"rbind", "ro", "idmap"}));
  EXPECT_EQ(spec->mounts[1].uid_mappings[0].host_id, 100000u);

  const Process& p = *spec->process;
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(p.capabilities->ambient, (std::vector<std::string>{"CAP_NET_RAW"}));
  EXPECT_EQ(p.rlimits[1].hard, UINT64_MAX);
  EXPECT_EQ(p.oom_score_adj, -500);
  EXPECT_EQ(p.scheduler->nice, 5);
  EXPECT_EQ(p.io_priority->io_class, "IOPRIO_CLASS_BE");
  EXPECT_EQ(p.exec_cpu_affinity->final, "0-1");

  EXPECT_EQ(spec->hooks->create_runtime[0].timeout, 5);
  EXPECT_EQ(spec->hooks->poststop[0].path, "/bin/pst");
  EXPECT_EQ(spec->annotations.at("org.example/x"), "y");

  const Linux& l = *spec->linux;
  EXPECT_EQ(l.namespaces.size(), 8u);
  ASSERT_NE(l.FindNamespace(NamespaceType::kNetwork), nullptr);
  EXPECT_EQ(l.FindNamespace(NamespaceType::kNetwork)->path, "/run/netns/n1");
  EXPECT_EQ(l.time_offsets.at("boottime").secs, -3);
  EXPECT_EQ(l.devices[0].file_mode, 0666u);
  EXPECT_EQ(l.devices[1].type, "p");
  EXPECT_EQ(l.net_devices.at("eth1").name, "net1");
  const LinuxResources& r = *l.resources;
  EXPECT_FALSE(r.devices[0].major.has_value());
  EXPECT_EQ(r.devices[1].minor, 3);
  EXPECT_EQ(r.memory->limit, 16777216);
  EXPECT_EQ(r.memory->reservation, 0);  // present-but-zero is distinguishable from absent
  EXPECT_EQ(r.memory->swap, -1);
  EXPECT_EQ(r.memory->disable_oom_killer, false);
  EXPECT_EQ(r.cpu->burst, 10000u);
  EXPECT_EQ(r.cpu->idle, 0);
  EXPECT_EQ(r.pids->limit, 64);
  EXPECT_EQ(r.block_io->weight_device[0].weight, 600);
  EXPECT_FALSE(r.block_io->weight_device[0].leaf_weight.has_value());
  EXPECT_EQ(r.block_io->throttle_write_iops_device[0].rate, 4u);
  EXPECT_EQ(r.network->class_id, 1048577u);
  EXPECT_EQ(r.rdma.at("mlx5_1").hca_objects, 10000u);
  EXPECT_EQ(r.unified.at("io.weight"), "default 100");
  const LinuxSeccomp& sc = *l.seccomp;
  EXPECT_EQ(sc.default_action, SeccompAction::kErrno);
  EXPECT_EQ(sc.default_errno_ret, 1u);
  EXPECT_EQ(sc.syscalls[1].errno_ret, 38u);
  EXPECT_EQ(sc.syscalls[1].args[0].op, SeccompOperator::kMaskedEqual);
  EXPECT_EQ(sc.syscalls[1].args[0].value_two, 255u);
  EXPECT_FALSE(sc.syscalls[0].errno_ret.has_value());
  EXPECT_EQ(l.intel_rdt->schemata, (std::vector<std::string>{"L3:0=ff"}));
  EXPECT_TRUE(l.intel_rdt->enable_monitoring);
  EXPECT_EQ(l.memory_policy->mode, "MPOL_BIND");
  EXPECT_EQ(l.personality->domain, "LINUX32");
  EXPECT_TRUE(ValidateSpec(*spec).ok()) << ValidateSpec(*spec);
}

TEST(Spec, RoundTripsThroughJson) {
  absl::StatusOr<Spec> spec = ParseSpecText(kFullSpec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::string text = SerializeSpec(*spec, 2);
  absl::StatusOr<Spec> again = ParseSpecText(text);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *spec);
  // The serialized form equals the input document (all values there are non-default, so nothing is
  // dropped), property for property.
  EXPECT_EQ(SpecToJson(*spec), json::parse(kFullSpec));
}

TEST(Spec, SerializationOmitsAbsentValues) {
  Spec s = MinimalValidSpec();
  json j = SpecToJson(s);
  EXPECT_EQ(j, json::parse(R"({"ociVersion":"1.2.1","root":{"path":"rootfs"},
      "process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/"},"linux":{}})"));
  s.linux->resources.emplace().memory.emplace().limit = 0;
  EXPECT_EQ(SpecToJson(s)["linux"]["resources"]["memory"], json::parse(R"({"limit":0})"));
}

TEST(Spec, UnknownPropertiesAreIgnored) {
  absl::StatusOr<Spec> spec = ParseSpecText(R"({
    "ociVersion": "1.3.0", "futureTopLevel": {"x": 1}, "windows": {"layerFolders": []},
    "root": {"path": "/r", "futureRoot": true},
    "process": {"cwd": "/", "args": ["a"], "user": {"uid": 0, "gid": 0, "newThing": 1}, "nope": []},
    "linux": {"resources": {"memory": {"limit": 5, "someNewKnob": "x"}, "newController": {}},
              "namespaces": [{"type": "pid", "extra": 1}]}
  })");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->linux->resources->memory->limit, 5);
  EXPECT_TRUE(ValidateSpec(*spec).ok());
  EXPECT_FALSE(SpecToJson(*spec).contains("futureTopLevel"));
}

TEST(Spec, FifoDevicesNeedNoNumbers) {
  absl::StatusOr<Spec> spec =
      ParseSpecText(R"({"ociVersion":"1.0.0","linux":{"devices":[{"path":"/dev/f","type":"p"}]}})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->linux->devices[0].major, 0);
}

TEST(Spec, NullCountsAsAbsent) {
  absl::StatusOr<Spec> spec = ParseSpecText(
      R"({"ociVersion":"1.0.0","root":null,"mounts":null,"linux":{"resources":{"memory":{"limit":null}}}})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->root.has_value());
  EXPECT_FALSE(spec->linux->resources->memory->limit.has_value());
}

TEST(Spec, ParseErrorsNameTheJsonPath) {
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","linux":{"resources":{"memory":{"limit":"big"}}}})"),
            "config.json: linux.resources.memory.limit: expected integer, got string");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","mounts":[{"destination":"/a"},{"type":"tmpfs"}]})"),
            "config.json: mounts[1].destination: required property missing");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","process":{"user":{"uid":-1}}})"),
            "config.json: process.user.uid: value -1 out of range [0, 4294967295]");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","process":{"user":{"uid":4294967296}}})"),
            "config.json: process.user.uid: value 4294967296 out of range [0, 4294967295]");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","process":{"oomScoreAdj":1.5}})"),
            "config.json: process.oomScoreAdj: expected integer, got number");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","process":{"env":["A=1", 2]}})"),
            "config.json: process.env[1]: expected string, got integer");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","linux":{"namespaces":[{"type":"pid"},{"type":"pidd"}]}})"),
            "config.json: linux.namespaces[1].type: unknown namespace type \"pidd\"");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","linux":{"sysctl":{"net.core.somaxconn":1024}}})"),
            "config.json: linux.sysctl[\"net.core.somaxconn\"]: expected string, got integer");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","linux":{"seccomp":{"defaultAction":"SCMP_ACT_NOPE"}}})"),
            "config.json: linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_NOPE\"");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"EQ"}]}]}}})"),
            "config.json: linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator \"EQ\"");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","linux":{"devices":[{"path":"/dev/x","type":"c","major":1}]}})"),
            "config.json: linux.devices[0].minor: required property missing");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","linux":{"resources":{"blockIO":{"weight":70000}}}})"),
            "config.json: linux.resources.blockIO.weight: value 70000 out of range [0, 65535]");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","hooks":{"poststop":[{"path":"/x","timeout":"5"}]}})"),
            "config.json: hooks.poststop[0].timeout: expected integer, got string");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.2.1","root":"rootfs"})"),
            "config.json: root: expected object, got string");
  EXPECT_EQ(ErrorOf(R"({"root":{"path":"r"}})"), "config.json: ociVersion: required property missing");
  EXPECT_EQ(ErrorOf(R"([1,2])"), "config.json: expected object, got array");
  EXPECT_NE(ErrorOf(R"({"ociVersion":)").find("config.json: invalid JSON"), std::string::npos);
}

TEST(Spec, PartsParseOnTheirOwn) {
  absl::StatusOr<Process> p = ParseProcess(json::parse(R"({"cwd":"/","args":["ls"],"env":["A=b"]})"), "");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->args[0], "ls");
  EXPECT_TRUE(ValidateProcess(*p, "").ok());
  absl::StatusOr<Process> bad = ParseProcess(json::parse(R"({"cwd":7})"), "");
  EXPECT_EQ(bad.status().message(), "cwd: expected string, got integer");

  absl::StatusOr<LinuxResources> r = ParseLinuxResources(json::parse(R"({"pids":{"limit":10}})"), "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pids->limit, 10);
  EXPECT_EQ(LinuxResourcesToJson(*r), json::parse(R"({"pids":{"limit":10}})"));
  EXPECT_EQ(ParseLinuxResources(json::parse(R"({"cpu":{"shares":-2}})"), "").status().message(),
            "cpu.shares: value -2 out of range [0, 18446744073709551615]");
}

TEST(Spec, RootfsPathIsRelativeToTheBundle) {
  EXPECT_EQ(RootfsPath(Root{.path = "rootfs"}, "/run/b1"), "/run/b1/rootfs");
  EXPECT_EQ(RootfsPath(Root{.path = "."}, "/run/b1"), "/run/b1");
  EXPECT_EQ(RootfsPath(Root{.path = "/var/lib/c/merged/"}, "/run/b1"), "/var/lib/c/merged");
}

TEST(Spec, EnumNamesRoundTrip) {
  for (auto t : {NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kMount, NamespaceType::kIpc,
                 NamespaceType::kUts, NamespaceType::kUser, NamespaceType::kCgroup, NamespaceType::kTime}) {
    EXPECT_EQ(ParseNamespaceType(NamespaceTypeName(t)), t);
  }
  EXPECT_EQ(NamespaceTypeName(NamespaceType::kNetwork), "network");
  EXPECT_EQ(ParseSeccompAction("SCMP_ACT_KILL_PROCESS"), SeccompAction::kKillProcess);
  EXPECT_EQ(SeccompActionName(SeccompAction::kNotify), "SCMP_ACT_NOTIFY");
  EXPECT_FALSE(ParseSeccompAction("ALLOW").has_value());
  EXPECT_EQ(ParseSeccompOperator("SCMP_CMP_GE"), SeccompOperator::kGreaterEqual);
  EXPECT_TRUE(SeccompActionTakesErrno(SeccompAction::kErrno));
  EXPECT_TRUE(SeccompActionTakesErrno(SeccompAction::kTrace));
  EXPECT_FALSE(SeccompActionTakesErrno(SeccompAction::kAllow));
}

TEST(SpecValidate, AcceptsMinimalSpec) { EXPECT_TRUE(ValidateSpec(MinimalValidSpec()).ok()); }

TEST(SpecValidate, TopLevelRules) {
  Spec s = MinimalValidSpec();
  s.oci_version = "1.2";
  EXPECT_EQ(ValidationError(s), "ociVersion: must be a SemVer 2.0.0 version, got \"1.2\"");
  for (const char* ok : {"1.0.0", "1.2.1-dev", "1.0.0-rc.1+build.5", "10.20.30"}) {
    s.oci_version = ok;
    EXPECT_TRUE(ValidateSpec(s).ok()) << ok;
  }
  for (const char* bad : {"", "01.0.0", "1.0.0-", "1.0.0+", "1.0.x", "1.0.0-a..b"}) {
    s.oci_version = bad;
    EXPECT_FALSE(ValidateSpec(s).ok()) << bad;
  }
  s = MinimalValidSpec();
  s.root.reset();
  EXPECT_EQ(ValidationError(s), "root: required on Linux");
  s = MinimalValidSpec();
  s.root->path = "";
  EXPECT_EQ(ValidationError(s), "root.path: must not be empty");
  s = MinimalValidSpec();
  s.mounts.push_back(Mount{.destination = "/m", .options = {"idmap"}});
  EXPECT_EQ(ValidationError(s),
            "mounts[0]: idmap mount without uidMappings/gidMappings needs a user namespace");
  s.linux->namespaces.push_back({NamespaceType::kUser, ""});
  EXPECT_TRUE(ValidateSpec(s).ok());
  s.mounts[0].uid_mappings.push_back({0, 1000, 1});
  EXPECT_EQ(ValidationError(s), "mounts[0]: uidMappings and gidMappings must be specified together");
  s = MinimalValidSpec();
  s.mounts.push_back(Mount{.destination = ""});
  EXPECT_EQ(ValidationError(s), "mounts[0].destination: must not be empty");
}

TEST(SpecValidate, ProcessRules) {
  Spec s = MinimalValidSpec();
  s.process->cwd = "work";
  EXPECT_EQ(ValidationError(s), "process.cwd: must be an absolute path, got \"work\"");
  s = MinimalValidSpec();
  s.process->args.clear();
  EXPECT_EQ(ValidationError(s), "process.args: must contain at least one entry");
  s = MinimalValidSpec();
  s.process->rlimits = {{"RLIMIT_NOFILE", 10, 10}, {"RLIMIT_NOFILE", 20, 20}};
  EXPECT_EQ(ValidationError(s), "process.rlimits[1]: duplicate rlimit type RLIMIT_NOFILE");
  s.process->rlimits = {{"RLIMIT_BOGUS", 10, 10}};
  EXPECT_EQ(ValidationError(s), "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\"");
  s.process->rlimits = {{"RLIMIT_NOFILE", 10, 20}};
  EXPECT_EQ(ValidationError(s), "process.rlimits[0]: soft limit exceeds hard limit");
  s = MinimalValidSpec();
  s.process->scheduler = Scheduler{.policy = "SCHED_FAST"};
  EXPECT_EQ(ValidationError(s), "process.scheduler.policy: unknown scheduler policy \"SCHED_FAST\"");
  s = MinimalValidSpec();
  s.process->io_priority = IoPriority{.io_class = "IOPRIO_CLASS_RT", .priority = 8};
  EXPECT_EQ(ValidationError(s), "process.ioPriority.priority: must be between 0 and 7");
  // Unknown capability names are a warning for the runtime, not a validation error.
  s = MinimalValidSpec();
  s.process->capabilities = Capabilities{.bounding = {"CAP_FUTURE"}};
  EXPECT_TRUE(ValidateSpec(s).ok());
}

TEST(SpecValidate, HookRules) {
  Spec s = MinimalValidSpec();
  s.hooks.emplace().poststart.push_back(Hook{.path = "hook"});
  EXPECT_EQ(ValidationError(s), "hooks.poststart[0].path: must be an absolute path, got \"hook\"");
  s.hooks->poststart[0] = Hook{.path = "/bin/hook", .timeout = 0};
  EXPECT_EQ(ValidationError(s), "hooks.poststart[0].timeout: must be greater than zero");
}

TEST(SpecValidate, LinuxRules) {
  Spec s = MinimalValidSpec();
  s.linux->namespaces = {{NamespaceType::kPid, ""}, {NamespaceType::kNetwork, ""}, {NamespaceType::kPid, ""}};
  EXPECT_EQ(ValidationError(s), "linux.namespaces[2]: duplicate namespace type \"pid\"");
  s.linux->namespaces = {{NamespaceType::kNetwork, "run/netns/x"}};
  EXPECT_EQ(ValidationError(s), "linux.namespaces[0].path: must be an absolute path, got \"run/netns/x\"");
  s = MinimalValidSpec();
  s.linux->devices.push_back(Device{.path = "/dev/x", .type = "x"});
  EXPECT_EQ(ValidationError(s), "linux.devices[0].type: must be c, b, u or p, got \"x\"");
  s.linux->devices[0] = Device{.path = "dev/x", .type = "c"};
  EXPECT_EQ(ValidationError(s), "linux.devices[0].path: must be an absolute path, got \"dev/x\"");
  s = MinimalValidSpec();
  s.linux->resources.emplace().devices.push_back(
      DeviceCgroupRule{.allow = true, .type = "c", .access = "rwx"});
  EXPECT_EQ(ValidationError(s), "linux.resources.devices[0].access: must be made of r, w and m, got \"rwx\"");
  s.linux->resources->devices[0] = DeviceCgroupRule{.allow = true, .type = "z"};
  EXPECT_EQ(ValidationError(s), "linux.resources.devices[0].type: must be a, c or b, got \"z\"");
  s.linux->resources->devices.clear();
  s.linux->resources->block_io.emplace().weight_device.push_back(WeightDevice{.major = 8});
  EXPECT_EQ(ValidationError(s),
            "linux.resources.blockIO.weightDevice[0]: at least one of weight and leafWeight is required");
  s.linux->resources->block_io.reset();
  s.linux->resources->rdma["mlx"] = RdmaLimit{};
  EXPECT_EQ(ValidationError(s),
            "linux.resources.rdma[\"mlx\"]: at least one of hcaHandles and hcaObjects is required");
  s.linux->resources->rdma.clear();
  s.linux->resources->cpu = CpuResources{.quota = 1000, .burst = 2000};
  EXPECT_EQ(ValidationError(s), "linux.resources.cpu.burst: must not be larger than a positive quota");
  s = MinimalValidSpec();
  s.linux->rootfs_propagation = "sideways";
  EXPECT_EQ(ValidationError(s), "linux.rootfsPropagation: unknown propagation \"sideways\"");
  s = MinimalValidSpec();
  s.linux->masked_paths = {"/proc/kcore", "proc/keys"};
  EXPECT_EQ(ValidationError(s), "linux.maskedPaths[1]: must be an absolute path, got \"proc/keys\"");
  s = MinimalValidSpec();
  s.linux->personality = Personality{.domain = "LINUX64"};
  EXPECT_EQ(ValidationError(s), "linux.personality.domain: must be LINUX or LINUX32, got \"LINUX64\"");
  s = MinimalValidSpec();
  s.linux->time_offsets["realtime"] = TimeOffset{};
  EXPECT_EQ(ValidationError(s), "linux.timeOffsets[\"realtime\"]: unknown clock (monotonic or boottime)");
  s = MinimalValidSpec();
  s.linux->intel_rdt = IntelRdt{.mem_bw_schema = "L3:0=1"};
  EXPECT_EQ(ValidationError(s), "linux.intelRdt.memBwSchema: must start with \"MB:\" and hold no newline");
}

TEST(SpecValidate, SeccompRules) {
  Spec s = MinimalValidSpec();
  s.linux->seccomp = LinuxSeccomp{.default_action = SeccompAction::kAllow, .default_errno_ret = 1};
  EXPECT_EQ(ValidationError(s),
            "linux.seccomp.defaultErrnoRet: not allowed with defaultAction SCMP_ACT_ALLOW");
  s.linux->seccomp =
      LinuxSeccomp{.default_action = SeccompAction::kErrno, .architectures = {"SCMP_ARCH_VAX"}};
  EXPECT_EQ(ValidationError(s),
            "linux.seccomp.architectures[0]: unknown seccomp architecture \"SCMP_ARCH_VAX\"");
  s.linux->seccomp = LinuxSeccomp{.syscalls = {SeccompSyscall{}}};
  EXPECT_EQ(ValidationError(s), "linux.seccomp.syscalls[0].names: must contain at least one entry");
  s.linux->seccomp = LinuxSeccomp{.syscalls = {SeccompSyscall{.names = {"kill"}, .errno_ret = 1}}};
  EXPECT_EQ(ValidationError(s), "linux.seccomp.syscalls[0].errnoRet: not allowed with action SCMP_ACT_ALLOW");
  s.linux->seccomp = LinuxSeccomp{.listener_metadata = "x"};
  EXPECT_EQ(ValidationError(s), "linux.seccomp.listenerMetadata: must not be set without listenerPath");
  s.linux->seccomp =
      LinuxSeccomp{.syscalls = {SeccompSyscall{.names = {"kill"}, .args = {SeccompArg{.index = 6}}}}};
  EXPECT_EQ(ValidationError(s), "linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5");
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/oci_spec_test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { (void)RemoveAll(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Spec, LoadSpecFileParsesAndValidates) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/config.json", kFullSpec).ok());
  absl::StatusOr<Spec> spec = LoadSpecFile(dir.path());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->hostname, "box");

  ASSERT_TRUE(
      WriteFileAtomic(dir.path() + "/config.json",
                      R"({"ociVersion":"1.2.1","root":{"path":"r"},"process":{"cwd":"x","args":["a"]}})")
          .ok());
  absl::Status st = LoadSpecFile(dir.path()).status();
  EXPECT_EQ(st.message(),
            StrCat(dir.path(), "/config.json: process.cwd: must be an absolute path, got \"x\""));
  EXPECT_EQ(LoadSpecFile(dir.path() + "/missing").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cricket::oci
