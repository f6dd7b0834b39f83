#include "lib/runtime/plan_builder.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "lib/oci/default_spec.h"
#include "lib/runtime/pod_namespaces.h"

namespace cricket::runtime {
namespace {

oci::Spec TestSpec() {
  oci::DefaultSpecOptions opts;
  opts.capabilities = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  auto spec = oci::DefaultSpec(opts);
  EXPECT_TRUE(spec.ok()) << spec.status();
  spec->process->args = {"sh", "-c", "true"};
  spec->hostname = "box";
  return *spec;
}

PlanContext TestContext(std::vector<std::string>* warnings) {
  PlanContext ctx;
  ctx.bundle = "/bundles/b1";
  ctx.host.last_cap = 40;
  ctx.host.grantable_caps = ~(1ULL << 24);  // like this host: no CAP_SYS_RESOURCE
  ctx.warnings = warnings;
  cgroups::Hierarchy cpu{1, "/sys/fs/cgroup/cpu,cpuacct", "/", {"cpu", "cpuacct"}, "/"};
  cgroups::Hierarchy mem{1, "/sys/fs/cgroup/memory", "/", {"memory"}, "/"};
  cgroups::Hierarchy unified{2, "/sys/fs/cgroup/unified", "/", {"hugetlb"}, "/"};
  ctx.host.cgroup_hierarchies = {cpu, mem, unified};
  ctx.cgroup_dirs = {{cpu, "/sys/fs/cgroup/cpu,cpuacct/c1"},
                     {mem, "/sys/fs/cgroup/memory/c1"},
                     {unified, "/sys/fs/cgroup/unified/c1"}};
  return ctx;
}

const MountStep* FindStep(const RootfsPlan& plan, const std::string& target, MountStep::Kind kind) {
  for (const auto& s : plan.steps) {
    if (s.target == target && s.kind == kind) return &s;
  }
  return nullptr;
}

TEST(NamespacePlanTest, NewNamespacesBecomeCloneFlagsCgroupIsUnsharedLater) {
  oci::Spec spec = TestSpec();
  spec.linux->namespaces.push_back({oci::NamespaceType::kCgroup, ""});
  auto plan = BuildNamespacePlan(spec);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->clone_flags,
            static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS));
  EXPECT_TRUE(plan->new_cgroup_ns);
  EXPECT_FALSE(plan->two_stage);
  EXPECT_FALSE(plan->shares_host_mount_ns);
  EXPECT_TRUE(plan->joins.empty());
}

TEST(NamespacePlanTest, JoinedNamespacesNeedTwoStagesAndUserComesLast) {
  oci::Spec spec = TestSpec();
  spec.linux->namespaces = {{oci::NamespaceType::kUser, "/run/pod/userns"},
                            {oci::NamespaceType::kNetwork, "/run/netns/pod"},
                            {oci::NamespaceType::kIpc, "/run/pod/ipc"},
                            {oci::NamespaceType::kPid, ""},
                            {oci::NamespaceType::kMount, ""}};
  auto plan = BuildNamespacePlan(spec);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->two_stage);
  ASSERT_EQ(plan->joins.size(), 3u);
  EXPECT_EQ(plan->joins[0].nstype, CLONE_NEWNET);
  EXPECT_EQ(plan->joins[1].nstype, CLONE_NEWIPC);
  EXPECT_EQ(plan->joins[2].nstype, CLONE_NEWUSER);
  EXPECT_EQ(plan->clone_flags, static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWNS));
  EXPECT_TRUE(plan->joins_user_ns);
  EXPECT_FALSE(plan->new_user_ns);
  EXPECT_TRUE(plan->in_user_ns());
}

// A pod's user namespace, joined by path: an idmapped mount without mappings of its own uses that very
// namespace, and device nodes are bind-mounted (mknod is not allowed there).
TEST(RootfsPlanTest, JoinedUserNamespaceIdmapsWithItselfAndBindsDevices) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.linux->namespaces.push_back({oci::NamespaceType::kUser, "/run/pod/userns"});
  spec.mounts.push_back({"/etc/hosts", "bind", "/run/pod/hosts", {"rbind", "rprivate", "idmap"}, {}, {}});
  spec.mounts.push_back(
      {"/data", "bind", "/srv/data", {"rbind", "rprivate", "idmap"}, {{0, 5000, 10}}, {{0, 6000, 10}}});
  auto ns = BuildNamespacePlan(spec);
  ASSERT_TRUE(ns.ok()) << ns.status();
  auto plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->idmaps.size(), 2u);
  EXPECT_EQ(plan->idmaps[0].userns_path, "/run/pod/userns");
  EXPECT_TRUE(plan->idmaps[1].userns_path.empty())
      << "a mount with its own mappings gets a namespace of its own";
  ASSERT_EQ(plan->idmaps[1].gid_map.size(), 1u);
  EXPECT_EQ(plan->idmaps[1].gid_map[0].host_id, 6000u);
  const MountStep* hosts = FindStep(*plan, "/etc/hosts", MountStep::Kind::kBind);
  ASSERT_NE(hosts, nullptr);
  EXPECT_EQ(hosts->idmap_index, 0);
  EXPECT_EQ(hosts->tree_fd, -1) << "trees are made by the runtime at create, not by the plan";
  EXPECT_TRUE(FindStep(*plan, "/dev/null", MountStep::Kind::kDevice)->bind_device);
  // Without any user namespace an idmapped mount needs mappings of its own.
  oci::Spec host = TestSpec();
  host.mounts.push_back({"/etc/hosts", "bind", "/run/pod/hosts", {"rbind", "idmap"}, {}, {}});
  auto host_ns = BuildNamespacePlan(host);
  auto refused = BuildRootfsPlan(host, *host_ns, TestContext(&warnings));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("user namespace"), std::string::npos) << refused.status();
}

TEST(NamespacePlanTest, UserNamespaceAndMappingsGoTogether) {
  oci::Spec spec = TestSpec();
  spec.linux->namespaces.push_back({oci::NamespaceType::kUser, ""});
  EXPECT_TRUE(absl::IsInvalidArgument(BuildNamespacePlan(spec).status()));
  spec.linux->uid_mappings = {{0, 100000, 65536}};
  spec.linux->gid_mappings = {{0, 100000, 65536}};
  auto plan = BuildNamespacePlan(spec);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->new_user_ns);
  EXPECT_TRUE(plan->clone_flags & CLONE_NEWUSER);
  ASSERT_EQ(plan->uid_map.size(), 1u);
  EXPECT_EQ(plan->uid_map[0].host_id, 100000u);
  spec.linux->namespaces.pop_back();
  auto bad = BuildNamespacePlan(spec);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("no new user namespace"), std::string::npos);
}

TEST(NamespacePlanTest, TimeOffsetsNeedATimeNamespaceAndTwoStages) {
  oci::Spec spec = TestSpec();
  spec.linux->time_offsets["monotonic"] = {10, 5};
  EXPECT_FALSE(BuildNamespacePlan(spec).ok());
  spec.linux->namespaces.push_back({oci::NamespaceType::kTime, ""});
  auto plan = BuildNamespacePlan(spec);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->time_offsets, "monotonic 10 5\n");
  EXPECT_TRUE(plan->two_stage);
}

TEST(NamespacePlanTest, NoMountNamespaceSharesTheHosts) {
  oci::Spec spec = TestSpec();
  std::erase_if(spec.linux->namespaces,
                [](const oci::Namespace& n) { return n.type == oci::NamespaceType::kMount; });
  auto plan = BuildNamespacePlan(spec);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->shares_host_mount_ns);
}

TEST(MountOptionsTest, FlagsPropagationRecursiveAttributesAndData) {
  MountOptions o = ParseMountOptions({"rbind", "ro", "nosuid", "rprivate", "rnoexec", "rrelatime", "idmap",
                                      "mode=755", "size=65536k", "tmpcopyup"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID));
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(o.rattr_set, static_cast<uint64_t>(MOUNT_ATTR_NOEXEC | MOUNT_ATTR_RELATIME));
  EXPECT_TRUE(o.rattr_clr & MOUNT_ATTR__ATIME);
  EXPECT_TRUE(o.idmap);
  EXPECT_EQ(o.data, (std::vector<std::string>{"mode=755", "size=65536k"}));
  EXPECT_EQ(o.ignored, (std::vector<std::string>{"tmpcopyup"}));
  MountOptions later = ParseMountOptions({"ro", "rw", "nodev", "dev"});
  EXPECT_EQ(later.flags, 0u);
  EXPECT_EQ(later.clear_flags, static_cast<unsigned long>(MS_RDONLY | MS_NODEV));
}

TEST(RootfsPlanTest, SharedRootfsPropagationKeepsHostPeerGroupsAndPrivatisesTheRootfsMount) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.linux->rootfs_propagation = "rshared";
  auto ns = BuildNamespacePlan(spec);
  auto plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->host_propagation, static_cast<unsigned long>(MS_REC | MS_SHARED));
  EXPECT_EQ(plan->rootfs_mount_candidates,
            (std::vector<std::string>{"/bundles/b1/rootfs", "/bundles/b1", "/bundles", "/"}));

  spec.linux->rootfs_propagation = "rslave";
  plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->host_propagation, static_cast<unsigned long>(MS_REC | MS_SLAVE));
  EXPECT_TRUE(plan->rootfs_mount_candidates.empty());
}

TEST(RootfsPlanTest, DefaultMountsInOrderWithSafeTargets) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  auto ns = BuildNamespacePlan(spec);
  auto plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->rootfs, "/bundles/b1/rootfs");
  EXPECT_EQ(plan->host_propagation, static_cast<unsigned long>(MS_REC | MS_SLAVE));
  ASSERT_GE(plan->steps.size(), 7u);
  EXPECT_EQ(plan->steps[0].target, "/proc");
  EXPECT_EQ(plan->steps[0].fstype, "proc");
  EXPECT_TRUE(plan->steps[0].no_symlinks);
  const MountStep* dev = FindStep(*plan, "/dev", MountStep::Kind::kMount);
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->fstype, "tmpfs");
  EXPECT_TRUE(dev->flags & MS_NOSUID);
  const MountStep* sys = FindStep(*plan, "/sys", MountStep::Kind::kMount);
  ASSERT_NE(sys, nullptr);
  EXPECT_TRUE(sys->flags & MS_RDONLY);
  EXPECT_TRUE(plan->set_hostname);
  EXPECT_EQ(plan->hostname, "box");
  EXPECT_FALSE(plan->masked_paths.empty());
  EXPECT_FALSE(plan->readonly_paths.empty());
}

TEST(RootfsPlanTest, CgroupMountMirrorsEachHierarchy) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  auto ns = BuildNamespacePlan(spec);
  // Without a cgroup namespace: the container's own cgroups are bind-mounted, read-only.
  auto plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const MountStep* tmpfs = FindStep(*plan, "/sys/fs/cgroup", MountStep::Kind::kMount);
  ASSERT_NE(tmpfs, nullptr);
  EXPECT_EQ(tmpfs->fstype, "tmpfs");
  const MountStep* mem = FindStep(*plan, "/sys/fs/cgroup/memory", MountStep::Kind::kBind);
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->source, "/sys/fs/cgroup/memory/c1");
  EXPECT_TRUE(mem->rattr_set & MOUNT_ATTR_RDONLY);
  EXPECT_NE(FindStep(*plan, "/sys/fs/cgroup/cpu,cpuacct", MountStep::Kind::kBind), nullptr);
  const MountStep* link = FindStep(*plan, "/sys/fs/cgroup/cpu", MountStep::Kind::kSymlink);
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->source, "cpu,cpuacct");
  EXPECT_NE(FindStep(*plan, "/sys/fs/cgroup", MountStep::Kind::kRemount), nullptr);
  // With a cgroup namespace: fresh cgroup mounts of each hierarchy.
  ns->new_cgroup_ns = true;
  plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok());
  mem = FindStep(*plan, "/sys/fs/cgroup/memory", MountStep::Kind::kMount);
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->fstype, "cgroup");
  EXPECT_EQ(mem->data, "memory");
  const MountStep* unified = FindStep(*plan, "/sys/fs/cgroup/unified", MountStep::Kind::kMount);
  ASSERT_NE(unified, nullptr);
  EXPECT_EQ(unified->fstype, "cgroup2");
}

TEST(RootfsPlanTest, BindSourcesRelativeToBundleAndAttributes) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.mounts.push_back({"/data", "bind", "data", {"rbind", "ro", "rnosuid"}, {}, {}});
  spec.mounts.push_back({"etc/hosts", "", "/abs/hosts", {"bind"}, {}, {}});
  auto ns = BuildNamespacePlan(spec);
  auto plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const MountStep* data = FindStep(*plan, "/data", MountStep::Kind::kBind);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->source, "/bundles/b1/data");
  EXPECT_TRUE(data->recursive);
  EXPECT_EQ(data->attr_set, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));  // "ro": the top mount only
  EXPECT_EQ(data->rattr_set, static_cast<uint64_t>(MOUNT_ATTR_NOSUID));
  // A relative destination is taken relative to "/".
  const MountStep* hosts = FindStep(*plan, "/etc/hosts", MountStep::Kind::kBind);
  ASSERT_NE(hosts, nullptr);
  EXPECT_FALSE(hosts->recursive);
}

TEST(RootfsPlanTest, MountsOverProcFilesAreRestricted) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.mounts.push_back({"/proc/self/attr", "bind", "/tmp/x", {"bind"}, {}, {}});
  auto ns = BuildNamespacePlan(spec);
  auto plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("/proc/self/attr"), std::string::npos);
  spec.mounts.back().destination = "/proc/meminfo";  // lxcfs-style view: allowed
  EXPECT_TRUE(BuildRootfsPlan(spec, *ns, TestContext(&warnings)).ok());
}

TEST(RootfsPlanTest, DevicesDefaultsAndSymlinks) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.linux->devices.push_back({"/dev/fuse", "c", 10, 229, 0600, 1000, 1000});
  auto ns = BuildNamespacePlan(spec);
  auto plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const MountStep* fuse = FindStep(*plan, "/dev/fuse", MountStep::Kind::kDevice);
  ASSERT_NE(fuse, nullptr);
  EXPECT_EQ(fuse->mode, static_cast<mode_t>(S_IFCHR | 0600));
  EXPECT_EQ(fuse->dev, makedev(10, 229));
  EXPECT_EQ(fuse->uid, 1000u);
  const MountStep* null = FindStep(*plan, "/dev/null", MountStep::Kind::kDevice);
  ASSERT_NE(null, nullptr);
  EXPECT_EQ(null->dev, makedev(1, 3));
  EXPECT_FALSE(null->bind_device);
  const MountStep* ptmx = FindStep(*plan, "/dev/ptmx", MountStep::Kind::kSymlink);
  ASSERT_NE(ptmx, nullptr);
  EXPECT_EQ(ptmx->source, "pts/ptmx");
  const MountStep* fd = FindStep(*plan, "/dev/fd", MountStep::Kind::kSymlink);
  ASSERT_NE(fd, nullptr);
  EXPECT_EQ(fd->source, "/proc/self/fd");
  // In a user namespace mknod is not allowed: the host's nodes are bind-mounted.
  ns->new_user_ns = true;
  plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  EXPECT_TRUE(FindStep(*plan, "/dev/null", MountStep::Kind::kDevice)->bind_device);
}

TEST(RootfsPlanTest, SysctlsMustBeNamespacedAndOwned) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.linux->sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "1000000"}};
  auto ns = BuildNamespacePlan(spec);
  auto plan = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->sysctls.size(), 2u);
  EXPECT_EQ(plan->sysctls[1].path, "/proc/sys/net/ipv4/ip_forward");
  spec.linux->sysctl = {{"vm.swappiness", "10"}};
  EXPECT_FALSE(BuildRootfsPlan(spec, *ns, TestContext(&warnings)).ok());
  spec.linux->sysctl = {{"net.core.somaxconn", "10"}};
  std::erase_if(spec.linux->namespaces,
                [](const oci::Namespace& n) { return n.type == oci::NamespaceType::kNetwork; });
  auto host_net = BuildRootfsPlan(spec, *ns, TestContext(&warnings));
  ASSERT_FALSE(host_net.ok());
  EXPECT_NE(host_net.status().message().find("host's network namespace"), std::string::npos);
  EXPECT_EQ(*SysctlPath("net/ipv4/conf/eth0.1/forwarding"), "/proc/sys/net/ipv4/conf/eth0.1/forwarding");
  EXPECT_FALSE(SysctlPath("net/../../etc").ok());
}

TEST(RootfsPlanTest, HostnameNeedsAUtsNamespace) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  std::erase_if(spec.linux->namespaces,
                [](const oci::Namespace& n) { return n.type == oci::NamespaceType::kUts; });
  auto ns = BuildNamespacePlan(spec);
  EXPECT_FALSE(BuildRootfsPlan(spec, *ns, TestContext(&warnings)).ok());
}

TEST(ProcessPlanTest, CapabilityMasksAndHostLimits) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.process->capabilities->bounding.push_back("CAP_SYS_RESOURCE");
  spec.process->user = {1000, 1000, 027, {10, 20}, ""};
  spec.process->no_new_privileges = true;
  auto ns = BuildNamespacePlan(spec);
  auto plan = BuildProcessPlan(*spec.process, *ns, TestContext(&warnings));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->caps.has_value());
  const uint64_t want = (1ULL << 0) | (1ULL << 5) | (1ULL << 10);  // CHOWN, KILL, NET_BIND_SERVICE
  EXPECT_EQ(plan->caps->bounding, want);  // CAP_SYS_RESOURCE dropped: not grantable here
  EXPECT_EQ(plan->caps->effective, want);
  EXPECT_EQ(plan->caps->inheritable, 0u);
  EXPECT_EQ(plan->uid, 1000u);
  EXPECT_EQ(plan->additional_gids, (std::vector<gid_t>{10, 20}));
  EXPECT_EQ(plan->umask, std::optional<mode_t>(027));
  EXPECT_TRUE(plan->no_new_privileges);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("CAP_SYS_RESOURCE"), std::string::npos);
  ASSERT_EQ(plan->argv.size(), 4u);
  EXPECT_STREQ(plan->argv[0], "sh");
  EXPECT_EQ(plan->argv[3], nullptr);
}

TEST(ProcessPlanTest, UnknownCapabilityIsAnError) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.process->capabilities->bounding.push_back("CAP_TEST");
  auto ns = BuildNamespacePlan(spec);
  auto plan = BuildProcessPlan(*spec.process, *ns, TestContext(&warnings));
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("CAP_TEST"), std::string::npos);
}

TEST(ProcessPlanTest, LsmLabelsNeedTheLsm) {
  std::vector<std::string> warnings;
  oci::Spec spec = TestSpec();
  spec.process->apparmor_profile = "cricket-default";
  auto ns = BuildNamespacePlan(spec);
  PlanContext ctx = TestContext(&warnings);
  auto plan = BuildProcessPlan(*spec.process, *ns, ctx);
  ASSERT_TRUE(absl::IsFailedPrecondition(plan.status())) << plan.status();
  EXPECT_NE(plan.status().message().find("AppArmor is not enabled"), std::string::npos);
  ctx.host.apparmor_enabled = true;
  plan = BuildProcessPlan(*spec.process, *ns, ctx);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->lsm_exec_attr_value, "exec cricket-default");
}

TEST(ProcessPlanTest, ExecutableCandidatesFollowThePath) {
  EXPECT_EQ(ExecCandidates("sh", {"PATH=/usr/bin:/bin"}),
            (std::vector<std::string>{"/usr/bin/sh", "/bin/sh"}));
  EXPECT_EQ(ExecCandidates("/bin/true", {"PATH=/x"}), (std::vector<std::string>{"/bin/true"}));
  EXPECT_EQ(ExecCandidates("./run", {}), (std::vector<std::string>{"./run"}));
  EXPECT_EQ(ExecCandidates("ls", {}).front(), "/usr/local/sbin/ls");
}

TEST(SysctlNamespaceTest, OneRuleForPodsAndSpecs) {
  for (const char* ipc : {"kernel.shmmax", "kernel.shm_rmid_forced", "kernel.msgmnb", "kernel.sem",
                          "fs.mqueue.msg_max", "kernel/shmall"}) {
    EXPECT_EQ(SysctlNamespace(ipc).value_or(""), "ipc") << ipc;
  }
  for (const char* net : {"net.ipv4.ip_forward", "net/ipv4/conf/eth0.100/forwarding"}) {
    EXPECT_EQ(SysctlNamespace(net).value_or(""), "net") << net;
  }
  for (const char* host : {"kernel.panic", "vm.swappiness", "kernel.hostname", "network.x"}) {
    auto ns = SysctlNamespace(host);
    ASSERT_FALSE(ns.ok()) << host;
    EXPECT_NE(ns.status().message().find(host), std::string::npos) << ns.status();
  }
}

}  // namespace

}  // namespace cricket::runtime
