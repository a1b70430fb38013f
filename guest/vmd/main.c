/* main.c - vmd: the guest's WebSocket daemon that runs commands for vmctl.
 *
 * docs/PROTOCOL.md is what it speaks. It never dies on a client: bad input is
 * answered with an error and the connection stays open.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "setup.h"
#include "version.h"
#include "vmd.h"

/* Descriptors vmd may hold: each process takes up to three. lws sizes its tables
 * by this, so it is bounded rather than whatever the hard limit allows. */
#define MAX_FDS 16384u

/* A closed 0, 1 or 2 would be handed out by pipe2() and confuse the child's dup2. */
static void keep_std_fds_open(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			die_errno("cannot open /dev/null");
}

static unsigned raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return 1024;
	if (r.rlim_cur < MAX_FDS) {
		r.rlim_cur = r.rlim_max < MAX_FDS ? r.rlim_max : MAX_FDS;
		setrlimit(RLIMIT_NOFILE, &r);
		getrlimit(RLIMIT_NOFILE, &r);
	}
	return r.rlim_cur < MAX_FDS ? (unsigned)r.rlim_cur : MAX_FDS;
}

/* After SIGKILL every abandoned process dies promptly; wait a little for them so
 * vmd leaves no zombie behind for init. */
static void reap_remaining(void)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 200 && process_live_count(); i++) {
		process_reap();
		if (process_live_count())
			nanosleep(&tick, NULL);
	}
}

int main(int argc, char **argv)
{
	struct vmd_options o;
	struct msg m;
	unsigned max_fds;
	int sigfd;

	prog_name = "vmd";
	/* Each data message takes a few buffers of about 1.4 MiB (the frame, cJSON's
	 * copy of the base64, the bytes). From the heap and kept there, rather than
	 * mapped and unmapped per message: a fresh mapping costs a page fault and a
	 * cleared page per 4 KiB, a fifth of vmd's time in an upload. At most 8 MiB of
	 * freed heap is kept. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	if (vmd_cli_parse(argc, argv, &o, &m) < 0) {
		warn("%s", m.text);
		vmd_cli_hint(stderr);
		return 2;
	}
	if (o.help || o.version) {
		if (o.help)
			vmd_cli_usage(stdout);
		else
			print_version(stdout, prog_name);
		if (fflush(stdout) == EOF || ferror(stdout))
			die_errno("cannot write to standard output");
		return 0;
	}
	vmd.identity = o.identity;
	vmd.sandbox = o.sandbox;
	vmd.home_root = o.home_root;
	vmd.bin_dir = o.bin_dir;
	vmd.share_root = o.share_root;
	vmd.own_uids = o.own_uids;
	keep_std_fds_open();
	/* a client gone mid-write is an error return, not a death */
	signal(SIGPIPE, SIG_IGN);
	max_fds = raise_fd_limit();
	sigfd = process_signals_init();
	if (sigfd < 0)
		die_errno("cannot set up the signal descriptor");
	lws_set_log_level(LLL_ERR, NULL);
	if (server_start(&o, sigfd, max_fds) < 0)
		die("cannot listen on %s port %d; is the port in use?", o.bind, o.port);
	if (o.identity) {
		struct identity id;

		/* A template is saved while vmd waits here, and what vmd did before
		 * is the template's, in every clone: its descriptors and its listening
		 * socket (clients wait in its backlog, unanswered until vmd has
		 * its secret), none of them secret or this VM's own. What makes a VM
		 * itself (entropy, clock, name, disks, shares, secret) comes after. Done
		 * first, the socket would cost each clone 0.2 s under TCG. */
		if (setup_wait_identity(o.identity, o.home_root, users_init, &id, &m) < 0 ||
		    setup_apply_identity(&id, &o, vmd.secret, &m) < 0) {
			explicit_bzero(&id, sizeof id);
			die("%s", m.text);
		}
		explicit_bzero(&id, sizeof id);
	} else if (vmd_secret_load(o.secret_file, vmd.secret, &m) < 0) {
		die("%s", m.text);
	}
	if (!setup_home_mounted())
		users_init();	/* the sandbox user's home, on the home disk once it is mounted */
	fprintf(stderr, "vmd: listening on %s port %d%s.\n", o.bind, o.port,
		o.sandbox ? "" : ", running commands without a sandbox");
	/* On the console (init's standard output): whoever reads it knows that the port
	 * answers from now on. */
	fputs("vmd ready\n", stdout);
	fflush(stdout);
	while (!vmd.stop)
		if (lws_service(vmd.ctx, 0) < 0)
			break;
	server_stop();
	reap_remaining();
	explicit_bzero(vmd.secret, sizeof vmd.secret);
	return 0;
}
