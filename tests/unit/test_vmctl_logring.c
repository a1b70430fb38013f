/* test_vmctl_logring.c - the bounded console and QEMU log files. */
#include "logring.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define MLEN (sizeof LOGRING_MARKER - 1)

struct fixture {
	char path[64];
	struct logring r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	snprintf(f->path, sizeof f->path, "/tmp/test_logring.XXXXXX");
	f->r.fd = mkstemp(f->path);
	f->r.cap = 1024;
	*state = f;
	return f->r.fd == -1 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->r.fd);
	unlink(f->path);
	free(f);
	return 0;
}

/* The whole file, NUL-terminated (the caller frees it). */
static char *contents(const struct fixture *f, size_t *len)
{
	struct stat st;
	char *buf;

	assert_int_equal(fstat(f->r.fd, &st), 0);
	buf = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(f->r.fd, buf, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	return buf;
}

static void add(struct fixture *f, const char *text)
{
	assert_int_equal(logring_append(&f->r, text, strlen(text)), 0);
}

static void test_below_the_cap_every_byte_is_kept(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *text;

	add(f, "one\n");
	add(f, "two\n");
	text = contents(f, &len);
	assert_string_equal(text, "one\ntwo\n");
	assert_int_equal(f->r.size, 8);
	free(text);
}

static void test_past_the_cap_the_newest_lines_stay_behind_the_marker(void **state)
{
	struct fixture *f = *state;
	char line[32];
	size_t len;
	char *text;

	for (int i = 0; i < 200; i++) {
		snprintf(line, sizeof line, "line %03d\n", i);
		add(f, line);
		assert_true(f->r.size <= 1024);
	}
	text = contents(f, &len);
	assert_int_equal((size_t)f->r.size, len);
	assert_true(len <= 1024);
	assert_memory_equal(text, LOGRING_MARKER, MLEN);
	/* whole lines after the marker, the last one last */
	assert_memory_equal(text + MLEN, "line ", 5);
	assert_string_equal(text + len - 9, "line 199\n");
	free(text);
}

static void test_one_write_larger_than_the_cap_keeps_its_end(void **state)
{
	struct fixture *f = *state;
	char big[5000];
	size_t len;
	char *text;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big + sizeof big - 8, "\nlast\n", 7);
	add(f, "before\n");
	add(f, big);
	text = contents(f, &len);
	assert_true(len <= 1024);
	assert_memory_equal(text, LOGRING_MARKER, MLEN);
	assert_null(strstr(text, "before"));
	assert_string_equal(text + len - 6, "\nlast\n");
	free(text);
}

static void test_last_line_is_read_from_the_end_of_a_long_file(void **state)
{
	struct fixture *f = *state;
	char out[301];

	f->r.cap = 1 << 20;
	for (int i = 0; i < 2000; i++)
		add(f, "a flood of early lines that fills the head of the file\n");
	add(f, "qemu-system-x86_64: the reason\n\n");
	logring_last_line(f->path, out, sizeof out);
	assert_string_equal(out, "qemu-system-x86_64: the reason");
}

static void test_last_line_of_an_empty_or_missing_file_is_empty(void **state)
{
	struct fixture *f = *state;
	char out[16] = "junk";

	logring_last_line(f->path, out, sizeof out);
	assert_string_equal(out, "");
	strcpy(out, "junk");
	logring_last_line("/nonexistent/test_logring", out, sizeof out);
	assert_string_equal(out, "");
}

static void test_last_line_is_cut_to_the_buffer(void **state)
{
	struct fixture *f = *state;
	char out[6];

	add(f, "first\nabcdefghij\n");
	logring_last_line(f->path, out, sizeof out);
	assert_string_equal(out, "abcde");
}

static void test_last_line_of_a_prefix_skips_later_lines(void **state)
{
	struct fixture *f = *state;
	char out[301] = "junk";

	add(f, "init: early\nvmd: the identity has bytes other than NUL after its text.\n"
	       "init: vmd exited; powering off\n[    2.9] reboot: Power down\n");
	logring_last_line_of(f->path, (const char *const[]){ "vmd: ", NULL }, out, sizeof out);
	assert_string_equal(out, "vmd: the identity has bytes other than NUL after its text.");
	logring_last_line_of(f->path, (const char *const[]){ "init: ", "vmd: ", NULL }, out,
			     sizeof out);
	assert_string_equal(out, "init: vmd exited; powering off");
	logring_last_line_of(f->path, (const char *const[]){ "qemu: ", NULL }, out, sizeof out);
	assert_string_equal(out, "");
	logring_last_line_of(f->path, NULL, out, sizeof out);
	assert_string_equal(out, "[    2.9] reboot: Power down");
}

static void test_last_line_of_a_prefix_finds_the_first_line(void **state)
{
	struct fixture *f = *state;
	char out[301];

	add(f, "vmd: only\nother\n");
	logring_last_line_of(f->path, (const char *const[]){ "vmd: ", NULL }, out, sizeof out);
	assert_string_equal(out, "vmd: only");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_below_the_cap_every_byte_is_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_past_the_cap_the_newest_lines_stay_behind_the_marker,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_write_larger_than_the_cap_keeps_its_end, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_last_line_is_read_from_the_end_of_a_long_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_last_line_of_an_empty_or_missing_file_is_empty, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_last_line_is_cut_to_the_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_line_of_a_prefix_skips_later_lines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_last_line_of_a_prefix_finds_the_first_line, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
