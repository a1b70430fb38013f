/* test_sandbox_cli.c - unit tests of sandbox-helper's command line and environment.
 *
 * Every usage error is compared in full: it is the sentence a user (or vmd's log)
 * sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Before cmocka.h: its fail() macro would otherwise rewrite util.h's fail(). */
#include "cli.h"
#include "env.h"

#include <cmocka.h>

#define ARGV(...) ((char *[]){ "sandbox-helper", __VA_ARGS__, NULL })

static struct cli cli;
static struct msg msg;

static int parse(char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(&msg, 0, sizeof msg);
	return cli_parse(argc, argv, &cli, &msg);
}

static void expect_ok(char **argv)
{
	if (parse(argv) < 0)
		fail_msg("unexpected error: %s", msg.text);
}

static void expect_error(char **argv, const char *text)
{
	assert_int_equal(parse(argv), -1);
	assert_string_equal(msg.text, text);
}

/* --- defaults and each option ------------------------------------------------ */

static void test_defaults_are_uid_1000_no_network_no_mounts(void **state)
{
	(void)state;
	expect_ok(ARGV("--", "ls", "-l"));
	assert_false(cli.help);
	assert_int_equal(cli.uid, 1000);
	assert_int_equal(cli.gid, 1000);
	assert_false(cli.network);
	assert_int_equal(cli.nmounts, 0);
	assert_null(cli.cwd);
	assert_int_equal(cli.nenv, 0);
	assert_string_equal(cli.hostname, "sandbox");
	assert_string_equal(cli.cmd[0], "ls");
	assert_string_equal(cli.cmd[1], "-l");
	assert_null(cli.cmd[2]);
}

static void test_uid_sets_gid_too_unless_gid_is_given(void **state)
{
	(void)state;
	expect_ok(ARGV("--uid", "4242", "--", "id"));
	assert_int_equal(cli.uid, 4242);
	assert_int_equal(cli.gid, 4242);
	expect_ok(ARGV("--gid", "7", "--uid", "4242", "--", "id"));
	assert_int_equal(cli.uid, 4242);
	assert_int_equal(cli.gid, 7);
}

static void test_options_take_the_equals_form_too(void **state)
{
	(void)state;
	expect_ok(ARGV("--uid=5", "--gid=6", "--cwd=/tmp", "--env=A=b", "--", "x"));
	assert_int_equal(cli.uid, 5);
	assert_int_equal(cli.gid, 6);
	assert_string_equal(cli.cwd, "/tmp");
	assert_string_equal(cli.env[0], "A=b");
}

static void test_largest_id_is_accepted(void **state)
{
	(void)state;
	expect_ok(ARGV("--uid", "4294967294", "--", "x"));
	assert_int_equal(cli.uid, 4294967294U);
}

static void test_network_flag(void **state)
{
	(void)state;
	expect_ok(ARGV("--network", "--", "x"));
	assert_true(cli.network);
}

static void test_mounts_keep_their_order_and_split_at_the_first_colon(void **state)
{
	(void)state;
	expect_ok(ARGV("--tmpfs", "/work", "--ro-bind", "/usr/share:/work/share",
		       "--bind", "/srv/x:/work/a:b", "--", "x"));
	assert_int_equal(cli.nmounts, 3);
	assert_int_equal(cli.mounts[0].kind, MOUNT_TMPFS);
	assert_string_equal(cli.mounts[0].dst, "/work");
	assert_int_equal(cli.mounts[1].kind, MOUNT_RO_BIND);
	assert_int_equal(cli.mounts[1].srclen, strlen("/usr/share"));
	assert_memory_equal(cli.mounts[1].spec, "/usr/share", cli.mounts[1].srclen);
	assert_string_equal(cli.mounts[1].dst, "/work/share");
	assert_int_equal(cli.mounts[2].kind, MOUNT_BIND);
	assert_memory_equal(cli.mounts[2].spec, "/srv/x", cli.mounts[2].srclen);
	assert_string_equal(cli.mounts[2].dst, "/work/a:b");
	/* "/srv/a" then "b:/work/out", which is not absolute. */
	expect_error(ARGV("--bind", "/srv/a:b:/work/out", "--", "x"),
		     "--bind wants SRC:DST, two absolute paths, not \"/srv/a:b:/work/out\".");
}

static void test_bind_and_ro_bind_repeat(void **state)
{
	(void)state;
	expect_ok(ARGV("--bind", "/a:/a", "--bind", "/b:/b", "--ro-bind", "/c:/c",
		       "--ro-bind", "/d:/d", "--", "x"));
	assert_int_equal(cli.nmounts, 4);
	assert_int_equal(cli.mounts[0].kind, MOUNT_BIND);
	assert_int_equal(cli.mounts[3].kind, MOUNT_RO_BIND);
	assert_string_equal(cli.mounts[3].dst, "/d");
}

static void test_env_repeats_and_keeps_the_whole_assignment(void **state)
{
	(void)state;
	expect_ok(ARGV("--env", "A=1", "--env", "B=x=y", "--env", "EMPTY=", "--", "x"));
	assert_int_equal(cli.nenv, 3);
	assert_string_equal(cli.env[0], "A=1");
	assert_string_equal(cli.env[1], "B=x=y");
	assert_string_equal(cli.env[2], "EMPTY=");
}

static void test_cwd_and_hostname(void **state)
{
	(void)state;
	expect_ok(ARGV("--cwd", "/tmp/work", "--hostname", "box-1.local", "--", "x"));
	assert_string_equal(cli.cwd, "/tmp/work");
	assert_string_equal(cli.hostname, "box-1.local");
}

static void test_help_wins_over_mistakes_before_the_command(void **state)
{
	(void)state;
	expect_ok(ARGV("--uid", "zero", "--help"));
	assert_true(cli.help);
	expect_ok(ARGV("-h"));
	assert_true(cli.help);
}

static void test_version_wins_over_mistakes_before_the_command(void **state)
{
	(void)state;
	expect_ok(ARGV("--version"));
	assert_true(cli.version);
	assert_false(cli.help);
	expect_ok(ARGV("--uid", "0", "--version", "--", "x"));
	assert_true(cli.version);
	expect_ok(ARGV("--", "sh", "--version"));
	assert_false(cli.version);
	assert_string_equal(cli.cmd[1], "--version");
	expect_error(ARGV("--version=1", "--", "x"),
		     "unknown option \"--version=1\"; sandbox-helper --help lists the options.");
}

static void test_help_after_the_separator_belongs_to_the_command(void **state)
{
	(void)state;
	expect_ok(ARGV("--", "ls", "--help"));
	assert_false(cli.help);
	assert_string_equal(cli.cmd[1], "--help");
}

static void test_dashes_after_the_separator_belong_to_the_command(void **state)
{
	(void)state;
	expect_ok(ARGV("--", "env", "--", "--uid", "0"));
	assert_string_equal(cli.cmd[1], "--");
	assert_string_equal(cli.cmd[2], "--uid");
	assert_int_equal(cli.uid, 1000);
}

/* --- the command ----------------------------------------------------------------- */

static void test_missing_separator_and_command(void **state)
{
	(void)state;
	expect_error(ARGV("--network"),
		     "no command given; put it after \"--\" (sandbox-helper [OPTIONS] -- CMD [ARGS...]).");
	expect_error((char *[]){ "sandbox-helper", NULL },
		     "no command given; put it after \"--\" (sandbox-helper [OPTIONS] -- CMD [ARGS...]).");
}

static void test_command_without_separator_is_refused(void **state)
{
	(void)state;
	expect_error(ARGV("--uid", "5", "ls", "-l"),
		     "\"ls\" is not an option; put the command after \"--\" (sandbox-helper [OPTIONS] -- CMD [ARGS...]).");
}

static void test_separator_without_command(void **state)
{
	(void)state;
	expect_error(ARGV("--uid", "5", "--"), "no command after \"--\".");
}

/* --- bad values -------------------------------------------------------------------- */

static void test_unknown_option_names_itself(void **state)
{
	(void)state;
	expect_error(ARGV("--user", "5", "--", "x"),
		     "unknown option \"--user\"; sandbox-helper --help lists the options.");
	expect_error(ARGV("-u", "--", "x"),
		     "unknown option \"-u\"; sandbox-helper --help lists the options.");
	/* A prefix of a longer name is not that option. */
	expect_error(ARGV("--uidx", "5", "--", "x"),
		     "unknown option \"--uidx\"; sandbox-helper --help lists the options.");
}

static void test_uid_zero_is_refused(void **state)
{
	(void)state;
	expect_error(ARGV("--uid", "0", "--", "x"),
		     "--uid 0 would run the command as root; give a user id from 1 to 4294967294.");
	expect_error(ARGV("--gid", "0", "--", "x"),
		     "--gid 0 would run the command in group root; give a group id from 1 to 4294967294.");
}

static void test_uid_that_is_not_a_number_is_refused(void **state)
{
	(void)state;
	const char *want = "--uid wants a user id from 1 to 4294967294, not \"%s\".";
	const char *bad[] = { "abc", "-1", "+5", " 5", "5 ", "0x10", "", "4294967295",
			      "99999999999999999999" };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[128];

		snprintf(text, sizeof text, want, bad[i]);
		expect_error(ARGV("--uid", (char *)bad[i], "--", "x"), text);
	}
	expect_error(ARGV("--gid", "nobody", "--", "x"),
		     "--gid wants a group id from 1 to 4294967294, not \"nobody\".");
}

static void test_option_without_value(void **state)
{
	(void)state;
	expect_error(ARGV("--uid"), "--uid needs a value: --uid N.");
	expect_error(ARGV("--bind", "--", "x"), "--bind needs a value: --bind SRC:DST.");
	expect_error(ARGV("--env", "--", "x"), "--env needs a value: --env NAME=VALUE.");
	expect_error(ARGV("--tmpfs"), "--tmpfs needs a value: --tmpfs PATH.");
}

static void test_single_options_given_twice_are_refused(void **state)
{
	(void)state;
	expect_error(ARGV("--uid", "5", "--uid", "6", "--", "x"),
		     "--uid is given twice (\"5\", then \"6\"); give it once.");
	expect_error(ARGV("--gid", "5", "--gid=6", "--", "x"),
		     "--gid is given twice (\"5\", then \"6\"); give it once.");
	expect_error(ARGV("--network", "--network", "--", "x"),
		     "--network is given twice; give it once.");
	expect_error(ARGV("--cwd", "/a", "--cwd", "/b", "--", "x"),
		     "--cwd is given twice (\"/a\", then \"/b\"); give it once.");
	expect_error(ARGV("--hostname", "a", "--hostname", "b", "--", "x"),
		     "--hostname is given twice (\"a\", then \"b\"); give it once.");
}

static void test_flag_with_value_is_refused(void **state)
{
	(void)state;
	expect_error(ARGV("--network=yes", "--", "x"),
		     "--network takes no value, not \"--network=yes\".");
}

static void test_bad_bind_specs(void **state)
{
	(void)state;
	expect_error(ARGV("--bind", "/src", "--", "x"),
		     "--bind wants SRC:DST, two absolute paths, not \"/src\".");
	expect_error(ARGV("--ro-bind", "src:/dst", "--", "x"),
		     "--ro-bind wants SRC:DST, two absolute paths, not \"src:/dst\".");
	expect_error(ARGV("--ro-bind", "/src:dst", "--", "x"),
		     "--ro-bind wants SRC:DST, two absolute paths, not \"/src:dst\".");
	expect_error(ARGV("--bind", ":/dst", "--", "x"),
		     "--bind wants SRC:DST, two absolute paths, not \":/dst\".");
	expect_error(ARGV("--bind", "/src:", "--", "x"),
		     "--bind wants SRC:DST, two absolute paths, not \"/src:\".");
}

static void test_mount_destination_must_stay_in_the_new_root(void **state)
{
	(void)state;
	expect_error(ARGV("--bind", "/src:/", "--", "x"),
		     "--bind cannot mount over the sandbox's \"/\".");
	expect_error(ARGV("--ro-bind", "/src://", "--", "x"),
		     "--ro-bind cannot mount over the sandbox's \"/\".");
	expect_error(ARGV("--bind", "/src:/a/../../etc", "--", "x"),
		     "--bind \"/a/../../etc\" has a \"..\" component; give a path without one.");
	expect_error(ARGV("--tmpfs", "/..", "--", "x"),
		     "--tmpfs \"/..\" has a \"..\" component; give a path without one.");
	expect_error(ARGV("--tmpfs", "/", "--", "x"), "--tmpfs cannot mount over the sandbox's \"/\".");
	expect_error(ARGV("--tmpfs", "tmp", "--", "x"), "--tmpfs wants an absolute path, not \"tmp\".");
	/* Names that merely contain dots are fine. */
	expect_ok(ARGV("--tmpfs", "/a/..b/c..", "--bind", "/../x:/.../y", "--", "x"));
	assert_int_equal(cli.nmounts, 2);
}

static void test_too_many_mounts(void **state)
{
	char *argv[2 + 2 * (CLI_MAX_MOUNTS + 1) + 2];
	int argc = 0;

	(void)state;
	argv[argc++] = "sandbox-helper";
	for (int i = 0; i <= CLI_MAX_MOUNTS; i++) {
		argv[argc++] = "--tmpfs";
		argv[argc++] = "/t";
	}
	argv[argc++] = "--";
	argv[argc++] = "x";
	assert_int_equal(cli_parse(argc, argv, &cli, &msg), -1);
	assert_string_equal(msg.text, "at most 64 --ro-bind, --bind and --tmpfs options can be given.");
	/* Exactly the limit is fine. */
	argv[2 * CLI_MAX_MOUNTS + 1] = "--";
	argv[2 * CLI_MAX_MOUNTS + 2] = "x";
	assert_int_equal(cli_parse(2 * CLI_MAX_MOUNTS + 3, argv, &cli, &msg), 0);
	assert_int_equal(cli.nmounts, CLI_MAX_MOUNTS);
}

static void test_bad_env(void **state)
{
	(void)state;
	expect_error(ARGV("--env", "FOO", "--", "x"), "--env wants NAME=VALUE, not \"FOO\".");
	expect_error(ARGV("--env", "=x", "--", "x"), "--env wants NAME=VALUE, not \"=x\".");
	expect_error(ARGV("--env", "A=1", "--env", "A=2", "--", "x"),
		     "--env sets A twice; give it once.");
	/* A is not AB. */
	expect_ok(ARGV("--env", "AB=1", "--env", "A=2", "--", "x"));
}

static void test_bad_cwd_and_hostname(void **state)
{
	(void)state;
	expect_error(ARGV("--cwd", "tmp", "--", "x"), "--cwd wants an absolute path, not \"tmp\".");
	expect_error(ARGV("--hostname", "a b", "--", "x"),
		     "--hostname wants 1 to 64 letters, digits, dots and dashes, not \"a b\".");
	expect_error(ARGV("--hostname", "", "--", "x"),
		     "--hostname wants 1 to 64 letters, digits, dots and dashes, not \"\".");
	expect_error(ARGV("--hostname",
			  "a234567890123456789012345678901234567890123456789012345678901234x", "--", "x"),
		     "--hostname wants 1 to 64 letters, digits, dots and dashes, not "
		     "\"a234567890123456789012345678901234567890123456789012345678901234x\".");
}

static void test_long_values_are_cut_in_messages(void **state)
{
	char value[300];
	char want[256];

	(void)state;
	memset(value, 'v', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	snprintf(want, sizeof want, "--cwd wants an absolute path, not \"%.80s\".", value);
	expect_error(ARGV("--cwd", value, "--", "x"), want);
}

static void test_usage_lists_every_option(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *first = "usage: sandbox-helper [OPTIONS] -- CMD [ARGS...]\n";
	const char *names[] = { "--uid N", "--gid N", "--network", "--ro-bind SRC:DST...",
				"--bind SRC:DST...", "--tmpfs PATH...", "--cwd PATH",
				"--env NAME=VALUE...", "--hostname NAME", "--help, -h",
				"--version" };

	(void)state;
	assert_non_null(f);
	cli_usage(f);
	fclose(f);
	assert_non_null(text);
	assert_true(strncmp(text, first, strlen(first)) == 0);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_non_null(strstr(text, names[i]));
	assert_non_null(strstr(text, "125 when sandbox-helper itself fails"));
	free(text);
}

/* --- the environment ---------------------------------------------------------------- */

/* env_build's result as one string, entries joined with '|'. */
static const char *env_joined(char **envp)
{
	static char out[512];
	const char **env = env_build(&cli, envp);

	assert_non_null(env);
	out[0] = '\0';
	for (size_t i = 0; env[i]; i++) {
		strcat(out, i ? "|" : "");
		strcat(out, env[i]);
	}
	free(env);
	return out;
}

static void test_env_is_the_callers(void **state)
{
	char *envp[] = { "PATH=/bin", "HOME=/h", "TERM=vt100", NULL };

	(void)state;
	expect_ok(ARGV("--", "x"));
	assert_string_equal(env_joined(envp), "PATH=/bin|HOME=/h|TERM=vt100");
}

static void test_env_options_replace_the_callers_and_follow_them(void **state)
{
	char *envp[] = { "PATH=/bin", "HOME=/h", "HOMEDIR=/d", "LANG=C", NULL };

	(void)state;
	expect_ok(ARGV("--env", "HOME=/work", "--env", "X=1", "--env", "LANG=", "--", "x"));
	assert_string_equal(env_joined(envp), "PATH=/bin|HOMEDIR=/d|HOME=/work|X=1|LANG=");
}

static void test_env_without_path_gets_the_default_one(void **state)
{
	char *envp[] = { "HOME=/h", NULL };
	char *empty[] = { NULL };

	(void)state;
	expect_ok(ARGV("--", "x"));
	assert_string_equal(env_joined(envp), "HOME=/h|" ENV_PATH);
	assert_string_equal(env_joined(empty), ENV_PATH);
	assert_string_equal(env_joined(NULL), ENV_PATH);
	expect_ok(ARGV("--env", "PATH=/opt/bin", "--", "x"));
	assert_string_equal(env_joined(empty), "PATH=/opt/bin");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_uid_1000_no_network_no_mounts),
		cmocka_unit_test(test_uid_sets_gid_too_unless_gid_is_given),
		cmocka_unit_test(test_options_take_the_equals_form_too),
		cmocka_unit_test(test_largest_id_is_accepted),
		cmocka_unit_test(test_network_flag),
		cmocka_unit_test(test_mounts_keep_their_order_and_split_at_the_first_colon),
		cmocka_unit_test(test_bind_and_ro_bind_repeat),
		cmocka_unit_test(test_env_repeats_and_keeps_the_whole_assignment),
		cmocka_unit_test(test_cwd_and_hostname),
		cmocka_unit_test(test_help_wins_over_mistakes_before_the_command),
		cmocka_unit_test(test_version_wins_over_mistakes_before_the_command),
		cmocka_unit_test(test_help_after_the_separator_belongs_to_the_command),
		cmocka_unit_test(test_dashes_after_the_separator_belong_to_the_command),
		cmocka_unit_test(test_missing_separator_and_command),
		cmocka_unit_test(test_command_without_separator_is_refused),
		cmocka_unit_test(test_separator_without_command),
		cmocka_unit_test(test_unknown_option_names_itself),
		cmocka_unit_test(test_uid_zero_is_refused),
		cmocka_unit_test(test_uid_that_is_not_a_number_is_refused),
		cmocka_unit_test(test_option_without_value),
		cmocka_unit_test(test_single_options_given_twice_are_refused),
		cmocka_unit_test(test_flag_with_value_is_refused),
		cmocka_unit_test(test_bad_bind_specs),
		cmocka_unit_test(test_mount_destination_must_stay_in_the_new_root),
		cmocka_unit_test(test_too_many_mounts),
		cmocka_unit_test(test_bad_env),
		cmocka_unit_test(test_bad_cwd_and_hostname),
		cmocka_unit_test(test_long_values_are_cut_in_messages),
		cmocka_unit_test(test_usage_lists_every_option),
		cmocka_unit_test(test_env_is_the_callers),
		cmocka_unit_test(test_env_options_replace_the_callers_and_follow_them),
		cmocka_unit_test(test_env_without_path_gets_the_default_one),
	};

	return cmocka_run_group_tests_name("sandbox cli", tests, NULL, NULL);
}
