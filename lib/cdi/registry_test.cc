#include "lib/cdi/registry.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/strings.h"

namespace cricket::cdi {
namespace {

class CdiRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cdi-registry-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    static_dir_ = JoinPath(root_, "etc");
    dynamic_dir_ = JoinPath(root_, "run");
    ASSERT_TRUE(MkdirAll(static_dir_).ok());
    ASSERT_TRUE(MkdirAll(dynamic_dir_).ok());
  }
  void TearDown() override { (void)RemoveAll(root_); }

  std::vector<std::string> dirs() const { return {static_dir_, dynamic_dir_}; }

  // A spec of kind vendor.example/<cls> whose devices each set DEV=<name>@<tag>.
  static std::string SpecText(const std::string& cls, const std::vector<std::string>& devices,
                              const std::string& tag) {
    std::string out = StrCat(R"({"cdiVersion":"0.6.0","kind":"vendor.example/)", cls, R"(","devices":[)");
    for (size_t i = 0; i < devices.size(); ++i) {
      StrAppend(&out, i ? "," : "", R"({"name":")", devices[i], R"(","containerEdits":{"env":["DEV=)",
                devices[i], "@", tag, R"("]}})");
    }
    StrAppend(&out, R"(],"containerEdits":{"env":["SPEC=)", tag, R"("]}})");
    return out;
  }
  void Write(const std::string& dir, const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(JoinPath(dir, name), text).ok());
  }

  std::string root_, static_dir_, dynamic_dir_;
  Registry registry_;
};

std::vector<std::string> Envs(const Resolution& r) {
  std::vector<std::string> out;
  for (const auto& e : r.edits) out.insert(out.end(), e.edits.env.begin(), e.edits.env.end());
  return out;
}

TEST_F(CdiRegistryTest, ResolvesDevicesWithTheirSpecEditsOnce) {
  Write(static_dir_, "gpu.json", SpecText("gpu", {"0", "1"}, "static"));
  auto r =
      registry_.Resolve(dirs(), {"vendor.example/gpu=1", "vendor.example/gpu=0", "vendor.example/gpu=1"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->devices, (std::vector<std::string>{"vendor.example/gpu=1", "vendor.example/gpu=0"}));
  EXPECT_EQ(Envs(*r), (std::vector<std::string>{"SPEC=static", "DEV=1@static", "DEV=0@static"}));
  ASSERT_EQ(r->edits.size(), 3u);
  EXPECT_EQ(r->edits[0].origin, JoinPath(static_dir_, "gpu.json"));
  EXPECT_EQ(r->edits[1].origin, StrCat("vendor.example/gpu=1 (", JoinPath(static_dir_, "gpu.json"), ")"));
}

TEST_F(CdiRegistryTest, NothingRequestedReadsNothing) {
  auto r = registry_.Resolve({"/nonexistent/cdi"}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->edits.empty());
}

TEST_F(CdiRegistryTest, LaterDirectoryOverridesEarlier) {
  Write(static_dir_, "gpu.json", SpecText("gpu", {"0"}, "static"));
  Write(dynamic_dir_, "gpu.yaml",
        "cdiVersion: 0.6.0\nkind: vendor.example/gpu\ndevices:\n- name: 0\n  containerEdits:\n"
        "    env: [DEV=0@dynamic]\n");
  auto r = registry_.Resolve(dirs(), {"vendor.example/gpu=0"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Envs(*r), std::vector<std::string>{"DEV=0@dynamic"});
}

TEST_F(CdiRegistryTest, UnknownDeviceNamesItAndTheBrokenSpecFiles) {
  Write(static_dir_, "gpu.json", SpecText("gpu", {"0"}, "static"));
  Write(static_dir_, "broken.yaml", "cdiVersion: 0.6.0\nkind: vendor.example/nic\ndevices: [\n");
  Write(static_dir_, "notes.txt", "not a spec");
  auto r = registry_.Resolve(dirs(), {"vendor.example/nic=eth0"});
  ASSERT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  std::string msg(r.status().message());
  EXPECT_NE(msg.find("CDI device \"vendor.example/nic=eth0\" is not defined"), std::string::npos) << msg;
  EXPECT_NE(msg.find(static_dir_), std::string::npos) << msg;
  EXPECT_NE(msg.find(JoinPath(static_dir_, "broken.yaml") + ": YAML syntax error"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("notes.txt"), std::string::npos) << msg;
  // A broken file does not hide the devices of the others.
  auto ok = registry_.Resolve(dirs(), {"vendor.example/gpu=0"});
  EXPECT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(registry_.SpecErrors().count(JoinPath(static_dir_, "broken.yaml")), 1u);
}

TEST_F(CdiRegistryTest, BadNamesAreInvalidArgument) {
  auto r = registry_.Resolve(dirs(), {"gpu0"});
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("\"gpu0\""), std::string::npos);
}

TEST_F(CdiRegistryTest, SameDeviceInTwoFilesOfOneDirectoryConflicts) {
  Write(static_dir_, "a.json", SpecText("gpu", {"0"}, "a"));
  Write(static_dir_, "b.json", SpecText("gpu", {"0"}, "b"));
  auto r = registry_.Resolve(dirs(), {"vendor.example/gpu=0"});
  ASSERT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("a.json"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("b.json"), std::string::npos) << r.status();
}

TEST_F(CdiRegistryTest, RereadsTheDirectoriesWhenTheyChange) {
  auto r = registry_.Resolve(dirs(), {"vendor.example/gpu=0"});
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status()));
  // Added.
  Write(static_dir_, "gpu.json", SpecText("gpu", {"0"}, "one"));
  r = registry_.Resolve(dirs(), {"vendor.example/gpu=0"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Envs(*r).back(), "DEV=0@one");
  // Replaced (a new inode).
  Write(static_dir_, "gpu.json", SpecText("gpu", {"0"}, "two"));
  r = registry_.Resolve(dirs(), {"vendor.example/gpu=0"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Envs(*r).back(), "DEV=0@two");
  // Edited in place (same inode).
  {
    std::string path = JoinPath(static_dir_, "gpu.json");
    FILE* f = ::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string text = SpecText("gpu", {"0"}, "three-in-place");
    ::fwrite(text.data(), 1, text.size(), f);
    ::fclose(f);
  }
  r = registry_.Resolve(dirs(), {"vendor.example/gpu=0"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Envs(*r).back(), "DEV=0@three-in-place");
  // Removed.
  ASSERT_TRUE(RemoveAll(JoinPath(static_dir_, "gpu.json")).ok());
  r = registry_.Resolve(dirs(), {"vendor.example/gpu=0"});
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  // Other directories.
  Write(dynamic_dir_, "gpu.json", SpecText("gpu", {"0"}, "elsewhere"));
  r = registry_.Resolve({dynamic_dir_}, {"vendor.example/gpu=0"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Envs(*r).back(), "DEV=0@elsewhere");
}

}  // namespace
}  // namespace cricket::cdi
