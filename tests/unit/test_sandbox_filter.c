/* test_sandbox_filter.c - unit tests of the sandbox's seccomp filter.
 *
 * The filter is exported as sandbox-helper exports it, as the classic BPF program
 * the kernel runs, and run here by a small BPF interpreter on made-up system calls:
 * the verdicts are those of the real program, not of libseccomp's idea of it. A
 * forked child also loads it for real.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

/* Before cmocka.h: its fail() macro would otherwise rewrite util.h's fail(). */
#include "filter.h"

#include <cmocka.h>

#define MAX_INSNS 8192

static struct sock_filter prog[MAX_INSNS];
static size_t prog_len;

/* --- a classic BPF interpreter, for the instructions libseccomp emits ---------- */

static uint32_t load_word(const struct seccomp_data *d, uint32_t k)
{
	uint32_t w;

	if (k % 4 || k + 4 > sizeof *d)
		fail_msg("load from offset %u of seccomp_data", k);
	memcpy(&w, (const char *)d + k, 4);
	return w;
}

static bool jump_taken(uint16_t code, uint32_t a, uint32_t operand)
{
	switch (BPF_OP(code)) {
	case BPF_JEQ:
		return a == operand;
	case BPF_JGT:
		return a > operand;
	case BPF_JGE:
		return a >= operand;
	case BPF_JSET:
		return (a & operand) != 0;
	}
	fail_msg("jump opcode 0x%x", code);
	return false;
}

static uint32_t alu(uint16_t code, uint32_t a, uint32_t operand)
{
	switch (BPF_OP(code)) {
	case BPF_AND:
		return a & operand;
	case BPF_OR:
		return a | operand;
	case BPF_XOR:
		return a ^ operand;
	case BPF_ADD:
		return a + operand;
	case BPF_SUB:
		return a - operand;
	}
	fail_msg("ALU opcode 0x%x", code);
	return 0;
}

static uint32_t run_bpf(const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

	for (size_t pc = 0; pc < prog_len; pc++) {
		const struct sock_filter *i = &prog[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;

		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (BPF_MODE(i->code) == BPF_ABS && BPF_SIZE(i->code) == BPF_W)
				a = load_word(d, i->k);
			else if (BPF_MODE(i->code) == BPF_IMM)
				a = i->k;
			else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS)
				a = mem[i->k];
			else
				fail_msg("load opcode 0x%x", i->code);
			break;
		case BPF_LDX:
			if (BPF_MODE(i->code) == BPF_IMM)
				x = i->k;
			else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS)
				x = mem[i->k];
			else
				fail_msg("loadx opcode 0x%x", i->code);
			break;
		case BPF_ST:
			assert_true(i->k < BPF_MEMWORDS);
			mem[i->k] = a;
			break;
		case BPF_STX:
			assert_true(i->k < BPF_MEMWORDS);
			mem[i->k] = x;
			break;
		case BPF_ALU:
			a = alu(i->code, a, src);
			break;
		case BPF_JMP:
			if (BPF_OP(i->code) == BPF_JA)
				pc += i->k;
			else
				pc += jump_taken(i->code, a, src) ? i->jt : i->jf;
			break;
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_A ? a : i->k;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		}
	}
	fail_msg("the program ran off its end");
	return 0;
}

/* --- the filter, and calls to judge --------------------------------------------- */

static int setup(void **state)
{
	struct msg m;
	int fd = memfd_create("bpf", MFD_CLOEXEC);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	if (filter_export(fd, &m) < 0)
		fail_msg("filter_export: %s", m.text);
	n = pread(fd, prog, sizeof prog, 0);
	close(fd);
	assert_true(n > 0 && n % (ssize_t)sizeof prog[0] == 0 && (size_t)n < sizeof prog);
	prog_len = (size_t)n / sizeof prog[0];
	return 0;
}

static uint32_t judge_arch(uint32_t arch, int nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct seccomp_data d = { .nr = nr, .arch = arch, .args = { a0, a1, a2 } };

	return run_bpf(&d);
}

static uint32_t judge(const char *name, uint64_t a0, uint64_t a1, uint64_t a2)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr < 0)
		fail_msg("libseccomp does not know %s", name);
	return judge_arch(AUDIT_ARCH_X86_64, nr, a0, a1, a2);
}

#define ALLOW	SECCOMP_RET_ALLOW
#define EPERM_	(SECCOMP_RET_ERRNO | EPERM)
#define ENOSYS_	(SECCOMP_RET_ERRNO | ENOSYS)
#define KILL	SECCOMP_RET_KILL_PROCESS

static void test_everyday_calls_are_allowed(void **state)
{
	const char *calls[] = { "read", "write", "openat", "close", "mmap", "execve",
				"exit_group", "wait4", "futex", "rt_sigaction", "getrandom",
				"pipe2", "dup2", "fstat", "newfstatat", "statx", "getdents64",
				"kill", "prlimit64", "sched_getaffinity", "connect", "bind" };

	(void)state;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		if (judge(calls[i], 0, 0, 0) != ALLOW)
			fail_msg("%s is not allowed", calls[i]);
	}
}

static void test_escapes_fail_with_eperm(void **state)
{
	const char *calls[] = {
		"ptrace", "mount", "umount2", "unshare", "setns", "init_module", "finit_module",
		"delete_module", "kexec_load", "kexec_file_load", "bpf", "perf_event_open",
		"keyctl", "add_key", "request_key", "reboot", "swapon", "swapoff", "pivot_root",
		"chroot", "acct", "quotactl", "open_by_handle_at", "userfaultfd",
		"process_vm_readv", "process_vm_writev", "fsopen", "move_mount", "open_tree",
		"mount_setattr", "pidfd_getfd", "iopl", "ioperm", "modify_ldt", "syslog",
		"settimeofday", "clock_settime", "sethostname",
	};

	(void)state;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		uint32_t r = judge(calls[i], 0, 0, 0);

		if (r != EPERM_)
			fail_msg("%s gets 0x%08x, not ERRNO(EPERM)", calls[i], r);
	}
}

static void test_clone3_and_io_uring_fail_with_enosys_so_libc_falls_back(void **state)
{
	const char *calls[] = { "clone3", "io_uring_setup", "io_uring_enter", "io_uring_register" };

	(void)state;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		assert_int_equal(judge(calls[i], 0, 0, 0), ENOSYS_);
}

static void test_calls_not_on_the_list_fail_with_enosys(void **state)
{
	(void)state;
	assert_int_equal(judge_arch(AUDIT_ARCH_X86_64, 1000, 0, 0, 0), ENOSYS_);
	assert_int_equal(judge_arch(AUDIT_ARCH_X86_64, 511, 0, 0, 0), ENOSYS_);
}

static void test_i386_entry_kills_the_process(void **state)
{
	(void)state;
	/* getpid through int $0x80, and everything else through that entry. */
	assert_int_equal(judge_arch(AUDIT_ARCH_I386, 20, 0, 0, 0), KILL);
	assert_int_equal(judge_arch(AUDIT_ARCH_I386, 0, 0, 0, 0), KILL);
	assert_int_equal(judge_arch(AUDIT_ARCH_I386, 3, 0, 0, 0), KILL);
}

static void test_x32_calls_kill_the_process(void **state)
{
	(void)state;
	/* getpid and read with the x32 bit: same arch word, numbers above 0x40000000. */
	assert_int_equal(judge_arch(AUDIT_ARCH_X86_64, 0x40000000 | 39, 0, 0, 0), KILL);
	assert_int_equal(judge_arch(AUDIT_ARCH_X86_64, 0x40000000 | 0, 0, 0, 0), KILL);
}

static void test_clone_for_threads_and_fork_is_allowed(void **state)
{
	const uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
				CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
				CLONE_CHILD_CLEARTID;

	(void)state;
	assert_int_equal(judge("clone", thread, 0, 0), ALLOW);
	assert_int_equal(judge("clone", CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, 0, 0), ALLOW);
	assert_int_equal(judge("clone", CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0), ALLOW);
}

static void test_clone_with_any_namespace_flag_is_refused(void **state)
{
	const uint64_t flags[] = { CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
				   CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP,
				   CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD };

	(void)state;
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		if (judge("clone", flags[i], 0, 0) != EPERM_)
			fail_msg("clone(0x%llx) is not refused with EPERM", (unsigned long long)flags[i]);
	}
}

static void test_socket_families(void **state)
{
	(void)state;
	assert_int_equal(judge("socket", AF_UNIX, SOCK_STREAM, 0), ALLOW);
	assert_int_equal(judge("socket", AF_INET, SOCK_STREAM, 0), ALLOW);
	assert_int_equal(judge("socket", AF_INET6, SOCK_DGRAM, 0), ALLOW);
	assert_int_equal(judge("socket", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), ALLOW);
	assert_int_equal(judge("socket", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT),
			 SECCOMP_RET_ERRNO | EPROTONOSUPPORT);
	assert_int_equal(judge("socket", AF_PACKET, SOCK_RAW, 0), SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(judge("socket", 40 /* AF_VSOCK */, SOCK_STREAM, 0),
			 SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(judge("socket", AF_ALG, SOCK_SEQPACKET, 0), SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(judge("socket", 0, SOCK_STREAM, 0), SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(judge("socket", 4096, SOCK_STREAM, 0), SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	/* The kernel reads an int: junk in the upper half must not pass as AF_INET. */
	assert_int_not_equal(judge("socket", (1ULL << 32) | AF_INET, SOCK_STREAM, 0), ALLOW);
}

static void test_ioctl_allows_all_but_tiocsti(void **state)
{
	(void)state;
	assert_int_equal(judge("ioctl", 0, TCGETS, 0), ALLOW);
	assert_int_equal(judge("ioctl", 0, TIOCGWINSZ, 0), ALLOW);
	assert_int_equal(judge("ioctl", 0, FIONREAD, 0), ALLOW);
	assert_int_equal(judge("ioctl", 0, 0, 0), ALLOW);
	assert_int_equal(judge("ioctl", 0, 0xffffffff, 0), ALLOW);
	assert_int_equal(judge("ioctl", 0, TIOCSTI - 1, 0), ALLOW);
	assert_int_equal(judge("ioctl", 0, TIOCSTI + 1, 0), ALLOW);
	assert_int_equal(judge("ioctl", 0, TIOCSTI, 0), EPERM_);
	/* The kernel truncates the request to 32 bits. */
	assert_int_equal(judge("ioctl", 0, (1ULL << 32) | TIOCSTI, 0), EPERM_);
	assert_int_equal(judge("ioctl", 0, 0xffffffff00000000ULL | TIOCSTI, 0), EPERM_);
}

static void test_ioctl_rules_cover_every_request_but_tiocsti(void **state)
{
	(void)state;
	/* Every single-bit change of TIOCSTI, and a stride through all 2^32 values. */
	for (int bit = 0; bit < 32; bit++)
		assert_int_equal(judge("ioctl", 0, (uint32_t)TIOCSTI ^ (1U << bit), 0), ALLOW);
	for (uint64_t req = 7; req <= 0xffffffff; req += 0x10001 * 97)
		assert_int_equal(judge("ioctl", 0, req, 0), req == TIOCSTI ? EPERM_ : ALLOW);
}

static void test_personality_only_with_safe_arguments(void **state)
{
	(void)state;
	assert_int_equal(judge("personality", 0, 0, 0), ALLOW);
	assert_int_equal(judge("personality", 0xffffffff, 0, 0), ALLOW);
	assert_int_equal(judge("personality", 8 /* PER_LINUX32 */, 0, 0), ALLOW);
	assert_int_not_equal(judge("personality", 0x0040000 /* ADDR_NO_RANDOMIZE */, 0, 0), ALLOW);
	assert_int_not_equal(judge("personality", 0x0100000 /* MMAP_PAGE_ZERO */, 0, 0), ALLOW);
	assert_int_not_equal(judge("personality", 0x0400000 /* READ_IMPLIES_EXEC */, 0, 0), ALLOW);
}

static void test_filter_does_what_the_table_says(void **state)
{
	(void)state;
	for (size_t i = 0; i < filter_nrules; i++) {
		uint32_t want = filter_rules[i].action == FILTER_ALLOW ? ALLOW :
				filter_rules[i].action == FILTER_EPERM ? EPERM_ : ENOSYS_;
		uint32_t got = judge(filter_rules[i].name, 0, 0, 0);

		if (got != want)
			fail_msg("%s gets 0x%08x, the table says 0x%08x", filter_rules[i].name, got, want);
	}
}

static void test_table_names_each_call_once(void **state)
{
	(void)state;
	for (size_t i = 0; i < filter_nrules; i++) {
		for (size_t j = i + 1; j < filter_nrules; j++) {
			if (strcmp(filter_rules[i].name, filter_rules[j].name) == 0)
				fail_msg("%s is in the table twice", filter_rules[i].name);
		}
		if (!strcmp(filter_rules[i].name, "clone") || !strcmp(filter_rules[i].name, "socket") ||
		    !strcmp(filter_rules[i].name, "ioctl") || !strcmp(filter_rules[i].name, "personality"))
			fail_msg("%s has argument rules and must not be in the table", filter_rules[i].name);
	}
}

/* --- the program as the helper sends it and the command loads it ---------------- */

/* In a child: load what filter_export wrote, then try a few calls; the exit status
 * is a bit mask of what went as expected. _exit: the sanitizers' exit work would
 * meet the filter. */
static int load_in_child(void)
{
	int fds[2], status;
	struct msg m;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(filter_export(fds[1], &m), 0);
	close(fds[1]);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = 0;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0 || filter_load_from(fds[0], &m) < 0)
			_exit(100);
		ok |= syscall(SYS_getpid) > 0 ? 1 : 0;
		ok |= syscall(SYS_ptrace, 0, 0, 0, 0) < 0 && errno == EPERM ? 2 : 0;
		ok |= syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS ? 4 : 0;
		ok |= syscall(SYS_unshare, CLONE_NEWUSER) < 0 && errno == EPERM ? 8 : 0;
		_exit(ok);
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_exported_program_loads_and_filters(void **state)
{
	(void)state;
	assert_int_equal(load_in_child(), 1 | 2 | 4 | 8);
}

static void load_expecting(const void *bytes, size_t len, const char *text)
{
	int fds[2];
	struct msg m;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], bytes, len), (ssize_t)len);
	close(fds[1]);
	/* Both refusals come before anything is loaded into this process. */
	assert_int_equal(filter_load_from(fds[0], &m), -1);
	close(fds[0]);
	assert_string_equal(m.text, text);
}

static void test_a_missing_or_cut_program_is_refused(void **state)
{
	(void)state;
	load_expecting("", 0, "the seccomp filter did not arrive whole (0 bytes).");
	load_expecting("12345", 5, "the seccomp filter did not arrive whole (5 bytes).");
	load_expecting(prog, sizeof prog[0] * 3 + 1,
		       "the seccomp filter did not arrive whole (25 bytes).");
}

/* sandbox-helper sends the program generated at build time: it must be this one. */
static void test_the_prebuilt_program_is_the_exported_one(void **state)
{
	(void)state;
	assert_int_equal(filter_bpf_size, prog_len * sizeof prog[0]);
	assert_memory_equal(filter_bpf, prog, filter_bpf_size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everyday_calls_are_allowed),
		cmocka_unit_test(test_escapes_fail_with_eperm),
		cmocka_unit_test(test_clone3_and_io_uring_fail_with_enosys_so_libc_falls_back),
		cmocka_unit_test(test_calls_not_on_the_list_fail_with_enosys),
		cmocka_unit_test(test_i386_entry_kills_the_process),
		cmocka_unit_test(test_x32_calls_kill_the_process),
		cmocka_unit_test(test_clone_for_threads_and_fork_is_allowed),
		cmocka_unit_test(test_clone_with_any_namespace_flag_is_refused),
		cmocka_unit_test(test_socket_families),
		cmocka_unit_test(test_ioctl_allows_all_but_tiocsti),
		cmocka_unit_test(test_ioctl_rules_cover_every_request_but_tiocsti),
		cmocka_unit_test(test_personality_only_with_safe_arguments),
		cmocka_unit_test(test_filter_does_what_the_table_says),
		cmocka_unit_test(test_table_names_each_call_once),
		cmocka_unit_test(test_exported_program_loads_and_filters),
		cmocka_unit_test(test_a_missing_or_cut_program_is_refused),
		cmocka_unit_test(test_the_prebuilt_program_is_the_exported_one),
	};

	return cmocka_run_group_tests_name("sandbox filter", tests, setup, NULL);
}
