/* sandbox-helper - run a command in namespaces, without capabilities, under seccomp.
 *
 * Three processes: this helper, outside the sandbox; the sandbox's init (pid 1 of
 * the new pid namespace, init.c); the command (command.c). The helper creates init
 * with clone3(2), every namespace at once and inside its cgroup leaf, then writes
 * init's id maps from the parent user namespace (only a process there may map ids
 * other than its own) and lets it go. While init sets the sandbox up, the helper
 * generates the seccomp program and sends it down a pipe to the command. It
 * forwards signals to init, and in the end conveys the command's fate as its own:
 * the same exit status, or death by the same signal, re-raised on itself (vmd then
 * reports code 128+N, signal N).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>

#include "cgroup.h"
#include "cli.h"
#include "fatal.h"
#include "filter.h"
#include "init.h"
#include "signals.h"
#include "userns.h"
#include "version.h"

/* Descriptors 0-2 must exist: the ones opened later must not be taken for stdio. */
static void ensure_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", O_RDWR) != fd)
			fatal_errno("cannot open /dev/null for descriptor %d", fd);
	}
}


/* Die as the command died, so that whoever waits for the helper sees the same. */
static _Noreturn void convey(int status)
{
	const struct rlimit none = { 0, 0 };
	sigset_t set;
	int sig;

	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	/* The command dumped its core already (or was not allowed to): the helper
	 * must not leave one of its own. */
	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), sig);
	/* A signal whose default is to be ignored cannot kill; say it in the code. */
	exit(128 + sig);
}

/*
 * Like fork, with namespaces, and into the cgroup leaf when there is one. Raw
 * clone3: the child returns here on a copy of this stack, as with fork.
 */
static pid_t clone_sandbox(uint64_t flags, int cgroup_fd)
{
	struct clone_args args = { .flags = flags, .exit_signal = SIGCHLD };

	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

/* The command's wait status from init; -1 if init ended without sending one. */
static int read_status(int fd, int *status)
{
	char *p = (char *)status;
	size_t got = 0;

	while (got < sizeof *status) {
		ssize_t n = read(fd, p + got, sizeof *status - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* After init has started: stop it and fail. */
static _Noreturn void abandon(pid_t init, struct cgroup *cg, const char *text)
{
	kill(init, SIGKILL);
	waitpid(init, NULL, 0);
	cgroup_finish(cg);
	fatal("%s", text);
}

static _Noreturn void supervise(const struct cli *c)
{
	uint64_t flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
			 CLONE_NEWUTS | CLONE_NEWCGROUP;
	bool root = geteuid() == 0;
	struct init_args a = { .take_tty = false };
	struct cgroup cg;
	struct msg m;
	int go[2], st[2], fl[2], status, init_status;
	pid_t init;

	if (!c->network)
		flags |= CLONE_NEWNET;
	/* A pipe whose reader is gone is an error to handle, not a death (the command
	 * gets its default SIGPIPE back). */
	signal(SIGPIPE, SIG_IGN);
	/* Root's supplementary groups would follow the command into the sandbox. */
	if (root && setgroups(0, NULL) < 0)
		fatal_errno("cannot drop the supplementary groups");
	a.take_tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0 || pipe2(fl, O_CLOEXEC) < 0)
		fatal_errno("cannot create a pipe");
	a.go_r = go[0], a.go_w = go[1], a.status_r = st[0], a.status_w = st[1];
	a.filter_r = fl[0], a.filter_w = fl[1];
	cgroup_create(&cg);
	if (signals_block(&m) < 0)
		fatal("%s", m.text);
	init = clone_sandbox(flags, cg.fd);
	if (init < 0 && cg.fd >= 0) {
		/* The cgroup is a bonus, not a condition. */
		cgroup_finish(&cg);
		init = clone_sandbox(flags, -1);
	}
	if (init < 0)
		fatal("cannot create the sandbox's namespaces: %s (are user namespaces allowed? "
		      "See /proc/sys/user/max_user_namespaces.)", strerror(errno));
	if (init == 0)
		sandbox_init(c, &a);
	close(go[0]);
	close(st[1]);
	close(fl[0]);
	if (userns_write_maps(init, c->uid, c->gid, root ? c->uid : geteuid(),
			      root ? c->gid : getegid(), &m) < 0)
		abandon(init, &cg, m.text);
	if (write(go[1], "g", 1) != 1)
		abandon(init, &cg, "cannot start the sandbox: its init has gone.");
	close(go[1]);
	/* The program fits in the pipe; if it did not, the command reads as it comes.
	 * EPIPE: the sandbox failed before its command read it, and has said why. */
	if (write_all(fl[1], filter_bpf, filter_bpf_size) < 0 && errno != EPIPE)
		abandon(init, &cg, "cannot send the seccomp filter to the sandbox.");
	close(fl[1]);
	if (signals_forward(init, false, &m) < 0)
		abandon(init, &cg, m.text);
	if (read_status(st[0], &status) < 0)
		status = -1;
	while (waitpid(init, &init_status, 0) < 0) {
		if (errno != EINTR)
			fatal_errno("cannot wait for the sandbox");
	}
	/* Take the terminal back from the command's group, for whoever called us. */
	if (a.take_tty) {
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(STDIN_FILENO, getpgrp());
	}
	cgroup_finish(&cg);
	convey(status == -1 ? init_status : status);
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct msg m;

	prog_name = CLI_PROG;
	if (cli_parse(argc, argv, &cli, &m) < 0) {
		warn("%s", m.text);
		cli_hint(stderr);
		return EXIT_HELPER;
	}
	if (cli.help || cli.version) {
		if (cli.help)
			cli_usage(stdout);
		else
			print_version(stdout, prog_name);
		return fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_HELPER;
	}
	ensure_stdio();
	/* Whatever the caller left open (vmd's sockets, other sandboxes' pipes) stays out. */
	if (close_range(3, ~0U, 0) < 0)
		fatal_errno("cannot close inherited descriptors");
	supervise(&cli);
}
