/* fleet-guestctl ACTION SERVICE: the client half of a guest's service manager shims (systemctl,
 * service): it asks the emulator over the guest's control socket to restart its sshd, or how it stands. */
#include "sandbox.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int guestctl_main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fleet-guestctl ACTION SERVICE\n");
    return 2;
  }
  /* Queries go to the socket anyone may use; changes to the root-only one (its mode decides). */
  int query = !strcmp(argv[1], "status") || !strcmp(argv[1], "is-active");
  const char *sock_path = query ? "/run/fleet/status.sock" : "/run/fleet/control.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, sock_path, sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    if (errno == EACCES) fprintf(stderr, "Failed to %s %s.service: Access denied\n", argv[1], argv[2]);
    else fprintf(stderr, "Failed to connect to bus: %s\n", strerror(errno));
    return 1;
  }
  char req[512];
  int n = snprintf(req, sizeof req, "%s %s\n", argv[1], argv[2]);
  if (write(fd, req, (size_t)n) != n) return 1;
  shutdown(fd, SHUT_WR);
  char buf[4096];
  size_t len = 0;
  ssize_t r;
  while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
  buf[len] = '\0';
  /* Reply: "<exit code> <1|2>\n<message for stdout (1) or stderr (2)>" */
  char *nl = strchr(buf, '\n');
  int code = 1, out = 2;
  if (sscanf(buf, "%d %d", &code, &out) < 1) code = 1;
  if (nl && nl[1]) fputs(nl + 1, out == 1 ? stdout : stderr);
  return code;
}
