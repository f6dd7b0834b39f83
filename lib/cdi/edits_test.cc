#include "lib/cdi/edits.h"

#include <gtest/gtest.h>

#include <map>

#include "lib/common/strings.h"

namespace cricket::cdi {
namespace {

// A host with two character devices and a block device.
absl::StatusOr<HostDevice> FakeHost(const std::string& path) {
  static const std::map<std::string, HostDevice> kDevices = {{"/dev/zero", {"c", 1, 5, 0666}},
                                                             {"/dev/nvidia0", {"c", 195, 0, 0660}},
                                                             {"/dev/sdb", {"b", 8, 16, 0660}}};
  auto it = kDevices.find(path);
  if (it == kDevices.end()) return absl::NotFoundError(StrCat("stat ", path, ": ENOENT"));
  return it->second;
}

oci::Spec BaseSpec() {
  oci::Spec s;
  s.process.emplace();
  s.process->env = {"PATH=/bin", "GPU=none"};
  s.linux.emplace();
  s.mounts = {{"/proc", "proc", "proc", {}, {}, {}},
              {"/dev", "tmpfs", "tmpfs", {}, {}, {}},
              {"/data", "bind", "/srv/data", {"rbind"}, {}, {}}};
  return s;
}

TEST(CdiEdits, EnvReplacesInPlaceOrAppends) {
  oci::Spec s = BaseSpec();
  ContainerEdits e;
  e.env = {"GPU=0", "NEW=1"};
  ASSERT_TRUE(ApplyEdits(e, FakeHost, s).ok());
  EXPECT_EQ(s.process->env, (std::vector<std::string>{"PATH=/bin", "GPU=0", "NEW=1"}));
}

TEST(CdiEdits, DeviceNodesFromTheHostWithCgroupRules) {
  oci::Spec s = BaseSpec();
  s.process->user.uid = 1000;
  s.process->user.gid = 2000;
  ContainerEdits e;
  e.device_nodes = {
      {.path = "/dev/nvidia0"},
      {.path = "/dev/gpu-zero", .host_path = "/dev/zero", .permissions = "r"},
      {.path = "/dev/disk", .host_path = "/dev/sdb", .permissions = "none", .uid = 0, .gid = 0}};
  ASSERT_TRUE(ApplyEdits(e, FakeHost, s).ok());
  ASSERT_EQ(s.linux->devices.size(), 3u);
  const oci::Device& nv = s.linux->devices[0];
  EXPECT_EQ(nv.path, "/dev/nvidia0");
  EXPECT_EQ(nv.type, "c");
  EXPECT_EQ(nv.major, 195);
  EXPECT_EQ(nv.minor, 0);
  EXPECT_EQ(nv.file_mode, 0660u);
  EXPECT_EQ(nv.uid, 1000u);  // the container user owns devices that name no owner
  EXPECT_EQ(nv.gid, 2000u);
  const oci::Device& z = s.linux->devices[1];
  EXPECT_EQ(z.path, "/dev/gpu-zero");
  EXPECT_EQ(z.major, 1);
  EXPECT_EQ(z.minor, 5);
  const oci::Device& disk = s.linux->devices[2];
  EXPECT_EQ(disk.type, "b");
  EXPECT_EQ(disk.uid, 0u);
  ASSERT_TRUE(s.linux->resources.has_value());
  // "none" adds the node but grants no access.
  EXPECT_EQ(s.linux->resources->devices,
            (std::vector<oci::DeviceCgroupRule>{{true, "c", 195, 0, "rwm"}, {true, "c", 1, 5, "r"}}));
}

TEST(CdiEdits, DeviceNodeReplacesOneAtTheSamePath) {
  oci::Spec s = BaseSpec();
  s.linux->devices.push_back({"/dev/nvidia0", "c", 1, 3, 0600, {}, {}});
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/nvidia0"}};
  ASSERT_TRUE(ApplyEdits(e, FakeHost, s).ok());
  ASSERT_EQ(s.linux->devices.size(), 1u);
  EXPECT_EQ(s.linux->devices[0].major, 195);
}

TEST(CdiEdits, CompleteDeviceNodeNeedsNoHostNode) {
  oci::Spec s = BaseSpec();
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/vfio/7", .type = "c", .major = 243, .minor = 7, .file_mode = 0600}};
  ASSERT_TRUE(ApplyEdits(e, FakeHost, s).ok());
  EXPECT_EQ(s.linux->devices, (std::vector<oci::Device>{{"/dev/vfio/7", "c", 243, 7, 0600, {}, {}}}));
}

TEST(CdiEdits, DeviceNodeErrorsNameTheNode) {
  oci::Spec s = BaseSpec();
  ContainerEdits missing;
  missing.device_nodes = {{.path = "/dev/gpu9"}};
  absl::Status st = ApplyEdits(missing, FakeHost, s);
  EXPECT_TRUE(absl::IsNotFound(st)) << st;
  EXPECT_NE(st.message().find("device node /dev/gpu9: host device /dev/gpu9"), std::string::npos) << st;
  ContainerEdits mismatch;
  mismatch.device_nodes = {{.path = "/dev/sdb", .type = "c"}};
  st = ApplyEdits(mismatch, FakeHost, s);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_NE(st.message().find("is of type \"b\""), std::string::npos) << st;
}

TEST(CdiEdits, MountsReplaceAndSortParentsFirst) {
  oci::Spec s = BaseSpec();
  ContainerEdits e;
  e.mounts = {{"/usr/lib/gpu", "/usr/lib/gpu", {"ro", "rbind"}, ""},
              {"/srv/other", "/data/", {"bind"}, "bind"},
              {"/usr", "/usr", {"rbind"}, ""}};
  ASSERT_TRUE(ApplyEdits(e, FakeHost, s).ok());
  std::vector<std::string> dests;
  for (const oci::Mount& m : s.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/data/", "/usr", "/usr/lib/gpu"}));
  EXPECT_EQ(s.mounts[2].source, "/srv/other");
  EXPECT_EQ(s.mounts[2].type, "bind");
  EXPECT_EQ(s.mounts[4].options, (std::vector<std::string>{"ro", "rbind"}));
}

TEST(CdiEdits, HooksGidsRdtAndNetDevices) {
  oci::Spec s = BaseSpec();
  s.process->user.additional_gids = {10};
  ContainerEdits e;
  e.hooks = {{"createContainer", "/usr/bin/hook", {"hook", "a"}, {"X=1"}, 3},
             {"poststop", "/bin/true", {}, {}, {}}};
  e.additional_gids = {0, 10, 44};
  e.intel_rdt = IntelRdt{"gpu", "L3:0=f", "", std::vector<std::string>{"L2:0=1"}, true};
  e.net_devices = {{"eth1", "net0"}};
  ASSERT_TRUE(ApplyEdits(e, FakeHost, s).ok());
  ASSERT_TRUE(s.hooks.has_value());
  EXPECT_EQ(s.hooks->create_container,
            (std::vector<oci::Hook>{{"/usr/bin/hook", {"hook", "a"}, {"X=1"}, 3}}));
  EXPECT_EQ(s.hooks->poststop.size(), 1u);
  EXPECT_TRUE(s.hooks->prestart.empty());
  EXPECT_EQ(s.process->user.additional_gids, (std::vector<uint32_t>{10, 44}));
  ASSERT_TRUE(s.linux->intel_rdt.has_value());
  EXPECT_EQ(s.linux->intel_rdt->clos_id, "gpu");
  EXPECT_EQ(s.linux->intel_rdt->schemata, std::vector<std::string>{"L2:0=1"});
  EXPECT_TRUE(s.linux->intel_rdt->enable_monitoring);
  EXPECT_EQ(s.linux->net_devices.at("eth1").name, "net0");
}

TEST(CdiEdits, StatHostDeviceReadsRealNodes) {
  auto zero = StatHostDevice("/dev/zero");
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(zero->type, "c");
  EXPECT_EQ(zero->major, 1);
  EXPECT_EQ(zero->minor, 5);
  EXPECT_TRUE(absl::IsInvalidArgument(StatHostDevice("/etc/hostname").status()));
  EXPECT_TRUE(absl::IsNotFound(StatHostDevice("/dev/no-such-node").status()));
}

}  // namespace
}  // namespace cricket::cdi
