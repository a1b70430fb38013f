/* launch.c - see launch.h: finding the guest and starting QEMU for it. */
#include "launch.h"

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
#include <time.h>
#include <unistd.h>

#include "bootcfg.h"
#include "cli.h"
#include "egress.h"
#include "logring.h"
#include "text.h"

#define TB_SIZE_MIB 32		/* TCG's translation cache; QEMU's default is far larger */
/* QEMU's user when vmctl runs as root: QEMU must not be root, and it reaches a
 * share's files through an idmapped mount as their owner (see qemu_namespace). */
#define QEMU_USER "nobody"
#define CONSOLE_FD 3		/* QEMU's serial console, the logger's pipe */
#define DISK_RW_FD 4		/* the home disk, read-write and read-only */
#define DISK_RO_FD 5
#define STATE_FD 6		/* a template's device state, for -incoming */
#define CTL_FD 7		/* a monitor with the commands that load it */
#define LOGGER_WAIT_MS 2000	/* for the logger to write QEMU's last words */

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
bool use_kvm(void)
{
	static char cpuinfo[1 << 16];
	struct msg ignore = { 0 };

	if (access("/dev/kvm", R_OK | W_OK) != 0 ||
	    read_text("/proc/cpuinfo", cpuinfo, sizeof cpuinfo, &ignore) < 0)
		return false;
	return bootcfg_kvm_usable(cpuinfo, true);
}

/* The file name in the built guest's folder, the kernel's (cmdline, pvh-stub). */
static void beside_kernel(const char *kernel, const char *name, char *out, size_t size)
{
	const char *slash = strrchr(kernel, '/');

	snprintf(out, size, "%.*s/%s", slash ? (int)(slash - kernel) : 1, slash ? kernel : ".",
		 name);
}

/* The kernel command line: the built guest's own (the cmdline file beside its kernel),
 * or a plain serial console for a kernel the user passed. */
int kernel_cmdline(const struct vmctl_args *a, const char *kernel, bool kvm, char *out,
			  size_t size, struct msg *m)
{
	char path[PATH_MAX + 16], text[8192];

	if (a->kernel)
		return bootcfg_cmdline(BOOTCFG_DEFAULT_CMDLINE, kvm, out, size, m);
	beside_kernel(kernel, "cmdline", path, sizeof path);
	if (read_text(path, text, sizeof text, m) < 0)
		return -1;
	return bootcfg_cmdline(text, kvm, out, size, m);
}

int find_guest(const struct vmctl_args *a, struct vm_state *s, char *launcher,
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
int make_secret(char out[SECRET_HEX + 1], struct msg *m)
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
int free_port(unsigned *port, struct msg *m)
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

/* The stand-in kernel for a clone of the built guest, beside its kernel: true with
 * its name in out when it is there. */
static bool pvh_stub(const char *kernel, char *out, size_t size)
{
	beside_kernel(kernel, "pvh-stub", out, size);
	return access(out, R_OK) == 0;
}

/* The fw_cfg item opt/vmd/identity: IDENTITY_SIZE bytes, lines then NULs (the
 * guest's vmd reads it; its list of items and their sizes is fixed when the guest
 * boots, so a template's placeholder has the size of a real one). */
int identity_write(const char *path, const struct vmctl_args *a, const struct vm_state *s,
		   bool placeholder, bool home_disk, struct msg *m)
{
	char text[IDENTITY_SIZE] = { 0 }, ro[VMCTL_MAX_SHARES * 33] = "", proxy[32] = "";
	unsigned char seed[32];
	size_t len = 0, rl = 0;
	struct timespec now;
	int fd, k;

	if (placeholder) {
		len = (size_t)snprintf(text, sizeof text, "vmd-identity template\nhome=%s\n",
				       home_disk ? "disk" : "ram");
	} else {
		if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
			return fail_errno(m, "cannot get random bytes for the VM's entropy");
		for (int i = 0; i < a->nshares; i++)
			if (a->shares[i].read_only)
				rl += (size_t)snprintf(ro + rl, sizeof ro - rl, "%s%s", rl ? "," : "",
						       a->shares[i].tag);
		if (a->internet || a->nallow)
			snprintf(proxy, sizeof proxy, "%s:%d", EGRESS_ADDR, EGRESS_PORT);
		clock_gettime(CLOCK_REALTIME, &now);
		k = snprintf(text, sizeof text, "vmd-identity 1\nsecret=%s\nseed=", s->secret);
		for (size_t i = 0; i < sizeof seed; i++)
			k += snprintf(text + k, sizeof text - (size_t)k, "%02x", seed[i]);
		k += snprintf(text + k, sizeof text - (size_t)k,
			      "\ntime=%lld.%09ld\nhostname=sandbox-%u\nproxy=%s\nro_shares=%s\nhome=%s\n",
			      (long long)now.tv_sec, now.tv_nsec, s->port, proxy, ro,
			      home_disk ? "disk" : "ram");
		explicit_bzero(seed, sizeof seed);
		if (k < 0 || (size_t)k >= sizeof text)
			return fail(m, "the VM's identity is longer than %d bytes.", IDENTITY_SIZE);
		len = (size_t)k;
	}
	(void)len;
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		explicit_bzero(text, sizeof text);
		return fail_errno(m, "cannot create %s", path);
	}
	if (write_all(fd, text, sizeof text) == -1 || close(fd) == -1) {
		explicit_bzero(text, sizeof text);
		unlink(path);
		return fail_errno(m, "cannot write %s", path);
	}
	explicit_bzero(text, sizeof text);
	return 0;
}

/* Who QEMU runs as: when vmctl is root, QEMU_USER (found here, so that a missing
 * user is one sentence before anything starts); else vmctl's own user. */
struct qemu_user {
	bool drop;		/* vmctl is root: qemu-boot --runas QEMU_USER */
	uid_t uid;
	gid_t gid;
};

static int qemu_user(struct qemu_user *u, struct msg *m)
{
	struct passwd *pw;

	*u = (struct qemu_user){ .drop = geteuid() == 0, .uid = geteuid(), .gid = getegid() };
	if (!u->drop)
		return 0;
	errno = 0;
	pw = getpwnam(QEMU_USER);
	if (!pw)
		return errno ? fail_errno(m, "cannot look up the user %s, whom QEMU runs as", QEMU_USER)
			     : fail(m, "there is no user %s on this host: vmctl started as root runs "
				    "QEMU as %s, never as root.", QEMU_USER, QEMU_USER);
	if (pw->pw_uid == 0)
		return fail(m, "the user %s is root here: vmctl started as root runs QEMU as an "
			    "unprivileged %s.", QEMU_USER, QEMU_USER);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

/* Whether QEMU_USER may run DIR/NAME, tried as that user in a child: QEMU runs the
 * proxy as QEMU_USER, from the folder the proxy is in (its working directory), so
 * only that folder and the program need to be open to it, not the folders above. */
static bool runnable_by(const struct qemu_user *u, const char *dir, const char *name)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(chdir(dir) == 0 && setgroups(0, NULL) == 0 && setgid(u->gid) == 0 &&
		      setuid(u->uid) == 0 && access(name, X_OK) == 0 ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

/* The network's way out, when start was given one: QEMU's user network is closed
 * (qemu-boot runs it restrict=on) but for EGRESS_ADDR:EGRESS_PORT, where each
 * connection runs this vmctl's egress with the policy; the guest learns the proxy's
 * address from its identity (identity_write). guestfwd is "" without.
 * When QEMU drops to QEMU_USER, it starts in vmctl's own folder (*cwd) and runs
 * ./NAME from there: a build tree under root's 0700 home works too. */
static int egress_words(const struct vmctl_args *a, const struct vm_state *s,
			const struct qemu_user *u, char *guestfwd, size_t gsize, char *cwd,
			size_t csize, struct msg *m)
{
	char self[PATH_MAX], prog[PATH_MAX + 2], cmd[PATH_MAX + EGRESS_MAX_ALLOW * 300], *slash;
	ssize_t n;

	guestfwd[0] = cwd[0] = '\0';
	if (!a->internet && !a->nallow)
		return 0;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return fail_errno(m, "cannot find where vmctl is installed");
	self[n] = '\0';
	snprintf(prog, sizeof prog, "%s", self);
	slash = strrchr(self, '/');
	if (u->drop && slash) {
		*slash = '\0';
		snprintf(cwd, csize, "%s", *self ? self : "/");
		snprintf(prog, sizeof prog, "./%s", slash + 1);
		if (!runnable_by(u, cwd, slash + 1))
			return fail(m, "cannot give the sandbox its proxy: QEMU runs as %s, who may "
				    "not run %s/%s (the folder or the program is closed to other "
				    "users); install vmctl (make install) or build it where others "
				    "may read.", QEMU_USER, cwd, slash + 1);
	}
	if (egress_command(prog, s->port, a->internet, a->allow, a->nallow, cmd, sizeof cmd, m) < 0)
		return -1;
	snprintf(guestfwd, gsize, "%s:%d:%s", EGRESS_ADDR, EGRESS_PORT, cmd);
	return 0;
}

static int write_map(pid_t pid, const char *which, unsigned inside, unsigned outside,
		     struct msg *m)
{
	char path[64], line[64];
	int fd, len;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, which);
	len = snprintf(line, sizeof line, "%u %u 1\n", inside, outside);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1 || write(fd, line, (size_t)len) != len) {
		fail_errno(m, "cannot write the %s of the shares' id mapping", which);
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* A user namespace whose maps send vmctl's uid and gid (root's) to QEMU's: through a
 * mount idmapped with it, a file root owns on disk is QEMU's own, and what QEMU
 * creates lands owned by root; files of any other host user are nobody's to QEMU.
 * Returns its fd, or -1 with a sentence. */
static int idmap_userns(const struct qemu_user *u, struct msg *m)
{
	char path[64];
	int fd = -1;
	/* A child born in the new namespace, only to hold it while the maps are written
	 * and it is opened; with no stack given, clone returns twice as fork does. */
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);

	if (pid == -1)
		return fail_errno(m, "cannot make a user namespace for the shares' id mapping");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	if (write_map(pid, "uid_map", (unsigned)geteuid(), (unsigned)u->uid, m) == 0 &&
	    write_map(pid, "gid_map", (unsigned)getegid(), (unsigned)u->gid, m) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		fail_errno(m, "cannot open %s", path);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return fd;
}

/* In the QEMU child, before qemu-boot: a mount namespace of QEMU's own where each
 * share is mounted over itself through the id mapping, nosuid and nodev (and read-
 * only for --share-ro, so the kernel refuses writes there as well as QEMU). A share
 * on a filesystem that cannot be idmapped is refused. Its mounts below are not
 * carried over: QEMU sees the share's own filesystem only. The child exits on
 * failure, so nothing here is closed on the way out. */
static int qemu_namespace(int userns, char (*real)[PATH_MAX], const struct vmctl_args *a,
			  struct msg *m)
{
	int tree[VMCTL_MAX_SHARES];

	if (unshare(CLONE_NEWNS) == -1 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		return fail_errno(m, "cannot make QEMU's mount namespace");
	/* Every share cloned before any is mapped: one inside another is then cloned
	 * from the host's mount, not from its parent's idmapped one. */
	for (int i = 0; i < a->nshares; i++)
		if ((tree[i] = (int)syscall(SYS_open_tree, AT_FDCWD, real[i],
					    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) == -1)
			return fail_errno(m, "cannot share %s", real[i]);
	for (int i = 0; i < a->nshares; i++) {
		struct mount_attr attr = {
			.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				    (a->shares[i].read_only ? MOUNT_ATTR_RDONLY : 0),
			.userns_fd = (unsigned)userns,
		};

		if (syscall(SYS_mount_setattr, tree[i], "", AT_EMPTY_PATH, &attr, sizeof attr) == -1) {
			if (errno == EINVAL || errno == EPERM || errno == EOPNOTSUPP)
				return fail(m, "cannot share %s: its filesystem does not support idmapped "
					    "mounts, through which QEMU (running as %s) owns the share's "
					    "files instead of root.", real[i], QEMU_USER);
			return fail_errno(m, "cannot share %s", real[i]);
		}
		if (syscall(SYS_move_mount, tree[i], "", AT_FDCWD, real[i], MOVE_MOUNT_F_EMPTY_PATH) == -1)
			return fail_errno(m, "cannot share %s", real[i]);
		close(tree[i]);
	}
	return 0;
}

/* fd as exactly `to` in a child about to exec, without close-on-exec. */
static int place_fd(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) == -1 ? -1 : 0;
}

/* The logger: its own session, as QEMU's, so that it outlives vmctl; nothing of
 * vmctl's but the pipes and files it copies between. Never returns. */
static _Noreturn void run_logger(int log_in, int log_fd, int con_in, int con_fd)
{
	int null, in[2], fds[4] = { log_in, log_fd, con_in, con_fd };
	struct logring ring[2];

	setsid();
	prctl(PR_SET_NAME, "vmctl-log");
	/* The four out of the way first (one may be 0..6 when vmctl was started with
	 * its standard files closed), then at 3..6, /dev/null on 0..2, nothing else. */
	for (int i = 0; i < 4; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) == -1)
			_exit(1);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null == -1 || dup2(null, 0) == -1 || dup2(null, 1) == -1 || dup2(null, 2) == -1)
		_exit(1);
	for (int i = 0; i < 4; i++)
		if (dup2(fds[i], 3 + i) == -1)
			_exit(1);
	close_range(7, ~0U, 0);
	in[0] = 3;
	in[1] = 5;
	ring[0] = (struct logring){ .fd = 4, .cap = LOGRING_QEMU_CAP };
	ring[1] = (struct logring){ .fd = 6, .cap = LOGRING_CONSOLE_CAP };
	logring_run(in, ring, 2);
	_exit(0);
}

/* Start the launcher in its own session (QEMU outlives vmctl), as QEMU_USER when vmctl
 * is root; its output and the guest's console go through pipes to a logger process
 * (*logger) that keeps PORT.log and PORT.console under their caps. A failure before
 * the launcher runs (a share that cannot be mapped, say) is one sentence in m. */
pid_t launch(const char *launcher, const struct vmctl_args *a, const struct vm_state *s,
	     const char *dir, const struct launch_mode *mode, pid_t *logger, struct msg *m)
{
	char cmdline[BOOTCFG_CMDLINE_MAX], fwd[32], mem[16], cpus[16], tb[16], qmp[4200], log[4200],
	     console[4300], fwcfg[PATH_MAX + 32], serial[32], shares[VMCTL_MAX_SHARES][PATH_MAX + 300],
	     real[VMCTL_MAX_SHARES][PATH_MAX],
	     guestfwd[2 * PATH_MAX + EGRESS_MAX_ALLOW * 300], cwd[PATH_MAX], image[PATH_MAX],
	     exe[PATH_MAX], memfile[PATH_MAX + 16], diskfd[32], ctlarg[48], stub[PATH_MAX + 16];
	const char *argv[58 + 2 * VMCTL_MAX_SHARES];	/* 45 fixed, 2 per share, NULL */
	int n = 0, userns = -1, logp[2] = { -1, -1 }, conp[2] = { -1, -1 }, errp[2] = { -1, -1 },
	    log_fd = -1, con_fd = -1, disk_rw = -1, disk_ro = -1, state_fd = -1,
	    ctl[2] = { -1, -1 };
	struct qemu_user user;
	struct msg child = { 0 };
	ssize_t got;
	pid_t pid = -1;
	bool kvm = use_kvm();

	*logger = -1;
	if (kernel_cmdline(a, s->kernel, kvm, cmdline, sizeof cmdline, m) < 0 ||
	    qemu_user(&user, m) < 0 ||
	    egress_words(a, s, &user, guestfwd, sizeof guestfwd, cwd, sizeof cwd, m) < 0)
		return -1;
	snprintf(fwd, sizeof fwd, "%u:%d", s->port, GUEST_PORT);
	snprintf(mem, sizeof mem, "%u", s->memory_mib);
	snprintf(cpus, sizeof cpus, "%u", s->cpus);
	snprintf(tb, sizeof tb, "%d", TB_SIZE_MIB);
	state_path(qmp, sizeof qmp, dir, s->port, "qmp");
	state_path(log, sizeof log, dir, s->port, "log");
	state_path(console, sizeof console, dir, s->port, "console");
	snprintf(fwcfg, sizeof fwcfg, "opt/vmd/identity=%s", mode->identity);
	argv[n++] = launcher;
	argv[n++] = "--accel";
	argv[n++] = kvm ? "kvm" : "tcg";
	argv[n++] = "--kernel";
	if (mode->state && !a->kernel && pvh_stub(s->kernel, stub, sizeof stub)) {
		/* A clone of the built guest: its kernel is in the template's memory, and
		 * QEMU needs only a PVH ELF to build the same machine (guest/pvh-stub.S). */
		argv[n++] = stub;
	} else {
		argv[n++] = s->kernel;
		if (*s->initrd) {
			argv[n++] = "--initrd";
			argv[n++] = s->initrd;
		}
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
	 * 2 MiB of host memory. On a cold boot, the balloon's free page reporting hands
	 * what the guest frees back to the host: 22 MiB less resident once it idles (see
	 * guest/init). Not for a template and its clones: QEMU cannot migrate a balloon
	 * that reports free pages, and a clone's untouched memory is the template's
	 * page cache, shared by all clones, not memory of its own. */
	argv[n++] = "--vga";
	argv[n++] = "none";
	if (mode->balloon)
		argv[n++] = "--balloon";
	if (mode->mem_file) {
		snprintf(memfile, sizeof memfile, "%s:%s", mode->mem_file,
			 mode->mem_shared ? "shared" : "private");
		argv[n++] = "--mem-file";
		argv[n++] = memfile;
	}
	if (mode->incoming || mode->state) {
		argv[n++] = "--incoming";
		argv[n++] = "defer";
	}
	if (mode->disk) {
		/* By descriptors: QEMU reopens a disk read-only when a migration ends and
		 * read-write when one begins here, by then as QEMU_USER, who may reach
		 * neither our folder nor the file. */
		snprintf(diskfd, sizeof diskfd, "%d:%d:qcow2", DISK_RW_FD, DISK_RO_FD);
		argv[n++] = "--disk-fd";
		argv[n++] = diskfd;
	}
	/* Not qboot (qemu-boot --bios /usr/share/qemu/qboot.rom): it starts the kernel
	 * 0.1-0.15 s sooner than SeaBIOS, but of about 45 boots with it (pc and microvm)
	 * one hung in early kernel setup and one took 30 s; none of about 60 with
	 * SeaBIOS did. */
	argv[n++] = "--forward";
	argv[n++] = fwd;
	if (*guestfwd) {
		argv[n++] = "--guestfwd";
		argv[n++] = guestfwd;
	}
	argv[n++] = "--fw-cfg";
	argv[n++] = fwcfg;
	argv[n++] = "--qmp";
	argv[n++] = qmp;
	/* QEMU opens the console pipe by this name, before it drops to QEMU_USER. */
	snprintf(serial, sizeof serial, "file:/dev/fd/%d", CONSOLE_FD);
	argv[n++] = "--serial";
	argv[n++] = serial;
	if (user.drop) {
		argv[n++] = "--runas";
		argv[n++] = QEMU_USER;
	}
	for (int i = 0; i < a->nshares; i++) {
		if (!realpath(a->shares[i].host, real[i]))
			return fail_errno(m, "cannot share %s", a->shares[i].host);
		/* the mode always given: qemu-boot splits PATH:TAG:MODE from the right */
		snprintf(shares[i], sizeof shares[i], "%.*s:%s:%s", PATH_MAX - 1, real[i], a->shares[i].tag,
			 a->shares[i].read_only ? "ro" : "rw");
		argv[n++] = "--share";
		argv[n++] = shares[i];
	}
	if (a->image) {
		/* absolute: QEMU may start in another folder (egress_words) */
		if (!realpath(a->image, image))
			return fail_errno(m, "cannot read the disk image %s", a->image);
		argv[n++] = image;
	}
	if (mode->state) {
		snprintf(ctlarg, sizeof ctlarg, "socket,id=vmctl,fd=%d", CTL_FD);
		argv[n++] = "--";
		argv[n++] = "-chardev";
		argv[n++] = ctlarg;
		argv[n++] = "-mon";
		argv[n++] = "chardev=vmctl,mode=control";
	}
	argv[n] = NULL;

	/* absolute, for the child may change folders (egress_words) */
	if (!realpath(launcher, exe))
		return fail_errno(m, "cannot run %s", launcher);
	if (user.drop && a->nshares && (userns = idmap_userns(&user, m)) == -1)
		return -1;
	if (mode->disk && ((disk_rw = open(mode->disk, O_RDWR | O_CLOEXEC)) == -1 ||
			   (disk_ro = open(mode->disk, O_RDONLY | O_CLOEXEC)) == -1)) {
		fail_errno(m, "cannot open the home disk %s", mode->disk);
		goto out;
	}
	if (mode->state) {
		/* events: the MIGRATION event says when a stream saved stopped has
		 * loaded (it then waits for a cont); one saved running runs (RESUME). */
		char load[512];

		snprintf(load, sizeof load,
			 "{\"execute\":\"qmp_capabilities\"}\n"
			 "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
			 "[{\"capability\":\"x-ignore-shared\",\"state\":%s},"
			 "{\"capability\":\"events\",\"state\":true}]}}\n"
			 "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"fd:%d\"}}\n",
			 mode->state_whole ? "false" : "true", STATE_FD);
		if ((state_fd = open(mode->state, O_RDONLY | O_CLOEXEC)) == -1) {
			fail_errno(m, "cannot read %s", mode->state);
			goto out;
		}
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1 ||
		    write_all(ctl[0], load, strlen(load)) == -1) {
			fail_errno(m, "cannot make QEMU's control socket");
			goto out;
		}
	}
	log_fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	con_fd = open(console, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd == -1 || con_fd == -1 || pipe2(logp, O_CLOEXEC) == -1 ||
	    pipe2(conp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1) {
		fail_errno(m, "cannot make QEMU's log and console");
		goto out;
	}
	*logger = fork();
	if (*logger == -1) {
		fail_errno(m, "cannot start the console logger");
		goto out;
	}
	if (*logger == 0)
		run_logger(logp[0], log_fd, conp[0], con_fd);

	pid = fork();
	if (pid == -1) {
		fail_errno(m, "cannot start QEMU");
		goto out;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC), lo, co, rw, ro, st, ct;
		struct msg e = { 0 };

		/* The shares first (the user namespace's fd may be one of 0..3), then the
		 * pipes out of the way of 0..3, then into place. */
		if (userns != -1 && qemu_namespace(userns, real, a, &e) < 0)
			goto child_failed;
		lo = fcntl(logp[1], F_DUPFD_CLOEXEC, 10);
		co = fcntl(conp[1], F_DUPFD_CLOEXEC, 10);
		rw = disk_rw == -1 ? -1 : fcntl(disk_rw, F_DUPFD_CLOEXEC, 10);
		ro = disk_ro == -1 ? -1 : fcntl(disk_ro, F_DUPFD_CLOEXEC, 10);
		st = state_fd == -1 ? -1 : fcntl(state_fd, F_DUPFD_CLOEXEC, 10);
		ct = ctl[1] == -1 ? -1 : fcntl(ctl[1], F_DUPFD_CLOEXEC, 10);
		if (null == -1 || lo == -1 || co == -1 || (mode->disk && (rw == -1 || ro == -1)) ||
		    (mode->state && (st == -1 || ct == -1)) ||
		    place_fd(null, 0) == -1 || place_fd(lo, 1) == -1 || place_fd(lo, 2) == -1 ||
		    place_fd(co, CONSOLE_FD) == -1 ||
		    (mode->disk && (place_fd(rw, DISK_RW_FD) == -1 || place_fd(ro, DISK_RO_FD) == -1)) ||
		    (mode->state && (place_fd(st, STATE_FD) == -1 || place_fd(ct, CTL_FD) == -1)) ||
		    setsid() == -1) {
			fail_errno(&e, "cannot set up QEMU's output");
			goto child_failed;
		}
		if (*cwd && chdir(cwd) == -1) {
			fail_errno(&e, "cannot enter %s", cwd);
			goto child_failed;
		}
		execv(exe, (char *const *)argv);
		fail_errno(&e, "cannot run %s", launcher);
child_failed:
		write_all(errp[1], e.text, strlen(e.text));
		_exit(127);
	}
	/* Only the child writes into the pipes: the logger ends when QEMU does. */
	close(errp[1]);
	errp[1] = -1;
	while ((got = read(errp[0], child.text, sizeof child.text - 1)) == -1 && errno == EINTR)
		;
	if (got > 0) {	/* the child never reached the launcher */
		child.text[got] = '\0';
		waitpid(pid, NULL, 0);
		pid = -1;
		*m = child;
	} else if (mode->state) {
		*mode->ctl = ctl[0];
		ctl[0] = -1;
	}
out:
	for (int *fd = (int[]){ userns, log_fd, con_fd, logp[0], logp[1], conp[0], conp[1],
				 errp[0], errp[1], disk_rw, disk_ro, state_fd, ctl[0], ctl[1], -2 };
	     *fd != -2; fd++)
		if (*fd != -1)
			close(*fd);
	return pid;
}

/* Wait, within LOGGER_WAIT_MS, for the logger of a QEMU that has ended: it has then
 * written all QEMU said. */
void logger_wait(pid_t logger)
{
	long long deadline = monotonic_ms() + LOGGER_WAIT_MS;

	if (logger <= 0)
		return;
	while (waitpid(logger, NULL, WNOHANG) == 0) {
		if (monotonic_ms() > deadline) {
			kill(logger, SIGKILL);
			waitpid(logger, NULL, 0);
			return;
		}
		sleep_ms(2);
	}
}

/* The last line QEMU or the launcher wrote, to explain a failed start; escaped, as
 * what QEMU logs can quote the guest. */
void last_log_line(const char *dir, unsigned port, char *out, size_t size)
{
	char path[4200], line[301];

	state_path(path, sizeof path, dir, port, "log");
	logring_last_line(path, line, sizeof line);
	text_escape(out, size, line, strlen(line));
}
