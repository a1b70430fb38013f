/* test_sandbox_cgroup.c - unit tests of how sandbox-helper finds cgroup v2 and sizes its leaf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cgroup.h"

#include <cmocka.h>

static int find(const char *text, char *out, size_t size)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	assert_non_null(f);
	rc = cgroup_find_mount(f, out, size);
	fclose(f);
	return rc;
}

static void test_finds_the_unified_hierarchy_among_v1_mounts(void **state)
{
	const char *text =
		"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
		"35 28 0:30 / /sys/fs/cgroup/pids rw,relatime shared:9 - cgroup cgroup rw,pids\n"
		"36 28 0:31 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n"
		"37 28 0:32 / /other rw - cgroup2 cgroup2 rw\n";
	char out[64];

	(void)state;
	assert_int_equal(find(text, out, sizeof out), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
}

static void test_optional_fields_may_be_absent_or_many(void **state)
{
	const char *text =
		"1 0 0:1 / /a rw shared:1 master:2 propagate_from:3 - tmpfs tmpfs rw\n"
		"2 1 0:2 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
	char out[64];

	(void)state;
	assert_int_equal(find(text, out, sizeof out), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

static void test_escaped_blanks_in_the_mount_point_are_decoded(void **state)
{
	const char *text = "2 1 0:2 / /mnt/my\\040cgroup\\134x rw - cgroup2 none rw\n";
	char out[64];

	(void)state;
	assert_int_equal(find(text, out, sizeof out), 0);
	assert_string_equal(out, "/mnt/my cgroup\\x");
}

static void test_no_cgroup2_mount_or_no_room_is_not_found(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(find("35 28 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
			      out, sizeof out), -1);
	assert_int_equal(find("", out, sizeof out), -1);
	assert_int_equal(find("garbage\n1 2\n", out, sizeof out), -1);
	assert_int_equal(find("2 1 0:2 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", out, sizeof out), -1);
	/* A file system merely named cgroup2 as its source is not one. */
	assert_int_equal(find("2 1 0:2 / /x rw - tmpfs cgroup2 rw\n", out, sizeof out), -1);
}

static void test_memory_max_is_three_quarters_of_ram(void **state)
{
	(void)state;
	assert_int_equal(cgroup_memory_max(1024ULL << 20), 768ULL << 20);
	assert_int_equal(cgroup_memory_max(24ULL << 30), 18ULL << 30);
	assert_int_equal(cgroup_memory_max(0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_the_unified_hierarchy_among_v1_mounts),
		cmocka_unit_test(test_optional_fields_may_be_absent_or_many),
		cmocka_unit_test(test_escaped_blanks_in_the_mount_point_are_decoded),
		cmocka_unit_test(test_no_cgroup2_mount_or_no_room_is_not_found),
		cmocka_unit_test(test_memory_max_is_three_quarters_of_ram),
	};

	return cmocka_run_group_tests_name("sandbox cgroup", tests, NULL, NULL);
}
