#include "lib/sys/proc_status.h"

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::sys {
namespace {

// The whitespace-separated numbers after "<key>:" on its line; nullopt when a field is not a number.
std::optional<std::vector<uint32_t>> Numbers(std::string_view status, std::string_view key) {
  for (std::string_view line : Split(status, '\n')) {
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ':') continue;
    std::vector<uint32_t> out;
    std::string_view rest = line.substr(key.size() + 1);
    for (std::string_view field : Split(rest, ' ')) {
      for (std::string_view f : Split(field, '\t')) {
        if (f.empty()) continue;
        auto v = ParseUint64(f);
        if (!v || *v > 0xFFFFFFFFull) return std::nullopt;
        out.push_back(static_cast<uint32_t>(*v));
      }
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessCredentials> ParseProcessCredentials(std::string_view status) {
  auto uids = Numbers(status, "Uid");
  auto gids = Numbers(status, "Gid");
  auto groups = Numbers(status, "Groups");
  if (!uids || !gids || !groups || uids->size() < 2 || gids->size() < 2) return std::nullopt;
  ProcessCredentials c;
  c.uid = (*uids)[1];
  c.gid = (*gids)[1];
  c.groups = std::move(*groups);
  return c;
}

absl::StatusOr<ProcessCredentials> ReadProcessCredentials(const ProcessIdentity& id) {
  auto gone = [&] { return absl::NotFoundError(StrCat("process ", id.pid, " is gone")); };
  auto before = IdentifyProcess(id.pid);
  if (!before.ok() || before->start_time != id.start_time) return gone();
  std::string path = StrCat("/proc/", id.pid, "/status");
  auto text = ReadFile(path, 1 << 16);
  if (!text.ok()) return absl::IsNotFound(text.status()) ? gone() : text.status();
  auto after = IdentifyProcess(id.pid);
  if (!after.ok() || after->start_time != id.start_time) return gone();
  auto creds = ParseProcessCredentials(*text);
  if (!creds) return absl::DataLossError(StrCat(path, ": no readable Uid, Gid and Groups lines"));
  return *creds;
}

}  // namespace cricket::sys
