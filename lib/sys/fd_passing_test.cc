#include "lib/sys/fd_passing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace cricket::sys {
namespace {

struct Pair {
  int a = -1, b = -1;
  Pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, &a), 0); }
  ~Pair() {
    close(a);
    close(b);
  }
};

ino_t Inode(int fd) {
  struct stat st;
  EXPECT_EQ(fstat(fd, &st), 0);
  return st.st_ino;
}

TEST(FdPassingTest, MessageAndDescriptorArriveTogether) {
  Pair p;
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null, 0);
  ASSERT_EQ(SendWithFd(p.a, "hello", 5, null), 0);
  char buf[16];
  int got = -1;
  ASSERT_EQ(RecvWithFd(p.b, buf, sizeof(buf), &got), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  ASSERT_GE(got, 0);
  EXPECT_NE(got, null);
  EXPECT_EQ(Inode(got), Inode(null));
  EXPECT_TRUE(fcntl(got, F_GETFD) & FD_CLOEXEC);
  close(got);
  close(null);
}

TEST(FdPassingTest, WithoutDescriptorAndAtEndOfStream) {
  Pair p;
  ASSERT_EQ(SendWithFd(p.a, "x", 1, -1), 0);
  char buf[4];
  int got = 7;
  EXPECT_EQ(RecvWithFd(p.b, buf, sizeof(buf), &got), 1);
  EXPECT_EQ(got, -1);
  close(p.a);
  p.a = -1;
  EXPECT_EQ(RecvWithFd(p.b, buf, sizeof(buf), &got), 0);
  EXPECT_EQ(SendWithFd(p.b, "y", 1, -1), -EPIPE);  // and no SIGPIPE
}

TEST(FdPassingTest, ExtraDescriptorsAreClosed) {
  Pair p;
  int fds[2] = {open("/dev/null", O_RDONLY | O_CLOEXEC), open("/dev/zero", O_RDONLY | O_CLOEXEC)};
  char payload = 'm';
  iovec iov{&payload, 1};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(fds))] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(fds));
  memcpy(CMSG_DATA(c), fds, sizeof(fds));
  ASSERT_EQ(sendmsg(p.a, &mh, 0), 1);
  char buf[2];
  int got = -1;
  ASSERT_EQ(RecvWithFd(p.b, buf, sizeof(buf), &got), 1);
  ASSERT_GE(got, 0);
  EXPECT_EQ(Inode(got), Inode(fds[0]));
  // The only descriptor on /dev/zero left in this process is the test's own.
  int zero_fds = 0;
  for (int fd = 0; fd < 1024; ++fd) {
    char link[64], target[64] = {};
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if (readlink(link, target, sizeof(target) - 1) > 0 && strcmp(target, "/dev/zero") == 0) ++zero_fds;
  }
  EXPECT_EQ(zero_fds, 1);
  close(got);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace cricket::sys
