/* template.h - booted templates that sandboxes start from.
 *
 * A template is a guest booted once, up to the point where vmd waits for its identity,
 * and saved: its RAM is a file QEMU wrote through (memory-backend-file, share=on) and
 * its devices a migration stream without the RAM (x-ignore-shared). A clone maps the
 * RAM file copy-on-write (share=off), so the file never changes, and loads the stream;
 * its own QEMU command line gives it its own identity (launch.h). Its home disk is a
 * copy of the template's, an overlay on the empty base that the template's guest has
 * mounted, so the guest's memory and the disk agree. Templates live in
 * $XDG_CACHE_HOME/vmctl/templates (~/.cache/vmctl/templates), one folder per key: the
 * hash of everything a clone must have in common with its template (the guest's files,
 * QEMU, the launcher, machine, memory, CPUs and devices).
 */
#ifndef VMCTL_TEMPLATE_H
#define VMCTL_TEMPLATE_H

#include <limits.h>
#include <stdbool.h>

#include "util.h"

#define TEMPLATE_DESC_MAX 16384
#define TEMPLATE_KEY_HEX 16

struct vmctl_args;
struct vm_state;

struct template {
	char key[TEMPLATE_KEY_HEX + 1];
	char dir[PATH_MAX];		/* CACHE/KEY */
	char ram[PATH_MAX + 8];		/* dir/ram */
	char state[PATH_MAX + 8];	/* dir/state: the device state */
	char disk[PATH_MAX + 8];	/* dir/disk: the home disk, each clone's is a copy */
	char desc[TEMPLATE_DESC_MAX];	/* what the key is the hash of */
};

/* The templates' folder, made 0700 when missing; refuses one not ours alone. */
int template_cache(char *buf, size_t size, struct msg *m);
/* The cache's folder sub (templates, disks), the same way. */
int cache_folder(const char *sub, char *buf, size_t size, struct msg *m);
/* Describe the template a sandbox s of a (with the launcher, kernel command line, the
 * base of its home disk and that disk's size) starts from, and where it lives under
 * cache. */
int template_for(const char *cache, const struct vmctl_args *a, const struct vm_state *s,
		 const char *launcher, const char *cmdline, const char *disk_base,
		 unsigned long long disk_size, struct template *t, struct msg *m);
/* Whether t's folder holds a whole template made for t->desc and untouched since:
 * the description, the RAM file's size, inode and change time, the device state's
 * size and SHA-256, all as recorded when it was made. */
bool template_valid(const struct template *t, unsigned memory_mib);
/* An exclusive lock on t's key (an flock on CACHE/KEY.lock), waited for: whoever
 * holds it makes the template; the fd, or -1 with m. */
int template_lock(const char *cache, const struct template *t, struct msg *m);
/* After a template was saved in the folder tmp (ram and state in it): record what
 * template_valid checks and put tmp in t's place; the folder it replaces, if any, is
 * removed (clones of it keep their mappings). */
int template_commit(const struct template *t, const char *tmp, struct msg *m);
/* Remove the folder dir (a damaged template, one half made), or, with dir NULL,
 * every template in cache. */
int template_remove(const char *cache, const char *dir, struct msg *m);

/* Over QMP (fd): save the running guest's devices into state_fd (the template's RAM
 * is already in its file), waiting for the migration to end. A clone loads them as
 * its QEMU starts (launch_mode.state). */
int template_save(int qmp, int state_fd, int timeout_ms, struct msg *m);

#endif
