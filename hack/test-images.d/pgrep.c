// pgrep for the busybox test images (Debian's busybox-static has no pgrep applet; critest runs
// `sh -c "pgrep sleep || true"` and requires empty stderr). Subset of procps pgrep:
//   pgrep [-flx] PATTERN
// prints the pid of every process (other than itself) whose name (/proc/PID/comm), or with -f whose
// whole command line, matches the extended regular expression PATTERN; -x requires the whole name to
// match; -l adds the name (or command line). Exit status: 0 some matched, 1 none, 2 usage error.
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ReadSmallFile(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len + 1 < cap) {
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return (int)len;
}

// The process's name or (full) its command line with NULs turned into spaces; 0 when it is gone.
static int ProcessText(const char* pid, int full, char* buf, size_t cap) {
  char path[300];
  int len = -1;
  if (full) {
    snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
    len = ReadSmallFile(path, buf, cap);
    while (len > 0 && buf[len - 1] == '\0') --len;
    for (int i = 0; i < len; ++i) {
      if (buf[i] == '\0') buf[i] = ' ';
    }
    if (len > 0) {
      buf[len] = '\0';
      return 1;
    }
  }
  snprintf(path, sizeof(path), "/proc/%s/comm", pid);
  len = ReadSmallFile(path, buf, cap);
  if (len <= 0) return 0;
  if (buf[len - 1] == '\n') buf[len - 1] = '\0';
  return 1;
}

static int Usage(void) {
  fprintf(stderr, "usage: pgrep [-flx] PATTERN\n");
  return 2;
}

int main(int argc, char** argv) {
  int full = 0, exact = 0, list = 0, opt;
  while ((opt = getopt(argc, argv, "flx")) != -1) {
    switch (opt) {
      case 'f':
        full = 1;
        break;
      case 'x':
        exact = 1;
        break;
      case 'l':
        list = 1;
        break;
      default:
        return Usage();
    }
  }
  if (optind != argc - 1) return Usage();
  size_t plen = strlen(argv[optind]);
  char* pattern = malloc(plen + 5);
  if (pattern == NULL) return 3;
  snprintf(pattern, plen + 5, exact ? "^(%s)$" : "%s", argv[optind]);
  regex_t re;
  int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char msg[256];
    regerror(rc, &re, msg, sizeof(msg));
    fprintf(stderr, "pgrep: bad pattern '%s': %s\n", argv[optind], msg);
    return 2;
  }
  DIR* proc = opendir("/proc");
  if (proc == NULL) {
    perror("pgrep: /proc");
    return 3;
  }
  pid_t self = getpid();
  int found = 0;
  static char text[65536];
  struct dirent* d;
  while ((d = readdir(proc)) != NULL) {
    if (!isdigit((unsigned char)d->d_name[0]) || atoi(d->d_name) == self) continue;
    if (!ProcessText(d->d_name, full, text, sizeof(text))) continue;
    if (regexec(&re, text, 0, NULL, 0) != 0) continue;
    found = 1;
    if (list)
      printf("%s %s\n", d->d_name, text);
    else
      printf("%s\n", d->d_name);
  }
  closedir(proc);
  return found ? 0 : 1;
}
