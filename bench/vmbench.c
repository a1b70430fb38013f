/* vmbench.c - the sandbox's figures, beside a bare guest booted the plain way.
 *
 * Ours: `vmctl start` to ready, `vmctl exec P -- true` round trips (sandboxed and
 * raw), stdout throughput from the guest, the idle host memory of one sandbox's QEMU
 * (RSS, and the private part of it), and how many sandboxes run at once, all
 * answering, with their proportional share of memory (PSS) each. Everything goes through
 * the real vmctl, as a user would run it: the times include vmctl's own start-up.
 *
 * Keystrokes: `vmctl web`'s page in headless Chromium (bench/keylatency.js, run by
 * node with playwright-core) types into the sandbox's shell one key at a time and
 * times each echo. Its peer is the same shell through `vmctl exec --tty` on a
 * pseudo-terminal here, which has no browser, no page and no HTTP server in the
 * way: what the web path adds is the difference.
 *
 * The peer, booted in the same run: the same Debian kernel as its bzImage with a
 * busybox-only initramfs (build-image --without-vmd), on QEMU's defaults for -m 128
 * (machine pc, VGA, e1000 NIC, TCG's default translation cache): the guest the issue
 * measured at about 210 MiB. Its "ready" is init's line on the serial port; it has
 * no vmd, so exec and throughput have no peer figure, only the goal.
 *
 * The fast start: `vmctl start` clones a booted template by default, and `--cold` boots.
 * The template is made first (`vmctl template build`, its own row), then each clone
 * figure is measured beside the cold boot's in the same run: start to ready, exec,
 * idle memory, PSS with many running, a large upload into a default sandbox's home,
 * and how many clones run at once, all answering, with their idle host CPU. The
 * cold figures are the ones this program measured before cloning existed, and the
 * bare guest stays their peer; the keystrokes are typed into a clone, which is what
 * a user gets now.
 *
 * The run has a state folder and a cache of its own (XDG_RUNTIME_DIR, XDG_CACHE_HOME
 * in a temporary folder): the template is made from nothing, so its time is real, no
 * sandbox of the user's is seen or stopped, and what is left there at the end (a VM
 * a failed vmctl left behind) is stopped before the folder goes.
 *
 * Exit status: 0 when every figure was measured (goals met or not), 1 when one could
 * not be, 2 for usage. Every VM this program starts is stopped on every way out.
 */
#include "text.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PEER_READY "no /bin/vmd"	/* guest/init's line when the image has no vmd */
#define SETTLE_MS 3000			/* ready -> RSS reading: the boot's last work done */
#define PEER_BOOT_MS 60000
#define MAX_VMS 32
#define MAX_RUNS 50
#define MAX_MANY 200			/* clones at once */
#define CLONE_MEM_RUNS 3		/* clones whose idle memory is read (3 s each) */
#define IDLE_CPU_MS 10000

struct opts {
	const char *vmctl, *peer_kernel, *peer_initrd;
	const char *node, *key_script, *chromium;	/* the keystroke figure */
	int starts, execs, vms, keys, clones, many, pss_at;
	long mbytes, cp_mbytes, upload_mbytes;
};

static unsigned live_ports[MAX_VMS + MAX_RUNS + MAX_MANY];
static int nlive;
static const char *vmctl_path;
static volatile pid_t peer_pid;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Run argv with stdin from /dev/null; its stdout into out (up to size-1 bytes, NUL
 * ended, the rest counted and dropped), stderr to /dev/null unless keep_stderr.
 * Returns the wait status, or -1 when it could not start; *bytes = stdout's length. */
static int run(char *const argv[], char *out, size_t size, long long *bytes, bool keep_stderr)
{
	int p[2], status;
	long long total = 0;
	size_t kept = 0;
	char buf[1 << 16];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(p[1], 1);
		if (!keep_stderr)
			dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
		if (out && kept + 1 < size) {
			size_t k = (size_t)n < size - 1 - kept ? (size_t)n : size - 1 - kept;

			memcpy(out + kept, buf, k);
			kept += k;
		}
	}
	close(p[0]);
	if (out)
		out[kept] = '\0';
	if (bytes)
		*bytes = total;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return status;
}

static void forget_port(unsigned port)
{
	for (int i = 0; i < nlive; i++)
		if (live_ports[i] == port) {
			live_ports[i] = live_ports[--nlive];
			return;
		}
}

static int vm_stop(unsigned port)
{
	char p[16];

	snprintf(p, sizeof p, "%u", port);
	forget_port(port);
	return run((char *[]){ (char *)vmctl_path, "stop", p, NULL }, NULL, 0, NULL, true);
}

static void stop_all(void)
{
	while (nlive > 0)
		vm_stop(live_ports[nlive - 1]);
	if (peer_pid > 0) {
		kill(peer_pid, SIGKILL);
		waitpid(peer_pid, NULL, 0);
		peer_pid = 0;
	}
}

static char run_dir[64];	/* the run's own XDG_RUNTIME_DIR and XDG_CACHE_HOME are in it */

/* Stop what this program started, then whatever else still runs in the run's state
 * folder (a sandbox a vmctl that failed half-way left behind), then remove the folder
 * with the run's templates. */
static void sweep(void)
{
	static char out[1 << 16];
	char *line, *save;
	unsigned port;

	stop_all();
	if (!*run_dir)
		return;
	if (run((char *[]){ (char *)vmctl_path, "list", NULL }, out, sizeof out, NULL, true) == 0)
		for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (sscanf(line, "%u", &port) == 1) {
				fprintf(stderr, "vmbench: stopping the sandbox on port %u, left "
					"behind.\n", port);
				vm_stop(port);
			}
	run((char *[]){ "/bin/rm", "-rf", "--", run_dir, NULL }, NULL, 0, NULL, true);
	*run_dir = '\0';
}

/* The run's own state folder and cache, under /tmp: 0, or -1 (said). */
static int own_dirs(void)
{
	char path[96];

	snprintf(run_dir, sizeof run_dir, "/tmp/vmbench-run.XXXXXX");
	if (!mkdtemp(run_dir)) {
		fprintf(stderr, "vmbench: cannot make a folder in /tmp: %s.\n", strerror(errno));
		*run_dir = '\0';
		return -1;
	}
	snprintf(path, sizeof path, "%s/run", run_dir);
	if (mkdir(path, 0700) == -1 || setenv("XDG_RUNTIME_DIR", path, 1) == -1)
		goto failed;
	snprintf(path, sizeof path, "%s/cache", run_dir);
	if (mkdir(path, 0700) == -1 || setenv("XDG_CACHE_HOME", path, 1) == -1)
		goto failed;
	return 0;
failed:
	fprintf(stderr, "vmbench: cannot make %s: %s.\n", path, strerror(errno));
	return -1;
}

static void on_signal(int sig)
{
	/* Not async-signal-safe in the strict sense (vmctl stop forks and waits), but the
	 * main flow is stopped here for good; leaving VMs behind would be worse. */
	sweep();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* `vmctl start [--cold] [--memory MIB]` (0: the default): the port, and the wall time
 * it took; 0 when it failed. Without --cold, vmctl clones its template. */
static unsigned vm_start_mem(double *ms, unsigned memory_mib, bool cold)
{
	char out[64], mem[16];
	char *argv[6];
	double t0 = now_ms();
	int st, n = 0;
	unsigned port;

	argv[n++] = (char *)vmctl_path;
	argv[n++] = "start";
	if (cold)
		argv[n++] = "--cold";
	if (memory_mib) {
		snprintf(mem, sizeof mem, "%u", memory_mib);
		argv[n++] = "--memory";
		argv[n++] = mem;
	}
	argv[n] = NULL;
	st = run(argv, out, sizeof out, NULL, true);

	*ms = now_ms() - t0;
	if (st != 0 || sscanf(out, "%u", &port) != 1 || port == 0) {
		fprintf(stderr, "vmbench: vmctl start failed (%s).\n", out);
		return 0;
	}
	if (nlive < (int)(sizeof live_ports / sizeof *live_ports))
		live_ports[nlive++] = port;
	return port;
}

static unsigned vm_start(double *ms)
{
	return vm_start_mem(ms, 0, false);
}

static unsigned vm_start_cold(double *ms)
{
	return vm_start_mem(ms, 0, true);
}

/* The QEMU pid of port, from `vmctl list` (PORT PID STATE ...). */
static pid_t vm_pid(unsigned port)
{
	char out[8192], *line;
	unsigned p;
	int pid;

	if (run((char *[]){ (char *)vmctl_path, "list", NULL }, out, sizeof out, NULL, true))
		return 0;
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (sscanf(line, "%u %d", &p, &pid) == 2 && p == port)
			return pid;
	return 0;
}

/* The QEMU pids of ports[0..n), from one `vmctl list`; 0 for a port it does not list. */
static void vm_pids(const unsigned *ports, int n, pid_t *pids)
{
	static char out[1 << 16];
	char *line, *save;
	unsigned p;
	int pid;

	for (int i = 0; i < n; i++)
		pids[i] = 0;
	if (run((char *[]){ (char *)vmctl_path, "list", NULL }, out, sizeof out, NULL, true))
		return;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, "%u %d", &p, &pid) == 2)
			for (int i = 0; i < n; i++)
				if (ports[i] == p)
					pids[i] = pid;
}

/* The CPU time a process has used so far, user and system, all its threads, in
 * seconds (fields 14 and 15 of /proc/PID/stat); -1 when it is gone. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = pid > 0 ? fopen(path, "r") : NULL;
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name in brackets may hold spaces and brackets itself: count from the last. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The host CPU that n processes use together over ms, in cores; -1 when one of them
 * could not be read at either end. */
static double cpu_cores(const pid_t *pids, int n, int ms)
{
	double before = 0, after = 0, t0, c;

	for (int i = 0; i < n; i++) {
		if ((c = cpu_seconds(pids[i])) < 0)
			return -1;
		before += c;
	}
	t0 = now_ms();
	sleep_ms(ms);
	t0 = now_ms() - t0;
	for (int i = 0; i < n; i++) {
		if ((c = cpu_seconds(pids[i])) < 0)
			return -1;
		after += c;
	}
	return n > 0 ? (after - before) / (t0 / 1000) : -1;
}

/* What a process costs in memory, in MiB (-1 when unreadable): all it has resident
 * (RSS); the anonymous part of it, its own (guest RAM, translation cache, heap); and
 * its proportional share (PSS), the files it maps (QEMU's program, the guest's kernel
 * and initramfs, held for a reset) divided among the processes that map them. */
struct mem {
	double rss, anon, pss;
};

static struct mem mem_of(pid_t pid)
{
	char path[64], line[256];
	struct mem mm = { -1, -1, -1 };
	double kb;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return mm;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "Rss: %lf kB", &kb) == 1)
			mm.rss = kb / 1024;
		else if (sscanf(line, "Pss: %lf kB", &kb) == 1)
			mm.pss = kb / 1024;
		else if (sscanf(line, "Anonymous: %lf kB", &kb) == 1)
			mm.anon = kb / 1024;
	}
	fclose(f);
	return mm;
}

/* `vmctl exec PORT [--raw] -- ARGV...`: wall ms, or -1 when the exit status or the
 * output is not what was expected. */
static double vm_exec(unsigned port, bool raw, char *const cmd[], const char *want,
		      long long want_bytes, long long *got_bytes)
{
	char p[16], out[256];
	char *argv[16];
	int n = 0, st;
	long long bytes;
	double t0;

	snprintf(p, sizeof p, "%u", port);
	argv[n++] = (char *)vmctl_path;
	argv[n++] = "exec";
	argv[n++] = p;
	if (raw)
		argv[n++] = "--raw";
	argv[n++] = "--";
	for (int i = 0; cmd[i] && n < 15; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	t0 = now_ms();
	st = run(argv, out, sizeof out, &bytes, true);
	t0 = now_ms() - t0;
	if (got_bytes)
		*got_bytes = bytes;
	if (st != 0 || (want && strcmp(out, want)) || (want_bytes >= 0 && bytes != want_bytes))
		return -1;
	return t0;
}

/* The peer: boot the bare guest on QEMU's defaults; ms to init's line, RSS after. */
static int peer_boot(const struct opts *o, double *ms, struct mem *mm)
{
	int p[2];
	char buf[4096], seen[8192] = "";
	size_t have = 0;
	double t0 = now_ms(), deadline = t0 + PEER_BOOT_MS;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	peer_pid = fork();
	if (peer_pid == -1)
		return -1;
	if (peer_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-m", "128", "-kernel",
		       o->peer_kernel, "-initrd", o->peer_initrd, "-append",
		       "console=ttyS0 quiet panic=-1", "-display", "none", "-serial", "stdio",
		       "-monitor", "none", "-no-reboot", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*ms = -1;
	while (now_ms() < deadline) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			break;
		n = read(p[0], buf, sizeof buf);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (have + 1 >= sizeof seen) {	/* keep the tail: the line may straddle */
				memmove(seen, seen + have / 2, have - have / 2);
				have -= have / 2;
			}
			seen[have++] = buf[i] ? buf[i] : ' ';
		}
		seen[have] = '\0';
		if (strstr(seen, PEER_READY)) {
			*ms = now_ms() - t0;
			break;
		}
	}
	if (*ms >= 0) {
		sleep_ms(SETTLE_MS);
		*mm = mem_of(peer_pid);
	}
	close(p[0]);
	kill(peer_pid, SIGKILL);
	waitpid(peer_pid, NULL, 0);
	peer_pid = 0;
	return *ms >= 0 && mm->rss >= 0 ? 0 : -1;
}

/* The fast start's figures, each printed beside a cold one of struct figures. */
struct clone_figures {
	double template_ms, start_ms, true_ms, upload_mb_s, pss, cpu_cores, cpu_each;
	struct mem mem;
	int starts_ok, nmem, at_once, answering;
	char upload_err[600];	/* why the upload failed: one line */
};

struct figures {
	double start_ms, peer_start_ms, true_ms, raw_ms, mb_s, many_rss, many_pss, up_mb_s,
	       down_mb_s, key_ms, key_p90_ms, key_max_ms, tty_key_ms, tty_key_max_ms,
	       many_cpu_each;
	struct mem mem, peer_mem;
	int starts_ok, many_ok;
	struct clone_figures clone;
	bool failed;
};

/* The medians of each field of n readings. */
static struct mem median_mem(struct mem *v, int n)
{
	double rss[MAX_RUNS], anon[MAX_RUNS], pss[MAX_RUNS];

	for (int i = 0; i < n; i++) {
		rss[i] = v[i].rss;
		anon[i] = v[i].anon;
		pss[i] = v[i].pss;
	}
	return (struct mem){ median(rss, n), median(anon, n), median(pss, n) };
}

static void bench_peer(const struct opts *o, struct figures *f)
{
	double ms[MAX_RUNS];
	struct mem mm[MAX_RUNS];
	int n = 0;

	f->peer_start_ms = -1;
	f->peer_mem = (struct mem){ -1, -1, -1 };
	if (!o->peer_kernel)
		return;
	for (int i = 0; i < o->starts; i++)
		if (peer_boot(o, &ms[n], &mm[n]) == 0)
			n++;
	if (n == 0) {
		fprintf(stderr, "vmbench: the peer guest never printed \"%s\".\n", PEER_READY);
		f->failed = true;
		return;
	}
	f->peer_start_ms = median(ms, n);
	f->peer_mem = median_mem(mm, n);
}

static void bench_ours(const struct opts *o, struct figures *f)
{
	double starts[MAX_RUNS], t[MAX_RUNS], raw[MAX_RUNS];
	struct mem mm[MAX_RUNS];
	int nmem = 0, nt = 0, nraw = 0;
	unsigned port = 0;

	f->start_ms = f->true_ms = f->raw_ms = f->mb_s = -1;
	f->mem = (struct mem){ -1, -1, -1 };
	f->starts_ok = 0;
	for (int i = 0; i < o->starts; i++) {
		unsigned p = vm_start_cold(&starts[f->starts_ok]);
		pid_t pid;

		if (!p)
			continue;
		f->starts_ok++;
		sleep_ms(SETTLE_MS);
		pid = vm_pid(p);
		if (pid > 0 && (mm[nmem] = mem_of(pid)).rss > 0)
			nmem++;
		if (i + 1 < o->starts)
			vm_stop(p);
		else
			port = p;	/* the last one serves the exec figures */
	}
	if (f->starts_ok)
		f->start_ms = median(starts, f->starts_ok);
	if (nmem)
		f->mem = median_mem(mm, nmem);
	if (!port) {
		f->failed = true;
		return;
	}
	for (int i = 0; i < o->execs; i++) {
		if ((t[nt] = vm_exec(port, false, (char *[]){ "true", NULL }, "", 0, NULL)) >= 0)
			nt++;
		if ((raw[nraw] = vm_exec(port, true, (char *[]){ "true", NULL }, "", 0, NULL)) >= 0)
			nraw++;
	}
	if (nt)
		f->true_ms = median(t, nt);
	if (nraw)
		f->raw_ms = median(raw, nraw);
	{
		char script[96];
		long long got = 0;
		double ms;

		/* dd with 1 MB blocks: busybox head copies in small pieces and, under TCG,
		 * produces only about 22 MB/s itself, which would measure head. */
		snprintf(script, sizeof script, "dd if=/dev/zero bs=1000000 count=%ld 2>/dev/null",
			 o->mbytes);
		ms = vm_exec(port, false, (char *[]){ "sh", "-c", script, NULL }, NULL,
			     o->mbytes * 1000000, &got);
		if (ms > 0)
			f->mb_s = (double)o->mbytes / (ms / 1000);
		else
			fprintf(stderr, "vmbench: %ld MB of stdout arrived as %lld bytes.\n",
				o->mbytes, got);
	}
	vm_stop(port);
	if (f->true_ms < 0 || f->raw_ms < 0 || f->mb_s < 0 || f->mem.rss < 0 ||
	    f->starts_ok < o->starts)
		f->failed = true;
}

/* o->vms sandboxes at once, booted cold: all started, then each answers an exec;
 * then their idle host CPU, the clones' peer. */
static void bench_many(const struct opts *o, struct figures *f)
{
	unsigned ports[MAX_VMS];
	pid_t pids[MAX_VMS] = { 0 };
	int n = 0;
	double ms;

	f->many_ok = 0;
	f->many_rss = f->many_pss = 0;
	for (int i = 0; i < o->vms; i++)
		if ((ports[n] = vm_start_cold(&ms)))
			n++;
	sleep_ms(SETTLE_MS);
	for (int i = 0; i < n; i++) {
		pid_t pid = pids[i] = vm_pid(ports[i]);
		struct mem mm = pid > 0 ? mem_of(pid) : (struct mem){ -1, -1, -1 };

		if (vm_exec(ports[i], false, (char *[]){ "echo", "ok", NULL }, "ok\n", -1, NULL) >= 0)
			f->many_ok++;
		if (mm.rss > 0)
			f->many_rss += mm.rss;
		if (mm.pss > 0)
			f->many_pss += mm.pss;
	}
	f->many_cpu_each = cpu_cores(pids, n, IDLE_CPU_MS);
	if (f->many_cpu_each >= 0)
		f->many_cpu_each /= n;
	for (int i = 0; i < n; i++)
		vm_stop(ports[i]);
	if (f->many_ok < o->vms)
		f->failed = true;
}

/* Two files the same, byte for byte? */
static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa && fb;
	char x[1 << 16], y[1 << 16];

	while (same) {
		size_t na = fread(x, 1, sizeof x, fa), nb = fread(y, 1, sizeof y, fb);

		same = na == nb && !memcmp(x, y, na);
		if (na == 0)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* A file of mbytes MB of random bytes at path: 0, or -1 (said) with nothing left there. */
static int random_file(const char *path, long mbytes)
{
	unsigned char buf[1 << 16];
	int urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	FILE *out = fopen(path, "wb");
	long left = mbytes * 1000000;

	while (out && urandom >= 0 && left > 0) {
		ssize_t n = read(urandom, buf, left < (long)sizeof buf ? (size_t)left : sizeof buf);

		if (n <= 0 || fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			break;
		left -= n;
	}
	if (urandom >= 0)
		close(urandom);
	if (!out || fclose(out) != 0 || left > 0) {
		fprintf(stderr, "vmbench: cannot write %ld MB of random bytes to %s.\n", mbytes, path);
		unlink(path);
		return -1;
	}
	return 0;
}

/* vmctl cp of o->cp_mbytes MB of random bytes into the sandbox's home and back, on a VM
 * with room for it (the home is in the guest's RAM); both checked byte for byte. */
static void bench_files(const struct opts *o, struct figures *f)
{
	char dir[] = "/tmp/vmbench.XXXXXX", src[64], back[64], remote[48], p[16];
	double ms, t0;
	unsigned port;

	f->up_mb_s = f->down_mb_s = -1;
	if (!mkdtemp(dir))
		goto failed;
	snprintf(src, sizeof src, "%s/up", dir);
	snprintf(back, sizeof back, "%s/down", dir);
	if (random_file(src, o->cp_mbytes) < 0 || !(port = vm_start_mem(&ms, 1024, true)))
		goto cleanup;
	snprintf(p, sizeof p, "%u", port);
	snprintf(remote, sizeof remote, "%u:vmbench.bin", port);
	t0 = now_ms();
	if (run((char *[]){ (char *)vmctl_path, "cp", src, remote, NULL }, NULL, 0, NULL, true) == 0)
		f->up_mb_s = (double)o->cp_mbytes / ((now_ms() - t0) / 1000);
	t0 = now_ms();
	if (f->up_mb_s > 0 &&
	    run((char *[]){ (char *)vmctl_path, "cp", remote, back, NULL }, NULL, 0, NULL, true) == 0)
		f->down_mb_s = (double)o->cp_mbytes / ((now_ms() - t0) / 1000);
	if (f->down_mb_s > 0 && !same_file(src, back)) {
		fprintf(stderr, "vmbench: the file came back different.\n");
		f->down_mb_s = -1;
	}
	vm_stop(port);
cleanup:
	unlink(src);
	unlink(back);
	rmdir(dir);
failed:
	if (f->up_mb_s < 0 || f->down_mb_s < 0)
		f->failed = true;
}

/* Run argv with stdin and stdout on /dev/null; the last line of what it says on
 * stderr into err (NUL ended, "" when it said nothing). The wait status, or -1 when
 * it could not start. */
static int run_err(char *const argv[], char *err, size_t size)
{
	char buf[4096], tail[4096];
	size_t have = 0;
	int p[2], status;
	pid_t pid;

	err[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(p[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (have + 1 >= sizeof tail) {	/* keep the newer half */
				memmove(tail, tail + have / 2, have - have / 2);
				have -= have / 2;
			}
			tail[have++] = buf[i];
		}
	}
	close(p[0]);
	while (have > 0 && (tail[have - 1] == '\n' || tail[have - 1] == '\r'))
		have--;
	tail[have] = '\0';
	{
		const char *line = strrchr(tail, '\n'), *from = line ? line + 1 : tail;
		size_t k = strlen(from) < size ? strlen(from) : size - 1;

		memcpy(err, from, k);
		err[k] = '\0';
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return status;
}

/* The fast path: the template made first and timed on its own (the run's cache starts
 * empty, so it is really made), then o->clones starts of clones, each stopped before
 * the next; the idle memory of the first CLONE_MEM_RUNS, exec round trips on the last. */
static void bench_clone(const struct opts *o, struct figures *f)
{
	struct clone_figures *c = &f->clone;
	double starts[MAX_RUNS], t[MAX_RUNS], t0;
	struct mem mm[CLONE_MEM_RUNS];
	int nt = 0;
	unsigned port = 0;

	c->template_ms = c->start_ms = c->true_ms = -1;
	c->mem = (struct mem){ -1, -1, -1 };
	c->starts_ok = c->nmem = 0;
	t0 = now_ms();
	if (run((char *[]){ (char *)vmctl_path, "template", "build", NULL }, NULL, 0, NULL, true)) {
		fprintf(stderr, "vmbench: vmctl template build failed; no clone figures.\n");
		f->failed = true;
		return;
	}
	c->template_ms = now_ms() - t0;
	for (int i = 0; i < o->clones; i++) {
		unsigned p = vm_start(&starts[c->starts_ok]);
		pid_t pid;

		if (!p)
			continue;
		c->starts_ok++;
		if (c->nmem < CLONE_MEM_RUNS) {
			sleep_ms(SETTLE_MS);
			if ((pid = vm_pid(p)) > 0 && (mm[c->nmem] = mem_of(pid)).rss > 0)
				c->nmem++;
		}
		if (i + 1 < o->clones)
			vm_stop(p);
		else
			port = p;	/* the last one serves the exec figure */
	}
	if (c->starts_ok)
		c->start_ms = median(starts, c->starts_ok);
	if (c->nmem)
		c->mem = median_mem(mm, c->nmem);
	if (port) {
		for (int i = 0; i < o->execs; i++)
			if ((t[nt] = vm_exec(port, false, (char *[]){ "true", NULL }, "", 0, NULL)) >= 0)
				nt++;
		if (nt)
			c->true_ms = median(t, nt);
		vm_stop(port);
	}
	if (c->starts_ok < o->clones || c->mem.rss < 0 || c->true_ms < 0)
		f->failed = true;
}

/* o->upload_mbytes MB of random bytes through vmctl cp into the home of a default
 * sandbox (a clone), its size then read in the guest. The home must hold it: while
 * it lives in the guest's RAM this fails, and upload_err says why in one line. */
static void bench_upload(const struct opts *o, struct figures *f)
{
	struct clone_figures *c = &f->clone;
	char dir[] = "/tmp/vmbench.XXXXXX", src[64], remote[48], want[32];
	double ms, t0;
	unsigned port;
	int st;

	c->upload_mb_s = -1;
	c->upload_err[0] = '\0';
	if (!mkdtemp(dir)) {
		snprintf(c->upload_err, sizeof c->upload_err,
			 "cannot make a temporary folder in /tmp: %s.", strerror(errno));
		goto failed;
	}
	snprintf(src, sizeof src, "%s/up", dir);
	if (random_file(src, o->upload_mbytes) < 0) {
		snprintf(c->upload_err, sizeof c->upload_err, "the file to upload could not be made.");
		goto cleanup;
	}
	if (!(port = vm_start(&ms))) {
		snprintf(c->upload_err, sizeof c->upload_err, "vmctl start failed.");
		goto cleanup;
	}
	snprintf(remote, sizeof remote, "%u:vmbench-upload.bin", port);
	t0 = now_ms();
	st = run_err((char *[]){ (char *)vmctl_path, "cp", src, remote, NULL }, c->upload_err,
		     sizeof c->upload_err);
	ms = now_ms() - t0;
	if (st == 0) {
		snprintf(want, sizeof want, "%ld\n", o->upload_mbytes * 1000000);
		if (vm_exec(port, false, (char *[]){ "stat", "-c", "%s", "/home/sandbox/vmbench-upload.bin",
						     NULL }, want, -1, NULL) >= 0)
			c->upload_mb_s = (double)o->upload_mbytes / (ms / 1000);
		else
			snprintf(c->upload_err, sizeof c->upload_err, "vmctl cp succeeded, but the file "
				 "in the sandbox is not %ld bytes.", o->upload_mbytes * 1000000);
	} else if (!*c->upload_err) {
		snprintf(c->upload_err, sizeof c->upload_err, "vmctl cp failed and said nothing "
			 "(wait status %d).", st);
	}
	vm_stop(port);
cleanup:
	unlink(src);
	rmdir(dir);
failed:
	if (c->upload_mb_s < 0)
		f->failed = true;
}

/* The PSS of each of the n sandboxes on ports, on average, once they idle: MiB, or -1
 * when one could not be read. */
static double pss_each(const unsigned *ports, int n)
{
	static pid_t pids[MAX_MANY];
	double sum = 0;

	sleep_ms(SETTLE_MS);
	vm_pids(ports, n, pids);
	for (int i = 0; i < n; i++) {
		struct mem mm = pids[i] > 0 ? mem_of(pids[i]) : (struct mem){ -1, -1, -1 };

		if (mm.pss < 0)
			return -1;
		sum += mm.pss;
	}
	return n > 0 ? sum / n : -1;
}

/* Clones started one after another until o->many run or one fails to start, their
 * PSS read when o->pss_at run; then each must answer an exec, and their QEMUs'
 * host CPU is summed over IDLE_CPU_MS while they idle. All of them are stopped
 * whatever failed. */
static void bench_at_once(const struct opts *o, struct figures *f)
{
	struct clone_figures *c = &f->clone;
	static unsigned ports[MAX_MANY];
	static pid_t pids[MAX_MANY];
	int n = 0;
	double ms;

	c->at_once = c->answering = 0;
	c->pss = c->cpu_cores = c->cpu_each = -1;
	while (n < o->many) {
		if (!(ports[n] = vm_start(&ms))) {
			fprintf(stderr, "vmbench: clone %d of %d did not start; measuring the %d "
				"running.\n", n + 1, o->many, n);
			break;
		}
		if (++n == o->pss_at)
			c->pss = pss_each(ports, n);
	}
	c->at_once = n;
	sleep_ms(SETTLE_MS);
	for (int i = 0; i < n; i++)
		if (vm_exec(ports[i], false, (char *[]){ "echo", "ok", NULL }, "ok\n", -1, NULL) >= 0)
			c->answering++;
	vm_pids(ports, n, pids);
	sleep_ms(SETTLE_MS);	/* the last exec's work done */
	c->cpu_cores = cpu_cores(pids, n, IDLE_CPU_MS);
	if (c->cpu_cores >= 0)
		c->cpu_each = c->cpu_cores / n;
	for (int i = 0; i < n; i++)
		vm_stop(ports[i]);
	if (c->answering < o->many || c->pss < 0 || c->cpu_cores < 0)
		f->failed = true;
}

/* A TCP port on 127.0.0.1 that nothing listens on now. */
static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Read fd into buf (NUL ended) until it holds want or ms pass; true when it did. */
static bool read_until(int fd, char *buf, size_t size, size_t *len, const char *want, int ms)
{
	double end = now_ms() + ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		buf[*len] = '\0';
		if (memmem(buf, *len, want, strlen(want)))
			return true;
		if (now_ms() > end || poll(&p, 1, 100) < 0)
			return false;
		if (!p.revents)
			continue;
		if (*len + 1 >= size)
			*len = 0;	/* only what comes last matters */
		n = read(fd, buf + *len, size - 1 - *len);
		if (n <= 0)
			return false;
		*len += (size_t)n;
	}
}

/* The peer: the same keys through `vmctl exec P --tty -- sh` on a pseudo-terminal. */
static void keys_tty(const struct opts *o, unsigned port, struct figures *f)
{
	char p[16], buf[4096];
	double ms[200];
	size_t len = 0;
	int fd, got = 0, status;
	pid_t pid;

	snprintf(p, sizeof p, "%u", port);
	pid = forkpty(&fd, NULL, NULL, NULL);
	if (pid < 0)
		return;
	if (pid == 0) {
		execl(vmctl_path, vmctl_path, "exec", p, "--tty", "--", "sh", (char *)NULL);
		_exit(127);
	}
	if (read_until(fd, buf, sizeof buf, &len, "$ ", 30000)) {
		for (; got < o->keys; got++) {
			double t0 = now_ms();

			len = 0;
			if (write(fd, "x", 1) != 1 || !read_until(fd, buf, sizeof buf, &len, "x", 5000))
				break;
			ms[got] = now_ms() - t0;
		}
		if (write(fd, "\025exit\n", 6) != 6)
			kill(pid, SIGTERM);
	}
	for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
		sleep_ms(50);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close(fd);
	if (got == o->keys) {
		f->tty_key_ms = median(ms, got);
		f->tty_key_max_ms = ms[got - 1];	/* sorted by median() */
	}
}

/* Ours: the page of `vmctl web P HTTP_PORT` in Chromium, through bench/keylatency.js. */
static void keys_web(const struct opts *o, unsigned port, struct figures *f)
{
	char p[16], hp[16], link[256] = "", out[256], keys[16];
	unsigned http = free_port();
	size_t len = 0;
	int pipefd[2], status;
	pid_t web;

	snprintf(p, sizeof p, "%u", port);
	snprintf(hp, sizeof hp, "%u", http);
	if (!http || pipe2(pipefd, O_CLOEXEC) < 0)
		return;
	web = fork();
	if (web == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(pipefd[1], 1);
		dup2(null, 2);
		execl(vmctl_path, vmctl_path, "web", p, hp, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	if (web > 0 && read_until(pipefd[0], link, sizeof link, &len, "\n", 10000)) {
		link[strcspn(link, "\n")] = '\0';
		snprintf(keys, sizeof keys, "%d", o->keys);
		setenv("LINK", link, 1);
		setenv("CHROMIUM", o->chromium, 1);
		setenv("KEYS", keys, 1);
		status = run((char *[]){ (char *)o->node, (char *)o->key_script, NULL }, out,
			     sizeof out, NULL, true);
		if (status == 0 && sscanf(out, "keys %*d median %lf p90 %lf max %lf", &f->key_ms,
					  &f->key_p90_ms, &f->key_max_ms) == 3) {
			/* measured */
		} else {
			fprintf(stderr, "vmbench: the keystroke page: %s", *out ? out : "no output\n");
			f->key_ms = -1;
		}
		unsetenv("LINK");
	}
	close(pipefd[0]);
	if (web > 0) {
		kill(web, SIGINT);
		waitpid(web, &status, 0);
	}
}

static void bench_keys(const struct opts *o, struct figures *f)
{
	double ms;
	unsigned port;

	f->key_ms = f->tty_key_ms = -1;
	if (!o->key_script)
		return;
	port = vm_start(&ms);
	if (!port) {
		f->failed = true;
		return;
	}
	keys_web(o, port, f);
	keys_tty(o, port, f);
	vm_stop(port);
	if (f->key_ms < 0 || f->tty_key_ms < 0)
		f->failed = true;
}

static void cell(char *buf, size_t size, double v, const char *fmt)
{
	if (v < 0)
		snprintf(buf, size, "failed");
	else
		snprintf(buf, size, fmt, v);
}

/* Lower is better for every figure with a peer: "1.92x faster", "1.10x more". */
static void ratio(char *buf, size_t size, double ours, double peer, const char *better,
		  const char *worse)
{
	if (ours < 0 || peer <= 0)
		snprintf(buf, size, "-");
	else if (ours <= peer)
		snprintf(buf, size, "%.2fx %s", peer / ours, better);
	else
		snprintf(buf, size, "%.2fx %s", ours / peer, worse);
}

/* One row; verdict is "meets", "MISSES" or "" (no goal to judge). */
static void row(const char *figure, const char *ours, const char *peer, const char *r,
		const char *goal, const char *verdict)
{
	printf("%-34s %-14s %-14s %-13s %-20s %s\n", figure, ours, peer, r, goal, verdict);
}

static const char *verdict(double v, bool ok)
{
	return v < 0 ? "" : ok ? "meets" : "MISSES";
}

/* The clone's start beside the cold boot's, and beside the bare guest's. */
static void print_clone_start(const struct opts *o, const struct figures *f)
{
	const struct clone_figures *c = &f->clone;
	char a[48], b[48], r[32];

	cell(a, sizeof a, c->start_ms / 1000, "%.2f s");
	cell(b, sizeof b, f->start_ms / 1000, "%.2f s");
	ratio(r, sizeof r, c->start_ms, f->start_ms, "faster", "slower");
	row("start -> ready, clone (median)", a, b, r, "<= 150 ms",
	    verdict(c->start_ms, c->start_ms <= 150));
	if (o->peer_kernel) {
		cell(b, sizeof b, f->peer_start_ms / 1000, "%.2f s");
		ratio(r, sizeof r, c->start_ms, f->peer_start_ms, "faster", "slower");
		row("  beside the bare guest", a, b, r, "", "");
	}
}

/* Making the template: a cold boot and the save, beside a cold start. */
static void print_template(const struct figures *f)
{
	char a[48], b[48], r[32];

	cell(a, sizeof a, f->clone.template_ms / 1000, "%.2f s");
	cell(b, sizeof b, f->start_ms / 1000, "%.2f s");
	ratio(r, sizeof r, f->clone.template_ms, f->start_ms, "faster", "slower");
	row("making the template (once)", a, b, r, "(report)", "");
}

static void print_clone_exec(const struct figures *f)
{
	char a[48], b[48], r[32];

	cell(a, sizeof a, f->clone.true_ms, "%.1f ms");
	cell(b, sizeof b, f->true_ms, "%.1f ms");
	ratio(r, sizeof r, f->clone.true_ms, f->true_ms, "faster", "slower");
	row("exec -- true round trip, clone", a, b, r, "<= 30 ms",
	    verdict(f->clone.true_ms, f->clone.true_ms <= 30));
}

/* The large upload beside the cold figure (into a home in RAM); when it failed, why,
 * in one line under it. */
static void print_upload(const struct opts *o, const struct figures *f)
{
	const struct clone_figures *c = &f->clone;
	char a[48], b[48], r[32], fig[48];

	if (o->upload_mbytes % 1000 == 0)
		snprintf(fig, sizeof fig, "%ld GB vmctl cp upload, clone", o->upload_mbytes / 1000);
	else
		snprintf(fig, sizeof fig, "%ld MB vmctl cp upload, clone", o->upload_mbytes);
	cell(a, sizeof a, c->upload_mb_s, "%.1f MB/s");
	cell(b, sizeof b, f->up_mb_s, "%.1f MB/s");
	ratio(r, sizeof r, f->up_mb_s, c->upload_mb_s, "faster", "slower");	/* higher is better */
	row(fig, a, b, r, ">= 25 MB/s", verdict(c->upload_mb_s, c->upload_mb_s >= 25));
	if (c->upload_mb_s < 0)
		printf("  failed: %s\n", c->upload_err);
}

/* A clone's idle memory beside a cold sandbox's. */
static void print_clone_mem(const struct figures *f)
{
	const struct clone_figures *c = &f->clone;
	char a[48], b[48], r[32];

	cell(a, sizeof a, c->mem.rss, "%.1f MiB");
	cell(b, sizeof b, f->mem.rss, "%.1f MiB");
	ratio(r, sizeof r, c->mem.rss, f->mem.rss, "less", "more");
	row("idle host RSS of one VM, clone", a, b, r, "<= 64 MiB",
	    verdict(c->mem.rss, c->mem.rss <= 64));
	cell(a, sizeof a, c->mem.anon, "%.1f MiB");
	cell(b, sizeof b, f->mem.anon, "%.1f MiB");
	ratio(r, sizeof r, c->mem.anon, f->mem.anon, "less", "more");
	row("  of which its own (anonymous)", a, b, r, "(rest: shared files)", "");
}

static void print_clone_pss(const struct opts *o, const struct figures *f)
{
	char a[48], b[48], r[32], fig[48];
	double cold = f->many_ok ? f->many_pss / f->many_ok : -1;

	snprintf(fig, sizeof fig, "PSS per VM, %d clones at once", o->pss_at);
	cell(a, sizeof a, f->clone.pss, "%.1f MiB");
	cell(b, sizeof b, cold, "%.1f MiB");
	ratio(r, sizeof r, f->clone.pss, cold, "less", "more");
	row(fig, a, b, r, "<= 48 MiB", verdict(f->clone.pss, f->clone.pss <= 48));
}

/* How many clones ran at once, all answering, and what they cost idle. */
static void print_at_once(const struct opts *o, const struct figures *f)
{
	const struct clone_figures *c = &f->clone;
	char a[48], b[48], r[32], fig[48];

	snprintf(a, sizeof a, "%d of %d", c->answering, o->many);
	row("clones at once, answering", a, "-", "-", ">= 100",
	    c->answering >= 100 && c->answering == o->many ? "meets" : "MISSES");
	snprintf(fig, sizeof fig, "idle host CPU, %d clones (10 s)", c->at_once);
	cell(a, sizeof a, c->cpu_cores, "%.2f cores");
	row(fig, a, "-", "-", "<= 1 core (aim)", verdict(c->cpu_cores, c->cpu_cores <= 1));
	cell(a, sizeof a, c->cpu_each * 100, "%.2f %%");
	cell(b, sizeof b, f->many_cpu_each * 100, "%.2f %%");
	ratio(r, sizeof r, c->cpu_each, f->many_cpu_each, "less", "more");
	row("  per sandbox, of one core", a, b, r, "", "");
}

static void print_clone_notes(const struct opts *o, const struct figures *f)
{
	const struct clone_figures *c = &f->clone;

	printf("clone: median of %d starts from the template `vmctl template build` made first "
	       "(in the run's\n  empty cache); memory: the first %d, %d s after ready; exec: "
	       "median of %d on the last;\n  the peer of a clone's row is the cold boot "
	       "(vmctl start --cold), median of %d;\nupload: %ld MB of random bytes into a "
	       "default sandbox's home, its size checked in the guest;\nat once: %d clones "
	       "started of %d asked, PSS read with %d running; idle CPU: the QEMUs'\n  utime + "
	       "stime over %d s (/proc/PID/stat), beside %d cold ones per sandbox.\n",
	       c->starts_ok, c->nmem, SETTLE_MS / 1000, o->execs, f->starts_ok,
	       o->upload_mbytes, c->at_once, o->many, o->pss_at, IDLE_CPU_MS / 1000, o->vms);
}

static void print_table(const struct opts *o, const struct figures *f)
{
	char a[48], b[48], r[32], many[64], fig[48];
	const char *nopeer = "-";

	printf("\nvmctl sandbox (QEMU TCG) beside a bare busybox guest on QEMU's defaults, and a "
	       "clone of\nits template beside the cold boot\n\n");
	row("figure", "ours", "peer", "ratio", "goal", "");
	print_clone_start(o, f);
	cell(a, sizeof a, f->start_ms / 1000, "%.2f s");
	cell(b, sizeof b, f->peer_start_ms / 1000, "%.2f s");
	ratio(r, sizeof r, f->start_ms, f->peer_start_ms, "faster", "slower");
	row("start -> ready, cold (median)", a, o->peer_kernel ? b : nopeer, r, "<= 3 s; aim 1.5 s",
	    f->start_ms < 0 ? "" : f->start_ms <= 1500 ? "meets the aim" :
	    f->start_ms <= 3000 ? "meets 3 s" : "MISSES");
	print_template(f);
	print_clone_exec(f);
	cell(a, sizeof a, f->true_ms, "%.1f ms");
	row("exec -- true round trip, cold", a, nopeer, "-", "<= 50 ms",
	    verdict(f->true_ms, f->true_ms <= 50));
	cell(a, sizeof a, f->raw_ms, "%.1f ms");
	row("exec --raw -- true round trip", a, nopeer, "-", "(no sandbox-helper)", "");
	cell(a, sizeof a, f->mb_s, "%.1f MB/s");
	row("stdout throughput guest -> host", a, nopeer, "-", ">= 20 MB/s",
	    verdict(f->mb_s, f->mb_s >= 20));
	cell(a, sizeof a, f->up_mb_s, "%.1f MB/s");
	row("vmctl cp upload", a, nopeer, "-", ">= 20 MB/s", verdict(f->up_mb_s, f->up_mb_s >= 20));
	cell(a, sizeof a, f->down_mb_s, "%.1f MB/s");
	row("vmctl cp download", a, nopeer, "-", ">= 20 MB/s",
	    verdict(f->down_mb_s, f->down_mb_s >= 20));
	print_upload(o, f);
	if (o->key_script) {
		cell(a, sizeof a, f->key_ms, "%.2f ms");
		cell(b, sizeof b, f->tty_key_ms, "%.2f ms");
		ratio(r, sizeof r, f->key_ms, f->tty_key_ms, "faster", "slower");
		row("keystroke -> echo, vmctl web", a, b, r, "<= 30 ms",
		    verdict(f->key_ms, f->key_ms <= 30));
	}
	print_clone_mem(f);
	cell(a, sizeof a, f->mem.rss, "%.1f MiB");
	cell(b, sizeof b, f->peer_mem.rss, "%.1f MiB");
	ratio(r, sizeof r, f->mem.rss, f->peer_mem.rss, "less", "more");
	row("idle host RSS of one VM, cold", a, o->peer_kernel ? b : nopeer, r, "<= 160 MiB",
	    verdict(f->mem.rss, f->mem.rss <= 160));
	cell(a, sizeof a, f->mem.anon, "%.1f MiB");
	cell(b, sizeof b, f->peer_mem.anon, "%.1f MiB");
	ratio(r, sizeof r, f->mem.anon, f->peer_mem.anon, "less", "more");
	row("  of which its own (anonymous)", a, o->peer_kernel ? b : nopeer, r,
	    "(rest: shared files)", "");
	print_clone_pss(o, f);
	snprintf(fig, sizeof fig, "PSS per VM, %d cold at once", o->vms);
	cell(a, sizeof a, f->many_ok ? f->many_pss / f->many_ok : -1, "%.1f MiB");
	row(fig, a, nopeer, "-", "(shared pages split)", "");
	print_at_once(o, f);
	snprintf(many, sizeof many, "%d of %d", f->many_ok, o->vms);
	row("cold sandboxes at once, answering", many, nopeer, "-", ">= 10",
	    f->many_ok >= 10 && f->many_ok == o->vms ? "meets" : "MISSES");
	printf("\ncold start: %d runs; exec: median of %d; throughput: %ld MB of stdout from "
	       "dd, sandboxed;\ncp: %ld MB of random bytes in and out of the home (a 1 GiB VM), "
	       "checked;\nmemory: QEMU's smaps_rollup %d s after ready; %d at once: "
	       "%.0f MiB of RSS, %.0f MiB of PSS in all.\n", f->starts_ok, o->execs, o->mbytes,
	       o->cp_mbytes,
	       SETTLE_MS / 1000, o->vms, f->many_rss, f->many_pss);
	print_clone_notes(o, f);
	if (o->key_script)
		printf("keystrokes, on a clone: median of %d in the page in headless Chromium (p90 "
		       "%.2f ms,\n  max %.2f ms); its peer: the same keys through vmctl exec --tty on a "
		       "pseudo-terminal (max %.2f ms).\n", o->keys, f->key_p90_ms, f->key_max_ms,
		       f->tty_key_max_ms);
}

static _Noreturn void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: vmbench --vmctl PATH [--peer-kernel K --peer-initrd I] [--starts N]\n"
		"               [--clones N] [--execs N] [--vms N] [--many N] [--pss-at N]\n"
		"               [--mbytes N] [--cp-mbytes N] [--upload-mbytes N]\n"
		"               [--node NODE --key-script JS [--chromium PATH] [--keys N]]\n"
		"               [--pause-only]\n\n"
		"  --vmctl PATH     the vmctl to measure (it finds its guest beside itself)\n"
		"  --peer-kernel K, --peer-initrd I\n"
		"                   the bare guest booted on QEMU's defaults beside ours\n"
		"  --starts N       cold boots of each, for the start and RSS figures (default 3)\n"
		"  --clones N       starts of a clone of the template (default 10)\n"
		"  --execs N        round trips per exec figure (default 20)\n"
		"  --vms N          cold sandboxes started at once (default 10)\n"
		"  --many N         clones started at once, at most (default 100)\n"
		"  --pss-at N       clones running when their PSS is read (default 20)\n"
		"  --mbytes N       MB of stdout for the throughput figure (default 64)\n"
		"  --cp-mbytes N    MB copied each way by vmctl cp (default 100)\n"
		"  --upload-mbytes N\n"
		"                   MB uploaded into a default sandbox (default 1000)\n"
		"  --node NODE, --key-script JS\n"
		"                   node and bench/keylatency.js (NODE_PATH must hold\n"
		"                   playwright-core): the keystroke figure of vmctl web\n"
		"  --chromium PATH  the browser it drives (default /usr/bin/chromium)\n"
		"  --keys N         keystrokes timed each way (default 50)\n"
		"  --pause-only     only the pause, resume and fork figures\n");
	exit(status);
}

static long number(const char *opt, const char *s, long lo, long hi)
{
	long v;

	if (parse_long_in(s, lo, hi, &v) < 0) {
		fprintf(stderr, "vmbench: %s wants a whole number from %ld to %ld, not \"%s\".\n",
			opt, lo, hi, s);
		exit(2);
	}
	return v;
}

/* --- pause, resume, fork ---------------------------------------------------------------- */

#define PAUSE_RUNS 5
#define FORK_RUNS 3
#define FORK_N 10

struct pause_figures {
	double pause_ms, resume_ms, fork_ms;	/* medians; -1 when not measured */
	int pauses, forks;			/* runs that worked */
	bool failed;
};

/* vmctl ARGS... on port: 0 with the wall time in *ms, the output in out. */
static int vmctl_timed(const char *cmd, unsigned port, const char *extra, const char *n, double *ms,
		       char *out, size_t size)
{
	char p[16];
	double t0 = now_ms();
	int st;

	snprintf(p, sizeof p, "%u", port);
	st = run((char *[]){ (char *)vmctl_path, (char *)cmd, p, (char *)extra, (char *)n, NULL },
		 out, size, NULL, true);
	*ms = now_ms() - t0;
	return st;
}

/* Of a default (128 MiB) sandbox with a counter loop running: pause and resume,
 * PAUSE_RUNS times; fork -n FORK_N (vmctl fork returns once each new sandbox has
 * answered with its own secret), FORK_RUNS times, the ten stopped after each. */
static void bench_pause(struct pause_figures *pf)
{
	double pauses[PAUSE_RUNS], resumes[PAUSE_RUNS], forks[FORK_RUNS], ms;
	char out[4096];
	unsigned port;

	*pf = (struct pause_figures){ .pause_ms = -1, .resume_ms = -1, .fork_ms = -1 };
	port = vm_start(&ms);
	if (!port) {
		pf->failed = true;
		return;
	}
	vm_exec(port, true, (char *[]){ "sh", "-c", "setsid sh -c 'i=0; while :; do i=$((i+1)); "
					"echo $i > /tmp/count; sleep 0.1; done' </dev/null >/dev/null "
					"2>&1 &", NULL }, NULL, -1, NULL);
	for (int i = 0; i < PAUSE_RUNS; i++) {
		unsigned back;

		if (vmctl_timed("pause", port, NULL, NULL, &pauses[pf->pauses], out, sizeof out) != 0) {
			fprintf(stderr, "vmbench: vmctl pause failed.\n");
			break;
		}
		if (vmctl_timed("resume", port, NULL, NULL, &resumes[pf->pauses], out, sizeof out) != 0 ||
		    sscanf(out, "%u", &back) != 1) {
			fprintf(stderr, "vmbench: vmctl resume failed (%s).\n", out);
			forget_port(port);
			port = 0;
			break;
		}
		if (back != port) {
			forget_port(port);
			port = back;
			live_ports[nlive++] = port;
		}
		pf->pauses++;
	}
	for (int i = 0; port && i < FORK_RUNS; i++) {
		unsigned kids[FORK_N];
		int nk = 0;
		char *line, *save = NULL;

		if (vmctl_timed("fork", port, "-n", "10", &forks[pf->forks], out, sizeof out) != 0) {
			fprintf(stderr, "vmbench: vmctl fork -n %d failed.\n", FORK_N);
			break;
		}
		for (line = strtok_r(out, "\n", &save); line && nk < FORK_N; line = strtok_r(NULL, "\n", &save))
			if (sscanf(line, "%u", &kids[nk]) == 1 && nlive < (int)(sizeof live_ports / sizeof *live_ports))
				live_ports[nlive++] = kids[nk++];
		for (int k = 0; k < nk; k++)
			vm_stop(kids[k]);
		if (nk != FORK_N) {
			fprintf(stderr, "vmbench: vmctl fork -n %d printed %d ports.\n", FORK_N, nk);
			break;
		}
		pf->forks++;
	}
	if (port)
		vm_stop(port);
	if (pf->pauses) {
		pf->pause_ms = median(pauses, pf->pauses);
		pf->resume_ms = median(resumes, pf->pauses);
	}
	if (pf->forks)
		pf->fork_ms = median(forks, pf->forks);
	pf->failed = pf->pauses < PAUSE_RUNS || pf->forks < FORK_RUNS;
}

static void print_pause(const struct pause_figures *pf)
{
	char a[48];

	printf("\n");
	row("figure", "ours", "peer", "ratio", "goal", "");
	cell(a, sizeof a, pf->pause_ms, "%.0f ms");
	row("vmctl pause, 128 MiB (median)", a, "-", "-", "<= 1 s",
	    verdict(pf->pause_ms, pf->pause_ms <= 1000));
	cell(a, sizeof a, pf->resume_ms, "%.0f ms");
	row("vmctl resume (median)", a, "-", "-", "<= 200 ms",
	    verdict(pf->resume_ms, pf->resume_ms <= 200));
	cell(a, sizeof a, pf->fork_ms / 1000, "%.2f s");
	row("vmctl fork -n 10, all answering", pf->fork_ms < 0 ? "failed" : a, "-", "-", "<= 1.5 s",
	    verdict(pf->fork_ms, pf->fork_ms <= 1500));
	printf("\npause/resume: median of %d on one sandbox with a counter loop; fork: median "
	       "of %d, each\nfork -n 10 until vmctl has seen all ten answer with their own "
	       "secrets.\n", pf->pauses, pf->forks);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vmctl", required_argument, NULL, 'v' },
		{ "peer-kernel", required_argument, NULL, 'k' },
		{ "peer-initrd", required_argument, NULL, 'i' },
		{ "starts", required_argument, NULL, 's' },
		{ "execs", required_argument, NULL, 'e' },
		{ "vms", required_argument, NULL, 'n' },
		{ "mbytes", required_argument, NULL, 'm' },
		{ "cp-mbytes", required_argument, NULL, 'c' },
		{ "clones", required_argument, NULL, 'L' },
		{ "many", required_argument, NULL, 'M' },
		{ "pss-at", required_argument, NULL, 'P' },
		{ "upload-mbytes", required_argument, NULL, 'U' },
		{ "node", required_argument, NULL, 'N' },
		{ "key-script", required_argument, NULL, 'K' },
		{ "chromium", required_argument, NULL, 'C' },
		{ "keys", required_argument, NULL, 'y' },
		{ "pause-only", no_argument, NULL, 'Z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .starts = 3, .execs = 20, .vms = 10, .keys = 50, .mbytes = 64,
			  .cp_mbytes = 100, .chromium = "/usr/bin/chromium", .clones = 10,
			  .many = 100, .pss_at = 20, .upload_mbytes = 1000 };
	struct figures f = { 0 };
	struct pause_figures pf;
	bool pause_only = false;
	int c;

	prog_name = "vmbench";
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'v': o.vmctl = optarg; break;
		case 'k': o.peer_kernel = optarg; break;
		case 'i': o.peer_initrd = optarg; break;
		case 's': o.starts = (int)number("--starts", optarg, 1, MAX_RUNS); break;
		case 'e': o.execs = (int)number("--execs", optarg, 1, MAX_RUNS); break;
		case 'n': o.vms = (int)number("--vms", optarg, 1, MAX_VMS); break;
		case 'm': o.mbytes = number("--mbytes", optarg, 1, 4096); break;
		case 'c': o.cp_mbytes = number("--cp-mbytes", optarg, 1, 800); break;
		case 'L': o.clones = (int)number("--clones", optarg, 1, MAX_RUNS); break;
		case 'M': o.many = (int)number("--many", optarg, 1, MAX_MANY); break;
		case 'P': o.pss_at = (int)number("--pss-at", optarg, 1, MAX_MANY); break;
		case 'U': o.upload_mbytes = number("--upload-mbytes", optarg, 1, 16000); break;
		case 'N': o.node = optarg; break;
		case 'K': o.key_script = optarg; break;
		case 'C': o.chromium = optarg; break;
		case 'y': o.keys = (int)number("--keys", optarg, 1, 200); break;
		case 'Z': pause_only = true; break;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc || !o.vmctl)
		usage(2);
	if (!o.node != !o.key_script) {
		fprintf(stderr, "vmbench: --node and --key-script go together.\n");
		return 2;
	}
	if (!o.peer_kernel != !o.peer_initrd) {
		fprintf(stderr, "vmbench: --peer-kernel and --peer-initrd go together.\n");
		return 2;
	}
	if (o.pss_at > o.many) {
		fprintf(stderr, "vmbench: --pss-at %d is more clones than --many %d starts.\n",
			o.pss_at, o.many);
		return 2;
	}
	if (access(o.vmctl, X_OK) != 0) {
		fprintf(stderr, "vmbench: cannot run %s: %s.\n", o.vmctl, strerror(errno));
		return 2;
	}
	vmctl_path = o.vmctl;
	atexit(sweep);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (own_dirs() < 0)
		return 1;

	if (pause_only) {
		bench_pause(&pf);
		print_pause(&pf);
		return pf.failed ? 1 : 0;
	}
	bench_peer(&o, &f);
	bench_ours(&o, &f);
	bench_files(&o, &f);
	bench_clone(&o, &f);
	bench_upload(&o, &f);
	bench_keys(&o, &f);
	bench_many(&o, &f);
	bench_at_once(&o, &f);
	bench_pause(&pf);
	print_table(&o, &f);
	print_pause(&pf);
	return f.failed || pf.failed ? 1 : 0;
}
