// The CDI spec directories as a registry of devices: which spec file defines "vendor.com/class=name",
// and the edits a set of requested devices brings.
//
// Directories are read in the order given, later ones taking precedence (the default /etc/cdi then
// /var/run/cdi: generated specs override static ones); in each, the files whose names end in .json or
// .yaml (not subdirectories). A device defined by two files of the same directory is a conflict,
// reported when the device is requested. A malformed file does not hide the devices of the others: its
// error is logged, and named in the error of a request for a device that is not found.
//
// Registry re-reads the directories when they change: every Resolve compares each directory and spec
// file (inode, size, modification and change times) with what the last scan saw, and rescans on any
// difference, so a spec written, replaced, edited or removed is seen by the next container without a
// daemon restart. Thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/cdi/spec.h"

namespace cricket::cdi {

// The default spec directories, lowest precedence first.
inline const std::vector<std::string> kDefaultSpecDirs = {"/etc/cdi", "/var/run/cdi"};

// The edits a request brings, in the order they are applied: for each requested device, the
// spec-wide edits of its spec file (once per file, before its first device), then the device's own.
struct Resolution {
  struct Edit {
    std::string origin;  // "vendor.com/class=name (/etc/cdi/vendor.yaml)" or "/etc/cdi/vendor.yaml"
    ContainerEdits edits;
  };
  std::vector<std::string> devices;  // the qualified names, deduplicated, in request order
  std::vector<Edit> edits;
};

class Registry {
 public:
  // Resolves fully qualified device names against the spec files of `dirs` (rescanned if changed).
  // InvalidArgument for a name that is not fully qualified; FailedPrecondition for a device no spec
  // file defines (naming it, the directories, and any spec files that failed to load with their
  // errors) or one defined by two files of the same directory (naming both).
  absl::StatusOr<Resolution> Resolve(const std::vector<std::string>& dirs,
                                     const std::vector<std::string>& names);

  // Spec files of the last scan that failed to load, with their errors (file → message).
  std::map<std::string, std::string> SpecErrors();

 private:
  struct FileState {
    std::string path;
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileState&) const = default;
  };
  struct Entry {
    std::string path;  // the spec file
    int priority = 0;  // index of its directory
    const Spec* spec = nullptr;
    const Device* device = nullptr;
    std::string conflict;  // another file of the same priority defining the device
  };

  static std::vector<FileState> Snapshot(const std::vector<std::string>& dirs);
  void RescanLocked(const std::vector<std::string>& dirs, std::vector<FileState> snapshot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  bool scanned_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  std::vector<FileState> snapshot_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Spec> specs_ ABSL_GUARDED_BY(mu_);  // by file path
  std::map<std::string, std::string> errors_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Entry> devices_ ABSL_GUARDED_BY(mu_);  // by qualified name
};

}  // namespace cricket::cdi
