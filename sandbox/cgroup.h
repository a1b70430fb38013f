/* cgroup.h - a cgroup v2 leaf per sandbox, when the system offers one.
 *
 * The leaf is <cgroup2 mount>/sandbox-helper/<helper's pid>, with pids.max 1024,
 * memory.max three quarters of what all sandboxes together may use (the
 * sandbox-helper cgroup's own memory.max, which guest/init sets, else all of RAM)
 * and memory.oom.group 1 (running out of memory kills the whole sandbox, not a
 * bystander). When memory ran out, the emptied leaf is left for the helper's parent
 * to read and remove (vmd's exit says "oom"). The sandbox's init is created in it
 * (clone3 with CLONE_INTO_CGROUP: moving a process afterwards costs a grace period
 * of RCU, about 10 ms here and 20 under TCG), so the sandbox's cgroup namespace is
 * rooted at the leaf. It is best effort: without a cgroup2 mount, without the
 * right to write it (an unprivileged caller) or without the pids and memory
 * controllers, the sandbox runs without it and only the rlimits apply.
 * A leaf left behind by a helper that was SIGKILLed is removed by the next helper.
 */
#ifndef SANDBOX_CGROUP_H
#define SANDBOX_CGROUP_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#define CGROUP_PIDS_MAX 1024

struct cgroup {
	char leaf[PATH_MAX];	/* "" when there is none */
	int fd;			/* the leaf, for CLONE_INTO_CGROUP; -1 when none */
	unsigned long long memory_max;	/* 0 when not set */
};

/* The mount point of the first cgroup2 file system in a mountinfo text, into out. */
int cgroup_find_mount(FILE *mountinfo, char *out, size_t size);
/* memory.max for one sandbox when all of them together may use budget bytes. */
unsigned long long cgroup_memory_max(unsigned long long budget);

void cgroup_create(struct cgroup *cg);
/* After the sandbox has ended (or could not start in the leaf): say so if memory
 * ran out, then remove the leaf. */
void cgroup_finish(struct cgroup *cg);

#endif
