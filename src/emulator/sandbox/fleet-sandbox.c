/*
 * fleet-sandbox: runs one emulated guest's command in a private sandbox.
 *
 * The emulator (running as root) starts this for every exec/sftp session. It makes new mount, UTS,
 * PID and IPC namespaces; the machine's root appears read-only, the guest's own directories appear
 * read-write at /etc, /root, /home, /var, /tmp and /run, the emulator's state directory (other
 * guests, the client key) is hidden, /dev is a minimal private one and /proc belongs to the new PID
 * namespace. Dangerous capabilities are dropped from the bounding set so that even root on the guest
 * (via sudo) cannot remount, load modules or touch raw devices. The command then runs as the login
 * user's uid/gid. setuid binaries (sudo) keep working: no_new_privs is NOT set, on purpose.
 *
 * Process layout: this process (outer) -> pid 1 of the new PID namespace (a tiny init that forwards
 * signals and reaps) -> the command. Outer mirrors the command's fate: same exit code, or it kills
 * itself with the same signal, so the caller sees exactly what sshd would report. If outer dies, pid 1
 * dies (PDEATHSIG) and the kernel kills everything left in the namespace: a closed channel kills the
 * command and all it started.
 *
 * Also built in: `fleet-guestctl ACTION SERVICE` (argv[0] basename), the client half of the guest's
 * service manager shims: it asks the emulator over the guest's control socket to restart its sshd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LIST 64
static const char *guest_dirs[] = {"etc", "root", "home", "var", "tmp", "run"};

struct opts {
  const char *guest, *newroot, *hostname, *cwd, *guestbin;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_LIST];
  int ngroups;
  const char *masks[MAX_LIST];
  int nmasks;
  const char *robinds[MAX_LIST];
  int nrobinds;
  char *env[MAX_LIST + 1];
  int nenv;
  char **argv;
};

static void die(const char *what) {
  fprintf(stderr, "fleet-sandbox: %s: %s\n", what, strerror(errno));
  _exit(125);
}

static void usage(void) {
  fprintf(stderr,
          "usage: fleet-sandbox --guest DIR --newroot DIR --hostname NAME --uid N --gid N\n"
          "       [--groups a,b] [--mask PATH]... [--robind SRC:DST]... [--env K=V]... [--cwd DIR] [--guest-bin DIR] -- CMD...\n");
  _exit(125);
}

static void parse(int argc, char **argv, struct opts *o) {
  memset(o, 0, sizeof *o);
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) { i++; break; }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--guest")) o->guest = v;
    else if (!strcmp(a, "--newroot")) o->newroot = v;
    else if (!strcmp(a, "--hostname")) o->hostname = v;
    else if (!strcmp(a, "--cwd")) o->cwd = v;
    else if (!strcmp(a, "--guest-bin")) o->guestbin = v;
    else if (!strcmp(a, "--uid")) o->uid = (uid_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--gid")) o->gid = (gid_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--mask") && o->nmasks < MAX_LIST) o->masks[o->nmasks++] = v;
    else if (!strcmp(a, "--robind") && o->nrobinds < MAX_LIST) o->robinds[o->nrobinds++] = v;
    else if (!strcmp(a, "--env") && o->nenv < MAX_LIST) o->env[o->nenv++] = (char *)v;
    else if (!strcmp(a, "--groups")) {
      char *copy = strdup(v), *save = NULL;
      for (char *t = strtok_r(copy, ",", &save); t && o->ngroups < MAX_LIST; t = strtok_r(NULL, ",", &save))
        o->groups[o->ngroups++] = (gid_t)strtoul(t, NULL, 10);
    } else usage();
  }
  if (!o->guest || !o->newroot || !o->hostname || i >= argc) usage();
  o->argv = &argv[i];
}

static void path_join(char *out, size_t n, const char *a, const char *b) {
  snprintf(out, n, "%s/%s", a, b[0] == '/' ? b + 1 : b);
}

/* Read-only for the whole tree under `target`: mount_setattr when the kernel has it, else remount
 * each mount found below target one by one. */
static void make_readonly_recursive(const char *target) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV};
  if (syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &attr, sizeof attr) == 0) return;
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) die("mountinfo");
  char line[4096];
  size_t tl = strlen(target);
  while (fgets(line, sizeof line, f)) {
    char mp[4096];
    if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1) continue;
    if (strncmp(mp, target, tl) != 0 || (mp[tl] != '\0' && mp[tl] != '/')) continue;
    mount(NULL, mp, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, NULL); /* best effort per mount */
  }
  fclose(f);
}

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) != 0) {
    fprintf(stderr, "fleet-sandbox: mount %s on %s: %s\n", src ? src : type, dst, strerror(errno));
    _exit(125);
  }
}

static void setup_dev(const char *root) {
  char dev[4096], p[4096];
  path_join(dev, sizeof dev, root, "dev");
  mount_or_die("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k");
  static const struct { const char *name; unsigned maj, min; } nodes[] = {
      {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    path_join(p, sizeof p, dev, nodes[i].name);
    if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) != 0) die("mknod");
    chmod(p, 0666);
  }
  path_join(p, sizeof p, dev, "pts");
  mkdir(p, 0755);
  if (mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") == 0) {
    path_join(p, sizeof p, dev, "ptmx");
    symlink("pts/ptmx", p);
  }
  path_join(p, sizeof p, dev, "shm");
  mkdir(p, 01777);
  mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=16m");
  const char *links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                            {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (size_t i = 0; i < 4; i++) {
    path_join(p, sizeof p, dev, links[i][1]);
    symlink(links[i][0], p);
  }
}

/* Capabilities a guest's root must not have: they would let it leave the sandbox or touch the host. */
static void drop_dangerous_caps(void) {
  static const int caps[] = {
      21 /* SYS_ADMIN */, 16 /* SYS_MODULE */, 17 /* SYS_RAWIO */, 19 /* SYS_PTRACE */, 22 /* SYS_BOOT */,
      25 /* SYS_TIME */, 27 /* MKNOD */, 12 /* NET_ADMIN */, 18 /* SYS_CHROOT */, 34 /* SYSLOG */,
      33 /* MAC_ADMIN */, 32 /* MAC_OVERRIDE */, 30 /* AUDIT_CONTROL */, 9 /* LINUX_IMMUTABLE */,
      20 /* SYS_PACCT */, 26 /* SYS_TTY_CONFIG */, 35 /* WAKE_ALARM */, 36 /* BLOCK_SUSPEND */,
      38 /* PERFMON */, 39 /* BPF */, 40 /* CHECKPOINT_RESTORE */, 13 /* NET_RAW */, 23 /* SYS_NICE */};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0);
}

static void build_root(const struct opts *o) {
  char p[4096], src[4096];
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
  mount_or_die("/", o->newroot, NULL, MS_BIND | MS_REC, NULL);
  make_readonly_recursive(o->newroot);
  for (size_t i = 0; i < sizeof guest_dirs / sizeof guest_dirs[0]; i++) {
    path_join(src, sizeof src, o->guest, guest_dirs[i]);
    path_join(p, sizeof p, o->newroot, guest_dirs[i]);
    struct stat st;
    if (stat(src, &st) != 0 || stat(p, &st) != 0) continue;
    mount_or_die(src, p, NULL, MS_BIND | MS_REC, NULL);
  }
  /* Host system files shared read-only by every guest (alternatives, certificates, PAM modules' config):
   * copying them into 500 clones would cost more than the whole rest of the image. SRC:DST */
  for (int i = 0; i < o->nrobinds; i++) {
    char srcp[4096];
    const char *colon = strchr(o->robinds[i], ':');
    struct stat st;
    if (!colon) continue;
    snprintf(srcp, sizeof srcp, "%.*s", (int)(colon - o->robinds[i]), o->robinds[i]);
    path_join(p, sizeof p, o->newroot, colon + 1);
    if (stat(srcp, &st) != 0 || stat(p, &st) != 0) continue;
    mount_or_die(srcp, p, NULL, MS_BIND | MS_REC, NULL);
    mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, NULL);
  }
  /* Hide the emulator's state (other guests, client key) unless a guest directory already covers it. */
  for (int i = 0; i < o->nmasks; i++) {
    struct stat st;
    path_join(p, sizeof p, o->newroot, o->masks[i]);
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) mount_or_die("tmpfs", p, "tmpfs", MS_RDONLY, "size=4k,mode=755");
  }
  if (o->guestbin) { /* service-manager shims (systemctl, service) first in PATH */
    path_join(p, sizeof p, o->newroot, "/usr/local/sbin");
    mount_or_die(o->guestbin, p, NULL, MS_BIND, NULL);
    mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
  }
  path_join(p, sizeof p, o->newroot, "proc");
  mount_or_die("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  path_join(p, sizeof p, o->newroot, "proc/sys");
  if (mount(p, p, NULL, MS_BIND, NULL) == 0) mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
  path_join(p, sizeof p, o->newroot, "sys");
  mount_or_die("tmpfs", p, "tmpfs", MS_RDONLY, "size=4k,mode=755");
  setup_dev(o->newroot);

  if (chdir(o->newroot) != 0) die("chdir newroot");
  if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
  if (umount2(".", MNT_DETACH) != 0) die("detach old root");
  if (chdir("/") != 0) die("chdir /");
}

static volatile pid_t child_pid = 0;
static void forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

static void become_user_and_exec(const struct opts *o) {
  drop_dangerous_caps();
  if (setgroups(o->ngroups, o->groups) != 0) die("setgroups");
  if (setresgid(o->gid, o->gid, o->gid) != 0) die("setgid");
  if (setresuid(o->uid, o->uid, o->uid) != 0) die("setuid");
  if (!o->cwd || chdir(o->cwd) != 0) chdir("/");
  char **env = (char **)o->env;
  env[o->nenv] = NULL;
  for (int s = 1; s < 32; s++) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(o->argv[0], o->argv, env);
  fprintf(stderr, "fleet-sandbox: %s: %s\n", o->argv[0], strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

/* pid 1 of the guest's namespace: forward signals to the command, reap everything, report its fate. */
static int init_main(const struct opts *o, int report_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (sethostname(o->hostname, strlen(o->hostname)) != 0) die("sethostname");
  build_root(o);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(report_fd);
    become_user_and_exec(o);
  }
  child_pid = pid;
  int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGCONT, SIGWINCH};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], forward);
  int status = 0;
  for (;;) {
    pid_t w = wait(&status);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) die("wait");
  }
  char msg[32];
  int n = WIFSIGNALED(status) ? snprintf(msg, sizeof msg, "S%d\n", WTERMSIG(status))
                              : snprintf(msg, sizeof msg, "E%d\n", WEXITSTATUS(status));
  if (write(report_fd, msg, (size_t)n) < 0) _exit(125);
  return 0; /* leaving kills whatever the command left behind in the namespace */
}

static int guestctl_main(int argc, char **argv) {
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

int main(int argc, char **argv) {
  if (strcmp(basename(argv[0]), "fleet-guestctl") == 0) return guestctl_main(argc, argv);
  struct opts o;
  parse(argc, argv, &o);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) die("pipe");
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWIPC) != 0) die("unshare");
  /* Block forwarded signals until the handler knows the pid, so none is lost in between. */
  sigset_t block, old;
  sigfillset(&block);
  sigprocmask(SIG_BLOCK, &block, &old);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(pipefd[0]);
    sigprocmask(SIG_SETMASK, &old, NULL);
    _exit(init_main(&o, pipefd[1]));
  }
  close(pipefd[1]);
  child_pid = pid;
  int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGCONT, SIGWINCH};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], forward);
  sigprocmask(SIG_SETMASK, &old, NULL);
  char buf[32] = {0};
  ssize_t got = 0, r;
  while (got < (ssize_t)sizeof buf - 1 && (r = read(pipefd[0], buf + got, sizeof buf - 1 - (size_t)got)) != 0) {
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += r;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (buf[0] == 'S') {
    int sig = atoi(buf + 1);
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    kill(getpid(), sig);
    _exit(128 + sig);
  }
  if (buf[0] == 'E') return atoi(buf + 1);
  return 125; /* the sandbox itself failed before the command ran; its message is on stderr */
}
