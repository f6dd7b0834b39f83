#include "server/user_lookup.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/secure_path.h"

namespace cricket::server {
namespace {

std::optional<uint32_t> ParseId(std::string_view s) {
  auto v = ParseUint64(s);
  if (!v || *v > 0xFFFFFFFFull) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

absl::StatusOr<uint32_t> CheckedId(int64_t v, std::string_view what) {
  if (v < 0 || v > 0xFFFFFFFEll) {
    return absl::InvalidArgumentError(StrCat(what, " ", v, " is out of range"));
  }
  return static_cast<uint32_t>(v);
}

const PasswdEntry* FindUserByName(const std::vector<PasswdEntry>& users, std::string_view name) {
  for (const auto& u : users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

const PasswdEntry* FindUserById(const std::vector<PasswdEntry>& users, uint32_t uid) {
  for (const auto& u : users) {
    if (u.uid == uid) return &u;
  }
  return nullptr;
}

absl::StatusOr<uint32_t> ResolveGroup(const std::vector<GroupEntry>& groups, std::string_view spec) {
  if (auto id = ParseId(spec)) return *id;
  for (const auto& g : groups) {
    if (g.name == spec) return g.gid;
  }
  return absl::InvalidArgumentError(StrCat("group \"", spec, "\" not found in the image's /etc/group"));
}

// Reads a file inside the rootfs; nullopt when it does not exist.
absl::StatusOr<std::optional<std::string>> ReadInRootfs(const std::string& rootfs, const char* path) {
  auto fd = sys::OpenInRootDir(rootfs, path, O_RDONLY);
  if (!fd.ok()) {
    if (absl::IsNotFound(fd.status())) return std::optional<std::string>();
    return fd.status();
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read", StrCat(rootfs, path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (16 << 20)) {
      return absl::InvalidArgumentError(StrCat("the image's ", path, " is larger than 16 MiB"));
    }
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace

std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> f = Split(line, ':');
    if (f.size() < 4 || f[0].empty()) continue;
    auto uid = ParseId(f[2]);
    auto gid = ParseId(f[3]);
    if (!uid || !gid) continue;
    out.push_back({std::string(f[0]), *uid, *gid, f.size() > 5 ? std::string(f[5]) : ""});
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> out;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> f = Split(line, ':');
    if (f.size() < 3 || f[0].empty()) continue;
    auto gid = ParseId(f[2]);
    if (!gid) continue;
    GroupEntry g{std::string(f[0]), *gid, {}};
    if (f.size() > 3 && !f[3].empty()) {
      for (std::string_view m : Split(f[3], ',')) {
        m = TrimSpace(m);
        if (!m.empty()) g.members.emplace_back(m);
      }
    }
    out.push_back(std::move(g));
  }
  return out;
}

absl::StatusOr<ResolvedUser> ResolveUser(const UserRequest& req, const std::optional<std::string>& passwd,
                                         const std::optional<std::string>& group) {
  std::vector<PasswdEntry> users = passwd ? ParsePasswd(*passwd) : std::vector<PasswdEntry>{};
  std::vector<GroupEntry> groups = group ? ParseGroup(*group) : std::vector<GroupEntry>{};
  ResolvedUser out;
  const PasswdEntry* entry = nullptr;
  std::optional<uint32_t> explicit_gid;

  if (req.run_as_user) {
    ASSIGN_OR_RETURN(out.uid, CheckedId(*req.run_as_user, "run_as_user"));
    entry = FindUserById(users, out.uid);
  } else if (!req.run_as_username.empty()) {
    entry = FindUserByName(users, req.run_as_username);
    if (entry == nullptr) {
      return absl::InvalidArgumentError(
          StrCat("run_as_username \"", req.run_as_username, "\" not found in the image's /etc/passwd"));
    }
    out.uid = entry->uid;
  } else if (!req.image_user.empty()) {
    std::string_view user = req.image_user;
    std::string_view grp;
    if (auto parts = SplitOnce(user, ':')) {
      user = parts->first;
      grp = parts->second;
    }
    if (auto id = ParseId(user)) {
      out.uid = *id;
      entry = FindUserById(users, out.uid);
    } else {
      entry = FindUserByName(users, user);
      if (entry == nullptr) {
        return absl::InvalidArgumentError(
            StrCat("image user \"", user, "\" not found in the image's /etc/passwd"));
      }
      out.uid = entry->uid;
    }
    if (!grp.empty()) {
      ASSIGN_OR_RETURN(uint32_t g, ResolveGroup(groups, grp));
      explicit_gid = g;
    }
  } else {
    entry = FindUserById(users, 0);  // root, as the image does not say otherwise
  }
  if (entry != nullptr) {
    out.username = entry->name;
    if (!entry->home.empty()) out.home = entry->home;
    out.gid = entry->gid;
  }
  if (explicit_gid) out.gid = *explicit_gid;
  if (req.run_as_group) {
    ASSIGN_OR_RETURN(out.gid, CheckedId(*req.run_as_group, "run_as_group"));
  }

  auto add = [&](uint32_t gid) {
    if (std::find(out.additional_gids.begin(), out.additional_gids.end(), gid) == out.additional_gids.end()) {
      out.additional_gids.push_back(gid);
    }
  };
  add(out.gid);
  if (!req.strict_supplemental_groups && !out.username.empty()) {
    for (const GroupEntry& g : groups) {
      if (std::find(g.members.begin(), g.members.end(), out.username) != g.members.end()) add(g.gid);
    }
  }
  for (int64_t g : req.supplemental_groups) {
    ASSIGN_OR_RETURN(uint32_t gid, CheckedId(g, "supplemental group"));
    add(gid);
  }
  return out;
}

absl::StatusOr<ResolvedUser> ResolveUserInRootfs(const UserRequest& req, const std::string& rootfs) {
  ASSIGN_OR_RETURN(std::optional<std::string> passwd, ReadInRootfs(rootfs, "/etc/passwd"));
  ASSIGN_OR_RETURN(std::optional<std::string> group, ReadInRootfs(rootfs, "/etc/group"));
  return ResolveUser(req, passwd, group);
}

}  // namespace cricket::server
