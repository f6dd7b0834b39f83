// Overlay mounts of container root filesystems: the option string as data (tested without root), and
// the one place that calls mount(2)/umount2(2) for them.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/sys/clone.h"

namespace cricket::storage {

struct OverlayMountPlan {
  // Directory the lowerdir entries are relative to: mount(2) resolves them against the caller's cwd,
  // which is how "l/<link>" names keep the option string within one page for 100+ layers.
  std::string cwd;
  std::string target;
  std::string data;  // the mount option string
  bool readonly = false;
  unsigned long flags = 0;  // more MS_* flags (MS_NODEV, MS_NOSUID)
  // The same as parts, for MountIdmappedOverlay.
  std::vector<std::string> lowers;
  std::string upper;
  std::string work;
  std::vector<std::string> extra;
};

// `lowers` top first, relative to `cwd` (or absolute). `upper`/`work` empty for a read-only mount,
// which then needs at least two lowers. ResourceExhausted when `data` would not fit in one page.
absl::StatusOr<OverlayMountPlan> PlanOverlayMount(const std::string& cwd, const std::string& target,
                                                  const std::vector<std::string>& lowers,
                                                  const std::string& upper, const std::string& work,
                                                  const std::vector<std::string>& extra);

// Mounts per the plan. The cwd change happens in a short-lived thread that has unshared its
// filesystem attributes (unshare(CLONE_FS)), so the daemon's other threads are unaffected.
absl::Status MountOverlay(const OverlayMountPlan& plan);

// Mounts per the plan, but with every lower layer seen through an idmapped mount made with the user
// namespace `userns_fd` (its uid and gid maps map the layers' owners, as a container in that namespace
// sees its image). The layers are handed to overlayfs as detached mounts (fsconfig "lowerdir+" with a
// file descriptor, Linux 6.13): nothing but the overlay appears in the mount table, and the layers on
// disk keep their owners. The upper and work directories are used as they are: the caller gives the
// upper directory the owner the container's root maps to.
absl::Status MountIdmappedOverlay(const OverlayMountPlan& plan, int userns_fd);

// MountOverlay without maps; with them, MountIdmappedOverlay through a new user namespace of these maps
// (a container's rootfs or image volume in its pod's user namespace).
absl::Status MountOverlayMapped(const OverlayMountPlan& plan, const std::vector<sys::UidGidMapping>& uid_map,
                                const std::vector<sys::UidGidMapping>& gid_map);

// Whether this kernel can mount an overlay on idmapped layers given as file descriptors: `dir` (a
// directory on the layers' filesystem) is idmapped and offered to a new overlay context, which is then
// discarded unmounted. FailedPrecondition naming what is missing.
absl::Status ProbeIdmappedOverlay(const std::string& dir);

// Whether something is mounted on `path` (its device differs from its parent's).
bool IsMountPoint(const std::string& path);

// Unmounts every mount stacked on `path`; busy mounts are detached lazily. Not mounted is success.
absl::Status UnmountAll(const std::string& path);

}  // namespace cricket::storage
