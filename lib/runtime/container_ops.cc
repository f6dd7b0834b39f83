#include "lib/runtime/container_ops.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/mountinfo.h"

namespace cricket::runtime {
namespace {

constexpr char kStartSocket[] = "start";

// "/proc/self/fd/<dirfd>/start": keeps sun_path short whatever the length of the state root.
absl::StatusOr<std::pair<UniqueFd, sockaddr_un>> StartAddress(const std::string& dir) {
  UniqueFd dirfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd) return ErrnoError("open", dir);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = StrCat("/proc/self/fd/", dirfd.get(), "/", kStartSocket);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return std::make_pair(std::move(dirfd), addr);
}

}  // namespace

std::optional<cgroups::Manager> CgroupFor(const RuntimeOptions& options, const ContainerRecord& r) {
  if (!options.cgroup_layout) return std::nullopt;
  auto driver = cgroups::ParseDriver(r.cgroup_driver.empty() ? "cgroupfs" : r.cgroup_driver);
  if (!driver.ok()) return std::nullopt;
  auto where = cgroups::ParseCgroupsPath(*driver, r.cgroups_path, r.id);
  if (!where.ok()) return std::nullopt;
  auto m = cgroups::Manager::Open(*options.cgroup_layout, *where);
  if (!m.ok()) return std::nullopt;
  return std::move(*m);
}

oci::ContainerStatus ComputeStatus(const ContainerRecord& r, const std::optional<cgroups::Manager>& cg) {
  if (r.init.pid == 0) return oci::ContainerStatus::kCreating;
  auto pidfd = sys::PidFd::OpenIdentity(r.init);
  if (!pidfd.ok()) return oci::ContainerStatus::kStopped;
  auto state = sys::ReadProcessState(r.init.pid);
  if (!state.ok() || *state == 'Z' || *state == 'X') return oci::ContainerStatus::kStopped;
  if (!r.created) return oci::ContainerStatus::kCreating;
  if (!r.started) return oci::ContainerStatus::kCreated;
  if (cg) {
    auto fs = cg->GetFreezerState();
    if (fs.ok() && *fs != cgroups::FreezerState::kThawed) return oci::ContainerStatus::kPaused;
  }
  return oci::ContainerStatus::kRunning;
}

oci::State MakeState(const ContainerRecord& r, oci::ContainerStatus status) {
  oci::State s;
  s.oci_version = std::string(oci::kOciVersion);
  s.id = r.id;
  s.status = status;
  s.pid = (status == oci::ContainerStatus::kStopped) ? 0 : r.init.pid;
  s.bundle = r.bundle;
  s.annotations = r.annotations;
  s.rootfs = r.rootfs;
  s.created_ns = r.created_ns;
  return s;
}

absl::StatusOr<uint64_t> NamespacesToJoin(pid_t pid) {
  static const std::pair<const char*, uint64_t> kTypes[] = {
      {"mnt", CLONE_NEWNS},  {"uts", CLONE_NEWUTS},       {"ipc", CLONE_NEWIPC},   {"net", CLONE_NEWNET},
      {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}, {"user", CLONE_NEWUSER}, {"time", CLONE_NEWTIME}};
  uint64_t flags = 0;
  for (const auto& [name, flag] : kTypes) {
    struct stat theirs, ours;
    std::string path = StrCat("/proc/", pid, "/ns/", name);
    if (::stat(path.c_str(), &theirs) != 0) {
      if (errno == ENOENT && std::string_view(name) == "time") continue;  // kernels without time ns
      return ErrnoError("stat", path);
    }
    std::string own = StrCat("/proc/self/ns/", name);
    if (::stat(own.c_str(), &ours) != 0) return ErrnoError("stat", own);
    if (theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev) flags |= flag;
  }
  return flags;
}

absl::StatusOr<UniqueFd> ListenStartSocket(const std::string& dir) {
  ASSIGN_OR_RETURN(auto addr, StartAddress(dir));
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoError("create", "start socket");
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr.second), sizeof(addr.second)) != 0) {
    return ErrnoError("bind start socket in", dir);
  }
  if (::listen(sock.get(), 4) != 0) return ErrnoError("listen on start socket in", dir);
  return sock;
}

absl::Status RequestStart(const std::string& dir) {
  ASSIGN_OR_RETURN(auto addr, StartAddress(dir));
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoError("create", "socket");
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr.second), sizeof(addr.second)) != 0) {
    if (errno == ECONNREFUSED || errno == ENOENT) {
      return absl::FailedPreconditionError("the container init is not waiting for start (it exited?)");
    }
    return ErrnoError("connect to start socket in", dir);
  }
  if (::send(sock.get(), "S", 1, MSG_NOSIGNAL) != 1) return ErrnoError("send start request to", dir);
  // EOF without data: the init's end was closed by execve. Anything else explains a failed exec.
  std::string reply;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(sock.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  std::string path = dir + "/" + kStartSocket;
  ::unlink(path.c_str());
  if (!reply.empty()) {
    // "exec /bin/x: errno 13" → name the errno.
    size_t pos = reply.rfind("errno ");
    if (pos != std::string::npos) {
      if (auto e = ParseInt64(reply.substr(pos + 6))) {
        return ErrnoError(static_cast<int>(*e), reply.substr(0, pos > 2 ? pos - 2 : 0), "");
      }
    }
    return absl::InternalError(reply);
  }
  return absl::OkStatus();
}

absl::Status KillEverything(const ContainerRecord& r, const std::optional<cgroups::Manager>& cg) {
  auto pids = cg ? cg->Pids() : absl::StatusOr<std::vector<pid_t>>(std::vector<pid_t>{});
  if (cg && (!pids.ok() || !pids->empty())) {
    auto fs = cg->GetFreezerState();
    if (fs.ok() && *fs != cgroups::FreezerState::kThawed) (void)cg->Thaw();
    absl::Status s = cg->KillAll(SIGKILL);
    if (!s.ok() && !absl::IsNotFound(s))
      log::Warn("runtime", "kill all processes", {{"id", r.id}, {"error", s}});
  }
  auto init = sys::PidFd::OpenIdentity(r.init);
  if (!init.ok()) return absl::OkStatus();
  (void)init->Signal(SIGKILL);
  ASSIGN_OR_RETURN(bool exited, init->WaitExited(10'000));
  if (!exited)
    return absl::DeadlineExceededError(StrCat("container ", r.id, ": init did not exit after SIGKILL"));
  return absl::OkStatus();
}

absl::Status RemoveContainer(const ContainerStore& store, const ContainerRecord& r,
                             const std::optional<cgroups::Manager>& cg) {
  if (cg) RETURN_IF_ERROR(Annotate(cg->Destroy(), StrCat("remove cgroup of container ", r.id)));
  if (r.shares_host_mount_ns && !r.rootfs.empty()) {
    // Without a mount namespace of its own the container's mounts were made in ours.
    ASSIGN_OR_RETURN(auto mounts, sys::MountsUnder(r.rootfs));
    for (const auto& m : mounts) {
      if (::umount2(m.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
        return ErrnoError("unmount", m);
      }
    }
  }
  return store.RemoveDir(r.id);
}

oci::LinuxResources EffectiveResources(const oci::Spec& spec) {
  oci::LinuxResources r;
  if (!spec.linux || !spec.linux->resources) return r;
  r = *spec.linux->resources;
  if (r.devices.empty()) return r;
  auto allow = [&](const std::string& type, std::optional<int64_t> major, std::optional<int64_t> minor) {
    oci::DeviceCgroupRule rule;
    rule.allow = true;
    rule.type = type;
    rule.major = major;
    rule.minor = minor;
    rule.access = "rwm";
    r.devices.push_back(rule);
  };
  const std::pair<int64_t, int64_t> kDefaults[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8},
                                                   {1, 9}, {5, 0}, {5, 1}, {5, 2}};
  for (const auto& [maj, min] : kDefaults) allow("c", maj, min);
  allow("c", 136, std::nullopt);  // /dev/pts/*
  for (const auto& d : spec.linux->devices) {
    if (d.type == "p") continue;
    allow(d.type == "b" ? "b" : "c", d.major, d.minor);
  }
  return r;
}

oci::LinuxResources MergeResources(oci::LinuxResources base, const oci::LinuxResources& u) {
#define CRICKET_MERGE(dst, src, field) \
  if ((src).field) (dst).field = (src).field
  if (!u.devices.empty()) base.devices = u.devices;
  if (u.memory) {
    auto& m = base.memory ? *base.memory : base.memory.emplace();
    CRICKET_MERGE(m, *u.memory, limit);
    CRICKET_MERGE(m, *u.memory, reservation);
    CRICKET_MERGE(m, *u.memory, swap);
    CRICKET_MERGE(m, *u.memory, kernel);
    CRICKET_MERGE(m, *u.memory, kernel_tcp);
    CRICKET_MERGE(m, *u.memory, swappiness);
    CRICKET_MERGE(m, *u.memory, disable_oom_killer);
    CRICKET_MERGE(m, *u.memory, use_hierarchy);
    CRICKET_MERGE(m, *u.memory, check_before_update);
  }
  if (u.cpu) {
    auto& c = base.cpu ? *base.cpu : base.cpu.emplace();
    CRICKET_MERGE(c, *u.cpu, shares);
    CRICKET_MERGE(c, *u.cpu, quota);
    CRICKET_MERGE(c, *u.cpu, burst);
    CRICKET_MERGE(c, *u.cpu, period);
    CRICKET_MERGE(c, *u.cpu, realtime_runtime);
    CRICKET_MERGE(c, *u.cpu, realtime_period);
    CRICKET_MERGE(c, *u.cpu, idle);
    if (!u.cpu->cpus.empty()) c.cpus = u.cpu->cpus;
    if (!u.cpu->mems.empty()) c.mems = u.cpu->mems;
  }
  if (u.pids) base.pids = u.pids;
  if (u.block_io) base.block_io = u.block_io;
  if (!u.hugepage_limits.empty()) base.hugepage_limits = u.hugepage_limits;
  if (u.network) base.network = u.network;
  for (const auto& [k, v] : u.rdma) base.rdma[k] = v;
  for (const auto& [k, v] : u.unified) base.unified[k] = v;
#undef CRICKET_MERGE
  return base;
}

}  // namespace cricket::runtime
