// The container init's work as data.
//
// Everything the init process (and an exec'd process) does between clone and execve is computed
// beforehand, in the runtime's own process, into the plans below: which namespaces to join or create,
// each mount and device with its flags, the credentials, capability masks, the seccomp program, argv
// and envp. The child (init_child.h) only walks these plans and makes system calls, so it needs no
// allocation and is safe in a clone3 child of a multithreaded process; and the plans can be unit
// tested as data, and their execution tested against the recording FakeSys.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/sys/clone.h"

namespace cricket::runtime {

// ---------------------------------------------------------------------------------------------------
// Namespaces

// A namespace to join: linux.namespaces[].path, opened by the parent before cloning.
struct NamespaceJoin {
  int nstype = 0;    // CLONE_NEWNET, ...
  std::string path;  // for messages
  int fd = -1;       // open fd of `path` (owned by the parent; inherited by the child)
};

struct NamespacePlan {
  // CLONE_NEW* flags of the namespaces created by clone3 for the init (never CLONE_NEWCGROUP, which is
  // unshared after the init has joined its cgroup so that the namespace is rooted there).
  uint64_t clone_flags = 0;
  bool new_cgroup_ns = false;
  // Joined in this order: every namespace but the user namespace first, then the user namespace.
  std::vector<NamespaceJoin> joins;
  // Joining a pid or user namespace, or a new time namespace with offsets, needs an intermediate
  // process: it joins (and writes the offsets), then clones the init with CLONE_PARENT.
  bool two_stage = false;
  // A new user namespace: the parent writes the maps before the init continues.
  bool new_user_ns = false;
  // A user namespace joined by path (a pod's): its maps are already written.
  bool joins_user_ns = false;
  std::vector<sys::UidGidMapping> uid_map;
  std::vector<sys::UidGidMapping> gid_map;
  // Text for /proc/self/timens_offsets ("monotonic 10 0\nboottime 5 0\n"), written by the intermediate
  // process after unshare(CLONE_NEWTIME).
  std::string time_offsets;
  // The container shares the runtime's mount namespace (no "mount" entry): nothing may be mounted.
  bool shares_host_mount_ns = false;

  // The init runs in a user namespace other than the runtime's: it cannot make idmapped mounts of the
  // host's filesystems, nor reach paths the host's root alone may traverse.
  bool in_user_ns() const { return new_user_ns || joins_user_ns; }
};

// ---------------------------------------------------------------------------------------------------
// Root filesystem

struct MountStep {
  enum class Kind {
    kMount,        // mount(source, <target>, fstype, flags, data)
    kBind,         // open_tree(source) → mount_setattr → move_mount onto <target>
    kPropagation,  // mount(NULL, <target>, NULL, propagation) on an existing mount point
    kRemount,      // mount(NULL, <target>, NULL, MS_REMOUNT | MS_BIND | flags): per-mount flags (read-only)
    kSymlink,      // symlink(source → target)
    kDevice,       // mknod <target> (or bind the host's node when mknod is not allowed)
    kMkdir,        // mkdir -p <target>
  };
  Kind kind = Kind::kMount;
  std::string source;
  std::string target;  // absolute path inside the container
  std::string fstype;
  unsigned long flags = 0;  // kMount/kRemount: MS_* flags without propagation
  std::string data;
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  // kBind: mount_setattr attributes for the top mount ("ro", "nosuid", ...) and for every mount of the
  // tree ("rro", "rnosuid", ...).
  bool recursive = false;  // rbind (open_tree AT_RECURSIVE)
  uint64_t attr_set = 0;
  uint64_t attr_clr = 0;
  uint64_t rattr_set = 0;
  uint64_t rattr_clr = 0;
  int idmap_index = -1;          // index into RootfsPlan::idmap_userns_fds
  bool idmap_recursive = false;  // "ridmap": every mount of the tree
  // kBind: the detached tree made (attributes, idmap and propagation applied) by the runtime before
  // cloning, for idmapped mounts and in a user namespace; the init only attaches it. Owned by the
  // parent, inherited by the child; -1: the init makes the tree itself.
  int tree_fd = -1;
  // The target is created as a file (bind mount of a file, device node).
  bool target_is_file = false;
  // Resolve the target with RESOLVE_NO_SYMLINKS (/proc, /sys and /dev targets must not be symlinks).
  bool no_symlinks = false;
  // kDevice: node type and permissions, numbers, owner; the host node to bind when mknod fails.
  mode_t mode = 0;
  dev_t dev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  bool bind_device = false;  // always bind the host node (user namespaces cannot mknod)
};

struct Sysctl {
  std::string path;  // "/proc/sys/net/ipv4/ip_forward"
  std::string value;
};

struct RootfsPlan {
  std::string rootfs;  // absolute host path
  // MS_REC | MS_SLAVE or MS_PRIVATE: applied to "/" first so nothing propagates back to the host;
  // MS_REC | MS_SHARED when rootfsPropagation is (r)shared, so that the container's copies of shared host
  // mounts stay in their peer groups and mounts made inside a bidirectional volume reach the host.
  unsigned long host_propagation = 0;
  // With a shared "/", the mount holding the rootfs must be made private before the rootfs is bound
  // (pivot_root refuses shared parents, and the bind must not propagate): the rootfs and each of its
  // parent directories up to "/", tried in order until one is a mount point.
  std::vector<std::string> rootfs_mount_candidates;
  std::vector<MountStep> steps;  // before pivot_root, in order
  bool no_pivot = false;         // MS_MOVE + chroot instead of pivot_root (rootfs on ramfs)
  // After pivot_root:
  unsigned long rootfs_propagation = 0;  // linux.rootfsPropagation (0: none)
  std::vector<Sysctl> sysctls;
  std::vector<std::string> readonly_paths;
  std::vector<std::string> masked_paths;
  bool readonly_root = false;
  std::string hostname;
  bool set_hostname = false;
  std::string domainname;
  bool set_domainname = false;
  // Set up /dev (devices and symlinks are in `steps`); false when /dev is bind-mounted from the host.
  bool setup_dev = true;
  // Bind the console pty over /dev/console (process.terminal).
  bool console = false;
  // Directory to create for process.cwd before pivot_root.
  std::string cwd;
  // User namespaces for idmapped mounts: the mappings (BuildRootfsPlan) and the open fds of namespaces
  // made with them (the runtime, before cloning; owned by the parent, inherited by the child).
  struct IdmapRequest {
    std::vector<sys::UidGidMapping> uid_map;
    std::vector<sys::UidGidMapping> gid_map;
    // Idmapped with the user namespace the container joins (`path`) rather than a new one.
    std::string userns_path;
  };
  std::vector<IdmapRequest> idmaps;
  std::vector<int> idmap_userns_fds;
  // In a user namespace: the rootfs as a detached tree opened by the runtime (the init may not be able
  // to reach its path), attached over "/" of the init's mount namespace and pivoted into. -1 otherwise.
  int root_tree_fd = -1;
};

// ---------------------------------------------------------------------------------------------------
// The process (init or exec)

struct SeccompProgram {
  std::vector<sock_filter> filter;  // empty: no filter
  unsigned int flags = 0;           // SECCOMP_FILTER_FLAG_*
};

// Everything of ProcessPlan but the pointer arrays.
struct ProcessPlanFields {
  std::vector<std::string> args;
  std::vector<std::string> env;
  // Candidate executables in order ("/bin/sh" for args[0] "sh" and PATH=/usr/bin:/bin tries
  // "/usr/bin/sh", "/bin/sh"); the first one that is an executable regular file is run.
  std::vector<std::string> exec_candidates;
  std::string cwd = "/";

  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  bool set_groups = true;  // false when setgroups is denied in the user namespace
  std::optional<mode_t> umask;

  // Capability masks (bit n = capability n); nullopt keeps the caller's capabilities.
  struct Caps {
    uint64_t bounding = 0;
    uint64_t effective = 0;
    uint64_t permitted = 0;
    uint64_t inheritable = 0;
    uint64_t ambient = 0;
  };
  std::optional<Caps> caps;
  int last_cap = 40;  // /proc/sys/kernel/cap_last_cap

  bool no_new_privileges = false;
  SeccompProgram seccomp;
  // "/proc/self/attr/apparmor/exec" (or attr/exec) and its content, when a profile or label is set.
  std::string lsm_exec_attr_path;
  std::string lsm_exec_attr_value;
  std::string selinux_exec_value;  // written to /proc/self/attr/exec
  bool set_personality = false;
  unsigned long personality = 0;

  // stdio: caller fds that become 0, 1, 2 (-1: leave as inherited). Ignored with terminal.
  int stdio[3] = {-1, -1, -1};
  // Caller fds that become 3, 4, ... in order (runc's --preserve-fds, LISTEN_FDS).
  std::vector<int> extra_fds;
  bool terminal = false;
  unsigned short console_rows = 0;
  unsigned short console_cols = 0;
};

// argv/envp are NULL-terminated arrays pointing into args/env; copies and moves rebuild them, so they
// always point into the object's own strings.
struct ProcessPlan : ProcessPlanFields {
  std::vector<char*> argv;
  std::vector<char*> envp;

  ProcessPlan() { Finalize(); }
  ProcessPlan(const ProcessPlan& o) : ProcessPlanFields(o) { Finalize(); }
  ProcessPlan(ProcessPlan&& o) noexcept : ProcessPlanFields(std::move(o)) { Finalize(); }
  ProcessPlan& operator=(const ProcessPlan& o) {
    ProcessPlanFields::operator=(o);
    Finalize();
    return *this;
  }
  ProcessPlan& operator=(ProcessPlan&& o) noexcept {
    ProcessPlanFields::operator=(std::move(o));
    Finalize();
    return *this;
  }
  // Rebuilds argv/envp; call after changing args or env.
  void Finalize();
};

// The whole init: what clone3 creates and joins, the rootfs, the process.
struct InitPlan {
  NamespacePlan ns;
  RootfsPlan rootfs;
  ProcessPlan process;
  // The init stops at a hook point before pivot_root so that the parent runs the prestart,
  // createRuntime and createContainer hooks.
  bool hook_point = false;
  // The container's cgroups, joined by the init itself (cgroups::Manager::SelfJoin, opened by the
  // parent): it writes "0" to each v1 hierarchy's `tasks` file as its first step, and is cloned into
  // the v2 directory (CLONE_INTO_CGROUP). Empty / -1: the parent moves it there (Manager::Join).
  std::vector<int> cgroup1_tasks_fds;
  int cgroup2_fd = -1;
};

}  // namespace cricket::runtime
