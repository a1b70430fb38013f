/* test_imgtool_vdi.c - VirtualBox VDI images: what the writer lays out, what the
 * reader refuses, and what check finds in images damaged on purpose.
 *
 * Header offsets are spelled out here as numbers, as VirtualBox's VDICore.h draws
 * them, so a test fails if the writer and the reader agree on a wrong layout.
 */
#include "bytes.h"
#include "ident.h"

#include "imgtool_harness.h"

#define MIB (1u << 20)

/* Header fields, little-endian, by their offset in the file. */
#define H_SIGNATURE 0x40
#define H_VERSION 0x44
#define H_HEADER_SIZE 0x48
#define H_TYPE 0x4C
#define H_FLAGS 0x50
#define H_MAP 0x154
#define H_DATA 0x158
#define H_LEGACY 0x15C
#define H_SECTOR 0x168
#define H_DISK 0x170
#define H_BLOCK 0x178
#define H_EXTRA 0x17C
#define H_BLOCKS 0x180
#define H_ALLOCATED 0x184
#define H_CREATE 0x188
#define H_MODIFY 0x198
#define H_LINK 0x1A8
#define H_PARENT 0x1B8
#define H_LCHS 0x1C8

/* The 1 MiB boot disk: a sector of code (0x90, nop) ending in 0x55AA. */
static const char *boot_disk(void)
{
	static unsigned char sector[512];

	memset(sector, 0x90, 510);
	return th_boot_disk_of("boot.img", sector);
}

/* The boot disk written as a dynamic VDI: the base of most reader tests. */
static const char *boot_vdi(void)
{
	return th_write_ok(&fmt_vdi, "", boot_disk(), th_path("boot.vdi"));
}

/* The message writing src as VDI fails with; it leaves no out.vdi behind. */
static const char *write_error(const char *options, const char *src)
{
	return th_write_refused(&fmt_vdi, options, src, th_path("out.vdi"));
}

/* --- what the writer lays out ----------------------------------------------------------- */

static void test_dynamic_vdi_of_boot_disk_is_1049600_bytes(void **state)
{
	const char *src = boot_disk(), *out = th_path("boot.vdi");

	(void)state;
	th_round_trip(&fmt_vdi, "", src, out);
	assert_int_equal(th_size(out), 1049600);
	assert_int_equal(th_peek_le32(out, H_TYPE), 1);
	assert_int_equal(th_peek_le32(out, H_MAP), 512);
	assert_int_equal(th_peek_le32(out, H_DATA), 1024);
	assert_int_equal(th_peek_le32(out, H_BLOCKS), 1);
	assert_int_equal(th_peek_le32(out, H_ALLOCATED), 1);
	assert_int_equal(th_peek_le32(out, 512), 0);
}

static void test_fixed_vdi_of_boot_disk_is_1049600_bytes(void **state)
{
	const char *src = boot_disk(), *out = th_path("boot.vdi");

	(void)state;
	th_round_trip(&fmt_vdi, "subformat=fixed", src, out);
	assert_int_equal(th_size(out), 1049600);
	assert_int_equal(th_peek_le32(out, H_TYPE), 2);
	assert_int_equal(th_peek_le32(out, H_DATA), 1024);
	assert_int_equal(th_peek_le32(out, H_ALLOCATED), 1);
	assert_int_equal(th_peek_le32(out, 512), 0);
}

static void test_header_holds_what_virtualbox_writes(void **state)
{
	static const char banner[64] = "<<< Oracle VM VirtualBox Disk Image >>>\n";
	const char *out;
	unsigned char *img;
	size_t len;

	(void)state;
	out = boot_vdi();
	img = th_slurp(out, &len);
	assert_memory_equal(img, banner, sizeof banner);
	assert_int_equal(get_le32(img + H_SIGNATURE), 0xBEDA107F);
	assert_int_equal(get_le32(img + H_VERSION), 0x00010001);
	assert_int_equal(get_le32(img + H_HEADER_SIZE), 400);
	assert_int_equal(get_le32(img + H_FLAGS), 0);
	assert_true(is_zero(img + 0x54, 256));			/* the comment */
	assert_true(is_zero(img + H_LEGACY, 12));		/* CHS "not calculated" */
	assert_int_equal(get_le32(img + H_SECTOR), 512);
	assert_int_equal(get_le64(img + H_DISK), MIB);
	assert_int_equal(get_le32(img + H_BLOCK), MIB);
	assert_int_equal(get_le32(img + H_EXTRA), 0);
	assert_true(is_zero(img + H_LINK, 32));			/* link and parent */
	assert_true(is_zero(img + H_LCHS, 12));
	assert_int_equal(get_le32(img + H_LCHS + 12), 512);
	assert_true(is_zero(img + 0x1D8, 512 - 0x1D8));
	assert_true(is_zero(img + 516, 1024 - 516));		/* after the one map entry */
	assert_int_equal(img[1024 + 510], 0x55);
	free(img);
}

static void test_odd_sized_disk_round_trips_in_both_subformats(void **state)
{
	unsigned char *a = th_pattern(700, 1), *b = th_pattern(512, 2);
	const char *src = th_raw("odd.img", 3 * MIB + 512, (uint64_t)1000, a, (size_t)700,
				 (uint64_t)3 * MIB, b, (size_t)512, UINT64_MAX);

	(void)state;
	th_round_trip(&fmt_vdi, "", src, th_path("dyn.vdi"));
	th_round_trip(&fmt_vdi, "subformat=fixed", src, th_path("fix.vdi"));
	/* Four blocks, the last holding one sector of data and zeros. */
	assert_int_equal(th_peek_le64(th_path("dyn.vdi"), H_DISK), 3 * MIB + 512);
	assert_int_equal(th_peek_le32(th_path("dyn.vdi"), H_BLOCKS), 4);
	assert_int_equal(th_size(th_path("dyn.vdi")), 1024 + 2 * MIB);
	assert_int_equal(th_size(th_path("fix.vdi")), 1024 + 4 * MIB);
	free(a);
	free(b);
}

static void test_data_in_the_last_sector_round_trips(void **state)
{
	unsigned char *p = th_pattern(512, 3);
	const char *src = th_raw("last.img", 10 * MIB, (uint64_t)10 * MIB - 512, p, (size_t)512,
				 UINT64_MAX);

	(void)state;
	th_round_trip(&fmt_vdi, "", src, th_path("last.vdi"));
	assert_int_equal(th_size(th_path("last.vdi")), 1024 + MIB);
	assert_int_equal(th_peek_le32(th_path("last.vdi"), 512 + 4 * 9), 0);
	free(p);
}

static void test_all_zero_disk_allocates_no_block(void **state)
{
	const char *src = th_raw("zero.img", 5 * MIB, UINT64_MAX);
	const char *dyn = th_path("dyn.vdi"), *fix = th_path("fix.vdi");
	struct disk *d;
	uint64_t stored;
	struct msg m;

	(void)state;
	th_round_trip(&fmt_vdi, "", src, dyn);
	th_round_trip(&fmt_vdi, "subformat=fixed", src, fix);
	assert_int_equal(th_size(dyn), 1024);
	assert_int_equal(th_peek_le32(dyn, H_ALLOCATED), 0);
	for (int b = 0; b < 5; b++)
		assert_int_equal(th_peek_le32(dyn, 512 + 4 * b), 0xFFFFFFFF);
	/* Fixed: every block has its place, block i at data index i, as holes. */
	assert_int_equal(th_size(fix), 1024 + 5 * MIB);
	assert_int_equal(th_peek_le32(fix, H_ALLOCATED), 5);
	for (int b = 0; b < 5; b++)
		assert_int_equal(th_peek_le32(fix, 512 + 4 * b), b);
	d = th_open(dyn);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_int_equal(stored, 0);
	disk_close(d);
}

static void test_dynamic_blocks_are_stored_in_disk_order(void **state)
{
	unsigned char *a = th_pattern(4096, 4), *b = th_pattern(4096, 5), *c = th_pattern(9, 6);
	const char *src = th_raw("s.img", 8 * MIB, (uint64_t)6 * MIB, a, (size_t)4096,
				 (uint64_t)MIB + 7, c, (size_t)9, (uint64_t)3 * MIB + 4096, b,
				 (size_t)4096, UINT64_MAX);
	const char *out = th_path("s.vdi");
	static const uint32_t want[8] = { 0xFFFFFFFF, 0, 0xFFFFFFFF, 1, 0xFFFFFFFF,
					  0xFFFFFFFF, 2, 0xFFFFFFFF };

	(void)state;
	th_round_trip(&fmt_vdi, "", src, out);
	for (int k = 0; k < 8; k++)
		assert_int_equal(th_peek_le32(out, 512 + 4 * k), want[k]);
	assert_int_equal(th_peek_le32(out, H_ALLOCATED), 3);
	assert_int_equal(th_size(out), 1024 + 3 * MIB);
	free(a);
	free(b);
	free(c);
}

static void test_sparse_2g_disk_keeps_1m_aligned_data_and_only_its_blocks(void **state)
{
	unsigned char *p = th_pattern(8192, 7);
	const char *src = th_raw("big.img", (uint64_t)2 << 30, (uint64_t)0, p, (size_t)512,
				 (uint64_t)700 * MIB + 12345, p, (size_t)8192,
				 ((uint64_t)2 << 30) - 4096, p, (size_t)4096, UINT64_MAX);
	const char *dyn = th_path("big.vdi"), *fix = th_path("fix.vdi");
	struct disk *d;
	uint64_t stored;
	struct msg m;

	(void)state;
	th_round_trip(&fmt_vdi, "", src, dyn);
	assert_int_equal(th_peek_le32(dyn, H_BLOCKS), 2048);
	assert_int_equal(th_peek_le32(dyn, H_DATA), MIB);
	assert_int_equal(th_peek_le32(dyn, H_ALLOCATED), 3);
	assert_int_equal(th_size(dyn), MIB + 3 * MIB);
	d = th_open(dyn);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_int_equal(stored, 3 * MIB);
	disk_close(d);
	/* Fixed: the whole data area, but unwritten blocks are holes. */
	th_write_ok(&fmt_vdi, "subformat=fixed", src, fix);
	assert_int_equal(th_size(fix), MIB + ((uint64_t)2 << 30));
	assert_int_equal(th_peek_le32(fix, 512 + 4 * 2047), 2047);
	d = th_open(fix);
	th_assert_clean(d);
	disk_close(d);
	free(p);
}

static void test_map_of_a_disk_below_1g_ends_on_a_sector(void **state)
{
	unsigned char *p = th_pattern(512, 8);
	const char *src = th_raw("m.img", 300 * (uint64_t)MIB, (uint64_t)299 * MIB, p,
				 (size_t)512, UINT64_MAX);
	const char *out = th_path("m.vdi");

	(void)state;
	th_round_trip(&fmt_vdi, "", src, out);
	/* 512 + 300 * 4 = 1712, rounded up to 2048. */
	assert_int_equal(th_peek_le32(out, H_DATA), 2048);
	assert_int_equal(th_size(out), 2048 + MIB);
	free(p);
}

static void test_map_of_a_20g_disk_goes_out_in_pieces_and_whole(void **state)
{
	unsigned char *p = th_pattern(4096, 13), *map;
	const uint64_t gib = 1u << 30, at[3] = { 0, 9 * gib + 4096, 20 * gib - 4096 };
	const char *src = th_raw("huge.img", 20 * gib, at[0], p, (size_t)4096, at[1], p,
				 (size_t)4096, at[2], p, (size_t)4096, UINT64_MAX);
	const char *out = th_path("huge.vdi");
	unsigned char back[4096];
	struct disk *d;
	size_t len;
	struct msg m;

	(void)state;
	/* 20480 map entries: more than one 8192-entry piece of the writer. */
	th_write_ok(&fmt_vdi, "", src, out);
	assert_int_equal(th_size(out), MIB + 3 * MIB);
	map = th_slurp(out, &len);
	for (uint32_t b = 0; b < 20480; b++) {
		uint32_t want = b == 0 ? 0 : b == 9216 ? 1 : b == 20479 ? 2 : 0xFFFFFFFF;

		assert_int_equal(get_le32(map + 512 + 4 * (size_t)b), want);
	}
	free(map);
	d = th_open(out);
	th_assert_clean(d);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(disk_read(d, back, sizeof back, at[k], &m), 0);
		assert_memory_equal(back, p, sizeof back);
	}
	disk_close(d);
	free(p);
}

/* A 4 MiB VDI whose header describes 2 PiB in 2 GiB blocks, none allocated. */
static const char *two_pib_vdi(void)
{
	const uint32_t blocks = 1u << 20;
	const char *base = boot_vdi();
	unsigned char *img, *big;
	size_t len, size = 1024 + (size_t)blocks * 4;

	img = th_slurp(base, &len);
	big = malloc(size);
	assert_non_null(big);
	memcpy(big, img, 512);
	memset(big + 512, 0xFF, size - 512);
	put_le64(big + H_DISK, (uint64_t)blocks << 31);
	put_le32(big + H_BLOCK, 1u << 31);
	put_le32(big + H_BLOCKS, blocks);
	put_le32(big + H_ALLOCATED, 0);
	put_le32(big + H_DATA, (uint32_t)size);
	free(img);
	th_raw("2p.vdi", 0, (uint64_t)0, big, size, UINT64_MAX);
	free(big);
	return th_path("2p.vdi");
}

static void test_disk_beyond_what_the_map_can_describe_is_refused(void **state)
{
	(void)state;
	assert_string_equal(write_error("", two_pib_vdi()),
			    th_text("cannot write %s: the disk is 2251799813685248 bytes, more than "
				    "the 1073479552 MiB a vdi image can describe.",
				    th_path("out.vdi")));
}

/* --- identity -------------------------------------------------------------------------- */

static void test_two_writes_are_byte_identical(void **state)
{
	const char *src = boot_disk();
	unsigned char *a, *b;
	size_t la, lb;

	(void)state;
	th_write_ok(&fmt_vdi, "", src, th_path("a.vdi"));
	th_write_ok(&fmt_vdi, "", src, th_path("b.vdi"));
	a = th_slurp(th_path("a.vdi"), &la);
	b = th_slurp(th_path("b.vdi"), &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
}

static void test_uuids_are_non_null_distinct_and_follow_the_content(void **state)
{
	unsigned char x = 1;
	const char *one = th_raw("1.img", MIB, (uint64_t)0, &x, (size_t)1, UINT64_MAX);
	const char *two = th_raw("2.img", MIB, (uint64_t)1, &x, (size_t)1, UINT64_MAX);
	unsigned char *a, *b;
	size_t la, lb;

	(void)state;
	th_write_ok(&fmt_vdi, "", one, th_path("1.vdi"));
	th_write_ok(&fmt_vdi, "", two, th_path("2.vdi"));
	a = th_slurp(th_path("1.vdi"), &la);
	b = th_slurp(th_path("2.vdi"), &lb);
	assert_false(is_zero(a + H_CREATE, 16));
	assert_false(is_zero(a + H_MODIFY, 16));
	assert_memory_not_equal(a + H_CREATE, a + H_MODIFY, 16);
	assert_memory_not_equal(a + H_CREATE, b + H_CREATE, 16);
	assert_memory_not_equal(a + H_MODIFY, b + H_MODIFY, 16);
	free(a);
	free(b);
}

static void test_uuid_option_sets_the_create_uuid_in_guid_byte_order(void **state)
{
	static const unsigned char guid[16] = { 0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56,
						0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78 };
	const char *out = th_path("u.vdi");
	unsigned char *img;
	struct disk *d;
	size_t len;

	(void)state;
	th_round_trip(&fmt_vdi, "uuid=12345678-1234-5678-9ABC-DEF012345678", boot_disk(), out);
	img = th_slurp(out, &len);
	assert_memory_equal(img + H_CREATE, guid, 16);
	assert_memory_not_equal(img + H_MODIFY, guid, 16);
	free(img);
	d = th_open(out);
	assert_string_equal(th_info(d, "create uuid"), "12345678-1234-5678-9abc-def012345678");
	disk_close(d);
}

/* --- options ----------------------------------------------------------------------------- */

static void test_bad_uuid_is_refused_before_anything_is_written(void **state)
{
	const char *src = boot_disk();

	(void)state;
	assert_string_equal(write_error("uuid=12345678-1234", src),
			    "-o uuid=12345678-1234: a UUID is 32 hex digits as "
			    "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.");
	assert_string_equal(write_error("uuid=00000000-0000-0000-0000-000000000000", src),
			    "-o uuid=00000000-0000-0000-0000-000000000000: the null UUID marks "
			    "no disk at all; give another.");
}

static void test_bad_subformat_is_refused(void **state)
{
	(void)state;
	assert_string_equal(write_error("subformat=sparse", boot_disk()),
			    "-o subformat=sparse: subformat is dynamic or fixed.");
}

static void test_unknown_option_names_subformat_and_uuid(void **state)
{
	(void)state;
	assert_string_equal(write_error("cluster_size=64K", boot_disk()),
			    "vdi has no option cluster_size; it takes subformat and uuid.");
}

/* --- info -------------------------------------------------------------------------------- */

static void test_info_tells_subformat_uuids_blocks_and_geometry(void **state)
{
	const char *out = boot_vdi();
	struct disk *d = th_open(out);
	char create[37];
	unsigned char *img;
	size_t len;

	(void)state;
	img = th_slurp(out, &len);
	{
		struct uuid u = uuid_from_guid(img + H_CREATE);

		uuid_format(&u, create);
	}
	free(img);
	assert_string_equal(th_info(d, "subformat"), "dynamic");
	assert_string_equal(th_info(d, "create uuid"), create);
	assert_non_null(th_info(d, "modify uuid"));
	assert_string_equal(th_info(d, "block size"), "1048576");
	assert_string_equal(th_info(d, "blocks"), "1");
	assert_string_equal(th_info(d, "blocks allocated"), "1");
	assert_string_equal(th_info(d, "header version"), "1.1");
	assert_string_equal(th_info(d, "legacy geometry"), "not set");
	assert_string_equal(th_info(d, "lchs geometry"), "not set");
	disk_close(d);
}

static void test_info_of_a_384_byte_header_has_no_lchs_geometry(void **state)
{
	const char *out = boot_vdi();
	struct disk *d;

	(void)state;
	th_poke_le32(out, H_HEADER_SIZE, 384);
	th_poke_le32(out, H_LEGACY, 2);
	th_poke_le32(out, H_LEGACY + 4, 16);
	th_poke_le32(out, H_LEGACY + 8, 63);
	d = th_open(out);
	assert_null(th_info(d, "lchs geometry"));
	assert_string_equal(th_info(d, "legacy geometry"), "2/16/63");
	assert_string_equal(th_info(d, "header size"), "384");
	th_assert_clean(d);
	disk_close(d);
}

/* --- reading what others write ------------------------------------------------------------ */

/* A VDI with 512 KiB blocks, as VirtualBox's AllocationBlockSize makes: blocks 1 and
 * 3 hold data, stored the other way round; block 2 is marked zero. */
static void test_reader_takes_other_block_sizes_and_zero_blocks(void **state)
{
	const uint32_t half = MIB / 2;
	unsigned char *a = th_pattern(half, 9), *b = th_pattern(half, 10), *img, *want;
	const char *out = boot_vdi(), *path = th_path("half.vdi");
	struct disk *d;
	struct msg m;
	uint64_t stored;
	size_t len;

	(void)state;
	img = th_slurp(out, &len);
	img = realloc(img, 1024 + 2 * half);
	put_le64(img + H_DISK, 2 * MIB);
	put_le32(img + H_BLOCK, half);
	put_le32(img + H_BLOCKS, 4);
	put_le32(img + H_ALLOCATED, 2);
	put_le32(img + H_DATA, 1024);
	put_le32(img + 512, 0xFFFFFFFF);
	put_le32(img + 516, 1);
	put_le32(img + 520, 0xFFFFFFFE);
	put_le32(img + 524, 0);
	memcpy(img + 1024, b, half);
	memcpy(img + 1024 + half, a, half);
	th_raw("half.vdi", 0, (uint64_t)0, img, (size_t)1024 + 2 * half, UINT64_MAX);
	want = calloc(1, 2 * MIB);
	memcpy(want + half, a, half);
	memcpy(want + 3 * half, b, half);
	th_raw("want.img", 2 * MIB, (uint64_t)0, want, (size_t)2 * MIB, UINT64_MAX);

	d = th_open(path);
	assert_int_equal(d->size, 2 * MIB);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_int_equal(stored, 2 * half);
	disk_close(d);
	{
		struct disk *x = th_open(th_path("want.img")), *y = th_open(path);

		th_assert_same(x, y);
		disk_close(x);
		disk_close(y);
	}
	assert_string_equal(th_faults(path),
			    th_text("%s: its blocks are 524288 bytes; QEMU reads only 1 MiB blocks.",
				    path));
	free(a);
	free(b);
	free(img);
	free(want);
}

static void test_odd_disk_size_reads_rounded_up_and_is_a_fault(void **state)
{
	const char *out = boot_vdi();
	struct disk *d;

	(void)state;
	th_poke_le64(out, H_DISK, MIB - 100);
	d = th_open(out);
	assert_int_equal(d->size, MIB);
	disk_close(d);
	assert_string_equal(th_faults(out),
			    th_text("%s: its disk size 1048476 is not a whole number of 512-byte "
				    "sectors.", out));
}

/* --- what the reader refuses -------------------------------------------------------------- */

static void test_probe_wants_the_signature_at_0x40(void **state)
{
	static const char *const others[] = { "QFI\xfb", "KDMV", "conectix", "<<< Oracle VM" };
	unsigned char head[512] = { 0 };
	struct infile f = { .fd = -1, .path = NULL, .size = 512 };

	(void)state;
	for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
		memset(head, 0, sizeof head);
		memcpy(head, others[k], strlen(others[k]));
		assert_false(fmt_vdi.probe(&f, head, sizeof head));
	}
	put_le32(head + 0x40, 0xBEDA107F);
	assert_true(fmt_vdi.probe(&f, head, sizeof head));
	assert_false(fmt_vdi.probe(&f, head, 0x43));
	/* A raw disk is not taken for a VDI. */
	{
		struct disk *d = th_open(boot_disk());

		assert_ptr_equal(d->fmt, &fmt_raw);
		disk_close(d);
	}
}

static void test_truncated_header_is_refused(void **state)
{
	const char *out = boot_vdi();

	(void)state;
	th_truncate(out, 300);
	assert_string_equal(th_open_error(out),
			    th_text("%s is truncated: the header at byte 0 runs past its end (300).",
				    out));
}

static void test_truncated_lchs_geometry_is_refused(void **state)
{
	const char *out = boot_vdi();

	(void)state;
	th_truncate(out, 460);
	assert_string_equal(th_open_error(out),
			    th_text("%s is truncated: the header at byte 456 runs past its end "
				    "(460).", out));
}

static void test_wrong_signature_is_refused_by_open(void **state)
{
	const char *out = boot_vdi();
	struct infile f;
	struct disk *d;
	struct msg m;

	(void)state;
	th_poke_le32(out, H_SIGNATURE, 0xBEDA1070);
	assert_int_equal(infile_open(&f, out, &m), 0);
	assert_int_equal(fmt_vdi.open(&f, &d, &m), -1);
	assert_null(d);
	assert_string_equal(m.text, th_text("%s is not a usable VDI image: its signature is "
					    "0xbeda1070, not 0xbeda107f.", out));
}

/* Poke one u32 of the boot VDI's header; return the open error. */
static const char *refusal(uint64_t off, uint32_t v)
{
	const char *out = boot_vdi();

	th_poke_le32(out, off, v);
	return th_open_error(out);
}

static void test_unsupported_header_version_is_refused(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_VERSION, 0x00000002),
			    th_text("%s is not a usable VDI image: its header version 0.2 is not "
				    "supported; only version 1 headers are.", th_path("boot.vdi")));
}

static void test_short_header_size_is_refused(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_HEADER_SIZE, 300),
			    th_text("%s is not a usable VDI image: its header size 300 is less than "
				    "the 384 bytes of a version 1.1 header.", th_path("boot.vdi")));
}

static void test_differencing_and_undo_images_are_not_supported(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_TYPE, 4),
			    th_text("%s is a differencing vdi image, which holds only changes to "
				    "another image; imgtool reads only dynamic and fixed images.",
				    th_path("boot.vdi")));
	assert_string_equal(refusal(H_TYPE, 3),
			    th_text("%s is an undo vdi image, which holds only changes to another "
				    "image; imgtool reads only dynamic and fixed images.",
				    th_path("boot.vdi")));
}

static void test_unknown_image_type_is_refused(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_TYPE, 0),
			    th_text("%s is not a usable VDI image: its image type 0 is none of 1 "
				    "(dynamic), 2 (fixed), 3 (undo) and 4 (differencing).",
				    th_path("boot.vdi")));
}

static void test_sector_size_other_than_512_is_refused(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_SECTOR, 4096),
			    th_text("%s is not a usable VDI image: its sector size is 4096, not 512.",
				    th_path("boot.vdi")));
}

static void test_block_size_not_a_power_of_two_is_refused(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_BLOCK, 3 * MIB),
			    th_text("%s is not a usable VDI image: its block size 3145728 is not a "
				    "power of two of at least 512.", th_path("boot.vdi")));
	assert_string_equal(refusal(H_BLOCK, 256),
			    th_text("%s is not a usable VDI image: its block size 256 is not a power "
				    "of two of at least 512.", th_path("boot.vdi")));
}

static void test_extra_block_data_is_not_supported(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_EXTRA, 512),
			    th_text("%s is not a usable VDI image: it keeps 512 bytes of extra data "
				    "per block, which is not supported.", th_path("boot.vdi")));
}

static void test_zero_disk_size_is_refused(void **state)
{
	const char *out = boot_vdi();

	(void)state;
	th_poke_le64(out, H_DISK, 0);
	assert_string_equal(th_open_error(out),
			    th_text("%s is not a usable VDI image: its disk size is 0.", out));
}

static void test_disk_larger_than_its_blocks_is_refused(void **state)
{
	const char *out = boot_vdi();

	(void)state;
	th_poke_le64(out, H_DISK, MIB + 512);
	assert_string_equal(th_open_error(out),
			    th_text("%s is not a usable VDI image: its disk size 1049088 is more "
				    "than its 1 blocks of 1048576 bytes hold.", out));
	/* The largest size a block count and block size can describe does not wrap. */
	th_poke_le64(out, H_DISK, UINT64_MAX);
	th_poke_le32(out, H_BLOCKS, UINT32_MAX);
	th_poke_le32(out, H_BLOCK, 1u << 31);
	assert_string_equal(th_open_error(out),
			    th_text("%s is not a usable VDI image: its disk size 18446744073709551615 "
				    "is more than its 4294967295 blocks of 2147483648 bytes hold.",
				    out));
}

static void test_more_allocated_blocks_than_blocks_is_refused(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_ALLOCATED, 2),
			    th_text("%s is not a usable VDI image: it counts 2 allocated blocks of "
				    "only 1.", th_path("boot.vdi")));
}

static void test_block_map_inside_the_header_is_refused(void **state)
{
	(void)state;
	assert_string_equal(refusal(H_MAP, 400),
			    th_text("%s is not a usable VDI image: its block map (offset 400) starts "
				    "inside the header.", th_path("boot.vdi")));
}

static void test_block_map_past_the_end_is_refused(void **state)
{
	const char *out = boot_vdi();

	(void)state;
	/* 0x40000000 entries of 4 bytes: a map the 1 MiB file cannot hold is never
	 * allocated. */
	th_poke_le32(out, H_BLOCKS, 0x40000000);
	assert_string_equal(th_open_error(out),
			    th_text("%s is not a usable VDI image: its block map (offset 512, "
				    "1073741824 entries) runs past the end of the file (1049600 "
				    "bytes).", out));
}

static void test_data_area_before_the_map_or_past_the_end_is_refused(void **state)
{
	const char *want = "%s is not a usable VDI image: its data area (offset %s) is not "
			   "between the block map (offset 512) and the end of the file "
			   "(1049600 bytes).";
	char msg[512];

	(void)state;
	snprintf(msg, sizeof msg, want, th_path("boot.vdi"), "0");
	assert_string_equal(refusal(H_DATA, 0), msg);
	snprintf(msg, sizeof msg, want, th_path("boot.vdi"), "1049601");
	assert_string_equal(refusal(H_DATA, 1049601), msg);
}

static void test_map_entry_beyond_the_allocated_count_is_refused(void **state)
{
	(void)state;
	assert_string_equal(refusal(512, 1),
			    th_text("%s is not a usable VDI image: block 0's map entry 1 is not "
				    "below the allocated count 1.", th_path("boot.vdi")));
}

static void test_truncated_last_block_is_refused(void **state)
{
	const char *out = boot_vdi();

	(void)state;
	th_truncate(out, 1024 + MIB - 512);
	assert_string_equal(th_open_error(out),
			    th_text("%s is not a usable VDI image: block 0's data (offset 1024) runs "
				    "past the end of the file (1049088 bytes).", out));
}

/* --- check ------------------------------------------------------------------------------- */

static void test_clean_images_have_no_faults(void **state)
{
	(void)state;
	assert_string_equal(th_faults(boot_vdi()), "");
}

static void test_check_finds_two_blocks_sharing_data(void **state)
{
	unsigned char *p = th_pattern(512, 11);
	const char *src = th_raw("two.img", 2 * MIB, (uint64_t)0, p, (size_t)512,
				 (uint64_t)MIB, p, (size_t)512, UINT64_MAX);
	const char *out = th_path("two.vdi");

	(void)state;
	th_write_ok(&fmt_vdi, "", src, out);
	th_poke_le32(out, 516, 0);
	assert_string_equal(th_faults(out),
			    th_text("%s: blocks 0 and 1 both use data block 0.", out));
	free(p);
}

static void test_check_names_ten_shared_blocks_and_counts_the_rest(void **state)
{
	unsigned char *p = th_pattern(512, 14);
	const char *src = th_raw("s.img", 30 * MIB, (uint64_t)0, p, (size_t)512, UINT64_MAX);
	const char *out = th_path("s.vdi");
	char want[4096];
	size_t len = 0;

	(void)state;
	th_write_ok(&fmt_vdi, "subformat=fixed", src, out);
	for (uint32_t b = 1; b < 30; b++)
		th_poke_le32(out, 512 + 4 * b, 0);
	th_poke_le32(out, H_ALLOCATED, 30);
	for (uint32_t b = 1; b <= 10; b++)
		len += (size_t)snprintf(want + len, sizeof want - len,
					"%s: blocks 0 and %u both use data block 0.\n", out, b);
	snprintf(want + len, sizeof want - len,
		 "%s: 19 more blocks use a data block that another block uses.", out);
	assert_string_equal(th_faults(out), want);
	free(p);
}

static void test_check_finds_a_wrong_allocated_count(void **state)
{
	unsigned char *p = th_pattern(512, 12);
	const char *src = th_raw("two.img", 2 * MIB, (uint64_t)0, p, (size_t)512,
				 (uint64_t)MIB, p, (size_t)512, UINT64_MAX);
	const char *out = th_path("two.vdi");

	(void)state;
	th_write_ok(&fmt_vdi, "", src, out);
	th_poke_le32(out, 516, 0xFFFFFFFF);
	assert_string_equal(th_faults(out),
			    th_text("%s: the header counts 2 allocated blocks, but the block map "
				    "uses 1.", out));
	free(p);
}

static void test_check_finds_null_create_and_modify_uuids(void **state)
{
	static const unsigned char zeros[32];
	const char *out = boot_vdi();
	char want[1024];

	(void)state;
	th_poke(out, H_CREATE, zeros, 32);
	snprintf(want, sizeof want,
		 "%s: its create UUID is null; VirtualBox refuses such an image.\n"
		 "%s: its modify UUID is null; VirtualBox refuses such an image.", out, out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_link_and_parent_uuids_in_a_base_image(void **state)
{
	const char *out = boot_vdi();
	char want[1024];

	(void)state;
	th_poke_le32(out, H_LINK, 1);
	th_poke_le32(out, H_PARENT + 12, 1);
	snprintf(want, sizeof want,
		 "%s: its link UUID is not null, but it is not a differencing image.\n"
		 "%s: its parent UUID is not null, but it is not a differencing image.", out,
		 out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_data_inside_the_map_and_unaligned_offsets(void **state)
{
	const char *out = boot_vdi();
	char want[1024];

	(void)state;
	/* One map entry at 512..515; data from 514 overlaps it, and is not aligned. */
	th_poke_le32(out, H_DATA, 514);
	snprintf(want, sizeof want,
		 "%s: the data area (offset 514) starts inside the block map, which ends at "
		 "516; VirtualBox refuses such an image.\n"
		 "%s: the block map (offset 512) or the data area (offset 514) does not start "
		 "on a 512-byte boundary; QEMU refuses such an image.", out, out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_extra_blocks_and_unknown_flags(void **state)
{
	const char *out = boot_vdi();
	char want[1024];

	(void)state;
	th_poke_le32(out, H_BLOCKS, 2);
	th_poke_le32(out, 516, 0xFFFFFFFF);
	th_poke_le32(out, H_FLAGS, 0x101);
	snprintf(want, sizeof want,
		 "%s: the header counts 2 blocks, but a disk of 1048576 bytes needs 1.\n"
		 "%s: its flags 0x00000101 include ones VirtualBox does not define; it refuses "
		 "such an image.", out, out);
	assert_string_equal(th_faults(out), want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_dynamic_vdi_of_boot_disk_is_1049600_bytes),
		TH_TEST(test_fixed_vdi_of_boot_disk_is_1049600_bytes),
		TH_TEST(test_header_holds_what_virtualbox_writes),
		TH_TEST(test_odd_sized_disk_round_trips_in_both_subformats),
		TH_TEST(test_data_in_the_last_sector_round_trips),
		TH_TEST(test_all_zero_disk_allocates_no_block),
		TH_TEST(test_dynamic_blocks_are_stored_in_disk_order),
		TH_TEST(test_sparse_2g_disk_keeps_1m_aligned_data_and_only_its_blocks),
		TH_TEST(test_map_of_a_disk_below_1g_ends_on_a_sector),
		TH_TEST(test_map_of_a_20g_disk_goes_out_in_pieces_and_whole),
		TH_TEST(test_disk_beyond_what_the_map_can_describe_is_refused),
		TH_TEST(test_two_writes_are_byte_identical),
		TH_TEST(test_uuids_are_non_null_distinct_and_follow_the_content),
		TH_TEST(test_uuid_option_sets_the_create_uuid_in_guid_byte_order),
		TH_TEST(test_bad_uuid_is_refused_before_anything_is_written),
		TH_TEST(test_bad_subformat_is_refused),
		TH_TEST(test_unknown_option_names_subformat_and_uuid),
		TH_TEST(test_info_tells_subformat_uuids_blocks_and_geometry),
		TH_TEST(test_info_of_a_384_byte_header_has_no_lchs_geometry),
		TH_TEST(test_reader_takes_other_block_sizes_and_zero_blocks),
		TH_TEST(test_odd_disk_size_reads_rounded_up_and_is_a_fault),
		TH_TEST(test_probe_wants_the_signature_at_0x40),
		TH_TEST(test_truncated_header_is_refused),
		TH_TEST(test_truncated_lchs_geometry_is_refused),
		TH_TEST(test_wrong_signature_is_refused_by_open),
		TH_TEST(test_unsupported_header_version_is_refused),
		TH_TEST(test_short_header_size_is_refused),
		TH_TEST(test_differencing_and_undo_images_are_not_supported),
		TH_TEST(test_unknown_image_type_is_refused),
		TH_TEST(test_sector_size_other_than_512_is_refused),
		TH_TEST(test_block_size_not_a_power_of_two_is_refused),
		TH_TEST(test_extra_block_data_is_not_supported),
		TH_TEST(test_zero_disk_size_is_refused),
		TH_TEST(test_disk_larger_than_its_blocks_is_refused),
		TH_TEST(test_more_allocated_blocks_than_blocks_is_refused),
		TH_TEST(test_block_map_inside_the_header_is_refused),
		TH_TEST(test_block_map_past_the_end_is_refused),
		TH_TEST(test_data_area_before_the_map_or_past_the_end_is_refused),
		TH_TEST(test_map_entry_beyond_the_allocated_count_is_refused),
		TH_TEST(test_truncated_last_block_is_refused),
		TH_TEST(test_clean_images_have_no_faults),
		TH_TEST(test_check_finds_two_blocks_sharing_data),
		TH_TEST(test_check_names_ten_shared_blocks_and_counts_the_rest),
		TH_TEST(test_check_finds_a_wrong_allocated_count),
		TH_TEST(test_check_finds_null_create_and_modify_uuids),
		TH_TEST(test_check_finds_link_and_parent_uuids_in_a_base_image),
		TH_TEST(test_check_finds_data_inside_the_map_and_unaligned_offsets),
		TH_TEST(test_check_finds_extra_blocks_and_unknown_flags),
	};

	return cmocka_run_group_tests_name("vdi", tests, NULL, NULL);
}
