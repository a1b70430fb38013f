/* commands.c - vmctl start, stop and list (exec is in exec.c). */
#include "commands.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <netinet/in.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "bootcfg.h"
#include "cli.h"
#include "client.h"
#include "disk.h"
#include "launch.h"
#include "logring.h"
#include "pause.h"
#include "egress.h"
#include "qmp.h"
#include "state.h"
#include "template.h"
#include "text.h"

/* What a sandbox gets unless told otherwise: enough for busybox and small tools, and
 * small enough that ten fit with room to spare (the goal is <= 160 MiB of host RSS). */
#define DEFAULT_MEMORY_MIB 128
#define DEFAULT_CPUS 1
#define BOOT_TIMEOUT_MS 60000	/* TCG on a loaded machine; the goal is 3 s */
#define STOP_TIMEOUT_MS 10000
/* Polling for vmd while the sandbox boots: see cmd_start. */
#define PING_SHORT_MS 200	/* a ping's deadline for the first PING_SHORT_FOR_MS */
#define PING_SHORT_FOR_MS 6000
#define PING_LONG_MS 1000	/* then: a loaded host answers slowly */
#define PING_INTERVAL_MS 20
#define CLONE_PING_INTERVAL_MS 2	/* a clone answers within 50-100 ms */
#define MIGRATE_MS 20000	/* QMP and the migration of a template (0.6 MB) */

/* Progress on a terminal: one line, rewritten. Nothing when stderr is not a tty. */
static void progress(const char *what, long long t0)
{
	if (isatty(2))
		fprintf(stderr, "\rvmctl: %s (%.1f s)\033[K", what, (double)(monotonic_ms() - t0) / 1000);
}

static void progress_done(void)
{
	if (isatty(2))
		fprintf(stderr, "\r\033[K");
}

/* Whether the file holds text (a console log of at most a few MiB). */
static bool file_has(const char *path, const char *text)
{
	static char buf[LOGRING_CONSOLE_CAP + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return false;
	n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return memmem(buf, (size_t)n, text, strlen(text)) != NULL;
}

/* How a QEMU that logged nothing ended, from its wait status. QEMU ends quietly when
 * its guest powers off (init does when vmd exits) or panics: the console says why. */
static void exit_reason(const char *dir, unsigned port, int status, char *why, size_t size)
{
	char path[4200], line[301], text[620];

	if (WIFSIGNALED(status)) {
		snprintf(why, size, "QEMU was killed by signal %d, %s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		return;
	}
	/* vmd's last words say most, then init's, then the kernel's */
	state_path(path, sizeof path, dir, port, "console");
	logring_last_line_of(path, (const char *const[]){ "vmd: ", NULL }, line, sizeof line);
	if (!*line)
		logring_last_line_of(path, (const char *const[]){ "init: ", NULL }, line, sizeof line);
	if (!*line)
		logring_last_line(path, line, sizeof line);
	text_escape(text, sizeof text, line, strlen(line));
	if (WEXITSTATUS(status) == 0)
		snprintf(why, size, "the guest powered off or panicked%s%.400s",
			 *text ? "; its console said: " : "", text);
	else
		snprintf(why, size, "QEMU exited with status %d%s%.400s", WEXITSTATUS(status),
			 *text ? "; its console said: " : "", text);
}

static void kill_qemu(pid_t pid, pid_t logger)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	logger_wait(logger);
}

/* Make the template t: boot the guest with its RAM written through to a file, wait
 * until vmd waits for its identity, save the devices. All in a folder of its own,
 * put in place whole (template_commit): nothing half made is ever taken for one. */
static int build_template(const char *cache, const struct template *t, const char *launcher,
			  const struct vmctl_args *a, const struct vm_state *base,
			  const char *disk_base, long long t0, bool *fatal, struct msg *m)
{
	char tmp[PATH_MAX + 64], ram[PATH_MAX + 80], ident[PATH_MAX + 80], console[PATH_MAX + 96],
	     qmp[PATH_MAX + 96], state[PATH_MAX + 80], disk[PATH_MAX + 80], why[512];
	struct vm_state s = *base;
	struct launch_mode mode = { .identity = ident, .mem_file = ram, .mem_shared = true,
				    .disk = disk };
	pid_t logger = -1;
	int fd, q, status;

	snprintf(tmp, sizeof tmp, "%s/%s.new.XXXXXX", cache, t->key);
	if (!mkdtemp(tmp))
		return fail_errno(m, "cannot make a folder for the template in %s", cache);
	snprintf(ram, sizeof ram, "%s/ram", tmp);
	snprintf(ident, sizeof ident, "%s/identity", tmp);
	snprintf(state, sizeof state, "%s/state", tmp);
	/* The home disk: vmd mounts it before it waits, and every clone gets a copy. */
	snprintf(disk, sizeof disk, "%s/disk", tmp);
	if (disk_create(disk_base, disk, m) < 0)
		goto fail;
	explicit_bzero(s.secret, sizeof s.secret);	/* a template has none */
	/* The RAM file, made here and not by QEMU: 0600, and its full size from the start. */
	fd = open(ram, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || ftruncate(fd, (off_t)s.memory_mib << 20) == -1) {
		fail_errno(m, "cannot make the template's memory file %s", ram);
		if (fd != -1)
			close(fd);
		goto fail;
	}
	close(fd);
	if (identity_write(ident, a, &s, true, true, m) < 0 || free_port(&s.port, m) < 0)
		goto fail;
	state_path(console, sizeof console, tmp, s.port, "console");
	state_path(qmp, sizeof qmp, tmp, s.port, "qmp");
	s.pid = launch(launcher, a, &s, tmp, &mode, &logger, m);
	if (s.pid < 0) {
		/* before QEMU ran (a share that cannot be mapped): a cold boot fails too */
		*fatal = true;
		goto fail;
	}
	while (!file_has(console, "vmd: waiting for its identity")) {
		if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
			s.pid = 0;
			logger_wait(logger);
			last_log_line(tmp, s.port, why, sizeof why);
			fail(m, "QEMU stopped while making the sandbox template%s%s",
			     *why ? ": " : ".", why);
			goto fail;
		}
		if (monotonic_ms() - t0 > BOOT_TIMEOUT_MS) {
			fail(m, "the sandbox template did not boot within %d s.", BOOT_TIMEOUT_MS / 1000);
			goto fail;
		}
		progress("making the sandbox template (once)", t0);
		sleep_ms(PING_INTERVAL_MS);
	}
	q = qmp_open(qmp, MIGRATE_MS, m);
	if (q < 0)
		goto fail;
	fd = open(state, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		fail_errno(m, "cannot create %s", state);
		close(q);
		goto fail;
	}
	status = template_save(q, fd, MIGRATE_MS, m);
	close(fd);
	if (status == 0)
		qmp_execute(q, "quit", MIGRATE_MS, m);
	close(q);
	if (status < 0)
		goto fail;
	waitpid(s.pid, NULL, 0);
	s.pid = 0;
	logger_wait(logger);
	logger = -1;
	state_remove(tmp, s.port);	/* its console, log and QMP socket */
	unlink(ident);
	if (chmod(disk, 0400) == -1) {
		fail_errno(m, "cannot make the template's disk %s read-only", disk);
		goto fail;
	}
	if (template_commit(t, tmp, m) < 0)
		goto fail;
	progress_done();
	return 0;
fail:
	progress_done();
	kill_qemu(s.pid, logger);
	{
		struct msg ignored;

		template_remove(cache, tmp, &ignored);
	}
	return -1;
}

/* The template a sandbox clones, made when missing, damaged or out of date (under
 * its lock: two starts at once make it once). NULL with a reason in why when this
 * sandbox cannot be cloned: it then boots cold, unless *fatal (the reason would stop
 * a cold boot as well). */
static const struct template *find_template(const struct vmctl_args *a, const struct vm_state *s,
					    const char *launcher, const char *disk_base,
					    unsigned long long disk_size, bool rebuild, long long t0,
					    char *why, size_t wsize, bool *fatal)
{
	static struct template t;
	char cache[PATH_MAX], cmdline[BOOTCFG_CMDLINE_MAX];
	struct msg m = { 0 };
	int lock;

	*fatal = false;
	if (a->image) {
		snprintf(why, wsize, "a sandbox with a disk image of its own is not cloned");
		return NULL;
	}
	if (a->kernel && !a->initrd) {
		snprintf(why, wsize, "a kernel without an initramfs has no vmd to wait for its "
			 "identity, so it is not cloned");
		return NULL;
	}
	if (template_cache(cache, sizeof cache, &m) < 0 ||
	    kernel_cmdline(a, s->kernel, use_kvm(), cmdline, sizeof cmdline, &m) < 0 ||
	    template_for(cache, a, s, launcher, cmdline, disk_base, disk_size, &t, &m) < 0 ||
	    (lock = template_lock(cache, &t, &m)) < 0) {
		snprintf(why, wsize, "%s", m.text);
		return NULL;
	}
	if ((rebuild || !template_valid(&t, s->memory_mib)) &&
	    build_template(cache, &t, launcher, a, s, disk_base, t0, fatal, &m) < 0) {
		snprintf(why, wsize, *fatal ? "%.500s" : "cannot make the sandbox template: %.400s",
			 m.text);
		close(lock);
		return NULL;
	}
	close(lock);
	return &t;
}

int cmd_start(const struct vmctl_args *a, struct msg *m)
{
	char dir[PATH_MAX], launcher[PATH_MAX + 32], why[512], ident[4200], disk[4200],
	     disks[PATH_MAX], base[PATH_MAX + 64];
	unsigned long long disk_size = a->disk_size ? a->disk_size : DISK_DEFAULT_SIZE;
	struct vm_state s = { 0 };
	long long t0 = monotonic_ms();
	const struct template *t = NULL;
	bool not_this_vm = false, rebuilt = false, fatal = false;

	if (state_dir(dir, sizeof dir, m) < 0 || find_guest(a, &s, launcher, sizeof launcher, m) < 0)
		return -1;
	for (int i = 0; i < a->nshares; i++) {
		struct stat st;

		if (stat(a->shares[i].host, &st) == -1)
			return fail_errno(m, "cannot share %s", a->shares[i].host);
		if (!S_ISDIR(st.st_mode))
			return fail(m, "cannot share %s: it is not a folder.", a->shares[i].host);
		/* QEMU keeps the guest's owners and modes in user.* attributes (9p's
		 * mapped-xattr), never on the host's inodes: a read-write share needs them. */
		if (!a->shares[i].read_only && getxattr(a->shares[i].host, "user.virtfs.mode", NULL, 0) == -1 &&
		    (errno == ENOTSUP || errno == EOPNOTSUPP))
			return fail(m, "cannot share %s read-write: its filesystem has no user extended "
				    "attributes, where QEMU keeps the owners and modes the guest sets "
				    "(share it read-only, or share a folder on ext4, xfs, btrfs or tmpfs).",
				    a->shares[i].host);
	}
	s.memory_mib = a->memory_mib ? a->memory_mib : DEFAULT_MEMORY_MIB;
	s.cpus = a->cpus ? a->cpus : DEFAULT_CPUS;
	s.started = (long long)time(NULL);
	if (cache_folder("disks", disks, sizeof disks, m) < 0 ||
	    disk_base(disks, disk_size, base, sizeof base, m) < 0)
		return -1;
	if (!a->cold && !(t = find_template(a, &s, launcher, base, disk_size, false, t0, why,
					    sizeof why, &fatal))) {
		if (fatal)
			return fail(m, "%s", why);
		fprintf(stderr, "vmctl: %s; booting the sandbox cold.\n", why);
	}

	/* A port can be taken between free_port and QEMU's bind: then QEMU fails at once,
	 * and another port is tried. Whoever took it may answer in QEMU's place: it gets
	 * no secret (the handshake proves it without sending it) and fails to prove it
	 * holds this one, and the next attempt tries another port. Each attempt has a
	 * secret of its own, so one a failed attempt handed to QEMU (or that a stand-in
	 * read) opens nothing later. */
	for (int attempt = 0; attempt < 5; attempt++) {
		int status = 0, ctl = -1;
		bool ended = false;	/* QEMU ended by itself, with status */
		struct launch_mode mode = { .identity = ident, .disk = disk, .ctl = &ctl };
		pid_t logger;
		bool refused = false;

		if (make_secret(s.secret, m) < 0 || free_port(&s.port, m) < 0 ||
		    state_create(dir, &s, m) < 0)
			return -1;
		state_path(ident, sizeof ident, dir, s.port, "identity");
		state_path(disk, sizeof disk, dir, s.port, "disk.qcow2");
		unlink(disk);
		if (identity_write(ident, a, &s, false, true, m) < 0 ||
		    (t ? disk_copy(t->disk, disk, false, m) : disk_create(base, disk, m)) < 0) {
			state_remove(dir, s.port);
			return -1;
		}
		if (t) {
			mode.mem_file = t->ram;
			mode.state = t->state;
		} else {
			mode.balloon = true;
		}
		s.pid = launch(launcher, a, &s, dir, &mode, &logger, m);
		if (s.pid < 0) {
			state_remove(dir, s.port);
			return -1;
		}
		/* Its start time makes the pid ours for good: recorded before anything else. */
		for (int k = 0; k < 100 && !(s.pid_start = pid_start_time(s.pid)); k++)
			sleep_ms(1);
		if (state_save(dir, &s, m) < 0 || pause_record_start(dir, a, &s, !t, m) < 0) {
			kill_qemu(s.pid, logger);
			state_remove(dir, s.port);
			return -1;
		}
		progress(t ? "starting the sandbox" : "booting the sandbox", t0);
		not_this_vm = false;
		/* Pinging before the guest runs would reach a guest that does not answer
		 * yet, whose connection QEMU's user network then holds for a second. */
		if (ctl != -1 &&
		    qmp_wait_words(&(struct qmp_reader){ .fd = ctl },
				   (const char *const[]){ "\"RESUME\"", NULL }, MIGRATE_MS, why,
				   sizeof why) < 0) {
			refused = *why != '\0';
			if (!refused && waitpid(s.pid, &status, 0) == s.pid) {
				s.pid = 0;
				ended = true;
			}
		}
		while (s.pid && !refused && monotonic_ms() - t0 < BOOT_TIMEOUT_MS) {
			struct msg ping;
			int rc;

			if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
				s.pid = 0;
				ended = true;
				break;
			}
			/* Until the guest's network is up, QEMU's user network accepts the
			 * connection and holds it unanswered, so an early ping waits out its
			 * whole deadline (1 s made start 3.3 s where vmd was ready at 2.3 s):
			 * short deadlines while a healthy boot would still be coming up (a
			 * ready guest answers in 10-60 ms under TCG), then a generous one
			 * for a loaded host. */
			rc = client_ping(s.port, s.secret,
					 monotonic_ms() - t0 < PING_SHORT_FOR_MS ? PING_SHORT_MS : PING_LONG_MS,
					 &ping);
			if (rc == CLIENT_NOT_THIS_VM) {
				snprintf(why, sizeof why, "%s", ping.text);
				not_this_vm = true;
				break;
			}
			if (rc == 0) {
				/* QEMU has given the guest its identity: no copy on disk but
				 * the 0600 state file's secret. */
				unlink(ident);
				if (ctl != -1)
					close(ctl);
				progress_done();
				printf("%u\n", s.port);
				return 0;
			}
			progress(t ? "starting the sandbox" : "booting the sandbox", t0);
			sleep_ms(t ? CLONE_PING_INTERVAL_MS : PING_INTERVAL_MS);
		}
		progress_done();
		if (ctl != -1)
			close(ctl);
		if (not_this_vm) {
			kill_qemu(s.pid, logger);
			state_remove(dir, s.port);
			continue;
		}
		if (s.pid) {	/* it ran, but vmd never answered */
			kill(s.pid, SIGKILL);
			waitpid(s.pid, NULL, 0);
		}
		logger_wait(logger);
		if (refused)
			s.pid = 0;	/* why is QEMU's answer */
		else
			last_log_line(dir, s.port, why, sizeof why);
		if (!*why && ended)
			exit_reason(dir, s.port, status, why, sizeof why);
		if (s.pid) {
			state_remove(dir, s.port);
			return fail(m, "the sandbox did not answer within %d s%s%s", BOOT_TIMEOUT_MS / 1000,
				    *why ? "; QEMU said: " : ".", why);
		}
		state_remove(dir, s.port);
		if (strstr(why, "host forwarding"))
			continue;	/* the port was taken: another one */
		if (t && rebuilt)
			return fail(m, "a sandbox made from its template did not run%s%s",
				    *why ? "; QEMU said: " : ".", why);
		if (!t)
			return fail(m, "QEMU stopped while starting the sandbox%s%s",
				    *why ? ": " : ".", why);
		/* A template QEMU refuses (damaged in a way template_valid cannot see,
		 * say) is made again, once. */
		fprintf(stderr, "vmctl: the sandbox template did not load (%s); making it again.\n",
			*why ? why : "QEMU stopped");
		rebuilt = true;
		t0 = monotonic_ms();
		if (!(t = find_template(a, &s, launcher, base, disk_size, true, t0, why, sizeof why,
					&fatal))) {
			if (fatal)
				return fail(m, "%s", why);
			fprintf(stderr, "vmctl: %s; booting the sandbox cold.\n", why);
		}
		attempt--;
	}
	explicit_bzero(s.secret, sizeof s.secret);
	if (not_this_vm)
		return fail(m, "%s", why);
	return fail(m, "could not get a free port for the sandbox after 5 tries.");
}

int cmd_template(const struct vmctl_args *a, struct msg *m)
{
	char cache[PATH_MAX], launcher[PATH_MAX + 32], why[512];
	struct vm_state s = { 0 };
	const struct template *t;
	bool fatal;

	if (template_cache(cache, sizeof cache, m) < 0)
		return -1;
	if (a->template_rm)
		return template_remove(cache, NULL, m);
	unsigned long long disk_size = a->disk_size ? a->disk_size : DISK_DEFAULT_SIZE;
	char disks[PATH_MAX], base[PATH_MAX + 64];

	if (find_guest(a, &s, launcher, sizeof launcher, m) < 0 ||
	    cache_folder("disks", disks, sizeof disks, m) < 0 ||
	    disk_base(disks, disk_size, base, sizeof base, m) < 0)
		return -1;
	s.memory_mib = a->memory_mib ? a->memory_mib : DEFAULT_MEMORY_MIB;
	s.cpus = a->cpus ? a->cpus : DEFAULT_CPUS;
	if (!(t = find_template(a, &s, launcher, base, disk_size, false, monotonic_ms(), why,
				sizeof why, &fatal)))
		return fail(m, "%s", why);
	printf("%s\n", t->dir);
	return 0;
}

/* Wait until the recorded QEMU is gone, by the deadline; true if it is. */
static bool wait_gone(const struct vm_state *s, long long deadline)
{
	while (state_alive(s)) {
		if (monotonic_ms() > deadline)
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
	int fd, paused = paused_stop(a->port, m);

	if (paused)
		return paused < 0 ? -1 : 0;
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
		if (!wait_gone(&s, monotonic_ms() + STOP_TIMEOUT_MS)) {
			/* The recorded pid, and only after checking it is still that QEMU. */
			if (state_alive(&s))
				kill(s.pid, SIGTERM);
			if (!wait_gone(&s, monotonic_ms() + 2000) && state_alive(&s))
				kill(s.pid, SIGKILL);
			if (!wait_gone(&s, monotonic_ms() + 2000))
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
	paused_list(n > 0);
	return 0;
}
