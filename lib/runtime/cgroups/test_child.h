// Test support: a forked child that waits for a go signal, so the test can move it into a cgroup
// before it runs `body`. The child never returns into gtest: it _exit()s with body's result.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace cricket::cgroups::testing {

// Burns CPU forever (a busy process for freezer tests).
[[noreturn]] inline void Spin() {
  for (;;) __asm__ __volatile__("" ::: "memory");
}

class TestChild {
 public:
  explicit TestChild(const std::function<int()>& body) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(p[1]);
      char c;
      if (::read(p[0], &c, 1) != 1) ::_exit(120);
      ::_exit(body());
    }
    ::close(p[0]);
    go_ = p[1];
  }
  ~TestChild() {
    if (go_ >= 0) ::close(go_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void Go() {
    char c = 'g';
    (void)!::write(go_, &c, 1);
  }
  // The child was reaped elsewhere (waitpid(-1)): the destructor must not signal a reused pid.
  void MarkReaped() { reaped_ = true; }
  // waitpid status.
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

}  // namespace cricket::cgroups::testing
