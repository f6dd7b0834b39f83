#include "server/monitor_settings.h"

#include <gtest/gtest.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/fake_cgroupfs.h"

namespace cricket::server {
namespace {

TEST(MonitorSettingsTest, HandlerSettingsWinAndEnvironmentsAdd) {
  Config c;
  c.runtime.conmon = "/usr/libexec/cricket/cricket-conmon";
  c.runtime.conmon_env = {"PATH=/usr/bin"};
  c.runtime.conmon_cgroup = "pod";
  RuntimeHandler h;
  h.monitor_path = "/opt/monitor";
  h.monitor_env = {"DEBUG=1"};
  h.monitor_cgroup = "/monitors";
  c.runtimes["other"] = h;
  MonitorSettings def = MonitorSettingsFor(c, "");
  EXPECT_EQ(def.conmon_path, "/usr/libexec/cricket/cricket-conmon");
  EXPECT_EQ(def.env, std::vector<std::string>{"PATH=/usr/bin"});
  EXPECT_EQ(def.cgroup, "pod");
  MonitorSettings other = MonitorSettingsFor(c, "other");
  EXPECT_EQ(other.conmon_path, "/opt/monitor");
  EXPECT_EQ(other.env, (std::vector<std::string>{"PATH=/usr/bin", "DEBUG=1"}));
  EXPECT_EQ(other.cgroup, "/monitors");
}

TEST(MonitorSettingsTest, ValidationNamesTheDriversForms) {
  for (const char* ok : {"", "pod", "/cricket-monitors", "/a/b"}) {
    EXPECT_TRUE(ValidateMonitorCgroup(ok, "cgroupfs").ok()) << ok;
  }
  for (const char* bad : {"/", "monitors", "system.slice", "/a/../b"}) {
    EXPECT_FALSE(ValidateMonitorCgroup(bad, "cgroupfs").ok()) << bad;
  }
  for (const char* ok : {"", "pod", "system.slice", "kubepods-burstable.slice"}) {
    EXPECT_TRUE(ValidateMonitorCgroup(ok, "systemd").ok()) << ok;
  }
  absl::Status st = ValidateMonitorCgroup("/monitors", "systemd");
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_NE(st.message().find("slice"), absl::string_view::npos) << st;
}

TEST(MonitorSettingsTest, ConfigRefusesABadMonitorCgroupNamingTheKey) {
  Config c;
  c.runtime.conmon_cgroup = "relative/path";
  absl::Status st = c.Validate();
  EXPECT_NE(st.message().find("crio.runtime.conmon_cgroup"), absl::string_view::npos) << st;
  c.runtime.conmon_cgroup = "";
  c.runtimes["cricket"].monitor_cgroup = "x.slice";
  st = c.Validate();
  EXPECT_NE(st.message().find("crio.runtime.runtimes.cricket.monitor_cgroup"), absl::string_view::npos) << st;
}

TEST(MonitorSettingsTest, WhereEachPlacementPutsTheMonitor) {
  EXPECT_EQ(*MonitorCgroupPath("", "cgroupfs", "/kubepods/pod1", "c1"), std::nullopt);
  EXPECT_EQ(*MonitorCgroupPath("pod", "cgroupfs", "", "c1"), std::nullopt);  // no pod cgroup: cricketd's
  auto pod = MonitorCgroupPath("pod", "cgroupfs", "/kubepods/pod1", "c1");
  ASSERT_TRUE(pod.ok() && pod->has_value());
  EXPECT_EQ((*pod)->path, "/kubepods/pod1/cricket-conmon-c1");
  auto shared = MonitorCgroupPath("/cricket-monitors", "cgroupfs", "/kubepods/pod1", "c1");
  ASSERT_TRUE(shared.ok() && shared->has_value());
  EXPECT_EQ((*shared)->path, "/cricket-monitors");
  auto slice = MonitorCgroupPath("pod", "systemd", "kubepods-pod1.slice", "c1");
  ASSERT_TRUE(slice.ok() && slice->has_value()) << slice.status();
  EXPECT_EQ((*slice)->path, "/kubepods.slice/kubepods-pod1.slice/cricket-conmon-c1.scope");
  auto system = MonitorCgroupPath("system.slice", "systemd", "kubepods-pod1.slice", "c1");
  ASSERT_TRUE(system.ok() && system->has_value()) << system.status();
  EXPECT_EQ((*system)->path, "/system.slice/cricket-monitors.scope");
}

TEST(MonitorSettingsTest, PodPlacementIsCreatedAndRemoved) {
  cgroups::testing::FakeCgroupfs fs;
  // A pure cgroup v2 host (the fake's new cgroups are empty directories: rmdir works on them as on the
  // kernel's).
  cgroups::Layout layout = fs.V2("/kubepods/pod1");
  Config c;
  c.runtime.conmon_cgroup = "pod";
  conmon::MonitorOptions mo;
  absl::Status applied = ApplyMonitorSettings(c, "", &layout, "/kubepods/pod1", "c1", "/bin/conmon", &mo);
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(mo.conmon_path, "/bin/conmon");
  EXPECT_EQ(mo.config.cgroup_procs,
            std::vector<std::string>{fs.Path("/sys/fs/cgroup/kubepods/pod1/cricket-conmon-c1/cgroup.procs")});
  EXPECT_TRUE(PathExists(fs.Path("/sys/fs/cgroup/kubepods/pod1/cricket-conmon-c1")));
  ASSERT_TRUE(RemovePodMonitorCgroup(layout, "cgroupfs", "/kubepods/pod1", "c1").ok());
  EXPECT_FALSE(PathExists(fs.Path("/sys/fs/cgroup/kubepods/pod1/cricket-conmon-c1")));
  EXPECT_TRUE(RemovePodMonitorCgroup(layout, "cgroupfs", "/kubepods/pod1", "c1").ok());  // idempotent
  EXPECT_TRUE(PathExists(fs.Path("/sys/fs/cgroup/kubepods/pod1")));                      // the pod's stays

  // No cgroups on the host: only the default placement works.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      ApplyMonitorSettings(c, "", nullptr, "/kubepods/pod1", "c2", "/bin/conmon", &mo)));
  c.runtime.conmon_cgroup = "";
  conmon::MonitorOptions plain;
  EXPECT_TRUE(ApplyMonitorSettings(c, "", nullptr, "/kubepods/pod1", "c2", "/bin/conmon", &plain).ok());
  EXPECT_TRUE(plain.config.cgroup_procs.empty());
}

}  // namespace
}  // namespace cricket::server
