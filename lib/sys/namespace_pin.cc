#include "lib/sys/namespace_pin.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace cricket::sys {
namespace {

// Runs in the helper (a fork-like copy of the daemon): system calls only. It creates the namespaces,
// reports, then waits to be killed; every signal stays blocked, so only SIGKILL ends it: from its
// owner, or from the kernel when the thread that cloned it dies (a daemon killed mid-pin must not
// leave it holding the namespaces).
[[noreturn]] void HelperMain(int flags, int ready_fd, pid_t parent) {
  // Drop the inherited descriptors (sockets, other helpers' pipes) at once.
  if (ready_fd > 3) close_range(3, ready_fd - 1, 0);
  close_range(ready_fd + 1, ~0U, 0);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
  int err = unshare(flags) == 0 ? 0 : errno;
  (void)!write(ready_fd, &err, sizeof(err));
  for (;;) pause();
}

// A running helper process, killed and reaped on destruction.
class Helper {
 public:
  Helper() = default;
  Helper(const Helper&) = delete;
  Helper& operator=(const Helper&) = delete;
  ~Helper() {
    if (!pidfd_.valid()) return;
    syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    siginfo_t info;
    while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED | __WALL) != 0 &&
           errno == EINTR) {
    }
  }

  // Starts the helper and waits until it has unshared `flags`.
  absl::Status Start(int flags) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe2", "namespace helper");
    UniqueFd ready_r(fds[0]), ready_w(fds[1]);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pidfd = -1;
    pid_t self = getpid();
    // Exit signal 0 so that nobody else reaps it (see subprocess.h); the child keeps all signals blocked.
    long pid = Clone3(CloneArgs{.flags = 0, .exit_signal = 0}, &pidfd);
    if (pid == 0) HelperMain(flags, ready_w.get(), self);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return ErrnoError(static_cast<int>(-pid), "clone3", "namespace helper");
    pid_ = static_cast<pid_t>(pid);
    pidfd_.reset(pidfd);
    ready_w.reset();
    // Wait for the report, or for the helper's death should it never come.
    pollfd p[2] = {{ready_r.get(), POLLIN, 0}, {pidfd_.get(), POLLIN, 0}};
    while (poll(p, 2, -1) < 0) {
      if (errno != EINTR) return ErrnoError("poll", "namespace helper");
    }
    int err = 0;
    ssize_t n = read(ready_r.get(), &err, sizeof(err));
    if (n != sizeof(err)) return absl::InternalError("namespace helper died before creating the namespaces");
    if (err != 0) return ErrnoError(err, "unshare", "new namespaces");
    return absl::OkStatus();
  }

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
};

absl::Status ValidatePinName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("namespace pin name \"", name, "\" is not a single path component"));
  }
  return absl::OkStatus();
}

// Creates the empty file a namespace is bound onto. AlreadyExists when a pin of that name exists.
absl::Status CreatePinFile(const std::string& path) {
  RETURN_IF_ERROR(MkdirAll(DirName(path), 0755));
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0444);
  if (fd < 0) return ErrnoError("create namespace pin", path);
  close(fd);
  return absl::OkStatus();
}

absl::Mutex prepared_mu;
absl::flat_hash_set<std::string>& PreparedDirs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(prepared_mu) {
  static auto* dirs = new absl::flat_hash_set<std::string>();
  return *dirs;
}

struct ThreadJob {
  const std::function<absl::Status()>* fn;
  absl::Status status;
};

void* FreshThreadMain(void* arg) {
  auto* job = static_cast<ThreadJob*>(arg);
  job->status = (*job->fn)();
  return nullptr;
}

// Runs `fn` on a new thread and waits for it; whatever namespaces the thread moves into end with it.
absl::Status RunOnFreshThread(const std::function<absl::Status()>& fn) {
  ThreadJob job{&fn, absl::OkStatus()};
  pthread_t thread;
  int rc = pthread_create(&thread, nullptr, FreshThreadMain, &job);
  if (rc != 0) return ErrnoError(rc, "create a thread", "to work in a namespace");
  pthread_join(thread, nullptr);
  return job.status;
}

}  // namespace

std::string_view NamespaceTypeName(NamespaceType type) {
  switch (type) {
    case NamespaceType::kNet:
      return "net";
    case NamespaceType::kIpc:
      return "ipc";
    case NamespaceType::kUts:
      return "uts";
    case NamespaceType::kUser:
      return "user";
  }
  return "?";
}

int NamespaceCloneFlag(NamespaceType type) {
  switch (type) {
    case NamespaceType::kNet:
      return CLONE_NEWNET;
    case NamespaceType::kIpc:
      return CLONE_NEWIPC;
    case NamespaceType::kUts:
      return CLONE_NEWUTS;
    case NamespaceType::kUser:
      return CLONE_NEWUSER;
  }
  return 0;
}

std::string PinPath(const std::string& namespaces_dir, NamespaceType type, const std::string& name) {
  return JoinPath(namespaces_dir, StrCat(NamespaceTypeName(type), "ns/", name));
}

absl::Status PrepareNamespacesDir(const std::string& namespaces_dir) {
  absl::MutexLock lock(&prepared_mu);
  if (PreparedDirs().contains(namespaces_dir)) return absl::OkStatus();
  RETURN_IF_ERROR(MkdirAll(namespaces_dir, 0755));
  const char* dir = namespaces_dir.c_str();
  if (mount("", dir, nullptr, MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL) return ErrnoError("make shared", namespaces_dir);
    // EINVAL: not a mount point yet. Bind it onto itself, then share it.
    if (mount(dir, dir, nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return ErrnoError("bind onto itself", namespaces_dir);
    if (mount("", dir, nullptr, MS_SHARED | MS_REC, nullptr) != 0)
      return ErrnoError("make shared", namespaces_dir);
  }
  PreparedDirs().insert(namespaces_dir);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PinnedNamespace>> PinNamespaces(const std::string& namespaces_dir,
                                                           const std::string& name,
                                                           const std::vector<NamespaceType>& types,
                                                           const PinOptions& opts) {
  RETURN_IF_ERROR(ValidatePinName(name));
  if (types.empty()) return absl::InvalidArgumentError("no namespace type to pin");
  int flags = 0;
  bool user = false;
  for (NamespaceType t : types) {
    if (flags & NamespaceCloneFlag(t)) {
      return absl::InvalidArgumentError(StrCat("namespace type ", NamespaceTypeName(t), " listed twice"));
    }
    flags |= NamespaceCloneFlag(t);
    user = user || t == NamespaceType::kUser;
  }
  if (user && (opts.uid_map.empty() || opts.gid_map.empty())) {
    return absl::InvalidArgumentError("a user namespace needs both a uid_map and a gid_map");
  }
  RETURN_IF_ERROR(PrepareNamespacesDir(namespaces_dir));

  std::vector<PinnedNamespace> pinned;
  std::vector<std::string> created;  // pin files created so far, removed on failure
  absl::Cleanup rollback = [&] {
    for (const std::string& p : created) (void)UnpinNamespace(p);
  };
  for (NamespaceType t : types) {
    std::string path = PinPath(namespaces_dir, t, name);
    RETURN_IF_ERROR(CreatePinFile(path));
    created.push_back(path);
    pinned.push_back({t, path});
  }
  if (!user) {
    // Network, IPC and UTS namespaces can be made by one thread for itself: a fresh thread unshares
    // them, binds its own /proc/thread-self/ns files onto the pins and ends, so no process is forked
    // from the (large, multithreaded) daemon. A user namespace needs a single-threaded process: the
    // helper below.
    std::function<absl::Status()> bind = [&]() -> absl::Status {
      if (unshare(flags) != 0) return ErrnoError("unshare", "new namespaces");
      for (const PinnedNamespace& p : pinned) {
        std::string source = StrCat("/proc/thread-self/ns/", NamespaceTypeName(p.type));
        if (mount(source.c_str(), p.path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
          return ErrnoError(StrCat("bind ", source, " onto"), p.path);
        }
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(RunOnFreshThread(bind));
    std::move(rollback).Cancel();
    return pinned;
  }
  Helper helper;
  RETURN_IF_ERROR(helper.Start(flags));
  std::string proc = StrCat("/proc/", helper.pid());
  if (user) RETURN_IF_ERROR(WriteIdMaps(helper.pid(), opts.uid_map, opts.gid_map, false));
  for (const PinnedNamespace& p : pinned) {
    std::string source = StrCat(proc, "/ns/", NamespaceTypeName(p.type));
    if (mount(source.c_str(), p.path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return ErrnoError(StrCat("bind ", source, " onto"), p.path);
    }
  }
  std::move(rollback).Cancel();
  return pinned;
}

absl::Status UnpinNamespace(const std::string& path) {
  // A pin bound twice (a retried pin after a crash) needs two unmounts; stop at "not a mount".
  for (int i = 0; i < 16; ++i) {
    if (umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) break;
    return ErrnoError("unmount namespace pin", path);
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove namespace pin", path);
  return absl::OkStatus();
}

bool IsPinned(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && st.f_type == NSFS_MAGIC;
}

absl::Status RunInNamespace(const std::string& path, NamespaceType type,
                            const std::function<absl::Status()>& fn) {
  if (type != NamespaceType::kNet && type != NamespaceType::kIpc && type != NamespaceType::kUts) {
    return absl::InvalidArgumentError(
        StrCat("a thread cannot join a ", NamespaceTypeName(type), " namespace on its own"));
  }
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open namespace", path);
  absl::Status st = RunOnFreshThread([&]() -> absl::Status {
    if (setns(fd.get(), NamespaceCloneFlag(type)) != 0) return ErrnoError("setns", "namespace");
    return fn();
  });
  return Annotate(st, StrCat("in ", NamespaceTypeName(type), " namespace ", path));
}

namespace {

struct TcpTarget {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string name;  // "127.0.0.1:80", "[::1]:80"
};

absl::StatusOr<TcpTarget> ParseTcpTarget(const std::string& host, int port) {
  if (port <= 0 || port > 65535) return absl::InvalidArgumentError(StrCat("invalid port ", port));
  TcpTarget t;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&t.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&t.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    t.len = sizeof(*v4);
    t.name = StrCat(host, ":", port);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    t.len = sizeof(*v6);
    t.name = StrCat("[", host, "]:", port);
  } else {
    return absl::InvalidArgumentError(StrCat("not an IP address: \"", host, "\""));
  }
  return t;
}

}  // namespace

absl::StatusOr<UniqueFd> StartTcpConnectInNetns(const std::string& netns_path, const std::string& host,
                                                int port) {
  ASSIGN_OR_RETURN(TcpTarget target, ParseTcpTarget(host, port));
  UniqueFd sock;
  RETURN_IF_ERROR(RunInNamespace(netns_path, NamespaceType::kNet, [&]() -> absl::Status {
    sock.reset(socket(target.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!sock.valid()) return ErrnoError("socket for", target.name);
    if (connect(sock.get(), reinterpret_cast<sockaddr*>(&target.addr), target.len) == 0)
      return absl::OkStatus();
    if (errno != EINPROGRESS) return ErrnoError("connect to", target.name);
    return absl::OkStatus();
  }));
  return sock;
}

absl::StatusOr<UniqueFd> DialTcpInNetns(const std::string& netns_path, const std::string& host, int port,
                                        absl::Duration timeout) {
  ASSIGN_OR_RETURN(TcpTarget target, ParseTcpTarget(host, port));
  ASSIGN_OR_RETURN(UniqueFd sock, StartTcpConnectInNetns(netns_path, host, port));
  const std::string where = StrCat(" in net namespace ", netns_path);
  pollfd p = {sock.get(), POLLOUT, 0};
  int ms = timeout == absl::InfiniteDuration() ? -1 : static_cast<int>(absl::ToInt64Milliseconds(timeout));
  int rc;
  while ((rc = poll(&p, 1, ms)) < 0 && errno == EINTR) {
  }
  if (rc < 0) return ErrnoError("poll connect to", target.name + where);
  if (rc == 0) return absl::DeadlineExceededError(StrCat("connect to ", target.name, ": timed out", where));
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return ErrnoError(err, "connect to", target.name + where);
  int fl = fcntl(sock.get(), F_GETFL);
  fcntl(sock.get(), F_SETFL, fl & ~O_NONBLOCK);
  return sock;
}

absl::Status BringUpLoopback(const std::string& netns_path) {
  return RunInNamespace(netns_path, NamespaceType::kNet, []() -> absl::Status {
    UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock.valid()) return ErrnoError("socket", "to configure lo");
    ifreq req{};
    strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0) return ErrnoError("get flags of", "lo");
    if (req.ifr_flags & IFF_UP) return absl::OkStatus();
    req.ifr_flags |= IFF_UP;
    if (ioctl(sock.get(), SIOCSIFFLAGS, &req) != 0) return ErrnoError("set up", "lo");
    return absl::OkStatus();
  });
}

}  // namespace cricket::sys
