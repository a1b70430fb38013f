/* signals.c - see signals.h. */
#include "signals.h"

#include <errno.h>
#include <string.h>

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
#define NFORWARDED (sizeof forwarded / sizeof forwarded[0])

static pid_t forward_target;
static bool forward_outside_only;

static void forwarded_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(set, forwarded[i]);
}

/* A signal from an ancestor pid namespace (or the kernel) arrives with si_pid 0. */
static void forward(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;

	(void)ctx;
	if (!forward_outside_only || si->si_pid == 0)
		kill(forward_target, sig);
	errno = saved;
}

int signals_block(struct msg *m)
{
	sigset_t set;

	forwarded_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return fail_errno(m, "cannot block signals");
	return 0;
}

int signals_forward(pid_t target, bool outside_only, struct msg *m)
{
	struct sigaction sa;
	sigset_t set;

	forward_target = target;
	forward_outside_only = outside_only;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = forward;
	/* Waits are restarted: the waiting code does not see the forwarding. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < NFORWARDED; i++) {
		if (sigaction(forwarded[i], &sa, NULL) < 0)
			return fail_errno(m, "cannot forward signal %d", forwarded[i]);
	}
	forwarded_set(&set);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		return fail_errno(m, "cannot unblock signals");
	return 0;
}

int signals_reset(struct msg *m)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	/* Ignored signals survive execve: a SIGPIPE ignored by whoever started the
	 * helper would otherwise be ignored by the command too. */
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc reserves a few real-time signals for itself and refuses them. */
		if (sigaction(sig, &sa, NULL) < 0 && errno != EINVAL)
			return fail_errno(m, "cannot reset signal %d", sig);
	}
	sigemptyset(&set);
	if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
		return fail_errno(m, "cannot unblock signals");
	return 0;
}
