// Stand-in for nginx in critest's images (e2e-test-images/nginx and hostnet-nginx), installed as
// /usr/sbin/nginx. What the specs observe, and this program provides:
//  - /proc/<pid>/cmdline says "nginx: master process ..." (the ContainerPID spec greps /proc/1/cmdline):
//    like nginx's own process title, done here by re-exec'ing itself with the title as argv[0] (same pid);
//  - the process name is "nginx" (`pidof nginx` in a hostPID container finds it);
//  - /var/run/nginx.pid holds its pid (the HostPID spec reads it);
//  - HTTP GET / answers 200 on the port in /etc/nginx/listen (default 80), served by a busybox httpd
//    worker child from /usr/share/nginx/html.
// SIGTERM, SIGINT and SIGQUIT stop the worker and exit 0; if the worker dies, the master exits 1. As a pid
// namespace's init it also reaps reparented orphans.
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char kPidFile[] = "/var/run/nginx.pid";
static const char kPortFile[] = "/etc/nginx/listen";
static const char kDocRoot[] = "/usr/share/nginx/html";
static const char kBusybox[] = "/bin/busybox";

static void SetTitle(int argc, char** argv) {
  static char title[4096] = "nginx: master process";
  for (int i = 0; i < argc; ++i) {
    size_t used = strlen(title);
    snprintf(title + used, sizeof(title) - used, " %s", argv[i]);
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    fprintf(stderr, "nginx: readlink /proc/self/exe: %s\n", strerror(errno));
    return;
  }
  exe[n] = '\0';
  char* args[] = {title, NULL};
  execv(exe, args);
  fprintf(stderr, "nginx: re-exec %s: %s\n", exe, strerror(errno));
}

static void ReadPort(char* port, size_t cap) {
  snprintf(port, cap, "80");
  FILE* f = fopen(kPortFile, "re");
  if (f == NULL) return;
  char buf[32];
  if (fgets(buf, sizeof(buf), f) != NULL) {
    buf[strcspn(buf, " \t\r\n")] = '\0';
    if (buf[0] != '\0') snprintf(port, cap, "%s", buf);
  }
  fclose(f);
}

static int WritePidFile(void) {
  mkdir("/var/run", 0755);
  FILE* f = fopen(kPidFile, "we");
  if (f == NULL || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
    fprintf(stderr, "nginx: write %s: %s\n", kPidFile, strerror(errno));
    return -1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (strncmp(argv[0], "nginx: ", 7) != 0) SetTitle(argc, argv);
  prctl(PR_SET_NAME, "nginx", 0, 0, 0);
  sigset_t set;
  sigemptyset(&set);
  int signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP};
  for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); ++i) sigaddset(&set, signals[i]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  char port[32];
  ReadPort(port, sizeof(port));
  if (WritePidFile() != 0) return 1;
  pid_t worker = fork();
  if (worker < 0) {
    fprintf(stderr, "nginx: fork: %s\n", strerror(errno));
    return 1;
  }
  if (worker == 0) {
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    execl(kBusybox, "httpd", "-f", "-p", port, "-h", kDocRoot, (char*)NULL);
    fprintf(stderr, "nginx: exec %s httpd: %s\n", kBusybox, strerror(errno));
    _exit(127);
  }
  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
      kill(worker, SIGTERM);
      waitpid(worker, NULL, 0);
      unlink(kPidFile);
      return 0;
    }
    if (sig != SIGCHLD) continue;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != worker) continue;
      fprintf(stderr, "nginx: worker (busybox httpd on port %s) exited with status %d\n", port, status);
      unlink(kPidFile);
      return 1;
    }
  }
}
