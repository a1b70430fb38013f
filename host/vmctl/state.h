/* state.h - what vmctl remembers about each sandbox, in one 0600 file per VM.
 *
 * The folder is $XDG_RUNTIME_DIR/vmctl or /tmp/vmctl-UID, 0700 and ours: anything else
 * is refused, since the files hold the secrets that open the VMs. A VM is known by its
 * port; its QEMU by pid AND the pid's start time, so a reused pid is never taken for
 * it (and nothing is ever matched against the process list by name).
 */
#ifndef VMCTL_STATE_H
#define VMCTL_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define SECRET_HEX 64

struct vm_state {
	unsigned port;
	pid_t pid;
	unsigned long long pid_start;	/* field 22 of /proc/PID/stat: clock ticks after boot */
	char secret[SECRET_HEX + 1];
	char kernel[4096], initrd[4096];
	unsigned memory_mib, cpus;
	long long started;		/* seconds since 1970 */
};

/* The folder path, created 0700 when missing; one that is not ours alone (what names
 * it in the sentence: "the state folder") is refused. */
int private_dir(const char *path, const char *what, struct msg *m);
/* $ENV when it is absolute, else HOME/REL (REL as the XDG layout has it: ".cache",
 * ".local/state"), made 0700 with the folders between when missing. */
int xdg_folder(const char *env, const char *rel, char *buf, size_t size, struct msg *m);
/* The state folder, created 0700 when missing; refuses one that is not ours alone. */
int state_dir(char *buf, size_t size, struct msg *m);
/* dir/PORT.EXT */
void state_path(char *buf, size_t size, const char *dir, unsigned port, const char *ext);

/* Create the state file of s->port, failing if one exists (another VM has the port). */
int state_create(const char *dir, const struct vm_state *s, struct msg *m);
/* Replace it whole (temporary file and rename). */
int state_save(const char *dir, const struct vm_state *s, struct msg *m);
/* Read the state of port; a missing file says "no sandbox on port N". */
int state_load(const char *dir, unsigned port, struct vm_state *s, struct msg *m);
/* Remove every file of port (state, QMP socket, logs, identity, home disk). */
void state_remove(const char *dir, unsigned port);

/* The start time of pid, or 0 when it is gone. */
unsigned long long pid_start_time(pid_t pid);
/* Is s->pid still the QEMU that was recorded? */
bool state_alive(const struct vm_state *s);

#endif
