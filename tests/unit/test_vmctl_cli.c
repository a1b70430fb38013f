/* test_vmctl_cli.c - vmctl's command line: every subcommand's forms and mistakes. */
#include "cli.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define ARGV(...) ((char *[]){ "vmctl", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "vmctl", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(a, m, ...) vmctl_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), a, m)

static void test_start_takes_an_image_kernel_shares_memory_and_cpus(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "start", "disk.qcow2", "--kernel", "k", "--initrd", "i",
			       "--share", "/srv", "data", "--share", "/tmp", "tmp", "--memory",
			       "256", "--cpus", "2"), 0);
	assert_string_equal(a.cmd->name, "start");
	assert_string_equal(a.image, "disk.qcow2");
	assert_string_equal(a.kernel, "k");
	assert_string_equal(a.initrd, "i");
	assert_int_equal(a.nshares, 2);
	assert_string_equal(a.shares[1].host, "/tmp");
	assert_string_equal(a.shares[1].tag, "tmp");
	assert_int_equal(a.memory_mib, 256);
	assert_int_equal(a.cpus, 2);
}

static void test_exec_takes_flags_then_the_command_after_dashes(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "exec", "4100", "--raw", "--tty", "--env", "A=1",
			       "--env", "B=x=y", "--cwd", "/tmp", "--", "sh", "-c", "echo --raw"),
			 0);
	assert_int_equal(a.port, 4100);
	assert_true(a.raw);
	assert_true(a.tty);
	assert_int_equal(a.nenv, 2);
	assert_string_equal(a.env[1], "B=x=y");
	assert_string_equal(a.cwd, "/tmp");
	assert_int_equal(a.argc, 3);
	assert_string_equal(a.argv[0], "sh");
	assert_string_equal(a.argv[2], "echo --raw");
}

static void test_stop_and_list_take_what_they_take(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "stop", "65535"), 0);
	assert_int_equal(a.port, 65535);
	assert_int_equal(PARSE(&a, &m, "list"), 0);
	assert_string_equal(a.cmd->name, "list");
}

static void test_web_takes_a_port_and_maybe_an_http_port(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "web", "4100"), 0);
	assert_string_equal(a.cmd->name, "web");
	assert_int_equal(a.port, 4100);
	assert_int_equal(a.http_port, 8000);
	assert_int_equal(PARSE(&a, &m, "web", "4100", "9001"), 0);
	assert_int_equal(a.http_port, 9001);
}

static void test_help_wins_before_dashes_only(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "stop", "--help"), 0);
	assert_true(a.help);
	assert_int_equal(PARSE(&a, &m, "exec", "1", "--", "grep", "--help"), 0);
	assert_false(a.help);
	assert_string_equal(a.argv[1], "--help");
}

static void test_mistakes_are_one_sentence_each(void **state)
{
	const struct {
		int argc;
		char **argv;
		const char *want;
	} cases[] = {
		{ 1, (char *[]){ "vmctl", NULL },
		  "no command given; the commands are start, exec, web, stop and list." },
		{ ARGC("boot"), ARGV("boot"),
		  "unknown command \"boot\"; the commands are start, exec, web, stop and list." },
		{ ARGC("start", "--memory", "10"), ARGV("start", "--memory", "10"),
		  "--memory wants a whole number from 64 to 65536, not \"10\"." },
		{ ARGC("start", "--memory", "64", "--memory", "128"),
		  ARGV("start", "--memory", "64", "--memory", "128"),
		  "--memory is given twice; give it once." },
		{ ARGC("start", "--cpus", "two"), ARGV("start", "--cpus", "two"),
		  "--cpus wants a whole number from 1 to 64, not \"two\"." },
		{ ARGC("start", "--share", "/srv"), ARGV("start", "--share", "/srv"),
		  "--share needs a host folder and a tag." },
		{ ARGC("start", "a.img", "b.img"), ARGV("start", "a.img", "b.img"),
		  "start takes one IMAGE, so \"b.img\" is one too many." },
		{ ARGC("start", "--kernal", "k"), ARGV("start", "--kernal", "k"),
		  "start takes no option --kernal." },
		{ ARGC("start", "--kernel"), ARGV("start", "--kernel"), "--kernel needs a value." },
		{ ARGC("exec"), ARGV("exec"), "exec needs the PORT that vmctl start printed." },
		{ ARGC("exec", "99999", "--", "true"), ARGV("exec", "99999", "--", "true"),
		  "PORT wants a whole number from 1 to 65535, not \"99999\"." },
		{ ARGC("exec", "4000"), ARGV("exec", "4000"), "exec needs a command after --." },
		{ ARGC("exec", "4000", "--"), ARGV("exec", "4000", "--"),
		  "exec needs a command after --." },
		{ ARGC("exec", "4000", "ls"), ARGV("exec", "4000", "ls"),
		  "exec wants -- before the command (\"ls\")." },
		{ ARGC("exec", "4000", "--env", "NOVALUE", "--", "true"),
		  ARGV("exec", "4000", "--env", "NOVALUE", "--", "true"),
		  "--env wants NAME=VALUE, not \"NOVALUE\"." },
		{ ARGC("exec", "4000", "--cwd", "tmp", "--", "true"),
		  ARGV("exec", "4000", "--cwd", "tmp", "--", "true"),
		  "--cwd wants an absolute path in the guest, not \"tmp\"." },
		{ ARGC("exec", "4000", "--raw", "--raw", "--", "true"),
		  ARGV("exec", "4000", "--raw", "--raw", "--", "true"),
		  "--raw is given twice; give it once." },
		{ ARGC("exec", "4000", "-x", "--", "true"), ARGV("exec", "4000", "-x", "--", "true"),
		  "exec takes no option -x." },
		{ ARGC("stop"), ARGV("stop"), "stop needs the PORT that vmctl start printed." },
		{ ARGC("stop", "4000", "4001"), ARGV("stop", "4000", "4001"),
		  "stop takes no more operands, so \"4001\" is one too many." },
		{ ARGC("web"), ARGV("web"), "web needs the PORT that vmctl start printed." },
		{ ARGC("web", "4000", "0"), ARGV("web", "4000", "0"),
		  "HTTP_PORT wants a whole number from 1 to 65535, not \"0\"." },
		{ ARGC("web", "4000", "http"), ARGV("web", "4000", "http"),
		  "HTTP_PORT wants a whole number from 1 to 65535, not \"http\"." },
		{ ARGC("web", "4000", "8000", "8001"), ARGV("web", "4000", "8000", "8001"),
		  "web takes no more operands, so \"8001\" is one too many." },
		{ ARGC("web", "4000", "--tty"), ARGV("web", "4000", "--tty"),
		  "web takes no option --tty." },
		{ ARGC("list", "--all"), ARGV("list", "--all"), "list takes no option --all." },
	};

	(void)state;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct vmctl_args a;
		struct msg m = { "" };

		assert_int_equal(vmctl_parse(cases[k].argc, cases[k].argv, &a, &m), -1);
		assert_string_equal(m.text, cases[k].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_takes_an_image_kernel_shares_memory_and_cpus),
		cmocka_unit_test(test_exec_takes_flags_then_the_command_after_dashes),
		cmocka_unit_test(test_stop_and_list_take_what_they_take),
		cmocka_unit_test(test_web_takes_a_port_and_maybe_an_http_port),
		cmocka_unit_test(test_help_wins_before_dashes_only),
		cmocka_unit_test(test_mistakes_are_one_sentence_each),
	};

	return cmocka_run_group_tests_name("vmctl cli", tests, NULL, NULL);
}
