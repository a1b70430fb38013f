/* test_vmctl_cli.c - vmctl's command line: every subcommand's forms and mistakes. */
#include "cli.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
			       "--share", "/srv", "data", "--share-ro", "/tmp", "t.m-p_2", "--memory",
			       "256", "--cpus", "2"), 0);
	assert_string_equal(a.cmd->name, "start");
	assert_string_equal(a.image, "disk.qcow2");
	assert_string_equal(a.kernel, "k");
	assert_string_equal(a.initrd, "i");
	assert_int_equal(a.nshares, 2);
	assert_false(a.shares[0].read_only);
	assert_string_equal(a.shares[1].host, "/tmp");
	assert_string_equal(a.shares[1].tag, "t.m-p_2");
	assert_true(a.shares[1].read_only);
	assert_int_equal(a.memory_mib, 256);
	assert_int_equal(a.cpus, 2);
}

static void test_exec_takes_flags_then_the_command_after_dashes(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "exec", "4100", "--raw", "--tty", "--uid", "1001", "--env", "A=1",
			       "--env", "B=x=y", "--cwd", "/tmp", "--", "sh", "-c", "echo --raw"),
			 0);
	assert_int_equal(a.port, 4100);
	assert_true(a.raw);
	assert_true(a.tty);
	assert_true(a.has_uid);
	assert_int_equal(a.uid, 1001);
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

static void test_pause_resume_and_fork_take_a_port_and_fork_a_count(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "pause", "4000"), 0);
	assert_string_equal(a.cmd->name, "pause");
	assert_int_equal(a.port, 4000);
	assert_int_equal(PARSE(&a, &m, "resume", "4001"), 0);
	assert_string_equal(a.cmd->name, "resume");
	assert_int_equal(a.port, 4001);
	assert_int_equal(PARSE(&a, &m, "fork", "4002"), 0);
	assert_int_equal(a.port, 4002);
	assert_int_equal(a.count, 0);	/* the default, 1 */
	assert_int_equal(PARSE(&a, &m, "fork", "4002", "-n", "64"), 0);
	assert_int_equal(a.count, 64);
	assert_int_equal(PARSE(&a, &m, "fork", "4002", "-n", "0"), -1);
	assert_string_equal(m.text, "-n wants a whole number from 1 to 64, not \"0\".");
	assert_int_equal(PARSE(&a, &m, "fork", "4002", "-n", "65"), -1);
	assert_string_equal(m.text, "-n wants a whole number from 1 to 64, not \"65\".");
	assert_int_equal(PARSE(&a, &m, "fork", "-n", "2"), -1);
	assert_string_equal(m.text, "fork needs the PORT that vmctl start printed.");
	assert_int_equal(PARSE(&a, &m, "fork", "4002", "-n", "2", "-n", "3"), -1);
	assert_string_equal(m.text, "fork takes no option -n.");
	assert_int_equal(PARSE(&a, &m, "pause"), -1);
	assert_string_equal(m.text, "pause needs the PORT that vmctl start printed.");
	assert_int_equal(PARSE(&a, &m, "resume", "4000", "4001"), -1);
	assert_string_equal(m.text, "resume takes no more operands, so \"4001\" is one too many.");
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

static void test_install_takes_a_port_a_file_and_maybe_a_name(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "install", "4100", "build/tests/probe-static"), 0);
	assert_string_equal(a.cmd->name, "install");
	assert_int_equal(a.port, 4100);
	assert_string_equal(a.file, "build/tests/probe-static");
	assert_string_equal(a.name, "probe-static");
	assert_int_equal(PARSE(&a, &m, "install", "4100", "prog"), 0);
	assert_string_equal(a.name, "prog");
	assert_int_equal(PARSE(&a, &m, "install", "4100", "/bin/true", "yes.sh"), 0);
	assert_string_equal(a.file, "/bin/true");
	assert_string_equal(a.name, "yes.sh");
}

static void test_cp_takes_one_remote_side_and_maybe_a_uid(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "cp", "big.bin", "4100:data/big.bin"), 0);
	assert_string_equal(a.cmd->name, "cp");
	assert_true(a.upload);
	assert_int_equal(a.port, 4100);
	assert_string_equal(a.local, "big.bin");
	assert_string_equal(a.remote, "data/big.bin");
	assert_false(a.has_uid);

	assert_int_equal(PARSE(&a, &m, "cp", "--uid", "1001", "4100:/home/u1001/x:y", "-"), 0);
	assert_false(a.upload);
	assert_string_equal(a.remote, "/home/u1001/x:y");
	assert_string_equal(a.local, "-");
	assert_true(a.has_uid);
	assert_int_equal(a.uid, 1001);

	/* a local name with a colon but no port before it stays local */
	assert_int_equal(PARSE(&a, &m, "cp", "a:b", "7:c", "--uid", "1000"), 0);
	assert_true(a.upload);
	assert_string_equal(a.local, "a:b");
	assert_int_equal(a.port, 7);
	assert_int_equal(a.uid, 1000);
}

static void test_cp_install_and_session_take_their_bounds(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "cp", "4100:x", "y"), 0);
	assert_int_equal(a.idle_timeout, 0);
	assert_int_equal(a.max_size, 0);
	assert_int_equal(PARSE(&a, &m, "cp", "--max-size", "2G", "4100:x", "y", "--idle-timeout",
			       "90"), 0);
	assert_int_equal(a.max_size, 2ull << 30);
	assert_int_equal(a.idle_timeout, 90);
	assert_int_equal(PARSE(&a, &m, "install", "--idle-timeout", "5", "4100", "prog"), 0);
	assert_int_equal(a.port, 4100);
	assert_string_equal(a.file, "prog");
	assert_int_equal(a.idle_timeout, 5);
	assert_int_equal(PARSE(&a, &m, "install", "4100", "prog", "p2", "--idle-timeout", "7"), 0);
	assert_string_equal(a.name, "p2");
	assert_int_equal(a.idle_timeout, 7);
	assert_int_equal(PARSE(&a, &m, "session", "destroy", "--idle-timeout", "60",
			       "--delete-home", "4100", "1001"), 0);
	assert_int_equal(a.idle_timeout, 60);
	assert_true(a.delete_home);
}

static void test_sizes_take_k_m_g_t_and_p(void **state)
{
	unsigned long long v = 7;

	(void)state;
	assert_int_equal(vmctl_parse_size("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(vmctl_parse_size("512K", &v), 0);
	assert_int_equal(v, 512ull << 10);
	assert_int_equal(vmctl_parse_size("3M", &v), 0);
	assert_int_equal(v, 3ull << 20);
	assert_int_equal(vmctl_parse_size("1T", &v), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(vmctl_parse_size("1P", &v), 0);
	assert_int_equal(v, 1ull << 50);
	assert_int_equal(vmctl_parse_size("1125899906842624", &v), 0);
	v = 7;
	assert_int_equal(vmctl_parse_size("2P", &v), -1);
	assert_int_equal(vmctl_parse_size("1125899906842625", &v), -1);
	assert_int_equal(vmctl_parse_size("0", &v), -1);
	assert_int_equal(vmctl_parse_size("", &v), -1);
	assert_int_equal(vmctl_parse_size("M", &v), -1);
	assert_int_equal(vmctl_parse_size("1m", &v), -1);
	assert_int_equal(vmctl_parse_size("1MB", &v), -1);
	assert_int_equal(vmctl_parse_size("1.5G", &v), -1);
	assert_int_equal(vmctl_parse_size("-1", &v), -1);
	assert_int_equal(vmctl_parse_size("99999999999999999999", &v), -1);
	assert_int_equal(v, 7);
}

static void test_paths_from_vmd_must_be_plain_and_absolute(void **state)
{
	(void)state;
	assert_true(vmctl_guest_path_ok("/usr/local/bin/prog", "prog"));
	assert_true(vmctl_guest_path_ok("/home/ann", NULL));
	assert_true(vmctl_guest_path_ok("/home/caf\xc3\xa9", NULL));
	/* the user's own NAME is taken as it is */
	assert_true(vmctl_guest_path_ok("/usr/local/bin/a\\b", "a\\b"));
	assert_false(vmctl_guest_path_ok("/usr/local/bin/prog", "other"));
	assert_false(vmctl_guest_path_ok("/usr/local/bin/xprog", "prog"));
	assert_false(vmctl_guest_path_ok("prog", "prog"));
	assert_false(vmctl_guest_path_ok("/prog/..", NULL));
	assert_false(vmctl_guest_path_ok("/home/../etc", NULL));
	assert_false(vmctl_guest_path_ok("/home/./ann", NULL));
	assert_false(vmctl_guest_path_ok("/home//ann", NULL));
	assert_false(vmctl_guest_path_ok("/home/ann/", NULL));
	assert_false(vmctl_guest_path_ok("/home/\\", NULL));
	assert_false(vmctl_guest_path_ok("/home/a\x1b[2J", NULL));
	assert_false(vmctl_guest_path_ok("/home/a\xe2\x80\xae" "b", NULL));
	assert_false(vmctl_guest_path_ok("/home/\xff", NULL));
	assert_false(vmctl_guest_path_ok("", NULL));
}

static void test_install_names_are_checked_on_the_host(void **state)
{
	char long_name[257];

	(void)state;
	memset(long_name, 'x', 256);
	long_name[256] = '\0';
	assert_true(vmctl_install_name_ok("a"));
	assert_true(vmctl_install_name_ok("..."));
	assert_true(vmctl_install_name_ok(long_name + 1));
	assert_false(vmctl_install_name_ok(long_name));
	assert_false(vmctl_install_name_ok(""));
	assert_false(vmctl_install_name_ok("."));
	assert_false(vmctl_install_name_ok(".."));
	assert_false(vmctl_install_name_ok("a/b"));
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

static void test_version_wins_before_dashes_only(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "--version"), 0);
	assert_true(a.version);
	assert_false(a.help);
	assert_null(a.cmd);
	assert_int_equal(PARSE(&a, &m, "start", "--memory", "1", "--version"), 0);
	assert_true(a.version);
	assert_int_equal(PARSE(&a, &m, "exec", "1", "--", "sh", "--version"), 0);
	assert_false(a.version);
	assert_string_equal(a.argv[1], "--version");
}

static void test_usage_ends_with_help_and_version(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	vmctl_usage(f);
	fclose(f);
	for (size_t i = 0; i < vmctl_ncommands; i++)
		assert_non_null(strstr(text, vmctl_commands[i].usage));
	assert_non_null(strstr(text, "      List the sandboxes this user runs.\n"
				     "  vmctl --help | -h\n      Show this help.\n"
				     "  vmctl --version\n      Show the version.\n\n"));
	free(text);
}

static void test_mistakes_are_one_sentence_each(void **state)
{
	const struct {
		int argc;
		char **argv;
		const char *want;
	} cases[] = {
		{ 1, (char *[]){ "vmctl", NULL },
		  "no command given; the commands are start, template, exec, install, cp, session, web, stop, pause, "
		  "resume, fork and list." },
		{ ARGC("boot"), ARGV("boot"),
		  "unknown command \"boot\"; the commands are start, template, exec, install, cp, session, web, stop, pause, "
		  "resume, fork and list." },
		{ ARGC("--boot"), ARGV("--boot"),
		  "unknown option \"--boot\"; the commands are start, template, exec, install, cp, session, web, stop, pause, "
		  "resume, fork and list." },
		{ ARGC("start", "--memory", "10"), ARGV("start", "--memory", "10"),
		  "--memory wants a whole number from 64 to 65536, not \"10\"." },
		{ ARGC("start", "--memory", "64", "--memory", "128"),
		  ARGV("start", "--memory", "64", "--memory", "128"),
		  "--memory is given twice; give it once." },
		{ ARGC("start", "--cpus", "two"), ARGV("start", "--cpus", "two"),
		  "--cpus wants a whole number from 1 to 64, not \"two\"." },
		{ ARGC("start", "--share", "/srv"), ARGV("start", "--share", "/srv"),
		  "--share needs a host folder and a tag." },
		{ ARGC("start", "--share-ro", "/srv", "a/b"), ARGV("start", "--share-ro", "/srv", "a/b"),
		  "--share-ro wants a TAG of 1 to 31 letters, digits, \"_\", \"-\" or \".\" (not "
		  "\".\" or \"..\"), not \"a/b\"." },
		{ ARGC("start", "--share", "/srv", "x x"), ARGV("start", "--share", "/srv", "x x"),
		  "--share wants a TAG of 1 to 31 letters, digits, \"_\", \"-\" or \".\" (not "
		  "\".\" or \"..\"), not \"x x\"." },
		{ ARGC("start", "--share", "/srv", "0123456789012345678901234567890a"),
		  ARGV("start", "--share", "/srv", "0123456789012345678901234567890a"),
		  "--share wants a TAG of 1 to 31 letters, digits, \"_\", \"-\" or \".\" (not "
		  "\".\" or \"..\"), not \"0123456789012345678901234567890a\"." },
		{ ARGC("start", "--share", "", "t"), ARGV("start", "--share", "", "t"),
		  "--share needs a host folder, not \"\"." },
		{ ARGC("start", "--share", "/a", "t", "--share-ro", "/b", "t"),
		  ARGV("start", "--share", "/a", "t", "--share-ro", "/b", "t"),
		  "the share tag \"t\" is given twice; each share needs its own." },
		{ ARGC("exec", "4000", "--uid", "0", "--", "true"),
		  ARGV("exec", "4000", "--uid", "0", "--", "true"),
		  "--uid wants a whole number from 1000 to 60000, not \"0\"." },
		{ ARGC("session"), ARGV("session"), "session wants create or destroy." },
		{ ARGC("session", "4000", "create"), ARGV("session", "4000", "create"),
		  "session wants create or destroy, not \"4000\"." },
		{ ARGC("session", "create", "4000"), ARGV("session", "create", "4000"),
		  "session create needs the PORT that vmctl start printed and a UID." },
		{ ARGC("session", "create", "4000", "1001", "ann", "x"),
		  ARGV("session", "create", "4000", "1001", "ann", "x"),
		  "session create takes PORT, UID and NAME, so \"x\" is one too many." },
		{ ARGC("session", "create", "4000", "1001", "-ann"),
		  ARGV("session", "create", "4000", "1001", "-ann"),
		  "session create takes no option -ann." },
		{ ARGC("session", "create", "4000", "1001", "9lives"),
		  ARGV("session", "create", "4000", "1001", "9lives"),
		  "session create wants a NAME of 1 to 32 lower-case letters, digits, \"_\" or "
		  "\"-\", starting with a letter or \"_\", not \"9lives\"." },
		{ ARGC("session", "destroy", "4000", "100000"), ARGV("session", "destroy", "4000", "100000"),
		  "UID wants a whole number from 1000 to 60000, not \"100000\"." },
		{ ARGC("session", "destroy", "--delete-home", "--delete-home", "4000", "1001"),
		  ARGV("session", "destroy", "--delete-home", "--delete-home", "4000", "1001"),
		  "--delete-home is given twice; give it once." },
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
		{ ARGC("install"), ARGV("install"),
		  "install needs the PORT that vmctl start printed." },
		{ ARGC("install", "4000"), ARGV("install", "4000"),
		  "install needs the FILE to install." },
		{ ARGC("install", "0", "f"), ARGV("install", "0", "f"),
		  "PORT wants a whole number from 1 to 65535, not \"0\"." },
		{ ARGC("install", "4000", "f", "n", "x"), ARGV("install", "4000", "f", "n", "x"),
		  "install takes no more operands, so \"x\" is one too many." },
		{ ARGC("install", "4000", "f", "--raw"), ARGV("install", "4000", "f", "--raw"),
		  "install takes no option --raw." },
		{ ARGC("install", "4000", "f", "a/b"), ARGV("install", "4000", "f", "a/b"),
		  "install wants a NAME of 1 to 255 bytes, without \"/\" and not \".\" or "
		  "\"..\", not \"a/b\"." },
		{ ARGC("install", "4000", "f", ".."), ARGV("install", "4000", "f", ".."),
		  "install wants a NAME of 1 to 255 bytes, without \"/\" and not \".\" or "
		  "\"..\", not \"..\"." },
		{ ARGC("install", "4000", "f", ""), ARGV("install", "4000", "f", ""),
		  "install wants a NAME of 1 to 255 bytes, without \"/\" and not \".\" or "
		  "\"..\", not \"\"." },
		{ ARGC("install", "4000", "bin/"), ARGV("install", "4000", "bin/"),
		  "install wants a NAME of 1 to 255 bytes, without \"/\" and not \".\" or "
		  "\"..\", not \"\" (FILE's name; give a NAME)." },
		{ ARGC("install", "4000", "."), ARGV("install", "4000", "."),
		  "install wants a NAME of 1 to 255 bytes, without \"/\" and not \".\" or "
		  "\"..\", not \".\" (FILE's name; give a NAME)." },
		{ ARGC("cp"), ARGV("cp"),
		  "cp needs a source and a destination, one of them PORT:PATH." },
		{ ARGC("cp", "4000:a"), ARGV("cp", "4000:a"),
		  "cp needs a source and a destination, one of them PORT:PATH." },
		{ ARGC("cp", "a", "4000:b", "c"), ARGV("cp", "a", "4000:b", "c"),
		  "cp takes two operands, so \"c\" is one too many." },
		{ ARGC("cp", "a", "b"), ARGV("cp", "a", "b"),
		  "cp copies between this host and one sandbox: give exactly one of \"a\" and "
		  "\"b\" as PORT:PATH." },
		{ ARGC("cp", "4000:a", "4001:b"), ARGV("cp", "4000:a", "4001:b"),
		  "cp copies between this host and one sandbox: give exactly one of \"4000:a\" "
		  "and \"4001:b\" as PORT:PATH." },
		{ ARGC("cp", "a", "70000:b"), ARGV("cp", "a", "70000:b"),
		  "PORT wants a whole number from 1 to 65535, not \"70000\"." },
		{ ARGC("cp", "a", "4000:"), ARGV("cp", "a", "4000:"),
		  "cp wants a path after \"4000:\"." },
		{ ARGC("cp", "--uid", "0", "a", "4000:b"), ARGV("cp", "--uid", "0", "a", "4000:b"),
		  "--uid wants a whole number from 1000 to 60000, not \"0\"." },
		{ ARGC("cp", "a", "4000:b", "--uid"), ARGV("cp", "a", "4000:b", "--uid"),
		  "--uid needs a value." },
		{ ARGC("cp", "--uid", "1000", "--uid", "1000", "a", "4000:b"),
		  ARGV("cp", "--uid", "1000", "--uid", "1000", "a", "4000:b"),
		  "--uid is given twice; give it once." },
		{ ARGC("cp", "-r", "a", "4000:b"), ARGV("cp", "-r", "a", "4000:b"),
		  "cp takes no option -r." },
	};

	(void)state;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct vmctl_args a;
		struct msg m = { "" };

		assert_int_equal(vmctl_parse(cases[k].argc, cases[k].argv, &a, &m), -1);
		assert_string_equal(m.text, cases[k].want);
	}
}

static void test_session_creates_with_a_name_and_destroys_with_delete_home(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "session", "create", "4000", "1001", "ann"), 0);
	assert_string_equal(a.cmd->name, "session");
	assert_false(a.destroy);
	assert_int_equal(a.port, 4000);
	assert_int_equal(a.uid, 1001);
	assert_string_equal(a.name, "ann");
	assert_int_equal(PARSE(&a, &m, "session", "create", "4000", "1002"), 0);
	assert_null(a.name);
	assert_int_equal(PARSE(&a, &m, "session", "destroy", "4000", "1002", "--delete-home"), 0);
	assert_true(a.destroy);
	assert_true(a.delete_home);
	assert_int_equal(a.uid, 1002);
	assert_int_equal(PARSE(&a, &m, "session", "destroy", "4000", "1002"), 0);
	assert_false(a.delete_home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_takes_an_image_kernel_shares_memory_and_cpus),
		cmocka_unit_test(test_exec_takes_flags_then_the_command_after_dashes),
		cmocka_unit_test(test_stop_and_list_take_what_they_take),
		cmocka_unit_test(test_pause_resume_and_fork_take_a_port_and_fork_a_count),
		cmocka_unit_test(test_web_takes_a_port_and_maybe_an_http_port),
		cmocka_unit_test(test_install_takes_a_port_a_file_and_maybe_a_name),
		cmocka_unit_test(test_cp_takes_one_remote_side_and_maybe_a_uid),
		cmocka_unit_test(test_session_creates_with_a_name_and_destroys_with_delete_home),
		cmocka_unit_test(test_cp_install_and_session_take_their_bounds),
		cmocka_unit_test(test_sizes_take_k_m_g_t_and_p),
		cmocka_unit_test(test_paths_from_vmd_must_be_plain_and_absolute),
		cmocka_unit_test(test_install_names_are_checked_on_the_host),
		cmocka_unit_test(test_help_wins_before_dashes_only),
		cmocka_unit_test(test_version_wins_before_dashes_only),
		cmocka_unit_test(test_usage_ends_with_help_and_version),
		cmocka_unit_test(test_mistakes_are_one_sentence_each),
	};

	return cmocka_run_group_tests_name("vmctl cli", tests, NULL, NULL);
}
