// Test bundles for the privileged runtime tests: a temporary directory with a rootfs made at test time
// from Debian's busybox-static (/bin/busybox plus one symlink per applet) and a spec to edit.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "lib/oci/spec.h"

namespace cricket::runtime::testing {

// Where busybox-static installs its binary; tests skip when it is missing.
inline constexpr char kBusybox[] = "/bin/busybox";

class TestBundle {
 public:
  // A bundle in a new /tmp/cricket-bundle-XXXXXX with rootfs/ and a default spec: cricket's
  // DefaultSpec (default mounts, masked/readonly paths, new pid/net/ipc/uts/mount namespaces) with
  // Docker's default capability set, no seccomp filter, args {"true"}, hostname "cricket-test".
  static absl::StatusOr<TestBundle> Create();

  TestBundle(TestBundle&& other) noexcept;
  TestBundle& operator=(TestBundle&&) = delete;
  ~TestBundle();

  const std::string& dir() const { return dir_; }
  std::string rootfs() const { return dir_ + "/rootfs"; }
  oci::Spec& spec() { return spec_; }

  // Writes spec() as <dir>/config.json.
  absl::Status WriteSpec() const;
  // Sets process.args to {"sh", "-c", script}.
  void SetScript(const std::string& script);

 private:
  TestBundle() = default;
  std::string dir_;
  oci::Spec spec_;
};

// A temporary directory removed (never across mounts) on destruction.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Create(const std::string& prefix = "cricket-test");
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Processes whose parent is the calling process (for "no process left behind" checks).
std::vector<int> ChildrenOfSelf();

}  // namespace cricket::runtime::testing
