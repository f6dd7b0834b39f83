#include "server/cdi_devices.h"

#include <gtest/gtest.h>

#include "lib/common/file_util.h"
#include "server/container_spec.h"

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;

TEST(CdiDevices, RequestedFromTheFieldAndTheAnnotations) {
  v1::ContainerConfig c;
  c.add_cdi_devices()->set_name("vendor.example/gpu=0");
  (*c.mutable_annotations())["cdi.k8s.io/plugin_b"] = "vendor.example/gpu=1, vendor.example/gpu=0";
  (*c.mutable_annotations())["cdi.k8s.io/plugin_a"] = "vendor.example/nic=eth1";
  (*c.mutable_annotations())["other.io/x"] = "not-a-device";
  auto names = RequestedCdiDevices(c);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(*names, (std::vector<std::string>{"vendor.example/gpu=0", "vendor.example/nic=eth1",
                                              "vendor.example/gpu=1"}));
}

TEST(CdiDevices, BadNamesAreInvalidArgumentNamingWhere) {
  v1::ContainerConfig c;
  (*c.mutable_annotations())["cdi.k8s.io/plugin"] = "vendor.example/gpu=0,gpu1";
  auto names = RequestedCdiDevices(c);
  ASSERT_TRUE(absl::IsInvalidArgument(names.status())) << names.status();
  EXPECT_NE(std::string(names.status().message()).find("annotation cdi.k8s.io/plugin: CDI device \"gpu1\""),
            std::string::npos)
      << names.status();
  v1::ContainerConfig d;
  d.add_cdi_devices()->set_name("/dev/gpu0");
  EXPECT_TRUE(absl::IsInvalidArgument(RequestedCdiDevices(d).status()));
}

absl::StatusOr<cdi::HostDevice> FakeHost(const std::string& path) {
  if (path == "/dev/gpu0") return cdi::HostDevice{"c", 195, 0, 0666};
  return absl::NotFoundError(path + ": no such device");
}

TEST(CdiDevices, ContainerSpecCarriesTheEdits) {
  char tmpl[] = "/tmp/cricket-cdi-spec-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(MkdirAll(dir + "/rootfs/etc").ok());
  image::ImageConfig image;
  image.cmd = std::vector<std::string>{"/bin/sh"};
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name("c1");
  config.mutable_image()->set_image("busybox");
  config.add_envs()->set_key("GPU");
  config.mutable_envs(0)->set_value("from-cri");
  Config daemon;
  cdi::Resolution res;
  res.devices = {"vendor.example/gpu=0"};
  cdi::ContainerEdits spec_wide;
  spec_wide.env = {"VENDOR=example"};
  cdi::ContainerEdits dev;
  dev.env = {"GPU=0"};
  cdi::DeviceNode node;
  node.path = "/dev/gpu0";
  node.permissions = "rw";
  dev.device_nodes = {node};
  dev.mounts = {cdi::Mount{"/usr/lib/gpu", "/usr/lib/gpu", {"ro", "rbind"}, ""}};
  res.edits = {{"/etc/cdi/gpu.json", spec_wide}, {"vendor.example/gpu=0 (/etc/cdi/gpu.json)", dev}};
  ContainerSpecInput in;
  in.id = "abc";
  in.config = &config;
  in.image = &image;
  in.rootfs = dir + "/rootfs";
  in.daemon = &daemon;
  in.sandbox.pidns_path = "/proc/1/ns/pid";
  in.cdi = &res;
  in.cdi_host_devices = FakeHost;
  auto spec = BuildContainerSpec(in);
  (void)RemoveAll(dir);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const auto& env = spec->process->env;
  EXPECT_NE(std::find(env.begin(), env.end(), "VENDOR=example"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "GPU=0"), env.end());  // the device's env wins over the CRI's
  EXPECT_EQ(std::find(env.begin(), env.end(), "GPU=from-cri"), env.end());
  auto found = std::find_if(spec->linux->devices.begin(), spec->linux->devices.end(),
                            [](const oci::Device& d) { return d.path == "/dev/gpu0"; });
  ASSERT_NE(found, spec->linux->devices.end());
  EXPECT_EQ(found->major, 195);
  const auto& rules = spec->linux->resources->devices;
  EXPECT_NE(std::find(rules.begin(), rules.end(), oci::DeviceCgroupRule{true, "c", 195, 0, "rw"}),
            rules.end());
  EXPECT_TRUE(std::any_of(spec->mounts.begin(), spec->mounts.end(),
                          [](const oci::Mount& m) { return m.destination == "/usr/lib/gpu"; }));
}

TEST(CdiDevices, UnsupportedAndFailingEditsNameTheDevice) {
  oci::Spec spec;
  spec.process.emplace();
  spec.linux.emplace();
  cdi::Resolution rdt;
  cdi::ContainerEdits e;
  e.intel_rdt = cdi::IntelRdt{};
  rdt.edits = {{"vendor.example/cache=l3 (/etc/cdi/rdt.json)", e}};
  absl::Status st = ApplyCdiDevices(rdt, FakeHost, spec);
  EXPECT_TRUE(absl::IsUnimplemented(st)) << st;
  EXPECT_NE(std::string(st.message()).find("vendor.example/cache=l3"), std::string::npos) << st;
  cdi::Resolution missing;
  cdi::ContainerEdits m;
  cdi::DeviceNode node;
  node.path = "/dev/gpu7";
  m.device_nodes = {node};
  missing.edits = {{"vendor.example/gpu=7 (/etc/cdi/gpu.json)", m}};
  st = ApplyCdiDevices(missing, FakeHost, spec);
  EXPECT_TRUE(absl::IsNotFound(st)) << st;
  EXPECT_NE(
      std::string(st.message()).find("CDI vendor.example/gpu=7 (/etc/cdi/gpu.json): device node /dev/gpu7"),
      std::string::npos)
      << st;
}

}  // namespace
}  // namespace cricket::server
