#include "lib/cdi/spec.h"

#include <gtest/gtest.h>

namespace cricket::cdi {
namespace {

constexpr char kJson[] = R"({
  "cdiVersion": "0.7.0",
  "kind": "vendor.example/gpu",
  "annotations": {"origin": "test"},
  "devices": [
    {"name": "0",
     "annotations": {"uid": "12"},
     "containerEdits": {
       "env": ["GPU=0"],
       "deviceNodes": [{"path": "/dev/gpu0", "hostPath": "/dev/zero", "type": "c", "major": 1, "minor": 5,
                        "fileMode": 438, "permissions": "rw", "uid": 1000, "gid": 1000}],
       "mounts": [{"hostPath": "/usr/lib/gpu", "containerPath": "/usr/lib/gpu", "options": ["ro", "bind"],
                   "type": "bind"}],
       "hooks": [{"hookName": "createContainer", "path": "/usr/bin/gpu-hook", "args": ["gpu-hook", "x"],
                  "env": ["A=b"], "timeout": 5}],
       "additionalGids": [44]
     }},
    {"name": "all", "containerEdits": {"env": ["GPU=all"]}}
  ],
  "containerEdits": {"env": ["VENDOR=example"], "intelRdt": {"closID": "gpu"}}
})";

// The same spec in YAML, with the spellings YAML allows: octal file mode, unquoted numeric name.
constexpr char kYaml[] = R"(
cdiVersion: 0.7.0
kind: vendor.example/gpu
annotations:
  origin: test
devices:
  - name: 0
    annotations:
      uid: 12
    containerEdits:
      env: [GPU=0]
      deviceNodes:
        - path: /dev/gpu0
          hostPath: /dev/zero
          type: c
          major: 1
          minor: 5
          fileMode: 0666
          permissions: rw
          uid: 1000
          gid: 1000
      mounts:
        - {hostPath: /usr/lib/gpu, containerPath: /usr/lib/gpu, options: [ro, bind], type: bind}
      hooks:
        - hookName: createContainer
          path: /usr/bin/gpu-hook
          args: [gpu-hook, x]
          env: [A=b]
          timeout: 5
      additionalGids: [44]
  - name: all
    containerEdits:
      env:
        - GPU=all
containerEdits:
  env: ["VENDOR=example"]
  intelRdt:
    closID: gpu
)";

TEST(CdiSpec, ParsesJson) {
  auto spec = ParseSpec(kJson, "/etc/cdi/gpu.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->version, "0.7.0");
  EXPECT_EQ(spec->kind, "vendor.example/gpu");
  EXPECT_EQ(spec->annotations.at("origin"), "test");
  ASSERT_EQ(spec->devices.size(), 2u);
  const Device& d = spec->devices[0];
  EXPECT_EQ(d.name, "0");
  EXPECT_EQ(d.annotations.at("uid"), "12");
  ASSERT_EQ(d.edits.device_nodes.size(), 1u);
  const DeviceNode& n = d.edits.device_nodes[0];
  EXPECT_EQ(n.path, "/dev/gpu0");
  EXPECT_EQ(n.host_path, "/dev/zero");
  EXPECT_EQ(n.type, "c");
  EXPECT_EQ(n.major, 1);
  EXPECT_EQ(n.minor, 5);
  EXPECT_EQ(n.file_mode, 0666u);
  EXPECT_EQ(n.permissions, "rw");
  EXPECT_EQ(n.uid, 1000u);
  ASSERT_EQ(d.edits.mounts.size(), 1u);
  EXPECT_EQ(d.edits.mounts[0].options, (std::vector<std::string>{"ro", "bind"}));
  ASSERT_EQ(d.edits.hooks.size(), 1u);
  EXPECT_EQ(d.edits.hooks[0].timeout, 5);
  EXPECT_EQ(d.edits.additional_gids, std::vector<uint32_t>{44});
  ASSERT_TRUE(spec->edits.intel_rdt.has_value());
  EXPECT_EQ(spec->edits.intel_rdt->clos_id, "gpu");
  EXPECT_FALSE(spec->edits.intel_rdt->schemata.has_value());
}

TEST(CdiSpec, YamlMeansTheSameAsJson) {
  auto json = ParseSpec(kJson, "/etc/cdi/gpu.json");
  auto yaml = ParseSpec(kYaml, "/etc/cdi/gpu.yaml");
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(*json, *yaml);
}

void ExpectError(std::string_view text, std::string_view path, std::string_view want) {
  auto spec = ParseSpec(text, path);
  ASSERT_FALSE(spec.ok()) << "parsed: " << text;
  EXPECT_TRUE(absl::IsInvalidArgument(spec.status())) << spec.status();
  std::string msg(spec.status().message());
  EXPECT_NE(msg.find(want), std::string::npos) << spec.status() << "\nwanted: " << want;
  EXPECT_TRUE(msg.starts_with(path)) << spec.status();
}

TEST(CdiSpec, ErrorsNameTheFileAndTheProperty) {
  ExpectError("{", "/etc/cdi/a.json", "not valid JSON");
  ExpectError("kind: [", "/etc/cdi/a.yaml", "YAML syntax error at line 1");
  ExpectError(
      R"({"cdiVersion":"0.3.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":{"env":["A=1"]},
                  "color":"red"}]})",
      "/etc/cdi/a.json", "devices[0].color: unknown property");
  ExpectError(R"({"kind":"v.com/c","devices":[]})", "/etc/cdi/a.json",
              "cdiVersion: required property missing");
  ExpectError(
      R"({"cdiVersion":"9.9.9","kind":"v.com/c","devices":[{"name":"x","containerEdits":{"env":["A=1"]}}]})",
      "/etc/cdi/a.json", "cdiVersion: \"9.9.9\" is not a CDI spec version");
  ExpectError(
      R"({"cdiVersion":"0.3.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":{"additionalGids":[5]}}]})",
      "/etc/cdi/a.json", "features of version 0.7.0");
  ExpectError(
      R"({"cdiVersion":"0.6.0","kind":"nokind","devices":[{"name":"x","containerEdits":{"env":["A=1"]}}]})",
      "/etc/cdi/a.json", "kind: \"nokind\" is not vendor/class");
  ExpectError(R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[]})", "/etc/cdi/a.json",
              "devices: must list at least one device");
  ExpectError(R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":{}}]})",
              "/etc/cdi/a.json", "devices[0].containerEdits: must not be empty");
  ExpectError(
      R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"-x","containerEdits":{"env":["A=1"]}}]})",
      "/etc/cdi/a.json", "devices[0].name: device name \"-x\"");
  ExpectError(
      R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":{"env":["=1"]}}]})",
      "/etc/cdi/a.json", "devices[0].containerEdits.env[0]");
  ExpectError(R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":
                  {"deviceNodes":[{"path":"/dev/x","permissions":"rwx"}]}}]})",
              "/etc/cdi/a.json", "deviceNodes[0].permissions");
  ExpectError(R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":
                  {"hooks":[{"hookName":"prestop","path":"/bin/true"}]}}]})",
              "/etc/cdi/a.json", "hooks[0].hookName: unknown hook \"prestop\"");
  ExpectError(R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":
                  {"mounts":[{"hostPath":"/a"}]}}]})",
              "/etc/cdi/a.json", "mounts[0].containerPath: required property missing");
  ExpectError(
      R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":{"env":["A=1"]}},
                  {"name":"x","containerEdits":{"env":["A=1"]}}]})",
      "/etc/cdi/a.json", "devices[1].name: \"x\" is listed twice");
  ExpectError(
      "cdiVersion: 0.6.0\nkind: v.com/c\ndevices:\n- name: x\n  containerEdits:\n"
      "    deviceNodes: [{path: /dev/x, major: lots}]\n",
      "/etc/cdi/a.yaml", "deviceNodes[0].major: expected integer");
}

TEST(CdiSpec, MinimumVersionFollowsTheFeaturesUsed) {
  Spec s;
  s.kind = "v.com/c";
  s.devices.push_back({"x", {}, {}});
  EXPECT_EQ(MinimumVersion(s), "0.3.0");
  s.devices[0].edits.mounts.push_back({"/a", "/a", {}, "tmpfs"});
  EXPECT_EQ(MinimumVersion(s), "0.4.0");
  s.devices[0].name = "0";
  EXPECT_EQ(MinimumVersion(s), "0.5.0");
  s.kind = "v.com/c.d";
  EXPECT_EQ(MinimumVersion(s), "0.6.0");
  s.edits.additional_gids = {3};
  EXPECT_EQ(MinimumVersion(s), "0.7.0");
  s.devices[0].edits.net_devices.push_back({"eth1", "net0"});
  EXPECT_EQ(MinimumVersion(s), "1.1.0");
}

TEST(CdiSpec, QualifiedNames) {
  auto q = ParseQualifiedName("nvidia.com/gpu=GPU-1234:0");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->vendor, "nvidia.com");
  EXPECT_EQ(q->device_class, "gpu");
  EXPECT_EQ(q->name, "GPU-1234:0");
  EXPECT_EQ(q->ToString(), "nvidia.com/gpu=GPU-1234:0");
  for (const char* bad : {"", "gpu0", "nvidia.com/gpu", "nvidia.com=gpu0", "/dev/gpu=0",
                          "nvidia.com/gpu=", "1vendor/gpu=0", "nvidia.com/gpu=-0", "nvidia.com/g$u=0"}) {
    auto r = ParseQualifiedName(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad;
    EXPECT_NE(std::string(r.status().message()).find(std::string("\"") + bad + "\""), std::string::npos)
        << r.status();
  }
}

}  // namespace
}  // namespace cricket::cdi
