/* init.c - see init.h. */
#include "init.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "command.h"
#include "fatal.h"
#include "mounts.h"
#include "net.h"
#include "signals.h"
#include "userns.h"

/* Die with the helper. Set again after every change of ids, which clears it. */
static void die_with_parent(int status_w)
{
	struct pollfd p = { .fd = status_w, .events = POLLOUT };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L) < 0)
		fatal_errno("cannot set the parent-death signal");
	/* The helper cannot be named from this pid namespace; if it died before the
	 * signal was set, its end of the status pipe has closed. */
	if (poll(&p, 1, 0) < 0 || (p.revents & (POLLERR | POLLHUP)))
		_exit(EXIT_HELPER);
}

static void setup(const struct cli *c, int status_w)
{
	struct msg m;

	if (userns_become(c->uid, c->gid, &m) < 0)
		fatal("%s", m.text);
	die_with_parent(status_w);
	if (sethostname(c->hostname, strlen(c->hostname)) < 0)
		fatal_errno("cannot set the host name");
	if (!c->network && net_loopback_up(&m) < 0)
		fatal("%s", m.text);
	if (mounts_build_root(c, &m) < 0)
		fatal("%s", m.text);
	if (caps_drop_all(&m) < 0)
		fatal("%s", m.text);
	/* Nothing in the sandbox may read this process's memory or open its /proc files. */
	if (prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L) < 0)
		fatal_errno("cannot make the sandbox's init undumpable");
}

/* Reap until the command ends; orphans that end meanwhile are reaped too. */
static int wait_command(pid_t cmd)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid == cmd)
			return status;
		if (pid < 0 && errno != EINTR)
			fatal_errno("cannot wait for the command");
	}
}

void sandbox_init(const struct cli *c, const struct init_args *a)
{
	struct msg m;
	char go;
	pid_t cmd;
	int status;

	close(a->go_w);
	close(a->status_r);
	close(a->filter_w);
	die_with_parent(a->status_w);
	/* End of file: the helper failed (and said why) or died before the maps. */
	if (read(a->go_r, &go, 1) != 1)
		_exit(EXIT_HELPER);
	close(a->go_r);
	setup(c, a->status_w);
	/* The init leads a group of its own, so that a signal to the helper's group does
	 * not reach it twice; it needs SIGTTOU ignored to hand the terminal over from
	 * there (the command restores the default). */
	setpgid(0, 0);
	signal(SIGTTOU, SIG_IGN);
	cmd = fork();
	if (cmd < 0)
		fatal_errno("cannot start the command");
	if (cmd == 0) {
		close(a->status_w);
		command_run(c, a->take_tty, a->filter_r);
	}
	close(a->filter_r);
	setpgid(cmd, cmd);
	if (signals_forward(-cmd, true, &m) < 0) {
		kill(cmd, SIGKILL);
		fatal("%s", m.text);
	}
	status = wait_command(cmd);
	if (write(a->status_w, &status, sizeof status) != (ssize_t)sizeof status)
		fatal_errno("cannot report the command's status");
	_exit(0);
}
