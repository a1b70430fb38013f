/* pause.h - vmctl pause, resume and fork: a sandbox's memory, devices and home disk
 * saved whole, and QEMUs started from what was saved.
 *
 * A paused sandbox is a folder of its own, PAUSED/PORT, in the persistent folder
 * $XDG_STATE_HOME/vmctl (~/.local/state/vmctl), so that it outlives a reboot of the
 * host: "meta.json" (what the state file held, and how the sandbox was started),
 * "stream" (QEMU's migration stream: the RAM and the devices) and, when the sandbox
 * has one, "disk" (its qcow2 home disk). It is made under a temporary name and
 * renamed into place once whole; a resume removes it only once the sandbox runs.
 *
 * Pausing, resuming, forking and stopping a paused PORT take an flock on
 * PAUSED/PORT.lock without waiting: of two at once, one is refused with a sentence.
 */
#ifndef VMCTL_PAUSE_H
#define VMCTL_PAUSE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct vmctl_args;
struct vm_state;

#define FORK_MAX 64	/* vmctl fork -n N: 1 to FORK_MAX */

int cmd_pause(const struct vmctl_args *a, struct msg *m);
int cmd_resume(const struct vmctl_args *a, struct msg *m);
int cmd_fork(const struct vmctl_args *a, struct msg *m);

/* The paused sandboxes' folder, made 0700 when missing (its parents too); refuses one
 * that is not ours alone. */
int paused_dir(char *buf, size_t size, struct msg *m);

/* A hook of start: record in the state folder (dir/PORT.start) what a resume or a
 * fork needs to start a QEMU with the same devices: the shares, the network's way
 * out, whether the kernel is the user's, and whether the sandbox booted cold. */
int pause_record_start(const char *dir, const struct vmctl_args *a, const struct vm_state *s,
		       bool cold, struct msg *m);

/* A hook of stop: when PORT is paused, remove its folder: 1 when done, 0 when PORT
 * is not paused, -1 with m. */
int paused_stop(unsigned port, struct msg *m);

/* A hook of list: a row for each paused sandbox, the header first unless the running
 * ones printed it. */
void paused_list(bool header_printed);

#endif
