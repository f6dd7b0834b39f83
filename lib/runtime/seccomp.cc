#include "lib/runtime/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <set>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"

namespace cricket::runtime {
namespace {

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

absl::StatusOr<uint32_t> Action(oci::SeccompAction action, std::optional<uint32_t> errno_ret) {
  switch (action) {
    case oci::SeccompAction::kKill:
    case oci::SeccompAction::kKillThread:
      return SCMP_ACT_KILL_THREAD;
    case oci::SeccompAction::kKillProcess:
      return SCMP_ACT_KILL_PROCESS;
    case oci::SeccompAction::kTrap:
      return SCMP_ACT_TRAP;
    case oci::SeccompAction::kErrno:
      return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
    case oci::SeccompAction::kTrace:
      return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
    case oci::SeccompAction::kAllow:
      return SCMP_ACT_ALLOW;
    case oci::SeccompAction::kLog:
      return SCMP_ACT_LOG;
    case oci::SeccompAction::kNotify:
      return absl::UnimplementedError("seccomp: SCMP_ACT_NOTIFY (seccomp listener) is not supported");
  }
  return absl::InvalidArgumentError("seccomp: unknown action");
}

scmp_compare Operator(oci::SeccompOperator op) {
  switch (op) {
    case oci::SeccompOperator::kNotEqual:
      return SCMP_CMP_NE;
    case oci::SeccompOperator::kLessThan:
      return SCMP_CMP_LT;
    case oci::SeccompOperator::kLessEqual:
      return SCMP_CMP_LE;
    case oci::SeccompOperator::kEqualTo:
      return SCMP_CMP_EQ;
    case oci::SeccompOperator::kGreaterEqual:
      return SCMP_CMP_GE;
    case oci::SeccompOperator::kGreaterThan:
      return SCMP_CMP_GT;
    case oci::SeccompOperator::kMaskedEqual:
      return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

absl::StatusOr<uint32_t> Arch(const std::string& name) {
  static const std::pair<const char*, uint32_t> kArches[] = {
      {"SCMP_ARCH_X86", SCMP_ARCH_X86},
      {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
      {"SCMP_ARCH_X32", SCMP_ARCH_X32},
      {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
      {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
      {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
      {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
      {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
      {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
      {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
      {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
      {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
      {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
      {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
      {"SCMP_ARCH_S390", SCMP_ARCH_S390},
      {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
      {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
      {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
      {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
  };
  for (const auto& [n, a] : kArches) {
    if (name == n) return a;
  }
  return absl::InvalidArgumentError(
      StrCat("linux.seccomp.architectures: unknown architecture \"", name, "\""));
}

absl::StatusOr<unsigned int> Flag(const std::string& name) {
  if (name == "SECCOMP_FILTER_FLAG_LOG") return SECCOMP_FILTER_FLAG_LOG;
  if (name == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") return SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  // Every container process is single-threaded when the filter is installed: nothing to sync.
  if (name == "SECCOMP_FILTER_FLAG_TSYNC") return 0;
  if (name == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") return 0;
  return absl::InvalidArgumentError(StrCat("linux.seccomp.flags: unknown flag \"", name, "\""));
}

absl::Status AddRule(scmp_filter_ctx ctx, const oci::SeccompSyscall& rule, size_t index, int nr,
                     uint32_t action, const std::string& name) {
  std::vector<scmp_arg_cmp> cmps;
  std::set<uint32_t> indexes;
  bool repeated = false;
  for (const auto& a : rule.args) {
    if (a.index > 5) {
      return absl::InvalidArgumentError(
          StrCat("linux.seccomp.syscalls[", index, "]: argument index ", a.index, " out of range 0..5"));
    }
    repeated |= !indexes.insert(a.index).second;
    cmps.push_back(scmp_arg_cmp{a.index, Operator(a.op), a.value, a.value_two});
  }
  auto add = [&](const scmp_arg_cmp* c, unsigned int n) -> absl::Status {
    int r = seccomp_rule_add_array(ctx, action, nr, n, c);
    if (r < 0) {
      return ErrnoError(-r, StrCat("seccomp: add rule linux.seccomp.syscalls[", index, "] for"), name);
    }
    return absl::OkStatus();
  };
  if (!repeated) return add(cmps.data(), static_cast<unsigned int>(cmps.size()));
  for (const auto& c : cmps) RETURN_IF_ERROR(add(&c, 1));
  return absl::OkStatus();
}

absl::StatusOr<Ctx> Build(const oci::LinuxSeccomp& spec, SeccompCompileResult* result) {
  if (!spec.listener_path.empty()) {
    return absl::UnimplementedError("linux.seccomp.listenerPath: seccomp user notification is not supported");
  }
  ASSIGN_OR_RETURN(uint32_t def, Action(spec.default_action, spec.default_errno_ret));
  Ctx ctx(seccomp_init(def));
  if (!ctx) return absl::InternalError("seccomp_init failed");
  // The runtime sets no_new_privs itself, from process.noNewPrivileges.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  // Large profiles: a binary tree of syscall numbers instead of a linear list.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (const std::string& a : spec.architectures) {
    ASSIGN_OR_RETURN(uint32_t arch, Arch(a));
    int r = seccomp_arch_add(ctx.get(), arch);
    if (r < 0 && r != -EEXIST) return ErrnoError(-r, "seccomp: add architecture", a);
  }
  for (const std::string& f : spec.flags) {
    ASSIGN_OR_RETURN(unsigned int flag, Flag(f));
    result->program.flags |= flag;
  }
  for (size_t i = 0; i < spec.syscalls.size(); ++i) {
    const oci::SeccompSyscall& rule = spec.syscalls[i];
    ASSIGN_OR_RETURN(uint32_t action, Action(rule.action, rule.errno_ret));
    if (action == def) continue;
    for (const std::string& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        result->skipped_syscalls.push_back(name);
        log::Debug("runtime", "seccomp: unknown syscall skipped", {{"syscall", name}});
        continue;
      }
      RETURN_IF_ERROR(AddRule(ctx.get(), rule, i, nr, action, name));
    }
  }
  return ctx;
}

absl::StatusOr<std::string> Export(scmp_filter_ctx ctx, bool pfc) {
  UniqueFd fd(memfd_create("seccomp", MFD_CLOEXEC));
  if (!fd) return ErrnoError("memfd_create", "seccomp");
  int r = pfc ? seccomp_export_pfc(ctx, fd.get()) : seccomp_export_bpf(ctx, fd.get());
  if (r < 0) return ErrnoError(-r, "seccomp: export", pfc ? "pfc" : "bpf");
  off_t size = lseek(fd.get(), 0, SEEK_END);
  if (size < 0) return ErrnoError("lseek", "seccomp memfd");
  std::string out(static_cast<size_t>(size), '\0');
  if (pread(fd.get(), out.data(), out.size(), 0) != size) return ErrnoError("read", "seccomp memfd");
  return out;
}

}  // namespace

absl::StatusOr<SeccompCompileResult> CompileSeccomp(const oci::LinuxSeccomp& seccomp) {
  SeccompCompileResult result;
  ASSIGN_OR_RETURN(Ctx ctx, Build(seccomp, &result));
  ASSIGN_OR_RETURN(std::string bpf, Export(ctx.get(), false));
  if (bpf.size() % sizeof(sock_filter) != 0) return absl::InternalError("seccomp: malformed BPF export");
  if (bpf.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    return absl::InvalidArgumentError(
        "seccomp: the filter is longer than the kernel's limit of 4096 instructions");
  }
  result.program.filter.resize(bpf.size() / sizeof(sock_filter));
  memcpy(result.program.filter.data(), bpf.data(), bpf.size());
  return result;
}

absl::StatusOr<std::string> SeccompPfc(const oci::LinuxSeccomp& seccomp) {
  SeccompCompileResult result;
  ASSIGN_OR_RETURN(Ctx ctx, Build(seccomp, &result));
  return Export(ctx.get(), true);
}

}  // namespace cricket::runtime
