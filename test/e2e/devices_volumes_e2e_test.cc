// Image volumes (Mount.image, image_sub_path) and CDI devices (CDI_devices, cdi.k8s.io/ annotations)
// of the real cricketd, seen from inside busybox containers: the image volume's content, that it cannot
// be written and its sub paths cannot escape, RemoveImage refusing the image while a container uses it;
// CDI device nodes (real character devices of this machine, described by spec files the test writes in
// its own CDI directory) usable from inside, their env, the refusals of an unknown device and a
// malformed spec, and that a refused create leaves nothing behind. Needs root; skips otherwise.
#include <gmock/gmock.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/strings.h"
#include "test/e2e/pod_fixture.h"

namespace cricket::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Joined(const Leftovers& l) { return Join(l, "\n"); }

class DevicesVolumesE2eTest : public PodE2eTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-cdi-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    cdi_root_ = tmpl;
    static_dir_ = cdi_root_ + "/etc-cdi";
    dynamic_dir_ = cdi_root_ + "/run-cdi";
    set_extra_daemon_config(
        StrCat("[crio.runtime]\ncdi_spec_dirs = [\"", static_dir_, "\", \"", dynamic_dir_, "\"]\n"));
    PodE2eTest::SetUp();
  }
  void TearDown() override {
    PodE2eTest::TearDown();
    if (!cdi_root_.empty()) (void)RemoveAll(cdi_root_);
  }

  std::string LayersImage() const { return registry_host() + "/cricket-test/layers:latest"; }

  grpc::Status RemoveImage(const std::string& ref) {
    grpc::ClientContext ctx;
    v1::RemoveImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::RemoveImageResponse resp;
    return daemon().ImageStub()->RemoveImage(&ctx, req, &resp);
  }
  bool ImagePresent(const std::string& ref) {
    grpc::ClientContext ctx;
    v1::ImageStatusRequest req;
    req.mutable_image()->set_image(ref);
    v1::ImageStatusResponse resp;
    return daemon().ImageStub()->ImageStatus(&ctx, req, &resp).ok() && resp.has_image();
  }
  uint64_t ImageFsBytes() {
    grpc::ClientContext ctx;
    v1::ImageFsInfoRequest req;
    v1::ImageFsInfoResponse resp;
    EXPECT_TRUE(daemon().ImageStub()->ImageFsInfo(&ctx, req, &resp).ok());
    return resp.image_filesystems_size() > 0 ? resp.image_filesystems(0).used_bytes().value() : 0;
  }

  static v1::Mount ImageMount(const std::string& image, const std::string& path,
                              const std::string& sub = "") {
    v1::Mount m;
    m.set_container_path(path);
    m.mutable_image()->set_image(image);
    m.set_image_sub_path(sub);
    m.set_readonly(true);
    return m;
  }

  // A create that must fail with `code` and a message containing `want`, leaving nothing behind.
  void ExpectRefused(const std::string& pod_id, const v1::PodSandboxConfig& pod, const v1::ContainerConfig& c,
                     grpc::StatusCode code, const std::string& want) {
    Leftovers before = AllLeft();
    std::string id;
    grpc::Status st = CreateContainer(pod_id, pod, c, &id);
    EXPECT_EQ(st.error_code(), code) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr(want));
    EXPECT_THAT(ListContainers(), IsEmpty());
    EXPECT_EQ(AllLeft(), before) << Joined(AllLeft());
  }

  std::string cdi_root_, static_dir_, dynamic_dir_;
};

TEST_F(DevicesVolumesE2eTest, ImageVolumeIsReadOnlyAndKeepsItsImageUntilTheContainerIsRemoved) {
  std::string layers_id;
  grpc::Status pulled = PullImage(LayersImage(), &layers_id);
  ASSERT_TRUE(pulled.ok()) << pulled.error_message();
  v1::PodSandboxConfig pod = PodConfig("imgvol");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());

  v1::ContainerConfig c = ShellContainer("vol", "sleep 600");
  *c.add_mounts() = ImageMount(LayersImage(), "/vol");
  *c.add_mounts() =
      ImageMount(LayersImage(), "/keep", "data/abs-link");  // an absolute link, inside the image
  *c.add_mounts() = ImageMount(layers_id, "/fixture/", "etc/fixture");
  std::string id = MustRunContainer(pod_id, pod, c);
  ASSERT_FALSE(id.empty());

  // The image's merged content, whiteouts applied.
  EXPECT_EQ(MustExec(id, "cat /vol/etc/fixture/keep /vol/etc/fixture/changed"), "keep\nafter\n");
  EXPECT_EQ(MustExec(id, "test ! -e /vol/etc/fixture/gone && ls /vol/opaque-dir"), "new\n");
  EXPECT_EQ(MustExec(id, "cat /keep"), "keep\n");
  EXPECT_EQ(MustExec(id, "ls /fixture"), "changed\nkeep\n");
  // Programs in it run (exec allowed); nothing can be written.
  EXPECT_EQ(MustExec(id, "/vol/bin/busybox echo ran"), "ran\n");
  for (const char* path : {"/vol/new-file", "/vol/etc/fixture/keep", "/fixture/keep"}) {
    ExecOutput w = Exec(id, {"/bin/sh", "-c", StrCat("echo x > ", path)});
    EXPECT_NE(w.exit_code, 0) << path;
    EXPECT_THAT(w.err, HasSubstr("Read-only file system")) << path;
  }
  ExecOutput rm = Exec(id, {"/bin/rm", "-rf", "/vol/etc"});
  EXPECT_NE(rm.exit_code, 0);
  EXPECT_EQ(MustExec(id, "cat /vol/etc/fixture/keep"), "keep\n");
  std::string mountinfo = MustExec(id, "grep ' /vol ' /proc/self/mountinfo");
  EXPECT_THAT(mountinfo, HasSubstr(" ro,nosuid,nodev")) << mountinfo;

  // In use: RemoveImage refuses and the image stays counted; after the container is removed it goes.
  uint64_t used = ImageFsBytes();
  grpc::Status refused = RemoveImage(layers_id);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr(id));
  EXPECT_TRUE(ImagePresent(LayersImage()));
  EXPECT_EQ(ImageFsBytes(), used);
  ASSERT_TRUE(StopContainer(id).ok());
  EXPECT_EQ(RemoveImage(layers_id).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);  // stopped: still used
  ASSERT_TRUE(RemoveContainer(id).ok());
  grpc::Status removed = RemoveImage(layers_id);
  EXPECT_TRUE(removed.ok()) << removed.error_message();
  EXPECT_FALSE(ImagePresent(LayersImage()));
  EXPECT_LT(ImageFsBytes(), used);

  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

TEST_F(DevicesVolumesE2eTest, ImageVolumeRefusalsNameWhatIsWrongAndLeaveNothing) {
  ASSERT_TRUE(PullImage(LayersImage()).ok());
  v1::PodSandboxConfig pod = PodConfig("imgvol-bad");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  struct Case {
    v1::Mount mount;
    grpc::StatusCode code;
    std::string want;
  } cases[] = {
      {ImageMount(LayersImage(), "/vol", "../../etc"), grpc::StatusCode::INVALID_ARGUMENT,
       "would escape the image"},
      {ImageMount(LayersImage(), "/vol", "/etc"), grpc::StatusCode::INVALID_ARGUMENT,
       "must be a relative path"},
      {ImageMount(LayersImage(), "/vol", "etc/fixture/gone"), grpc::StatusCode::INVALID_ARGUMENT,
       "\"etc/fixture/gone\" of image sha256:"},
      {ImageMount("docker.io/library/not-pulled:1", "/vol"), grpc::StatusCode::NOT_FOUND,
       "image \"docker.io/library/not-pulled:1\" is not present"},
  };
  for (const Case& k : cases) {
    v1::ContainerConfig c = ShellContainer("bad", "sleep 600");
    // A good image volume first: the refusal of the second must undo the first one too.
    *c.add_mounts() = ImageMount(LayersImage(), "/good");
    *c.add_mounts() = k.mount;
    ExpectRefused(pod_id, pod, c, k.code, k.want);
  }
  // Nothing still holds the image.
  grpc::Status removed = RemoveImage(LayersImage());
  EXPECT_TRUE(removed.ok()) << removed.error_message();
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

TEST_F(DevicesVolumesE2eTest, CdiDevicesAndTheirEnvAreSeenInside) {
  ASSERT_TRUE(MkdirAll(static_dir_).ok());
  ASSERT_TRUE(MkdirAll(dynamic_dir_).ok());
  // A node the test makes: a copy of /dev/full (1:7), under a path no container knows.
  std::string full_node = cdi_root_ + "/full-node";
  ASSERT_EQ(::mknod(full_node.c_str(), S_IFCHR | 0666, makedev(1, 7)), 0);
  // Written after cricketd started: it reads the directories when they change.
  ASSERT_TRUE(WriteFileAtomic(JoinPath(static_dir_, "zero.yaml"),
                              "cdiVersion: 0.6.0\n"
                              "kind: cricket.test/zero\n"
                              "containerEdits:\n"
                              "  env: [CDI_VENDOR=cricket-test]\n"
                              "devices:\n"
                              "  - name: z0\n"
                              "    containerEdits:\n"
                              "      env: [CDI_DEVICE=z0]\n"
                              "      deviceNodes:\n"
                              "        - {path: /dev/cricket-zero, hostPath: /dev/zero, permissions: rw}\n")
                  .ok());
  ASSERT_TRUE(
      WriteFileAtomic(JoinPath(dynamic_dir_, "full.json"),
                      StrCat(R"({"cdiVersion":"0.5.0","kind":"cricket.test/full","devices":[)",
                             R"({"name":"f0","containerEdits":{"env":["CDI_FULL=f0"],"deviceNodes":[)",
                             R"({"path":"/dev/cricket-full","hostPath":")", full_node, R"("}]}}]})"))
          .ok());
  v1::PodSandboxConfig pod = PodConfig("cdi");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  v1::ContainerConfig c = ShellContainer("dev", "sleep 600");
  c.add_cdi_devices()->set_name("cricket.test/zero=z0");
  (*c.mutable_annotations())["cdi.k8s.io/e2e_full"] = "cricket.test/full=f0";
  std::string id = MustRunContainer(pod_id, pod, c);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(MustExec(id, "stat -c '%F %t:%T' /dev/cricket-zero /dev/cricket-full"),
            "character special file 1:5\ncharacter special file 1:7\n");
  // The device cgroup lets them be opened: reading /dev/zero gives zeros, writing /dev/full ENOSPC.
  EXPECT_EQ(MustExec(id, "head -c 3 /dev/cricket-zero | od -An -tx1"), " 00 00 00\n");
  ExecOutput full = Exec(id, {"/bin/sh", "-c", "echo x > /dev/cricket-full"});
  EXPECT_NE(full.exit_code, 0);
  EXPECT_THAT(full.err, HasSubstr("No space left on device"));
  EXPECT_EQ(MustExec(id, "echo $CDI_VENDOR $CDI_DEVICE $CDI_FULL"), "cricket-test z0 f0\n");
  ASSERT_TRUE(StopContainer(id).ok());
  ASSERT_TRUE(RemoveContainer(id).ok());

  // An edited spec is seen by the next container.
  ASSERT_TRUE(
      WriteFileAtomic(JoinPath(dynamic_dir_, "full.json"),
                      StrCat(R"({"cdiVersion":"0.5.0","kind":"cricket.test/full","devices":[)",
                             R"({"name":"f0","containerEdits":{"env":["CDI_FULL=edited"],"deviceNodes":[)",
                             R"({"path":"/dev/cricket-full","hostPath":")", full_node, R"("}]}}]})"))
          .ok());
  v1::ContainerConfig again = ShellContainer("dev2", "sleep 600");
  again.add_cdi_devices()->set_name("cricket.test/full=f0");
  std::string id2 = MustRunContainer(pod_id, pod, again);
  ASSERT_FALSE(id2.empty());
  EXPECT_EQ(
      MustExec(id2, "echo $CDI_FULL; test -c /dev/cricket-full && test ! -e /dev/cricket-zero && echo ok"),
      "edited\nok\n");
  ASSERT_TRUE(StopContainer(id2).ok());
  ASSERT_TRUE(RemoveContainer(id2).ok());
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

TEST_F(DevicesVolumesE2eTest, CdiRefusalsNameWhatIsWrongAndLeaveNothing) {
  ASSERT_TRUE(MkdirAll(static_dir_).ok());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(static_dir_, "zero.json"),
                              R"({"cdiVersion":"0.6.0","kind":"cricket.test/zero","devices":[
                                  {"name":"z0","containerEdits":{"deviceNodes":[{"path":"/dev/zero"}]}},
                                  {"name":"gone","containerEdits":{"deviceNodes":[{"path":"/dev/cricket-no-such-node"}]}}]})")
                  .ok());
  std::string broken = JoinPath(static_dir_, "broken.json");
  ASSERT_TRUE(WriteFileAtomic(broken, R"({"cdiVersion":"0.6.0","kind":"cricket.test/gpu","devices":[)").ok());
  std::string unknown_field = JoinPath(static_dir_, "nic.yaml");
  ASSERT_TRUE(WriteFileAtomic(unknown_field,
                              "cdiVersion: 0.6.0\nkind: cricket.test/nic\ndevices:\n- name: n0\n"
                              "  containerEdits:\n    env: [A=1]\n    colour: red\n")
                  .ok());
  v1::PodSandboxConfig pod = PodConfig("cdi-bad");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  auto with_device = [](const std::string& name) {
    v1::ContainerConfig c = ShellContainer("bad", "sleep 600");
    c.add_cdi_devices()->set_name(name);
    return c;
  };
  ExpectRefused(pod_id, pod, with_device("cricket.test/zero=z9"), grpc::StatusCode::FAILED_PRECONDITION,
                "CDI device \"cricket.test/zero=z9\" is not defined by any spec file");
  ExpectRefused(pod_id, pod, with_device("cricket.test/gpu=0"), grpc::StatusCode::FAILED_PRECONDITION,
                broken + ": not valid JSON");
  ExpectRefused(pod_id, pod, with_device("cricket.test/nic=n0"), grpc::StatusCode::FAILED_PRECONDITION,
                unknown_field + ": devices[0].containerEdits.colour: unknown property");
  ExpectRefused(pod_id, pod, with_device("cricket.test/zero=gone"), grpc::StatusCode::NOT_FOUND,
                "CDI cricket.test/zero=gone");
  ExpectRefused(pod_id, pod, with_device("zero"), grpc::StatusCode::INVALID_ARGUMENT,
                "CDI device \"zero\" is not a fully qualified name");
  v1::ContainerConfig annotated = ShellContainer("bad", "sleep 600");
  (*annotated.mutable_annotations())["cdi.k8s.io/plugin"] = "cricket.test/zero=z0,not/qualified";
  ExpectRefused(pod_id, pod, annotated, grpc::StatusCode::INVALID_ARGUMENT, "annotation cdi.k8s.io/plugin");
  // A good device beside a broken file still works.
  std::string id = MustRunContainer(pod_id, pod, with_device("cricket.test/zero=z0"));
  EXPECT_FALSE(id.empty());
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

}  // namespace
}  // namespace cricket::e2e
