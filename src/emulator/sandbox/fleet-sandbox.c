/*
 * fleet-sandbox: runs one emulated guest's command in a private sandbox, and the long-lived
 * processes the emulator keeps beside it. One binary, four roles, chosen here:
 *
 *   fleet-sandbox [options] -- CMD...   the launcher: one command in a new sandbox (launcher.c, with
 *                                       root.c, confine.c, signals.c and pty.c)
 *   fleet-sandbox --spawner             forks launchers for the emulator (spawner.c, netns.c)
 *   fleet-sandbox --overlays            makes and holds each guest's root overlay (overlays.c)
 *   fleet-guestctl ACTION SERVICE       (argv[0] basename) the client half of the guest's service
 *                                       manager shims (guestctl.c)
 *
 * sandbox.h declares what one file uses of another; io.c holds what every role uses.
 */
#include "sandbox.h"
#include <libgen.h>
#include <string.h>

int main(int argc, char **argv) {
  if (strcmp(basename(argv[0]), "fleet-guestctl") == 0) return guestctl_main(argc, argv);
  if (argc == 2 && strcmp(argv[1], "--spawner") == 0) return spawner_main();
  if (argc == 2 && strcmp(argv[1], "--overlays") == 0) return overlays_main();
  return sandbox_main(argc, argv);
}
