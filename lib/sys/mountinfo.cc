#include "lib/sys/mountinfo.h"

#include <algorithm>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::sys {
namespace {

std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool HasCommaItem(std::string_view list, std::string_view item) {
  for (std::string_view o : Split(list, ',')) {
    if (o == item) return true;
  }
  return false;
}

}  // namespace

bool MountInfo::HasOption(std::string_view opt) const { return HasCommaItem(options, opt); }
bool MountInfo::HasSuperOption(std::string_view opt) const { return HasCommaItem(super_options, opt); }

std::string MountInfo::Propagation() const {
  bool slave = false;
  for (const auto& f : optional_fields) {
    if (f.starts_with("shared:")) return "shared";
    if (f.starts_with("master:")) slave = true;
    if (f == "unbindable") return "unbindable";
  }
  return slave ? "slave" : "private";
}

absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(std::string_view text) {
  std::vector<MountInfo> out;
  int lineno = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++lineno;
    if (TrimSpace(line).empty()) continue;
    std::vector<std::string_view> f;
    for (std::string_view p : Split(line, ' ')) {
      if (!p.empty()) f.push_back(p);
    }
    auto sep = std::find(f.begin(), f.end(), std::string_view("-"));
    if (f.size() < 10 || sep == f.end() || sep - f.begin() < 6 || f.end() - sep < 4) {
      return absl::InvalidArgumentError(StrCat("mountinfo line ", lineno, ": malformed: ", line));
    }
    MountInfo m;
    auto id = ParseInt64(f[0]);
    auto parent = ParseInt64(f[1]);
    if (!id || !parent) return absl::InvalidArgumentError(StrCat("mountinfo line ", lineno, ": bad ids"));
    m.id = static_cast<int>(*id);
    m.parent_id = static_cast<int>(*parent);
    m.root = Unescape(f[3]);
    m.mount_point = Unescape(f[4]);
    m.options = std::string(f[5]);
    for (auto it = f.begin() + 6; it != sep; ++it) m.optional_fields.emplace_back(*it);
    m.fstype = std::string(sep[1]);
    m.source = Unescape(sep[2]);
    m.super_options = std::string(sep[3]);
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::vector<MountInfo>> ReadMountInfo(int pid) {
  std::string path = pid == 0 ? "/proc/self/mountinfo" : StrCat("/proc/", pid, "/mountinfo");
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseMountInfo(text);
}

absl::StatusOr<std::vector<std::string>> MountsUnder(const std::string& dir) {
  ASSIGN_OR_RETURN(auto mounts, ReadMountInfo());
  std::string prefix = dir.ends_with("/") ? dir : dir + "/";
  std::vector<std::string> out;
  for (const auto& m : mounts) {
    if (m.mount_point == dir || m.mount_point.starts_with(prefix)) out.push_back(m.mount_point);
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace cricket::sys
