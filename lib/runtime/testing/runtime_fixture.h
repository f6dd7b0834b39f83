// A gtest fixture for privileged runtime tests: a Runtime on a temporary root, a busybox bundle, and
// helpers to run containers and to check that nothing is left behind.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/testing/test_bundle.h"

namespace cricket::runtime::testing {

struct RunOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

class RuntimeFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  Runtime& rt() { return *rt_; }
  TestBundle& bundle() { return *bundle_; }
  const std::string& root() const { return root_->path(); }

  // Writes the spec, creates, starts, waits, deletes; checks that nothing is left.
  absl::StatusOr<RunOutput> RunToCompletion(const std::string& id);
  // Writes the spec, creates with stdout/stderr to a pipe (read with WaitForOutput) and starts.
  absl::StatusOr<Container> CreateAndStart(const std::string& id);
  // Reads the pipe of CreateAndStart until `text` appeared (or 10 s passed).
  absl::Status WaitForOutput(const std::string& text);
  const std::string& output() const { return output_; }
  // Reads `fd` until the process of `pidfd` has exited and `fd` has no more data.
  std::string ReadUntilExit(int fd, const sys::PidFd& pidfd);

  // No state directory, no cgroup in any hierarchy, no mount under the bundle, no child process.
  void ExpectNothingLeft(const std::string& id);

 private:
  std::optional<TempDir> root_;
  std::optional<Runtime> rt_;
  std::optional<TestBundle> bundle_;
  UniqueFd pipe_;
  std::string output_;
};

}  // namespace cricket::runtime::testing
