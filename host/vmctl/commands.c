/* commands.c - vmctl start, stop and list (exec is in exec.c). */
#include "commands.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bootcfg.h"
#include "cli.h"
#include "client.h"
#include "qmp.h"
#include "state.h"
#include "text.h"

/* What a sandbox gets unless told otherwise: enough for busybox and small tools, and
 * small enough that ten fit with room to spare (the goal is <= 160 MiB of host RSS). */
#define DEFAULT_MEMORY_MIB 128
#define DEFAULT_CPUS 1
#define TB_SIZE_MIB 32		/* TCG's translation cache; QEMU's default is far larger */
#define GUEST_PORT 8080
#define BOOT_TIMEOUT_MS 60000	/* TCG on a loaded machine; the goal is 3 s */
#define STOP_TIMEOUT_MS 10000
/* Polling for vmd while the sandbox boots: see cmd_start. */
#define PING_SHORT_MS 200	/* a ping's deadline for the first PING_SHORT_FOR_MS */
#define PING_SHORT_FOR_MS 6000
#define PING_LONG_MS 1000	/* then: a loaded host answers slowly */
#define PING_INTERVAL_MS 20

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The folder this vmctl binary is in: the built guest and qemu-boot are found beside
 * it (build/ in the source tree, PREFIX/bin + PREFIX/share when installed). */
static int self_dir(char *buf, size_t size, struct msg *m)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	char *slash;

	if (n <= 0)
		return fail_errno(m, "cannot find where vmctl is installed");
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	return 0;
}

/* The first of the candidates that exists, or -1 naming the first one. */
static int first_existing(char *out, size_t size, const char *what, const char *const *paths,
			  struct msg *m)
{
	for (size_t i = 0; paths[i]; i++)
		if (access(paths[i], R_OK) == 0) {
			snprintf(out, size, "%s", paths[i]);
			return 0;
		}
	return fail(m, "cannot find the %s (looked for %s); run make guest, or pass it.", what,
		    paths[0]);
}

/* The whole of a small text file, NUL-terminated; -1 with a sentence otherwise. */
static int read_text(const char *path, char *buf, size_t size, struct msg *m)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd == -1)
		return fail_errno(m, "cannot read %s", path);
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return fail_errno(m, "cannot read %s", path);
		}
		n += (size_t)r;
	}
	close(fd);
	if (n == size - 1)
		return fail(m, "%s is larger than %zu bytes.", path, size - 2);
	buf[n] = '\0';
	return 0;
}

/* KVM when it can work, else TCG; the launcher is told which, so both agree. */
static bool use_kvm(void)
{
	static char cpuinfo[1 << 16];
	struct msg ignore = { 0 };

	if (access("/dev/kvm", R_OK | W_OK) != 0 ||
	    read_text("/proc/cpuinfo", cpuinfo, sizeof cpuinfo, &ignore) < 0)
		return false;
	return bootcfg_kvm_usable(cpuinfo, true);
}

/* The kernel command line: the built guest's own (the cmdline file beside its kernel),
 * or a plain serial console for a kernel the user passed. */
static int kernel_cmdline(const struct vmctl_args *a, const char *kernel, bool kvm, char *out,
			  size_t size, struct msg *m)
{
	char path[PATH_MAX + 16], text[8192];
	const char *slash = strrchr(kernel, '/');

	if (a->kernel)
		return bootcfg_cmdline(BOOTCFG_DEFAULT_CMDLINE, kvm, out, size, m);
	snprintf(path, sizeof path, "%.*s/cmdline", slash ? (int)(slash - kernel) : 1,
		 slash ? kernel : ".");
	if (read_text(path, text, sizeof text, m) < 0)
		return -1;
	return bootcfg_cmdline(text, kvm, out, size, m);
}

static int find_guest(const struct vmctl_args *a, struct vm_state *s, char *launcher,
		      size_t lsize, struct msg *m)
{
	char dir[PATH_MAX], k1[PATH_MAX + 32], k2[PATH_MAX + 64], i1[PATH_MAX + 32],
	     i2[PATH_MAX + 64], l1[PATH_MAX + 32], l2[PATH_MAX + 32];
	const char *env = getenv("VMCTL_QEMU_BOOT");

	if (self_dir(dir, sizeof dir, m) < 0)
		return -1;
	snprintf(k1, sizeof k1, "%s/guest/vmlinuz", dir);
	snprintf(k2, sizeof k2, "%s/../share/clientapi/guest/vmlinuz", dir);
	snprintf(i1, sizeof i1, "%s/guest/initrd.img", dir);
	snprintf(i2, sizeof i2, "%s/../share/clientapi/guest/initrd.img", dir);
	snprintf(l1, sizeof l1, "%s/qemu-boot", dir);
	snprintf(l2, sizeof l2, "%s/../host/qemu-boot", dir);
	if (a->kernel) {
		if (!realpath(a->kernel, s->kernel))
			return fail_errno(m, "cannot read the kernel %s", a->kernel);
	} else if (first_existing(s->kernel, sizeof s->kernel, "guest kernel",
				  (const char *const[]){ k1, k2, NULL }, m) < 0) {
		return -1;
	}
	if (a->initrd) {
		if (!realpath(a->initrd, s->initrd))
			return fail_errno(m, "cannot read the initramfs %s", a->initrd);
	} else if (!a->kernel && first_existing(s->initrd, sizeof s->initrd, "guest initramfs",
						(const char *const[]){ i1, i2, NULL }, m) < 0) {
		return -1;
	}
	if (env && *env) {
		snprintf(launcher, lsize, "%s", env);
		return 0;
	}
	return first_existing(launcher, lsize, "QEMU launcher qemu-boot",
			      (const char *const[]){ l1, l2, NULL }, m);
}

/* 32 random bytes as 64 hex digits. */
static int make_secret(char out[SECRET_HEX + 1], struct msg *m)
{
	unsigned char r[SECRET_HEX / 2];

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return fail_errno(m, "cannot get random bytes for the VM's secret");
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* A port nobody listens on now: bind 127.0.0.1:0 and read what the kernel chose.
 * Someone may take it before QEMU does; start then retries with another. */
static int free_port(unsigned *port, struct msg *m)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1 || bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) == -1) {
		fail_errno(m, "cannot find a free port on 127.0.0.1");
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	*port = ntohs(addr.sin_port);
	return 0;
}

static int write_secret_file(const char *path, const char *secret, struct msg *m)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(secret);

	if (fd == -1)
		return fail_errno(m, "cannot create %s", path);
	if (write(fd, secret, len) != (ssize_t)len || close(fd) == -1) {
		unlink(path);
		return fail_errno(m, "cannot write %s", path);
	}
	return 0;
}

/* QEMU refuses writes to a read-only share, but the guest cannot tell which shares
 * are: their tags travel on the kernel's command line (vmd.ro_shares=A,B), and init
 * mounts those read-only. Tags are plain words (vmctl_share_tag_ok). */
static int ro_shares_word(const struct vmctl_args *a, char *cmdline, size_t size, struct msg *m)
{
	size_t len = strlen(cmdline);
	const char *sep = " vmd.ro_shares=";

	for (int i = 0; i < a->nshares; i++) {
		if (!a->shares[i].read_only)
			continue;
		int n = snprintf(cmdline + len, size - len, "%s%s", sep, a->shares[i].tag);

		if (n < 0 || (size_t)n >= size - len)
			return fail(m, "the kernel command line is too long for %d shares.",
				    a->nshares);
		len += (size_t)n;
		sep = ",";
	}
	return 0;
}

/* Start the launcher in its own session (QEMU outlives vmctl), its output in a log. */
static pid_t launch(const char *launcher, const struct vmctl_args *a, const struct vm_state *s,
		    const char *dir, struct msg *m)
{
	char cmdline[BOOTCFG_CMDLINE_MAX], fwd[32], mem[16], cpus[16], tb[16], qmp[4200], log[4200], secret[4200],
	     console[4300], fwcfg[4300], shares[VMCTL_MAX_SHARES][PATH_MAX + 300];
	const char *argv[40 + 2 * VMCTL_MAX_SHARES];	/* 29 fixed, 2 per share, NULL */
	int n = 0;
	pid_t pid;
	bool kvm = use_kvm();

	if (kernel_cmdline(a, s->kernel, kvm, cmdline, sizeof cmdline, m) < 0 ||
	    ro_shares_word(a, cmdline, sizeof cmdline, m) < 0)
		return -1;
	snprintf(fwd, sizeof fwd, "%u:%d", s->port, GUEST_PORT);
	snprintf(mem, sizeof mem, "%u", s->memory_mib);
	snprintf(cpus, sizeof cpus, "%u", s->cpus);
	snprintf(tb, sizeof tb, "%d", TB_SIZE_MIB);
	state_path(qmp, sizeof qmp, dir, s->port, "qmp");
	state_path(log, sizeof log, dir, s->port, "log");
	state_path(secret, sizeof secret, dir, s->port, "secret");
	snprintf(console, sizeof console, "file:%s/%u.console", dir, s->port);
	snprintf(fwcfg, sizeof fwcfg, "opt/vmd/secret=%s", secret);
	argv[n++] = launcher;
	argv[n++] = "--accel";
	argv[n++] = kvm ? "kvm" : "tcg";
	argv[n++] = "--kernel";
	argv[n++] = s->kernel;
	if (*s->initrd) {
		argv[n++] = "--initrd";
		argv[n++] = s->initrd;
	}
	argv[n++] = "--append";
	argv[n++] = cmdline;
	argv[n++] = "--memory";
	argv[n++] = mem;
	argv[n++] = "--cpus";
	argv[n++] = cpus;
	argv[n++] = "--tb-size";
	argv[n++] = tb;
	/* No display adapter: nothing looks at one, and its memory and option ROM cost
	 * 2 MiB of host memory. The balloon's free page reporting hands what the guest
	 * frees back to the host: 22 MiB less resident once it idles (see guest/init). */
	argv[n++] = "--vga";
	argv[n++] = "none";
	argv[n++] = "--balloon";
	/* Not qboot (qemu-boot --bios /usr/share/qemu/qboot.rom): it starts the kernel
	 * 0.1-0.15 s sooner than SeaBIOS, but of about 45 boots with it (pc and microvm)
	 * one hung in early kernel setup and one took 30 s; none of about 60 with
	 * SeaBIOS did. */
	argv[n++] = "--forward";
	argv[n++] = fwd;
	argv[n++] = "--fw-cfg";
	argv[n++] = fwcfg;
	argv[n++] = "--qmp";
	argv[n++] = qmp;
	argv[n++] = "--serial";
	argv[n++] = console;
	for (int i = 0; i < a->nshares; i++) {
		char real[PATH_MAX];

		if (!realpath(a->shares[i].host, real))
			return fail_errno(m, "cannot share %s", a->shares[i].host);
		/* the mode always given: qemu-boot splits PATH:TAG:MODE from the right */
		snprintf(shares[i], sizeof shares[i], "%s:%s:%s", real, a->shares[i].tag,
			 a->shares[i].read_only ? "ro" : "rw");
		argv[n++] = "--share";
		argv[n++] = shares[i];
	}
	if (a->image)
		argv[n++] = a->image;
	argv[n] = NULL;

	pid = fork();
	if (pid == -1)
		return fail_errno(m, "cannot start QEMU");
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR), out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (null == -1 || out == -1 || dup2(null, 0) == -1 || dup2(out, 1) == -1 ||
		    dup2(out, 2) == -1 || setsid() == -1)
			_exit(127);
		execv(launcher, (char *const *)argv);
		dprintf(2, "vmctl: cannot run %s: %s\n", launcher, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* The last line QEMU or the launcher wrote, to explain a failed start; escaped, as
 * what QEMU logs can quote the guest. */
static void last_log_line(const char *dir, unsigned port, char *out, size_t size)
{
	char path[4200], buf[4096];
	const char *line;
	ssize_t n;
	int fd;

	out[0] = '\0';
	state_path(path, sizeof path, dir, port, "log");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	line = strrchr(buf, '\n') ? strrchr(buf, '\n') + 1 : buf;
	text_escape(out, size, line, strnlen(line, 300));
}

/* Progress on a terminal: one line, rewritten. Nothing when stderr is not a tty. */
static void progress(const char *what, long long t0)
{
	if (isatty(2))
		fprintf(stderr, "\rvmctl: %s (%.1f s)\033[K", what, (double)(now_ms() - t0) / 1000);
}

static void progress_done(void)
{
	if (isatty(2))
		fprintf(stderr, "\r\033[K");
}

int cmd_start(const struct vmctl_args *a, struct msg *m)
{
	char dir[PATH_MAX], launcher[PATH_MAX + 32], path[4200], why[512];
	struct vm_state s = { 0 };
	long long t0 = now_ms();

	if (state_dir(dir, sizeof dir, m) < 0 || find_guest(a, &s, launcher, sizeof launcher, m) < 0 ||
	    make_secret(s.secret, m) < 0)
		return -1;
	for (int i = 0; i < a->nshares; i++) {
		struct stat st;

		if (stat(a->shares[i].host, &st) == -1)
			return fail_errno(m, "cannot share %s", a->shares[i].host);
		if (!S_ISDIR(st.st_mode))
			return fail(m, "cannot share %s: it is not a folder.", a->shares[i].host);
	}
	s.memory_mib = a->memory_mib ? a->memory_mib : DEFAULT_MEMORY_MIB;
	s.cpus = a->cpus ? a->cpus : DEFAULT_CPUS;
	s.started = (long long)time(NULL);

	/* A port can be taken between free_port and QEMU's bind: then QEMU fails at once,
	 * and another port is tried. */
	for (int attempt = 0; attempt < 5; attempt++) {
		int status;

		if (free_port(&s.port, m) < 0 || state_create(dir, &s, m) < 0)
			return -1;
		state_path(path, sizeof path, dir, s.port, "secret");
		if (write_secret_file(path, s.secret, m) < 0) {
			state_remove(dir, s.port);
			return -1;
		}
		s.pid = launch(launcher, a, &s, dir, m);
		if (s.pid < 0) {
			state_remove(dir, s.port);
			return -1;
		}
		/* Its start time makes the pid ours for good: recorded before anything else. */
		for (int k = 0; k < 100 && !(s.pid_start = pid_start_time(s.pid)); k++)
			sleep_ms(1);
		if (state_save(dir, &s, m) < 0) {
			kill(s.pid, SIGKILL);
			waitpid(s.pid, NULL, 0);
			state_remove(dir, s.port);
			return -1;
		}
		progress("booting the sandbox", t0);
		while (now_ms() - t0 < BOOT_TIMEOUT_MS) {
			struct msg ping;

			if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
				s.pid = 0;
				break;
			}
			/* Until the guest's network is up, QEMU's user network accepts the
			 * connection and holds it unanswered, so an early ping waits out its
			 * whole deadline (1 s made start 3.3 s where vmd was ready at 2.3 s):
			 * short deadlines while a healthy boot would still be coming up (a
			 * ready guest answers in 10-60 ms under TCG), then a generous one
			 * for a loaded host. */
			if (client_ping(s.port, s.secret,
					now_ms() - t0 < PING_SHORT_FOR_MS ? PING_SHORT_MS : PING_LONG_MS,
					&ping) == 0) {
				/* QEMU has read the secret into the guest: no copy on disk
				 * but the 0600 state file. */
				state_path(path, sizeof path, dir, s.port, "secret");
				unlink(path);
				progress_done();
				printf("%u\n", s.port);
				return 0;
			}
			progress("booting the sandbox", t0);
			sleep_ms(PING_INTERVAL_MS);
		}
		progress_done();
		last_log_line(dir, s.port, why, sizeof why);
		if (s.pid) {	/* it ran, but vmd never answered */
			kill(s.pid, SIGKILL);
			waitpid(s.pid, NULL, 0);
			state_remove(dir, s.port);
			return fail(m, "the sandbox did not answer within %d s%s%s", BOOT_TIMEOUT_MS / 1000,
				    *why ? "; QEMU said: " : ".", why);
		}
		state_remove(dir, s.port);
		if (!strstr(why, "host forwarding"))
			return fail(m, "QEMU stopped while starting the sandbox%s%s",
				    *why ? ": " : ".", why);
	}
	return fail(m, "could not get a free port for the sandbox after 5 tries.");
}

/* Wait until the recorded QEMU is gone, by the deadline; true if it is. */
static bool wait_gone(const struct vm_state *s, long long deadline)
{
	while (state_alive(s)) {
		if (now_ms() > deadline)
			return false;
		sleep_ms(10);
	}
	return true;
}

int cmd_stop(const struct vmctl_args *a, struct msg *m)
{
	char dir[PATH_MAX], qmp[4200];
	struct vm_state s;
	struct msg ignored;
	int fd;

	if (state_dir(dir, sizeof dir, m) < 0 || state_load(dir, a->port, &s, m) < 0)
		return -1;
	if (state_alive(&s)) {
		/* ACPI power button: the guest shuts down cleanly and QEMU exits. */
		state_path(qmp, sizeof qmp, dir, a->port, "qmp");
		fd = qmp_open(qmp, 2000, &ignored);
		if (fd != -1) {
			qmp_execute(fd, "system_powerdown", 2000, &ignored);
			close(fd);
		}
		if (!wait_gone(&s, now_ms() + STOP_TIMEOUT_MS)) {
			/* The recorded pid, and only after checking it is still that QEMU. */
			if (state_alive(&s))
				kill(s.pid, SIGTERM);
			if (!wait_gone(&s, now_ms() + 2000) && state_alive(&s))
				kill(s.pid, SIGKILL);
			if (!wait_gone(&s, now_ms() + 2000))
				return fail(m, "QEMU (pid %d) of port %u would not stop.", (int)s.pid,
					    a->port);
		}
	}
	state_remove(dir, a->port);
	return 0;
}

static int by_number(const void *x, const void *y)
{
	unsigned a = *(const unsigned *)x, b = *(const unsigned *)y;

	return (a > b) - (a < b);
}

int cmd_list(const struct vmctl_args *a, struct msg *m)
{
	char dir[PATH_MAX];
	unsigned ports[1024];
	size_t n = 0;
	struct dirent *e;
	DIR *d;

	(void)a;
	if (state_dir(dir, sizeof dir, m) < 0)
		return -1;
	d = opendir(dir);
	if (!d)
		return fail_errno(m, "cannot read the state folder %s", dir);
	while ((e = readdir(d)) && n < sizeof ports / sizeof ports[0]) {
		unsigned port;
		char rest[8];

		if (sscanf(e->d_name, "%u.%7s", &port, rest) == 2 && strcmp(rest, "json") == 0 &&
		    port > 0 && port < 65536)
			ports[n++] = port;
	}
	closedir(d);
	qsort(ports, n, sizeof ports[0], by_number);
	if (n)
		printf("%-6s %-8s %-8s %-7s %-5s %s\n", "PORT", "PID", "STATE", "MEMORY", "CPUS",
		       "UPTIME");
	for (size_t i = 0; i < n; i++) {
		struct vm_state s;
		struct msg err;
		long long up;

		if (state_load(dir, ports[i], &s, &err) < 0) {
			warn("%s", err.text);
			continue;
		}
		up = (long long)time(NULL) - s.started;
		printf("%-6u %-8d %-8s %-7u %-5u %lldm%02llds\n", s.port, (int)s.pid,
		       state_alive(&s) ? "running" : "gone", s.memory_mib, s.cpus, up / 60, up % 60);
	}
	return 0;
}
