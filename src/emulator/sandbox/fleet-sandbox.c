/*
 * fleet-sandbox: runs one emulated guest's command in a private sandbox, and the long-lived helpers
 * the emulator keeps beside it. One binary, four roles, chosen here:
 *
 *   fleet-sandbox [options] -- CMD...   the launcher: one command in a new sandbox (launcher.c, with
 *                                       root.c, confine.c and pty.c)
 *   fleet-sandbox --spawner             forks launchers for the emulator (spawner.c, netns.c)
 *   fleet-sandbox --overlays            makes and holds each guest's root overlay (overlays.c)
 *   fleet-guestctl ACTION SERVICE       (argv[0] basename) the client half of the guest's service
 *                                       manager shims (guestctl.c)
 */
#include "sandbox.h"
#include <errno.h>
#include <libgen.h>
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

int main(int argc, char **argv) {
  if (strcmp(basename(argv[0]), "fleet-guestctl") == 0) return guestctl_main(argc, argv);
  if (argc == 2 && strcmp(argv[1], "--spawner") == 0) return spawner_main();
  if (argc == 2 && strcmp(argv[1], "--overlays") == 0) return overlays_main();
  return sandbox_main(argc, argv);
}
