/* A sandbox's session with a terminal, run by its pid 1 in place of a plain wait for the command. */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int chld_pipe[2] = {-1, -1};
static void on_chld(int sig) {
  (void)sig;
  int saved = errno;
  if (write(chld_pipe[1], "c", 1) < 0) { /* full: a wake-up is already pending */ }
  errno = saved;
}

/*
 * A session with a terminal (pid 1 again): the command runs on the slave side of a pty of the
 * guest's own devpts, as its controlling terminal, owned by the login user (group tty, mode 0620,
 * like sshd's). This process relays: stdin pipe -> pty (buffered, so a command that does not read
 * cannot wedge the relay), pty -> stdout pipe (the terminal merges the command's stderr, as under
 * sshd), and "ROWS COLS" lines on fd 3 (the emulator's window-change requests) -> TIOCSWINSZ, which
 * sends the command SIGWINCH. Once the command has exited, what it left in the pty is drained.
 */
int pty_main(const struct opts *o, int report_fd) {
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
  forward_signals(pid, 0);
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
