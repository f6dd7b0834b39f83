// Kubernetes 1.36 pod features against the real cricketd: user-namespaced pods (hostUsers: false) with
// idmapped and plain volumes, what the container's root may not do to the host, recursive read-only
// volumes, SupplementalGroupsPolicy with ContainerStatus.user, mount options, idmapped volumes of a
// host-namespace pod, and the refusals, each leaving nothing behind. Needs root (see pod_fixture.h).
#include <gmock/gmock.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "test/e2e/pod_fixture.h"

namespace cricket::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int kWaitMs = 30'000;
constexpr char kPredefinedGroupImage[] = "gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest";

std::string Joined(const Leftovers& l) { return Join(l, "\n"); }

void AddMapping(google::protobuf::RepeatedPtrField<v1::IDMapping>* list, uint32_t host, uint32_t length) {
  v1::IDMapping* m = list->Add();
  m->set_container_id(0);
  m->set_host_id(host);
  m->set_length(length);
}

uid_t OwnerOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

class PodFeaturesTest : public PodE2eTest {
 protected:
  void SetUp() override {
    PodE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/cricket-podfeat-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    host_dir_ = tmpl;
    ASSERT_EQ(chmod(host_dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    PodE2eTest::TearDown();
    for (const std::string& m : host_mounts_) ::umount2(m.c_str(), MNT_DETACH);
    if (!host_dir_.empty()) {
      EXPECT_TRUE(RemoveAll(host_dir_).ok());
    }
  }

  // The pod's ids: container 0-65535 on host ids of this test's slot.
  uint32_t HostBase() const { return 400000 + static_cast<uint32_t>(slot()) * 65536; }
  v1::NamespaceOption UsernsOptions() const {
    v1::NamespaceOption ns;
    ns.mutable_userns_options()->set_mode(v1::POD);
    AddMapping(ns.mutable_userns_options()->mutable_uids(), HostBase(), 65536);
    AddMapping(ns.mutable_userns_options()->mutable_gids(), HostBase(), 65536);
    return ns;
  }
  v1::PodSandboxConfig UsernsPod(const std::string& name) {
    v1::PodSandboxConfig pod = PodConfig(name);
    *pod.mutable_linux()->mutable_security_context()->mutable_namespace_options() = UsernsOptions();
    return pod;
  }
  // A host directory (0755) with a file host root owns.
  std::string HostVolume(const std::string& name) {
    std::string dir = host_dir_ + "/" + name;
    EXPECT_EQ(mkdir(dir.c_str(), 0755), 0);
    EXPECT_TRUE(WriteFileAtomic(dir + "/host-owned", "original\n", 0644).ok());
    return dir;
  }
  static v1::Mount* AddVolume(v1::ContainerConfig& c, const std::string& host, const std::string& path) {
    v1::Mount* m = c.add_mounts();
    m->set_host_path(host);
    m->set_container_path(path);
    return m;
  }
  // Every container with the pod's maps, as kubelet sends them.
  void Namespaced(v1::ContainerConfig& c) const {
    *c.mutable_linux()->mutable_security_context()->mutable_namespace_options() = UsernsOptions();
  }
  // Overlay-containers directories of the store (a failed create must leave none).
  std::vector<std::string> RootfsDirs() {
    return ListDir(daemon().root() + "/storage/overlay-containers").value_or(std::vector<std::string>{});
  }

  std::string host_dir_;
  std::vector<std::string> host_mounts_;
};

// hostUsers: false. The container's root is uid 0 in a user namespace mapped to the slot's host ids;
// the image and an image volume are idmapped (root's files are root's, nothing chowned); a volume with
// the pod's mappings shows the host's root-owned files as root's; a volume without mappings leaves them to
// "nobody", and the container's root can neither write nor chown them: its capabilities are the namespace's.
TEST_F(PodFeaturesTest, UserNamespacedPod) {
  v1::PodSandboxConfig pod = UsernsPod("userns");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  v1::PodSandboxStatusResponse ps;
  ASSERT_TRUE(GetPodStatus(pod_id, &ps, /*verbose=*/true).ok());
  EXPECT_THAT(ps.info().at("info"), HasSubstr("/userns/" + pod_id));
  EXPECT_THAT(Joined(PinsLeft()), HasSubstr("userns/" + pod_id));

  std::string plain = HostVolume("plain"), mapped = HostVolume("mapped");
  v1::ContainerConfig c = ShellContainer("ctr", "echo logged-from-userns; exec sleep 1000");
  Namespaced(c);
  AddVolume(c, plain, "/plain");
  v1::Mount* m = AddVolume(c, mapped, "/mapped");
  AddMapping(m->mutable_uidmappings(), HostBase(), 65536);
  AddMapping(m->mutable_gidmappings(), HostBase(), 65536);
  v1::Mount* image = c.add_mounts();
  image->mutable_image()->set_image(kBusybox);
  image->set_container_path("/image");
  image->set_readonly(true);
  std::string id = MustRunContainer(pod_id, pod, c);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitForState(id, v1::CONTAINER_RUNNING, kWaitMs));

  EXPECT_EQ(MustExec(id, "awk '{print $1, $2, $3}' /proc/self/uid_map /proc/self/gid_map"),
            StrCat("0 ", HostBase(), " 65536\n0 ", HostBase(), " 65536\n"));
  EXPECT_EQ(MustExec(id, "id -u; id -g"), "0\n0\n");
  EXPECT_EQ(MustExec(id, "stat -c %u:%g / /bin/busybox /etc/hosts /etc/resolv.conf /etc/hostname"),
            "0:0\n0:0\n0:0\n0:0\n0:0\n");
  // An image volume is seen through the pod's maps as the rootfs is: the image's root-owned files are
  // root's, not the overflow id's; it stays read-only.
  EXPECT_EQ(MustExec(id, "stat -c %u:%g /image/bin/busybox /image/etc"), "0:0\n0:0\n");
  ExecOutput image_write = Exec(id, {"touch", "/image/new"});
  EXPECT_THAT(image_write.err, HasSubstr("Read-only file system"));
  MustExec(id, "echo rootfs > /written && touch /dev/shm/shared && echo mine > /etc/hosts");
  v1::ContainerStatusResponse cs;
  ASSERT_TRUE(GetContainerStatus(id, &cs, /*verbose=*/true).ok());
  EXPECT_EQ(cs.status().user().linux().uid(), 0);
  EXPECT_EQ(cs.status().user().linux().gid(), 0);
  // The container's writes land in its upper layer as its host ids; the image layers keep theirs.
  std::string info = cs.info().at("info");
  size_t at = info.find("\"rootfs\":\"");
  ASSERT_NE(at, std::string::npos) << info;
  std::string merged = info.substr(at + 10, info.find('"', at + 10) - at - 10);
  EXPECT_EQ(OwnerOf(merged + "/written"), HostBase());
  EXPECT_EQ(OwnerOf(merged + "/bin/busybox"), HostBase()) << "the host sees the image through the pod's maps";

  // The plain volume: host root's file is nobody's, and root in the pod cannot touch it.
  EXPECT_EQ(MustExec(id, "stat -c %u /plain/host-owned"), "65534\n");
  ExecOutput write = Exec(id, {"sh", "-c", "echo changed > /plain/host-owned"});
  EXPECT_NE(write.exit_code, 0) << write.out << write.err;
  EXPECT_THAT(write.err, HasSubstr("Permission denied"));
  ExecOutput chown = Exec(id, {"chown", "0:0", "/plain/host-owned"});
  EXPECT_NE(chown.exit_code, 0) << chown.out << chown.err;
  ExecOutput rm = Exec(id, {"rm", "-f", "/plain/host-owned"});
  EXPECT_NE(rm.exit_code, 0) << rm.out << rm.err;
  ExecOutput mknod = Exec(id, {"mknod", "/tmp/mem", "c", "1", "1"});
  EXPECT_NE(mknod.exit_code, 0) << "CAP_MKNOD is the namespace's: no device nodes";
  EXPECT_EQ(ReadFile(plain + "/host-owned").value_or(""), "original\n");
  EXPECT_EQ(OwnerOf(plain + "/host-owned"), 0u);
  // The idmapped volume: the same file is root's, and root's writes keep the host owner.
  EXPECT_EQ(MustExec(id, "stat -c %u:%g /mapped/host-owned"), "0:0\n");
  MustExec(id, "echo changed > /mapped/host-owned && touch /mapped/new");
  EXPECT_EQ(ReadFile(mapped + "/host-owned").value_or(""), "changed\n");
  EXPECT_EQ(OwnerOf(mapped + "/host-owned"), 0u);
  EXPECT_EQ(OwnerOf(mapped + "/new"), 0u) << "nothing on the host changes owner";

  std::string log = ReadFile(pod.log_directory() + "/ctr.log").value_or("");
  EXPECT_THAT(log, HasSubstr("logged-from-userns"));

  // After a crash of cricketd the pod keeps its namespace: a new container (read-only rootfs this
  // time) joins the same one.
  KillDaemon();
  StartDaemon();
  ASSERT_FALSE(HasFatalFailure());
  v1::ContainerConfig ro = ShellContainer("ro", "exec sleep 1000");
  Namespaced(ro);
  ro.mutable_linux()->mutable_security_context()->set_readonly_rootfs(true);
  std::string ro_id = MustRunContainer(pod_id, pod, ro);
  ASSERT_FALSE(ro_id.empty());
  EXPECT_EQ(MustExec(ro_id, "readlink /proc/self/ns/user"), MustExec(id, "readlink /proc/self/ns/user"));
  EXPECT_EQ(MustExec(ro_id, "id -u; stat -c %u /bin/busybox"), "0\n0\n");
  ExecOutput ro_write = Exec(ro_id, {"touch", "/new"});
  EXPECT_THAT(ro_write.err, HasSubstr("Read-only file system"));

  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

// What the CRI comments and critest refuse, and user namespaces this cricket cannot give: each an
// InvalidArgument naming the problem, with no pin, mount, cgroup or record left behind; a container
// refused in a user-namespaced pod leaves no rootfs, mount or cgroup either.
TEST_F(PodFeaturesTest, UserNamespaceRefusalsLeaveNothing) {
  struct Case {
    const char* what;
    std::function<void(v1::NamespaceOption&)> change;
    const char* named;
  } cases[] = {
      {"two mappings",
       [](v1::NamespaceOption& ns) {
         AddMapping(ns.mutable_userns_options()->mutable_uids(), 900000, 65536);
         AddMapping(ns.mutable_userns_options()->mutable_gids(), 900000, 65536);
       },
       "exactly one uid and one gid mapping"},
      {"root unmapped",
       [](v1::NamespaceOption& ns) { ns.mutable_userns_options()->mutable_uids(0)->set_container_id(1); },
       "container uid 0 (root) is not mapped"},
      {"mode CONTAINER",
       [](v1::NamespaceOption& ns) { ns.mutable_userns_options()->set_mode(v1::CONTAINER); },
       "mode CONTAINER"},
      {"mode TARGET", [](v1::NamespaceOption& ns) { ns.mutable_userns_options()->set_mode(v1::TARGET); },
       "mode TARGET"},
      {"host root",
       [](v1::NamespaceOption& ns) { ns.mutable_userns_options()->mutable_gids(0)->set_host_id(0); },
       "host id 0"},
      {"host network", [](v1::NamespaceOption& ns) { ns.set_network(v1::NODE); }, "host's network"},
  };
  for (const Case& k : cases) {
    v1::PodSandboxConfig pod = UsernsPod("refused");
    k.change(*pod.mutable_linux()->mutable_security_context()->mutable_namespace_options());
    std::string id;
    grpc::Status st = RunPod(pod, &id);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << k.what << ": " << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr(k.named)) << k.what;
    EXPECT_TRUE(ListPods().empty()) << k.what;
    EXPECT_THAT(AllLeft(), IsEmpty()) << k.what << "\n" << Joined(AllLeft());
  }

  v1::PodSandboxConfig pod = UsernsPod("userns-refusals");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  Leftovers pod_state = AllLeft();  // the pod's own pins, mounts, cgroups and records
  std::string vol = HostVolume("vol");
  v1::ContainerConfig other = ShellContainer("other-maps", "sleep 1000");
  Namespaced(other);
  other.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options()
      ->mutable_uids(0)
      ->set_host_id(HostBase() + 1);
  v1::ContainerConfig node = ShellContainer("node-userns", "sleep 1000");
  node.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options()
      ->set_mode(v1::NODE);
  v1::ContainerConfig bad_option = ShellContainer("bad-option", "sleep 1000");
  Namespaced(bad_option);
  AddVolume(bad_option, vol, "/vol")->add_mount_options("size=1m");
  v1::ContainerConfig one_sided = ShellContainer("one-sided", "sleep 1000");
  AddMapping(AddVolume(one_sided, vol, "/vol")->mutable_uidmappings(), HostBase(), 65536);
  const std::pair<v1::ContainerConfig*, const char*> refused[] = {
      {&other, "differ from its pod's"},
      {&node, "mode NODE"},
      {&bad_option, "\"size=1m\""},
      {&one_sided, "uidMappings and gidMappings go together"}};
  for (const auto& [config, named] : refused) {
    std::string id;
    grpc::Status st = CreateContainer(pod_id, pod, *config, &id);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << named << ": " << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr(named));
    EXPECT_TRUE(RootfsDirs().empty()) << named;
    EXPECT_EQ(AllLeft(), pod_state) << named;
  }
  EXPECT_TRUE(ListContainers().empty());
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

// recursive_read_only: a submount of the volume is read-only too, where readonly alone leaves it
// writable; the combinations the CRI forbids are refused.
TEST_F(PodFeaturesTest, RecursiveReadOnlyVolume) {
  std::string vol = HostVolume("vol");
  ASSERT_EQ(mkdir((vol + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(mount("tmpfs", (vol + "/sub").c_str(), "tmpfs", 0, "mode=1777,size=1m"), 0);
  host_mounts_.push_back(vol + "/sub");
  v1::PodSandboxConfig pod = PodConfig("rro");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  v1::ContainerConfig c = ShellContainer("ctr", "exec sleep 1000");
  v1::Mount* rro = AddVolume(c, vol, "/rro");
  rro->set_readonly(true);
  rro->set_recursive_read_only(true);
  AddVolume(c, vol, "/ro")->set_readonly(true);
  std::string id = MustRunContainer(pod_id, pod, c);
  ASSERT_FALSE(id.empty());
  ExecOutput sub = Exec(id, {"touch", "/rro/sub/escape"});
  EXPECT_NE(sub.exit_code, 0);
  EXPECT_THAT(sub.err, HasSubstr("Read-only file system"));
  ExecOutput top = Exec(id, {"touch", "/rro/escape"});
  EXPECT_THAT(top.err, HasSubstr("Read-only file system"));
  MustExec(id, "touch /ro/sub/allowed");  // without recursive_read_only the submount stays writable
  EXPECT_FALSE(PathExists(vol + "/sub/escape"));
  EXPECT_TRUE(PathExists(vol + "/sub/allowed"));

  for (auto change : std::vector<std::function<void(v1::Mount&)>>{
           [](v1::Mount& m) { m.set_readonly(false); },
           [](v1::Mount& m) { m.set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER); },
           [](v1::Mount& m) { m.set_propagation(v1::PROPAGATION_BIDIRECTIONAL); }}) {
    v1::ContainerConfig bad = ShellContainer("bad", "sleep 1000");
    v1::Mount* m = AddVolume(bad, vol, "/rro");
    m->set_readonly(true);
    m->set_recursive_read_only(true);
    change(*m);
    std::string bad_id;
    grpc::Status st = CreateContainer(pod_id, pod, bad, &bad_id);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("recursive_read_only"));
  }
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

// SupplementalGroupsPolicy: Merge adds the image's /etc/group memberships of the user, Strict only the
// requested groups; ContainerStatus.user is what the process got, also once it has exited.
TEST_F(PodFeaturesTest, SupplementalGroupsPolicyAndTheReportedUser) {
  grpc::Status pulled = PullImage(kPredefinedGroupImage);
  ASSERT_TRUE(pulled.ok()) << pulled.error_message();
  v1::PodSandboxConfig pod = PodConfig("groups");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  struct Case {
    v1::SupplementalGroupsPolicy policy;
    const char* name;
    std::vector<int64_t> groups;
  } cases[] = {{v1::Merge, "merge", {1000, 1234, 50000}}, {v1::Strict, "strict", {1000, 1234}}};
  for (const Case& k : cases) {
    v1::ContainerConfig c = ShellContainer(k.name, "id -G; sleep 1000");
    c.mutable_image()->set_image(kPredefinedGroupImage);
    auto* sc = c.mutable_linux()->mutable_security_context();
    sc->mutable_run_as_user()->set_value(1000);
    sc->add_supplemental_groups(1234);
    sc->set_supplemental_groups_policy(k.policy);
    std::string id = MustRunContainer(pod_id, pod, c);
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(WaitForState(id, v1::CONTAINER_RUNNING, kWaitMs));
    std::vector<std::string> names;
    for (int64_t g : k.groups) names.push_back(StrCat(g));
    std::string expected = Join(names, " ") + "\n";
    EXPECT_EQ(MustExec(id, "id -G"), expected) << k.name;
    v1::ContainerStatus st = ContainerStatus(id);
    EXPECT_EQ(st.user().linux().uid(), 1000) << k.name;
    EXPECT_EQ(st.user().linux().gid(), 1000) << k.name;
    std::vector<int64_t> got(st.user().linux().supplemental_groups().begin(),
                             st.user().linux().supplemental_groups().end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, k.groups) << k.name;
    ASSERT_TRUE(StopContainer(id, 0).ok());
    st = ContainerStatus(id);
    EXPECT_EQ(st.state(), v1::CONTAINER_EXITED);
    EXPECT_EQ(st.user().linux().supplemental_groups_size(), static_cast<int>(k.groups.size()))
        << "recorded from the process when it was created";
  }
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

// Mount.mount_options apply to the bind mount (a noexec volume runs nothing); an idmapped volume of a
// pod in the host's user namespace shows the host's ids shifted by its own mapping.
TEST_F(PodFeaturesTest, MountOptionsAndIdmappedVolumeOfAHostNamespacePod) {
  std::string vol = HostVolume("vol");
  ASSERT_TRUE(WriteFileAtomic(vol + "/run.sh", "#!/bin/sh\necho ran\n", 0755).ok());
  v1::PodSandboxConfig pod = PodConfig("options");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  v1::ContainerConfig c = ShellContainer("ctr", "exec sleep 1000");
  v1::Mount* noexec = AddVolume(c, vol, "/noexec");
  noexec->add_mount_options("noexec");
  noexec->add_mount_options("nosuid");
  AddVolume(c, vol, "/exec");
  v1::Mount* shifted = AddVolume(c, vol, "/shifted");
  AddMapping(shifted->mutable_uidmappings(), 5000, 10);
  AddMapping(shifted->mutable_gidmappings(), 6000, 10);
  std::string id = MustRunContainer(pod_id, pod, c);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(MustExec(id, "/exec/run.sh"), "ran\n");
  // (The exec itself fails: ExecSync answers with an error rather than an exit code.)
  ExecOutput blocked = Exec(id, {"/noexec/run.sh"});
  EXPECT_FALSE(blocked.status.ok() && blocked.exit_code == 0) << blocked.out;
  EXPECT_THAT(blocked.status.error_message() + blocked.err, HasSubstr("EACCES"))
      << blocked.status.error_message();
  EXPECT_THAT(MustExec(id, "grep ' /noexec ' /proc/mounts"), HasSubstr("nosuid"));
  EXPECT_THAT(MustExec(id, "grep ' /noexec ' /proc/mounts"), HasSubstr("noexec"));
  EXPECT_EQ(MustExec(id, "stat -c %u:%g /shifted/host-owned"), "5000:6000\n");
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

}  // namespace
}  // namespace cricket::e2e
