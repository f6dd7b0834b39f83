// Who a container runs as: the CRI security context (run_as_user, run_as_username, run_as_group,
// supplemental groups and their policy) and the image's USER, resolved against the container's own
// /etc/passwd and /etc/group. Those files come from an untrusted image, so they are opened inside the
// rootfs with openat2(RESOLVE_IN_ROOT): a symlink to the host's /etc/passwd resolves inside the image.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::server {

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// Parses passwd(5) / group(5) text; malformed lines are skipped, as libc does.
std::vector<PasswdEntry> ParsePasswd(std::string_view text);
std::vector<GroupEntry> ParseGroup(std::string_view text);

// What the CRI request asks for.
struct UserRequest {
  std::optional<int64_t> run_as_user;
  std::string run_as_username;
  std::optional<int64_t> run_as_group;
  std::vector<int64_t> supplemental_groups;
  bool strict_supplemental_groups = false;  // SupplementalGroupsPolicy Strict
  std::string image_user;                   // the image config's User: "", "name", "uid", "u:g"
};

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // The process's supplementary groups: the primary gid, then (Merge policy) the groups of /etc/group
  // that list the user, then the requested supplemental groups; no duplicates.
  std::vector<uint32_t> additional_gids;
  std::string username;    // "" when the uid has no passwd entry
  std::string home = "/";  // from passwd; "/" when unknown
};

// Resolves `req` with the given file contents (nullopt: the file is absent). Precedence: run_as_user,
// then run_as_username, then the image user; run_as_group overrides the primary group. A name that
// the files do not contain is an InvalidArgument error naming it; a numeric uid need not exist.
absl::StatusOr<ResolvedUser> ResolveUser(const UserRequest& req, const std::optional<std::string>& passwd,
                                         const std::optional<std::string>& group);

// Reads /etc/passwd and /etc/group inside `rootfs` (confined) and resolves `req`.
absl::StatusOr<ResolvedUser> ResolveUserInRootfs(const UserRequest& req, const std::string& rootfs);

}  // namespace cricket::server
