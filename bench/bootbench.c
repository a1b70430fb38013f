/* bootbench.c - our boot program beside the reference design: latency, idle CPU, size.
 *
 * Each image is booted under QEMU TCG through the project's launcher (host/qemu-boot,
 * or $QEMU_BOOT), with COM1 on a Unix socket and QMP on another, one image at a time.
 * On COM1 it waits for the banner, then times "hello" CR round trips and 200-byte
 * lines; it then leaves the guest idle and reads the QEMU process's CPU time from
 * /proc; finally it presses the ACPI power button over QMP and times QEMU's exit.
 * Every reply is checked byte for byte: a wrong or late reply is reported as such,
 * never timed as a success. Every wait has a deadline and QEMU is killed on every way
 * out (errors, SIGINT, SIGTERM; PR_SET_PDEATHSIG if this process is killed).
 *
 * Exit status: 0 when every figure of both images was measured (goals met or not),
 * 1 when any figure could not be (timeout, wrong reply, QEMU failure), 2 for usage.
 */
#include "text.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BANNER     "ClientAPI\r\n$ "
#define HELLO      "hello\r"
#define HELLO_REPLY "hello\r\nolleh\r\n$ "
#define LINE_STORED 80          /* the REPL reverses the first 80 bytes of a line */
#define LONG_LINE  200          /* bytes in the long-line figure */
#define BUDGET     256          /* bytes in a boot program */

/* Deadlines in ms, far beyond the slowest expected figure (the reference's long line
 * takes about 5.5 s) so that only a hung or broken guest reaches them. */
#define CONNECT_MS  10000       /* launcher start -> serial socket accepts */
#define BANNER_MS   30000       /* serial connected -> banner (SeaBIOS under TCG) */
#define HELLO_MS    3000
#define LINE_MS     30000
#define QMP_MS      5000
#define POWEROFF_MS 10000       /* system_powerdown -> QEMU gone, else "did not power off" */
#define SETTLE_MS   1000        /* after the REPL work, before the idle window */
#define QUIET_MS    300         /* resynchronising: silence that means the guest is done */
#define RESYNC_MS   10000
#define MAX_POWER_RUNS 50

struct opts {
	const char *machine;
	const char *helper;
	int runs;               /* hello round trips */
	int line_runs;          /* 200-byte lines */
	int power_runs;         /* boots timed from the power button to QEMU's exit */
	double idle_s;
	long size[2];           /* bytes used, -1 when not given */
	const char *image[2];   /* ours, reference */
};

enum fig_id { FIG_HELLO, FIG_LINE, FIG_IDLE, FIG_POWER, FIG_BYTES, FIG_COUNT };

struct figure {
	int ok;                 /* measured: value is meaningful */
	double value, min, max; /* median (or the one value), min and max */
	int runs;               /* runs that succeeded */
	double step;            /* resolution of value (0: finer than shown) */
	char why[48];           /* when not ok: what happened instead */
};

struct result {
	struct figure fig[FIG_COUNT];
	double boot_ms;         /* serial connected -> banner, -1 if never */
	struct figure quit;     /* QMP quit -> exit with no guest involved: QEMU's own floor */
	double idle_cpu_s, idle_wall_s;
	char exit_text[80];     /* how QEMU ended */
};

struct vm {
	pid_t pid;
	int serial;             /* COM1 socket, -1 when closed */
	int reaped;             /* waitpid done: status is valid */
	int status;
};

/* What the cleanup paths need, set before QEMU starts. */
static char run_dir[96];
static char serial_path[128];
static char qmp_path[128];
static char log_path[128];
static char copy_path[2][128];  /* the private copies QEMU boots */
static volatile pid_t live_pid;

static void remove_run_files(void)
{
	if (!run_dir[0])
		return;
	unlink(serial_path);
	unlink(qmp_path);
	unlink(log_path);
	unlink(copy_path[0]);
	unlink(copy_path[1]);
	rmdir(run_dir);
}

static void cleanup_at_exit(void)
{
	pid_t pid = live_pid;

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		live_pid = 0;
	}
	remove_run_files();
}

/* SIGINT/SIGTERM: only async-signal-safe calls, then die of the same signal. */
static void on_signal(int sig)
{
	pid_t pid = live_pid;

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	remove_run_files();
	signal(sig, SIG_DFL);
	raise(sig);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Fractions of a millisecond too (common/util's sleep_ms takes whole ones). */
static void sleep_fine_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1e3);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1e3) * 1e6);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Milliseconds left until deadline, rounded up, for poll(). */
static int ms_left(double deadline)
{
	double left = deadline - now_ms();

	return left <= 0 ? 0 : (int)(left + 0.999);
}

static void set_why(struct figure *f, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void set_why(struct figure *f, const char *fmt, ...)
{
	va_list ap;

	f->ok = 0;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof f->why, fmt, ap);
	va_end(ap);
}

/* --- QEMU ------------------------------------------------------------------------ */

/* QEMU boots a private copy: it takes a write lock on its disk, which would clash with
 * anything else booting the build's image at the same time (make test, make run). */
static void copy_image(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (in == -1)
		die_errno("cannot read the image %s", from);
	if (out == -1)
		die_errno("cannot create %s", to);
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			die_errno("cannot write %s", to);
	if (n == -1)
		die_errno("cannot read the image %s", from);
	if (close(out) == -1)
		die_errno("cannot write %s", to);
	close(in);
}

static void vm_start(struct vm *vm, const struct opts *o, int which)
{
	const char *image = copy_path[which];
	char serial_arg[sizeof serial_path + 8];
	pid_t parent = getpid();
	pid_t pid;

	unlink(serial_path);
	unlink(qmp_path);
	snprintf(serial_arg, sizeof serial_arg, "unix:%s", serial_path);
	vm->serial = -1;
	vm->reaped = 0;
	vm->status = 0;

	pid = fork();
	if (pid == -1)
		die_errno("cannot fork to start QEMU");
	if (pid == 0) {
		const char *argv[] = {
			o->helper, "--machine", o->machine, "--accel", "tcg",
			"--serial", serial_arg, "--qmp", qmp_path, image, NULL
		};
		int null = open("/dev/null", O_RDWR);
		int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		/* QEMU goes when we go, however we go. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
			_exit(127);
		if (null == -1 || log == -1 || dup2(null, 0) == -1 || dup2(null, 1) == -1 ||
		    dup2(log, 2) == -1)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);       /* an ignored signal stays ignored over exec */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "%s: cannot run %s: %s\n", prog_name, argv[0], strerror(errno));
		_exit(127);
	}
	vm->pid = pid;
	live_pid = pid;
}

/* Reap QEMU if it has exited; 1 if it has. */
static int vm_exited(struct vm *vm)
{
	if (!vm->reaped && waitpid(vm->pid, &vm->status, WNOHANG) == vm->pid) {
		vm->reaped = 1;
		live_pid = 0;
	}
	return vm->reaped;
}

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, size, "wait status %#x", (unsigned)status);
}

/* QEMU's stderr, for a failure's diagnosis, without its "waiting for connection" note. */
static void show_qemu_log(const char *image)
{
	char line[512];
	FILE *f = fopen(log_path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (!strstr(line, "waiting for connection"))
			fprintf(stderr, "%s: QEMU (%s) said: %s", prog_name, image, line);
	fclose(f);
}

static void vm_stop(struct vm *vm)
{
	if (vm->serial != -1) {
		close(vm->serial);
		vm->serial = -1;
	}
	if (!vm->reaped) {
		kill(vm->pid, SIGKILL);
		if (waitpid(vm->pid, &vm->status, 0) == vm->pid)
			vm->reaped = 1;
	}
	live_pid = 0;
	unlink(serial_path);
	unlink(qmp_path);
}

/* Connect to a socket QEMU listens on, retrying until it exists. -1 with why set. */
static int connect_unix(const char *path, struct vm *vm, double deadline, struct figure *why)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd == -1)
			die_errno("cannot create a Unix socket");
		if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
			return fd;
		close(fd);
		if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) {
			set_why(why, "no COM1");
			warn("cannot connect to %s: %s.", path, strerror(errno));
			return -1;
		}
		if (vm_exited(vm)) {
			set_why(why, "QEMU exited");
			return -1;
		}
		if (now_ms() > deadline) {
			set_why(why, "no COM1");
			return -1;
		}
		sleep_fine_ms(5);
	}
}

/* --- COM1 -------------------------------------------------------------------------- */

enum io { IO_OK, IO_TIMEOUT, IO_WRONG, IO_EOF };

static const char *io_text(enum io r)
{
	switch (r) {
	case IO_OK:      return "ok";
	case IO_TIMEOUT: return "timeout";
	case IO_WRONG:   return "wrong reply";
	case IO_EOF:     return "QEMU exited";
	}
	return "?";
}

static int send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The len bytes at s, C-escaped, into out (cut short to fit). */
static void escape(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			o += (size_t)snprintf(out + o, size - o, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7F)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static void report_wrong(const char *what, const char *image, const char *want, size_t wlen,
			 const char *got, size_t glen, size_t at)
{
	size_t from = at > 12 ? at - 12 : 0;
	char w[200], g[200];

	escape(want + from, wlen - from < 48 ? wlen - from : 48, w, sizeof w);
	escape(got + from, glen - from < 48 ? glen - from : 48, g, sizeof g);
	warn("%s (%s): wrong reply at byte %zu: expected \"%s\", got \"%s\".", what, image, at,
	     w, g);
}

/*
 * Read exactly the n bytes of want from fd by the deadline, checking each as it comes.
 * *t_done is the time the last one arrived. A difference stops the read at once (with
 * a short grace for more bytes, to show what came) and is reported on stderr.
 */
static enum io expect(int fd, const char *want, size_t n, double deadline, double *t_done,
		      const char *what, const char *image)
{
	char *got = malloc(n + 64);
	size_t have = 0;
	enum io r = IO_OK;

	if (!got)
		die("out of memory");
	while (have < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ready = poll(&p, 1, ms_left(deadline));
		ssize_t got_n;

		if (ready == -1 && errno == EINTR)
			continue;
		if (ready == -1)
			die_errno("poll on COM1");
		if (ready == 0) {
			r = IO_TIMEOUT;
			break;
		}
		got_n = read(fd, got + have, n - have);
		if (got_n == -1 && errno == EINTR)
			continue;
		if (got_n <= 0) {
			r = IO_EOF;
			break;
		}
		if (memcmp(got + have, want + have, (size_t)got_n) != 0) {
			size_t at = have;
			double grace = now_ms() + 200;

			while (got[at] == want[at])
				at++;
			have += (size_t)got_n;
			/* A little more of what it said, for the message. */
			while (have < n + 64) {
				struct pollfd q = { .fd = fd, .events = POLLIN };
				ssize_t more;

				if (poll(&q, 1, ms_left(grace)) <= 0)
					break;
				more = read(fd, got + have, n + 64 - have);
				if (more <= 0)
					break;
				have += (size_t)more;
			}
			report_wrong(what, image, want, n, got, have, at);
			r = IO_WRONG;
			break;
		}
		have += (size_t)got_n;
	}
	*t_done = now_ms();
	if (r == IO_TIMEOUT && have > 0) {
		char g[200];

		size_t from = have > 48 ? have - 48 : 0;

		escape(got + from, have - from, g, sizeof g);
		warn("%s (%s): timeout after %zu of %zu bytes, the last: \"%s\".", what, image,
		     have, n, g);
	} else if (r == IO_TIMEOUT) {
		warn("%s (%s): timeout: nothing received.", what, image);
	} else if (r == IO_EOF) {
		warn("%s (%s): QEMU closed COM1 after %zu of %zu bytes.", what, image, have, n);
	}
	free(got);
	return r;
}

/* Read and drop whatever comes until QUIET_MS of silence; 0 on EOF. */
static int drain(int fd, double deadline)
{
	char buf[512];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = ms_left(deadline);
		int ready = poll(&p, 1, left < QUIET_MS ? left : QUIET_MS);

		if (ready == -1 && errno == EINTR)
			continue;
		if (ready <= 0)
			return 1;
		if (read(fd, buf, sizeof buf) <= 0)
			return 0;
	}
}

/* After a failed figure: let the guest finish, end any half line, let it answer. */
static void resync(int fd)
{
	double deadline = now_ms() + RESYNC_MS;

	if (!drain(fd, deadline))
		return;
	if (send_all(fd, "\r", 1) == 0)
		drain(fd, deadline);
}

/* --- the figures --------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void set_stats(struct figure *f, double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	f->ok = 1;
	f->runs = n;
	f->min = v[0];
	f->max = v[n - 1];
	f->value = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Send line in one write, n times; each reply must be exactly reply. */
static void time_lines(struct figure *f, int fd, const char *line, size_t len,
		       const char *reply, size_t rlen, int n, double limit_ms,
		       const char *what, const char *image)
{
	double *v = calloc((size_t)n, sizeof *v);

	if (!v)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		double t0 = now_ms(), t1;
		enum io r;

		if (send_all(fd, line, len) == -1) {
			set_why(f, "QEMU exited");
			free(v);
			return;
		}
		r = expect(fd, reply, rlen, t0 + limit_ms, &t1, what, image);
		if (r != IO_OK) {
			set_why(f, "%s", io_text(r));
			f->runs = i;
			if (r != IO_EOF)
				resync(fd);
			free(v);
			return;
		}
		v[i] = t1 - t0;
	}
	set_stats(f, v, n);
	free(v);
}

/* The 200-byte line and its answer. Printable, and no 80-byte window of it occurs twice,
 * so storing the wrong 80 bytes cannot pass for the right ones. */
static void make_long_line(char *line, char *reply, size_t *rlen)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t o = 0;

	for (int i = 0; i < LONG_LINE; i++)
		line[i] = alphabet[(i * 7 + i / 62) % (sizeof alphabet - 1)];
	line[LONG_LINE] = '\r';

	memcpy(reply, line, LONG_LINE);         /* the echo */
	o = LONG_LINE;
	reply[o++] = '\r';
	reply[o++] = '\n';
	for (int i = LINE_STORED - 1; i >= 0; i--)
		reply[o++] = line[i];
	memcpy(reply + o, "\r\n$ ", 4);
	*rlen = o + 4;
}

/* CPU time of the whole process pid (every thread, ended ones included) in
 * nanoseconds, or -1. utime+stime in /proc/PID/stat count in clock ticks (10 ms), too
 * coarse for a guest that idles at a few ms a minute; summing the threads' schedstat
 * loses the threads that QEMU's pool ends during the window. */
static long long cpu_ns(pid_t pid)
{
	clockid_t clock;
	struct timespec ts;

	if (clock_getcpuclockid(pid, &clock) || clock_gettime(clock, &ts))
		return -1;
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void measure_idle(struct figure *f, struct result *res, struct vm *vm, double idle_s)
{
	long long t0, t1;
	double w0, w1;

	sleep_fine_ms(SETTLE_MS);
	t0 = cpu_ns(vm->pid);
	w0 = now_ms();
	sleep_fine_ms(idle_s * 1e3);
	t1 = cpu_ns(vm->pid);
	w1 = now_ms();
	if (t0 < 0 || t1 < 0 || vm_exited(vm)) {
		set_why(f, "QEMU exited");
		return;
	}
	res->idle_cpu_s = (double)(t1 - t0) / 1e9;
	res->idle_wall_s = (w1 - w0) / 1e3;
	f->ok = 1;
	f->runs = 1;
	f->value = f->min = f->max = res->idle_cpu_s / res->idle_wall_s * 100;
	f->step = 0.01;         /* what two runs of the same guest differ by here */
}

/* Read QMP messages until one holds key ("QMP" greeting, "return"); 0 when found. */
static int qmp_wait_for(int fd, const char *key, double deadline)
{
	char buf[4096];
	size_t have = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *nl;

		if (poll(&p, 1, ms_left(deadline)) <= 0)
			return -1;
		n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			if (strstr(buf, key))
				return 0;
			if (strstr(buf, "\"error\""))
				return -1;
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof buf - 1)
			return -1;
	}
}

/* Wait for QEMU to exit by the deadline; 0 with *t_exit when it did. */
static int wait_exit(struct vm *vm, int pidfd, double deadline, double *t_exit)
{
	if (pidfd != -1) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int ready;

		while ((ready = poll(&p, 1, ms_left(deadline))) == -1 && errno == EINTR)
			;
		*t_exit = now_ms();
		if (ready <= 0)
			return -1;
		if (waitpid(vm->pid, &vm->status, 0) == vm->pid) {
			vm->reaped = 1;
			live_pid = 0;
		}
		return 0;
	}
	/* No pidfd (old kernel): poll waitpid every 100 us. */
	for (;;) {
		if (vm_exited(vm)) {
			*t_exit = now_ms();
			return 0;
		}
		if (now_ms() > deadline)
			return -1;
		sleep_fine_ms(0.1);
	}
}

/* Send one QMP command (system_powerdown, or quit for QEMU's own floor) and time it
 * to QEMU's exit. 0 with *ms when QEMU exited with status 0; otherwise -1, and how QEMU
 * ended (or did not) is in exit_text. */
static int power_once(struct vm *vm, const char *command, double *ms, char *exit_text,
		      size_t size)
{
	static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\r\n";
	char request[64];
	double deadline = now_ms() + QMP_MS, t0, t1;
	struct figure why = { 0 };
	int pidfd = -1, fd, rc = -1;

	snprintf(request, sizeof request, "{\"execute\":\"%s\"}\r\n", command);
	fd = connect_unix(qmp_path, vm, deadline, &why);
	if (fd == -1) {
		snprintf(exit_text, size, "%s", why.why);
		return -1;
	}
	if (qmp_wait_for(fd, "\"QMP\"", deadline) == -1 ||
	    send_all(fd, caps, sizeof caps - 1) == -1 ||
	    qmp_wait_for(fd, "\"return\"", deadline) == -1) {
		snprintf(exit_text, size, "no QMP");
		close(fd);
		return -1;
	}
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, vm->pid, 0);
#endif
	t0 = now_ms();
	if (send_all(fd, request, strlen(request)) == -1) {
		snprintf(exit_text, size, "no QMP");
	} else if (wait_exit(vm, pidfd, t0 + POWEROFF_MS, &t1) == -1) {
		snprintf(exit_text, size, "did not power off: QEMU killed after %d ms",
			 POWEROFF_MS);
	} else {
		char status[32];

		describe_status(vm->status, status, sizeof status);
		snprintf(exit_text, size, "QEMU ended with %s", status);
		*ms = t1 - t0;
		rc = WIFEXITED(vm->status) && WEXITSTATUS(vm->status) == 0 ? 0 : -1;
	}
	if (pidfd != -1)
		close(pidfd);
	close(fd);
	return rc;
}

/* Boot a fresh VM of image `which` and wait for its banner: the guest is then in its
 * main loop, ready for the button. 0, or -1 with why set. */
static int boot_to_banner(struct vm *vm, const struct opts *o, int which, struct figure *why)
{
	double t1;
	enum io r;

	vm_start(vm, o, which);
	vm->serial = connect_unix(serial_path, vm, now_ms() + CONNECT_MS, why);
	if (vm->serial == -1)
		return -1;
	r = expect(vm->serial, BANNER, sizeof BANNER - 1, now_ms() + BANNER_MS, &t1, "banner",
		   o->image[which]);
	if (r != IO_OK) {
		set_why(why, "%s", io_text(r));
		return -1;
	}
	return 0;
}

/* The rest of the power-off samples, each on a fresh boot (the first came from the VM
 * the other figures were measured on), then their median into f. */
static void more_power_runs(struct figure *f, const struct opts *o, int which,
			    const char *command, double *v, int have, char *exit_text,
			    size_t size)
{
	while (have < o->power_runs) {
		struct vm vm;
		int rc = boot_to_banner(&vm, o, which, f);

		if (rc == 0)
			rc = power_once(&vm, command, &v[have], exit_text, size);
		vm_stop(&vm);
		if (rc == -1) {
			if (f->ok || !f->why[0])
				set_why(f, "%s", strncmp(exit_text, "did not", 7) ? "QEMU failed" :
					"did not power off");
			f->ok = 0;
			return;
		}
		have++;
	}
	set_stats(f, v, have);
}

static void bench_image(const struct opts *o, int which, struct result *res)
{
	const char *image = o->image[which];
	char line[LONG_LINE + 1], reply[LONG_LINE + LINE_STORED + 8];
	size_t rlen;
	struct vm vm;
	double t0, t1, power[MAX_POWER_RUNS];
	int failed = 0;
	enum io r;

	res->boot_ms = -1;
	snprintf(res->exit_text, sizeof res->exit_text, "not tried");
	vm_start(&vm, o, which);

	vm.serial = connect_unix(serial_path, &vm, now_ms() + CONNECT_MS,
				 &res->fig[FIG_HELLO]);
	if (vm.serial == -1) {
		char why[sizeof res->fig[FIG_HELLO].why];

		memcpy(why, res->fig[FIG_HELLO].why, sizeof why);
		warn("%s: cannot reach COM1: %s.", image, why);
		for (int i = FIG_HELLO; i <= FIG_POWER; i++)
			set_why(&res->fig[i], "%s", why);
		failed = 1;
		goto out;
	}

	t0 = now_ms();
	r = expect(vm.serial, BANNER, sizeof BANNER - 1, t0 + BANNER_MS, &t1, "banner", image);
	if (r != IO_OK) {
		const char *why = r == IO_EOF ? "QEMU exited" : r == IO_WRONG ? "bad banner" :
				  "no banner";

		set_why(&res->fig[FIG_HELLO], "%s", why);
		set_why(&res->fig[FIG_LINE], "%s", why);
		failed = 1;
		if (r != IO_EOF)
			resync(vm.serial);
	} else {
		res->boot_ms = t1 - t0;
		time_lines(&res->fig[FIG_HELLO], vm.serial, HELLO, sizeof HELLO - 1, HELLO_REPLY,
			   sizeof HELLO_REPLY - 1, o->runs, HELLO_MS, "hello", image);
		make_long_line(line, reply, &rlen);
		time_lines(&res->fig[FIG_LINE], vm.serial, line, sizeof line, reply, rlen,
			   o->line_runs, LINE_MS, "200-byte line", image);
	}

	measure_idle(&res->fig[FIG_IDLE], res, &vm, o->idle_s);
	if (vm_exited(&vm)) {
		char status[32];

		describe_status(vm.status, status, sizeof status);
		snprintf(res->exit_text, sizeof res->exit_text, "QEMU had already ended (%s)",
			 status);
		set_why(&res->fig[FIG_POWER], "QEMU exited");
	} else if (power_once(&vm, "system_powerdown", &power[0], res->exit_text,
			      sizeof res->exit_text) == -1) {
		set_why(&res->fig[FIG_POWER], "%s", strncmp(res->exit_text, "did not", 7) ?
			"QEMU failed" : "did not power off");
	} else {
		vm_stop(&vm);
		more_power_runs(&res->fig[FIG_POWER], o, which, "system_powerdown", power, 1,
				res->exit_text, sizeof res->exit_text);
	}
	for (int i = FIG_HELLO; i <= FIG_POWER; i++)
		failed |= !res->fig[i].ok;
out:
	vm_stop(&vm);
	if (failed)
		show_qemu_log(image);
}

/* --- the table ----------------------------------------------------------------------- */

enum unit { U_MS, U_PCT, U_BYTES };

struct row {
	enum unit unit;
	double goal;            /* ours must be <= goal; < 0: report only */
	const char *goal_text;
};

static const struct row rows[FIG_COUNT] = {
	[FIG_HELLO] = { U_MS, 5, "<= 5 ms" },
	[FIG_LINE]  = { U_MS, 100, "<= 100 ms" },
	[FIG_IDLE]  = { U_PCT, 1, "<= 1 %" },
	[FIG_POWER] = { U_MS, 5, "<= 5 ms" },
	[FIG_BYTES] = { U_BYTES, -1, "report" },
};

static void format_value(const struct figure *f, enum unit u, char *buf, size_t size)
{
	if (!f->ok)
		snprintf(buf, size, "%s", f->why);
	else if (u == U_PCT)
		snprintf(buf, size, "%.2f %%", f->value);
	else if (u == U_BYTES)
		snprintf(buf, size, "%.0f", f->value);
	else if (f->value < 10)
		snprintf(buf, size, "%.2f ms", f->value);
	else if (f->value < 1000)
		snprintf(buf, size, "%.1f ms", f->value);
	else
		snprintf(buf, size, "%.2f s", f->value / 1e3);
}

static void format_ratio(const struct figure *ours, const struct figure *ref, enum unit u,
			 char *buf, size_t size)
{
	const char *better = u == U_PCT ? "less" : "faster";
	const char *worse = u == U_PCT ? "more" : "slower";
	double diff = ours->value - ref->value, r;

	if (!ours->ok || !ref->ok) {
		snprintf(buf, size, "-");
		return;
	}
	if (u == U_BYTES) {
		snprintf(buf, size, "%+.0f bytes", ours->value - ref->value);
		return;
	}
	/* Figures closer than their resolutions are no difference (the 1.001 keeps a
	 * difference of exactly the two steps, which rounds either way, on this side). */
	if ((diff < 0 ? -diff : diff) <= (ours->step + ref->step) * 1.001) {
		snprintf(buf, size, "~same");
		return;
	}
	if (ours->value <= 0 || ref->value <= 0) {
		snprintf(buf, size, "-");
		return;
	}
	r = ref->value / ours->value;
	if (r < 1) {
		r = 1 / r;
		better = worse;
	}
	snprintf(buf, size, r >= 100 ? "%.0fx %s" : r >= 10 ? "%.1fx %s" : "%.2fx %s", r, better);
}

/* Columns as wide as their widest cell, so a failure's longer text keeps them aligned. */
static void print_table(const struct opts *o, struct result res[2])
{
	enum { COLS = 6 };
	static const char *const head[COLS] = { "figure", "ours", "reference", "ratio", "goal",
						"" };
	char cell[FIG_COUNT][COLS][64];
	int width[COLS];

	for (int c = 0; c < COLS; c++)
		width[c] = (int)strlen(head[c]);
	for (int i = 0; i < FIG_COUNT; i++) {
		const struct figure *a = &res[0].fig[i], *b = &res[1].fig[i];
		char *label = cell[i][0];

		switch (i) {
		case FIG_HELLO:
			snprintf(label, 64, "hello CR -> olleh (median of %d)", o->runs);
			break;
		case FIG_LINE:
			snprintf(label, 64, "%d-byte line -> prompt (median of %d)", LONG_LINE,
				 o->line_runs);
			break;
		case FIG_IDLE:
			snprintf(label, 64, "idle host CPU, one core (%g s)", o->idle_s);
			break;
		case FIG_POWER:
			snprintf(label, 64, "system_powerdown -> QEMU exit (median of %d)",
				 o->power_runs);
			break;
		default:
			snprintf(label, 64, "bytes used of %d", BUDGET);
			break;
		}
		format_value(a, rows[i].unit, cell[i][1], 64);
		format_value(b, rows[i].unit, cell[i][2], 64);
		format_ratio(a, b, rows[i].unit, cell[i][3], 64);
		snprintf(cell[i][4], 64, "%s", rows[i].goal_text);
		snprintf(cell[i][5], 64, "%s", rows[i].goal < 0 ? "" :
			 a->ok && a->value <= rows[i].goal ? "meets" : "MISSES");
		for (int c = 0; c < COLS; c++)
			if ((int)strlen(cell[i][c]) > width[c])
				width[c] = (int)strlen(cell[i][c]);
	}
	for (int i = -1; i < FIG_COUNT; i++) {
		char line[COLS * 66];
		int n = 0;

		for (int c = 0; c < COLS; c++)
			n += snprintf(line + n, sizeof line - (size_t)n, "%-*s  ", width[c],
				      i < 0 ? head[c] : cell[i][c]);
		while (n > 0 && line[n - 1] == ' ')
			n--;
		printf("%.*s\n", n, line);
	}
}

static void print_details(const struct opts *o, struct result res[2])
{
	static const char *const name[2] = { "ours", "reference" };

	printf("\nQEMU %s under TCG; times are CLOCK_MONOTONIC from the write to the last byte "
	       "of the reply.\n", o->machine);
	for (int k = 0; k < 2; k++) {
		const struct result *r = &res[k];
		const struct figure *h = &r->fig[FIG_HELLO], *l = &r->fig[FIG_LINE];

		printf("%-9s %s\n", name[k], o->image[k]);
		if (r->boot_ms >= 0)
			printf("          COM1 connected -> banner: %.0f ms\n", r->boot_ms);
		if (h->ok)
			printf("          hello: min %.2f, median %.2f, max %.2f ms over %d runs\n",
			       h->min, h->value, h->max, h->runs);
		if (l->ok)
			printf("          %d-byte line: min %.1f, median %.1f, max %.1f ms over %d "
			       "runs\n", LONG_LINE, l->min, l->value, l->max, l->runs);
		if (r->fig[FIG_IDLE].ok)
			printf("          idle: %.4f s of CPU in %.2f s (process CPU clock)\n",
			       r->idle_cpu_s, r->idle_wall_s);
		if (r->fig[FIG_POWER].ok)
			printf("          power button -> exit: min %.2f, median %.2f, max %.2f ms "
			       "over %d boots; %s\n", r->fig[FIG_POWER].min, r->fig[FIG_POWER].value,
			       r->fig[FIG_POWER].max, r->fig[FIG_POWER].runs, r->exit_text);
		else
			printf("          power button: %s\n", r->exit_text);
	}
	if (res[0].quit.ok)
		printf("QEMU alone (QMP quit -> exit, no guest involved): min %.2f, median %.2f, "
		       "max %.2f ms over %d boots\n", res[0].quit.min, res[0].quit.value,
		       res[0].quit.max, res[0].quit.runs);
	else
		printf("QEMU alone (QMP quit -> exit): %s\n", res[0].quit.why);
}

/* --- options --------------------------------------------------------------------------- */

static _Noreturn void usage(int status)
{
	FILE *out = status ? stderr : stdout;

	fprintf(out,
		"usage: %s [options] OURS.img REFERENCE.img\n"
		"\n"
		"Boots each image under QEMU TCG (one at a time) and prints latency, idle CPU\n"
		"and size of ours beside the reference, with the goals.\n"
		"\n"
		"  -m, --machine TYPE     QEMU machine (default pc)\n"
		"  -r, --runs N           hello round trips (default 20)\n"
		"  -l, --line-runs N      200-byte lines (default 3)\n"
		"  -i, --idle-seconds S   idle CPU window (default 10)\n"
		"  -p, --power-runs N     boots timed from the power button to QEMU's exit, and\n"
		"                         from QMP quit to exit for QEMU's own floor (default 5)\n"
		"  -s, --sizes \"A B\"      bytes used by ours and the reference (from\n"
		"                         `sizecheck size`); \"-\" for unknown\n"
		"  -h, --help             this text\n"
		"\n"
		"The launcher is $QEMU_BOOT (default host/qemu-boot). Exit status: 0 when every\n"
		"figure was measured, 1 when any could not be, 2 for a usage error.\n",
		prog_name);
	exit(status);
}

static _Noreturn void bad_usage(const char *fmt, ...) PRINTF_LIKE(1, 2);
static _Noreturn void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	exit(2);
}

static long parse_long(const char *opt, const char *s, long lo, long hi)
{
	long v;

	if (parse_long_in(s, lo, hi, &v) < 0)
		bad_usage("%s wants a whole number from %ld to %ld, not \"%s\".", opt, lo, hi, s);
	return v;
}

static long parse_size(const char *s, size_t len)
{
	char word[16];
	char *end;
	long v;

	if (len == 1 && s[0] == '-')
		return -1;
	if (len == 0 || len >= sizeof word)
		return -2;
	memcpy(word, s, len);
	word[len] = '\0';
	v = strtol(word, &end, 10);
	if (*end || v < 0 || v > BUDGET)
		return -2;
	return v;
}

static void parse_sizes(const char *s, long size[2])
{
	const char *p = s;

	for (int k = 0; k < 2; k++) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		size[k] = parse_size(p, len);
		if (size[k] == -2)
			break;
		p += len;
	}
	p += strspn(p, " \t");
	if (size[0] == -2 || size[1] == -2 || *p)
		bad_usage("--sizes wants two byte counts from 0 to %d (or \"-\"), "
			  "as \"OURS REF\", not \"%s\".", BUDGET, s);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "machine", required_argument, NULL, 'm' },
		{ "runs", required_argument, NULL, 'r' },
		{ "line-runs", required_argument, NULL, 'l' },
		{ "idle-seconds", required_argument, NULL, 'i' },
		{ "power-runs", required_argument, NULL, 'p' },
		{ "sizes", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char seen[128] = { 0 };
	const char *env = getenv("QEMU_BOOT");
	int c;

	*o = (struct opts){
		.machine = "pc", .runs = 20, .line_runs = 3, .power_runs = 5, .idle_s = 10,
		.size = { -1, -1 },
		.helper = env && *env ? env : "host/qemu-boot",
	};
	while ((c = getopt_long(argc, argv, "m:r:l:i:p:s:h", longs, NULL)) != -1) {
		char *end;

		if (c > 0 && c < (int)sizeof seen && c != 'h' && c != '?') {
			if (seen[c])
				bad_usage("option -%c/--%s given twice.", c,
					  c == 'm' ? "machine" : c == 'r' ? "runs" :
					  c == 'l' ? "line-runs" : c == 'i' ? "idle-seconds" :
					  c == 'p' ? "power-runs" : "sizes");
			seen[c] = 1;
		}
		switch (c) {
		case 'm':
			if (!*optarg || strchr(optarg, ','))
				bad_usage("--machine wants a QEMU machine type, not \"%s\".", optarg);
			o->machine = optarg;
			break;
		case 'r':
			o->runs = (int)parse_long("--runs", optarg, 1, 1000);
			break;
		case 'l':
			o->line_runs = (int)parse_long("--line-runs", optarg, 1, 100);
			break;
		case 'i':
			errno = 0;
			o->idle_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->idle_s >= 0.1) ||
			    o->idle_s > 600)
				bad_usage("--idle-seconds wants seconds from 0.1 to 600, not \"%s\".",
					  optarg);
			break;
		case 'p':
			o->power_runs = (int)parse_long("--power-runs", optarg, 1, MAX_POWER_RUNS);
			break;
		case 's':
			parse_sizes(optarg, o->size);
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (argc - optind != 2)
		bad_usage("want two images, OURS.img and REFERENCE.img; got %d.", argc - optind);
	if (strchr(o->helper, '/') && access(o->helper, X_OK) == -1)
		die_errno("cannot run the launcher %s (set QEMU_BOOT to host/qemu-boot)",
			  o->helper);
	o->image[0] = argv[optind];
	o->image[1] = argv[optind + 1];
	for (int k = 0; k < 2; k++)
		if (access(o->image[k], R_OK) == -1)
			die_errno("cannot read the image %s", o->image[k]);
}

static void make_run_dir(const struct opts *o)
{
	const char *tmp = getenv("TMPDIR");
	struct sigaction sa = { .sa_handler = on_signal };

	if (!tmp || !*tmp)
		tmp = "/tmp";
	/* Room for "/qemu.log" and within sun_path (108 bytes) for the sockets. */
	if (snprintf(run_dir, sizeof run_dir, "%s/bootbench.XXXXXX", tmp) >= (int)sizeof run_dir
	    - 10)
		die("TMPDIR is too long for a Unix socket path: \"%s\".", tmp);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup_at_exit);
	if (!mkdtemp(run_dir)) {
		int e = errno;

		run_dir[0] = '\0';
		errno = e;
		die_errno("cannot make a private directory under %s", tmp);
	}
	snprintf(serial_path, sizeof serial_path, "%s/com1", run_dir);
	snprintf(qmp_path, sizeof qmp_path, "%s/qmp", run_dir);
	snprintf(log_path, sizeof log_path, "%s/qemu.log", run_dir);
	for (int k = 0; k < 2; k++) {
		const char *ext = strrchr(o->image[k], '.');

		/* The launcher tells the format by the extension: keep it. */
		snprintf(copy_path[k], sizeof copy_path[k], "%s/%s%s", run_dir,
			 k ? "reference" : "ours", ext && !strchr(ext, '/') ? ext : "");
		copy_image(o->image[k], copy_path[k]);
	}
}

int main(int argc, char **argv)
{
	struct result res[2];
	struct opts o;
	int failed = 0;

	prog_name = "bootbench";
	parse_args(argc, argv, &o);
	make_run_dir(&o);
	memset(res, 0, sizeof res);

	for (int k = 0; k < 2; k++) {
		fprintf(stderr, "%s: booting %s (%s)...\n", prog_name, o.image[k],
			k ? "reference" : "ours");
		bench_image(&o, k, &res[k]);
		if (o.size[k] >= 0) {
			res[k].fig[FIG_BYTES].ok = 1;
			res[k].fig[FIG_BYTES].value = (double)o.size[k];
		} else {
			set_why(&res[k].fig[FIG_BYTES], "n/a");
		}
		for (int i = FIG_HELLO; i <= FIG_POWER; i++)
			failed |= !res[k].fig[i].ok;
	}
	/* How long QEMU takes to exit with no guest involved: the floor under both power
	 * figures, so that the guest's own share can be read off. */
	{
		double v[MAX_POWER_RUNS];
		char text[80];

		fprintf(stderr, "%s: timing QMP quit on %s...\n", prog_name, o.image[0]);
		more_power_runs(&res[0].quit, &o, 0, "quit", v, 0, text, sizeof text);
	}
	print_table(&o, res);
	print_details(&o, res);
	return failed;
}
