#include "lib/oci/default_spec.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "lib/oci/capabilities.h"

namespace cricket::oci {
namespace {

const std::vector<std::string> kCrioDefaultCaps = {
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE", "KILL"};

const Mount* FindMount(const Spec& spec, std::string_view dest) {
  for (const Mount& m : spec.mounts) {
    if (m.destination == dest) return &m;
  }
  return nullptr;
}

bool HasOption(const Mount& m, std::string_view opt) {
  return std::find(m.options.begin(), m.options.end(), opt) != m.options.end();
}

TEST(DefaultSpec, UnprivilegedContents) {
  DefaultSpecOptions opts;
  opts.capabilities = kCrioDefaultCaps;
  absl::StatusOr<Spec> spec = DefaultSpec(opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->oci_version, kOciVersion);
  EXPECT_EQ(spec->root->path, "rootfs");

  std::vector<std::string> dests;
  for (const Mount& m : spec->mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                             "/sys/fs/cgroup"}));
  const Mount* pts = FindMount(*spec, "/dev/pts");
  EXPECT_EQ(pts->type, "devpts");
  for (const char* o : {"newinstance", "ptmxmode=0666", "mode=0620", "gid=5", "nosuid", "noexec"}) {
    EXPECT_TRUE(HasOption(*pts, o)) << o;
  }
  EXPECT_TRUE(HasOption(*FindMount(*spec, "/sys"), "ro"));
  EXPECT_EQ(FindMount(*spec, "/sys/fs/cgroup")->type, "cgroup");
  EXPECT_TRUE(HasOption(*FindMount(*spec, "/sys/fs/cgroup"), "ro"));
  EXPECT_TRUE(HasOption(*FindMount(*spec, "/dev/shm"), "mode=1777"));
  EXPECT_EQ(FindMount(*spec, "/dev/mqueue")->type, "mqueue");

  const Capabilities& caps = *spec->process->capabilities;
  std::vector<std::string> expected = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE",     "CAP_FSETID",
                                       "CAP_FOWNER",  "CAP_SETGID",           "CAP_SETUID",
                                       "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_KILL"};
  EXPECT_EQ(caps.bounding, expected);
  EXPECT_EQ(caps.effective, expected);
  EXPECT_EQ(caps.permitted, expected);
  EXPECT_TRUE(caps.inheritable.empty());
  EXPECT_TRUE(caps.ambient.empty());
  EXPECT_TRUE(spec->process->rlimits.empty());
  EXPECT_EQ(spec->process->env, (std::vector<std::string>{std::string(kDefaultPathEnv)}));
  EXPECT_EQ(spec->process->cwd, "/");

  const Linux& l = *spec->linux;
  EXPECT_EQ(l.namespaces.size(), 5u);
  for (NamespaceType t : {NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kIpc,
                          NamespaceType::kUts, NamespaceType::kMount}) {
    ASSERT_NE(l.FindNamespace(t), nullptr) << NamespaceTypeName(t);
    EXPECT_TRUE(l.FindNamespace(t)->path.empty());
  }
  EXPECT_EQ(l.FindNamespace(NamespaceType::kUser), nullptr);
  EXPECT_EQ(l.FindNamespace(NamespaceType::kCgroup), nullptr);
  EXPECT_EQ(l.masked_paths.size(), 11u);
  EXPECT_NE(std::find(l.masked_paths.begin(), l.masked_paths.end(), "/proc/kcore"), l.masked_paths.end());
  EXPECT_NE(std::find(l.masked_paths.begin(), l.masked_paths.end(), "/sys/firmware"), l.masked_paths.end());
  EXPECT_EQ(l.readonly_paths, (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                        "/proc/sysrq-trigger"}));
  ASSERT_FALSE(l.resources->devices.empty());
  EXPECT_FALSE(l.resources->devices[0].allow);
  EXPECT_EQ(l.resources->devices[0].access, "rwm");
  EXPECT_FALSE(l.seccomp.has_value());

  // Valid once the caller sets the command.
  EXPECT_FALSE(ValidateSpec(*spec).ok());
  spec->process->args = {"/bin/sh"};
  EXPECT_TRUE(ValidateSpec(*spec).ok()) << ValidateSpec(*spec);
}

TEST(DefaultSpec, CapabilitiesComeFromTheParameter) {
  DefaultSpecOptions opts;
  opts.capabilities = {"cap_net_raw", "SYS_CHROOT", "NET_RAW"};
  opts.add_inheritable_capabilities = true;
  absl::StatusOr<Spec> spec = DefaultSpec(opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process->capabilities->bounding,
            (std::vector<std::string>{"CAP_NET_RAW", "CAP_SYS_CHROOT"}));
  EXPECT_EQ(spec->process->capabilities->inheritable, spec->process->capabilities->bounding);

  opts.capabilities = {};
  spec = DefaultSpec(opts);
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(spec->process->capabilities->bounding.empty());

  opts.capabilities = {"CHOWN", "FLY"};
  EXPECT_EQ(DefaultSpec(opts).status().message(), "unknown capability \"FLY\"");

  opts.capabilities = {"ALL"};
  opts.host_capabilities = {"CAP_CHOWN", "CAP_KILL"};
  spec = DefaultSpec(opts);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->process->capabilities->bounding, opts.host_capabilities);
}

TEST(DefaultSpec, PrivilegedGetsEveryHostCapability) {
  absl::StatusOr<std::vector<std::string>> host = HostGrantableCapabilities();
  ASSERT_TRUE(host.ok()) << host.status();
  DefaultSpecOptions opts;
  opts.capabilities = kCrioDefaultCaps;
  opts.privileged = true;
  opts.host_capabilities = *host;
  opts.seccomp = LinuxSeccomp{.default_action = SeccompAction::kErrno};
  absl::StatusOr<Spec> spec = DefaultSpec(opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const Capabilities& caps = *spec->process->capabilities;
  EXPECT_EQ(caps.bounding, *host);
  EXPECT_EQ(caps.effective, *host);
  EXPECT_EQ(caps.permitted, *host);
  EXPECT_GT(caps.bounding.size(), kCrioDefaultCaps.size());
  EXPECT_NE(std::find(caps.bounding.begin(), caps.bounding.end(), "CAP_SYS_ADMIN"), caps.bounding.end());
  const Linux& l = *spec->linux;
  EXPECT_TRUE(l.masked_paths.empty());
  EXPECT_TRUE(l.readonly_paths.empty());
  EXPECT_FALSE(l.seccomp.has_value());
  ASSERT_EQ(l.resources->devices.size(), 1u);
  EXPECT_TRUE(l.resources->devices[0].allow);
  EXPECT_EQ(l.resources->devices[0].type, "a");
  EXPECT_EQ(l.resources->devices[0].access, "rwm");
  EXPECT_TRUE(HasOption(*FindMount(*spec, "/sys"), "rw"));
  EXPECT_TRUE(HasOption(*FindMount(*spec, "/sys/fs/cgroup"), "rw"));

  // A host that cannot grant CAP_SYS_RESOURCE yields a privileged spec without it.
  ProcessCapSets sets{.permitted = ~0ULL, .bounding = ~0ULL & ~(1ULL << 24)};
  opts.host_capabilities = GrantableCapabilities(40, sets);
  spec = DefaultSpec(opts);
  ASSERT_TRUE(spec.ok());
  const auto& b = spec->process->capabilities->bounding;
  EXPECT_EQ(b.size(), 40u);
  EXPECT_EQ(std::find(b.begin(), b.end(), "CAP_SYS_RESOURCE"), b.end());

  opts.host_capabilities.clear();
  EXPECT_FALSE(DefaultSpec(opts).ok());
}

TEST(DefaultSpec, UnprivilegedKeepsTheGivenSeccompAndCgroupNamespace) {
  DefaultSpecOptions opts;
  opts.seccomp = LinuxSeccomp{.default_action = SeccompAction::kErrno, .syscalls = {{.names = {"read"}}}};
  opts.cgroup_namespace = true;
  opts.terminal = true;
  absl::StatusOr<Spec> spec = DefaultSpec(opts);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->linux->seccomp, opts.seccomp);
  EXPECT_NE(spec->linux->FindNamespace(NamespaceType::kCgroup), nullptr);
  EXPECT_TRUE(spec->process->terminal);
}

TEST(DefaultSpec, DefaultDevices) {
  std::vector<Device> devs = DefaultDevices(false);
  std::vector<std::string> paths;
  for (const Device& d : devs) paths.push_back(d.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                             "/dev/urandom", "/dev/tty", "/dev/ptmx"}));
  EXPECT_EQ(devs[0].major, 1);
  EXPECT_EQ(devs[0].minor, 3);
  EXPECT_EQ(devs[0].file_mode, 0666u);
  std::vector<Device> with_console = DefaultDevices(true);
  ASSERT_EQ(with_console.size(), 8u);
  EXPECT_EQ(with_console.back().path, "/dev/console");
  EXPECT_EQ(with_console.back().major, 5);
  EXPECT_EQ(with_console.back().minor, 1);
}

TEST(DefaultSpec, DeviceCgroupRulesAllowTheDefaultDevices) {
  std::vector<DeviceCgroupRule> rules = DefaultDeviceCgroupRules();
  auto allowed = [&](std::string type, int64_t major, int64_t minor, char access) {
    bool result = false;  // later rules win, as the kernel applies them in order
    for (const DeviceCgroupRule& r : rules) {
      bool type_match = r.type.empty() || r.type == "a" || r.type == type;
      bool num_match = (!r.major || *r.major == major) && (!r.minor || *r.minor == minor);
      bool access_match = r.access.empty() || r.access.find(access) != std::string::npos;
      if (type_match && num_match && access_match) result = r.allow;
    }
    return result;
  };
  for (const Device& d : DefaultDevices(true)) {
    EXPECT_TRUE(allowed("c", d.major, d.minor, 'r')) << d.path;
    EXPECT_TRUE(allowed("c", d.major, d.minor, 'w')) << d.path;
  }
  EXPECT_TRUE(allowed("c", 136, 4, 'w'));    // /dev/pts/4
  EXPECT_TRUE(allowed("b", 8, 0, 'm'));      // mknod of anything
  EXPECT_FALSE(allowed("b", 8, 0, 'r'));     // but no access to the host's disks
  EXPECT_FALSE(allowed("c", 1, 1, 'r'));     // /dev/mem
  EXPECT_FALSE(allowed("c", 10, 232, 'w'));  // /dev/kvm
}

TEST(DefaultSpec, HostDevicesListsRealDeviceNodes) {
  absl::StatusOr<std::vector<Device>> devs = HostDevices("/dev");
  ASSERT_TRUE(devs.ok()) << devs.status();
  auto null = std::find_if(devs->begin(), devs->end(), [](const Device& d) { return d.path == "/dev/null"; });
  ASSERT_NE(null, devs->end());
  EXPECT_EQ(null->type, "c");
  EXPECT_EQ(null->major, 1);
  EXPECT_EQ(null->minor, 3);
  for (const Device& d : *devs) {
    EXPECT_NE(d.path.rfind("/dev/pts/", 0), 0u) << d.path;
    EXPECT_NE(d.path, "/dev/console");
  }
  EXPECT_TRUE(std::is_sorted(devs->begin(), devs->end(),
                             [](const Device& a, const Device& b) { return a.path < b.path; }));
  EXPECT_FALSE(HostDevices("/nonexistent-dev").ok());
}

}  // namespace
}  // namespace cricket::oci
