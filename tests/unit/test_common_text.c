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

#define ESCAPED(in) text_escape(buf, sizeof buf, in, sizeof in - 1)

static void test_escape_keeps_printable_ascii_and_utf8(void **state)
{
	char buf[128];

	(void)state;
	assert_string_equal(ESCAPED("cannot open /home/x: No such file."),
			    "cannot open /home/x: No such file.");
	assert_string_equal(ESCAPED("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
			    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(ESCAPED(""), "");
}

static void test_escape_names_terminal_controls(void **state)
{
	char buf[128];

	(void)state;
	assert_string_equal(ESCAPED("\x1b]0;owned\x07\x1b[2J"), "\\x1b]0;owned\\x07\\x1b[2J");
	assert_string_equal(ESCAPED("a\nb\rc\td\\e"), "a\\nb\\rc\\td\\\\e");
	assert_string_equal(ESCAPED("\x7f\x01"), "\\x7f\\x01");
	assert_string_equal(ESCAPED("a\0b"), "a\\x00b");
}

static void test_escape_shows_c1_controls_and_bad_utf8_byte_by_byte(void **state)
{
	char buf[128];

	(void)state;
	/* U+009B is CSI to a terminal that takes C1 controls */
	assert_string_equal(ESCAPED("\xc2\x9b""31m"), "\\xc2\\x9b31m");
	assert_string_equal(ESCAPED("\x9b\xff\xc0\xaf"), "\\x9b\\xff\\xc0\\xaf");
	/* a surrogate, a sequence cut short, and over U+10FFFF */
	assert_string_equal(ESCAPED("\xed\xa0\x80"), "\\xed\\xa0\\x80");
	assert_string_equal(ESCAPED("x\xe2\x82"), "x\\xe2\\x82");
	assert_string_equal(ESCAPED("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
}

static void test_escape_shows_characters_that_reorder_or_hide_text(void **state)
{
	char buf[128];

	(void)state;
	assert_string_equal(ESCAPED("evil\xe2\x80\xae" "txt.exe"), "evil\\u202etxt.exe");
	assert_string_equal(ESCAPED("a\xe2\x80\x8b" "b\xef\xbb\xbf"), "a\\u200bb\\ufeff");
	assert_string_equal(ESCAPED("\xe2\x81\xa6"), "\\u2066");
}

static void test_escape_cuts_between_whole_escapes(void **state)
{
	char buf[8];

	(void)state;
	/* "ab" and "\x1b" take 6 of the 7 with the NUL; "c" would make 8 */
	assert_string_equal(text_escape(buf, 7, "ab\x1b" "cd", 5), "ab\\x1b");
	assert_string_equal(text_escape(buf, sizeof buf, "ab\x1b" "cd", 5), "ab\\x1bc");
	assert_string_equal(text_escape(buf, 6, "ab\x1b" "cd", 5), "ab");
	assert_string_equal(text_escape(buf, 5, "abc\xc3\xa9", 5), "abc");
	assert_string_equal(text_escape(buf, 1, "abc", 3), "");
}

static void test_safe_escapes_a_string_and_reads_null_as_empty(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(text_safe(buf, sizeof buf, "x\x1b[1m"), "x\\x1b[1m");
	assert_string_equal(text_safe(buf, sizeof buf, NULL), "");
}

static void test_escaped_text_never_holds_a_control_byte(void **state)
{
	unsigned char all[256];
	char buf[2048];

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	text_escape(buf, sizeof buf, all, sizeof all);
	for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
		assert_true(*p >= 0x20 && *p != 0x7f && *p < 0x80);
	/* 29 controls as \xNN, \t \n \r, 94 printable and \\, DEL, 128 high bytes alone */
	assert_int_equal(strlen(buf), 29 * 4 + 3 * 2 + 94 + 2 + 4 + 128 * 4);
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
		cmocka_unit_test(test_escape_keeps_printable_ascii_and_utf8),
		cmocka_unit_test(test_escape_names_terminal_controls),
		cmocka_unit_test(test_escape_shows_c1_controls_and_bad_utf8_byte_by_byte),
		cmocka_unit_test(test_escape_shows_characters_that_reorder_or_hide_text),
		cmocka_unit_test(test_escape_cuts_between_whole_escapes),
		cmocka_unit_test(test_safe_escapes_a_string_and_reads_null_as_empty),
		cmocka_unit_test(test_escaped_text_never_holds_a_control_byte),
	};

	return cmocka_run_group_tests_name("common text helpers", tests, NULL, NULL);
}
