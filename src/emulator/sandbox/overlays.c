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
#include "sandbox.h"
#include <errno.h>
#include <linux/mount.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int overlays_main(void) {
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
