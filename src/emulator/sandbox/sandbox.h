/*
 * What the parts of fleet-sandbox share: the launcher's options and the few functions one file calls
 * in another. Every source includes this first: it asks for the GNU names of the system headers.
 */
#ifndef FLEET_SANDBOX_H
#define FLEET_SANDBOX_H

#define _GNU_SOURCE
#include <stddef.h>
#include <sys/types.h>

#define MAX_LIST 64

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

/* io.c: for every role */
void die(const char *what);
int write_all(int fd, const char *buf, size_t n);

/* launcher.c: one command in a new sandbox (the default role) */
int sandbox_main(int argc, char **argv);

/* signals.c: between the launcher's processes and the command, with or without a terminal */
void forward_signals(pid_t pid, int winch);
void report(int report_fd, int status);

/* root.c: the guest's file system view, made inside the new mount namespace */
void open_guest_trees(const struct opts *o);
void build_root(const struct opts *o);

/* confine.c: the command's capabilities, system call filter and identity */
void become_user_and_exec(const struct opts *o);

/* pty.c: a session with a terminal */
int pty_main(const struct opts *o, int report_fd);

/* spawner.c, netns.c: the long-lived process that forks sandboxes (--spawner) */
int spawner_main(void);
int acquire_netns(const char *guest);
void release_netns(int fd);

/* overlays.c: the long-lived holder of the guests' root overlays (--overlays) */
int overlays_main(void);

/* guestctl.c: fleet-guestctl, the client half of a guest's service manager shims */
int guestctl_main(int argc, char **argv);

#endif
