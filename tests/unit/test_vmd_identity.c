/* test_vmd_identity.c - unit tests of the parser of vmd's identity (the fw_cfg item
 * opt/vmd/identity, see guest/vmd/identity.h).
 *
 * Each identity is built as the host writes it: text, then NUL bytes up to 512.
 * Messages are compared in full: a malformed identity ends the VM with one of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Before cmocka.h: its fail() macro would otherwise rewrite util.h's fail(). */
#include "identity.h"

#include <cmocka.h>

#define SECRET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define SEED "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define GOOD "vmd-identity 1\nsecret=" SECRET "\nseed=" SEED "\n" \
	     "time=1764690000.123456789\nhostname=sb-1\nproxy=10.0.2.100:3128\n" \
	     "ro_shares=data,lib.x\nhome=disk\n"

static char item[IDENTITY_SIZE];

/* text, NUL-padded to the item's size */
static const char *pad(const char *text)
{
	memset(item, 0, sizeof item);
	memcpy(item, text, strlen(text));
	return item;
}

static enum identity_kind parse(const char *text, struct identity *id, struct msg *m)
{
	return identity_parse(pad(text), IDENTITY_SIZE, id, m);
}

static void a_real_identity_is_read_whole(void **state)
{
	struct identity id;
	struct msg m;

	(void)state;
	assert_int_equal(parse(GOOD, &id, &m), IDENTITY_REAL);
	assert_string_equal(id.secret, SECRET);
	assert_int_equal(id.seed[0], 0xff);
	assert_int_equal(id.seed[1], 0xee);
	assert_int_equal(id.seed[31], 0x00);
	assert_int_equal(id.time.tv_sec, 1764690000);
	assert_int_equal(id.time.tv_nsec, 123456789);
	assert_string_equal(id.hostname, "sb-1");
	assert_string_equal(id.proxy, "10.0.2.100:3128");
	assert_string_equal(id.ro_shares, "data,lib.x");
	assert_true(id.home_disk);
}

static void empty_proxy_and_shares_home_in_ram_and_no_final_newline(void **state)
{
	struct identity id;
	struct msg m;

	(void)state;
	assert_int_equal(parse("vmd-identity 1\nsecret=" SECRET "\nseed=" SEED "\n"
			       "time=0.000000000\nhostname=a\nproxy=\nro_shares=\nhome=ram",
			       &id, &m), IDENTITY_REAL);
	assert_int_equal(id.time.tv_sec, 0);
	assert_int_equal(id.time.tv_nsec, 0);
	assert_string_equal(id.hostname, "a");
	assert_string_equal(id.proxy, "");
	assert_string_equal(id.ro_shares, "");
	assert_false(id.home_disk);
}

static void the_placeholder_is_a_template(void **state)
{
	struct identity id;
	struct msg m;

	(void)state;
	assert_int_equal(parse("vmd-identity template\n", &id, &m), IDENTITY_TEMPLATE);
	assert_int_equal(parse("vmd-identity template", &id, &m), IDENTITY_TEMPLATE);
	assert_false(id.home_disk);
}

static void the_placeholder_may_say_where_the_home_is(void **state)
{
	struct identity id;
	struct msg m;

	(void)state;
	assert_int_equal(parse("vmd-identity template\nhome=disk\n", &id, &m), IDENTITY_TEMPLATE);
	assert_true(id.home_disk);
	assert_int_equal(parse("vmd-identity template\nhome=disk", &id, &m), IDENTITY_TEMPLATE);
	assert_true(id.home_disk);
	assert_int_equal(parse("vmd-identity template\nhome=ram\n", &id, &m), IDENTITY_TEMPLATE);
	assert_false(id.home_disk);
	assert_int_equal(parse("vmd-identity template\nhome=usb\n", &id, &m), IDENTITY_BAD);
	assert_string_equal(m.text, "the identity's home must be disk or ram.");
	assert_false(id.home_disk);
	assert_int_equal(parse("vmd-identity template\nhome=disk\nsecret=x\n", &id, &m),
			 IDENTITY_BAD);
	assert_string_equal(m.text, "the template's placeholder identity may have one line after "
			    "its first, home=disk or home=ram.");
	assert_false(id.home_disk);
	assert_int_equal(parse("vmd-identity template\nhostname=a\n", &id, &m), IDENTITY_BAD);
	assert_string_equal(m.text, "the template's placeholder identity may have one line after "
			    "its first, home=disk or home=ram.");
}

static void bad(const char *text, size_t len, const char *message)
{
	struct identity id;
	struct msg m;
	char buf[IDENTITY_SIZE + 1] = { 0 };

	memcpy(buf, text, strlen(text));
	assert_int_equal(identity_parse(buf, len, &id, &m), IDENTITY_BAD);
	assert_string_equal(m.text, message);
	/* nothing of a refused identity is kept */
	assert_string_equal(id.secret, "");
}

#define BAD(message, text) bad((text), IDENTITY_SIZE, (message))

static void the_item_is_512_bytes_of_text_then_nul(void **state)
{
	char buf[IDENTITY_SIZE];
	struct identity id;
	struct msg m;

	(void)state;
	bad(GOOD, 511, "the identity is 511 bytes; it must be exactly 512.");
	bad(GOOD, 513, "the identity is 513 bytes; it must be exactly 512.");
	bad(GOOD, 0, "the identity is 0 bytes; it must be exactly 512.");
	BAD("the identity is empty: NUL bytes only.", "");
	memcpy(buf, pad(GOOD), sizeof buf);
	buf[IDENTITY_SIZE - 1] = 'x';
	assert_int_equal(identity_parse(buf, sizeof buf, &id, &m), IDENTITY_BAD);
	assert_string_equal(m.text, "the identity has bytes other than NUL after its text.");
	/* no NUL at all: 512 bytes of text, whose last line is then too long */
	memset(buf, 'a', sizeof buf);
	assert_int_equal(identity_parse(buf, sizeof buf, &id, &m), IDENTITY_BAD);
	assert_string_equal(m.text, "the identity's first line is neither \"vmd-identity 1\" nor "
			    "\"vmd-identity template\".");
}

static void the_first_line_names_the_version(void **state)
{
	(void)state;
	BAD("the identity's first line is neither \"vmd-identity 1\" nor "
	    "\"vmd-identity template\".", "vmd-identity 2\nsecret=" SECRET "\n");
	BAD("the identity's first line is neither \"vmd-identity 1\" nor "
	    "\"vmd-identity template\".", "secret=" SECRET "\n");
	BAD("the identity's first line is neither \"vmd-identity 1\" nor "
	    "\"vmd-identity template\".", "vmd-identity 1 \n");
	BAD("the identity's first line is neither \"vmd-identity 1\" nor "
	    "\"vmd-identity template\".", "\nvmd-identity 1\n");
}

static void the_lines_come_in_their_order_and_nothing_else(void **state)
{
	(void)state;
	BAD("the identity ends before its secret= line.", "vmd-identity 1\n");
	BAD("the identity ends before its home= line.",
	    "vmd-identity 1\nsecret=" SECRET "\nseed=" SEED "\ntime=1.000000000\n"
	    "hostname=a\nproxy=\nro_shares=\n");
	BAD("the identity's line 2 must be secret=; its lines are vmd-identity 1, secret, "
	    "seed, time, hostname, proxy, ro_shares and home, in that order.",
	    "vmd-identity 1\nseed=" SEED "\nsecret=" SECRET "\n");
	BAD("the identity's line 5 must be hostname=; its lines are vmd-identity 1, secret, "
	    "seed, time, hostname, proxy, ro_shares and home, in that order.",
	    "vmd-identity 1\nsecret=" SECRET "\nseed=" SEED "\ntime=1.000000000\n"
	    "\nhostname=a\n");
	BAD("the identity's line 7 must be ro_shares=; its lines are vmd-identity 1, secret, "
	    "seed, time, hostname, proxy, ro_shares and home, in that order.",
	    "vmd-identity 1\nsecret=" SECRET "\nseed=" SEED "\ntime=1.000000000\n"
	    "hostname=a\nproxy=\nro_shares\nhome=ram\n");
	BAD("the identity has a line after home=; it must end there.", GOOD "extra=1\n");
	BAD("the identity has a line after home=; it must end there.", GOOD "\n");
}

/* GOOD with line KEY= given VALUE */
static const char *with(const char *key, const char *value)
{
	static char text[IDENTITY_SIZE * 2];
	const char *at = strstr(GOOD, key), *eol = strchr(at, '\n');

	snprintf(text, sizeof text, "%.*s%s=%s%s", (int)(at - GOOD), GOOD, key, value, eol);
	return text;
}

static void each_value_is_checked(void **state)
{
	static const struct {
		const char *key, *value, *message;
	} cases[] = {
		{ "secret", "", "the identity's secret must be 64 lowercase hex digits." },
		{ "secret", SECRET "0", "the identity's secret must be 64 lowercase hex digits." },
		{ "secret", "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
		  "the identity's secret must be 64 lowercase hex digits." },
		{ "secret", "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		  "the identity's secret must be 64 lowercase hex digits." },
		{ "seed", "00", "the identity's seed must be 64 lowercase hex digits." },
		{ "seed", SEED " ", "the identity's seed must be 64 lowercase hex digits." },
		{ "time", "1764690000", "the identity's time must be seconds since 1970, a dot "
		  "and 9 digits of nanoseconds." },
		{ "time", "1764690000.12345678", "the identity's time must be seconds since 1970, "
		  "a dot and 9 digits of nanoseconds." },
		{ "time", ".123456789", "the identity's time must be seconds since 1970, a dot "
		  "and 9 digits of nanoseconds." },
		{ "time", "-1.000000000", "the identity's time must be seconds since 1970, a dot "
		  "and 9 digits of nanoseconds." },
		{ "time", "1.00000000x", "the identity's time must be seconds since 1970, a dot "
		  "and 9 digits of nanoseconds." },
		{ "time", "9223372036854775808.000000000", "the identity's time must be seconds "
		  "since 1970, a dot and 9 digits of nanoseconds." },
		{ "hostname", "", "the identity's hostname must be 1 to 63 of a-z, 0-9 and '-', "
		  "not starting or ending with '-'." },
		{ "hostname", "-a", "the identity's hostname must be 1 to 63 of a-z, 0-9 and '-', "
		  "not starting or ending with '-'." },
		{ "hostname", "a-", "the identity's hostname must be 1 to 63 of a-z, 0-9 and '-', "
		  "not starting or ending with '-'." },
		{ "hostname", "Sandbox", "the identity's hostname must be 1 to 63 of a-z, 0-9 and "
		  "'-', not starting or ending with '-'." },
		{ "hostname", "a.b", "the identity's hostname must be 1 to 63 of a-z, 0-9 and '-', "
		  "not starting or ending with '-'." },
		{ "hostname", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "the identity's hostname must be 1 to 63 of a-z, 0-9 and '-', not starting or "
		  "ending with '-'." },
		{ "proxy", "10.0.2.100", "the identity's proxy must be empty or IPv4:PORT, the "
		  "port from 1 to 65535." },
		{ "proxy", "10.0.2.100:0", "the identity's proxy must be empty or IPv4:PORT, the "
		  "port from 1 to 65535." },
		{ "proxy", "10.0.2.100:65536", "the identity's proxy must be empty or IPv4:PORT, "
		  "the port from 1 to 65535." },
		{ "proxy", "10.0.2.100:03128", "the identity's proxy must be empty or IPv4:PORT, "
		  "the port from 1 to 65535." },
		{ "proxy", "proxy:3128", "the identity's proxy must be empty or IPv4:PORT, the "
		  "port from 1 to 65535." },
		{ "proxy", "[::1]:3128", "the identity's proxy must be empty or IPv4:PORT, the "
		  "port from 1 to 65535." },
		{ "proxy", "10.0.2:3128", "the identity's proxy must be empty or IPv4:PORT, the "
		  "port from 1 to 65535." },
		{ "ro_shares", "data,", "the identity's ro_shares must be empty or 9p tags (of "
		  "A-Z, a-z, 0-9, '_', '.' and '-') separated by commas." },
		{ "ro_shares", ",data", "the identity's ro_shares must be empty or 9p tags (of "
		  "A-Z, a-z, 0-9, '_', '.' and '-') separated by commas." },
		{ "ro_shares", "a,..", "the identity's ro_shares must be empty or 9p tags (of "
		  "A-Z, a-z, 0-9, '_', '.' and '-') separated by commas." },
		{ "ro_shares", "a b", "the identity's ro_shares must be empty or 9p tags (of "
		  "A-Z, a-z, 0-9, '_', '.' and '-') separated by commas." },
		{ "ro_shares", "a/b", "the identity's ro_shares must be empty or 9p tags (of "
		  "A-Z, a-z, 0-9, '_', '.' and '-') separated by commas." },
		{ "home", "", "the identity's home must be disk or ram." },
		{ "home", "Disk", "the identity's home must be disk or ram." },
		{ "home", "disk\r", "the identity's home must be disk or ram." },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("%s=%s\n", cases[i].key, cases[i].value);
		BAD(cases[i].message, with(cases[i].key, cases[i].value));
	}
	/* the largest values that are right */
	struct identity id;
	struct msg m;

	assert_int_equal(parse(with("hostname", "ab-0123456789012345678901234567890123456789"
					       "01234567890123456789"), &id, &m),
			 IDENTITY_REAL);
	assert_int_equal(strlen(id.hostname), 63);
	assert_int_equal(parse(with("proxy", "255.255.255.255:65535"), &id, &m), IDENTITY_REAL);
	assert_string_equal(id.proxy, "255.255.255.255:65535");
	assert_int_equal(parse(with("time", "9223372036854775807.999999999"), &id, &m),
			 IDENTITY_REAL);
	assert_int_equal(id.time.tv_sec, INT64_MAX);
	assert_int_equal(id.time.tv_nsec, 999999999);
}

static void ro_shares_name_whole_tags(void **state)
{
	(void)state;
	assert_true(identity_tag_listed("data,lib", "data"));
	assert_true(identity_tag_listed("data,lib", "lib"));
	assert_false(identity_tag_listed("data,lib", "dat"));
	assert_false(identity_tag_listed("data,lib", "li"));
	assert_false(identity_tag_listed("data,lib", "data,lib"));
	assert_false(identity_tag_listed("", "data"));
	assert_true(identity_tag_ok("a_b.c-D", 7));
	assert_false(identity_tag_ok(".", 1));
	assert_false(identity_tag_ok("..", 2));
	assert_true(identity_tag_ok("...", 3));
	assert_false(identity_tag_ok("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_real_identity_is_read_whole),
		cmocka_unit_test(empty_proxy_and_shares_home_in_ram_and_no_final_newline),
		cmocka_unit_test(the_placeholder_is_a_template),
		cmocka_unit_test(the_placeholder_may_say_where_the_home_is),
		cmocka_unit_test(the_item_is_512_bytes_of_text_then_nul),
		cmocka_unit_test(the_first_line_names_the_version),
		cmocka_unit_test(the_lines_come_in_their_order_and_nothing_else),
		cmocka_unit_test(each_value_is_checked),
		cmocka_unit_test(ro_shares_name_whole_tags),
	};

	return cmocka_run_group_tests_name("vmd identity", tests, NULL, NULL);
}
