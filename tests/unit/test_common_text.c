/* test_common_text.c - the text helpers every program shares. */
#include "text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void list_of(const char *const *items, size_t n, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		list_append(buf, size, &len, i, n, items[i]);
}

static void test_lists_read_as_english(void **state)
{
	static const char *const items[] = { "raw", "vhd", "vdi" };
	char buf[64];

	(void)state;
	list_of(items, 1, buf, sizeof buf);
	assert_string_equal(buf, "raw");
	list_of(items, 2, buf, sizeof buf);
	assert_string_equal(buf, "raw and vhd");
	list_of(items, 3, buf, sizeof buf);
	assert_string_equal(buf, "raw, vhd and vdi");
}

static void test_a_list_item_that_does_not_fit_is_left_out_whole(void **state)
{
	static const char *const items[] = { "start", "exec", "stop" };
	char buf[14];

	(void)state;
	list_of(items, 3, buf, sizeof buf);
	assert_string_equal(buf, "start, exec");
}

static void test_whole_numbers_in_range_parse(void **state)
{
	long v = -1;

	(void)state;
	assert_int_equal(parse_long_in("42", 1, 64, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_long_in("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
}

static void test_anything_else_is_refused_and_leaves_the_value(void **state)
{
	long v = 7;

	(void)state;
	assert_int_equal(parse_long_in("", 0, 10, &v), -1);
	assert_int_equal(parse_long_in("3x", 0, 10, &v), -1);
	assert_int_equal(parse_long_in("11", 0, 10, &v), -1);
	assert_int_equal(parse_long_in("0", 1, 10, &v), -1);
	assert_int_equal(parse_long_in("99999999999999999999", 0, 10, &v), -1);
	assert_int_equal(v, 7);
}

static void test_words_are_counted_across_blanks(void **state)
{
	(void)state;
	assert_int_equal(count_words(""), 0);
	assert_int_equal(count_words(" \t "), 0);
	assert_int_equal(count_words("240 180"), 2);
	assert_int_equal(count_words("  a\tb  c "), 3);
}

static void test_help_and_version_win_before_the_dashes_only(void **state)
{
	char *none[] = { "prog", "convert", "a", "b" };
	char *help[] = { "prog", "--bogus", "-h" };
	char *first[] = { "prog", "--version", "--help" };
	char *after[] = { "prog", "run", "--", "--help", "--version" };

	(void)state;
	assert_int_equal(help_flag(4, none), HELP_NONE);
	assert_int_equal(help_flag(3, help), HELP_USAGE);
	assert_int_equal(help_flag(3, first), HELP_VERSION);
	assert_int_equal(help_flag(5, after), HELP_NONE);
	assert_int_equal(help_flag(1, none), HELP_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists_read_as_english),
		cmocka_unit_test(test_a_list_item_that_does_not_fit_is_left_out_whole),
		cmocka_unit_test(test_whole_numbers_in_range_parse),
		cmocka_unit_test(test_anything_else_is_refused_and_leaves_the_value),
		cmocka_unit_test(test_words_are_counted_across_blanks),
		cmocka_unit_test(test_help_and_version_win_before_the_dashes_only),
	};

	return cmocka_run_group_tests_name("common text helpers", tests, NULL, NULL);
}
