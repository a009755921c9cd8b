/*
 * fleet-sandbox: runs one emulated guest's command in a private sandbox.
 *
 * The emulator (running as root) has this run for every exec/sftp session, forked by its spawner
 * (spawner mode, at the end of this file) so that it never forks itself. It makes new mount, UTS,
 * PID and IPC namespaces; the machine's root appears read-only, the guest's own directories appear
 * read-write at /etc, /root, /home, /var, /tmp and /run, the emulator's state directory (other
 * guests, the client key) is hidden, /dev is a minimal private one and /proc belongs to the new PID
 * namespace. The spawner puts every command of one guest into that guest's own network namespace
 * (loopback only) unless the emulator shares the host's. Root on the guest (via sudo) gets no more
 * than a container runtime's default: the bounding set keeps only the capabilities listed in
 * guest_caps (Docker's default set less MKNOD, NET_RAW and SYS_CHROOT), and a seccomp filter denies
 * the system calls that reach past namespaces and mounts (file handles, mounts, modules, kexec, bpf,
 * keyrings, ptrace, userfaultfd, new namespaces, io_uring). The command then runs as the login user's
 * uid/gid. setuid binaries (sudo) keep working: no_new_privs is NOT set, on purpose; the filter is
 * installed while the launcher still holds CAP_SYS_ADMIN, and every process of the guest inherits it.
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
#include <sys/ioctl.h>
#include <libgen.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
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
  unsigned short pty_rows, pty_cols; /* --pty ROWSxCOLS: the command gets a terminal */
  int login; /* --login: argv[0] is "-<name>", so a shell runs as a login shell (as sshd starts one) */
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
          "       [--groups a,b] [--mask PATH]... [--robind SRC:DST]... [--env K=V]... [--cwd DIR] [--guest-bin DIR]\n"
          "       [--pty ROWSxCOLS] [--login] [--net private|host] -- CMD...\n");
  _exit(125);
}

static void parse(int argc, char **argv, struct opts *o) {
  memset(o, 0, sizeof *o);
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) { i++; break; }
    if (strcmp(a, "--login") == 0) { o->login = 1; continue; }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--guest")) o->guest = v;
    else if (!strcmp(a, "--newroot")) o->newroot = v;
    else if (!strcmp(a, "--hostname")) o->hostname = v;
    else if (!strcmp(a, "--cwd")) o->cwd = v;
    else if (!strcmp(a, "--guest-bin")) o->guestbin = v;
    else if (!strcmp(a, "--net")) { /* private (the guest's own namespace, joined by the spawner) or host */
      if (strcmp(v, "private") && strcmp(v, "host")) usage();
    }
    else if (!strcmp(a, "--pty")) {
      unsigned rows = 0, cols = 0;
      if (sscanf(v, "%ux%u", &rows, &cols) != 2 || !rows || !cols || rows > 9999 || cols > 9999) usage();
      o->pty_rows = (unsigned short)rows, o->pty_cols = (unsigned short)cols;
    }
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

/* The only capabilities a guest's root may hold: Docker's default set less MKNOD, NET_RAW and
 * SYS_CHROOT. Everything else leaves the bounding set, above all DAC_READ_SEARCH, with which
 * open_by_handle_at opens any inode of a mounted file system by number, around every mount. */
static const int guest_caps[] = {
    0 /* CHOWN */, 1 /* DAC_OVERRIDE */, 3 /* FOWNER */, 4 /* FSETID */, 5 /* KILL */, 6 /* SETGID */,
    7 /* SETUID */, 8 /* SETPCAP */, 10 /* NET_BIND_SERVICE */, 29 /* AUDIT_WRITE */, 31 /* SETFCAP */};

static int guest_may_hold(int cap) {
  for (size_t i = 0; i < sizeof guest_caps / sizeof guest_caps[0]; i++)
    if (guest_caps[i] == cap) return 1;
  return 0;
}

/* Bounding set down to guest_caps (a cap the kernel does not know ends the loop), no ambient or
 * inheritable capabilities: what root gains at execve is guest_caps and no more. */
static void limit_capabilities(void) {
  for (int cap = 0; cap < 64; cap++) {
    if (guest_may_hold(cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;
      die("drop capability");
    }
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) != 0) die("capget");
  data[0].inheritable = data[1].inheritable = 0;
  if (syscall(SYS_capset, &hdr, data) != 0) die("capset");
}

#if defined(__x86_64__)
#define GUEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define GUEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "fleet-sandbox: the guest seccomp filter knows x86_64 and aarch64"
#endif

/* System calls a guest never makes: as Docker's default profile, they answer EPERM. */
static const int denied_syscalls[] = {
    SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_mount, SYS_umount2, SYS_pivot_root,
    SYS_kexec_load, SYS_kexec_file_load, SYS_bpf, SYS_init_module, SYS_finit_module, SYS_delete_module,
    SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_keyctl, SYS_add_key, SYS_request_key,
    SYS_userfaultfd, SYS_perf_event_open, SYS_unshare, SYS_setns, SYS_swapon, SYS_swapoff, SYS_reboot,
    SYS_acct, SYS_settimeofday, SYS_clock_settime, SYS_syslog,
    SYS_quotactl, SYS_lookup_dcookie, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_move_mount,
    SYS_open_tree, SYS_mount_setattr, SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
    SYS_vhangup,
#ifdef SYS_iopl
    SYS_iopl, SYS_ioperm,
#endif
#ifdef SYS_uselib
    SYS_uselib,
#endif
};

/* Namespace flags of clone(2): a guest makes processes, not namespaces. */
#define CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

static void install_seccomp(void) {
  enum { N = sizeof denied_syscalls / sizeof denied_syscalls[0] };
  struct sock_filter prog[2 * N + 16];
  unsigned n = 0;
#define ADD(x) prog[n++] = (struct sock_filter)x
  ADD(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  ADD(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, GUEST_AUDIT_ARCH, 1, 0));
  ADD(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)); /* another ABI (i386 on x86_64) */
  ADD(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#ifdef __x86_64__
  ADD(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000 /* __X32_SYSCALL_BIT */, 0, 1));
  ADD(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
#endif
  for (unsigned i = 0; i < N; i++) {
    ADD(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied_syscalls[i], 0, 1));
    ADD(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
  }
  /* clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone. */
  ADD(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
  ADD(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  ADD(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3));
  ADD(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))); /* flags, low word */
  ADD(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NS_FLAGS, 0, 1));
  ADD(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
  ADD(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef ADD
  struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
  /* Without no_new_privs this needs CAP_SYS_ADMIN, which the launcher still holds here. */
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) die("seccomp");
}

/*
 * A guest's root is a copy-on-write overlay: lower layer the golden image, upper layer only what the
 * guest changed. The overlay holder (`--overlays`, below) makes one per guest as a detached mount,
 * which belongs to no mount table: a sandbox's new mount namespace does not copy thousands of them,
 * and every command of a guest gets a clone of the same mount, so concurrent sessions of one guest
 * share one overlay (one cache, one work directory) and see each other's changes at once. A detached
 * mount can only be cloned from the namespace that made it, so the clones are taken before unshare.
 */
#define NGUEST_DIRS (sizeof guest_dirs / sizeof guest_dirs[0])
static int guest_tree[NGUEST_DIRS] = {-1, -1, -1, -1, -1, -1};

static void open_guest_trees(const struct opts *o) {
  char src[4096];
  for (size_t i = 0; i < NGUEST_DIRS; i++) {
    path_join(src, sizeof src, o->guest, guest_dirs[i]);
    guest_tree[i] = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  }
}

static void build_root(const struct opts *o) {
  char p[4096], src[4096];
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
  mount_or_die("/", o->newroot, NULL, MS_BIND | MS_REC, NULL);
  make_readonly_recursive(o->newroot);
  for (size_t i = 0; i < NGUEST_DIRS; i++) {
    path_join(src, sizeof src, o->guest, guest_dirs[i]);
    path_join(p, sizeof p, o->newroot, guest_dirs[i]);
    struct stat st;
    if (guest_tree[i] >= 0) {
      if (syscall(SYS_move_mount, guest_tree[i], "", AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH) != 0) die("attach guest directory");
      close(guest_tree[i]);
      guest_tree[i] = -1;
      continue;
    }
    /* No open_tree (kernel before 5.2): a plain directory is bound the classic way. */
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

/* Signals the caller (sshd's `signal` requests, a kill) sends reach the command. With a pty, the
 * terminal itself sends SIGWINCH, so it is not forwarded on top. */
static void forward_signals(int winch) {
  static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGCONT, SIGWINCH};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (winch || sigs[i] != SIGWINCH) signal(sigs[i], forward);
}

static void become_user_and_exec(const struct opts *o) {
  limit_capabilities();
  /* The session's pipes belong to the login user, as under sshd (so `cat /dev/stdin` may reopen them). */
  for (int fd = 0; fd < 3; fd++) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fchown(fd, o->uid, o->gid) != 0) die("chown stdio");
  }
  install_seccomp(); /* last while CAP_SYS_ADMIN is ours: setresuid below takes it */
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
  if (o->login) { /* the program stays argv[0]'s path; the name it sees gets a leading '-' */
    const char *path = o->argv[0], *slash = strrchr(path, '/');
    static char dashed[256];
    snprintf(dashed, sizeof dashed, "-%s", slash ? slash + 1 : path);
    o->argv[0] = dashed;
    execve(path, o->argv, env);
    o->argv[0] = (char *)path;
  } else
    execve(o->argv[0], o->argv, env);
  fprintf(stderr, "fleet-sandbox: %s: %s\n", o->argv[0], strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

/* Returns 0 when the reader is gone. */
static int write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return 0;
    buf += w, n -= (size_t)w;
  }
  return 1;
}

static int chld_pipe[2] = {-1, -1};
static void on_chld(int sig) {
  (void)sig;
  int saved = errno;
  if (write(chld_pipe[1], "c", 1) < 0) { /* full: a wake-up is already pending */ }
  errno = saved;
}

static void report(int report_fd, int status) {
  char msg[32];
  int n = WIFSIGNALED(status) ? snprintf(msg, sizeof msg, "S%d\n", WTERMSIG(status))
                              : snprintf(msg, sizeof msg, "E%d\n", WEXITSTATUS(status));
  if (write(report_fd, msg, (size_t)n) < 0) _exit(125);
}

/*
 * A session with a terminal (pid 1 again): the command runs on the slave side of a pty of the
 * guest's own devpts, as its controlling terminal, owned by the login user (group tty, mode 0620,
 * like sshd's). This process relays: stdin pipe -> pty (buffered, so a command that does not read
 * cannot wedge the relay), pty -> stdout pipe (the terminal merges the command's stderr, as under
 * sshd), and "ROWS COLS" lines on fd 3 (the emulator's window-change requests) -> TIOCSWINSZ, which
 * sends the command SIGWINCH. Once the command has exited, what it left in the pty is drained.
 */
static int pty_main(const struct opts *o, int report_fd) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  char slave_name[64];
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, slave_name, sizeof slave_name) != 0) die("pty");
  struct winsize ws = {.ws_row = o->pty_rows, .ws_col = o->pty_cols};
  ioctl(master, TIOCSWINSZ, &ws);
  if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe");
  signal(SIGCHLD, on_chld);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(report_fd), close(master), close(3);
    signal(SIGCHLD, SIG_DFL);
    if (setsid() < 0) die("setsid");
    int slave = open(slave_name, O_RDWR);
    if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0) die("controlling terminal");
    struct group *tty = getgrnam("tty");
    if (fchown(slave, o->uid, tty ? tty->gr_gid : o->gid) != 0 || fchmod(slave, tty ? 0620 : 0600) != 0) die("chown pty");
    if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) die("dup2");
    if (slave > 2) close(slave);
    become_user_and_exec(o);
  }
  child_pid = pid;
  forward_signals(0);
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  int in_open = 1, ctl_open = fcntl(3, F_GETFD) != -1, master_open = 1, exited = 0, status = 0;
  char out[16384], in[4096], ctl[64];
  size_t in_len = 0, in_off = 0, ctl_len = 0;
  for (;;) {
    struct pollfd p[4];
    int n = 0, i_master = -1, i_in = -1, i_ctl = -1;
    if (master_open) i_master = n, p[n++] = (struct pollfd){.fd = master, .events = (short)(POLLIN | (in_len ? POLLOUT : 0))};
    if (in_open && !in_len) i_in = n, p[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
    if (ctl_open) i_ctl = n, p[n++] = (struct pollfd){.fd = 3, .events = POLLIN};
    int i_chld = n;
    p[n++] = (struct pollfd){.fd = chld_pipe[0], .events = POLLIN};
    /* After the exit, output still arriving is drained; 100 ms of quiet ends the session. */
    int ready = poll(p, (nfds_t)n, exited ? 100 : -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) die("poll");
    if (ready == 0 || (exited && !master_open)) break;
    if (i_master >= 0 && (p[i_master].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(master, out, sizeof out);
      if (r > 0) write_all(1, out, (size_t)r); /* a reader gone: what the command prints is lost, as with sshd */
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) master_open = 0; /* EIO: no one holds the slave */
    }
    if (i_master >= 0 && master_open && in_len && (p[i_master].revents & POLLOUT)) {
      ssize_t w = write(master, in + in_off, in_len - in_off);
      if (w > 0 && (in_off += (size_t)w) == in_len) in_len = in_off = 0;
    }
    if (i_in >= 0 && p[i_in].revents) {
      ssize_t r = read(0, in, sizeof in);
      if (r > 0) in_len = (size_t)r, in_off = 0;
      else if (r == 0 || errno != EINTR) in_open = 0; /* the client's EOF: the terminal stays */
    }
    if (i_ctl >= 0 && p[i_ctl].revents) {
      ssize_t r = read(3, ctl + ctl_len, sizeof ctl - 1 - ctl_len);
      if (r <= 0) ctl_open = 0;
      else {
        ctl_len += (size_t)r;
        char *nl;
        while ((nl = memchr(ctl, '\n', ctl_len))) {
          unsigned rows, cols;
          *nl = '\0';
          if (sscanf(ctl, "%u %u", &rows, &cols) == 2 && rows && cols && rows < 10000 && cols < 10000) {
            struct winsize w = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
            ioctl(master, TIOCSWINSZ, &w);
          }
          ctl_len -= (size_t)(nl + 1 - ctl);
          memmove(ctl, nl + 1, ctl_len);
        }
        if (ctl_len == sizeof ctl - 1) ctl_len = 0; /* no newline in a full buffer: junk */
      }
    }
    if (p[i_chld].revents) {
      char drain[64];
      while (read(chld_pipe[0], drain, sizeof drain) > 0) {
      }
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG)) > 0)
        if (w == pid) exited = 1, status = st;
    }
  }
  report(report_fd, status);
  return 0;
}

/* pid 1 of the guest's namespace: forward signals to the command, reap everything, report its fate. */
static int init_main(const struct opts *o, int report_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 0); /* keeps its full capabilities out of reach of the guest's own /proc */
  if (sethostname(o->hostname, strlen(o->hostname)) != 0) die("sethostname");
  build_root(o);
  if (o->pty_rows) return pty_main(o, report_fd);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(report_fd);
    become_user_and_exec(o);
  }
  child_pid = pid;
  forward_signals(1);
  int status = 0;
  for (;;) {
    pid_t w = wait(&status);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) die("wait");
  }
  report(report_fd, status);
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

static int sandbox_main(int argc, char **argv) {
  struct opts o;
  parse(argc, argv, &o);
  open_guest_trees(&o);
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
  forward_signals(1);
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

/*
 * Spawner mode (`fleet-sandbox --spawner`): one long-lived process that forks sandboxes for the
 * emulator, so the emulator (a large Node process) never forks itself: a fork of this small process
 * costs a fraction of a millisecond, off the emulator's event loop. It talks over its stdin/stdout:
 *
 *   in:  R <id> <len>[ pty]\n<len bytes: sandbox arguments, each ended by NUL>   start a sandbox
 *                                     (pty: one more pipe, the job's fd 3, for window sizes)
 *        O <id>\n                     the emulator has opened its ends of the job's pipes
 *        K <id> <signal>\n            send a signal to the job
 *   out: P <id> <pid> <in> <out> <err>[ <ctl>]\n   started; our fds holding the emulator's ends, which it
 *                                          opens through /proc/<our pid>/fd/<n> (then sends O)
 *        X <id> <wait status>\n       the job ended
 *        F <id> <errno>\n             could not start it
 *
 * The job gets plain pipes as stdin/stdout/stderr, as under OpenSSH's sshd. When stdin closes (the
 * emulator is gone), every job is killed and the spawner exits; each job also dies with the spawner
 * (PDEATHSIG), and the spawner with the emulator.
 */

struct job {
  long long id;
  pid_t pid; /* 0 once reaped */
  int netns; /* the guest's network namespace it holds while it runs, or -1 */
  int fds[4]; /* our copies of the emulator's ends: stdin write, stdout read, stderr read, pty control write (or -1) */
};
static struct job *jobs;
static size_t njobs, capjobs;

static struct job *find_job(long long id) {
  for (size_t i = 0; i < njobs; i++)
    if (jobs[i].id == id) return &jobs[i];
  return NULL;
}

static void close_job_fds(struct job *j) {
  for (int k = 0; k < 4; k++)
    if (j->fds[k] >= 0) close(j->fds[k]), j->fds[k] = -1;
}

static void drop_job_if_done(struct job *j) {
  if (j->pid != 0 || j->fds[0] >= 0 || j->fds[1] >= 0 || j->fds[2] >= 0 || j->fds[3] >= 0) return;
  *j = jobs[--njobs];
}

/* Each guest's network namespace (loopback only), made on its first command and held open here: a
 * guest's listeners, its socket table and its abstract sockets are its own, so a guest cannot serve
 * on a stopped guest's address or see the emulator's connections. A namespace costs the kernel about
 * 200 KiB, and nothing in it outlives the guest's commands (they die with their PID namespace), so
 * only NETNS_IDLE_MAX namespaces without a running command are kept, the least recently used going
 * first: memory follows the commands running at once, not the size of the fleet. */
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
static int acquire_netns(const char *guest) {
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

static void release_netns(int fd) {
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

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...) {
  char line[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (!write_all(1, line, (size_t)n)) _exit(0); /* the emulator is gone; PDEATHSIG takes the jobs */
}

static void close_from(int lowest) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, lowest, ~0U, 0) == 0) return;
#endif
  struct rlimit rl;
  int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
  for (int fd = lowest; fd < max; fd++) close(fd);
}

static void start_job(long long id, char *payload, size_t len, int with_ctl) {
  char *args[4 * MAX_LIST + 64];
  int argc = 0;
  args[argc++] = "fleet-sandbox";
  for (size_t off = 0; off < len && argc < (int)(sizeof args / sizeof args[0]) - 1;) {
    args[argc++] = payload + off;
    off += strlen(payload + off) + 1;
  }
  args[argc] = NULL;
  if (len == 0 || payload[len - 1] != '\0') {
    reply("F %lld %d\n", id, EINVAL);
    return;
  }
  const char *guest = NULL, *net = "private";
  for (int a = 1; a + 1 < argc && strcmp(args[a], "--"); a += 2) {
    if (!strcmp(args[a], "--guest")) guest = args[a + 1];
    else if (!strcmp(args[a], "--net")) net = args[a + 1];
    else if (!strcmp(args[a], "--login")) a--; /* the one flag without a value */
  }
  int netns = -1;
  if (strcmp(net, "host") != 0 && (!guest || (netns = acquire_netns(guest)) < 0)) {
    reply("F %lld %d\n", id, guest ? errno : EINVAL);
    return;
  }
  int in[2], out[2], err[2], ctl[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) != 0) goto fail;
  if (pipe2(out, O_CLOEXEC) != 0) goto fail_in;
  if (pipe2(err, O_CLOEXEC) != 0) goto fail_out;
  if (with_ctl && pipe2(ctl, O_CLOEXEC) != 0) goto fail_err;
  pid_t pid = fork();
  if (pid < 0) goto fail_ctl;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(125);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (netns >= 0 && setns(netns, CLONE_NEWNET) != 0) _exit(125);
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(125);
    if (with_ctl && dup2(ctl[0], 3) < 0) _exit(125);
    close_from(with_ctl ? 4 : 3);
    _exit(sandbox_main(argc, args));
  }
  close(in[0]), close(out[1]), close(err[1]);
  if (with_ctl) close(ctl[0]);
  if (njobs == capjobs) {
    capjobs = capjobs ? 2 * capjobs : 64;
    jobs = realloc(jobs, capjobs * sizeof *jobs);
    if (!jobs) die("realloc");
  }
  jobs[njobs++] = (struct job){.id = id, .pid = pid, .netns = netns, .fds = {in[1], out[0], err[0], ctl[1]}};
  if (with_ctl) reply("P %lld %d %d %d %d %d\n", id, (int)pid, in[1], out[0], err[0], ctl[1]);
  else reply("P %lld %d %d %d %d\n", id, (int)pid, in[1], out[0], err[0]);
  return;
fail_ctl:
  if (with_ctl) close(ctl[0]), close(ctl[1]);
fail_err:
  close(err[0]), close(err[1]);
fail_out:
  close(out[0]), close(out[1]);
fail_in:
  close(in[0]), close(in[1]);
fail: {
  int saved = errno;
  if (netns >= 0) release_netns(netns);
  reply("F %lld %d\n", id, saved);
}
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (size_t i = 0; i < njobs; i++) {
      if (jobs[i].pid != pid) continue;
      jobs[i].pid = 0;
      if (jobs[i].netns >= 0) release_netns(jobs[i].netns), jobs[i].netns = -1;
      reply("X %lld %d\n", jobs[i].id, status);
      drop_job_if_done(&jobs[i]);
      break;
    }
  }
}

/* Handles every complete message at the start of buf; returns how many bytes it consumed. */
static size_t handle_messages(char *buf, size_t have) {
  size_t used = 0;
  for (;;) {
    char *start = buf + used, *nl = memchr(start, '\n', have - used);
    if (!nl) return used;
    size_t header = (size_t)(nl - start) + 1;
    char kind = start[0];
    long long id = 0;
    if (kind == 'R') {
      unsigned long len = 0;
      char flag[4] = "", line[96];
      size_t hl = header - 1 < sizeof line ? header - 1 : sizeof line - 1; /* the header alone */
      memcpy(line, start, hl);
      line[hl] = '\0';
      int got = sscanf(line, "R %lld %lu %3s", &id, &len, flag);
      if (got < 2 || len > (1UL << 20)) {
        fprintf(stderr, "fleet-sandbox --spawner: bad request header\n");
        _exit(2);
      }
      if (have - used - header < len) return used; /* payload not all here yet */
      start_job(id, start + header, len, got == 3 && !strcmp(flag, "pty"));
      used += header + len;
      continue;
    }
    int sig = 0;
    if (kind == 'O' && sscanf(start, "O %lld", &id) == 1) {
      struct job *j = find_job(id);
      if (j) close_job_fds(j), drop_job_if_done(j);
    } else if (kind == 'K' && sscanf(start, "K %lld %d", &id, &sig) == 2) {
      struct job *j = find_job(id);
      if (j && j->pid > 0) kill(j->pid, sig);
    } else {
      fprintf(stderr, "fleet-sandbox --spawner: unknown message '%.*s'\n", (int)header - 1, start);
      _exit(2);
    }
    used += header;
  }
}

static int spawner_main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  struct rlimit rl; /* three pipe ends per job until the emulator opens its own */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl);
  size_t cap = 1 << 16, have = 0;
  char *buf = malloc(cap);
  if (!buf) die("malloc");
  reply("ready %d\n", (int)getpid());
  for (;;) {
    struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (p[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
      }
      reap();
    }
    if (!p[0].revents) continue;
    if (cap - have < 4096) {
      cap *= 2;
      if (!(buf = realloc(buf, cap))) die("realloc");
    }
    ssize_t r = read(0, buf + have, cap - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break; /* the emulator closed us: stop everything */
    have += (size_t)r;
    size_t used = handle_messages(buf, have);
    memmove(buf, buf + used, have - used);
    have -= used;
  }
  for (size_t i = 0; i < njobs; i++)
    if (jobs[i].pid > 0) kill(jobs[i].pid, SIGKILL);
  return 0;
}

/*
 * Overlay holder mode (`fleet-sandbox --overlays`): one long-lived process that makes each guest's
 * root overlay and holds it, as a detached mount, for the emulator's lifetime. The emulator reads and
 * writes a guest's files through /proc/<our pid>/fd/<fd> (the merged view, as the guest sees it) and
 * passes that path as the launcher's --guest. Over stdin/stdout, one line each:
 *
 *   in:  M <id> <lower>\t<upper>\t<work>\n   make a guest's overlay (upper and work: same file system)
 *   out: M <id> <fd>\n                       made: the guest's root is /proc/<our pid>/fd/<fd>
 *        E <id> <errno>\n                    could not
 *
 * When stdin closes (the emulator is gone), it exits and the overlays go with it.
 */
static int make_overlay(const char *lower, const char *upper, const char *work) {
  int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
  if (fs < 0) return -1;
  /* lowerdir+ (Linux 6.8) takes the path as it is; older kernels parse "lowerdir" themselves. */
  int ok = (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", lower, 0) == 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) == 0) &&
           syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) == 0 &&
           syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "workdir", work, 0) == 0 &&
           syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
  int mnt = ok ? (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV) : -1;
  int saved = errno;
  close(fs);
  errno = saved;
  return mnt;
}

/* Mounts wait mostly on the upper file system (a disk: its inode tables), not on the CPU: a few
 * threads overlap those waits (500 mounts on ext4: 1.6 s with one, 0.8 s with four). */
#define OVERLAY_THREADS 4
struct overlay_req {
  long long id;
  char *lower, *upper, *work; /* one allocation, at lower */
  struct overlay_req *next;
};
static struct overlay_req *ov_head, *ov_tail;
static int ov_eof;
static pthread_mutex_t ov_lock = PTHREAD_MUTEX_INITIALIZER, ov_out = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ov_ready = PTHREAD_COND_INITIALIZER;

static void *overlay_worker(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&ov_lock);
    while (!ov_head && !ov_eof) pthread_cond_wait(&ov_ready, &ov_lock);
    struct overlay_req *r = ov_head;
    if (r && !(ov_head = r->next)) ov_tail = NULL;
    pthread_mutex_unlock(&ov_lock);
    if (!r) return NULL;
    int fd = make_overlay(r->lower, r->upper, r->work), err = errno;
    char out[64];
    int n = fd >= 0 ? snprintf(out, sizeof out, "M %lld %d\n", r->id, fd) : snprintf(out, sizeof out, "E %lld %d\n", r->id, err);
    pthread_mutex_lock(&ov_out);
    int ok = write_all(1, out, (size_t)n);
    pthread_mutex_unlock(&ov_out);
    free(r->lower);
    free(r);
    if (!ok) _exit(0); /* the emulator is gone */
  }
}

static int overlays_main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl; /* one descriptor per guest */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl);
  pthread_t workers[OVERLAY_THREADS];
  for (int i = 0; i < OVERLAY_THREADS; i++)
    if (pthread_create(&workers[i], NULL, overlay_worker, NULL) != 0) die("pthread_create");
  char line[3 * 4096 + 64];
  while (fgets(line, sizeof line, stdin)) {
    long long id = 0;
    int off = 0;
    char *nl = strchr(line, '\n'), *upper, *work;
    if (!nl || sscanf(line, "M %lld %n", &id, &off) != 1 || off == 0 || !(upper = strchr(line + off, '\t')) || !(work = strchr(upper + 1, '\t'))) {
      fprintf(stderr, "fleet-sandbox --overlays: bad request\n");
      _exit(2);
    }
    *nl = '\0', *upper++ = '\0', *work++ = '\0';
    struct overlay_req *r = malloc(sizeof *r);
    char *paths = malloc((size_t)(nl - (line + off)) + 1);
    if (!r || !paths) die("malloc");
    memcpy(paths, line + off, (size_t)(nl - (line + off)) + 1);
    *r = (struct overlay_req){.id = id, .lower = paths, .upper = paths + (upper - (line + off)), .work = paths + (work - (line + off))};
    pthread_mutex_lock(&ov_lock);
    if (ov_tail) ov_tail->next = r;
    else ov_head = r;
    ov_tail = r;
    pthread_cond_signal(&ov_ready);
    pthread_mutex_unlock(&ov_lock);
  }
  pthread_mutex_lock(&ov_lock);
  ov_eof = 1;
  pthread_cond_broadcast(&ov_ready);
  pthread_mutex_unlock(&ov_lock);
  for (int i = 0; i < OVERLAY_THREADS; i++) pthread_join(workers[i], NULL);
  return 0;
}

int main(int argc, char **argv) {
  if (strcmp(basename(argv[0]), "fleet-guestctl") == 0) return guestctl_main(argc, argv);
  if (argc == 2 && strcmp(argv[1], "--spawner") == 0) return spawner_main();
  if (argc == 2 && strcmp(argv[1], "--overlays") == 0) return overlays_main();
  return sandbox_main(argc, argv);
}
