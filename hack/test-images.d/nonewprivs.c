// Entry point of the nonewprivs test image, installed setuid root (mode 04755, owner 0): prints the
// effective uid it runs with. Started as uid 1000, it prints 0 when the setuid bit took effect and 1000
// when no_new_privs (or a nosuid mount) kept it from doing so. critest's NoNewPrivs specs compare the
// container's log with "Effective uid: 0\n" / "Effective uid: 1000\n".
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("Effective uid: %d\n", (int)geteuid());
  return fflush(stdout) == 0 ? 0 : 1;
}
