/*
 * Escape attempts for the emulator's sandbox tests, compiled on the host and inside a guest.
 *   escape-probe handle PATH                      print "TYPE HEX" of PATH's file handle (host side)
 *   escape-probe open MOUNTDIR TYPE HEX REL r|w   open the handle through a mount of its file system,
 *                                                 then read REL's first line or create REL below it
 *   escape-probe syscalls                         try each call a guest must not make, print "name result"
 *   escape-probe listen ADDR PORT                 listen on ADDR:PORT, say "listening", wait for stdin's EOF
 *   escape-probe connect ADDR PORT                try a TCP connection to ADDR:PORT
 * Results are "ok ..." or the errno's name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what) {
  printf("%s %s\n", what, strerrorname_np(errno));
  return 1;
}

static int handle(const char *path) {
  struct file_handle *h = malloc(sizeof *h + MAX_HANDLE_SZ);
  int mount_id;
  h->handle_bytes = MAX_HANDLE_SZ;
  if (name_to_handle_at(AT_FDCWD, path, h, &mount_id, 0) != 0) return fail("handle");
  printf("%d ", h->handle_type);
  for (unsigned i = 0; i < h->handle_bytes; i++) printf("%02x", h->f_handle[i]);
  printf("\n");
  return 0;
}

static int open_handle(const char *mountdir, int type, const char *hex, const char *rel, const char *mode) {
  struct file_handle *h = malloc(sizeof *h + MAX_HANDLE_SZ);
  h->handle_type = type;
  h->handle_bytes = (unsigned)strlen(hex) / 2;
  for (unsigned i = 0; i < h->handle_bytes; i++) sscanf(hex + 2 * i, "%2hhx", &h->f_handle[i]);
  int mfd = open(mountdir, O_RDONLY | O_DIRECTORY);
  if (mfd < 0) return fail("mountdir");
  int dfd = open_by_handle_at(mfd, h, O_RDONLY | O_DIRECTORY);
  if (dfd < 0) return fail("open_by_handle_at");
  if (mode[0] == 'w') {
    int fd = openat(dfd, rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return fail("openat");
    if (write(fd, "escaped\n", 8) != 8) return fail("write");
    printf("ok wrote\n");
    return 0;
  }
  int fd = openat(dfd, rel, O_RDONLY);
  if (fd < 0) return fail("openat");
  char buf[128] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n < 0) return fail("read");
  *strchrnul(buf, '\n') = '\0';
  printf("ok read %s\n", buf);
  return 0;
}

static void result(const char *name, long r) {
  printf("%s %s\n", name, r < 0 ? strerrorname_np(errno) : "ok");
}

/* Each call in a child of its own, so one that succeeds (a new namespace, a tracer) changes nothing here. */
#define TRY(name, call)                     \
  do {                                      \
    fflush(stdout);                         \
    pid_t p = fork();                       \
    if (p == 0) {                           \
      result(name, (long)(call));           \
      fflush(stdout);                       \
      _exit(0);                             \
    }                                       \
    waitpid(p, NULL, 0);                    \
  } while (0)

static long clone_newuser(void) {
  long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r < 0 ? -1 : 0;
}

static int syscalls(void) {
  struct file_handle *h = malloc(sizeof *h + MAX_HANDLE_SZ);
  int mount_id;
  h->handle_bytes = MAX_HANDLE_SZ;
  TRY("name_to_handle_at", name_to_handle_at(AT_FDCWD, "/", h, &mount_id, 0));
  /* Paths that do not exist: where these calls are allowed they fail harmlessly with ENOENT/EINVAL. */
  TRY("mount", mount("none", "/nonexistent-probe", "tmpfs", 0, NULL));
  TRY("umount2", umount2("/nonexistent-probe", MNT_DETACH));
  TRY("unshare-user", unshare(CLONE_NEWUSER));
  TRY("unshare-net", unshare(CLONE_NEWNET));
  TRY("clone-newuser", clone_newuser());
  TRY("setns", syscall(SYS_setns, open("/proc/self/ns/net", O_RDONLY), CLONE_NEWNET));
  TRY("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  TRY("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
  TRY("ptrace", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
  TRY("userfaultfd", syscall(SYS_userfaultfd, 0));
  TRY("bpf", syscall(SYS_bpf, 0, NULL, 0));
  TRY("init_module", syscall(SYS_init_module, NULL, 0, ""));
  TRY("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
  TRY("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
  TRY("chown-own-file", chown("/tmp", 0, 0)); /* a capability the guest keeps: not everything is denied */
  return 0;
}

static int tcp(const char *addr, const char *port, int listening) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) return fail("address");
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (s < 0) return fail("socket");
  if (!listening) {
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) return fail("connect");
    printf("connect ok\n");
    return 0;
  }
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) return fail("bind");
  if (listen(s, 8) != 0) return fail("listen");
  printf("listening\n");
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "listen")) return tcp(argv[2], argv[3], 1);
  if (argc == 4 && !strcmp(argv[1], "connect")) return tcp(argv[2], argv[3], 0);
  if (argc == 3 && !strcmp(argv[1], "handle")) return handle(argv[2]);
  if (argc == 7 && !strcmp(argv[1], "open")) return open_handle(argv[2], atoi(argv[3]), argv[4], argv[5], argv[6]);
  if (argc == 2 && !strcmp(argv[1], "syscalls")) return syscalls();
  fprintf(stderr, "usage: escape-probe handle PATH | open MOUNTDIR TYPE HEX REL r|w | syscalls\n");
  return 2;
}
