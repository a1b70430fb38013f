/* test_vmd_launch.c - unit tests of what a spawn request turns into: the argv
 * (through sandbox-helper or raw), the environment, and the identity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Before cmocka.h: its fail() macro would otherwise rewrite util.h's fail(). */
#include "launch.h"

#include <cmocka.h>

static struct proto_request req;
static struct launch l;

static void build_shares(const char *json, const char *sandbox, const char *home,
			 const char *shares)
{
	struct proto_error e;
	struct msg m;
	size_t len;
	uint8_t *f = proto_frame_build(PROTO_SPAWN, json, strlen(json), 0, &len);

	if (proto_request_decode(f, len, &req, &e) < 0)
		fail_msg("%s: %s", json, e.message);
	free(f);
	assert_int_equal(launch_build(&req, sandbox, home, shares, &l, &m), 0);
}

static void build_home(const char *json, const char *sandbox, const char *home)
{
	build_shares(json, sandbox, home, NULL);
}

static void build(const char *json, const char *sandbox)
{
	build_home(json, sandbox, NULL);
}

static int cleanup(void **state)
{
	(void)state;
	launch_free(&l);
	proto_request_free(&req);
	return 0;
}

/* The vector joined with '|', for one comparison. */
static const char *joined(char **v)
{
	static char out[1024];

	out[0] = '\0';
	for (size_t i = 0; v[i]; i++) {
		strcat(out, i ? "|" : "");
		strcat(out, v[i]);
	}
	return out;
}

static void a_sandboxed_spawn_runs_the_helper_with_its_options(void **state)
{
	(void)state;
	build("{\"id\":1,\"command\":\"ls\",\"args\":[\"-l\",\"a b\"],\"uid\":1000,\"gid\":50,"
	      "\"network\":true,\"cwd\":\"/work\"}", "/bin/sandbox-helper");
	assert_true(l.sandboxed);
	assert_string_equal(joined(l.argv), "/bin/sandbox-helper|--uid|1000|--gid|50|"
			    "--network|--cwd|/work|--|ls|-l|a b");
	/* the helper, not vmd, changes directory and identity */
	assert_null(l.cwd);
	assert_false(l.set_uid);
	assert_false(l.set_gid);
}

static void a_sandboxed_spawn_without_options_passes_only_the_command(void **state)
{
	(void)state;
	build("{\"id\":1,\"command\":\"--version\"}", "/bin/sandbox-helper");
	assert_string_equal(joined(l.argv), "/bin/sandbox-helper|--|--version");
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/tmp");
}

static void raw_runs_the_command_itself(void **state)
{
	(void)state;
	build("{\"id\":1,\"command\":\"id\",\"args\":[\"-u\"],\"raw\":true,\"cwd\":\"/tmp\"}",
	      "/bin/sandbox-helper");
	assert_false(l.sandboxed);
	assert_string_equal(joined(l.argv), "id|-u");
	assert_string_equal(l.cwd, "/tmp");
	assert_false(l.set_uid);
	assert_false(l.set_gid);
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/root");
}

static void without_a_helper_every_spawn_is_raw(void **state)
{
	(void)state;
	build("{\"id\":1,\"command\":\"true\"}", NULL);
	assert_false(l.sandboxed);
	assert_string_equal(joined(l.argv), "true");
}

static void a_raw_uid_alone_also_sets_the_group_of_that_number(void **state)
{
	(void)state;
	build("{\"id\":1,\"command\":\"true\",\"raw\":true,\"uid\":1000}", NULL);
	assert_true(l.set_uid);
	assert_int_equal(l.uid, 1000);
	assert_true(l.set_gid);
	assert_int_equal(l.gid, 1000);
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/tmp");
	cleanup(state);
	build("{\"id\":1,\"command\":\"true\",\"uid\":1000,\"gid\":5}", NULL);
	assert_int_equal(l.gid, 5);
	cleanup(state);
	build("{\"id\":1,\"command\":\"true\",\"gid\":5}", NULL);
	assert_false(l.set_uid);
	assert_true(l.set_gid);
	assert_int_equal(l.gid, 5);
}

static void the_environment_is_explicit_and_the_request_wins(void **state)
{
	(void)state;
	build("{\"id\":1,\"command\":\"env\",\"pty\":{\"rows\":2,\"cols\":3},"
	      "\"env\":{\"HOME\":\"/h\",\"LANG\":\"C.UTF-8\",\"TERM\":\"dumb\",\"E\":\"\"}}", NULL);
	assert_string_equal(joined(l.envp),
			    "PATH=" LAUNCH_PATH "|HOME=/h|TERM=dumb|LANG=C.UTF-8|E=");
	cleanup(state);
	build("{\"id\":1,\"command\":\"env\",\"pty\":{\"rows\":2,\"cols\":3}}", NULL);
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/root|TERM=xterm-256color");
}

static void a_sandboxed_root_spawn_is_refused_as_bad_params(void **state)
{
	static const char *const json[] = {
		"{\"id\":1,\"command\":\"true\",\"uid\":0}",
		"{\"id\":1,\"command\":\"true\",\"uid\":5,\"gid\":0}",
	};
	struct proto_error e;
	struct msg m;

	(void)state;
	for (size_t i = 0; i < sizeof json / sizeof json[0]; i++) {
		size_t len;
		uint8_t *f = proto_frame_build(PROTO_SPAWN, json[i], strlen(json[i]), 0, &len);

		assert_int_equal(proto_request_decode(f, len, &req, &e), 0);
		free(f);
		assert_int_equal(launch_build(&req, "/bin/sandbox-helper", NULL, NULL, &l, &m), -1);
		assert_true(l.bad_params);
		assert_string_equal(m.text, "uid and gid 0 run only in raw mode (\"raw\": true).");
		proto_request_free(&req);
	}
}

static void the_terminal_goes_to_the_user_the_command_runs_as(void **state)
{
	(void)state;
	build("{\"id\":1,\"command\":\"sh\",\"pty\":{\"rows\":24,\"cols\":80}}",
	      "/bin/sandbox-helper");
	assert_int_equal(l.tty_uid, LAUNCH_SANDBOX_ID);
	assert_int_equal(l.tty_gid, LAUNCH_SANDBOX_ID);
	cleanup(state);
	build("{\"id\":1,\"command\":\"sh\",\"uid\":1234}", "/bin/sandbox-helper");
	assert_int_equal(l.tty_uid, 1234);
	assert_int_equal(l.tty_gid, 1234);
	cleanup(state);
	build("{\"id\":1,\"command\":\"sh\",\"uid\":1234,\"gid\":77}", "/bin/sandbox-helper");
	assert_int_equal(l.tty_gid, 77);
	cleanup(state);
	build("{\"id\":1,\"command\":\"sh\",\"raw\":true}", "/bin/sandbox-helper");
	assert_int_equal(l.tty_uid, 0);
	assert_int_equal(l.tty_gid, 0);
	cleanup(state);
	build("{\"id\":1,\"command\":\"sh\",\"raw\":true,\"uid\":42}", "/bin/sandbox-helper");
	assert_int_equal(l.tty_uid, 42);
	assert_int_equal(l.tty_gid, 42);
}

static void a_home_is_bound_entered_and_set_as_home_in_the_sandbox(void **state)
{
	(void)state;
	build_home("{\"id\":1,\"command\":\"ls\"}", "/bin/sandbox-helper", "/home/sandbox");
	assert_string_equal(joined(l.argv), "/bin/sandbox-helper|--bind|"
			    "/home/sandbox:/home/sandbox|--cwd|/home/sandbox|--|ls");
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/home/sandbox");
	launch_free(&l);
	proto_request_free(&req);
	/* the request's cwd and HOME still win */
	build_home("{\"id\":1,\"command\":\"ls\",\"uid\":1001,\"cwd\":\"/tmp\","
		   "\"env\":{\"HOME\":\"/x\"}}", "/bin/sandbox-helper", "/home/ann");
	assert_string_equal(joined(l.argv), "/bin/sandbox-helper|--uid|1001|--bind|"
			    "/home/ann:/home/ann|--cwd|/tmp|--|ls");
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/x");
}

static void a_raw_spawn_with_a_home_starts_there(void **state)
{
	(void)state;
	build_home("{\"id\":1,\"command\":\"ls\",\"uid\":1001,\"raw\":true}",
		   "/bin/sandbox-helper", "/home/ann");
	assert_string_equal(joined(l.argv), "ls");
	assert_string_equal(l.cwd, "/home/ann");
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/home/ann");
}

static void the_shares_folder_is_bound_into_the_sandbox_but_not_into_raw(void **state)
{
	(void)state;
	build_shares("{\"id\":1,\"command\":\"ls\"}", "/bin/sandbox-helper", "/home/sandbox",
		     "/mnt");
	assert_string_equal(joined(l.argv), "/bin/sandbox-helper|--bind|"
			    "/home/sandbox:/home/sandbox|--bind|/mnt:/mnt|--cwd|/home/sandbox|--|ls");
	launch_free(&l);
	proto_request_free(&req);
	build_shares("{\"id\":1,\"command\":\"ls\",\"raw\":true}", "/bin/sandbox-helper", NULL,
		     "/mnt");
	assert_string_equal(joined(l.argv), "ls");
}

static void the_identity_s_proxy_reaches_every_command_and_the_network(void **state)
{
	(void)state;
	assert_int_equal(launch_set_proxy("10.0.2.100:3128"), 0);
	build("{\"id\":1,\"command\":\"env\",\"env\":{\"no_proxy\":\"x\"}}",
	      "/bin/sandbox-helper");
	assert_string_equal(joined(l.argv), "/bin/sandbox-helper|--network|--|env");
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/tmp|"
			    "http_proxy=http://10.0.2.100:3128|https_proxy=http://10.0.2.100:3128|"
			    "HTTP_PROXY=http://10.0.2.100:3128|HTTPS_PROXY=http://10.0.2.100:3128|"
			    "no_proxy=x");
	cleanup(state);
	/* an identity without one: no proxy, no network */
	assert_int_equal(launch_set_proxy(""), 0);
	build("{\"id\":1,\"command\":\"env\"}", "/bin/sandbox-helper");
	assert_string_equal(joined(l.argv), "/bin/sandbox-helper|--|env");
	assert_string_equal(joined(l.envp), "PATH=" LAUNCH_PATH "|HOME=/tmp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(a_sandboxed_spawn_runs_the_helper_with_its_options,
					  cleanup),
		cmocka_unit_test_teardown(a_sandboxed_spawn_without_options_passes_only_the_command,
					  cleanup),
		cmocka_unit_test_teardown(raw_runs_the_command_itself, cleanup),
		cmocka_unit_test_teardown(without_a_helper_every_spawn_is_raw, cleanup),
		cmocka_unit_test_teardown(a_raw_uid_alone_also_sets_the_group_of_that_number,
					  cleanup),
		cmocka_unit_test_teardown(the_environment_is_explicit_and_the_request_wins,
					  cleanup),
		cmocka_unit_test(a_sandboxed_root_spawn_is_refused_as_bad_params),
		cmocka_unit_test_teardown(the_terminal_goes_to_the_user_the_command_runs_as, cleanup),
		cmocka_unit_test_teardown(a_home_is_bound_entered_and_set_as_home_in_the_sandbox,
					  cleanup),
		cmocka_unit_test_teardown(a_raw_spawn_with_a_home_starts_there, cleanup),
		cmocka_unit_test_teardown(the_shares_folder_is_bound_into_the_sandbox_but_not_into_raw,
					  cleanup),
		cmocka_unit_test_teardown(the_identity_s_proxy_reaches_every_command_and_the_network,
					  cleanup),
	};

	return cmocka_run_group_tests_name("vmd launch", tests, NULL, NULL);
}
