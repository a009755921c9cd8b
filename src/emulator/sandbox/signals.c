/* What passes between a sandbox's processes and the command: the signals they forward to it, and
 * the report of how it ended (a signal or an exit code) that the outer process mirrors. */
#include "sandbox.h"
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child_pid = 0;
static void forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

/* Signals the caller (sshd's `signal` requests, a kill) sends reach the command. With a pty, the
 * terminal itself sends SIGWINCH, so it is not forwarded on top. `pid` is the command (or pid 1). */
void forward_signals(pid_t pid, int winch) {
  child_pid = pid;
  static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGCONT, SIGWINCH};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (winch || sigs[i] != SIGWINCH) signal(sigs[i], forward);
}

void report(int report_fd, int status) {
  char msg[32];
  int n = WIFSIGNALED(status) ? snprintf(msg, sizeof msg, "S%d\n", WTERMSIG(status))
                              : snprintf(msg, sizeof msg, "E%d\n", WEXITSTATUS(status));
  if (write(report_fd, msg, (size_t)n) < 0) _exit(125);
}
