/* filter.c - see filter.h.
 *
 * The allow list is what a shell, busybox, coreutils and interpreters such as Python
 * use; Docker's default profile was the yardstick for what is safe to allow. Each
 * group says why it is harmless inside the namespaces.
 */
#include "filter.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

#define A FILTER_ALLOW
#define P FILTER_EPERM
#define N FILTER_ENOSYS

const struct filter_rule filter_rules[] = {
	/* Open files: reading, writing, syncing, copying between descriptors. */
	{ "read", A }, { "write", A }, { "readv", A }, { "writev", A },
	{ "pread64", A }, { "pwrite64", A }, { "preadv", A }, { "pwritev", A },
	{ "preadv2", A }, { "pwritev2", A }, { "lseek", A }, { "close", A },
	{ "close_range", A }, { "dup", A }, { "dup2", A }, { "dup3", A },
	{ "fcntl", A }, { "flock", A }, { "fsync", A }, { "fdatasync", A },
	{ "sync", A }, { "syncfs", A }, { "sync_file_range", A }, { "ftruncate", A },
	{ "truncate", A }, { "fallocate", A }, { "fadvise64", A }, { "readahead", A },
	{ "sendfile", A }, { "splice", A }, { "tee", A }, { "vmsplice", A },
	{ "copy_file_range", A },

	/* Paths and metadata: the mount table decides what is visible and writable.
	 * mknod makes FIFOs and sockets; device nodes need CAP_MKNOD, which is gone. */
	{ "open", A }, { "openat", A }, { "openat2", A }, { "creat", A },
	{ "stat", A }, { "fstat", A }, { "lstat", A }, { "newfstatat", A },
	{ "statx", A }, { "statfs", A }, { "fstatfs", A }, { "access", A },
	{ "faccessat", A }, { "faccessat2", A }, { "readlink", A }, { "readlinkat", A },
	{ "getdents", A }, { "getdents64", A }, { "getcwd", A }, { "chdir", A },
	{ "fchdir", A }, { "mkdir", A }, { "mkdirat", A }, { "rmdir", A },
	{ "unlink", A }, { "unlinkat", A }, { "rename", A }, { "renameat", A },
	{ "renameat2", A }, { "link", A }, { "linkat", A }, { "symlink", A },
	{ "symlinkat", A }, { "chmod", A }, { "fchmod", A }, { "fchmodat", A },
	{ "fchmodat2", A }, { "chown", A }, { "fchown", A }, { "lchown", A },
	{ "fchownat", A }, { "umask", A }, { "utime", A }, { "utimes", A },
	{ "utimensat", A }, { "futimesat", A }, { "mknod", A }, { "mknodat", A },
	{ "getxattr", A }, { "lgetxattr", A }, { "fgetxattr", A }, { "listxattr", A },
	{ "llistxattr", A }, { "flistxattr", A }, { "setxattr", A }, { "lsetxattr", A },
	{ "fsetxattr", A }, { "removexattr", A }, { "lremovexattr", A },
	{ "fremovexattr", A }, { "inotify_init", A }, { "inotify_init1", A },
	{ "inotify_add_watch", A }, { "inotify_rm_watch", A }, { "memfd_create", A },

	/* Memory of the process itself; locking is bounded by RLIMIT_MEMLOCK. */
	{ "brk", A }, { "mmap", A }, { "munmap", A }, { "mremap", A },
	{ "mprotect", A }, { "madvise", A }, { "msync", A }, { "mincore", A },
	{ "mlock", A }, { "mlock2", A }, { "munlock", A }, { "mlockall", A },
	{ "munlockall", A }, { "membarrier", A }, { "pkey_alloc", A },
	{ "pkey_free", A }, { "pkey_mprotect", A },

	/* Processes and threads. Signals reach only the sandbox's pid namespace; the
	 * set*id calls can only move between ids the process already has. */
	{ "fork", A }, { "vfork", A }, { "execve", A }, { "execveat", A },
	{ "exit", A }, { "exit_group", A }, { "wait4", A }, { "waitid", A },
	{ "kill", A }, { "tkill", A }, { "tgkill", A }, { "rt_sigqueueinfo", A },
	{ "rt_tgsigqueueinfo", A }, { "pidfd_open", A }, { "pidfd_send_signal", A },
	{ "set_tid_address", A }, { "set_robust_list", A }, { "rseq", A },
	{ "futex", A }, { "futex_waitv", A }, { "arch_prctl", A }, { "prctl", A },
	{ "getpid", A }, { "getppid", A }, { "gettid", A }, { "getpgid", A },
	{ "setpgid", A }, { "getpgrp", A }, { "getsid", A }, { "setsid", A },
	{ "getuid", A }, { "geteuid", A }, { "getgid", A }, { "getegid", A },
	{ "getresuid", A }, { "getresgid", A }, { "getgroups", A }, { "setuid", A },
	{ "setgid", A }, { "setreuid", A }, { "setregid", A }, { "setresuid", A },
	{ "setresgid", A }, { "setfsuid", A }, { "setfsgid", A }, { "setgroups", A },
	{ "capget", A }, { "capset", A }, { "getrlimit", A }, { "setrlimit", A },
	{ "prlimit64", A }, { "getrusage", A }, { "times", A }, { "getpriority", A },
	{ "setpriority", A }, { "sched_yield", A }, { "sched_getaffinity", A },
	{ "sched_setaffinity", A }, { "sched_getparam", A }, { "sched_setparam", A },
	{ "sched_getscheduler", A }, { "sched_setscheduler", A },
	{ "sched_get_priority_max", A }, { "sched_get_priority_min", A },
	{ "sched_rr_get_interval", A }, { "sched_getattr", A }, { "sched_setattr", A },
	{ "ioprio_get", A }, { "ioprio_set", A }, { "getcpu", A }, { "uname", A },
	{ "sysinfo", A }, { "getrandom", A },
	/* A process may narrow its own rights further (no_new_privs is set). */
	{ "seccomp", A }, { "landlock_create_ruleset", A }, { "landlock_add_rule", A },
	{ "landlock_restrict_self", A },

	/* Signals. */
	{ "rt_sigaction", A }, { "rt_sigprocmask", A }, { "rt_sigreturn", A },
	{ "rt_sigpending", A }, { "rt_sigtimedwait", A }, { "rt_sigsuspend", A },
	{ "sigaltstack", A }, { "pause", A }, { "alarm", A }, { "signalfd", A },
	{ "signalfd4", A }, { "restart_syscall", A },

	/* Clocks and timers (reading only: setting the clock is denied below). */
	{ "clock_gettime", A }, { "clock_getres", A }, { "clock_nanosleep", A },
	{ "nanosleep", A }, { "gettimeofday", A }, { "time", A }, { "timer_create", A },
	{ "timer_settime", A }, { "timer_gettime", A }, { "timer_getoverrun", A },
	{ "timer_delete", A }, { "timerfd_create", A }, { "timerfd_settime", A },
	{ "timerfd_gettime", A }, { "getitimer", A }, { "setitimer", A },

	/* Waiting for events; pipes. */
	{ "select", A }, { "pselect6", A }, { "poll", A }, { "ppoll", A },
	{ "epoll_create", A }, { "epoll_create1", A }, { "epoll_ctl", A },
	{ "epoll_wait", A }, { "epoll_pwait", A }, { "epoll_pwait2", A },
	{ "eventfd", A }, { "eventfd2", A }, { "pipe", A }, { "pipe2", A },

	/* System V and POSIX IPC: private to the sandbox's IPC namespace. */
	{ "shmget", A }, { "shmat", A }, { "shmdt", A }, { "shmctl", A },
	{ "semget", A }, { "semop", A }, { "semtimedop", A }, { "semctl", A },
	{ "msgget", A }, { "msgsnd", A }, { "msgrcv", A }, { "msgctl", A },
	{ "mq_open", A }, { "mq_unlink", A }, { "mq_timedsend", A },
	{ "mq_timedreceive", A }, { "mq_notify", A }, { "mq_getsetattr", A },

	/* Sockets, once socket() has allowed the family (see socket_rules). Without
	 * --network the namespace has only lo. */
	{ "socketpair", A }, { "connect", A }, { "bind", A }, { "listen", A },
	{ "accept", A }, { "accept4", A }, { "getsockname", A }, { "getpeername", A },
	{ "sendto", A }, { "recvfrom", A }, { "sendmsg", A }, { "recvmsg", A },
	{ "sendmmsg", A }, { "recvmmsg", A }, { "shutdown", A }, { "setsockopt", A },
	{ "getsockopt", A },

	/* Asynchronous I/O of the old kind; io_uring is refused below. */
	{ "io_setup", A }, { "io_destroy", A }, { "io_submit", A }, { "io_cancel", A },
	{ "io_getevents", A }, { "io_pgetevents", A },

	/* ENOSYS so that libc falls back: clone3's flags sit in memory a filter cannot
	 * read (glibc retries with clone, whose flags are checked); io_uring runs
	 * operations the filter never sees. */
	{ "clone3", N }, { "io_uring_setup", N }, { "io_uring_enter", N },
	{ "io_uring_register", N },

	/* Other processes' memory and descriptors. */
	{ "ptrace", P }, { "process_vm_readv", P }, { "process_vm_writev", P },
	{ "process_madvise", P }, { "pidfd_getfd", P }, { "kcmp", P },
	/* The mount table and the namespaces the sandbox is made of. */
	{ "mount", P }, { "umount2", P }, { "pivot_root", P }, { "chroot", P },
	{ "fsopen", P }, { "fsconfig", P }, { "fsmount", P }, { "fspick", P },
	{ "move_mount", P }, { "open_tree", P }, { "mount_setattr", P },
	{ "unshare", P }, { "setns", P },
	/* The kernel itself: modules, kexec, BPF, perf, keyrings, the log, power. */
	{ "init_module", P }, { "finit_module", P }, { "delete_module", P },
	{ "kexec_load", P }, { "kexec_file_load", P }, { "bpf", P },
	{ "perf_event_open", P }, { "keyctl", P }, { "add_key", P },
	{ "request_key", P }, { "syslog", P }, { "reboot", P }, { "swapon", P },
	{ "swapoff", P }, { "acct", P }, { "quotactl", P }, { "quotactl_fd", P },
	{ "lookup_dcookie", P }, { "iopl", P }, { "ioperm", P }, { "modify_ldt", P },
	/* Files by handle bypass the mount table; userfaultfd and NUMA placement
	 * are favourite tools of kernel exploits. */
	{ "open_by_handle_at", P }, { "name_to_handle_at", P }, { "userfaultfd", P },
	{ "fanotify_init", P }, { "mbind", P }, { "set_mempolicy", P },
	{ "migrate_pages", P }, { "move_pages", P },
	/* Host-wide settings. */
	{ "settimeofday", P }, { "clock_settime", P }, { "clock_adjtime", P },
	{ "adjtimex", P }, { "sethostname", P }, { "setdomainname", P },
	{ "vhangup", P },
};
const size_t filter_nrules = sizeof filter_rules / sizeof filter_rules[0];

#undef A
#undef P
#undef N

/* The namespace flags of clone(2); CLONE_NEWTIME is left out because in clone's
 * first argument that bit is part of the exit signal. */
#define CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
			CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

static uint32_t action_of(enum filter_action a)
{
	switch (a) {
	case FILTER_ALLOW:
		return SCMP_ACT_ALLOW;
	case FILTER_EPERM:
		return SCMP_ACT_ERRNO(EPERM);
	case FILTER_ENOSYS:
		break;
	}
	return SCMP_ACT_ERRNO(ENOSYS);
}

/* libseccomp's SCMP_An macros leave datum_b out, which clang's -Wextra counts as a
 * missing initializer; designated initializers say the same without the warning. */
#define ARG(n, cmp, value) \
	((struct scmp_arg_cmp){ .arg = (n), .op = (cmp), .datum_a = (value) })
#define ARG_MASKED(n, mask, value) \
	((struct scmp_arg_cmp){ .arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = (value) })

/* libseccomp returns -errno. */
static int rule_failed(struct msg *m, const char *name, int rc)
{
	errno = -rc;
	return fail_errno(m, "cannot add the seccomp rule for %s", name);
}

/* fork-like clones and threads, but no new namespaces: a user namespace would
 * give the process every capability again, inside it. */
static int clone_rules(scmp_filter_ctx ctx, struct msg *m)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				  ARG_MASKED(0, CLONE_NS_FLAGS, 0));

	for (int bit = 0; rc == 0 && bit < 32; bit++) {
		uint64_t flag = 1ULL << bit;

		if (flag & CLONE_NS_FLAGS)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
					      ARG_MASKED(0, flag, flag));
	}
	return rc ? rule_failed(m, "clone", rc) : 0;
}

/*
 * Local and IP sockets, and netlink for routes and addresses (getaddrinfo asks it
 * which address families are configured). Every other family (packet, vsock, alg,
 * bluetooth, ...) fails as if the kernel lacked it.
 */
static int socket_rules(scmp_filter_ctx ctx, struct msg *m)
{
	const int allowed[] = { AF_UNIX, AF_INET, AF_INET6 };
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof allowed / sizeof allowed[0]; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      ARG(0, SCMP_CMP_EQ, (uint64_t)allowed[i]));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
				      ARG(0, SCMP_CMP_EQ, AF_NETLINK),
				      ARG(2, SCMP_CMP_EQ, NETLINK_ROUTE));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 2,
				      ARG(0, SCMP_CMP_EQ, AF_NETLINK),
				      ARG(2, SCMP_CMP_NE, NETLINK_ROUTE));
	for (int family = 0; rc == 0 && family < AF_MAX; family++) {
		if (family != AF_UNIX && family != AF_INET && family != AF_INET6 &&
		    family != AF_NETLINK)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
					      ARG(0, SCMP_CMP_EQ, (uint64_t)family));
	}
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				      ARG(0, SCMP_CMP_GE, AF_MAX));
	return rc ? rule_failed(m, "socket", rc) : 0;
}

/*
 * Every ioctl but TIOCSTI, which pushes bytes into a terminal's input: with the
 * caller's terminal passed through, a command could type into the caller's shell
 * after it exits. The kernel reads the request as 32 bits, so the rules look at the
 * low half only. libseccomp lets an unconditional rule swallow conditional ones,
 * so "all but one value" is spelt as 32 masked matches: for each bit b, the values
 * that agree with TIOCSTI above b and differ from it at b. Together they are
 * exactly the other 2^32 - 1 values.
 */
static int ioctl_rules(scmp_filter_ctx ctx, struct msg *m)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				  ARG_MASKED(1, 0xffffffffULL, TIOCSTI));

	for (int bit = 31; rc == 0 && bit >= 0; bit--) {
		uint64_t mask = (0xffffffffULL << bit) & 0xffffffffULL;
		uint64_t value = ((uint64_t)TIOCSTI ^ (1ULL << bit)) & mask;

		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      ARG_MASKED(1, mask, value));
	}
	return rc ? rule_failed(m, "ioctl", rc) : 0;
}

/* Asking (0xffffffff), Linux and linux32 (uname says i686); not turning off ASLR
 * or mapping page zero for the programs the command starts. */
static int personality_rules(scmp_filter_ctx ctx, struct msg *m)
{
	const uint64_t allowed[] = { 0x0, 0x8, 0xffffffff };
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof allowed / sizeof allowed[0]; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
				      ARG(0, SCMP_CMP_EQ, allowed[i]));
	return rc ? rule_failed(m, "personality", rc) : 0;
}

static int set_attr(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value,
		    struct msg *m)
{
	int rc = seccomp_attr_set(ctx, attr, value);

	if (rc == 0)
		return 0;
	errno = -rc;
	return fail_errno(m, "cannot set seccomp filter attribute %d", (int)attr);
}

scmp_filter_ctx filter_build(struct msg *m)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));

	if (!ctx) {
		fail(m, "cannot create a seccomp filter (libseccomp is out of memory).");
		return NULL;
	}
	/* The native architecture only (seccomp_init adds it and nothing else), and
	 * a process that tries another ABI is killed, not just refused. A binary
	 * tree keeps the cost of a call logarithmic in the length of the list; with
	 * SYSRAWRC a failure reports the system's errno, not ECANCELED. */
	if (set_attr(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, m) < 0 ||
	    set_attr(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2, m) < 0 ||
	    set_attr(ctx, SCMP_FLTATR_API_SYSRAWRC, 1, m) < 0)
		goto fail;
	for (size_t i = 0; i < filter_nrules; i++) {
		int nr = seccomp_syscall_resolve_name(filter_rules[i].name);
		int rc;

		/* A name this libseccomp does not know is left to the default (ENOSYS):
		 * denied either way. libseccomp refuses rules that repeat the default,
		 * so the ENOSYS entries are there for the reader (and the tests). */
		if (nr == __NR_SCMP_ERROR || filter_rules[i].action == FILTER_ENOSYS)
			continue;
		rc = seccomp_rule_add(ctx, action_of(filter_rules[i].action), nr, 0);
		if (rc) {
			rule_failed(m, filter_rules[i].name, rc);
			goto fail;
		}
	}
	if (clone_rules(ctx, m) < 0 || socket_rules(ctx, m) < 0 || ioctl_rules(ctx, m) < 0 ||
	    personality_rules(ctx, m) < 0)
		goto fail;
	return ctx;
fail:
	seccomp_release(ctx);
	return NULL;
}

int filter_export(int fd, struct msg *m)
{
	scmp_filter_ctx ctx = filter_build(m);
	int rc;

	if (!ctx)
		return -1;
	rc = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (rc == 0)
		return 0;
	errno = -rc;
	fail_errno(m, "cannot write the seccomp filter");
	errno = -rc;
	return -1;
}

int filter_load_from(int fd, struct msg *m)
{
	static struct sock_filter insns[BPF_MAXINSNS];
	struct sock_fprog prog = { .filter = insns };
	size_t got = 0;
	ssize_t n;

	while ((n = read(fd, (char *)insns + got, sizeof insns - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail_errno(m, "cannot read the seccomp filter");
		got += (size_t)n;
		if (got == sizeof insns)
			return fail(m, "the seccomp filter is longer than the kernel allows.");
	}
	if (got == 0 || got % sizeof insns[0])
		return fail(m, "the seccomp filter did not arrive whole (%zu bytes).", got);
	prog.len = (unsigned short)(got / sizeof insns[0]);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return fail_errno(m, "cannot load the seccomp filter");
	return 0;
}
