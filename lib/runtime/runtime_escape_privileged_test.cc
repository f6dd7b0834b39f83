// The known escape classes, each closed and tested. Needs root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/testing/runtime_fixture.h"
#include "lib/sys/mountinfo.h"
#include "lib/sys/sealed_exe.h"
#include "lib/sys/subprocess.h"

namespace cricket::runtime {
namespace {

using testing::RuntimeFixture;

class EscapeTest : public RuntimeFixture {};

// CVE-2024-21626: a host directory fd leaked into the init and used as its cwd.
TEST_F(EscapeTest, LeakedHostFdCannotBeTheCwd) {
  int leaked = open("/sys/fs/cgroup", O_PATH | O_DIRECTORY);  // deliberately not close-on-exec
  ASSERT_GE(leaked, 0);
  bundle().spec().process->cwd = StrCat("/proc/self/fd/", leaked);
  ASSERT_TRUE(bundle().WriteSpec().ok());
  CreateOptions o;
  o.bundle = bundle().dir();
  auto c = rt().Create("cwd-escape", o);
  EXPECT_FALSE(c.ok()) << "created with a cwd outside the rootfs";
  ExpectNothingLeft("cwd-escape");
  close(leaked);
}

// The container sees stdio and the preserved fds only, whatever the runtime process had open.
TEST_F(EscapeTest, OnlyStdioAndPreservedFdsAreInherited) {
  int leaked = open("/etc/hostname", O_RDONLY);  // not close-on-exec
  ASSERT_GE(leaked, 0);
  bundle().SetScript("ls /proc/self/fd | tr '\\n' ' '");
  auto out = RunToCompletion("fds");
  close(leaked);
  ASSERT_TRUE(out.ok()) << out.status();
  // 0-2 are stdio, 3 is the directory ls is reading.
  EXPECT_EQ(TrimSpace(out->output), "0 1 2 3") << out->output;
}

// A symlink in the image pointing at a host path must not redirect a mount onto the host.
TEST_F(EscapeTest, MountTargetSymlinksResolveInsideTheRootfs) {
  auto host_dir = testing::TempDir::Create("cricket-host-target");
  ASSERT_TRUE(host_dir.ok());
  ASSERT_EQ(symlink(host_dir->path().c_str(), (bundle().rootfs() + "/evil").c_str()), 0);
  bundle().spec().mounts.push_back({"/evil/mnt", "tmpfs", "tmpfs", {"nosuid"}, {}, {}});
  bundle().SetScript("grep -c ' /tmp/cricket-host-target.*/mnt ' /proc/self/mountinfo; true");
  auto out = RunToCompletion("symlink");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit_code, 0) << out->output;
  EXPECT_FALSE(PathExists(host_dir->path() + "/mnt")) << "mount target created on the host";
  // The target was created inside the rootfs instead, at the symlink's target seen from the root.
  EXPECT_TRUE(PathExists(bundle().rootfs() + host_dir->path() + "/mnt"));
}

// /proc and /dev targets that are symlinks are refused (a /proc symlink could point the procfs mount,
// and the masks over it, somewhere the container controls).
TEST_F(EscapeTest, ProcThatIsASymlinkIsRefused) {
  ASSERT_EQ(rmdir((bundle().rootfs() + "/proc").c_str()), 0);
  ASSERT_EQ(mkdir((bundle().rootfs() + "/fakeproc").c_str(), 0755), 0);
  ASSERT_EQ(symlink("/fakeproc", (bundle().rootfs() + "/proc").c_str()), 0);
  ASSERT_TRUE(bundle().WriteSpec().ok());
  CreateOptions o;
  o.bundle = bundle().dir();
  auto c = rt().Create("procsym", o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/proc"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find("ELOOP"), std::string::npos) << c.status();
  ExpectNothingLeft("procsym");
}

// CVE-2019-5736: the CLI runs containers from a sealed copy of itself, so the held init's executable
// (what "#!/proc/self/exe" would run inside the container) cannot be written.
TEST_F(EscapeTest, CliInitRunsFromASealedCopy) {
  std::string cli = CRICKET_RUNTIME_BINARY;
  struct stat before;
  ASSERT_EQ(stat(cli.c_str(), &before), 0);
  ASSERT_TRUE(bundle().WriteSpec().ok());
  sys::Command cmd{cli, {cli, "--root", root(), "create", "--bundle", bundle().dir(), "sealed"}, {}, ""};
  auto r = sys::RunProcess(cmd);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->status.success()) << r->stderr_data;
  auto state = rt().State("sealed");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(sys::RunsFromSealedCopy(state->pid));
  int fd = open(StrCat("/proc/", state->pid, "/exe").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    EXPECT_LT(write(fd, "overwrite", 9), 0) << "the init's executable is writable";
    close(fd);
  }
  struct stat after;
  ASSERT_EQ(stat(cli.c_str(), &after), 0);
  EXPECT_EQ(before.st_mtime, after.st_mtime);
  EXPECT_EQ(before.st_size, after.st_size);
  ASSERT_TRUE(rt().Delete("sealed", true).ok());
  // The init was the CLI's child, now re-parented; it has exited, its parent reaps it.
  ExpectNothingLeft("sealed");
}

}  // namespace
}  // namespace cricket::runtime
