#include "lib/runtime/testing/runtime_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/runtime/cgroups/cgroup_path.h"
#include "lib/runtime/cgroups/layout.h"
#include "lib/sys/mountinfo.h"

namespace cricket::runtime::testing {

void RuntimeFixture::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!PathExists(kBusybox)) GTEST_SKIP() << "needs busybox-static at " << kBusybox;
  auto root = TempDir::Create("cricket-rtroot");
  ASSERT_TRUE(root.ok()) << root.status();
  root_.emplace(std::move(*root));
  RuntimeOptions opts;
  opts.root = root_->path();
  auto rt = Runtime::Open(opts);
  ASSERT_TRUE(rt.ok()) << rt.status();
  rt_.emplace(std::move(*rt));
  auto b = TestBundle::Create();
  ASSERT_TRUE(b.ok()) << b.status();
  bundle_.emplace(std::move(*b));
}

void RuntimeFixture::TearDown() {
  if (!rt_) return;
  auto states = rt_->List();
  if (states.ok()) {
    for (const auto& s : *states) {
      ADD_FAILURE() << "container " << s.id << " left behind by the test";
      (void)rt_->Delete(s.id, true);
    }
  }
  // Reap whatever the test left unreaped.
  for (int pid : ChildrenOfSelf()) {
    int status;
    waitpid(pid, &status, 0);
  }
}

absl::StatusOr<Container> RuntimeFixture::CreateAndStart(const std::string& id) {
  RETURN_IF_ERROR(bundle_->WriteSpec());
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoError("create", "pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  CreateOptions o;
  o.bundle = bundle_->dir();
  o.stdio[0] = -1;
  o.stdio[1] = wr.get();
  o.stdio[2] = wr.get();
  ASSIGN_OR_RETURN(Container c, rt_->Create(id, o));
  wr.reset();
  RETURN_IF_ERROR(rt_->Start(id));
  pipe_ = std::move(rd);
  output_.clear();
  return c;
}

absl::Status RuntimeFixture::WaitForOutput(const std::string& text) {
  int64_t deadline = MonotonicNow() + 10'000'000'000LL;
  while (output_.find(text) == std::string::npos) {
    int left = static_cast<int>((deadline - MonotonicNow()) / 1'000'000);
    if (left <= 0) return absl::DeadlineExceededError(StrCat("no \"", text, "\" in output: ", output_));
    pollfd pfd{pipe_.get(), POLLIN, 0};
    if (poll(&pfd, 1, left) <= 0) continue;
    char buf[4096];
    ssize_t n = read(pipe_.get(), buf, sizeof(buf));
    if (n <= 0) return absl::AbortedError(StrCat("output closed before \"", text, "\": ", output_));
    output_.append(buf, static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string RuntimeFixture::ReadUntilExit(int fd, const sys::PidFd& pidfd) {
  std::string out;
  int64_t deadline = MonotonicNow() + 30'000'000'000LL;
  bool exited = false;
  while (MonotonicNow() < deadline) {
    pollfd pfd[2] = {{fd, POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    if (poll(pfd, 2, exited ? 200 : 1000) <= 0) {
      if (exited) break;
      continue;
    }
    if (pfd[1].revents & POLLIN) exited = true;
    if (pfd[0].revents & (POLLIN | POLLHUP)) {
      char buf[4096];
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  return out;
}

absl::StatusOr<RunOutput> RuntimeFixture::RunToCompletion(const std::string& id) {
  ASSIGN_OR_RETURN(Container c, CreateAndStart(id));
  RunOutput out;
  out.output = ReadUntilExit(pipe_.get(), c.pidfd);
  pipe_.reset();
  ASSIGN_OR_RETURN(auto status, c.pidfd.Reap());
  out.exit_code = status ? sys::ShellExitCode(*status) : -1;
  RETURN_IF_ERROR(rt_->Delete(id));
  ExpectNothingLeft(id);
  return out;
}

void RuntimeFixture::ExpectNothingLeft(const std::string& id) {
  EXPECT_FALSE(PathExists(root_->path() + "/" + id)) << "state directory of " << id << " left behind";
  auto layout = cgroups::Layout::Detect();
  if (layout.ok()) {
    auto where = cgroups::ParseCgroupsPath(cgroups::Driver::kCgroupfs, "", id);
    if (where.ok()) {
      for (const auto& h : layout->hierarchies()) {
        std::string dir = cgroups::DirIn(h, *where);
        EXPECT_FALSE(PathExists(dir)) << "cgroup " << dir << " left behind";
      }
    }
  }
  auto mounts = sys::MountsUnder(bundle_->dir());
  ASSERT_TRUE(mounts.ok());
  EXPECT_TRUE(mounts->empty()) << "mount left behind: " << Join(*mounts, " ");
  EXPECT_TRUE(ChildrenOfSelf().empty()) << "child process left behind";
}

}  // namespace cricket::runtime::testing
