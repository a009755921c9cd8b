/*
 * The guest's file system view, made by pid 1 of a new sandbox: the machine's root read-only, the
 * guest's own etc, root, home, var, tmp and run read-write in their places, the emulator's state
 * directory (other guests, the client key) hidden, a minimal private /dev, /proc of the new PID
 * namespace; then pivot_root into it.
 */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *guest_dirs[] = {"etc", "root", "home", "var", "tmp", "run"};

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

/*
 * A guest's root is a copy-on-write overlay: lower layer the golden image, upper layer only what the
 * guest changed. The overlay holder (`--overlays`, overlays.c) makes one per guest as a detached mount,
 * which belongs to no mount table: a sandbox's new mount namespace does not copy thousands of them,
 * and every command of a guest gets a clone of the same mount, so concurrent sessions of one guest
 * share one overlay (one cache, one work directory) and see each other's changes at once. A detached
 * mount can only be cloned from the namespace that made it, so the clones are taken before unshare.
 */
#define NGUEST_DIRS (sizeof guest_dirs / sizeof guest_dirs[0])
static int guest_tree[NGUEST_DIRS] = {-1, -1, -1, -1, -1, -1};

void open_guest_trees(const struct opts *o) {
  char src[4096];
  for (size_t i = 0; i < NGUEST_DIRS; i++) {
    path_join(src, sizeof src, o->guest, guest_dirs[i]);
    guest_tree[i] = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  }
}

void build_root(const struct opts *o) {
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
