/* test_sizecheck.c - unit tests of sizecheck's map reader, checks and command line.
 *
 * Files are written under /tmp with mkstemp and removed after each test. Messages
 * are compared in full: they are the interface a user sees.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Before cmocka.h: its fail() macro would otherwise rewrite util.h's fail(). */
#include "check.h"
#include "cli.h"
#include "map.h"

#include <cmocka.h>

/* --- temporary files ---------------------------------------------------------- */

static char *temps[8];
static size_t ntemps;

static const char *temp_file(const void *data, size_t len)
{
	char path[] = "/tmp/test_sizecheck-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_true(ntemps < sizeof temps / sizeof temps[0]);
	temps[ntemps] = strdup(path);
	assert_non_null(temps[ntemps]);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return temps[ntemps++];
}

static const char *temp_text(const char *text)
{
	return temp_file(text, strlen(text));
}

/* A temporary boot.bin, named as the maps below name their output. */
static const char *temp_boot_bin(const void *data, size_t len)
{
	char dir[] = "/tmp/test_sizecheck-XXXXXX";
	char *path;
	int fd;

	assert_non_null(mkdtemp(dir));
	assert_true(ntemps + 2 <= sizeof temps / sizeof temps[0]);
	assert_true(asprintf(&path, "%s/boot.bin", dir) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	temps[ntemps++] = path;         /* removed before its folder */
	temps[ntemps] = strdup(dir);
	assert_non_null(temps[ntemps]);
	return temps[ntemps++ - 1];
}

static int remove_temps(void **state)
{
	(void)state;
	for (size_t i = 0; i < ntemps; i++) {
		if (unlink(temps[i]) == -1)
			rmdir(temps[i]);
		free(temps[i]);
	}
	ntemps = 0;
	return 0;
}

/* --- helpers -------------------------------------------------------------------- */

/* Expected messages name the temporary files, so they are formatted too. */
PRINTF_LIKE(2, 3)
static void expect_msg(const struct msg *m, const char *fmt, ...)
{
	char want[sizeof m->text];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof want, fmt, ap);
	va_end(ap);
	assert_string_equal(m->text, want);
}

/* A copy of s with its first "from" replaced by "to"; from must occur. */
static char *edit(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	assert_non_null(out);
	sprintf(out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

/* A NASM 2.16 map of build/boot.bin as `make` writes it, cut before the labels,
 * with fewer equ constants. */
#define MAP_HEAD \
	"\n" \
	"- NASM Map file ---------------------------------------------------------------\n" \
	"\n" \
	"Source file:  asm/boot.asm\n" \
	"Output file:  build/boot.bin\n" \
	"\n" \
	"-- Program origin -------------------------------------------------------------\n" \
	"\n" \
	"00007C00\n" \
	"\n" \
	"-- Sections (summary) ---------------------------------------------------------\n" \
	"\n" \
	"Vstart            Start             Stop              Length    Class     Name\n" \
	"            7C00              7C00              7D00  00000100  progbits  .text\n" \
	"\n" \
	"-- Sections (detailed) --------------------------------------------------------\n" \
	"\n" \
	"---- Section .text ------------------------------------------------------------\n" \
	"\n" \
	"class:     progbits\n" \
	"length:                 100\n" \
	"start:                 7C00\n" \
	"align:     not defined\n" \
	"follows:   not defined\n" \
	"vstart:                7C00\n" \
	"valign:    not defined\n" \
	"vfollows:  not defined\n" \
	"\n" \
	"-- Symbols --------------------------------------------------------------------\n" \
	"\n" \
	"---- No Section ---------------------------------------------------------------\n" \
	"\n" \
	"Value     Name\n" \
	"00007C00  STACK_TOP\n" \
	"000003F8  COM1\n" \
	"80000000  PCI_ENABLE\n" \
	"00000004  pm_devices.count\n" \
	"\n" \
	"\n" \
	"---- Section .text ------------------------------------------------------------\n" \
	"\n" \
	"Real              Virtual           Name\n"

/* Lines of MAP_HEAD, so an error in the first label row is on line MAP_HEAD_LINES + 1. */
#define MAP_HEAD_LINES 42

/* One row of the .text labels table. */
#define L(addr, name) "            " addr "              " addr "  " name "\n"

#define BOOT_LABELS \
	L("7C00", "start") \
	L("7C0E", "serial_init") \
	L("7C21", "irq_init") \
	L("7C37", "pm_probe") \
	L("7C46", "pm_probe.next") \
	L("7C5E", "pm_probe.done") \
	L("7C61", "reply") \
	L("7C64", "reply.byte") \
	L("7C73", "main") \
	L("7C89", "receive") \
	L("7CA9", "end_of_line") \
	L("7CAF", "power_off") \
	L("7CB9", "power_off.halt") \
	L("7CBC", "putc") \
	L("7CC4", "putc.wait") \
	L("7CCE", "isr") \
	L("7CD7", "pm_devices") \
	L("7CDF", "prompt_rev") \
	L("7CE3", "line") \
	L("7CEC", "banner_end") \
	L("7CEC", "code_end")

#define BOOT_MAP MAP_HEAD BOOT_LABELS "\n"

/* Load text as a map that must parse. */
static void load_ok(const char *text, struct map *map)
{
	struct msg m = { "" };
	int rc = map_load(temp_text(text), map, &m);

	assert_string_equal(m.text, "");
	assert_int_equal(rc, 0);
}

/* Load text as a map that must not parse; returns its path for the message. */
static const char *load_bad(const char *text, struct msg *m)
{
	const char *path = temp_text(text);
	struct map map;

	assert_int_equal(map_load(path, &map, m), -1);
	assert_null(map.labels);
	assert_int_equal(map.nlabels, 0);
	return path;
}

static const struct label *find_label(const struct map *map, const char *name)
{
	for (size_t i = 0; i < map->nlabels; i++)
		if (strcmp(map->labels[i].name, name) == 0)
			return &map->labels[i];
	return NULL;
}

/* The rows of an account as "name=bytes ..." for one comparison. */
static void expect_rows(const struct account *a, const char *want)
{
	char got[1024] = "";
	size_t len = 0;

	for (size_t i = 0; i < a->nrows; i++)
		len += (size_t)snprintf(got + len, sizeof got - len, "%s%s=%llu",
					i ? " " : "", a->rows[i].name,
					(unsigned long long)a->rows[i].bytes);
	assert_string_equal(got, want);
}

static void account_of(const char *text, unsigned long budget, struct map *map,
		       struct account *a)
{
	struct msg m = { "" };

	load_ok(text, map);
	assert_int_equal(account_build(map, "boot.map", budget, a, &m), 0);
}

/* A 256-byte boot program whose bytes all differ from their neighbours. */
static void fill_bin(unsigned char *bin, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bin[i] = (unsigned char)(i * 7 + 1);
}

/* The disk make builds from bin: bin, zeros, 0x55 0xAA at 510. */
static unsigned char *make_image(const unsigned char *bin, size_t n)
{
	unsigned char *img = calloc(1, IMAGE_SIZE);

	assert_non_null(img);
	memcpy(img, bin, n);
	img[SIGNATURE_OFFSET] = 0x55;
	img[SIGNATURE_OFFSET + 1] = 0xAA;
	return img;
}

/* A FILE whose text ends up in *buf (free it) after fclose. */
static FILE *capture(char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);

	assert_non_null(f);
	return f;
}

/* --- the map ------------------------------------------------------------------- */

static void test_map_reads_origin_text_length_and_labels(void **state)
{
	struct map map;

	(void)state;
	load_ok(BOOT_MAP, &map);
	assert_int_equal(map.origin, 0x7C00);
	assert_int_equal(map.text_length, 256);
	assert_int_equal(map.code_end, 0x7CEC);
	assert_int_equal(map_used(&map), 236);
	assert_int_equal(map.nlabels, 21);
	assert_string_equal(map.labels[0].name, "start");
	assert_int_equal(map.labels[0].addr, 0x7C00);
	assert_non_null(find_label(&map, "pm_probe.next"));
	assert_int_equal(find_label(&map, "pm_probe.next")->addr, 0x7C46);
	map_free(&map);
}

static void test_map_keeps_equ_constants_out_of_the_labels(void **state)
{
	struct map map;

	(void)state;
	load_ok(BOOT_MAP, &map);
	assert_null(find_label(&map, "STACK_TOP"));
	assert_null(find_label(&map, "PCI_ENABLE"));
	assert_null(find_label(&map, "pm_devices.count"));
	map_free(&map);
}

static void test_map_ignores_labels_of_other_sections(void **state)
{
	static const char text[] = BOOT_MAP
		"---- Section .data ------------------------------------------------------------\n"
		"\n"
		"Real              Virtual           Name\n"
		L("7D00", "table");
	struct map map;

	(void)state;
	load_ok(text, &map);
	assert_null(find_label(&map, "table"));
	assert_int_equal(map.nlabels, 21);
	map_free(&map);
}

static void test_map_sorts_labels_by_address_keeping_ties_in_map_order(void **state)
{
	struct map map;

	(void)state;
	load_ok(MAP_HEAD L("7C10", "b") L("7C00", "a") L("7C20", "z_end")
		L("7C20", "code_end") "\n", &map);
	assert_int_equal(map.nlabels, 4);
	assert_string_equal(map.labels[0].name, "a");
	assert_string_equal(map.labels[1].name, "b");
	assert_string_equal(map.labels[2].name, "z_end");
	assert_string_equal(map.labels[3].name, "code_end");
	map_free(&map);
}

static void test_map_tolerates_blank_lines_and_crlf(void **state)
{
	const char *text =
		"\r\n\r\n- NASM Map file ---\r\n\r\n\r\n"
		"-- Program origin ---\r\n\r\n\r\n00007C00\r\n\r\n"
		"-- Sections (summary) ---\r\n\r\n"
		"Vstart  Start  Stop  Length  Class  Name\r\n\r\n"
		"7C00 7C00 7D00 00000100 progbits .text\r\n\r\n"
		"-- Symbols ---\r\n\r\n\r\n"
		"---- Section .text ---\r\n\r\n"
		"Real Virtual Name\r\n\r\n"
		"7C00 7C00 start\r\n\r\n\r\n"
		"7C05 7C05 code_end\t \r\n\r\n";
	struct map map;

	(void)state;
	load_ok(text, &map);
	assert_int_equal(map.nlabels, 2);
	assert_string_equal(map.labels[1].name, "code_end");
	assert_int_equal(map_used(&map), 5);
	map_free(&map);
}

static void test_map_reads_lines_of_any_length(void **state)
{
	size_t n = 100000;
	char *name = malloc(n + 1), *text;
	struct map map;

	(void)state;
	assert_non_null(name);
	memset(name, 'x', n);
	name[n] = '\0';
	text = malloc(strlen(BOOT_MAP) + 2 * n + 100);
	assert_non_null(text);
	/* A long line in the preamble and a long label. */
	sprintf(text, "%s%s\n%s%s\n%s\n", name, MAP_HEAD,
		"            7C00              7C00  ", name, L("7C01", "code_end"));
	load_ok(text, &map);
	assert_int_equal(strlen(map.labels[0].name), n);
	assert_int_equal(map_used(&map), 1);
	map_free(&map);
	free(text);
	free(name);
}

static void test_map_without_origin_section_is_not_a_map(void **state)
{
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad("hello\nthis is a text file\n", &m);
	expect_msg(&m, "%s is not a NASM map file (no \"-- Program origin --\" section).",
		   path);
}

static void test_map_empty_file_is_rejected(void **state)
{
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad("", &m);
	expect_msg(&m, "%s is empty, not a NASM map file.", path);
}

static void test_map_blank_file_is_not_a_map(void **state)
{
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad("\n\n  \n", &m);
	expect_msg(&m, "%s is not a NASM map file (no \"-- Program origin --\" section).",
		   path);
}

static void test_map_with_empty_origin_section_is_rejected(void **state)
{
	char *text = edit(BOOT_MAP, "00007C00\n", "");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s has an empty \"-- Program origin --\" section.", path);
	free(text);
}

static void test_map_without_code_end_says_how_to_end_the_code(void **state)
{
	char *text = edit(BOOT_MAP, L("7CEC", "code_end"), "");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s has no code_end symbol; end the code with a code_end: label before the padding.",
		   path);
	free(text);
}

static void test_map_code_end_constant_is_not_the_label(void **state)
{
	char *text = edit(BOOT_MAP, "00000004  pm_devices.count\n",
			  "00007CEC  code_end\n");
	char *text2 = edit(text, L("7CEC", "code_end"), "");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text2, &m);
	expect_msg(&m, "%s has no code_end symbol; end the code with a code_end: label before the padding.",
		   path);
	free(text2);
	free(text);
}

static void test_map_without_text_section_is_rejected(void **state)
{
	char *text = edit(BOOT_MAP, "progbits  .text", "progbits  .data");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s lists no .text section under \"-- Sections (summary) --\".",
		   path);
	free(text);
}

static void test_map_bad_hex_names_the_line(void **state)
{
	char *text = edit(BOOT_MAP, L("7C00", "start"),
			  "            7C0G              7C00  start\n");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s line %d: \"7C0G\" is not a hexadecimal number.", path,
		   MAP_HEAD_LINES + 1);
	free(text);
}

static void test_map_bad_section_length_names_the_line(void **state)
{
	char *text = edit(BOOT_MAP, "00000100", "-0000100");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s line 14: \"-0000100\" is not a hexadecimal number.", path);
	free(text);
}

static void test_map_row_with_wrong_columns_names_the_line(void **state)
{
	char *text = edit(BOOT_MAP, L("7C0E", "serial_init"),
			  "            7C0E  serial_init\n");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s line %d: expected 3 columns (Real Virtual Name), found 2.",
		   path, MAP_HEAD_LINES + 2);
	free(text);
}

static void test_map_two_origins_are_rejected(void **state)
{
	char *text = edit(BOOT_MAP, "00007C00\n", "00007C00\n00000000\n");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s line 10: a second program origin.", path);
	free(text);
}

static void test_map_wrong_column_header_is_rejected(void **state)
{
	char *text = edit(BOOT_MAP, "Real              Virtual           Name",
			  "Address  Name");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s line %d: expected the column header \"Real Virtual Name\".",
		   path, MAP_HEAD_LINES);
	free(text);
}

static void test_map_garbage_among_symbols_is_rejected(void **state)
{
	char *text = edit(BOOT_MAP, "---- No Section", "stray words\n---- No Section");
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s line 31: a symbol row before any \"---- Section\" heading.",
		   path);
	free(text);
}

static void test_map_label_outside_text_is_rejected(void **state)
{
	char *text = edit(BOOT_MAP, L("7CEC", "banner_end"), L("7D01", "banner_end"));
	struct msg m;
	const char *path;

	(void)state;
	path = load_bad(text, &m);
	expect_msg(&m, "%s puts banner_end at 0x7D01, outside .text (0x7C00 to 0x7D00).",
		   path);
	free(text);
}

static void test_map_with_nul_byte_is_rejected(void **state)
{
	static const char text[] = "- NASM Map file\n\nab\0cd\n";
	struct msg m;
	struct map map;
	const char *path = temp_file(text, sizeof text - 1);

	(void)state;
	assert_int_equal(map_load(path, &map, &m), -1);
	expect_msg(&m, "%s line 3 holds a NUL byte; a map file is text.", path);
}

static void test_map_missing_file_gives_the_system_reason(void **state)
{
	struct msg m;
	struct map map;

	(void)state;
	assert_int_equal(map_load("/nonexistent/boot.map", &map, &m), -1);
	assert_string_equal(m.text,
			    "cannot open /nonexistent/boot.map: No such file or directory");
}

/* --- the budget per routine ------------------------------------------------------ */

static void test_account_gives_each_routine_its_bytes(void **state)
{
	struct account a;
	struct map map;

	(void)state;
	account_of(BOOT_MAP, 256, &map, &a);
	expect_rows(&a, "start=14 serial_init=19 irq_init=22 pm_probe=42 reply=18 "
		    "main=22 receive=32 end_of_line=6 power_off=13 putc=18 isr=9 "
		    "pm_devices=8 prompt_rev=4 line=9 banner_end=0 (free)=20");
	assert_int_equal(a.used, 236);
	account_free(&a);
	map_free(&map);
}

static void test_account_folds_local_labels_into_their_parent(void **state)
{
	struct account a;
	struct map map;

	(void)state;
	account_of(MAP_HEAD L("7C00", "f") L("7C02", "f.loop") L("7C05", "f.done")
		   L("7C08", "g") L("7C09", "g.x") L("7C0C", "code_end") "\n",
		   256, &map, &a);
	expect_rows(&a, "f=8 g=4 (free)=244");
	account_free(&a);
	map_free(&map);
}

static void test_account_counts_bytes_before_the_first_label(void **state)
{
	struct account a;
	struct map map;

	(void)state;
	account_of(MAP_HEAD L("7C03", "main") L("7C10", "code_end") "\n", 256, &map, &a);
	expect_rows(&a, "(before first label)=3 main=13 (free)=240");
	account_free(&a);
	map_free(&map);
}

static void test_account_without_routines_puts_all_before_the_first_label(void **state)
{
	struct account a;
	struct map map;

	(void)state;
	account_of(MAP_HEAD L("7C04", ".orphan") L("7C20", "code_end") "\n", 256,
		   &map, &a);
	expect_rows(&a, "(before first label)=32 (free)=224");
	account_free(&a);
	map_free(&map);
}

static void test_account_of_empty_program_is_all_free(void **state)
{
	struct account a;
	struct map map;

	(void)state;
	account_of(MAP_HEAD L("7C00", "code_end") "\n", 256, &map, &a);
	expect_rows(&a, "(free)=256");
	account_free(&a);
	map_free(&map);
}

static void test_account_rejects_a_label_after_code_end(void **state)
{
	struct msg m;
	struct account a;
	struct map map;

	(void)state;
	load_ok(MAP_HEAD L("7C00", "main") L("7C10", "code_end") L("7C20", "late")
		"\n", &map);
	assert_int_equal(account_build(&map, "boot.map", 256, &a, &m), -1);
	assert_string_equal(m.text,
			    "boot.map puts late after code_end; code_end must be the last label.");
	assert_null(a.rows);
	map_free(&map);
}

static void test_account_table_is_aligned_with_shares_of_the_budget(void **state)
{
	struct row rows[] = {
		{ "(before first label)", 2 }, { "start", 14 }, { "(free)", 240 },
	};
	struct account a = { rows, 3, 16, 256 };
	char *buf;
	size_t len;
	FILE *f = capture(&buf, &len);

	(void)state;
	account_print(f, &a);
	fclose(f);
	assert_string_equal(buf,
		"  routine               bytes  of 256\n"
		"  (before first label)      2    0.8%\n"
		"  start                    14    5.5%\n"
		"  (free)                  240   93.8%\n");
	free(buf);
}

/* --- the budget arithmetic ----------------------------------------------------------- */

static int run_size(const char *map_text, unsigned long budget, char **out,
		    struct msg *m)
{
	struct cli cli = { .cmd = &cli_commands[0], .budget = budget,
			   .bin = "build/boot.bin", .map = temp_text(map_text) };
	size_t len;
	FILE *f = capture(out, &len);
	int rc = cmd_size(&cli, f, m);

	fclose(f);
	return rc;
}

static void test_size_reports_bytes_used_and_free(void **state)
{
	struct msg m;
	char *out;

	(void)state;
	assert_int_equal(run_size(BOOT_MAP, 256, &out, &m), 0);
	assert_string_equal(out, "236 / 256 bytes (20 free)\n");
	free(out);
}

static void test_size_uses_the_budget_option_as_the_total(void **state)
{
	struct msg m;
	char *out;

	(void)state;
	assert_int_equal(run_size(BOOT_MAP, 512, &out, &m), 0);
	assert_string_equal(out, "236 / 512 bytes (276 free)\n");
	free(out);
}

static void test_budget_exactly_full_leaves_zero_free(void **state)
{
	struct msg m;
	char *out;

	(void)state;
	assert_int_equal(run_size(MAP_HEAD L("7C00", "start") L("7D00", "code_end")
				  "\n", 256, &out, &m), 0);
	assert_string_equal(out, "256 / 256 bytes (0 free)\n");
	free(out);
}

static void test_budget_one_byte_over_is_an_error(void **state)
{
	char *text = edit(MAP_HEAD L("7C00", "start") L("7D01", "code_end") "\n",
			  "7D00  00000100", "7D01  00000101");
	struct msg m;
	char *out;

	(void)state;
	assert_int_equal(run_size(text, 256, &out, &m), -1);
	assert_string_equal(m.text,
			    "build/boot.bin uses 257 bytes, 1 over the 256-byte budget.");
	assert_string_equal(out, "");
	free(out);
	free(text);
}

static void test_budget_check_names_bin_and_excess(void **state)
{
	struct msg m;

	(void)state;
	assert_int_equal(budget_check("b.bin", 256, 256, &m), 0);
	assert_int_equal(budget_check("b.bin", 300, 256, &m), -1);
	assert_string_equal(m.text, "b.bin uses 300 bytes, 44 over the 256-byte budget.");
}

/* --- BOOT.BIN and the map together --------------------------------------------------- */

static void test_bin_of_wrong_size_is_rejected(void **state)
{
	unsigned char data[300] = { 0 };
	unsigned char *bin;
	struct msg m;
	const char *path = temp_file(data, sizeof data);

	(void)state;
	assert_int_equal(bin_load(path, 256, &bin, &m), -1);
	assert_null(bin);
	expect_msg(&m, "%s is 300 bytes; a boot program must be exactly 256.", path);
}

static void test_bin_of_budget_size_is_read(void **state)
{
	unsigned char data[256], *bin;
	struct msg m;

	(void)state;
	fill_bin(data, sizeof data);
	assert_int_equal(bin_load(temp_file(data, sizeof data), 256, &bin, &m), 0);
	assert_memory_equal(bin, data, sizeof data);
	free(bin);
}

static void test_bin_missing_gives_the_system_reason(void **state)
{
	unsigned char *bin;
	struct msg m;

	(void)state;
	assert_int_equal(bin_load("/nonexistent", 256, &bin, &m), -1);
	assert_string_equal(m.text, "cannot open /nonexistent: No such file or directory");
}

static void test_bin_that_is_a_directory_is_rejected(void **state)
{
	unsigned char *bin;
	struct msg m;

	(void)state;
	assert_int_equal(bin_load("/tmp", 256, &bin, &m), -1);
	assert_string_equal(m.text, "/tmp is a directory, not a file.");
}

static void test_map_of_another_build_is_rejected(void **state)
{
	char *text = edit(BOOT_MAP, "00000100", "000000F0");
	struct msg m;
	struct map map;

	(void)state;
	load_ok(text, &map);
	assert_int_equal(map_matches_bin("b.map", &map, "boot.bin", 256, &m), -1);
	assert_string_equal(m.text,
			    "b.map gives .text 240 bytes but boot.bin is 256; the map is stale or from another build.");
	map_free(&map);
	free(text);
}

static void test_map_of_another_program_is_rejected(void **state)
{
	struct msg m;
	struct map map;

	(void)state;
	load_ok(BOOT_MAP, &map);
	assert_int_equal(map_matches_bin("r.map", &map, "build/bench/reference.bin", 256, &m), -1);
	assert_string_equal(m.text,
			    "r.map was written for build/boot.bin, not build/bench/reference.bin; the map is from another program.");
	map_free(&map);
}

static void test_map_naming_the_bin_from_another_folder_matches(void **state)
{
	struct msg m;
	struct map map;

	(void)state;
	load_ok(BOOT_MAP, &map);
	assert_int_equal(map_matches_bin("b.map", &map, "/tmp/out/boot.bin", 256, &m), 0);
	map_free(&map);
}

static void test_map_without_output_name_is_checked_by_length_alone(void **state)
{
	char *text = edit(BOOT_MAP, "Output file:  build/boot.bin\n", "");
	struct msg m;
	struct map map;

	(void)state;
	load_ok(text, &map);
	assert_null(map.output);
	assert_int_equal(map_matches_bin("b.map", &map, "any.bin", 256, &m), 0);
	map_free(&map);
	free(text);
}

/* --- the disk image ------------------------------------------------------------------ */

static void test_image_of_wrong_size_is_rejected(void **state)
{
	unsigned char bin[256], img[1000] = { 0 };
	struct msg m;
	const char *path = temp_file(img, sizeof img);

	(void)state;
	fill_bin(bin, sizeof bin);
	assert_int_equal(image_check(path, "b.bin", bin, sizeof bin, &m), -1);
	expect_msg(&m, "%s is 1000 bytes; a disk image must be exactly 1048576.", path);
}

static void test_image_without_boot_signature_is_rejected(void **state)
{
	unsigned char bin[256], *img;
	struct msg m;
	const char *path;

	(void)state;
	fill_bin(bin, sizeof bin);
	img = make_image(bin, sizeof bin);
	img[SIGNATURE_OFFSET + 1] = 0x55;
	path = temp_file(img, IMAGE_SIZE);
	free(img);
	assert_int_equal(image_check(path, "b.bin", bin, sizeof bin, &m), -1);
	expect_msg(&m, "%s has 0x55 0x55 at offset 510, not the boot signature 0x55 0xAA.",
		   path);
}

static void test_image_names_the_first_differing_offset(void **state)
{
	unsigned char bin[256], *img;
	struct msg m;
	const char *path;

	(void)state;
	fill_bin(bin, sizeof bin);
	img = make_image(bin, sizeof bin);
	img[200] = 0xEE;
	img[201] = 0xEE;
	path = temp_file(img, IMAGE_SIZE);
	free(img);
	assert_int_equal(image_check(path, "b.bin", bin, sizeof bin, &m), -1);
	expect_msg(&m, "%s does not begin with b.bin: the first difference is at offset 200 (0xEE, not 0x%02X).",
		   path, bin[200]);
}

static void test_image_that_begins_with_bin_passes(void **state)
{
	unsigned char bin[256], *img;
	struct msg m = { "" };
	const char *path;

	(void)state;
	fill_bin(bin, sizeof bin);
	img = make_image(bin, sizeof bin);
	path = temp_file(img, IMAGE_SIZE);
	free(img);
	assert_int_equal(image_check(path, "b.bin", bin, sizeof bin, &m), 0);
	assert_string_equal(m.text, "");
}

/* --- check, end to end -------------------------------------------------------------- */

static void test_check_prints_the_full_report(void **state)
{
	unsigned char bin[256], *img;
	struct msg m = { "" };
	struct cli cli = { .cmd = &cli_commands[1], .budget = 256 };
	char *out, *want;
	size_t len;
	FILE *f;

	(void)state;
	fill_bin(bin, sizeof bin);
	img = make_image(bin, sizeof bin);
	cli.bin = temp_boot_bin(bin, sizeof bin);
	cli.map = temp_text(MAP_HEAD L("7C00", "start") L("7C02", "start.x")
			    L("7C30", "data") L("7C40", "code_end") "\n");
	cli.image = temp_file(img, IMAGE_SIZE);
	free(img);
	f = capture(&out, &len);
	assert_int_equal(cmd_check(&cli, f, &m), 0);
	fclose(f);
	assert_string_equal(m.text, "");
	assert_true(asprintf(&want,
		"64 / 256 bytes (192 free)\n"
		"  routine  bytes  of 256\n"
		"  start       48   18.8%%\n"
		"  data        16    6.2%%\n"
		"  (free)     192   75.0%%\n"
		"%s: 1048576 bytes, 0x55AA at 510, begins with %s\n",
		cli.image, cli.bin) > 0);
	assert_string_equal(out, want);
	free(want);
	free(out);
}

static void test_check_prints_nothing_when_a_check_fails(void **state)
{
	unsigned char bin[256], *img;
	struct msg m;
	struct cli cli = { .cmd = &cli_commands[1], .budget = 256 };
	char *out;
	size_t len;
	FILE *f;

	(void)state;
	fill_bin(bin, sizeof bin);
	img = make_image(bin, sizeof bin);
	img[0] ^= 0xFF;
	cli.bin = temp_boot_bin(bin, sizeof bin);
	cli.map = temp_text(BOOT_MAP);
	cli.image = temp_file(img, IMAGE_SIZE);
	free(img);
	f = capture(&out, &len);
	assert_int_equal(cmd_check(&cli, f, &m), -1);
	fclose(f);
	assert_string_equal(out, "");
	expect_msg(&m, "%s does not begin with %s: the first difference is at offset 0 (0x%02X, not 0x%02X).",
		   cli.image, cli.bin, bin[0] ^ 0xFF, bin[0]);
	free(out);
}

static void test_check_rejects_bin_of_wrong_size_first(void **state)
{
	unsigned char bin[300] = { 0 };
	struct msg m;
	struct cli cli = { .cmd = &cli_commands[1], .budget = 256,
			   .map = "/nonexistent", .image = "/nonexistent" };

	(void)state;
	cli.bin = temp_file(bin, sizeof bin);
	assert_int_equal(cmd_check(&cli, stdout, &m), -1);
	expect_msg(&m, "%s is 300 bytes; a boot program must be exactly 256.", cli.bin);
}

/* --- the command line ------------------------------------------------------------------- */

#define ARGV(...) ((char *[]){ "sizecheck", __VA_ARGS__, NULL })
#define ARGC(argv) ((int)(sizeof(argv) / sizeof(char *)) - 1)
/* Parse a literal command line; evaluates to cli_parse's result. */
#define PARSE(cli, m, ...) \
	cli_parse(ARGC(ARGV(__VA_ARGS__)), ARGV(__VA_ARGS__), cli, m)

static void test_cli_size_takes_bin_and_map_with_default_budget(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "size", "b.bin", "b.map"), 0);
	assert_ptr_equal(c.cmd, &cli_commands[0]);
	assert_ptr_equal(c.cmd->handler, cmd_size);
	assert_false(c.help);
	assert_int_equal(c.budget, 256);
	assert_string_equal(c.bin, "b.bin");
	assert_string_equal(c.map, "b.map");
	assert_null(c.image);
}

static void test_cli_check_takes_budget_in_either_form_anywhere(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "check", "b.bin", "--budget", "512",
			       "b.map", "b.img"), 0);
	assert_ptr_equal(c.cmd->handler, cmd_check);
	assert_int_equal(c.budget, 512);
	assert_string_equal(c.image, "b.img");
	assert_int_equal(PARSE(&c, &m, "--budget=1", "check", "b", "m", "i"), 0);
	assert_int_equal(c.budget, 1);
	assert_int_equal(PARSE(&c, &m, "size", "--budget", "65536", "b", "m"), 0);
	assert_int_equal(c.budget, 65536);
}

static void test_cli_double_dash_ends_options(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "size", "--", "--budget", "-h"), 0);
	assert_string_equal(c.bin, "--budget");
	assert_string_equal(c.map, "-h");
	assert_false(c.help);
}

static void test_cli_missing_operand_is_named(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "check", "b.bin", "b.map"), -1);
	assert_string_equal(m.text,
			    "check needs 3 operands (BOOT.BIN MAP IMAGE); IMAGE is missing.");
	assert_int_equal(PARSE(&c, &m, "size"), -1);
	assert_string_equal(m.text, "size needs 2 operands (BOOT.BIN MAP); BOOT.BIN is missing.");
}

static void test_cli_extra_operand_is_named(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "size", "b.bin", "b.map", "b.img"), -1);
	assert_string_equal(m.text,
			    "size takes 2 operands (BOOT.BIN MAP), so \"b.img\" is one too many.");
}

static void test_cli_unknown_subcommand_lists_the_known_ones(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "sise", "b.bin", "b.map"), -1);
	assert_string_equal(m.text,
			    "unknown subcommand \"sise\"; the subcommands are size and check.");
	assert_null(c.cmd);
}

static void test_cli_without_subcommand_lists_the_known_ones(void **state)
{
	char *argv[] = { "sizecheck", NULL };
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(cli_parse(1, argv, &c, &m), -1);
	assert_string_equal(m.text, "no subcommand given; the subcommands are size and check.");
}

static void test_cli_bad_budget_names_the_option_and_value(void **state)
{
	static const char *const bad[] = {
		"abc", "0", "65537", "", "-5", "+5", "12x", " 12", "1e3",
		"99999999999999999999999",
	};
	struct cli c;
	struct msg m;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *value = (char *)bad[i];

		assert_int_equal(PARSE(&c, &m, "size", "--budget", value, "b", "m"), -1);
		expect_msg(&m, "--budget wants a whole number from 1 to 65536, not \"%s\".",
			   bad[i]);
	}
	assert_int_equal(PARSE(&c, &m, "size", "--budget=abc", "b", "m"), -1);
	assert_string_equal(m.text,
			    "--budget wants a whole number from 1 to 65536, not \"abc\".");
}

static void test_cli_repeated_budget_is_an_error(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "size", "--budget", "256", "b", "m",
			       "--budget=300"), -1);
	assert_string_equal(m.text,
			    "--budget is given twice (\"256\", then \"300\"); give it once.");
}

static void test_cli_budget_without_value_is_an_error(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "size", "b", "m", "--budget"), -1);
	assert_string_equal(m.text,
			    "--budget needs a value: a whole number from 1 to 65536.");
}

static void test_cli_unknown_option_is_an_error(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "size", "-v", "b", "m"), -1);
	assert_string_equal(m.text,
			    "unknown option \"-v\"; the options are --budget N, --help and --version.");
}

static void test_cli_help_wins_wherever_it_is(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "--help"), 0);
	assert_true(c.help);
	assert_null(c.cmd);
	assert_int_equal(PARSE(&c, &m, "-h"), 0);
	assert_true(c.help);
	assert_int_equal(PARSE(&c, &m, "frob", "--budget", "x", "-h"), 0);
	assert_true(c.help);
}

static void test_cli_version_wins_wherever_it_is_before_the_dashes(void **state)
{
	struct cli c;
	struct msg m;

	(void)state;
	assert_int_equal(PARSE(&c, &m, "--version"), 0);
	assert_true(c.version);
	assert_false(c.help);
	assert_null(c.cmd);
	assert_int_equal(PARSE(&c, &m, "frob", "--budget", "x", "--version"), 0);
	assert_true(c.version);
	assert_int_equal(PARSE(&c, &m, "size", "--", "--version", "m"), 0);
	assert_false(c.version);
	assert_string_equal(c.bin, "--version");
}

static void test_cli_usage_lists_every_command_of_the_table(void **state)
{
	char *buf;
	size_t len;
	FILE *f = capture(&buf, &len);

	(void)state;
	cli_usage(f);
	fclose(f);
	assert_string_equal(buf,
		"usage:\n"
		"  sizecheck size  [--budget N] BOOT.BIN MAP\n"
		"      Print how many bytes of the budget BOOT.BIN uses, from its NASM map.\n"
		"  sizecheck check [--budget N] BOOT.BIN MAP IMAGE\n"
		"      Check BOOT.BIN, its map and the disk IMAGE; show the budget per routine.\n"
		"  sizecheck --help | -h\n"
		"      Show this help.\n"
		"  sizecheck --version\n"
		"      Show the version.\n"
		"\n"
		"--budget N is the size BOOT.BIN must have, in bytes: a whole number from 1 to 65536 (default 256).\n"
		"Exit status: 0 when all is well, 1 when a check fails or a file cannot be read, 2 for a usage error.\n");
	free(buf);
}

static void test_cli_hint_is_the_subcommand_usage_when_known(void **state)
{
	struct cli c;
	struct msg m;
	char *buf;
	size_t len;
	FILE *f = capture(&buf, &len);

	(void)state;
	assert_int_equal(PARSE(&c, &m, "check", "b"), -1);
	cli_hint(f, &c);
	assert_int_equal(PARSE(&c, &m, "frob"), -1);
	cli_hint(f, &c);
	fclose(f);
	assert_string_equal(buf,
		"usage: sizecheck check [--budget N] BOOT.BIN MAP IMAGE\n"
		"usage: sizecheck size|check [--budget N] FILE... (sizecheck --help says more)\n");
	free(buf);
}

/* struct cli has room for CLI_MAX_OPERANDS operands, in BOOT.BIN MAP IMAGE order. */
static void test_cli_table_operands_fit_the_struct(void **state)
{
	static const char order[] = "BOOT.BIN MAP IMAGE";

	(void)state;
	for (size_t i = 0; i < cli_ncommands; i++)
		assert_int_equal(strncmp(cli_commands[i].args, order,
					 strlen(cli_commands[i].args)), 0);
}

#define T(f) cmocka_unit_test_teardown(f, remove_temps)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_map_reads_origin_text_length_and_labels),
		T(test_map_keeps_equ_constants_out_of_the_labels),
		T(test_map_ignores_labels_of_other_sections),
		T(test_map_sorts_labels_by_address_keeping_ties_in_map_order),
		T(test_map_tolerates_blank_lines_and_crlf),
		T(test_map_reads_lines_of_any_length),
		T(test_map_without_origin_section_is_not_a_map),
		T(test_map_empty_file_is_rejected),
		T(test_map_blank_file_is_not_a_map),
		T(test_map_with_empty_origin_section_is_rejected),
		T(test_map_without_code_end_says_how_to_end_the_code),
		T(test_map_code_end_constant_is_not_the_label),
		T(test_map_without_text_section_is_rejected),
		T(test_map_bad_hex_names_the_line),
		T(test_map_bad_section_length_names_the_line),
		T(test_map_row_with_wrong_columns_names_the_line),
		T(test_map_two_origins_are_rejected),
		T(test_map_wrong_column_header_is_rejected),
		T(test_map_garbage_among_symbols_is_rejected),
		T(test_map_label_outside_text_is_rejected),
		T(test_map_with_nul_byte_is_rejected),
		T(test_map_missing_file_gives_the_system_reason),
		T(test_account_gives_each_routine_its_bytes),
		T(test_account_folds_local_labels_into_their_parent),
		T(test_account_counts_bytes_before_the_first_label),
		T(test_account_without_routines_puts_all_before_the_first_label),
		T(test_account_of_empty_program_is_all_free),
		T(test_account_rejects_a_label_after_code_end),
		T(test_account_table_is_aligned_with_shares_of_the_budget),
		T(test_size_reports_bytes_used_and_free),
		T(test_size_uses_the_budget_option_as_the_total),
		T(test_budget_exactly_full_leaves_zero_free),
		T(test_budget_one_byte_over_is_an_error),
		T(test_budget_check_names_bin_and_excess),
		T(test_bin_of_wrong_size_is_rejected),
		T(test_bin_of_budget_size_is_read),
		T(test_bin_missing_gives_the_system_reason),
		T(test_bin_that_is_a_directory_is_rejected),
		T(test_map_of_another_build_is_rejected),
		T(test_map_of_another_program_is_rejected),
		T(test_map_naming_the_bin_from_another_folder_matches),
		T(test_map_without_output_name_is_checked_by_length_alone),
		T(test_image_of_wrong_size_is_rejected),
		T(test_image_without_boot_signature_is_rejected),
		T(test_image_names_the_first_differing_offset),
		T(test_image_that_begins_with_bin_passes),
		T(test_check_prints_the_full_report),
		T(test_check_prints_nothing_when_a_check_fails),
		T(test_check_rejects_bin_of_wrong_size_first),
		T(test_cli_size_takes_bin_and_map_with_default_budget),
		T(test_cli_check_takes_budget_in_either_form_anywhere),
		T(test_cli_double_dash_ends_options),
		T(test_cli_missing_operand_is_named),
		T(test_cli_extra_operand_is_named),
		T(test_cli_unknown_subcommand_lists_the_known_ones),
		T(test_cli_without_subcommand_lists_the_known_ones),
		T(test_cli_bad_budget_names_the_option_and_value),
		T(test_cli_repeated_budget_is_an_error),
		T(test_cli_budget_without_value_is_an_error),
		T(test_cli_unknown_option_is_an_error),
		T(test_cli_help_wins_wherever_it_is),
		T(test_cli_version_wins_wherever_it_is_before_the_dashes),
		T(test_cli_usage_lists_every_command_of_the_table),
		T(test_cli_hint_is_the_subcommand_usage_when_known),
		T(test_cli_table_operands_fit_the_struct),
	};

	return cmocka_run_group_tests_name("sizecheck", tests, NULL, NULL);
}
