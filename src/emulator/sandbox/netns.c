/* Each guest's network namespace (loopback only), made on its first command and held open by the
 * spawner: a guest's listeners, its socket table and its abstract sockets are its own, so a guest
 * cannot serve on a stopped guest's address or see the emulator's connections. A namespace costs the
 * kernel about 200 KiB, and nothing in it outlives the guest's commands (they die with their PID
 * namespace), so only NETNS_IDLE_MAX namespaces without a running command are kept, the least
 * recently used going first: memory follows the commands running at once, not the size of the fleet. */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define NETNS_IDLE_MAX 256
struct netns {
  char *guest;
  int fd;
  int jobs; /* commands running in it */
  unsigned long long used;
};
static struct netns *netnss;
static size_t nnetns, capnetns, idle_netns;
static unsigned long long netns_clock;
static int host_netns = -1;

static int bring_loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
  close(s);
  return ok ? 0 : -1;
}

/* A new namespace with loopback up, as a descriptor; -1 with errno. */
static int new_netns(void) {
  if (host_netns < 0 && (host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) return -1;
  if (unshare(CLONE_NEWNET) != 0) return -1;
  int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), saved = errno;
  int up = fd >= 0 ? bring_loopback_up() : -1;
  if (up != 0) saved = errno;
  if (setns(host_netns, CLONE_NEWNET) != 0) die("return to the host network namespace");
  if (fd < 0 || up != 0) {
    if (fd >= 0) close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/* Takes the namespace of `guest` (its directory) for one more command, made now if it has none: its
 * descriptor, or -1 with errno. release_netns gives it back. */
int acquire_netns(const char *guest) {
  struct netns *n = NULL;
  for (size_t i = 0; i < nnetns && !n; i++)
    if (!strcmp(netnss[i].guest, guest)) n = &netnss[i];
  if (!n) {
    int fd = new_netns();
    if (fd < 0) return -1;
    if (nnetns == capnetns) {
      capnetns = capnetns ? 2 * capnetns : 64;
      if (!(netnss = realloc(netnss, capnetns * sizeof *netnss))) die("realloc");
    }
    n = &netnss[nnetns++];
    *n = (struct netns){.guest = strdup(guest), .fd = fd};
    idle_netns++;
  }
  if (n->jobs++ == 0) idle_netns--;
  n->used = ++netns_clock;
  return n->fd;
}

void release_netns(int fd) {
  for (size_t i = 0; i < nnetns; i++) {
    if (netnss[i].fd != fd) continue;
    if (--netnss[i].jobs == 0) idle_netns++;
    netnss[i].used = ++netns_clock;
    break;
  }
  while (idle_netns > NETNS_IDLE_MAX) {
    size_t oldest = nnetns;
    for (size_t i = 0; i < nnetns; i++)
      if (netnss[i].jobs == 0 && (oldest == nnetns || netnss[i].used < netnss[oldest].used)) oldest = i;
    if (oldest == nnetns) break;
    close(netnss[oldest].fd);
    free(netnss[oldest].guest);
    netnss[oldest] = netnss[--nnetns];
    idle_netns--;
  }
}
