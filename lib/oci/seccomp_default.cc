// cricket's RuntimeDefault seccomp profile. Its effect matches the containers/moby default profile
// (https://github.com/moby/profiles/blob/main/seccomp/default.json): the same syscalls are allowed
// under the same conditions. The allow-list is grouped by topic here.
#include <initializer_list>

#include "lib/oci/seccomp_profile.h"

namespace cricket::oci {

namespace {

using Names = std::initializer_list<const char*>;

// ----- Always allowed, by topic.

// Paths, directories, descriptors and metadata.
constexpr Names kFilesystem = {
    "access",     "faccessat",  "faccessat2",  "chdir",       "fchdir",
    "getcwd",     "chmod",      "fchmod",      "fchmodat",    "fchmodat2",
    "chown",      "chown32",    "fchown",      "fchown32",    "fchownat",
    "lchown",     "lchown32",   "creat",       "open",        "openat",
    "openat2",    "close",      "close_range", "dup",         "dup2",
    "dup3",       "fcntl",      "fcntl64",     "flock",       "link",
    "linkat",     "symlink",    "symlinkat",   "unlink",      "unlinkat",
    "rename",     "renameat",   "renameat2",   "mkdir",       "mkdirat",
    "mknod",      "mknodat",    "rmdir",       "readlink",    "readlinkat",
    "truncate",   "truncate64", "ftruncate",   "ftruncate64", "fallocate",
    "umask",      "utime",      "utimes",      "utimensat",   "utimensat_time64",
    "futimesat",  "getdents",   "getdents64",  "stat",        "stat64",
    "lstat",      "lstat64",    "fstat",       "fstat64",     "fstatat64",
    "newfstatat", "statx",      "statfs",      "statfs64",    "fstatfs",
    "fstatfs64",  "statmount",  "listmount",   "cachestat",   "name_to_handle_at",
};

// Extended attributes.
constexpr Names kXattr = {
    "getxattr",    "lgetxattr",    "fgetxattr",    "getxattrat",    "setxattr",   "lsetxattr",
    "fsetxattr",   "setxattrat",   "listxattr",    "llistxattr",    "flistxattr", "listxattrat",
    "removexattr", "lremovexattr", "fremovexattr", "removexattrat",
};

// Reading, writing, syncing and asynchronous I/O.
constexpr Names kIo = {
    "read",          "readv",
    "pread64",       "preadv",
    "preadv2",       "write",
    "writev",        "pwrite64",
    "pwritev",       "pwritev2",
    "lseek",         "_llseek",
    "sendfile",      "sendfile64",
    "splice",        "tee",
    "vmsplice",      "copy_file_range",
    "readahead",     "fadvise64",
    "fadvise64_64",  "fsync",
    "fdatasync",     "sync",
    "syncfs",        "sync_file_range",
    "ioctl",         "io_setup",
    "io_destroy",    "io_submit",
    "io_cancel",     "io_getevents",
    "io_pgetevents", "io_pgetevents_time64",
    "ioprio_get",    "ioprio_set",
};

// Waiting for events: select/poll/epoll and the descriptors made for them.
constexpr Names kEvents = {
    "select",          "_newselect",        "pselect6",         "pselect6_time64",   "poll",
    "ppoll",           "ppoll_time64",      "epoll_create",     "epoll_create1",     "epoll_ctl",
    "epoll_ctl_old",   "epoll_wait",        "epoll_wait_old",   "epoll_pwait",       "epoll_pwait2",
    "eventfd",         "eventfd2",          "signalfd",         "signalfd4",         "timerfd_create",
    "timerfd_settime", "timerfd_settime64", "timerfd_gettime",  "timerfd_gettime64", "inotify_init",
    "inotify_init1",   "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
};

// Address space.
constexpr Names kMemory = {
    "brk",           "mmap",
    "mmap2",         "munmap",
    "mremap",        "mprotect",
    "madvise",       "mincore",
    "msync",         "mlock",
    "mlock2",        "mlockall",
    "munlock",       "munlockall",
    "memfd_create",  "memfd_secret",
    "membarrier",    "remap_file_pages",
    "pkey_alloc",    "pkey_free",
    "pkey_mprotect", "map_shadow_stack",
    "mseal",
};

// Process lifecycle, limits, threads and self-inspection.
constexpr Names kProcess = {
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "setpgid",
    "getpgrp",
    "getsid",
    "setsid",
    "getpriority",
    "setpriority",
    "getrlimit",
    "setrlimit",
    "ugetrlimit",
    "prlimit64",
    "getrusage",
    "prctl",
    "capget",
    "capset",
    "seccomp",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "get_thread_area",
    "set_thread_area",
    "restart_syscall",
    "uname",
    "sysinfo",
    "getrandom",
    "getcpu",
    "times",
    "pidfd_open",
    "pidfd_send_signal",
    "process_mrelease",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futex_wait",
    "futex_wake",
    "futex_requeue",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "riscv_hwprobe",
    "uretprobe",
};

// User and group identity.
constexpr Names kCredentials = {
    "getuid",     "getuid32",   "geteuid",     "geteuid32",   "getgid",      "getgid32",   "getegid",
    "getegid32",  "getresuid",  "getresuid32", "getresgid",   "getresgid32", "getgroups",  "getgroups32",
    "setuid",     "setuid32",   "setgid",      "setgid32",    "setreuid",    "setreuid32", "setregid",
    "setregid32", "setresuid",  "setresuid32", "setresgid",   "setresgid32", "setfsuid",   "setfsuid32",
    "setfsgid",   "setfsgid32", "setgroups",   "setgroups32",
};

// Scheduling of the caller's own threads.
constexpr Names kScheduling = {
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getattr",
    "sched_setattr",
    "sched_getparam",
    "sched_setparam",
    "sched_getscheduler",
    "sched_setscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
};

// Signals.
constexpr Names kSignals = {
    "kill",          "tkill",          "tgkill",          "rt_sigaction",
    "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "rt_sigreturn",  "rt_sigsuspend",  "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "sigaltstack",   "sigprocmask",    "sigreturn",       "pause",
};

// Clocks, sleeps and timers (reading clocks; setting them needs CAP_SYS_TIME below).
constexpr Names kTime = {
    "time",          "gettimeofday",        "clock_gettime",   "clock_gettime64",
    "clock_getres",  "clock_getres_time64", "clock_nanosleep", "clock_nanosleep_time64",
    "nanosleep",     "clock_adjtime",       "clock_adjtime64", "adjtimex",
    "alarm",         "getitimer",           "setitimer",       "timer_create",
    "timer_delete",  "timer_getoverrun",    "timer_gettime",   "timer_gettime64",
    "timer_settime", "timer_settime64",
};

// System V and POSIX IPC, pipes.
constexpr Names kIpc = {
    "ipc",
    "msgget",
    "msgctl",
    "msgsnd",
    "msgrcv",
    "semget",
    "semctl",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "mq_open",
    "mq_unlink",
    "mq_notify",
    "mq_getsetattr",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "pipe",
    "pipe2",
};

// Sockets (socket(2) itself is argument-checked below).
constexpr Names kNetwork = {
    "socketcall", "socketpair",  "bind",        "connect",    "listen",     "accept",   "accept4",
    "shutdown",   "getsockname", "getpeername", "getsockopt", "setsockopt", "send",     "sendto",
    "sendmsg",    "sendmmsg",    "recv",        "recvfrom",   "recvmsg",    "recvmmsg", "recvmmsg_time64",
};

// Mounting, namespaces, host names, BPF, perf, quotas and the kernel log: CAP_SYS_ADMIN only.
constexpr Names kSysAdmin = {
    "bpf",
    "clone",
    "clone3",
    "fanotify_init",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "lookup_dcookie",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "mount",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "perf_event_open",
    "quotactl",
    "quotactl_fd",
    "setdomainname",
    "sethostname",
    "setns",
    "syslog",
    "umount",
    "umount2",
    "unshare",
};

// ----- Rule builders.

SeccompProfileSyscall Rule(Names names, SeccompAction action = SeccompAction::kAllow) {
  SeccompProfileSyscall r;
  for (const char* n : names) r.names.emplace_back(n);
  r.action = action;
  return r;
}

SeccompProfileSyscall WithCaps(SeccompProfileSyscall r, std::initializer_list<const char*> caps) {
  for (const char* c : caps) r.includes.caps.emplace_back(c);
  return r;
}

SeccompProfileSyscall OnArches(SeccompProfileSyscall r, std::initializer_list<const char*> arches) {
  for (const char* a : arches) r.includes.arches.emplace_back(a);
  return r;
}

SeccompArg Arg(uint32_t index, SeccompOperator op, uint64_t value, uint64_t value_two = 0) {
  SeccompArg a;
  a.index = index;
  a.op = op;
  a.value = value;
  a.value_two = value_two;
  return a;
}

SeccompProfileSyscall WithArg(SeccompProfileSyscall r, SeccompArg arg) {
  r.args.push_back(arg);
  return r;
}

// Address families socket(2) must not create: AF_ALG (38, kernel crypto sockets) and AF_VSOCK (40,
// host ↔ VM sockets).
constexpr uint64_t kAfAlg = 38;
constexpr uint64_t kAfVsock = 40;

// personality(2) personas a container may switch to: PER_LINUX, PER_LINUX32, UNAME26,
// UNAME26|PER_LINUX32, and 0xffffffff which only queries the current persona.
constexpr uint64_t kPersonalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET:
// without CAP_SYS_ADMIN, clone may not create namespaces.
constexpr uint64_t kCloneNamespaceFlags = 0x7E020000;

// Rules that hold everywhere: the topic groups, ptrace from 4.8 on, and the argument-checked socket and
// personality.
void AddUnconditionalRules(std::vector<SeccompProfileSyscall>& rules) {
  for (Names group : {kFilesystem, kXattr, kIo, kEvents, kMemory, kProcess, kCredentials, kScheduling,
                      kSignals, kTime, kIpc, kNetwork}) {
    rules.push_back(Rule(group));
  }

  // Before 4.8, ptrace could be used to bypass seccomp; from then on it is safe to allow.
  SeccompProfileSyscall ptrace = Rule({"ptrace", "process_vm_readv", "process_vm_writev"});
  ptrace.includes.min_kernel = KernelVersion{4, 8};
  rules.push_back(std::move(ptrace));

  rules.push_back(WithArg(Rule({"socket"}), Arg(0, SeccompOperator::kLessThan, kAfAlg)));
  rules.push_back(WithArg(Rule({"socket"}), Arg(0, SeccompOperator::kEqualTo, kAfAlg + 1)));
  rules.push_back(WithArg(Rule({"socket"}), Arg(0, SeccompOperator::kGreaterThan, kAfVsock)));
  for (uint64_t persona : kPersonalities) {
    rules.push_back(WithArg(Rule({"personality"}), Arg(0, SeccompOperator::kEqualTo, persona)));
  }
}

// Calls that exist on some architectures only.
void AddArchitectureRules(std::vector<SeccompProfileSyscall>& rules) {
  rules.push_back(OnArches(Rule({"sync_file_range2", "swapcontext"}), {"ppc64le"}));
  rules.push_back(OnArches(Rule({"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
                                 "cacheflush", "set_tls"}),
                           {"arm", "arm64"}));
  rules.push_back(OnArches(Rule({"arch_prctl"}), {"amd64", "x32"}));
  rules.push_back(OnArches(Rule({"modify_ldt"}), {"amd64", "x32", "x86"}));
  rules.push_back(
      OnArches(Rule({"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}), {"s390", "s390x"}));
  rules.push_back(OnArches(Rule({"riscv_flush_icache"}), {"riscv64"}));
}

// Calls unlocked by capabilities of the container's bounding set.
void AddCapabilityRules(std::vector<SeccompProfileSyscall>& rules) {
  rules.push_back(WithCaps(Rule({"open_by_handle_at"}), {"CAP_DAC_READ_SEARCH"}));
  rules.push_back(WithCaps(Rule(kSysAdmin), {"CAP_SYS_ADMIN"}));
  // Without CAP_SYS_ADMIN: clone only without namespace flags (the flags are argument 1 on s390), and
  // clone3, whose flags live in memory seccomp cannot read, reports ENOSYS so libc falls back to clone.
  SeccompProfileSyscall clone =
      WithArg(Rule({"clone"}), Arg(0, SeccompOperator::kMaskedEqual, kCloneNamespaceFlags, 0));
  clone.excludes.caps = {"CAP_SYS_ADMIN"};
  clone.excludes.arches = {"s390", "s390x"};
  rules.push_back(clone);
  SeccompProfileSyscall clone_s390 =
      WithArg(Rule({"clone"}), Arg(1, SeccompOperator::kMaskedEqual, kCloneNamespaceFlags, 0));
  clone_s390.includes.arches = {"s390", "s390x"};
  clone_s390.excludes.caps = {"CAP_SYS_ADMIN"};
  rules.push_back(clone_s390);
  SeccompProfileSyscall clone3 = Rule({"clone3"}, SeccompAction::kErrno);
  clone3.errno_ret = 38;  // ENOSYS
  clone3.excludes.caps = {"CAP_SYS_ADMIN"};
  rules.push_back(clone3);

  rules.push_back(WithCaps(Rule({"reboot"}), {"CAP_SYS_BOOT"}));
  rules.push_back(WithCaps(Rule({"chroot"}), {"CAP_SYS_CHROOT"}));
  rules.push_back(WithCaps(Rule({"delete_module", "init_module", "finit_module"}), {"CAP_SYS_MODULE"}));
  rules.push_back(WithCaps(Rule({"acct"}), {"CAP_SYS_PACCT"}));
  rules.push_back(WithCaps(
      Rule({"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}),
      {"CAP_SYS_PTRACE"}));
  rules.push_back(WithCaps(Rule({"iopl", "ioperm"}), {"CAP_SYS_RAWIO"}));
  rules.push_back(
      WithCaps(Rule({"settimeofday", "stime", "clock_settime", "clock_settime64"}), {"CAP_SYS_TIME"}));
  rules.push_back(WithCaps(Rule({"vhangup"}), {"CAP_SYS_TTY_CONFIG"}));
  rules.push_back(WithCaps(Rule({"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}),
                           {"CAP_SYS_NICE"}));
  rules.push_back(WithCaps(Rule({"syslog"}), {"CAP_SYSLOG"}));
  rules.push_back(WithCaps(Rule({"bpf"}), {"CAP_BPF"}));
  rules.push_back(WithCaps(Rule({"perf_event_open"}), {"CAP_PERFMON"}));
}

SeccompProfile Build() {
  SeccompProfile p;
  p.default_action = SeccompAction::kErrno;
  p.default_errno_ret = 1;  // EPERM
  p.arch_map = {
      {"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
      {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}},
      {"SCMP_ARCH_MIPS64", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"}},
      {"SCMP_ARCH_MIPS64N32", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"}},
      {"SCMP_ARCH_MIPSEL64", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"}},
      {"SCMP_ARCH_MIPSEL64N32", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"}},
      {"SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}},
      {"SCMP_ARCH_RISCV64", {}},
      {"SCMP_ARCH_LOONGARCH64", {}},
  };
  AddUnconditionalRules(p.syscalls);
  AddArchitectureRules(p.syscalls);
  AddCapabilityRules(p.syscalls);
  return p;
}

}  // namespace

const SeccompProfile& RuntimeDefaultSeccompProfile() {
  static const SeccompProfile* const profile = new SeccompProfile(Build());
  return *profile;
}

}  // namespace cricket::oci
