#include "lib/runtime/cgroups/device_rules.h"

#include <algorithm>
#include <optional>

#include "lib/common/strings.h"

namespace cricket::cgroups {
namespace {

bool Matches(const DeviceRule& r, char type, uint32_t major, uint32_t minor) {
  if (r.type != 'a' && r.type != type) return false;
  if (r.major >= 0 && static_cast<uint32_t>(r.major) != major) return false;
  if (r.minor >= 0 && static_cast<uint32_t>(r.minor) != minor) return false;
  return true;
}

bool IsFullReset(const DeviceRule& r) {
  return r.type == 'a' && r.major < 0 && r.minor < 0 && r.access == kAccessAll;
}

DeviceRule* FindException(std::vector<DeviceRule>& list, char type, int64_t major, int64_t minor) {
  for (DeviceRule& e : list) {
    if (e.type == type && e.major == major && e.minor == minor) return &e;
  }
  return nullptr;
}

const DeviceRule* FindException(const std::vector<DeviceRule>& list, const DeviceRule& key) {
  for (const DeviceRule& e : list) {
    if (e.type == key.type && e.major == key.major && e.minor == key.minor) return &e;
  }
  return nullptr;
}

// One write of a specific rule, with the kernel's add/remove behaviour (security/device_cgroup.c:
// an exception is added when the rule goes against the default, otherwise bits are removed from the
// exception with the same type:major:minor).
void ApplyException(V1DeviceState& s, const DeviceRule& r) {
  DeviceRule* e = FindException(s.exceptions, r.type, r.major, r.minor);
  if (r.allow != s.default_allow) {
    if (e != nullptr) {
      e->access |= r.access;
    } else {
      DeviceRule add = r;
      add.allow = !s.default_allow;
      s.exceptions.push_back(add);
    }
    return;
  }
  if (e == nullptr) return;
  e->access &= static_cast<uint8_t>(~r.access);
  if (e->access == 0) {
    s.exceptions.erase(s.exceptions.begin() + (e - s.exceptions.data()));
  }
}

std::string NumOrStar(int64_t v) { return v < 0 ? "*" : StrCat(v); }

}  // namespace

absl::StatusOr<uint8_t> ParseDeviceAccess(std::string_view access) {
  if (access.empty()) return kAccessAll;
  uint8_t bits = 0;
  for (char c : access) {
    switch (c) {
      case 'r':
        bits |= kAccessRead;
        break;
      case 'w':
        bits |= kAccessWrite;
        break;
      case 'm':
        bits |= kAccessMknod;
        break;
      default:
        return absl::InvalidArgumentError(
            StrCat("device access \"", access, "\": '", std::string(1, c), "' is not one of r, w, m"));
    }
  }
  return bits;
}

std::string DeviceAccessString(uint8_t access) {
  std::string s;
  if (access & kAccessRead) s.push_back('r');
  if (access & kAccessWrite) s.push_back('w');
  if (access & kAccessMknod) s.push_back('m');
  return s;
}

absl::StatusOr<DeviceRule> MakeDeviceRule(bool allow, std::string_view type, std::optional<int64_t> major,
                                          std::optional<int64_t> minor, std::string_view access) {
  DeviceRule r;
  r.allow = allow;
  if (type.empty() || type == "a") {
    r.type = 'a';
  } else if (type == "c" || type == "b") {
    r.type = type.front();
  } else {
    return absl::InvalidArgumentError(StrCat("device rule type \"", type, "\" is not a, b or c"));
  }
  // Device numbers are at most 12 (major) and 20 (minor) bits; -1 is the runtime-spec's "any".
  if (major && (*major < -1 || *major > 0xfff)) {
    return absl::InvalidArgumentError(StrCat("device rule major ", *major, " is out of range"));
  }
  if (minor && (*minor < -1 || *minor > 0xfffff)) {
    return absl::InvalidArgumentError(StrCat("device rule minor ", *minor, " is out of range"));
  }
  r.major = major.value_or(-1);
  r.minor = minor.value_or(-1);
  auto bits = ParseDeviceAccess(access);
  if (!bits.ok()) return bits.status();
  r.access = *bits;
  return r;
}

bool DeviceAccessAllowed(const std::vector<DeviceRule>& rules, char type, uint32_t major, uint32_t minor,
                         uint8_t access) {
  for (uint8_t bit : {kAccessMknod, kAccessRead, kAccessWrite}) {
    if (!(access & bit)) continue;
    bool allowed = false;
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
      if ((it->access & bit) && Matches(*it, type, major, minor)) {
        allowed = it->allow;
        break;
      }
    }
    if (!allowed) return false;
  }
  return true;
}

V1DeviceState V1StateFor(const std::vector<DeviceRule>& rules) {
  V1DeviceState s{false, {}};
  for (const DeviceRule& r : rules) {
    if (IsFullReset(r)) {
      s = V1DeviceState{r.allow, {}};
      continue;
    }
    if (r.access == 0) continue;
    if (r.type == 'a') {
      for (char t : {'c', 'b'}) {
        DeviceRule one = r;
        one.type = t;
        ApplyException(s, one);
      }
    } else {
      ApplyException(s, r);
    }
  }
  return s;
}

absl::StatusOr<V1DeviceState> ParseV1DevicesList(std::string_view text) {
  V1DeviceState s{false, {}};
  for (std::string_view line : Split(text, '\n')) {
    line = TrimSpace(line);
    if (line.empty()) continue;
    std::vector<std::string_view> f = Split(line, ' ');
    auto mm = f.size() == 3 ? SplitOnce(f[1], ':') : std::nullopt;
    if (!mm || f[0].size() != 1)
      return absl::InternalError(StrCat("devices.list: malformed line \"", line, "\""));
    auto num = [](std::string_view v) -> std::optional<int64_t> {
      if (v == "*") return -1;
      return ParseInt64(v);
    };
    std::optional<int64_t> major = num(mm->first);
    std::optional<int64_t> minor = num(mm->second);
    absl::StatusOr<uint8_t> bits = ParseDeviceAccess(f[2]);
    if (!major || !minor || !bits.ok()) {
      return absl::InternalError(StrCat("devices.list: malformed line \"", line, "\""));
    }
    if (f[0] == "a") return V1DeviceState{true, {}};
    s.exceptions.push_back(DeviceRule{true, f[0].front(), *major, *minor, *bits});
  }
  return s;
}

std::string V1DeviceLine(const DeviceRule& rule) {
  if (IsFullReset(rule)) return "a";
  return StrCat(std::string(1, rule.type), " ", NumOrStar(rule.major), ":", NumOrStar(rule.minor), " ",
                DeviceAccessString(rule.access));
}

std::vector<std::pair<std::string, std::string>> V1DeviceWrites(const V1DeviceState& current,
                                                                const V1DeviceState& target) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string exception_file = target.default_allow ? "devices.deny" : "devices.allow";
  if (current.default_allow || target.default_allow) {
    out.emplace_back(target.default_allow ? "devices.allow" : "devices.deny", "a");
    for (const DeviceRule& e : target.exceptions) out.emplace_back(exception_file, V1DeviceLine(e));
    return out;
  }
  for (const DeviceRule& e : current.exceptions) {
    const DeviceRule* t = FindException(target.exceptions, e);
    uint8_t remove = e.access & static_cast<uint8_t>(~(t ? t->access : 0));
    if (remove == 0) continue;
    DeviceRule r = e;
    r.access = remove;
    out.emplace_back("devices.deny", V1DeviceLine(r));
  }
  for (const DeviceRule& t : target.exceptions) {
    const DeviceRule* e = FindException(current.exceptions, t);
    uint8_t add = t.access & static_cast<uint8_t>(~(e ? e->access : 0));
    if (add == 0) continue;
    DeviceRule r = t;
    r.access = add;
    out.emplace_back("devices.allow", V1DeviceLine(r));
  }
  return out;
}

}  // namespace cricket::cgroups
