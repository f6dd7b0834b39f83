#include "lib/oci/capabilities.h"

#include <array>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::oci {

namespace {

// Indexed by capability number (linux/capability.h).
constexpr std::array<std::string_view, kLastKnownCap + 1> kCapNames = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

}  // namespace

std::string_view CapabilityName(int cap) {
  if (cap < 0 || cap > kLastKnownCap) return "";
  return kCapNames[cap];
}

std::optional<int> CapabilityNumber(std::string_view name) {
  std::string upper = ToUpper(name);
  std::string_view n = upper;
  if (n.substr(0, 4) != "CAP_") upper = StrCat("CAP_", upper);
  for (int i = 0; i <= kLastKnownCap; ++i) {
    if (kCapNames[i] == upper) return i;
  }
  return std::nullopt;
}

absl::StatusOr<std::string> CanonicalCapabilityName(std::string_view name) {
  std::optional<int> n = CapabilityNumber(name);
  if (!n) return absl::InvalidArgumentError(StrCat("unknown capability \"", name, "\""));
  return std::string(kCapNames[*n]);
}

absl::StatusOr<std::vector<std::string>> CanonicalCapabilityNames(const std::vector<std::string>& names,
                                                                  const std::vector<std::string>& all) {
  std::vector<std::string> out;
  uint64_t seen = 0;
  auto add = [&](std::string_view name) -> absl::Status {
    ASSIGN_OR_RETURN(std::string canonical, CanonicalCapabilityName(name));
    uint64_t bit = uint64_t{1} << *CapabilityNumber(canonical);
    if ((seen & bit) == 0) out.push_back(std::move(canonical));
    seen |= bit;
    return absl::OkStatus();
  };
  for (const std::string& name : names) {
    if (ToUpper(name) == "ALL") {
      for (const std::string& a : all) RETURN_IF_ERROR(add(a));
    } else {
      RETURN_IF_ERROR(add(name));
    }
  }
  return out;
}

absl::StatusOr<ProcessCapSets> ParseProcStatusCaps(std::string_view text) {
  ProcessCapSets sets;
  const std::pair<std::string_view, uint64_t*> fields[] = {{"CapInh", &sets.inheritable},
                                                           {"CapPrm", &sets.permitted},
                                                           {"CapEff", &sets.effective},
                                                           {"CapBnd", &sets.bounding},
                                                           {"CapAmb", &sets.ambient}};
  int found = 0;
  for (std::string_view line : Split(text, '\n')) {
    auto kv = SplitOnce(line, ':');
    if (!kv) continue;
    for (const auto& [key, out] : fields) {
      if (kv->first != key) continue;
      std::string_view hex = TrimSpace(kv->second);
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), v, 16);
      if (ec != std::errc() || end != hex.data() + hex.size() || hex.empty()) {
        return absl::InvalidArgumentError(
            StrCat("malformed ", key, " line in process status: \"", line, "\""));
      }
      *out = v;
      ++found;
    }
  }
  if (found != 5) return absl::InvalidArgumentError("process status lacks one of the CapInh..CapAmb lines");
  return sets;
}

absl::StatusOr<int> ReadLastCap(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64));
  std::optional<int64_t> n = ParseInt64(TrimSpace(text));
  if (!n || *n < 0 || *n > 63) {
    return absl::InvalidArgumentError(
        StrCat(path, ": expected a capability number, got \"", TrimSpace(text), "\""));
  }
  return static_cast<int>(*n);
}

std::vector<std::string> GrantableCapabilities(int last_cap, const ProcessCapSets& sets) {
  std::vector<std::string> out;
  uint64_t usable = sets.bounding & sets.permitted;
  for (int i = 0; i <= last_cap && i <= kLastKnownCap; ++i) {
    if (usable & (uint64_t{1} << i)) out.emplace_back(kCapNames[i]);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> HostGrantableCapabilities() {
  ASSIGN_OR_RETURN(int last_cap, ReadLastCap());
  ASSIGN_OR_RETURN(std::string status, ReadFile("/proc/self/status"));
  ASSIGN_OR_RETURN(ProcessCapSets sets, ParseProcStatusCaps(status));
  return GrantableCapabilities(last_cap, sets);
}

}  // namespace cricket::oci
