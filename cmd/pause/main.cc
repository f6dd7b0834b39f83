// cricket-pause: the infra process of a pod sandbox. It holds the pod's namespaces open, and as PID 1 of
// a shared pid namespace it reaps orphaned zombies. SIGTERM and SIGINT end it with status 0.
// Statically linked and free of C++ runtime dependencies so that it runs from a minimal rootfs.
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

volatile sig_atomic_t g_stop = 0;

void OnStop(int) { g_stop = 1; }

void OnChild(int) {
  int saved = errno;
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  errno = saved;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && argv[1][0] == '-' && argv[1][1] == 'v') {
    static const char kVersion[] = "cricket-pause 0.1.0\n";
    return write(STDOUT_FILENO, kVersion, sizeof(kVersion) - 1) < 0 ? 1 : 0;
  }
  struct sigaction stop = {};
  stop.sa_handler = OnStop;
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);
  struct sigaction child = {};
  child.sa_handler = OnChild;
  child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction(SIGCHLD, &child, nullptr);
  while (!g_stop) pause();
  return 0;
}
