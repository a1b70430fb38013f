/* probe - what isolation.sh runs inside (and beside) the sandbox.
 *
 * Each subcommand prints one line per fact, "what: result", where result is "ok"
 * or the strerror text, so the script compares whole lines. It is linked
 * statically: it must run in any root the sandbox builds, the guest's included.
 *
 *   syscalls            try the calls a sandboxed process must not make
 *   int80 | x32         a getpid through the i386 or x32 ABI (the filter kills)
 *   pids                the numeric entries of /proc
 *   fds                 the open descriptors
 *   kill PID            kill(PID, 0)
 *   kill-init           SIGKILL to pid 1, then check that we are still here
 *   create PATH         open(PATH, O_CREAT | O_WRONLY)
 *   loopback            a TCP round trip over 127.0.0.1
 *   connect ADDR PORT   a TCP connection to ADDR:PORT
 *   serve ADDR          (outside) accept one connection on ADDR, port printed first
 *   tty                 whether stdin is a terminal, and the command in front
 *   run CMD...          (outside) run CMD and say how it ended
 *   run-kill SIG SEC CMD...  (outside) run CMD, send it SIG after SEC seconds
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static void report(const char *what, long rc)
{
	if (rc < 0)
		printf("%s: %s\n", what, strerror(errno));
	else
		printf("%s: ok\n", what);
}

/*
 * Arguments are harmless even where a call got through: bad magic for reboot, no
 * image for kexec, a missing file for swapon, and so on. A result of "ok" or an
 * error other than the expected one is what the test looks for.
 */
static int syscalls(void)
{
	char buf[8];
	struct iovec local = { buf, sizeof buf }, remote = { buf, sizeof buf };
	uint64_t clone3_args[11] = { 0 };

	report("ptrace", syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
	report("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
	report("umount2", syscall(SYS_umount2, "/tmp", 0));
	report("unshare", syscall(SYS_unshare, CLONE_NEWUSER));
	report("clone newuser", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL));
	report("clone3", syscall(SYS_clone3, clone3_args, sizeof clone3_args));
	report("setns", syscall(SYS_setns, 0, 0));
	report("init_module", syscall(SYS_init_module, NULL, 0, ""));
	report("finit_module", syscall(SYS_finit_module, -1, "", 0));
	report("delete_module", syscall(SYS_delete_module, "nosuch", 0));
	report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	report("bpf", syscall(SYS_bpf, 0, NULL, 0));
	report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	report("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
	report("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, -2));
	report("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
	report("swapon", syscall(SYS_swapon, "/nonexistent", 0));
	report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
	report("chroot", syscall(SYS_chroot, "/tmp"));
	report("acct", syscall(SYS_acct, NULL));
	report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
	report("userfaultfd", syscall(SYS_userfaultfd, 0));
	report("process_vm_readv", syscall(SYS_process_vm_readv, 1, &local, 1, &remote, 1, 0));
	report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
	report("personality ADDR_NO_RANDOMIZE", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
	report("socket AF_PACKET", syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0));
	report("socket AF_VSOCK", syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0));
	report("socket NETLINK_AUDIT", syscall(SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT));
	report("ioctl TIOCSTI", syscall(SYS_ioctl, 0, TIOCSTI, "x"));
	report("sethostname", syscall(SYS_sethostname, "x", 1));
	return 0;
}

/* getpid (20 in the i386 table) through the 32-bit entry, from 64-bit code. */
static int int80(void)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
	printf("int80: returned %ld\n", ret);
	return 0;
}

static int x32(void)
{
	printf("x32: returned %ld\n", syscall(0x40000000L | 39));
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int pids(void)
{
	int list[256], n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return perror("/proc"), 1;
	while ((e = readdir(d)) && n < 256) {
		if (e->d_name[strspn(e->d_name, "0123456789")] == '\0')
			list[n++] = atoi(e->d_name);
	}
	closedir(d);
	qsort(list, (size_t)n, sizeof list[0], cmp_int);
	printf("pids:");
	for (int i = 0; i < n; i++)
		printf(" %d", list[i]);
	printf("\n");
	return 0;
}

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int list[256], n = 0;

	if (!d)
		return perror("/proc/self/fd"), 1;
	while ((e = readdir(d)) && n < 256) {
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			list[n++] = atoi(e->d_name);
	}
	closedir(d);
	qsort(list, (size_t)n, sizeof list[0], cmp_int);
	printf("fds:");
	for (int i = 0; i < n; i++)
		printf(" %d", list[i]);
	printf("\n");
	return 0;
}

static int loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0), c, s;
	char buf[5] = { 0 };

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return report("loopback", -1), 0;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		return report("loopback", -1), 0;
	s = accept(l, NULL, NULL);
	if (s < 0 || write(c, "ping", 4) != 4 || read(s, buf, 4) != 4)
		return report("loopback", -1), 0;
	printf("loopback: %s\n", strcmp(buf, "ping") == 0 ? "ok" : "wrong bytes");
	return 0;
}

static int tcp_connect(const char *addr, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	int c = socket(AF_INET, SOCK_STREAM, 0);

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		return fprintf(stderr, "bad address %s\n", addr), 2;
	report("connect", c < 0 ? -1 : connect(c, (struct sockaddr *)&a, sizeof a));
	return 0;
}

static int serve(const char *addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1 || l < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return perror("serve"), 1;
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	close(accept(l, NULL, NULL));
	return 0;
}

static int tty(void)
{
	printf("tty: %s, %s\n", isatty(0) ? "a terminal" : "not a terminal",
	       tcgetpgrp(0) == getpgrp() ? "in front" : "not in front");
	return 0;
}

static int run(char **cmd, int sig, double delay)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	if (sig) {
		struct timespec ts = { (time_t)delay, (long)((delay - (time_t)delay) * 1e9) };

		nanosleep(&ts, NULL);
		kill(pid, sig);
	}
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status))
		printf("killed by signal %d%s\n", WTERMSIG(status),
		       WCOREDUMP(status) ? " (core dumped)" : "");
	else
		printf("exited %d\n", WEXITSTATUS(status));
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "syscalls") == 0)
		return syscalls();
	if (strcmp(cmd, "int80") == 0)
		return int80();
	if (strcmp(cmd, "x32") == 0)
		return x32();
	if (strcmp(cmd, "pids") == 0)
		return pids();
	if (strcmp(cmd, "fds") == 0)
		return fds();
	if (strcmp(cmd, "kill") == 0 && argc == 3)
		return report("kill", kill(atoi(argv[2]), 0)), 0;
	if (strcmp(cmd, "kill-init") == 0) {
		report("kill 1", kill(1, SIGKILL));
		usleep(200000);
		printf("still here\n");
		return 0;
	}
	if (strcmp(cmd, "create") == 0 && argc == 3)
		return report("create", open(argv[2], O_CREAT | O_WRONLY, 0644)), 0;
	if (strcmp(cmd, "loopback") == 0)
		return loopback();
	if (strcmp(cmd, "connect") == 0 && argc == 4)
		return tcp_connect(argv[2], argv[3]);
	if (strcmp(cmd, "serve") == 0 && argc == 3)
		return serve(argv[2]);
	if (strcmp(cmd, "tty") == 0)
		return tty();
	if (strcmp(cmd, "run") == 0 && argc > 2)
		return run(argv + 2, 0, 0);
	if (strcmp(cmd, "run-kill") == 0 && argc > 4)
		return run(argv + 4, atoi(argv[2]), atof(argv[3]));
	fprintf(stderr, "usage: probe syscalls|int80|x32|pids|fds|kill PID|kill-init|create PATH|"
		"loopback|connect ADDR PORT|serve ADDR|tty|run CMD...|run-kill SIG SEC CMD...\n");
	return 2;
}
