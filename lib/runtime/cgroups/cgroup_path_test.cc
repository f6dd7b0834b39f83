#include "lib/runtime/cgroups/cgroup_path.h"

#include <gtest/gtest.h>

namespace cricket::cgroups {
namespace {

TEST(CgroupPathTest, CgroupfsAbsoluteRelativeAndDefault) {
  auto a = ParseCgroupsPath(Driver::kCgroupfs, "/kubepods/burstable/pod123/ctr//", "id");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->relative);
  EXPECT_EQ(a->path, "/kubepods/burstable/pod123/ctr");
  auto r = ParseCgroupsPath(Driver::kCgroupfs, "cricket/ctr", "id");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->relative);
  EXPECT_EQ(r->path, "cricket/ctr");
  auto d = ParseCgroupsPath(Driver::kCgroupfs, "", "abc");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->relative);
  EXPECT_EQ(d->path, "abc");
}

TEST(CgroupPathTest, CgroupfsRejectsBadPaths) {
  for (std::string_view bad : {"/a/../b", "../x", "/", ".", "a\nb", "kubepods.slice:cri:abc"}) {
    auto p = ParseCgroupsPath(Driver::kCgroupfs, bad, "id");
    EXPECT_FALSE(p.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << bad;
  }
  EXPECT_FALSE(ParseCgroupsPath(Driver::kCgroupfs, "", "").ok());
  EXPECT_FALSE(ParseCgroupsPath(Driver::kCgroupfs, "", "a/b").ok());
  auto s = ParseCgroupsPath(Driver::kCgroupfs, "kubepods.slice:cri:abc", "id");
  EXPECT_NE(s.status().message().find("systemd"), std::string_view::npos);
}

TEST(CgroupPathTest, ExpandSliceFollowsSystemdNaming) {
  EXPECT_EQ(*ExpandSlice("kubepods-burstable-pod123.slice"),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice");
  EXPECT_EQ(*ExpandSlice("system.slice"), "/system.slice");
  EXPECT_EQ(*ExpandSlice("-.slice"), "/");
  for (std::string_view bad :
       {"a--b.slice", "-a.slice", "a-.slice", "foo", ".slice", "a/b.slice", "foo.scope"}) {
    EXPECT_FALSE(ExpandSlice(bad).ok()) << bad;
  }
}

TEST(CgroupPathTest, SystemdSlicePrefixName) {
  auto p = ParseCgroupsPath(Driver::kSystemd, "kubepods-burstable-pod123.slice:cri-cricket:0123abcd", "x");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->relative);
  EXPECT_EQ(
      p->path,
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice/cri-cricket-0123abcd.scope");
  EXPECT_EQ(ParseCgroupsPath(Driver::kSystemd, "", "abc")->path, "/system.slice/cricket-abc.scope");
  EXPECT_EQ(ParseCgroupsPath(Driver::kSystemd, ":crio:abc", "x")->path, "/system.slice/crio-abc.scope");
  EXPECT_EQ(ParseCgroupsPath(Driver::kSystemd, "-.slice::abc", "x")->path, "/abc.scope");
  // A name that is a slice is the unit itself.
  EXPECT_EQ(ParseCgroupsPath(Driver::kSystemd, "kubepods.slice::kubepods-pod1.slice", "x")->path,
            "/kubepods.slice/kubepods-pod1.slice");
  for (std::string_view bad : {"/kubepods/x", "a.slice:b", "a.slice:b:c:d", "a.slice:p:", "a--b.slice:p:n",
                               "a.slice:p:../x", "notaslice:p:n"}) {
    auto e = ParseCgroupsPath(Driver::kSystemd, bad, "x");
    EXPECT_FALSE(e.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(e.status())) << bad;
  }
}

TEST(CgroupPathTest, DriverNames) {
  EXPECT_EQ(*ParseDriver("systemd"), Driver::kSystemd);
  EXPECT_EQ(*ParseDriver("cgroupfs"), Driver::kCgroupfs);
  EXPECT_FALSE(ParseDriver("cgroup").ok());
  EXPECT_EQ(DriverName(Driver::kSystemd), "systemd");
}

TEST(CgroupPathTest, LocatesInEachHierarchy) {
  Hierarchy mem;
  mem.mount_point = "/sys/fs/cgroup/memory";
  mem.own_cgroup = "/process_api/abc";
  Hierarchy cpu;
  cpu.mount_point = "/sys/fs/cgroup/cpu";
  CgroupPath rel{"cricket/ctr", true};
  CgroupPath abs{"/kubepods/ctr", false};
  EXPECT_EQ(CgroupIn(mem, rel), "/process_api/abc/cricket/ctr");
  EXPECT_EQ(DirIn(mem, rel), "/sys/fs/cgroup/memory/process_api/abc/cricket/ctr");
  EXPECT_EQ(DirIn(cpu, rel), "/sys/fs/cgroup/cpu/cricket/ctr");
  EXPECT_EQ(DirIn(mem, abs), "/sys/fs/cgroup/memory/kubepods/ctr");
}

}  // namespace
}  // namespace cricket::cgroups
