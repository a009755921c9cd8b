/*
 * The launcher: runs one emulated guest's command in a private sandbox.
 *
 * The emulator (running as root) has this run for every exec/sftp session, forked by its spawner
 * (spawner.c) so that it never forks itself. It makes new mount, UTS, PID and IPC namespaces; the
 * machine's root appears read-only, the guest's own directories appear read-write (root.c), and root
 * on the guest gets no more than a container runtime's default (confine.c). The spawner puts every
 * command of one guest into that guest's own network namespace (netns.c) unless the emulator shares
 * the host's.
 *
 * Process layout: this process (outer) -> pid 1 of the new PID namespace (a tiny init that forwards
 * signals and reaps) -> the command. Outer mirrors the command's fate: same exit code, or it kills
 * itself with the same signal, so the caller sees exactly what sshd would report. If outer dies, pid 1
 * dies (PDEATHSIG) and the kernel kills everything left in the namespace: a closed channel kills the
 * command and all it started.
 */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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
  forward_signals(pid, 1);
  int status = 0;
  for (;;) {
    pid_t w = wait(&status);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) die("wait");
  }
  report(report_fd, status);
  return 0; /* leaving kills whatever the command left behind in the namespace */
}

int sandbox_main(int argc, char **argv) {
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
  forward_signals(pid, 1);
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
