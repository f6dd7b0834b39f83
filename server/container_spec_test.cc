#include "server/container_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;

class ContainerSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-spec-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    rootfs_ = dir_ + "/rootfs";
    ASSERT_TRUE(MkdirAll(rootfs_ + "/etc").ok());
    ASSERT_TRUE(WriteFileAtomic(rootfs_ + "/etc/passwd",
                                "root:x:0:0:root:/root:/bin/sh\n"
                                "www-data:x:33:33:www:/var/www:/bin/false\n"
                                "default-user:x:1000:1000::/home/default-user:/bin/sh\n")
                    .ok());
    ASSERT_TRUE(WriteFileAtomic(rootfs_ + "/etc/group",
                                "root:x:0:\nwww-data:x:33:\ndefault-user:x:1000:\n"
                                "group-defined-in-image:x:50000:default-user\n")
                    .ok());
    image_.env = {"PATH=/img/bin", "IMG=1"};
    image_.entrypoint = std::vector<std::string>{"/entry"};
    image_.cmd = std::vector<std::string>{"cmd-arg"};
    image_.working_dir = "/work";
    config_.mutable_metadata()->set_name("c1");
    config_.mutable_image()->set_image("busybox");
    in_.id = "abc";
    in_.config = &config_;
    in_.image = &image_;
    in_.rootfs = rootfs_;
    in_.daemon = &daemon_;
    in_.host_capabilities = {"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",    "CAP_FOWNER",
                             "CAP_SETGID", "CAP_SETUID",       "CAP_SETPCAP",   "CAP_NET_BIND_SERVICE",
                             "CAP_KILL",   "CAP_NET_RAW",      "CAP_NET_ADMIN", "CAP_SYS_ADMIN"};
    in_.sandbox.id = "pod1";
    in_.sandbox.hostname = "podhost";
    in_.sandbox.netns_path = "/run/cricket/ns/netns/pod1";
    in_.sandbox.ipcns_path = "/run/cricket/ns/ipcns/pod1";
    in_.sandbox.utsns_path = "/run/cricket/ns/utsns/pod1";
    in_.sandbox.pidns_path = "/proc/123/ns/pid";
    in_.sandbox.hosts_path = dir_ + "/hosts";
    in_.sandbox.resolv_conf_path = dir_ + "/resolv.conf";
    in_.sandbox.hostname_path = dir_ + "/hostname";
    in_.sandbox.shm_path = dir_ + "/shm";
    in_.sandbox.cgroup_parent = "/kubepods/pod1";
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }

  const oci::Mount* FindMount(const oci::Spec& s, const std::string& dst) {
    for (const auto& m : s.mounts) {
      if (m.destination == dst) return &m;
    }
    return nullptr;
  }

  std::string dir_, rootfs_;
  image::ImageConfig image_;
  v1::ContainerConfig config_;
  Config daemon_;
  ContainerSpecInput in_;
};

TEST_F(ContainerSpecTest, ArgsFollowKubeletRules) {
  EXPECT_EQ(*ContainerArgs(config_, image_), (std::vector<std::string>{"/entry", "cmd-arg"}));
  config_.add_args("a");
  EXPECT_EQ(*ContainerArgs(config_, image_), (std::vector<std::string>{"/entry", "a"}));
  config_.add_command("/bin/sh");
  EXPECT_EQ(*ContainerArgs(config_, image_), (std::vector<std::string>{"/bin/sh", "a"}));
  config_.clear_args();
  EXPECT_EQ(*ContainerArgs(config_, image_), (std::vector<std::string>{"/bin/sh"}));
  v1::ContainerConfig empty;
  EXPECT_FALSE(ContainerArgs(empty, image::ImageConfig{}).ok());
}

TEST_F(ContainerSpecTest, EnvMergesWithLaterWinning) {
  auto* kv = config_.add_envs();
  kv->set_key("IMG");
  kv->set_value("2");
  kv = config_.add_envs();
  kv->set_key("NEW");
  kv->set_value("x=y");
  EXPECT_EQ(MergeEnv({"D=1", "IMG=0"}, image_.env, config_),
            (std::vector<std::string>{"D=1", "IMG=2", "PATH=/img/bin", "NEW=x=y"}));
}

TEST_F(ContainerSpecTest, CapabilitiesAddDropAndAll) {
  v1::Capability req;
  std::vector<std::string> defaults = {"CHOWN", "KILL"};
  EXPECT_EQ(*ContainerCapabilities(defaults, req, in_.host_capabilities),
            (std::vector<std::string>{"CAP_CHOWN", "CAP_KILL"}));
  req.add_add_capabilities("NET_RAW");
  req.add_drop_capabilities("CAP_KILL");
  EXPECT_EQ(*ContainerCapabilities(defaults, req, in_.host_capabilities),
            (std::vector<std::string>{"CAP_CHOWN", "CAP_NET_RAW"}));
  v1::Capability drop_all;
  drop_all.add_drop_capabilities("ALL");
  drop_all.add_add_capabilities("SYS_ADMIN");
  EXPECT_EQ(*ContainerCapabilities(defaults, drop_all, in_.host_capabilities),
            (std::vector<std::string>{"CAP_SYS_ADMIN"}));
  v1::Capability add_all;
  add_all.add_add_capabilities("ALL");
  add_all.add_drop_capabilities("NET_ADMIN");
  auto all = *ContainerCapabilities(defaults, add_all, in_.host_capabilities);
  EXPECT_EQ(all.size(), in_.host_capabilities.size() - 1);
  v1::Capability bad;
  bad.add_add_capabilities("FLY");
  EXPECT_FALSE(ContainerCapabilities(defaults, bad, in_.host_capabilities).ok());
}

TEST_F(ContainerSpecTest, DefaultContainerShapesTheSpec) {
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process->args, (std::vector<std::string>{"/entry", "cmd-arg"}));
  EXPECT_EQ(spec->process->cwd, "/work");
  EXPECT_EQ(spec->root->path, rootfs_);
  EXPECT_FALSE(spec->root->readonly);
  EXPECT_NE(std::find(spec->process->env.begin(), spec->process->env.end(), "HOSTNAME=podhost"),
            spec->process->env.end());
  EXPECT_NE(std::find(spec->process->env.begin(), spec->process->env.end(), "HOME=/root"),
            spec->process->env.end());
  EXPECT_EQ(spec->linux->cgroups_path, "/kubepods/pod1/cricket-abc");
  // Joined pod namespaces and a new mount namespace.
  ASSERT_NE(spec->linux->FindNamespace(oci::NamespaceType::kNetwork), nullptr);
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kNetwork)->path, in_.sandbox.netns_path);
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kPid)->path, "/proc/123/ns/pid");
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kMount)->path, "");
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kCgroup), nullptr);
  const oci::Mount* shm = FindMount(*spec, "/dev/shm");
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ(shm->source, dir_ + "/shm");
  EXPECT_NE(FindMount(*spec, "/etc/hosts"), nullptr);
  EXPECT_EQ(spec->process->capabilities->bounding.size(), 9u);  // crio's default list
  EXPECT_EQ(spec->annotations["io.kubernetes.cri.sandbox-id"], "pod1");
  EXPECT_FALSE(spec->linux->masked_paths.empty());
  EXPECT_EQ(*spec->process->oom_score_adj, 0);
}

TEST_F(ContainerSpecTest, UsersFromImageAndSecurityContext) {
  image_.user = "www-data";
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process->user.uid, 33u);
  EXPECT_EQ(spec->process->user.gid, 33u);

  // The image's predefined group is merged in, then the requested supplemental group.
  image_.user = "1000";
  auto* sc = config_.mutable_linux()->mutable_security_context();
  sc->add_supplemental_groups(1234);
  spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process->user.uid, 1000u);
  EXPECT_EQ(spec->process->user.additional_gids, (std::vector<uint32_t>{1000, 50000, 1234}));
  sc->set_supplemental_groups_policy(v1::Strict);
  spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process->user.additional_gids, (std::vector<uint32_t>{1000, 1234}));

  sc->mutable_run_as_user()->set_value(5000);
  sc->mutable_run_as_group()->set_value(6000);
  spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process->user.uid, 5000u);
  EXPECT_EQ(spec->process->user.gid, 6000u);

  sc->clear_run_as_user();
  auto group_only = BuildContainerSpec(in_);
  ASSERT_FALSE(group_only.ok());
  EXPECT_EQ(group_only.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(group_only.status().message().find("run_as_group is set without run_as_user"), std::string::npos);

  sc->set_run_as_username("nobody");
  auto missing = BuildContainerSpec(in_);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("\"nobody\" not found"), std::string::npos);
}

TEST_F(ContainerSpecTest, PasswdSymlinkToTheHostIsResolvedInsideTheRootfs) {
  ASSERT_EQ(unlink((rootfs_ + "/etc/passwd").c_str()), 0);
  // An absolute symlink: followed inside the rootfs it points at a file that does not exist there.
  ASSERT_EQ(symlink("/etc/shadow-host-secret", (rootfs_ + "/etc/passwd").c_str()), 0);
  config_.mutable_linux()->mutable_security_context()->set_run_as_username("root");
  auto spec = BuildContainerSpec(in_);
  EXPECT_FALSE(spec.ok());
}

TEST_F(ContainerSpecTest, CriMountsPropagationAndReadonly) {
  std::string host_dir = dir_ + "/vol";
  auto* m1 = config_.add_mounts();
  m1->set_container_path("/data/sub");
  m1->set_host_path(host_dir + "/sub");
  m1->set_readonly(true);
  auto* m2 = config_.add_mounts();
  m2->set_container_path("/data");
  m2->set_host_path(host_dir);
  m2->set_propagation(v1::PROPAGATION_BIDIRECTIONAL);
  auto* hosts = config_.add_mounts();
  hosts->set_container_path("/etc/hosts");
  hosts->set_host_path(dir_ + "/kubelet-hosts");
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  // Parents first, missing sources created, kubelet's /etc/hosts replaces the pod's.
  size_t data = 0, sub = 0;
  for (size_t i = 0; i < spec->mounts.size(); ++i) {
    if (spec->mounts[i].destination == "/data") data = i;
    if (spec->mounts[i].destination == "/data/sub") sub = i;
  }
  EXPECT_LT(data, sub);
  EXPECT_TRUE(PathExists(host_dir + "/sub"));
  const oci::Mount* d = FindMount(*spec, "/data");
  EXPECT_NE(std::find(d->options.begin(), d->options.end(), "rshared"), d->options.end());
  const oci::Mount* s = FindMount(*spec, "/data/sub");
  EXPECT_NE(std::find(s->options.begin(), s->options.end(), "ro"), s->options.end());
  EXPECT_EQ(spec->linux->rootfs_propagation, "rshared");
  EXPECT_EQ(FindMount(*spec, "/etc/hosts")->source, dir_ + "/kubelet-hosts");
  int count = 0;
  for (const auto& m : spec->mounts) count += m.destination == "/etc/hosts";
  EXPECT_EQ(count, 1);

  daemon_.runtime.absent_mount_sources_to_reject = {dir_ + "/absent"};
  auto* m3 = config_.add_mounts();
  m3->set_container_path("/x");
  m3->set_host_path(dir_ + "/absent");
  EXPECT_FALSE(BuildContainerSpec(in_).ok());
  EXPECT_FALSE(PathExists(dir_ + "/absent"));
}

TEST_F(ContainerSpecTest, ResourcesAndReadonlyRootfs) {
  auto* r = config_.mutable_linux()->mutable_resources();
  r->set_cpu_shares(512);
  r->set_cpu_quota(50000);
  r->set_cpu_period(100000);
  r->set_memory_limit_in_bytes(16 << 20);
  r->set_oom_score_adj(-998);
  r->set_cpuset_cpus("0");
  config_.mutable_linux()->mutable_security_context()->set_readonly_rootfs(true);
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const auto& res = *spec->linux->resources;
  EXPECT_EQ(*res.cpu->shares, 512u);
  EXPECT_EQ(*res.cpu->quota, 50000);
  EXPECT_EQ(*res.cpu->period, 100000u);
  EXPECT_EQ(res.cpu->cpus, "0");
  EXPECT_EQ(*res.memory->limit, 16 << 20);
  EXPECT_EQ(*spec->process->oom_score_adj, -998);
  EXPECT_TRUE(spec->root->readonly);
  EXPECT_NE(std::find(FindMount(*spec, "/etc/hosts")->options.begin(),
                      FindMount(*spec, "/etc/hosts")->options.end(), "ro"),
            FindMount(*spec, "/etc/hosts")->options.end());
  (*r->mutable_unified())["memory.high"] = "1G";
  EXPECT_FALSE(BuildContainerSpec(in_).ok());  // v1 host
  in_.cgroup_v2 = true;
  spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->linux->resources->unified.at("memory.high"), "1G");
  EXPECT_NE(spec->linux->FindNamespace(oci::NamespaceType::kCgroup), nullptr);
}

TEST_F(ContainerSpecTest, NamespaceModes) {
  auto* ns = config_.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_pid(v1::CONTAINER);
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kPid)->path, "");
  ns->set_pid(v1::NODE);
  in_.sandbox.netns_path.clear();  // host network
  spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kPid), nullptr);
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kNetwork), nullptr);
  ns->set_pid(v1::TARGET);
  ns->set_target_id("other");
  EXPECT_FALSE(BuildContainerSpec(in_).ok());
  in_.target_pidns_path = "/proc/77/ns/pid";
  spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kPid)->path, "/proc/77/ns/pid");
  // The pod runs in the host's user namespace: a container cannot ask for the pod's.
  ns->mutable_userns_options()->set_mode(v1::POD);
  EXPECT_TRUE(absl::IsInvalidArgument(BuildContainerSpec(in_).status()));
  EXPECT_EQ(spec->linux->FindNamespace(oci::NamespaceType::kUser), nullptr);
}

// A pod with a user namespace: every container joins it; the pod's files are idmapped with it; CRI
// volumes are idmapped only when they carry mappings (with the pod's own namespace when they are the
// pod's); a container's own userns_options may only repeat the pod's.
TEST_F(ContainerSpecTest, UserNamespaceOfThePod) {
  in_.sandbox.userns_path = "/run/cricket/ns/userns/pod1";
  in_.sandbox.userns = UserNamespaceMaps{{{0, 1000, 100000}}, {{0, 1000, 100000}}};
  auto map = [](auto* list, uint32_t host) {
    v1::IDMapping* m = list->Add();
    m->set_container_id(0);
    m->set_host_id(host);
    m->set_length(100000);
  };
  ASSERT_TRUE(MkdirAll(dir_ + "/vol").ok());
  v1::Mount* same = config_.add_mounts();
  same->set_host_path(dir_ + "/vol");
  same->set_container_path("/same");
  map(same->mutable_uidmappings(), 1000);
  map(same->mutable_gidmappings(), 1000);
  v1::Mount* other = config_.add_mounts();
  other->set_host_path(dir_ + "/vol");
  other->set_container_path("/other");
  map(other->mutable_uidmappings(), 7000);
  map(other->mutable_gidmappings(), 7000);
  v1::Mount* plain = config_.add_mounts();
  plain->set_host_path(dir_ + "/vol");
  plain->set_container_path("/plain");
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const oci::Namespace* user = spec->linux->FindNamespace(oci::NamespaceType::kUser);
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->path, "/run/cricket/ns/userns/pod1");
  EXPECT_TRUE(spec->linux->uid_mappings.empty()) << "a joined namespace has its maps already";
  auto has = [](const oci::Mount* m, const char* o) {
    return m != nullptr && std::find(m->options.begin(), m->options.end(), o) != m->options.end();
  };
  EXPECT_TRUE(has(FindMount(*spec, "/etc/hosts"), "idmap"));
  EXPECT_TRUE(has(FindMount(*spec, "/etc/resolv.conf"), "idmap"));
  EXPECT_FALSE(has(FindMount(*spec, "/dev/shm"), "idmap")) << "the pod's /dev/shm is its root's already";
  EXPECT_TRUE(has(FindMount(*spec, "/same"), "idmap"));
  EXPECT_TRUE(FindMount(*spec, "/same")->uid_mappings.empty());
  EXPECT_TRUE(has(FindMount(*spec, "/other"), "idmap"));
  ASSERT_EQ(FindMount(*spec, "/other")->uid_mappings.size(), 1u);
  EXPECT_EQ(FindMount(*spec, "/other")->uid_mappings[0].host_id, 7000u);
  EXPECT_FALSE(has(FindMount(*spec, "/plain"), "idmap"));

  auto* ns = config_.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->mutable_userns_options()->set_mode(v1::POD);
  map(ns->mutable_userns_options()->mutable_uids(), 1000);
  map(ns->mutable_userns_options()->mutable_gids(), 1000);
  EXPECT_TRUE(BuildContainerSpec(in_).ok());
  ns->mutable_userns_options()->mutable_gids(0)->set_host_id(2000);
  auto differs = BuildContainerSpec(in_);
  EXPECT_TRUE(absl::IsInvalidArgument(differs.status()));
  EXPECT_NE(differs.status().message().find("differ from its pod's"), std::string::npos) << differs.status();
}

TEST_F(ContainerSpecTest, RecursiveReadOnlyAndMountOptionsReachTheSpec) {
  ASSERT_TRUE(MkdirAll(dir_ + "/vol").ok());
  v1::Mount* m = config_.add_mounts();
  m->set_host_path(dir_ + "/vol");
  m->set_container_path("/mnt");
  m->set_readonly(true);
  m->set_recursive_read_only(true);
  m->add_mount_options("noexec");
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const oci::Mount* mnt = FindMount(*spec, "/mnt");
  ASSERT_NE(mnt, nullptr);
  EXPECT_EQ(mnt->options, (std::vector<std::string>{"rbind", "rprivate", "ro", "rro", "noexec"}));
  m->set_propagation(v1::PROPAGATION_BIDIRECTIONAL);
  auto refused = BuildContainerSpec(in_);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_NE(refused.status().message().find("mount " + dir_ + "/vol on /mnt"), std::string::npos)
      << refused.status();
  // A refused mount whose source is missing is refused before the source is made.
  m->set_host_path(dir_ + "/missing");
  EXPECT_TRUE(absl::IsInvalidArgument(BuildContainerSpec(in_).status()));
  EXPECT_FALSE(PathExists(dir_ + "/missing"));
}

TEST_F(ContainerSpecTest, PrivilegedGetsHostCapsAndDevicesAndNoMasks) {
  std::string dev = dir_ + "/dev";
  ASSERT_TRUE(MkdirAll(dev).ok());
  if (getuid() == 0) {
    ASSERT_EQ(mknod((dev + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  }
  in_.host_dev_dir = dev;
  config_.mutable_linux()->mutable_security_context()->set_privileged(true);
  config_.mutable_linux()->mutable_security_context()->add_masked_paths("/proc/kcore");
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process->capabilities->bounding.size(), in_.host_capabilities.size());
  EXPECT_TRUE(spec->linux->masked_paths.empty());
  EXPECT_TRUE(spec->linux->readonly_paths.empty());
  EXPECT_FALSE(spec->linux->seccomp.has_value());
  if (getuid() == 0) {
    ASSERT_EQ(spec->linux->devices.size(), 1u);
    EXPECT_EQ(spec->linux->devices[0].path, "/dev/null");
  }
}

TEST_F(ContainerSpecTest, CgroupsPathForBothDrivers) {
  EXPECT_EQ(CgroupsPath("cgroupfs", "", "x"), "/cricket/cricket-x");
  EXPECT_EQ(CgroupsPath("cgroupfs", "/kubepods/burstable/pod1/", "x"), "/kubepods/burstable/pod1/cricket-x");
  EXPECT_EQ(CgroupsPath("systemd", "kubepods-burstable-pod1.slice", "x"),
            "kubepods-burstable-pod1.slice:cricket:x");
  EXPECT_EQ(CgroupsPath("systemd", "", "x"), "system.slice:cricket:x");
}

TEST_F(ContainerSpecTest, BadInputIsNamed) {
  config_.mutable_metadata()->clear_name();
  EXPECT_NE(BuildContainerSpec(in_).status().message().find("metadata.name"), std::string::npos);
  config_.mutable_metadata()->set_name("c1");
  config_.set_working_dir("relative");
  EXPECT_NE(BuildContainerSpec(in_).status().message().find("working_dir"), std::string::npos);
  config_.clear_working_dir();
  auto* dev = config_.add_devices();
  dev->set_host_path(rootfs_ + "/etc/passwd");
  dev->set_container_path("/dev/x");
  EXPECT_NE(BuildContainerSpec(in_).status().message().find("not a character or block device"),
            std::string::npos);
}

TEST_F(ContainerSpecTest, DeviceOwnershipFromSecurityContext) {
  auto* dev = config_.add_devices();
  dev->set_host_path("/dev/null");
  dev->set_container_path("/dev/mynull");
  config_.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  config_.mutable_linux()->mutable_security_context()->mutable_run_as_group()->set_value(2000);
  auto find = [](const oci::Spec& s) -> const oci::Device* {
    for (const auto& d : s.linux->devices) {
      if (d.path == "/dev/mynull") return &d;
    }
    return nullptr;
  };
  // Off (the default): the host's owner of /dev/null (root).
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_NE(find(*spec), nullptr);
  EXPECT_EQ(find(*spec)->uid, 0u);
  EXPECT_EQ(find(*spec)->gid, 0u);
  // On: the container's run_as_user / run_as_group; the default devices keep theirs.
  daemon_.runtime.device_ownership_from_security_context = true;
  spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_NE(find(*spec), nullptr);
  EXPECT_EQ(find(*spec)->uid, 1000u);
  EXPECT_EQ(find(*spec)->gid, 2000u);
  for (const auto& d : spec->linux->devices) {
    if (d.path != "/dev/mynull") {
      EXPECT_NE(d.uid, std::optional<uint32_t>(1000u)) << d.path;
    }
  }
}

class DeclaredVolumesTest : public ContainerSpecTest {
 protected:
  void SetUp() override {
    ContainerSpecTest::SetUp();
    if (geteuid() != 0) GTEST_SKIP() << "chowns directories: needs root";
    image_.volumes = {"/data", "/var/cache/app"};
    in_.declared_volumes_dir = dir_ + "/volumes";
    config_.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  }
  static std::pair<uid_t, gid_t> Owner(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return {st.st_uid, st.st_gid};
  }
};

TEST_F(DeclaredVolumesTest, MkdirMakesMissingDirectoriesInTheRootfsOwnedByTheUser) {
  daemon_.image.image_volumes = "mkdir";
  ASSERT_TRUE(MkdirAll(rootfs_ + "/var/cache/app").ok());  // the image has this one: left as it is
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(Owner(rootfs_ + "/data"), std::make_pair(uid_t{1000}, gid_t{1000}));
  EXPECT_EQ(Owner(rootfs_ + "/var/cache/app"), std::make_pair(uid_t{0}, gid_t{0}));
  EXPECT_EQ(FindMount(*spec, "/data"), nullptr);
  EXPECT_FALSE(PathExists(in_.declared_volumes_dir));
}

TEST_F(DeclaredVolumesTest, MkdirStaysInsideTheRootfs) {
  daemon_.image.image_volumes = "mkdir";
  std::string host = dir_ + "/host-side";
  ASSERT_TRUE(MkdirAll(host).ok());
  ASSERT_EQ(::symlink(host.c_str(), (rootfs_ + "/evil").c_str()), 0);
  image_.volumes = {"/evil/data"};
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(PathExists(host + "/data"));
  EXPECT_TRUE(PathExists(rootfs_ + host + "/data"));  // the absolute link resolved inside the rootfs
}

TEST_F(DeclaredVolumesTest, BindGivesEachVolumeADirectoryOfItsOwnUnlessACriMountCoversIt) {
  daemon_.image.image_volumes = "bind";
  auto* m = config_.add_mounts();
  m->set_host_path(dir_ + "/kubelet-volume");
  m->set_container_path("/var/cache/app/");
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const oci::Mount* data = FindMount(*spec, "/data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->source, in_.declared_volumes_dir + "/0");
  EXPECT_THAT(data->options, ::testing::IsSupersetOf({"rbind", "rw", "nodev", "nosuid"}));
  EXPECT_EQ(Owner(data->source), std::make_pair(uid_t{1000}, gid_t{1000}));
  const oci::Mount* cache = FindMount(*spec, "/var/cache/app");
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->source, dir_ + "/kubelet-volume");  // kubelet's volume wins; nothing made for it
  EXPECT_FALSE(PathExists(in_.declared_volumes_dir + "/1"));
  EXPECT_FALSE(PathExists(rootfs_ + "/data"));
}

TEST_F(DeclaredVolumesTest, IgnoreDoesNothingAndARelativeVolumeIsRefused) {
  daemon_.image.image_volumes = "ignore";
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(PathExists(rootfs_ + "/data"));
  EXPECT_EQ(FindMount(*spec, "/data"), nullptr);
  daemon_.image.image_volumes = "mkdir";
  image_.volumes = {"relative/dir"};
  spec = BuildContainerSpec(in_);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), ::testing::HasSubstr("relative/dir"));
}

}  // namespace
}  // namespace cricket::server
