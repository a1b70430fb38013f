/* test_vmd_cli.c - unit tests of vmd's command line and secret file.
 *
 * Messages are compared in full: they are what whoever starts vmd reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Before cmocka.h: its fail() macro would otherwise rewrite util.h's fail(). */
#include "cli.h"

#include <cmocka.h>

#define ARGV(...) ((char *[]){ "vmd", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "vmd", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, m, ...) vmd_cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (m))

static void parse_fails(int argc, char **argv, const char *message)
{
	struct vmd_options o;
	struct msg m;

	assert_int_equal(vmd_cli_parse(argc, argv, &o, &m), -1);
	assert_string_equal(m.text, message);
}

#define FAILS(message, ...) parse_fails(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (message))

static void defaults_are_port_8080_all_addresses_and_the_helper(void **state)
{
	struct vmd_options o;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&o, &m, "--secret-file", "/s"), 0);
	assert_int_equal(o.port, 8080);
	assert_string_equal(o.bind, "0.0.0.0");
	assert_string_equal(o.sandbox, "/bin/sandbox-helper");
	assert_string_equal(o.secret_file, "/s");
	assert_string_equal(o.home_root, "/home");
	assert_string_equal(o.bin_dir, "/usr/local/bin");
	assert_string_equal(o.share_root, "/mnt");
	assert_false(o.help);
}

static void home_root_bin_dir_and_share_root_are_absolute_folders(void **state)
{
	struct vmd_options o;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&o, &m, "--secret-file", "/s", "--home-root", "/tmp/h",
			       "--bin-dir=/opt/bin", "--share-root", "/srv/shares"), 0);
	assert_string_equal(o.home_root, "/tmp/h");
	assert_string_equal(o.bin_dir, "/opt/bin");
	assert_string_equal(o.share_root, "/srv/shares");
	FAILS("--share-root \"mnt\": give an absolute path without a trailing '/'.",
	      "--secret-file", "/s", "--share-root", "mnt");
	FAILS("--share-root \"/m:n\": the path must not contain ':'.",
	      "--secret-file", "/s", "--share-root", "/m:n");
	FAILS("--home-root \"home\": give an absolute path without a trailing '/'.",
	      "--secret-file", "/s", "--home-root", "home");
	FAILS("--home-root \"/home/\": give an absolute path without a trailing '/'.",
	      "--secret-file", "/s", "--home-root", "/home/");
	FAILS("--bin-dir \"/\": give an absolute path without a trailing '/'.",
	      "--secret-file", "/s", "--bin-dir", "/");
	FAILS("--home-root \"/a:b\": the path must not contain ':'.",
	      "--secret-file", "/s", "--home-root", "/a:b");
	FAILS("--bin-dir is given twice; give it once.",
	      "--secret-file", "/s", "--bin-dir", "/a", "--bin-dir", "/b");
}

static void every_option_is_read_in_both_forms(void **state)
{
	struct vmd_options o;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&o, &m, "--port", "9000", "--secret-file=/s", "--sandbox",
			       "/usr/bin/sh-helper", "--bind=127.0.0.1"), 0);
	assert_int_equal(o.port, 9000);
	assert_string_equal(o.secret_file, "/s");
	assert_string_equal(o.sandbox, "/usr/bin/sh-helper");
	assert_string_equal(o.bind, "127.0.0.1");
	assert_int_equal(PARSE(&o, &m, "--secret-file", "/s", "--sandbox=none", "--bind", "::1"),
			 0);
	assert_null(o.sandbox);
	assert_string_equal(o.bind, "::1");
}

static void help_needs_no_secret(void **state)
{
	struct vmd_options o;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&o, &m, "--help"), 0);
	assert_true(o.help);
	assert_false(o.version);
	assert_int_equal(PARSE(&o, &m, "-h"), 0);
	assert_true(o.help);
}

static void version_needs_no_secret(void **state)
{
	struct vmd_options o;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&o, &m, "--version"), 0);
	assert_true(o.version);
	assert_false(o.help);
	FAILS("--version takes no value.", "--version=1");
}

static void help_and_version_win_over_mistakes(void **state)
{
	struct vmd_options o;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&o, &m, "--port", "0", "--verbose", "--help"), 0);
	assert_true(o.help);
	assert_int_equal(PARSE(&o, &m, "stray", "-h"), 0);
	assert_true(o.help);
	assert_int_equal(PARSE(&o, &m, "--port", "x", "--version"), 0);
	assert_true(o.version);
}

static void bad_values_name_the_option_and_the_value(void **state)
{
	(void)state;
	FAILS("--port \"0\": the port must be a number from 1 to 65535.",
	      "--port", "0", "--secret-file", "/s");
	FAILS("--port \"65536\": the port must be a number from 1 to 65535.",
	      "--port", "65536", "--secret-file", "/s");
	FAILS("--port \"80x\": the port must be a number from 1 to 65535.",
	      "--port=80x", "--secret-file", "/s");
	FAILS("--port \"-1\": the port must be a number from 1 to 65535.",
	      "--port", "-1", "--secret-file", "/s");
	FAILS("--bind \"localhost\": not an IPv4 or IPv6 address.",
	      "--bind", "localhost", "--secret-file", "/s");
	FAILS("--secret-file needs a path, not an empty string.", "--secret-file=");
	FAILS("--sandbox needs a path or none, not an empty string.",
	      "--sandbox", "", "--secret-file", "/s");
}

static void identity_is_the_alternative_to_the_secret_file(void **state)
{
	struct vmd_options o;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&o, &m, "--identity", "/i"), 0);
	assert_string_equal(o.identity, "/i");
	assert_null(o.secret_file);
	assert_int_equal(PARSE(&o, &m, "--identity=/i"), 0);
	assert_string_equal(o.identity, "/i");
	assert_int_equal(PARSE(&o, &m, "--secret-file", "/s"), 0);
	assert_null(o.identity);
	FAILS("--secret-file and --identity both give the secret; give one of them.",
	      "--secret-file", "/s", "--identity", "/i");
	FAILS("--identity needs a path, not an empty string.", "--identity=");
	FAILS("--identity is given twice; give it once.", "--identity", "/i", "--identity", "/j");
}

static void missing_repeated_unknown_and_stray_arguments_are_errors(void **state)
{
	(void)state;
	FAILS("--secret-file or --identity is required: clients must present the secret "
	      "it holds.", "--port", "1");
	FAILS("--port needs a value (N).", "--secret-file", "/s", "--port");
	FAILS("--port is given twice; give it once.",
	      "--port", "1", "--port=2", "--secret-file", "/s");
	FAILS("unknown option \"--verbose\"; see vmd --help.", "--verbose");
	FAILS("unknown option \"--ports=1\"; see vmd --help.", "--ports=1");
	FAILS("unexpected argument \"x\"; vmd takes only options.", "--secret-file", "/s", "x");
	FAILS("--help takes no value.", "--help=1");
}

static void usage_lists_every_option(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	vmd_cli_usage(f);
	fclose(f);
	assert_non_null(strstr(text, "usage: vmd --secret-file PATH|--identity PATH [--port N]"));
	assert_non_null(strstr(text, "  --port N "));
	assert_non_null(strstr(text, "  --secret-file PATH "));
	assert_non_null(strstr(text, "  --identity PATH "));
	assert_non_null(strstr(text, "  --sandbox PATH|none "));
	assert_non_null(strstr(text, "  --bind ADDR "));
	assert_non_null(strstr(text, "\n  --help, -h               print this help and exit\n"
				     "  --version                print the version and exit\n"));
	assert_non_null(strstr(text, "\nExit status: 0 when stopped by SIGTERM or SIGINT, 1 when "
				     "vmd cannot start (the\nsecret file, the identity, the port), 2 for a usage "
				     "error.\n"));
	free(text);
}

static void hint_points_at_help(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	vmd_cli_hint(f);
	fclose(f);
	assert_string_equal(text, "usage: vmd --secret-file PATH|--identity PATH [OPTION]... "
				  "(vmd --help lists the options)\n");
	free(text);
}

/* --- the secret file ---------------------------------------------------------------- */

static char path[64];

static const char *secret_file(const char *content, size_t len)
{
	int fd;

	snprintf(path, sizeof path, "/tmp/test_vmd_cli-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

static int remove_file(void **state)
{
	(void)state;
	if (path[0])
		unlink(path);
	path[0] = '\0';
	return 0;
}

#define HEX64 "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"

static void a_secret_is_64_hex_digits_and_maybe_a_newline(void **state)
{
	char secret[VMD_SECRET_LEN + 1];
	struct msg m;

	(void)state;
	assert_int_equal(vmd_secret_load(secret_file(HEX64, 64), secret, &m), 0);
	assert_string_equal(secret, HEX64);
	remove_file(state);
	assert_int_equal(vmd_secret_load(secret_file(HEX64 "\n", 65), secret, &m), 0);
	assert_string_equal(secret, HEX64);
}

static void a_malformed_secret_is_refused_without_quoting_it(void **state)
{
	static const char *bad[] = {
		"", "abc\n", HEX64 "\n\n", HEX64 "0", HEX64 "\r\n", HEX64 " ",
		"g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	};
	char secret[VMD_SECRET_LEN + 1], want[256];
	struct msg m;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *p = secret_file(bad[i], strlen(bad[i]));

		assert_int_equal(vmd_secret_load(p, secret, &m), -1);
		snprintf(want, sizeof want, "the secret file %s must hold exactly 64 hex digits "
			 "(and at most a newline).", p);
		assert_string_equal(m.text, want);
		remove_file(state);
	}
}

static void an_unreadable_secret_file_says_why(void **state)
{
	char secret[VMD_SECRET_LEN + 1];
	struct msg m;

	(void)state;
	assert_int_equal(vmd_secret_load("/nonexistent/secret", secret, &m), -1);
	assert_string_equal(m.text, "cannot read the secret file /nonexistent/secret: "
			    "No such file or directory");
	assert_int_equal(vmd_secret_load("/tmp", secret, &m), -1);
	assert_string_equal(m.text, "cannot read the secret file /tmp: Is a directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_port_8080_all_addresses_and_the_helper),
		cmocka_unit_test(every_option_is_read_in_both_forms),
		cmocka_unit_test(help_needs_no_secret),
		cmocka_unit_test(version_needs_no_secret),
		cmocka_unit_test(help_and_version_win_over_mistakes),
		cmocka_unit_test(home_root_bin_dir_and_share_root_are_absolute_folders),
		cmocka_unit_test(bad_values_name_the_option_and_the_value),
		cmocka_unit_test(identity_is_the_alternative_to_the_secret_file),
		cmocka_unit_test(missing_repeated_unknown_and_stray_arguments_are_errors),
		cmocka_unit_test(usage_lists_every_option),
		cmocka_unit_test(hint_points_at_help),
		cmocka_unit_test_teardown(a_secret_is_64_hex_digits_and_maybe_a_newline,
					  remove_file),
		cmocka_unit_test_teardown(a_malformed_secret_is_refused_without_quoting_it,
					  remove_file),
		cmocka_unit_test(an_unreadable_secret_file_says_why),
	};

	return cmocka_run_group_tests_name("vmd cli", tests, NULL, NULL);
}
