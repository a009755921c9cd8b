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
 * Each job runs the launcher (launcher.c) in a child of this process, with plain pipes as its
 * stdin/stdout/stderr, as under OpenSSH's sshd. When stdin closes (the emulator is gone), every job
 * is killed and the spawner exits; each job also dies with the spawner (PDEATHSIG), and the spawner
 * with the emulator.
 */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

int spawner_main(void) {
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
