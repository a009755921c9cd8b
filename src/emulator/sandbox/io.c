/* The two things every role of fleet-sandbox does alike: give up with a message, and write a whole buffer. */
#include "sandbox.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void die(const char *what) {
  fprintf(stderr, "fleet-sandbox: %s: %s\n", what, strerror(errno));
  _exit(125);
}

/* Returns 0 when the reader is gone. */
int write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return 0;
    buf += w, n -= (size_t)w;
  }
  return 1;
}
