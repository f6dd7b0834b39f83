#include "lib/runtime/cgroups/layout.h"

#include <gtest/gtest.h>

#include "lib/runtime/cgroups/fake_cgroupfs.h"

namespace cricket::cgroups {
namespace {

using testing::FakeCgroupfs;

TEST(MountInfoTest, ParsesFieldsAndOptionalTagsAndEscapes) {
  auto m = ParseMountInfo(
      "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 master:2 - cgroup2 cgroup2 rw,nsdelegate\n"
      "36 24 0:31 /a\\040b /mnt/with\\040space rw - cgroup none rw,memory\n");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].mount_point, "/sys/fs/cgroup");
  EXPECT_EQ((*m)[0].fstype, "cgroup2");
  EXPECT_EQ((*m)[0].super_options, "rw,nsdelegate");
  EXPECT_EQ((*m)[1].root, "/a b");
  EXPECT_EQ((*m)[1].mount_point, "/mnt/with space");
  EXPECT_EQ((*m)[1].source, "none");
  EXPECT_FALSE(ParseMountInfo("1 2 3 / /x rw\n").ok());
}

TEST(ProcCgroupTest, ParsesV1NamedAndV2Lines) {
  auto e = ParseProcCgroup("11:cpu,cpuacct:/a\n1:name=systemd:/b\n0::/c\n");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ((*e)[1].controllers, (std::vector<std::string>{"name=systemd"}));
  EXPECT_EQ((*e)[2].hierarchy_id, 0);
  EXPECT_TRUE((*e)[2].controllers.empty());
  EXPECT_EQ((*e)[2].path, "/c");
  EXPECT_FALSE(ParseProcCgroup("garbage\n").ok());
  auto k = ParseProcCgroups(testing::kHybridProcCgroups);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->size(), 12u);
  EXPECT_EQ((*k)[10].name, "hugetlb");
  EXPECT_EQ((*k)[10].hierarchy_id, 0);
}

TEST(LayoutTest, DetectsThisHostsHybridLayout) {
  FakeCgroupfs fs;
  Layout l = fs.Hybrid("/x");
  EXPECT_EQ(l.mode(), Mode::kHybrid);
  // Nine v1 hierarchies plus the unified one; the cgroup2 mount under /tmp is not counted.
  ASSERT_EQ(l.hierarchies().size(), 10u);
  ASSERT_NE(l.unified(), nullptr);
  EXPECT_EQ(l.unified()->mount_point, fs.Path("/sys/fs/cgroup/unified"));
  EXPECT_EQ(l.unified()->controllers, (std::vector<std::string>{"hugetlb"}));
  const Hierarchy* mem = l.HierarchyFor("memory");
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->version, 1);
  EXPECT_EQ(mem->mount_point, fs.Path("/sys/fs/cgroup/memory"));
  EXPECT_EQ(mem->own_cgroup, "/process_api/123dc4892af0c96f55109356b56578c9");
  EXPECT_EQ(l.HierarchyFor("hugetlb"), l.unified());
  ASSERT_NE(l.HierarchyFor("name=systemd"), nullptr);
  EXPECT_EQ(l.HierarchyFor("name=systemd")->mount_point, fs.Path("/sys/fs/cgroup/systemd"));
  EXPECT_EQ(l.HierarchyFor("net_cls"), nullptr);
  EXPECT_EQ(l.HierarchyFor("io"), nullptr);
  EXPECT_NE(l.Describe().find("hybrid"), std::string::npos);
}

TEST(LayoutTest, DetectsPureV2) {
  FakeCgroupfs fs;
  Layout l = fs.V2("/x");
  EXPECT_EQ(l.mode(), Mode::kV2);
  ASSERT_EQ(l.hierarchies().size(), 1u);
  EXPECT_EQ(l.unified()->own_cgroup, "/user.slice/user-1000.slice/session-2.scope");
  EXPECT_EQ(l.HierarchyFor("memory"), l.unified());
  EXPECT_EQ(l.HierarchyFor("io"), l.unified());
  EXPECT_EQ(l.HierarchyFor("blkio"), nullptr);
  EXPECT_EQ(l.HierarchyFor("freezer"), nullptr);
}

TEST(LayoutTest, DetectsPureV1WithCoMountsAndIgnoresBindMounts) {
  FakeCgroupfs fs;
  Layout l = fs.V1("/x");
  EXPECT_EQ(l.mode(), Mode::kV1);
  EXPECT_EQ(l.unified(), nullptr);
  EXPECT_EQ(l.hierarchies().size(), 11u);  // memory-bind is the memory hierarchy again
  const Hierarchy* cpu = l.HierarchyFor("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu, l.HierarchyFor("cpuacct"));
  EXPECT_EQ(cpu->mount_point, fs.Path("/sys/fs/cgroup/cpu,cpuacct"));
  EXPECT_EQ(cpu->own_cgroup, "/user.slice");
  EXPECT_EQ(l.HierarchyFor("memory")->mount_point, fs.Path("/sys/fs/cgroup/memory"));
  EXPECT_EQ(l.HierarchyFor("name=systemd")->own_cgroup, "/user.slice/user-1000.slice/session-1.scope");
  EXPECT_NE(l.HierarchyFor("net_prio"), nullptr);
}

TEST(LayoutTest, OwnCgroupIsRelativeToTheMountRoot) {
  // Inside a container with a cgroup namespace the mount's root is the container's cgroup.
  DetectOptions o;
  auto l = Layout::FromTexts("40 1 0:37 /kubepods/pod1 /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
                             "4:memory:/kubepods/pod1/ctr\n", "", o);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->hierarchies()[0].mount_root, "/kubepods/pod1");
  EXPECT_EQ(l->hierarchies()[0].own_cgroup, "/ctr");
}

TEST(LayoutTest, SerializedLayoutIsTheSameWithTheReadersOwnCgroups) {
  FakeCgroupfs fs;
  Layout l = fs.Hybrid("/x");
  // Another process (a monitor) in other cgroups: the hierarchies are the same, the own cgroups its.
  auto back = Layout::Deserialize(l.Serialize(), "5:memory:/mon/a\n3:cpu,cpuacct:/mon/b\n0::/mon/c\n");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->mode(), Mode::kHybrid);
  ASSERT_EQ(back->hierarchies().size(), l.hierarchies().size());
  for (size_t i = 0; i < l.hierarchies().size(); ++i) {
    EXPECT_EQ(back->hierarchies()[i].version, l.hierarchies()[i].version);
    EXPECT_EQ(back->hierarchies()[i].mount_point, l.hierarchies()[i].mount_point);
    EXPECT_EQ(back->hierarchies()[i].mount_root, l.hierarchies()[i].mount_root);
    EXPECT_EQ(back->hierarchies()[i].controllers, l.hierarchies()[i].controllers);
  }
  EXPECT_EQ(back->HierarchyFor("memory")->own_cgroup, "/mon/a");
  EXPECT_EQ(back->HierarchyFor("cpuacct")->own_cgroup, "/mon/b");
  EXPECT_EQ(back->unified()->own_cgroup, "/mon/c");
  EXPECT_EQ(back->HierarchyFor("pids")->own_cgroup, "/");  // not listed: the root
  for (std::string_view bad : {"", "{}", "[{\"version\":1}]",
                               "[{\"version\":3,\"mount_point\":\"/a\","
                               "\"mount_root\":\"/\",\"controllers\":[]}]"}) {
    EXPECT_FALSE(Layout::Deserialize(bad, "0::/\n").ok()) << bad;
  }
}

TEST(LayoutTest, NoCgroupMountIsAClearError) {
  DetectOptions o;
  auto l = Layout::FromTexts("22 1 0:20 / / rw - ext4 /dev/vda rw\n", "0::/\n", "", o);
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(l.status()));
  EXPECT_NE(l.status().message().find("/sys/fs/cgroup"), std::string_view::npos);
}

TEST(LayoutTest, UnifiedAtAndFromHierarchies) {
  FakeCgroupfs fs;
  fs.MakeV2("/mnt", {"memory", "pids"}, true);
  auto l = Layout::UnifiedAt(fs.Path("/mnt"));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->mode(), Mode::kV2);
  EXPECT_TRUE(l->unified()->Has("pids"));
  EXPECT_FALSE(Layout::UnifiedAt(fs.Path("/nope")).ok());
  Hierarchy a, b;
  a.version = b.version = 2;
  a.mount_point = b.mount_point = "/x";
  EXPECT_FALSE(Layout::FromHierarchies({a, b}).ok());
  EXPECT_FALSE(Layout::FromHierarchies({}).ok());
}

TEST(LayoutTest, DetectsTheRealHost) {
  auto l = Layout::Detect();
  if (!l.ok()) GTEST_SKIP() << "no cgroups here: " << l.status();
  EXPECT_FALSE(l->hierarchies().empty());
  for (const Hierarchy& h : l->hierarchies()) EXPECT_EQ(h.mount_point.rfind("/sys/fs/cgroup", 0), 0u);
}

}  // namespace
}  // namespace cricket::cgroups
