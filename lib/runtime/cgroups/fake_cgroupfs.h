// Test support: a fake cgroupfs tree in a temporary directory, with the files the kernel would show
// (names and initial contents as on Linux 6.x), standing in for "/" via DetectOptions::path_prefix.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/runtime/cgroups/layout.h"

namespace cricket::cgroups::testing {

// This machine's layout: v1 cpu, cpuacct, cpuset, memory, devices, freezer, blkio, pids, name=systemd,
// and cgroup2 at /sys/fs/cgroup/unified with hugetlb.
extern const char kHybridMountInfo[];
extern const char kHybridSelfCgroup[];
extern const char kHybridProcCgroups[];
// A systemd host in pure cgroup v2 mode.
extern const char kV2MountInfo[];
extern const char kV2SelfCgroup[];
// A systemd host in legacy v1 mode (cpu,cpuacct and net_cls,net_prio co-mounted, no unified).
extern const char kV1MountInfo[];
extern const char kV1SelfCgroup[];

class FakeCgroupfs {
 public:
  FakeCgroupfs();
  ~FakeCgroupfs();
  FakeCgroupfs(const FakeCgroupfs&) = delete;
  FakeCgroupfs& operator=(const FakeCgroupfs&) = delete;

  const std::string& prefix() const { return prefix_; }
  // prefix + path.
  std::string Path(std::string_view path) const;
  void Write(std::string_view path, std::string_view content) const;
  std::string Read(std::string_view path) const;  // "<missing>" when absent

  // Creates a v1 cgroup directory (mount point when `root`) with the files of `controllers`.
  void MakeV1(std::string_view dir, const std::vector<std::string>& controllers, bool root = false) const;
  // Creates a v2 cgroup directory whose cgroup.controllers lists `controllers`, with their files.
  void MakeV2(std::string_view dir, const std::vector<std::string>& controllers, bool root = false) const;

  // Builds the trees for the sample mountinfo texts, roots plus the cgroup `leaf` (and its ancestors)
  // in every hierarchy, and returns the detected layout.
  Layout Hybrid(std::string_view leaf) const;
  Layout V2(std::string_view leaf) const;
  Layout V1(std::string_view leaf) const;

 private:
  std::string prefix_;
};

}  // namespace cricket::cgroups::testing
