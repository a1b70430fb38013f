/* signals.h - passing signals down the chain: helper -> sandbox init -> command.
 *
 * The forwarded signals are SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and
 * SIGWINCH; SIGKILL cannot be caught, and needs no forwarding: the helper's death
 * kills the sandbox's init (PR_SET_PDEATHSIG), and with it the pid namespace.
 */
#ifndef SANDBOX_SIGNALS_H
#define SANDBOX_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util.h"

/* Block the forwarded signals until a target exists; they stay pending meanwhile. */
int signals_block(struct msg *m);

/*
 * Forward each of them to target (a pid, or -pgid for a process group), then
 * unblock them. With outside_only, signals sent from inside the current pid
 * namespace are dropped: the sandbox's init ignores the command signalling it,
 * as any init does.
 */
int signals_forward(pid_t target, bool outside_only, struct msg *m);

/* Every signal back to its default action and an empty mask, for the command. */
int signals_reset(struct msg *m);

#endif
