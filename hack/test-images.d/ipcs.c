// ipcs for the busybox test images (Debian's busybox-static has no ipcs applet; critest's HostIpc specs
// run `ipcs -m` and look for a segment id made on the host). Reads /proc/sysvipc/{msg,shm,sem} of the
// caller's IPC namespace and prints them in util-linux's default layout:
//   ipcs [-a] [-q] [-m] [-s]        (no option: all three)
// Headers contain no digits, so an empty namespace never "contains" an id.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kMaxCols = 32 };

// The owner's name from the image's /etc/passwd, else the number.
static void OwnerName(const char* uid, char* out, size_t cap) {
  snprintf(out, cap, "%s", uid);
  FILE* f = fopen("/etc/passwd", "re");
  if (f == NULL) return;
  char line[1024];
  while (fgets(line, sizeof(line), f) != NULL) {
    char* name = strtok(line, ":");
    strtok(NULL, ":");
    char* id = strtok(NULL, ":");
    if (name != NULL && id != NULL && strcmp(id, uid) == 0) {
      snprintf(out, cap, "%s", name);
      break;
    }
  }
  fclose(f);
}

static int Split(char* line, char** cols) {
  int n = 0;
  for (char* tok = strtok(line, " \t\n"); tok != NULL && n < kMaxCols; tok = strtok(NULL, " \t\n")) {
    cols[n++] = tok;
  }
  return n;
}

static const char* Col(char** names, int n_names, char** vals, int n_vals, const char* name) {
  for (int i = 0; i < n_names && i < n_vals; ++i) {
    if (strcmp(names[i], name) == 0) return vals[i];
  }
  return "0";
}

// kind: 'q', 'm' or 's'.
static int Show(char kind) {
  static const char* const kFiles[] = {"/proc/sysvipc/msg", "/proc/sysvipc/shm", "/proc/sysvipc/sem"};
  int k = kind == 'q' ? 0 : kind == 'm' ? 1 : 2;
  if (k == 0) {
    printf("\n------ Message Queues --------\n%-10s %-10s %-10s %-10s %-12s %-12s\n", "key", "msqid", "owner",
           "perms", "used-bytes", "messages");
  } else if (k == 1) {
    printf("\n------ Shared Memory Segments --------\n%-10s %-10s %-10s %-10s %-10s %-10s %-12s\n", "key",
           "shmid", "owner", "perms", "bytes", "nattch", "status");
  } else {
    printf("\n------ Semaphore Arrays --------\n%-10s %-10s %-10s %-10s %-10s\n", "key", "semid", "owner",
           "perms", "nsems");
  }
  FILE* f = fopen(kFiles[k], "re");
  if (f == NULL) {
    perror(kFiles[k]);
    return 1;
  }
  char header[1024], line[1024], owner[64];
  char *names[kMaxCols], *vals[kMaxCols];
  int n_names = fgets(header, sizeof(header), f) ? Split(header, names) : 0;
  while (fgets(line, sizeof(line), f) != NULL) {
    int n = Split(line, vals);
    if (n < 3) continue;
    unsigned key = (unsigned)strtol(Col(names, n_names, vals, n, "key"), NULL, 10);
    const char* id = vals[1];
    unsigned long mode = strtoul(Col(names, n_names, vals, n, "perms"), NULL, 8);
    OwnerName(Col(names, n_names, vals, n, "uid"), owner, sizeof(owner));
    printf("0x%08x %-10s %-10s %-10lo ", key, id, owner, mode & 0777);
    if (k == 0) {
      printf("%-12s %-12s\n", Col(names, n_names, vals, n, "cbytes"), Col(names, n_names, vals, n, "qnum"));
    } else if (k == 1) {
      const char* status = (mode & 01000) ? "dest" : (mode & 02000) ? "locked" : "";
      printf("%-10s %-10s %-12s\n", Col(names, n_names, vals, n, "size"),
             Col(names, n_names, vals, n, "nattch"), status);
    } else {
      printf("%-10s\n", Col(names, n_names, vals, n, "nsems"));
    }
  }
  fclose(f);
  return 0;
}

int main(int argc, char** argv) {
  int q = 0, m = 0, s = 0, opt;
  while ((opt = getopt(argc, argv, "aqms")) != -1) {
    switch (opt) {
      case 'a':
        q = m = s = 1;
        break;
      case 'q':
        q = 1;
        break;
      case 'm':
        m = 1;
        break;
      case 's':
        s = 1;
        break;
      default:
        fprintf(stderr, "usage: ipcs [-a] [-q] [-m] [-s]\n");
        return 1;
    }
  }
  if (!q && !m && !s) q = m = s = 1;
  int rc = 0;
  if (q) rc |= Show('q');
  if (m) rc |= Show('m');
  if (s) rc |= Show('s');
  printf("\n");
  return rc;
}
