#include "lib/common/status.h"

#include <cerrno>
#include <cstring>

#include "lib/common/strings.h"

namespace cricket {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : StrCat("errno ", err);
}

absl::Status ErrnoError(int err, std::string_view verb, std::string_view object) {
  std::string msg = StrCat(verb, object.empty() ? "" : " ", object, ": ", ErrnoName(err), " (",
                           strerrordesc_np(err) ? strerrordesc_np(err) : "", ")");
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    case EINVAL:
      return absl::InvalidArgumentError(msg);
    case EBUSY:
      return absl::FailedPreconditionError(msg);
    case ETIMEDOUT:
      return absl::DeadlineExceededError(msg);
    // Out of a resource (disk space, quota, descriptors, memory): retrying later may work.
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status ErrnoError(std::string_view verb, std::string_view object) {
  return ErrnoError(errno, verb, object);
}

absl::Status Annotate(const absl::Status& status, std::string_view prefix) {
  if (status.ok()) return status;
  absl::Status out(status.code(), StrCat(prefix, ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace cricket
