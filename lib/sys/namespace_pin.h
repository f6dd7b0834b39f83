// Pod namespaces that exist without any process in them: each new namespace is pinned by a bind mount
// of its nsfs file onto a regular file, <namespaces_dir>/<type>ns/<name> (e.g. /run/cricket/ns/netns/
// <sandbox id>), so CNI plugins, the OCI runtime and conmon can join it by path, and it survives
// cricketd restarts until UnpinNamespace().
//
// No lasting thread of the calling daemon ever enters a new namespace. Network, IPC and UTS namespaces
// are made by a fresh thread that unshares them for itself only, binds its /proc/thread-self/ns/<type>
// onto the pins and ends (no process is forked from the daemon). A user namespace needs a
// single-threaded process: then a short-lived helper (a fork-like clone that only makes system calls)
// unshares them all and waits while the daemon writes its id maps and bind-mounts /proc/<helper>/ns/
// <type>, then exits. Code that must act inside a pinned namespace (bring lo up, dial a pod port, set a
// sysctl) likewise runs on a fresh thread that setns()es itself only and is discarded afterwards.
//
// Mount propagation: the namespaces directory is made a mount point with shared propagation (bound
// onto itself if needed, then MS_SHARED|MS_REC, as `ip netns add` does for /run/netns). cricketd, the
// CNI plugins, the runtime and conmon all run in the host mount namespace and would see the pins
// anyway; shared propagation matters for other mount namespaces holding a copy of the directory (a
// privileged pod with a hostPath of /run or of the directory, e.g. a network agent that reads pod
// netns paths): with a shared or slave copy, a new pin appears there and an unpin disappears there too,
// while with a private copy an old pin would keep its namespace (and the pod's network) alive forever.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/common/unique_fd.h"
#include "lib/sys/clone.h"

namespace cricket::sys {

// No pid namespace: a pid namespace lives only as long as its pid 1 (the kernel does not even expose
// pid_for_children before a first process exists), so a pod that shares one pid namespace gets it with
// its infra container and the others join /proc/<infra pid>/ns/pid; other pods run no infra process.
enum class NamespaceType { kNet, kIpc, kUts, kUser };

// "net", "ipc", "uts", "user".
std::string_view NamespaceTypeName(NamespaceType type);
// CLONE_NEWNET, ...
int NamespaceCloneFlag(NamespaceType type);
// Where the pin of `name` lives: <namespaces_dir>/<type>ns/<name>.
std::string PinPath(const std::string& namespaces_dir, NamespaceType type, const std::string& name);

// Creates `namespaces_dir` if needed and makes it a mount point with shared propagation (see above).
// Idempotent; PinNamespaces() calls it once per directory and process.
absl::Status PrepareNamespacesDir(const std::string& namespaces_dir);

struct PinnedNamespace {
  NamespaceType type;
  std::string path;
};

struct PinOptions {
  // For NamespaceType::kUser: the uid and gid mappings, both required. Every other namespace pinned in
  // the same call is owned by the new user namespace.
  std::vector<UidGidMapping> uid_map;
  std::vector<UidGidMapping> gid_map;
};

// Creates one new namespace of each of `types` and pins them under `namespaces_dir` as `name` (a single
// path component: the sandbox id). On error nothing is left behind (no pin, no helper process).
// AlreadyExists when a pin of that name exists.
absl::StatusOr<std::vector<PinnedNamespace>> PinNamespaces(const std::string& namespaces_dir,
                                                           const std::string& name,
                                                           const std::vector<NamespaceType>& types,
                                                           const PinOptions& opts = {});

// Whether `path` still holds a namespace (an nsfs file mounted there); false after a reboot or an unpin.
bool IsPinned(const std::string& path);

// Unmounts (MNT_DETACH) and removes one pin. Idempotent: a missing pin, or a file that is no longer a
// mount after a crash, is success.
absl::Status UnpinNamespace(const std::string& path);

// Runs `fn` on a new thread that has joined the namespace pinned at `path` (kNet, kIpc or kUts: the
// namespaces a single thread can join on its own) and waits for it. The thread ends with `fn`, so no
// thread of the caller is ever left inside the namespace. Sockets created by `fn` stay in that netns.
absl::Status RunInNamespace(const std::string& path, NamespaceType type,
                            const std::function<absl::Status()>& fn);

// Starts connecting a TCP socket to host:port from inside the network namespace pinned at `netns_path`
// (port forwarding dials "127.0.0.1" or "::1" there) and returns it at once, non-blocking and
// close-on-exec, its connect possibly still in progress: the caller waits for it to become writable
// and reads SO_ERROR. Errors: the namespace, the socket, or a connect that failed at once.
absl::StatusOr<UniqueFd> StartTcpConnectInNetns(const std::string& netns_path, const std::string& host,
                                                int port);

// Connects a TCP socket to host:port from inside the network namespace pinned at `netns_path` and
// returns it, connected and blocking, close-on-exec.
absl::StatusOr<UniqueFd> DialTcpInNetns(const std::string& netns_path, const std::string& host, int port,
                                        absl::Duration timeout);

// Sets the loopback interface "lo" of the network namespace at `netns_path` up (every pod has a working
// lo whatever its CNI configuration does).
absl::Status BringUpLoopback(const std::string& netns_path);

}  // namespace cricket::sys
