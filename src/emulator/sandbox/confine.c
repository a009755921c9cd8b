/*
 * What a guest's command may do, set last before it runs: root on the guest gets no more than a
 * container runtime's default. The bounding set keeps only the capabilities listed in guest_caps
 * (Docker's default set less MKNOD, NET_RAW and SYS_CHROOT), and a seccomp filter denies the system
 * calls that reach past namespaces and mounts (file handles, mounts, modules, kexec, bpf, keyrings,
 * ptrace, userfaultfd, new namespaces, io_uring). The command then runs as the login user's uid/gid.
 * setuid binaries (sudo) keep working: no_new_privs is NOT set, on purpose; the filter is installed
 * while the launcher still holds CAP_SYS_ADMIN, and every process of the guest inherits it.
 */
#include "sandbox.h"
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

void become_user_and_exec(const struct opts *o) {
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
