#include "lib/runtime/cgroups/device_filter.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"

namespace cricket::cgroups {
namespace {

// Registers: r1 = context, r2 = undecided access bits, r3 = device type, r4 = major, r5 = minor.
constexpr uint8_t kR0 = 0, kR1 = 1, kR2 = 2, kR3 = 3, kR4 = 4, kR5 = 5;

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i;
  std::memset(&i, 0, sizeof(i));
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn LoadWord(uint8_t dst, uint8_t src, int16_t off) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
bpf_insn AluImm(uint8_t op, uint8_t dst, int32_t imm) { return Insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm); }
bpf_insn MovReg(uint8_t dst, uint8_t src) { return Insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn JmpImm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return Insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// The instructions deciding one rule; every jump with off kNext is patched to skip the block.
constexpr int16_t kNext = 0x7fff;

std::vector<bpf_insn> RuleBlock(const DeviceRule& r) {
  std::vector<bpf_insn> b;
  if (r.type != 'a') {
    b.push_back(JmpImm(BPF_JNE, kR3, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, kNext));
  }
  if (r.major >= 0) b.push_back(JmpImm(BPF_JNE, kR4, static_cast<int32_t>(r.major), kNext));
  if (r.minor >= 0) b.push_back(JmpImm(BPF_JNE, kR5, static_cast<int32_t>(r.minor), kNext));
  if (r.allow && (r.access & kAccessAll) == kAccessAll) {
    b.push_back(AluImm(BPF_MOV, kR0, 1));
    b.push_back(Exit());
  } else if (r.allow) {
    b.push_back(AluImm(BPF_AND, kR2, ~static_cast<int32_t>(r.access) & kAccessAll));
    b.push_back(JmpImm(BPF_JNE, kR2, 0, kNext));
    b.push_back(AluImm(BPF_MOV, kR0, 1));
    b.push_back(Exit());
  } else {
    b.push_back(MovReg(kR0, kR2));
    b.push_back(AluImm(BPF_AND, kR0, r.access & kAccessAll));
    b.push_back(JmpImm(BPF_JEQ, kR0, 0, kNext));
    b.push_back(AluImm(BPF_MOV, kR0, 0));
    b.push_back(Exit());
  }
  for (size_t i = 0; i < b.size(); ++i) {
    if (BPF_CLASS(b[i].code) == BPF_JMP && b[i].off == kNext)
      b[i].off = static_cast<int16_t>(b.size() - i - 1);
  }
  return b;
}

long Bpf(int cmd, union bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

absl::StatusOr<UniqueFd> LoadProgram(const std::vector<bpf_insn>& insns, const std::string& cgroup_dir) {
  static const char kLicense[] = "Apache-2.0";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uintptr_t>(insns.data());
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.license = reinterpret_cast<uintptr_t>(kLicense);
  std::strncpy(attr.prog_name, "cricket_dev", sizeof(attr.prog_name) - 1);
  int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &attr));
  if (fd >= 0) return UniqueFd(fd);
  int err = errno;
  // Load again with the verifier log so that the error says why.
  std::string log(16384, '\0');
  attr.log_level = 1;
  attr.log_buf = reinterpret_cast<uintptr_t>(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &attr));
  if (fd >= 0) return UniqueFd(fd);
  log.resize(std::strlen(log.c_str()));
  absl::Status st = ErrnoError(err, "load the device eBPF program for", cgroup_dir);
  if (log.empty()) return st;
  return absl::Status(st.code(), StrCat(st.message(), "; verifier: ", TrimSpace(log)));
}

struct Attached {
  std::vector<uint32_t> ids;
  uint32_t flags = 0;
};

absl::StatusOr<Attached> Query(int dirfd, const std::string& cgroup_dir) {
  Attached out;
  out.ids.resize(64);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.query.target_fd = static_cast<uint32_t>(dirfd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = reinterpret_cast<uintptr_t>(out.ids.data());
  attr.query.prog_cnt = static_cast<uint32_t>(out.ids.size());
  if (Bpf(BPF_PROG_QUERY, &attr) != 0) return ErrnoError("query device eBPF programs of", cgroup_dir);
  out.ids.resize(attr.query.prog_cnt);
  out.flags = attr.query.attach_flags;
  return out;
}

}  // namespace

std::vector<bpf_insn> BuildDeviceFilterProgram(const std::vector<DeviceRule>& rules) {
  std::vector<bpf_insn> p;
  // struct bpf_cgroup_dev_ctx { u32 access_type /* (ACC << 16) | DEV */; u32 major; u32 minor; }
  p.push_back(LoadWord(kR2, kR1, offsetof(bpf_cgroup_dev_ctx, access_type)));
  p.push_back(MovReg(kR3, kR2));
  p.push_back(AluImm(BPF_AND, kR3, 0xffff));
  p.push_back(AluImm(BPF_RSH, kR2, 16));
  p.push_back(LoadWord(kR4, kR1, offsetof(bpf_cgroup_dev_ctx, major)));
  p.push_back(LoadWord(kR5, kR1, offsetof(bpf_cgroup_dev_ctx, minor)));
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    if ((it->access & kAccessAll) == 0) continue;
    std::vector<bpf_insn> b = RuleBlock(*it);
    p.insert(p.end(), b.begin(), b.end());
  }
  p.push_back(AluImm(BPF_MOV, kR0, 0));
  p.push_back(Exit());
  return p;
}

absl::StatusOr<std::vector<uint32_t>> QueryDevicePrograms(const std::string& cgroup_dir) {
  UniqueFd dir(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return ErrnoError("open cgroup", cgroup_dir);
  ASSIGN_OR_RETURN(Attached a, Query(dir.get(), cgroup_dir));
  return a.ids;
}

absl::Status BpfDeviceFilterInstaller::Install(const std::string& cgroup_dir,
                                               const std::vector<DeviceRule>& rules) const {
  UniqueFd dir(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return ErrnoError("open cgroup", cgroup_dir);
  ASSIGN_OR_RETURN(Attached old, Query(dir.get(), cgroup_dir));
  ASSIGN_OR_RETURN(UniqueFd prog, LoadProgram(BuildDeviceFilterProgram(rules), cgroup_dir));
  bool multi = old.ids.empty() || (old.flags & BPF_F_ALLOW_MULTI);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<uint32_t>(dir.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = multi ? BPF_F_ALLOW_MULTI : old.flags;
  if (Bpf(BPF_PROG_ATTACH, &attr) != 0) return ErrnoError("attach the device eBPF program to", cgroup_dir);
  if (!multi) return absl::OkStatus();  // attaching in single-program mode replaced the old program
  for (uint32_t id : old.ids) {
    union bpf_attr get;
    std::memset(&get, 0, sizeof(get));
    get.prog_id = id;
    UniqueFd old_fd(static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &get)));
    if (!old_fd) {
      if (errno == ENOENT) continue;
      return ErrnoError(StrCat("open device eBPF program ", id, " of"), cgroup_dir);
    }
    union bpf_attr det;
    std::memset(&det, 0, sizeof(det));
    det.target_fd = static_cast<uint32_t>(dir.get());
    det.attach_bpf_fd = static_cast<uint32_t>(old_fd.get());
    det.attach_type = BPF_CGROUP_DEVICE;
    if (Bpf(BPF_PROG_DETACH, &det) != 0 && errno != ENOENT) {
      return ErrnoError(StrCat("detach old device eBPF program ", id, " from"), cgroup_dir);
    }
  }
  return absl::OkStatus();
}

}  // namespace cricket::cgroups
