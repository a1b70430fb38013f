/* test_imgtool_core.c - imgtool's shared pieces: options, the command line, output
 * all-or-nothing, raw disks and boot programs, probing and the signatures it refuses,
 * the unit walk and its progress line, identities. */
#include "cli.h"
#include "ident.h"
#include "output.h"
#include "progress.h"
#include "raw.h"

#include <dirent.h>
#include <errno.h>
#include <sys/wait.h>

#include "imgtool_harness.h"

/* --- -o options ------------------------------------------------------------------------ */

static const struct opt_spec spec[] = {
	{ "subformat", "fixed|dynamic" }, { "cluster_size", "512..2M" }, { "uuid", "UUID" },
	{ NULL, NULL }
};

static void test_options_split_into_keys_and_values(void **state)
{
	struct opts o = { .n = 0 };
	struct msg m = { "" };

	(void)state;
	assert_int_equal(opts_parse(&o, "subformat=dynamic,cluster_size=64K", &m), 0);
	assert_int_equal(opts_parse(&o, "uuid=x", &m), 0);
	assert_string_equal(opt_get(&o, "subformat"), "dynamic");
	assert_string_equal(opt_get(&o, "cluster_size"), "64K");
	assert_string_equal(opt_get(&o, "uuid"), "x");
	assert_null(opt_get(&o, "other"));
	assert_int_equal(opts_validate(&o, spec, "qcow2", &m), 0);
	opts_free(&o);
}

static void test_option_given_twice_is_an_error(void **state)
{
	struct opts o = { .n = 0 };
	struct msg m = { "" };

	(void)state;
	assert_int_equal(opts_parse(&o, "uuid=a,uuid=b", &m), -1);
	assert_string_equal(m.text, "-o uuid is given twice; give it once.");
	opts_free(&o);
}

static void test_option_without_equals_is_an_error(void **state)
{
	struct opts o = { .n = 0 };
	struct msg m = { "" };

	(void)state;
	assert_int_equal(opts_parse(&o, "dynamic", &m), -1);
	assert_string_equal(m.text, "-o dynamic: options are KEY=VALUE.");
	opts_free(&o);
}

static void test_unknown_option_names_the_known_ones(void **state)
{
	struct opts o = { .n = 0 };
	struct msg m = { "" };

	(void)state;
	assert_int_equal(opts_parse(&o, "compat=1.1", &m), 0);
	assert_int_equal(opts_validate(&o, spec, "vhd", &m), -1);
	assert_string_equal(m.text,
			    "vhd has no option compat; it takes subformat, cluster_size and uuid.");
	assert_int_equal(opts_validate(&o, fmt_raw.opts, "raw", &m), -1);
	assert_string_equal(m.text, "raw takes no -o options, not even compat.");
	opts_free(&o);
}

static void test_choice_option_lists_its_values(void **state)
{
	static const char *const kinds[] = { "fixed", "dynamic", NULL };
	struct opts o = { .n = 0 };
	struct msg m = { "" };
	size_t i;

	(void)state;
	assert_int_equal(opt_choice(&o, "subformat", kinds, 0, &i, &m), 0);
	assert_int_equal(i, 0);
	assert_int_equal(opts_parse(&o, "subformat=sparse", &m), 0);
	assert_int_equal(opt_choice(&o, "subformat", kinds, 0, &i, &m), -1);
	assert_string_equal(m.text, "-o subformat=sparse: subformat is fixed or dynamic.");
	opts_free(&o);
}

static void test_power_of_two_option_takes_suffixes_and_refuses_others(void **state)
{
	static const char *const good[][2] = { { "512", "512" }, { "64K", "65536" },
					       { "2M", "2097152" }, { "1g", "1073741824" } };
	static const char *const bad[] = { "3", "256", "4M", "", "64KB", "-512", "99999999999999999999" };
	uint64_t v;

	(void)state;
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
		struct opts o = { .n = 0 };
		struct msg m = { "" };
		char kv[64];

		snprintf(kv, sizeof kv, "cluster_size=%s", good[k][0]);
		assert_int_equal(opts_parse(&o, kv, &m), 0);
		assert_int_equal(opt_pow2(&o, "cluster_size", "the cluster size", 512, 1 << 30,
					  65536, &v, &m), 0);
		assert_int_equal(v, strtoull(good[k][1], NULL, 10));
		opts_free(&o);
	}
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct opts o = { .n = 0 };
		struct msg m = { "" }, want;
		char kv[64];

		snprintf(kv, sizeof kv, "cluster_size=%s", bad[k]);
		assert_int_equal(opts_parse(&o, kv, &m), 0);
		assert_int_equal(opt_pow2(&o, "cluster_size", "the cluster size", 512, 2 << 20,
					  65536, &v, &m), -1);
		snprintf(want.text, sizeof want.text,
			 "-o cluster_size=%s: the cluster size must be a power of two from 512 to "
			 "2097152 bytes (K, M and G may follow the number).", bad[k]);
		assert_string_equal(m.text, want.text);
		opts_free(&o);
	}
}

/* --- the command line -------------------------------------------------------------------- */

#define ARGV(...) ((char *[]){ "imgtool", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "imgtool", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(c, m, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), c, m)

static void test_convert_takes_format_options_and_two_operands(void **state)
{
	struct cli c;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&c, &m, "convert", "-O", "vpc", "-o", "subformat=dynamic",
			       "--force", "in.bin", "out.vhd"), 0);
	assert_ptr_equal(c.out_fmt, &fmt_vhd);
	assert_true(c.opts.force);
	assert_string_equal(opt_get(&c.opts, "subformat"), "dynamic");
	assert_string_equal(c.arg[0], "in.bin");
	assert_string_equal(c.arg[1], "out.vhd");
	cli_free(&c);
	assert_int_equal(PARSE(&c, &m, "convert", "-Oqcow2", "-ocompat=0.10", "a", "b"), 0);
	assert_ptr_equal(c.out_fmt, &fmt_qcow2);
	cli_free(&c);
}

static void test_f_names_the_input_format_of_every_command(void **state)
{
	struct cli c;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&c, &m, "convert", "-f", "vpc", "in.vhd", "out.img"), 0);
	assert_ptr_equal(c.in_fmt, &fmt_vhd);
	assert_null(c.out_fmt);
	cli_free(&c);
	assert_int_equal(PARSE(&c, &m, "info", "-fraw", "--json", "x.vhdx"), 0);
	assert_ptr_equal(c.in_fmt, &fmt_raw);
	assert_true(c.json);
	cli_free(&c);
	assert_int_equal(PARSE(&c, &m, "check", "x", "-f", "qcow2"), 0);
	assert_ptr_equal(c.in_fmt, &fmt_qcow2);
	assert_string_equal(c.arg[0], "x");
	cli_free(&c);
	/* Without -f the input is probed. */
	assert_int_equal(PARSE(&c, &m, "convert", "a", "b"), 0);
	assert_null(c.in_fmt);
	cli_free(&c);
}

static void test_convert_p_asks_for_progress(void **state)
{
	struct cli c;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&c, &m, "convert", "-p", "-O", "qcow2", "in.img", "out"), 0);
	assert_true(c.progress);
	cli_free(&c);
	assert_int_equal(PARSE(&c, &m, "convert", "in.img", "out.qcow2"), 0);
	assert_false(c.progress);
	cli_free(&c);
}

static void test_command_line_mistakes_are_one_sentence_each(void **state)
{
	const struct {
		int argc;
		char **argv;
		const char *want;
	} cases[] = {
		{ ARGC("frob"), ARGV("frob"),
		  "unknown command \"frob\"; the commands are convert, create, pack, info and check." },
		{ ARGC("--frob", "convert"), ARGV("--frob", "convert"),
		  "unknown option \"--frob\"; the commands are convert, create, pack, info and check." },
		{ 1, (char *[]){ "imgtool", NULL },
		  "no command given; the commands are convert, create, pack, info and check." },
		{ ARGC("convert", "a"), ARGV("convert", "a"), "convert needs an OUTPUT." },
		{ ARGC("convert"), ARGV("convert"), "convert needs an INPUT and an OUTPUT." },
		{ ARGC("info"), ARGV("info"), "info needs an IMAGE." },
		{ ARGC("check", "a", "b"), ARGV("check", "a", "b"),
		  "check takes 1 operand, so \"b\" is one too many." },
		{ ARGC("convert", "-O", "floppy", "a", "b"), ARGV("convert", "-O", "floppy", "a", "b"),
		  "unknown format \"floppy\"; the formats are raw, vhd, vhdx, vdi, vmdk and qcow2." },
		{ ARGC("convert", "-O", "raw", "-O", "vdi", "a", "b"),
		  ARGV("convert", "-O", "raw", "-O", "vdi", "a", "b"), "-O is given twice; give it once." },
		{ ARGC("convert", "a", "b", "-O"), ARGV("convert", "a", "b", "-O"), "-O needs a value." },
		{ ARGC("info", "--force", "a"), ARGV("info", "--force", "a"),
		  "info takes no option --force." },
		{ ARGC("check", "--json", "a"), ARGV("check", "--json", "a"),
		  "check takes no option --json." },
		{ ARGC("info", "-f", "raw", "-f", "vdi", "a"), ARGV("info", "-f", "raw", "-f", "vdi", "a"),
		  "-f is given twice; give it once." },
		{ ARGC("check", "a", "-f"), ARGV("check", "a", "-f"), "-f needs a value." },
		{ ARGC("convert", "-f", "qed", "a", "b"), ARGV("convert", "-f", "qed", "a", "b"),
		  "unknown format \"qed\"; the formats are raw, vhd, vhdx, vdi, vmdk and qcow2." },
		{ ARGC("convert", "-p", "-p", "a", "b"), ARGV("convert", "-p", "-p", "a", "b"),
		  "-p is given twice; give it once." },
		{ ARGC("info", "-p", "a"), ARGV("info", "-p", "a"), "info takes no option -p." },
		{ ARGC("create"), ARGV("create"), "create needs an OUTPUT." },
		{ ARGC("create", "a", "1M", "x"), ARGV("create", "a", "1M", "x"),
		  "create takes 2 operands, so \"x\" is one too many." },
		{ ARGC("create", "-b", "base", "a"), ARGV("create", "-b", "base", "a"),
		  "-b needs -F naming the backing file's format." },
		{ ARGC("create", "-F", "raw", "a"), ARGV("create", "-F", "raw", "a"),
		  "-F names the backing file's format; give the file with -b." },
		{ ARGC("create", "-b", "x", "-b", "y", "a"), ARGV("create", "-b", "x", "-b", "y", "a"),
		  "-b is given twice; give it once." },
		{ ARGC("create", "-b", "", "-F", "raw", "a"), ARGV("create", "-b", "", "-F", "raw", "a"),
		  "-b needs a file name, not an empty one." },
		{ ARGC("create", "-F", "qed", "a"), ARGV("create", "-F", "qed", "a"),
		  "unknown format \"qed\"; the formats are raw, vhd, vhdx, vdi, vmdk and qcow2." },
		{ ARGC("create", "-p", "a"), ARGV("create", "-p", "a"), "create takes no option -p." },
		{ ARGC("convert", "-b", "x", "a", "b"), ARGV("convert", "-b", "x", "a", "b"),
		  "convert takes no option -b." },
	};

	(void)state;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct cli c;
		struct msg m = { "" };

		assert_int_equal(cli_parse(cases[k].argc, cases[k].argv, &c, &m), -1);
		assert_string_equal(m.text, cases[k].want);
		cli_free(&c);
	}
}

static void test_help_and_version_win_anywhere_before_the_dashes(void **state)
{
	struct cli c;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(PARSE(&c, &m, "--version"), 0);
	assert_true(c.version);
	assert_false(c.help);
	assert_null(c.cmd);
	assert_int_equal(PARSE(&c, &m, "convert", "-O", "floppy", "--version"), 0);
	assert_true(c.version);
	assert_int_equal(PARSE(&c, &m, "frob", "-h"), 0);
	assert_true(c.help);
	assert_false(c.version);
	assert_int_equal(PARSE(&c, &m, "info", "--", "--version"), 0);
	assert_false(c.version);
	assert_string_equal(c.arg[0], "--version");
	cli_free(&c);
}

static void test_help_lists_every_format_from_the_table(void **state)
{
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	cli_usage(f);
	fclose(f);
	for (size_t i = 0; i < nformats; i++) {
		char line[64];

		snprintf(line, sizeof line, "\n  %-6s %-7s ", formats[i]->name, formats[i]->ext);
		assert_non_null(strstr(text, line));
	}
	for (size_t i = 0; i < cli_ncommands; i++)
		assert_non_null(strstr(text, cli_commands[i].usage));
	assert_non_null(strstr(text, "\n  imgtool --help | -h\n      Show this help.\n"
				     "  imgtool --version\n      Show the version.\n"));
	assert_non_null(strstr(text, "refused by name:\nQED, Parallels, LUKS, qcow version 1, "
				     "VMDK COWD, Bochs, cloop and DMG.\n"));
	free(text);
}

/* --- raw disks and boot programs --------------------------------------------------------- */

static void test_boot_program_becomes_a_signed_1_mib_disk(void **state)
{
	unsigned char prog[256], sector[512];
	struct disk *d;
	struct msg m = { "" };
	uint64_t stored;

	(void)state;
	memset(prog, 0x90, sizeof prog);
	th_raw("boot.bin", 256, (uint64_t)0, prog, sizeof prog, UINT64_MAX);
	d = th_open(th_path("boot.bin"));
	assert_int_equal(d->size, 1 << 20);
	assert_int_equal(disk_read(d, sector, sizeof sector, 0, &m), 0);
	assert_memory_equal(sector, prog, 256);
	for (int i = 256; i < 510; i++)
		assert_int_equal(sector[i], 0);
	assert_int_equal(sector[510], 0x55);
	assert_int_equal(sector[511], 0xAA);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_int_equal(stored, 512);
	disk_close(d);
}

static void test_odd_boot_programs_are_refused_unless_forced(void **state)
{
	unsigned char big[300] = { 1 }, sector[512] = { 1 };
	struct disk *d;
	struct msg m = { "" };

	(void)state;
	th_raw("a.bin", 300, (uint64_t)0, big, sizeof big, UINT64_MAX);
	th_raw("b.bin", 512, (uint64_t)0, sector, sizeof sector, UINT64_MAX);
	th_raw("e.bin", 0, UINT64_MAX);
	th_raw("huge.bin", (1 << 20) + 1, UINT64_MAX);
	assert_int_equal(image_open(th_path("a.bin"), NULL, false, &d, &m), -1);
	assert_string_equal(strstr(m.text, "a.bin"),
			    "a.bin is 300 bytes; a boot program is 256 bytes (or a 512-byte sector "
			    "ending in 0x55 0xAA). --force takes it anyway.");
	assert_int_equal(image_open(th_path("b.bin"), NULL, false, &d, &m), -1);
	assert_string_equal(strstr(m.text, "b.bin"),
			    "b.bin is a 512-byte sector without the boot signature 0x55 0xAA at "
			    "510; --force takes it as it is.");
	assert_int_equal(image_open(th_path("e.bin"), NULL, true, &d, &m), -1);
	assert_string_equal(strstr(m.text, "e.bin"), "e.bin is empty; a boot program is 256 bytes.");
	assert_int_equal(image_open(th_path("huge.bin"), NULL, true, &d, &m), -1);
	assert_string_equal(strstr(m.text, "huge.bin"),
			    "huge.bin is 1048577 bytes: more than the 1 MiB disk it would boot from.");
	assert_int_equal(image_open(th_path("a.bin"), NULL, true, &d, &m), 0);
	disk_close(d);
	assert_int_equal(image_open(th_path("b.bin"), NULL, true, &d, &m), 0);
	disk_close(d);
}

static void test_missing_and_empty_inputs_say_so(void **state)
{
	struct disk *d;
	struct msg m = { "" };
	char want[512];

	(void)state;
	assert_int_equal(image_open(th_path("none.img"), NULL, false, &d, &m), -1);
	snprintf(want, sizeof want, "cannot open %s: No such file or directory", th_path("none.img"));
	assert_string_equal(m.text, want);
	th_raw("empty.img", 0, UINT64_MAX);
	assert_int_equal(image_open(th_path("empty.img"), NULL, false, &d, &m), -1);
	snprintf(want, sizeof want, "%s is empty: there is no disk in it.", th_path("empty.img"));
	assert_string_equal(m.text, want);
	assert_int_equal(image_open(th_dir, NULL, false, &d, &m), -1);
	snprintf(want, sizeof want, "%s is a folder, not a disk image.", th_dir);
	assert_string_equal(m.text, want);
}

static void test_raw_round_trip_keeps_holes(void **state)
{
	unsigned char *blob = th_pattern(4096, 1);
	struct stat st;

	(void)state;
	th_raw("src.img", 64 << 20, (uint64_t)0, blob, (size_t)4096, (uint64_t)(40 << 20), blob,
	       (size_t)4096, UINT64_MAX);
	th_round_trip(&fmt_raw, "", th_path("src.img"), th_path("out.img"));
	assert_int_equal(stat(th_path("out.img"), &st), 0);
	assert_int_equal(st.st_size, 64 << 20);
	assert_true(st.st_blocks * 512 <= 256 << 10);	/* two 64 KiB units, not 64 MiB */
	free(blob);
}

static void test_raw_disk_of_odd_size_reads_as_padded_to_a_sector(void **state)
{
	unsigned char tail[100];
	struct disk *d;
	struct msg m = { "" };
	unsigned char sector[512];

	(void)state;
	memset(tail, 7, sizeof tail);
	th_raw("odd.img", 1000, (uint64_t)900, tail, sizeof tail, UINT64_MAX);
	d = th_open(th_path("odd.img"));
	assert_int_equal(d->size, 1024);
	assert_int_equal(disk_read(d, sector, sizeof sector, 512, &m), 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(sector[i], i >= 388 && i < 488 ? 7 : 0);
	disk_close(d);
}

/* --- signatures imgtool knows and does not read ----------------------------------------------- */

/* Each signature, as the formats' own documents put it (FORMATS.md), restated here
 * rather than taken from the table, so that a wrong row is caught. */
static const struct {
	const char *magic;
	size_t len;
	bool at_end;		/* at the start of the last 512 bytes */
	const char *name;
} signatures[] = {
	{ "QED\0", 4, false, "QED" },
	{ "WithoutFreeSpace", 16, false, "Parallels" },
	{ "WithouFreSpacExt", 16, false, "Parallels" },
	{ "LUKS\xba\xbe\0\1", 8, false, "LUKS" },
	{ "LUKS\xba\xbe\0\2", 8, false, "LUKS" },
	{ "QFI\xfb\0\0\0\1", 8, false, "qcow version 1" },
	{ "COWD\1\0\0\0", 8, false, "VMDK COWD" },
	{ "Bochs Virtual HD Image\0", 23, false, "Bochs" },
	{ "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0", 45, false, "cloop" },
	{ "koly\0\0\0\4\0\0\2\0", 12, true, "DMG" },
};

static void test_every_known_unread_signature_is_refused_by_name_and_f_raw_reads_it(void **state)
{
	unsigned char *data = th_pattern(65536, 3);

	(void)state;
	/* Parallels and LUKS are two rows here; Parallels is two in the table too. */
	assert_int_equal(nforeign, sizeof signatures / sizeof signatures[0] - 1);
	for (size_t k = 0; k < sizeof signatures / sizeof signatures[0]; k++) {
		const char *path = th_path("foreign.img");
		uint64_t at = signatures[k].at_end ? 65536 - 512 : 0;
		struct disk *d, *raw;
		struct msg m = { "" };
		unsigned char back[65536];

		memcpy(data + at, signatures[k].magic, signatures[k].len);
		th_raw("foreign.img", 65536, (uint64_t)0, data, (size_t)65536, UINT64_MAX);
		assert_string_equal(th_open_error(path),
				    th_text("%s is a %s image; imgtool reads raw, vhd, vhdx, vdi, vmdk "
					    "and qcow2 (-f raw reads it as a raw disk).", path,
					    signatures[k].name));
		assert_int_equal(image_open(path, &fmt_raw, false, &raw, &m), 0);
		assert_ptr_equal(raw->fmt, &fmt_raw);
		assert_int_equal(raw->size, 65536);
		assert_int_equal(disk_read(raw, back, sizeof back, 0, &m), 0);
		assert_memory_equal(back, data, sizeof back);
		disk_close(raw);
		/* The same bytes one further into the file are no signature: a raw disk. */
		memmove(data + at + 1, data + at, signatures[k].len);
		data[at] = 0x90;
		th_raw("foreign.img", 65536, (uint64_t)0, data, (size_t)65536, UINT64_MAX);
		d = th_open(path);
		assert_ptr_equal(d->fmt, &fmt_raw);
		disk_close(d);
		memset(data + at, 0x5A, signatures[k].len + 1);
	}
	free(data);
}

static void test_near_misses_of_the_signatures_read_as_what_they_are(void **state)
{
	unsigned char q4[512] = "QFI\xfb\0\0\0\4";
	const char *p;
	struct disk *d;

	(void)state;
	/* A signature cut short by the end of the file is not one. */
	p = th_raw("short.img", 7, (uint64_t)0, "vhdxfil", (size_t)7, UINT64_MAX);	/* VHDX */
	d = th_open(p);
	assert_ptr_equal(d->fmt, &fmt_raw);
	disk_close(d);
	/* A DMG trailer anywhere but the last 512 bytes is data. */
	p = th_raw("koly.img", 4096, (uint64_t)0, "koly", (size_t)4, (uint64_t)3072, "koly",
		   (size_t)4, UINT64_MAX);
	d = th_open(p);
	assert_ptr_equal(d->fmt, &fmt_raw);
	disk_close(d);
	/* A shell script is no cloop image without cloop's second line. */
	p = th_raw("sh.img", 512, (uint64_t)0, "#!/bin/sh\necho hi\n", (size_t)18, UINT64_MAX);
	d = th_open(p);
	assert_ptr_equal(d->fmt, &fmt_raw);
	disk_close(d);
	/* qcow2's magic with a version no format has stays qcow2's to refuse. */
	p = th_raw("v4.qcow2", 512, (uint64_t)0, q4, sizeof q4, UINT64_MAX);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable qcow2 image: its version is 4; imgtool "
				    "reads versions 2 and 3.", p));
}

static void test_f_opens_as_that_format_without_probing(void **state)
{
	const char *boot = th_boot_disk("disk.img"), *q;
	unsigned char prog[256];
	struct disk *d;
	struct msg m = { "" };

	(void)state;
	/* A wrong -f is that format's own refusal, not a guess. */
	assert_string_equal(th_open_as_error(boot, &fmt_qcow2),
			    th_text("%s is not a usable qcow2 image: it does not start with the "
				    "magic QFI\\xfb.", boot));
	q = th_write_ok(&fmt_qcow2, "", boot, th_path("disk.qcow2"));
	assert_int_equal(image_open(q, &fmt_qcow2, false, &d, &m), 0);
	assert_ptr_equal(d->fmt, &fmt_qcow2);
	disk_close(d);
	/* -f raw takes a container's own bytes as the disk. */
	assert_int_equal(image_open(q, &fmt_raw, false, &d, &m), 0);
	assert_ptr_equal(d->fmt, &fmt_raw);
	assert_int_equal(d->size, th_size(q));
	disk_close(d);
	/* And a .bin as the bytes it holds, not as a boot program on a 1 MiB disk. */
	memset(prog, 0x90, sizeof prog);
	th_raw("prog.bin", 256, (uint64_t)0, prog, sizeof prog, UINT64_MAX);
	assert_int_equal(image_open(th_path("prog.bin"), &fmt_raw, false, &d, &m), 0);
	assert_int_equal(d->size, 512);
	assert_null(d->info);
	disk_close(d);
	/* An empty file is empty whatever -f says. */
	th_raw("empty.img", 0, UINT64_MAX);
	assert_string_equal(th_open_as_error(th_path("empty.img"), &fmt_raw),
			    th_text("%s is empty: there is no disk in it.", th_path("empty.img")));
}

/* --- the unit walk and the digest ----------------------------------------------------------- */

struct seen {
	uint64_t off[16];
	size_t n;
};

static int record(void *ctx, uint64_t off, const unsigned char *data, size_t len, struct msg *m)
{
	struct seen *s = ctx;

	(void)data;
	(void)len;
	(void)m;
	if (s->n < 16)
		s->off[s->n++] = off;
	return 0;
}

static void test_each_data_visits_only_units_with_data(void **state)
{
	unsigned char one = 1;
	struct seen s = { .n = 0 };
	struct digest a, b;
	struct disk *d;
	struct msg m = { "" };

	(void)state;
	th_raw("d.img", 10 << 20, (uint64_t)70000, &one, (size_t)1, (uint64_t)(9 << 20), &one,
	       (size_t)1, UINT64_MAX);
	d = th_open(th_path("d.img"));
	assert_int_equal(disk_each_data(d, 65536, record, &s, &a, &m), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.off[0], 65536);
	assert_int_equal(s.off[1], 9 << 20);
	s.n = 0;
	assert_int_equal(disk_each_data(d, 512, record, &s, &b, &m), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.off[0], 69632);
	/* The digest sees sectors, so the unit size does not change it. */
	assert_memory_equal(&a, &b, sizeof a);
	disk_close(d);
}

static void test_digest_differs_when_one_byte_differs(void **state)
{
	unsigned char x = 1, y = 2;
	struct digest a, b;
	struct seen s = { .n = 0 };
	struct disk *d;
	struct msg m = { "" };

	(void)state;
	th_raw("x.img", 1 << 20, (uint64_t)5, &x, (size_t)1, UINT64_MAX);
	th_raw("y.img", 1 << 20, (uint64_t)5, &y, (size_t)1, UINT64_MAX);
	d = th_open(th_path("x.img"));
	assert_int_equal(disk_each_data(d, 65536, record, &s, &a, &m), 0);
	disk_close(d);
	d = th_open(th_path("y.img"));
	assert_int_equal(disk_each_data(d, 65536, record, &s, &b, &m), 0);
	disk_close(d);
	assert_memory_not_equal(&a, &b, sizeof a);
}

/* The text a progress line has drawn so far (open_memstream's buffer is current after
 * a flush; progress flushes after every draw). */
static const char *drawn(FILE *f, char **buf)
{
	fflush(f);
	return *buf;
}

static void test_progress_redraws_each_whole_percent_and_ends_the_line(void **state)
{
	struct progress p;
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	progress_start(&p, f, 1000000);
	assert_string_equal(drawn(f, &buf), "\r    (0.00/100%)");
	progress_update(&p, 500000);
	assert_string_equal(drawn(f, &buf), "\r    (0.00/100%)\r    (50.00/100%)");
	/* Less than a percent more, as if it had just drawn however slow this machine is:
	 * nothing. */
	p.last.tv_sec += 3600;
	progress_update(&p, 505000);
	progress_update(&p, 509999);
	assert_string_equal(drawn(f, &buf), "\r    (0.00/100%)\r    (50.00/100%)");
	/* The same, once 100 ms have passed: drawn. */
	p.last.tv_sec -= 7200;
	progress_update(&p, 505000);
	assert_string_equal(drawn(f, &buf),
			    "\r    (0.00/100%)\r    (50.00/100%)\r    (50.50/100%)");
	/* Never back, and 100.00 only when all of it is done. */
	progress_update(&p, 400000);
	progress_update(&p, 999999);
	progress_end(&p, true);
	assert_string_equal(drawn(f, &buf),
			    "\r    (0.00/100%)\r    (50.00/100%)\r    (50.50/100%)"
			    "\r    (99.99/100%)\r    (100.00/100%)\n");
	fclose(f);
	free(buf);

	/* A failed conversion ends the line where it stopped, for the error to follow. */
	f = open_memstream(&buf, &len);
	progress_start(&p, f, 0);
	progress_end(&p, false);
	assert_string_equal(drawn(f, &buf), "\r    (0.00/100%)\n");
	fclose(f);
	free(buf);
}

static void test_the_unit_walk_reports_progress_past_holes_and_data(void **state)
{
	unsigned char one = 1;
	struct seen s = { .n = 0 };
	struct progress p;
	struct disk *d;
	struct msg m = { "" };
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	th_raw("p.img", 4 << 20, (uint64_t)(2 << 20), &one, (size_t)1, UINT64_MAX);
	d = th_open(th_path("p.img"));
	progress_start(&p, f, d->size);
	d->progress = &p;
	assert_int_equal(disk_each_data(d, 65536, record, &s, NULL, &m), 0);
	/* The hole to 2 MiB, the 64 KiB unit holding the byte, the hole to the end. */
	assert_string_equal(drawn(f, &buf), "\r    (0.00/100%)\r    (50.00/100%)"
					    "\r    (51.56/100%)\r    (100.00/100%)");
	disk_close(d);
	fclose(f);
	free(buf);
}

/* --- identities ------------------------------------------------------------------------------ */

static void test_uuid_text_round_trips_and_guid_order_swaps_three_fields(void **state)
{
	struct uuid u, back;
	uint8_t g[16];
	char text[37];

	(void)state;
	assert_true(uuid_parse("00112233-4455-6677-8899-AABBCCDDEEFF", &u));
	uuid_format(&u, text);
	assert_string_equal(text, "00112233-4455-6677-8899-aabbccddeeff");
	uuid_to_guid(&u, g);
	assert_memory_equal(g, "\x33\x22\x11\x00\x55\x44\x77\x66\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
	back = uuid_from_guid(g);
	assert_memory_equal(&back, &u, sizeof u);
	assert_false(uuid_parse("00112233-4455-6677-8899-AABBCCDDEEF", &u));
	assert_false(uuid_parse("0011223344556677-8899-AABBCCDDEEFF00", &u));
	assert_false(uuid_parse("00112233-4455-6677-8899-AABBCCDDEEFG", &u));
}

static void test_derived_uuids_are_stable_and_differ_by_role_and_format(void **state)
{
	struct digest sum = { { 1, 2 } };
	struct uuid a = uuid_derive(&sum, "vdi", "create"), b = uuid_derive(&sum, "vdi", "create");
	struct uuid c = uuid_derive(&sum, "vdi", "modify"), d = uuid_derive(&sum, "vhd", "create");

	(void)state;
	assert_memory_equal(&a, &b, sizeof a);
	assert_memory_not_equal(&a, &c, sizeof a);
	assert_memory_not_equal(&a, &d, sizeof a);
	assert_int_equal(a.b[6] >> 4, 4);
	assert_int_equal(a.b[8] >> 6, 2);
}

static void test_uuid_option_refuses_bad_and_null_uuids(void **state)
{
	struct digest sum = { { 1, 2 } };
	struct opts o = { .n = 0 };
	struct msg m = { "" };
	struct uuid u;

	(void)state;
	assert_int_equal(opts_parse(&o, "uuid=xyz", &m), 0);
	assert_int_equal(uuid_option(&o, &sum, "vdi", "create", &u, &m), -1);
	assert_string_equal(m.text, "-o uuid=xyz: a UUID is 32 hex digits as "
			    "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.");
	opts_free(&o);
	assert_int_equal(opts_parse(&o, "uuid=00000000-0000-0000-0000-000000000000", &m), 0);
	assert_int_equal(uuid_option(&o, &sum, "vdi", "create", &u, &m), -1);
	assert_string_equal(m.text, "-o uuid=00000000-0000-0000-0000-000000000000: the null UUID "
			    "marks no disk at all; give another.");
	opts_free(&o);
}

static void test_source_date_epoch_must_be_a_number(void **state)
{
	struct msg m = { "" };
	int64_t t;

	(void)state;
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	assert_int_equal(source_date_epoch(&t, &m), 0);
	assert_int_equal(t, 1700000000);
	setenv("SOURCE_DATE_EPOCH", "yesterday", 1);
	assert_int_equal(source_date_epoch(&t, &m), -1);
	assert_string_equal(m.text, "SOURCE_DATE_EPOCH=yesterday is not a count of seconds since 1970.");
	unsetenv("SOURCE_DATE_EPOCH");
	assert_int_equal(source_date_epoch(&t, &m), 0);
	assert_int_equal(t, 0);
}

/* --- output, all or nothing ------------------------------------------------------------------- */

static void test_failed_output_leaves_no_file_and_keeps_the_old_one(void **state)
{
	struct output o = { .n = 0 };
	struct outfile *f;
	struct msg m = { "" };
	size_t len;
	unsigned char *old;
	DIR *dir;

	(void)state;
	th_raw("keep.img", 4, (uint64_t)0, "good", (size_t)4, UINT64_MAX);
	assert_int_equal(output_add(&o, th_path("keep.img"), &f, &m), 0);
	assert_int_equal(out_write(f, "bad!", 4, 0, &m), 0);
	output_discard(&o);
	old = th_slurp(th_path("keep.img"), &len);
	assert_int_equal(len, 4);
	assert_memory_equal(old, "good", 4);
	free(old);
	/* Nothing else is left in the folder: no temporary file. */
	dir = opendir(th_dir);
	assert_non_null(dir);
	for (struct dirent *e; (e = readdir(dir));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			assert_string_equal(e->d_name, "keep.img");
	closedir(dir);
}

static void test_committed_output_replaces_the_old_file_whole(void **state)
{
	struct output o = { .n = 0 };
	struct outfile *f;
	struct msg m = { "" };
	unsigned char *got;
	size_t len;

	(void)state;
	th_raw("img", 4, (uint64_t)0, "old!", (size_t)4, UINT64_MAX);
	assert_int_equal(output_add(&o, th_path("img"), &f, &m), 0);
	assert_int_equal(out_write(f, "new", 3, 0, &m), 0);
	assert_int_equal(out_set_size(f, 8, &m), 0);
	assert_int_equal(output_commit(&o, &m), 0);
	got = th_slurp(th_path("img"), &len);
	assert_int_equal(len, 8);
	assert_memory_equal(got, "new\0\0\0\0\0", 8);
	free(got);
}

static void test_output_to_a_missing_folder_says_so(void **state)
{
	struct output o = { .n = 0 };
	struct outfile *f;
	struct msg m = { "" };
	char want[512];

	(void)state;
	assert_int_equal(output_add(&o, th_path("nope/x.img"), &f, &m), -1);
	snprintf(want, sizeof want, "cannot write %s: the folder %s does not exist.",
		 th_path("nope/x.img"), th_path("nope"));
	assert_string_equal(m.text, want);
	output_discard(&o);
}

static void test_output_to_a_full_device_fails_with_no_space(void **state)
{
	unsigned char buf[4096] = { 1 };
	struct output o = { .n = 0 };
	struct outfile *f;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(output_add(&o, "/dev/full", &f, &m), 0);
	assert_int_equal(out_write(f, buf, sizeof buf, 0, &m), -1);
	assert_string_equal(m.text, "cannot write /dev/full: No space left on device");
	output_discard(&o);
}

/* As an unprivileged user (root writes anywhere): a folder without write permission. */
static void test_output_to_a_read_only_folder_says_why(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(mkdir(th_path("ro"), 0555), 0);
	assert_int_equal(chmod(th_dir, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct output o = { .n = 0 };
		struct outfile *f;
		struct msg m = { "" };
		char want[512];

		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(3);
		if (output_add(&o, th_path("ro/x.img"), &f, &m) != -1)
			_exit(1);
		snprintf(want, sizeof want, "cannot write %s in the folder %s: Permission denied",
			 th_path("ro/x.img"), th_path("ro"));
		_exit(strcmp(m.text, want) ? 2 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_options_split_into_keys_and_values),
		TH_TEST(test_option_given_twice_is_an_error),
		TH_TEST(test_option_without_equals_is_an_error),
		TH_TEST(test_unknown_option_names_the_known_ones),
		TH_TEST(test_choice_option_lists_its_values),
		TH_TEST(test_power_of_two_option_takes_suffixes_and_refuses_others),
		TH_TEST(test_convert_takes_format_options_and_two_operands),
		TH_TEST(test_f_names_the_input_format_of_every_command),
		TH_TEST(test_convert_p_asks_for_progress),
		TH_TEST(test_command_line_mistakes_are_one_sentence_each),
		TH_TEST(test_help_and_version_win_anywhere_before_the_dashes),
		TH_TEST(test_help_lists_every_format_from_the_table),
		TH_TEST(test_boot_program_becomes_a_signed_1_mib_disk),
		TH_TEST(test_odd_boot_programs_are_refused_unless_forced),
		TH_TEST(test_missing_and_empty_inputs_say_so),
		TH_TEST(test_every_known_unread_signature_is_refused_by_name_and_f_raw_reads_it),
		TH_TEST(test_near_misses_of_the_signatures_read_as_what_they_are),
		TH_TEST(test_f_opens_as_that_format_without_probing),
		TH_TEST(test_raw_round_trip_keeps_holes),
		TH_TEST(test_raw_disk_of_odd_size_reads_as_padded_to_a_sector),
		TH_TEST(test_each_data_visits_only_units_with_data),
		TH_TEST(test_digest_differs_when_one_byte_differs),
		TH_TEST(test_progress_redraws_each_whole_percent_and_ends_the_line),
		TH_TEST(test_the_unit_walk_reports_progress_past_holes_and_data),
		TH_TEST(test_uuid_text_round_trips_and_guid_order_swaps_three_fields),
		TH_TEST(test_derived_uuids_are_stable_and_differ_by_role_and_format),
		TH_TEST(test_uuid_option_refuses_bad_and_null_uuids),
		TH_TEST(test_source_date_epoch_must_be_a_number),
		TH_TEST(test_failed_output_leaves_no_file_and_keeps_the_old_one),
		TH_TEST(test_committed_output_replaces_the_old_file_whole),
		TH_TEST(test_output_to_a_missing_folder_says_so),
		TH_TEST(test_output_to_a_full_device_fails_with_no_space),
		TH_TEST(test_output_to_a_read_only_folder_says_why),
	};

	return cmocka_run_group_tests_name("imgtool core", tests, NULL, NULL);
}
