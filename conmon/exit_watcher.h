// cricketd learns of container exits from the exit files cricket-conmon writes (protocol.h), without
// polling: an inotify watch on the exits directory reports each file as it is renamed into place.
//
//   ASSIGN_OR_RETURN(conmon::ExitWatcher w, conmon::ExitWatcher::Open("/run/cricket/exits"));
//   ASSIGN_OR_RETURN(auto already, w.Scan());   // exits that happened while cricketd was down
//   ... epoll on w.fd(); when readable:
//   ASSIGN_OR_RETURN(auto exits, w.ReadEvents());
//
// Open the watcher before scanning, so that no exit falls between the two; a record may then be
// reported twice (by Scan and by ReadEvents), and after an inotify queue overflow ReadEvents reports
// every file in the directory: callers treat records idempotently (by id). cricketd removes a
// container's exit file (RemoveExitFile) when it removes the container.
//
// One ExitWatcher belongs to one thread at a time.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conmon/protocol.h"
#include "lib/common/unique_fd.h"

namespace cricket::conmon {

class ExitWatcher {
 public:
  // Creates the directory when missing (mode 0700) and starts watching it.
  static absl::StatusOr<ExitWatcher> Open(const std::string& exits_dir);

  ExitWatcher(ExitWatcher&&) noexcept = default;
  ExitWatcher& operator=(ExitWatcher&&) noexcept = default;

  const std::string& dir() const { return dir_; }
  // The inotify descriptor (non-blocking): readable when ReadEvents() has something.
  int fd() const { return fd_.get(); }

  // Without blocking: the records of the exit files that appeared since the last call. A file that
  // cannot be parsed is skipped (and logged), never fatal for the others.
  absl::StatusOr<std::vector<ExitRecord>> ReadEvents();
  // Waits up to `timeout` for at least one record (an empty result means the timeout passed).
  absl::StatusOr<std::vector<ExitRecord>> Wait(absl::Duration timeout);
  // Every exit file in the directory now, sorted by id.
  absl::StatusOr<std::vector<ExitRecord>> Scan() const;

 private:
  ExitWatcher() = default;
  std::string dir_;
  UniqueFd fd_;
};

// The exit file of container `id`: NotFound when it has not exited (or the file was removed).
absl::StatusOr<ExitRecord> ReadExitFile(const std::string& exits_dir, const std::string& id);
// Removes it; a missing file is success.
absl::Status RemoveExitFile(const std::string& exits_dir, const std::string& id);

}  // namespace cricket::conmon
