// The infra process of the pause test image: sleeps until SIGINT or SIGTERM (then exits 0) and, as a
// pid namespace's init, reaps every child that is reparented to it.
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    if (sig == SIGINT || sig == SIGTERM) return 0;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
}
