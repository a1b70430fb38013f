/* command.c - see command.h. */
#include "command.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "env.h"
#include "fatal.h"
#include "filter.h"
#include "rlimits.h"
#include "signals.h"

extern char **environ;

void command_run(const struct cli *c, bool take_tty, int filter_fd)
{
	const char *cwd = c->cwd ? c->cwd : "/";
	const char **env;
	struct msg m;
	int err;

	/* Also done by the parent: whichever runs first, the group exists before
	 * either relies on it. */
	setpgid(0, 0);
	/* Leaves this group in the background; SIGTTOU is ignored until the reset. */
	if (take_tty && tcsetpgrp(STDIN_FILENO, getpid()) < 0)
		fatal_errno("cannot give the terminal to the command");
	if (rlimits_apply(&m) < 0)
		fatal("%s", m.text);
	if (chdir(cwd) < 0)
		fatal_errno("cannot change directory to %s", cwd);
	env = env_build(c, environ);
	if (!env)
		fatal("cannot build the command's environment: out of memory.");
	environ = (char **)env;
	if (signals_reset(&m) < 0)
		fatal("%s", m.text);
	/* fork does not pass it on: the command, too, dies with its init. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L) < 0)
		fatal_errno("cannot set the parent-death signal");
	if (filter_load_from(filter_fd, &m) < 0)
		fatal("%s", m.text);
	/* execvp searches the PATH of environ, which is the command's now. */
	execvp(c->cmd[0], c->cmd);
	err = errno;
	if (err == ENOENT)
		fatal_status(EXIT_NOTFOUND, "cannot run %s: %s", c->cmd[0], strerror(err));
	fatal_status(EXIT_NOEXEC, "cannot run %s: %s", c->cmd[0], strerror(err));
}
