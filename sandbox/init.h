/* init.h - the sandbox's pid 1.
 *
 * Started by clone3(2) in the new namespaces, it waits until the helper has written
 * its id maps, sets the sandbox up (ids, host name, loopback, root file system),
 * drops every capability, then forks the command. As pid 1 it
 * reaps every orphan, forwards signals from outside to the command's process group,
 * and when the command ends reports its wait status to the helper through a pipe
 * and exits, which takes every other process of the namespace with it.
 *
 * The clone was made without glibc's knowledge (like fork, but with flags), so this
 * process never calls raise() or pthread functions, which would use the parent's
 * thread id that glibc has cached; its own children come from fork() as usual.
 */
#ifndef SANDBOX_INIT_H
#define SANDBOX_INIT_H

#include <stdbool.h>

#include "cli.h"

struct init_args {
	int go_r, go_w;		/* one byte on go_r when the maps are written */
	int status_r, status_w;	/* the command's wait status, an int, on status_w */
	int filter_r, filter_w;	/* the seccomp program, from the helper to the command */
	bool take_tty;		/* stdin is the caller's terminal and it is in front */
};

_Noreturn void sandbox_init(const struct cli *c, const struct init_args *a);

#endif
