/* test_imgtool_vhd.c - the VHD writer and reader: layouts byte for byte, round trips,
 * options, identities, every refusal of the reader and every fault check finds.
 *
 * Offsets in the files are those of the spec ("Hard Disk Footer Format", "Dynamic Disk
 * Header Format"): a corrupted image is made by poking one field, and for fields under
 * a checksum, fixing the checksum so that only the field is wrong.
 */
#include "bytes.h"
#include "ident.h"

#include "imgtool_harness.h"

#define MIB (1u << 20)
#define FOOTER 512u
#define CHECKSUM_AT 64u
#define DYN_CHECKSUM_AT 36u

/* --- helpers -------------------------------------------------------------------------- */

static uint32_t sum_of(const unsigned char *p, size_t len, size_t at)
{
	uint32_t s = 0;

	for (size_t i = 0; i < len; i++)
		if (i < at || i >= at + 4)
			s += p[i];
	return ~s;
}

/* Poke a 32-bit big-endian field of the footer at foot (or of the dynamic header at
 * 512 if header) and fix that structure's checksum. */
static void poke_be32(const char *path, uint64_t base, size_t len, size_t sum_at,
		      size_t field, uint32_t v)
{
	unsigned char buf[1024];

	th_read_at(path, base, buf, len);
	put_be32(buf + field, v);
	put_be32(buf + sum_at, sum_of(buf, len, sum_at));
	th_poke(path, base, buf, len);
}

static void poke_footer32(const char *path, uint64_t foot, size_t field, uint32_t v)
{
	poke_be32(path, foot, FOOTER, CHECKSUM_AT, field, v);
}

static void poke_footer64(const char *path, uint64_t foot, size_t field, uint64_t v)
{
	unsigned char buf[FOOTER];

	th_read_at(path, foot, buf, FOOTER);
	put_be64(buf + field, v);
	put_be32(buf + CHECKSUM_AT, sum_of(buf, FOOTER, CHECKSUM_AT));
	th_poke(path, foot, buf, FOOTER);
}

/* A dynamic image's footer is at 0 and at the end: poke both the same way. */
static void poke_both_footers32(const char *path, size_t field, uint32_t v)
{
	poke_footer32(path, 0, field, v);
	poke_footer32(path, th_size(path) - FOOTER, field, v);
}

static void poke_header32(const char *path, size_t field, uint32_t v)
{
	poke_be32(path, 512, 1024, DYN_CHECKSUM_AT, field, v);
}

/* Writing src as VHD fails with want and leaves no bad.vhd behind. */
static void assert_write_error(const char *options, const char *src, const char *want)
{
	assert_string_equal(th_write_error(&fmt_vhd, options, src, th_path("bad.vhd")), want);
	assert_int_equal(access(th_path("bad.vhd"), F_OK), -1);
}

/* "P is not a usable VHD image: WHY." for the image at path. */
static void assert_refused(const char *path, const char *why)
{
	char want[700];

	snprintf(want, sizeof want, "%s is not a usable VHD image: %s.", path, why);
	assert_string_equal(th_open_error(path), want);
}

static void assert_one_fault(const char *path, const char *fault_text)
{
	char want[700];

	snprintf(want, sizeof want, "%s: %s", path, fault_text);
	assert_string_equal(th_faults(path), want);
}

/* --- sizes and layouts of the boot disk ---------------------------------------------- */

static void test_fixed_vhd_of_boot_disk_is_1049088_bytes(void **state)
{
	const char *src = th_boot_disk("boot.img"), *out = th_path("boot.vhd");
	struct stat st;

	(void)state;
	th_round_trip(&fmt_vhd, "", src, out);
	assert_int_equal(th_size(out), 1049088);
	/* The zeros of the disk are holes, not written bytes. */
	assert_int_equal(stat(out, &st), 0);
	assert_true(st.st_blocks * 512 < 256 * 1024);
}

static void test_dynamic_vhd_of_boot_disk_is_2100224_bytes_with_2m_blocks(void **state)
{
	const char *src = th_boot_disk("boot.img"), *out = th_path("boot.vhd");

	(void)state;
	th_round_trip(&fmt_vhd, "subformat=dynamic", src, out);
	assert_int_equal(th_size(out), 2100224);
}

static void test_dynamic_vhd_of_boot_disk_is_527360_bytes_with_512k_blocks(void **state)
{
	const char *src = th_boot_disk("boot.img"), *out = th_path("boot.vhd");

	(void)state;
	th_round_trip(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	assert_int_equal(th_size(out), 527360);
}

static void test_fixed_footer_fields_follow_the_spec(void **state)
{
	const char *out = th_path("boot.vhd");
	unsigned char f[FOOTER];
	static const unsigned char zeros[427];

	(void)state;
	th_write_ok(&fmt_vhd, "", th_boot_disk("boot.img"), out);
	th_read_at(out, MIB, f, sizeof f);
	assert_memory_equal(f, "conectix", 8);
	assert_int_equal(get_be32(f + 8), 2);			/* features: reserved bit */
	assert_int_equal(get_be32(f + 12), 0x00010000);		/* version 1.0 */
	assert_true(get_be64(f + 16) == UINT64_MAX);		/* no dynamic header */
	assert_int_equal(get_be32(f + 24), 0);			/* no SOURCE_DATE_EPOCH */
	assert_memory_equal(f + 28, "win ", 4);
	assert_int_equal(get_be32(f + 32), 0x000A0000);
	assert_memory_equal(f + 36, "Wi2k", 4);
	assert_int_equal(get_be64(f + 40), MIB);		/* original size */
	assert_int_equal(get_be64(f + 48), MIB);		/* current size */
	assert_int_equal(get_be16(f + 56), 30);			/* the spec's CHS: 30/4/17 */
	assert_int_equal(f[58], 4);
	assert_int_equal(f[59], 17);
	assert_int_equal(get_be32(f + 60), 2);			/* fixed */
	assert_int_equal(get_be32(f + 64), sum_of(f, FOOTER, CHECKSUM_AT));
	assert_int_equal(f[84], 0);				/* no saved state */
	assert_memory_equal(f + 85, zeros, sizeof zeros);
}

static void test_dynamic_layout_follows_the_spec(void **state)
{
	const char *out = th_path("boot.vhd");
	unsigned char copy[FOOTER], end[FOOTER], h[1024], bat[512], bitmap[512];
	static const unsigned char zeros[1024];

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", th_boot_disk("boot.img"), out);
	th_read_at(out, 0, copy, sizeof copy);
	th_read_at(out, th_size(out) - FOOTER, end, sizeof end);
	assert_memory_equal(copy, end, FOOTER);
	assert_int_equal(get_be64(end + 16), 512);		/* the dynamic header */
	assert_int_equal(get_be32(end + 60), 3);		/* dynamic */
	assert_int_equal(get_be32(end + 64), sum_of(end, FOOTER, CHECKSUM_AT));

	th_read_at(out, 512, h, sizeof h);
	assert_memory_equal(h, "cxsparse", 8);
	assert_true(get_be64(h + 8) == UINT64_MAX);		/* all 64 bits, not 32 */
	assert_int_equal(get_be64(h + 16), 1536);		/* the BAT */
	assert_int_equal(get_be32(h + 24), 0x00010000);
	assert_int_equal(get_be32(h + 28), 2);			/* 1 MiB in 512 KiB blocks */
	assert_int_equal(get_be32(h + 32), 512 * 1024);
	assert_int_equal(get_be32(h + 36), sum_of(h, sizeof h, DYN_CHECKSUM_AT));
	assert_memory_equal(h + 40, zeros, sizeof h - 40);	/* no parent */

	th_read_at(out, 1536, bat, sizeof bat);
	assert_int_equal(get_be32(bat), 2048 / 512);		/* block 0 after the BAT */
	for (size_t i = 4; i < sizeof bat; i++)			/* block 1 free, padding */
		assert_int_equal(bat[i], 0xFF);
	th_read_at(out, 2048, bitmap, sizeof bitmap);		/* every bit set, padding too */
	for (size_t i = 0; i < sizeof bitmap; i++)
		assert_int_equal(bitmap[i], 0xFF);
}

static void test_all_zero_disk_has_no_blocks(void **state)
{
	const char *src = th_raw("zero.img", MIB, UINT64_MAX), *out = th_path("zero.vhd");
	struct disk *d;
	uint64_t stored;
	struct msg m;

	(void)state;
	th_round_trip(&fmt_vhd, "subformat=dynamic", src, out);
	assert_int_equal(th_size(out), 512 + 1024 + 512 + 512);
	d = th_open(out);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_int_equal(stored, 0);
	assert_string_equal(th_info(d, "blocks allocated"), "0");
	disk_close(d);
	th_round_trip(&fmt_vhd, "", src, out);
	assert_int_equal(th_size(out), MIB + FOOTER);
}

/* --- round trips ------------------------------------------------------------------------ */

static void test_odd_sized_disk_round_trips_in_every_layout(void **state)
{
	unsigned char *a = th_pattern(4096, 1), *b = th_pattern(512, 2), *c = th_pattern(700, 3);
	const uint64_t size = 3 * MIB + 512;
	const char *src = th_raw("odd.img", size, (uint64_t)0, a, (size_t)4096,
				 (uint64_t)(MIB + 1000), c, (size_t)700,
				 size - 512, b, (size_t)512, UINT64_MAX);
	const char *out = th_path("odd.vhd");

	(void)state;
	th_round_trip(&fmt_vhd, "", src, out);
	assert_int_equal(th_size(out), size + FOOTER);
	th_round_trip(&fmt_vhd, "subformat=dynamic", src, out);
	/* Two 2 MiB blocks, both holding data. */
	assert_int_equal(th_size(out), 2048 + 2 * (512 + 2 * MIB) + FOOTER);
	th_round_trip(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	/* Blocks 0, 2 and 6 of seven hold data. */
	assert_int_equal(th_size(out), 2048 + 3 * (512 + 512 * 1024) + FOOTER);
	free(a);
	free(b);
	free(c);
}

static void test_2gib_sparse_disk_round_trips(void **state)
{
	unsigned char *a = th_pattern(MIB, 4), *b = th_pattern(65536, 5), *c = th_pattern(512, 6);
	const uint64_t size = 2048ull * MIB;
	const char *src = th_raw("big.img", size, (uint64_t)(7 * MIB), a, (size_t)MIB,
				 (uint64_t)(1000 * MIB + 4096), b, (size_t)65536,
				 size - 512, c, (size_t)512, UINT64_MAX);
	const char *out = th_path("big.vhd");
	struct disk *d;
	uint64_t stored;
	struct msg m;

	(void)state;
	th_round_trip(&fmt_vhd, "subformat=dynamic", src, out);
	/* Blocks 3, 500 and 1023 of 1024 hold data. */
	assert_int_equal(th_size(out), 1536 + 4096 + 3 * (512 + 2 * MIB) + FOOTER);
	d = th_open(out);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_int_equal(stored, 3 * 2 * MIB);
	assert_string_equal(th_info(d, "blocks"), "1024");
	assert_string_equal(th_info(d, "blocks allocated"), "3");
	disk_close(d);
	free(a);
	free(b);
	free(c);
}

static void test_fixed_2gib_sparse_disk_stays_sparse(void **state)
{
	unsigned char *a = th_pattern(MIB, 8);
	const uint64_t size = 2048ull * MIB;
	const char *src = th_raw("big.img", size, (uint64_t)(700 * MIB), a, (size_t)MIB,
				 UINT64_MAX);
	const char *out = th_path("big.vhd");
	struct disk *d;
	struct stat st;
	uint64_t stored;
	struct msg m;

	(void)state;
	th_write_ok(&fmt_vhd, "", src, out);
	assert_int_equal(th_size(out), size + FOOTER);
	assert_int_equal(stat(out, &st), 0);
	assert_true(st.st_blocks * 512 < 4 * MIB);
	d = th_open(out);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_true(stored >= MIB && stored < 4 * MIB);
	disk_close(d);
	free(a);
}

static void test_vhd_converts_to_vhd(void **state)
{
	const char *dyn = th_path("dyn.vhd"), *fixed = th_path("fixed.vhd");
	const char *src = th_boot_disk("boot.img");
	struct disk *a, *b;

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, dyn);
	th_round_trip(&fmt_vhd, "", dyn, fixed);
	a = th_open(src);
	b = th_open(fixed);
	th_assert_same(a, b);
	disk_close(a);
	disk_close(b);
}

/* --- identity -------------------------------------------------------------------------- */

static void test_same_input_gives_the_same_bytes(void **state)
{
	const char *src = th_boot_disk("boot.img");
	const char *const layouts[] = { "", "subformat=dynamic",
					"subformat=dynamic,block_size=512K" };

	(void)state;
	for (size_t k = 0; k < sizeof layouts / sizeof layouts[0]; k++) {
		size_t la, lb;
		unsigned char *a, *b;

		th_write_ok(&fmt_vhd, layouts[k], src, th_path("a.vhd"));
		th_write_ok(&fmt_vhd, layouts[k], src, th_path("b.vhd"));
		a = th_slurp(th_path("a.vhd"), &la);
		b = th_slurp(th_path("b.vhd"), &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		free(a);
		free(b);
	}
}

static void test_timestamp_comes_from_source_date_epoch(void **state)
{
	const char *src = th_boot_disk("boot.img"), *out = th_path("t.vhd");
	unsigned char f[FOOTER];
	struct disk *d;

	(void)state;
	setenv("SOURCE_DATE_EPOCH", "946688400", 1);		/* 2000-01-01 01:00:00 */
	th_write_ok(&fmt_vhd, "", src, out);
	th_read_at(out, MIB, f, sizeof f);
	assert_int_equal(get_be32(f + 24), 3600);
	d = th_open(out);
	assert_string_equal(th_info(d, "timestamp"), "2000-01-01 01:00:00 UTC");
	disk_close(d);

	setenv("SOURCE_DATE_EPOCH", "1000", 1);			/* before the VHD epoch */
	th_write_ok(&fmt_vhd, "", src, out);
	th_read_at(out, MIB, f, sizeof f);
	assert_int_equal(get_be32(f + 24), 0);

	setenv("SOURCE_DATE_EPOCH", "soon", 1);
	assert_write_error("", src, "SOURCE_DATE_EPOCH=soon is not a count of seconds since 1970.");
	unsetenv("SOURCE_DATE_EPOCH");
}

static void test_uuid_differs_with_content(void **state)
{
	unsigned char *x = th_pattern(512, 9);
	const char *a = th_boot_disk("a.img"), *b = th_raw("b.img", MIB, (uint64_t)0, x,
							   (size_t)512, UINT64_MAX);
	unsigned char ua[16], ub[16];

	(void)state;
	th_write_ok(&fmt_vhd, "", a, th_path("a.vhd"));
	th_write_ok(&fmt_vhd, "", b, th_path("b.vhd"));
	th_read_at(th_path("a.vhd"), MIB + 68, ua, 16);
	th_read_at(th_path("b.vhd"), MIB + 68, ub, 16);
	assert_memory_not_equal(ua, ub, 16);
	free(x);
}

static void test_uuid_option_is_stored_in_guid_order(void **state)
{
	const char *out = th_path("u.vhd");
	static const unsigned char guid[16] = { 0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
						0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	unsigned char f[16];
	struct disk *d;

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic,uuid=00112233-4455-6677-8899-AABBCCDDEEFF",
		    th_boot_disk("boot.img"), out);
	th_read_at(out, 68, f, 16);
	assert_memory_equal(f, guid, 16);
	d = th_open(out);
	assert_string_equal(th_info(d, "uuid"), "00112233-4455-6677-8899-aabbccddeeff");
	disk_close(d);
}

static void test_bad_uuid_is_refused(void **state)
{
	const char *src = th_boot_disk("boot.img");

	(void)state;
	assert_write_error("uuid=1234", src,
			   "-o uuid=1234: a UUID is 32 hex digits as "
			   "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.");
	assert_write_error("uuid=00000000-0000-0000-0000-000000000000", src,
			   "-o uuid=00000000-0000-0000-0000-000000000000: the null UUID marks no "
			   "disk at all; give another.");
}

/* --- options --------------------------------------------------------------------------- */

static void test_bad_option_values_are_refused(void **state)
{
	char src[256];

	snprintf(src, sizeof src, "%s", th_boot_disk("boot.img"));	/* th_path's ring turns */

	(void)state;
	assert_write_error("subformat=sparse", src,
			   "-o subformat=sparse: subformat is fixed or dynamic.");
	assert_write_error("subformat=dynamic,block_size=3", src,
			   "-o block_size=3: the block size must be a power of two from 524288 "
			   "to 2097152 bytes (K, M and G may follow the number).");
	assert_write_error("subformat=dynamic,block_size=4M", src,
			   "-o block_size=4M: the block size must be a power of two from 524288 "
			   "to 2097152 bytes (K, M and G may follow the number).");
	assert_write_error("subformat=dynamic,block_size=1M", src,
			   "-o block_size=1M: the block size must be 512K or 2M, the two Hyper-V "
			   "takes.");
	assert_write_error("block_size=512K", src,
			   "-o block_size=512K: only a dynamic VHD has blocks; add "
			   "-o subformat=dynamic.");
	assert_write_error("cluster_size=512", src,
			   "vhd has no option cluster_size; it takes subformat, block_size and "
			   "uuid.");
}

static void test_block_size_takes_any_spelling(void **state)
{
	const char *src = th_boot_disk("boot.img"), *out = th_path("b.vhd");

	(void)state;
	th_round_trip(&fmt_vhd, "subformat=dynamic,block_size=524288", src, out);
	assert_int_equal(th_size(out), 527360);
	th_round_trip(&fmt_vhd, "subformat=dynamic,block_size=2048K", src, out);
	assert_int_equal(th_size(out), 2100224);
}

static void test_disk_over_2040_gib_is_refused(void **state)
{
	const uint64_t size = 2041ull << 30;
	const char *src = th_raw("huge.img", size, UINT64_MAX);
	char want[300];

	(void)state;
	snprintf(want, sizeof want, "%s is %llu bytes; a VHD holds at most 2040 GiB "
		 "(2190433320960 bytes), the most Hyper-V and QEMU take.", src,
		 (unsigned long long)size);
	assert_write_error("", src, want);
	assert_write_error("subformat=dynamic", src, want);
}

/* --- probing --------------------------------------------------------------------------- */

static void test_probe_finds_vhds_and_nothing_else(void **state)
{
	static const unsigned char qcow2[8] = { 'Q', 'F', 'I', 0xFB, 0, 0, 0, 3 };
	static const unsigned char vdi[72] = { [64] = 0x7F, 0x10, 0xDA, 0xBE };
	static const char vmdk[] = "KDMV\1\0\0\0";
	static const char desc[] = "# Disk DescriptorFile\nversion=1\n";
	const char *raw = th_raw("raw.img", MIB, (uint64_t)4096, "conectix", (size_t)8,
				 UINT64_MAX);
	const char *fixed = th_path("f.vhd"), *dyn = th_path("d.vhd");
	struct disk *d;

	(void)state;
	d = th_open(raw);
	assert_ptr_equal(d->fmt, &fmt_raw);
	assert_false(fmt_vhd.probe(&d->file, qcow2, sizeof qcow2));
	assert_false(fmt_vhd.probe(&d->file, vdi, sizeof vdi));
	assert_false(fmt_vhd.probe(&d->file, (const unsigned char *)vmdk, 8));
	assert_false(fmt_vhd.probe(&d->file, (const unsigned char *)desc, sizeof desc - 1));
	disk_close(d);

	th_write_ok(&fmt_vhd, "", raw, fixed);
	th_write_ok(&fmt_vhd, "subformat=dynamic", raw, dyn);
	d = th_open(fixed);
	assert_ptr_equal(d->fmt, &fmt_vhd);
	disk_close(d);
	d = th_open(dyn);
	assert_ptr_equal(d->fmt, &fmt_vhd);
	disk_close(d);
}

static void test_vhd_is_found_by_its_name_and_qemus(void **state)
{
	struct msg m;

	(void)state;
	assert_ptr_equal(format_by_name("vhd", &m), &fmt_vhd);
	assert_ptr_equal(format_by_name("vpc", &m), &fmt_vhd);
	assert_ptr_equal(format_by_path("x/boot.vhd", &m), &fmt_vhd);
}

static void test_511_byte_footer_of_old_virtual_pc_is_read(void **state)
{
	const char *src = th_boot_disk("boot.img"), *out = th_path("old.vhd");
	struct disk *a, *b;

	(void)state;
	th_write_ok(&fmt_vhd, "", src, out);
	th_truncate(out, MIB + 511);		/* the last reserved byte is not there */
	a = th_open(src);
	b = th_open(out);
	assert_ptr_equal(b->fmt, &fmt_vhd);
	th_assert_same(a, b);
	th_assert_clean(b);
	assert_string_equal(th_info(b, "footer"), "511 bytes (Virtual PC before 2004)");
	disk_close(a);
	disk_close(b);
}

/* --- the reader refuses ---------------------------------------------------------------- */

static void test_bad_footer_checksum_is_refused(void **state)
{
	const char *fixed = th_path("f.vhd"), *dyn = th_path("d.vhd");
	const char *src = th_boot_disk("boot.img");
	unsigned char f[FOOTER];
	char want[200];

	(void)state;
	th_write_ok(&fmt_vhd, "", src, fixed);
	th_read_at(fixed, MIB, f, sizeof f);
	th_poke(fixed, MIB + 48 + 6, "\x01", 1);	/* the size, checksum unchanged */
	snprintf(want, sizeof want, "its footer (byte 1048576) has the checksum 0x%08x, but its "
		 "bytes give 0x%08x", get_be32(f + 64), get_be32(f + 64) - 1);
	assert_refused(fixed, want);

	th_write_ok(&fmt_vhd, "subformat=dynamic", src, dyn);
	th_read_at(dyn, 0, f, sizeof f);
	th_poke(dyn, 84, "\x01", 1);			/* saved state */
	snprintf(want, sizeof want, "its footer (byte 0) has the checksum 0x%08x, but its "
		 "bytes give 0x%08x", get_be32(f + 64), get_be32(f + 64) - 1);
	assert_refused(dyn, want);
}

static void test_file_without_footer_is_refused(void **state)
{
	const char *raw = th_raw("raw.img", MIB, UINT64_MAX);
	const char *tiny = th_raw("tiny.img", 100, UINT64_MAX);
	struct msg m = { "" };
	struct infile f;
	struct disk *d;
	char want[300];

	(void)state;
	assert_int_equal(infile_open(&f, raw, &m), 0);
	assert_int_equal(fmt_vhd.open(&f, &d, &m), -1);
	snprintf(want, sizeof want, "%s is not a usable VHD image: neither its first sector nor "
		 "its last holds a footer starting with \"conectix\".", raw);
	assert_string_equal(m.text, want);
	assert_int_equal(infile_open(&f, tiny, &m), 0);
	assert_int_equal(fmt_vhd.open(&f, &d, &m), -1);
	snprintf(want, sizeof want, "%s is not a usable VHD image: neither its first sector nor "
		 "its last holds a footer starting with \"conectix\".", tiny);
	assert_string_equal(m.text, want);
}

static void test_truncated_dynamic_vhd_is_refused(void **state)
{
	const char *out = th_path("d.vhd");
	char want[200];

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic", th_boot_disk("boot.img"), out);
	th_truncate(out, 1 * MIB);			/* inside block 0 */
	snprintf(want, sizeof want, "block 0 (byte 2048) runs past the end of the file "
		 "(%u); it may be truncated", MIB);
	assert_refused(out, want);
}

static void test_bad_dynamic_header_is_refused(void **state)
{
	const char *out = th_path("d.vhd"), *src = th_boot_disk("boot.img");

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	th_poke(out, 512, "cxSPARSE", 8);
	assert_refused(out, "its dynamic header (byte 512) does not start with \"cxsparse\"");

	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	poke_header32(out, 32, 3000);
	assert_refused(out, "its block size 3000 is not a power of two of at least 512 bytes");
	poke_header32(out, 32, 256);
	assert_refused(out, "its block size 256 is not a power of two of at least 512 bytes");

	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	poke_header32(out, 28, 1);
	assert_refused(out, "its block allocation table has 1 entries, but its virtual size of "
		       "1048576 bytes needs 2 blocks of 524288 bytes");

	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	poke_header32(out, 28, 0x100000);
	assert_refused(out, "its block allocation table (byte 1536, 1048576 entries) runs past "
		       "the end of the file (527360)");

	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	poke_both_footers32(out, 16 + 4, 0x7FFFF000);	/* the header offset's low word */
	assert_refused(out, "its dynamic header (byte 2147479552) runs past the end of the file "
		       "(527360)");
}

static void test_other_disk_types_are_refused(void **state)
{
	const char *out = th_path("d.vhd"), *src = th_boot_disk("boot.img");

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	poke_both_footers32(out, 60, 4);
	assert_refused(out, "it is a differencing disk, which needs its parent; imgtool reads "
		       "fixed and dynamic disks");
	poke_both_footers32(out, 60, 5);
	assert_refused(out, "its disk type is 5, not fixed (2), dynamic (3) or differencing (4)");
	poke_both_footers32(out, 60, 2);
	assert_refused(out, "its first sector is the footer of a fixed disk, which belongs at "
		       "the end of the file");
}

static void test_impossible_sizes_are_refused(void **state)
{
	const char *out = th_path("f.vhd"), *src = th_boot_disk("boot.img");

	(void)state;
	th_write_ok(&fmt_vhd, "", src, out);
	poke_footer64(out, MIB, 48, MIB + 100);
	assert_refused(out, "its virtual size of 1048676 bytes is not a whole number of "
		       "512-byte sectors");
	poke_footer64(out, MIB, 48, MIB + 512);
	assert_refused(out, "its footer gives a virtual size of 1049088 bytes, but only 1048576 "
		       "bytes precede the footer");
	poke_footer64(out, MIB, 48, UINT64_MAX - 511);
	assert_refused(out, "its footer gives a virtual size of 18446744073709551104 bytes, but "
		       "only 1048576 bytes precede the footer");
}

/* --- check ----------------------------------------------------------------------------- */

static void test_footer_copy_that_differs_is_a_fault(void **state)
{
	const char *out = th_path("d.vhd");

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic", th_boot_disk("boot.img"), out);
	poke_footer32(out, 0, 24, 12345);		/* the copy's timestamp */
	assert_one_fault(out, "the footer at its end differs from the copy at byte 0.");
}

static void test_missing_footers_are_faults(void **state)
{
	const char *out = th_path("d.vhd"), *src = th_raw("zero.img", MIB, UINT64_MAX);
	struct disk *d;

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic", src, out);
	th_truncate(out, th_size(out) - FOOTER);
	assert_one_fault(out, "its last 512 bytes are not a VHD footer; the file may be "
			 "truncated.");

	th_write_ok(&fmt_vhd, "subformat=dynamic", src, out);
	th_poke(out, 0, "CONECTIX", 8);		/* no copy: the end is read */
	d = th_open(out);
	assert_ptr_equal(d->fmt, &fmt_vhd);
	assert_string_equal(th_info(d, "subformat"), "dynamic");
	disk_close(d);
	assert_one_fault(out, "its footer copy at byte 0 is missing (it does not start with "
			 "\"conectix\").");
}

static void test_dynamic_header_faults(void **state)
{
	const char *out = th_path("d.vhd");
	unsigned char h[1024];
	char want[200];

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic", th_boot_disk("boot.img"), out);
	th_read_at(out, 512, h, sizeof h);
	th_poke(out, 512 + 24, "\0\2", 2);		/* version 2.0, checksum unchanged */
	snprintf(want, sizeof want, "%s: its dynamic header checksum is 0x%08x, but its bytes "
		 "give 0x%08x.\n%s: its dynamic header version is 0x00020000, not 0x00010000.",
		 out, get_be32(h + 36), get_be32(h + 36) - 1, out);
	assert_string_equal(th_faults(out), want);
}

static void test_overlapping_blocks_are_faults(void **state)
{
	unsigned char *a = th_pattern(512, 11), *b = th_pattern(512, 12);
	const char *src = th_raw("two.img", 2 * MIB, (uint64_t)0, a, (size_t)512,
				 (uint64_t)(600 * 1024), b, (size_t)512, UINT64_MAX);
	const char *out = th_path("d.vhd");

	(void)state;
	th_round_trip(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	th_poke_be32(out, 1536 + 4, 2048 / 512);	/* block 1 where block 0 is */
	assert_one_fault(out, "block 1 (bytes 2048 to 526848) overlaps block 0 (bytes 2048 to "
			 "526848).");
	th_poke_be32(out, 1536 + 4, 2560 / 512);	/* into block 0 */
	assert_one_fault(out, "block 1 (bytes 2560 to 527360) overlaps block 0 (bytes 2048 to "
			 "526848).");
	free(a);
	free(b);
}

static void test_block_over_metadata_is_a_fault(void **state)
{
	unsigned char *a = th_pattern(512, 11), *b = th_pattern(512, 12);
	const char *src = th_raw("two.img", 2 * MIB, (uint64_t)0, a, (size_t)512,
				 (uint64_t)(600 * 1024), b, (size_t)512, UINT64_MAX);
	const char *out = th_path("d.vhd");
	char want[600];

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	th_poke_be32(out, 1536 + 4, 1536 / 512);	/* block 1 over the BAT and block 0 */
	snprintf(want, sizeof want, "%s: block 1 (bytes 1536 to 526336) overlaps the block "
		 "allocation table (bytes 1536 to 2048).\n%s: block 0 (bytes 2048 to 526848) "
		 "overlaps block 1 (bytes 1536 to 526336).", out, out);
	assert_string_equal(th_faults(out), want);
	free(a);
	free(b);
}

static void test_data_behind_a_clear_bitmap_bit_reads_as_zeros_and_is_a_fault(void **state)
{
	const char *src = th_boot_disk("boot.img"), *out = th_path("d.vhd");
	unsigned char sector[512];
	static const unsigned char zeros[512];
	struct disk *d;
	uint64_t run;
	bool stored;
	struct msg m;

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", src, out);
	th_poke(out, 2048, "\x7F", 1);			/* sector 0: "never written" */
	d = th_open(out);
	assert_int_equal(disk_read(d, sector, sizeof sector, 0, &m), 0);
	assert_memory_equal(sector, zeros, sizeof zeros);
	assert_int_equal(d->status(d, 0, &run, &stored, &m), 0);
	assert_false(stored);
	assert_int_equal(run, 512);
	assert_int_equal(d->status(d, 512, &run, &stored, &m), 0);
	assert_true(stored);
	assert_int_equal(run, 512 * 1024 - 512);
	disk_close(d);
	assert_one_fault(out, "block 0 holds data in sectors its bitmap marks unused: QEMU reads "
			 "that data, Hyper-V and VirtualBox read zeros.");
}

static void test_footer_field_faults(void **state)
{
	const char *out = th_path("f.vhd");
	char want[600];

	(void)state;
	th_write_ok(&fmt_vhd, "", th_boot_disk("boot.img"), out);
	poke_footer32(out, MIB, 8, 0);			/* features */
	poke_footer32(out, MIB, 56, 0x03E8103F);	/* 1000/16/63 */
	poke_footer64(out, MIB, 16, 512);		/* a data offset */
	snprintf(want, sizeof want,
		 "%s: its footer's features are 0x00000000; the spec requires the reserved bit "
		 "0x00000002.\n"
		 "%s: its geometry 1000/16/63 holds more than its 1048576 bytes.\n"
		 "%s: a fixed disk's footer data offset must be all ones, but it is 0x200.",
		 out, out, out);
	assert_string_equal(th_faults(out), want);
}

static void test_qemu_force_size_geometry_is_not_a_fault(void **state)
{
	const char *out = th_path("q.vhd");
	struct disk *d;

	(void)state;
	th_write_ok(&fmt_vhd, "", th_boot_disk("boot.img"), out);
	poke_footer32(out, MIB, 28, 0x716D6532);	/* "qem2", as qemu-img -o force_size */
	poke_footer32(out, MIB, 56, 0xFFFF10FF);	/* 65535/16/255 */
	th_round_trip(&fmt_vhd, "", out, th_path("again.vhd"));
	d = th_open(out);
	th_assert_clean(d);
	assert_null(th_info(d, "qemu virtual size"));
	disk_close(d);
}

/* --- info ------------------------------------------------------------------------------ */

static void test_info_tells_the_vhd_facts(void **state)
{
	const char *out = th_path("d.vhd");
	struct disk *d;

	(void)state;
	th_write_ok(&fmt_vhd, "subformat=dynamic,block_size=512K", th_boot_disk("boot.img"), out);
	d = th_open(out);
	assert_string_equal(th_info(d, "subformat"), "dynamic");
	assert_string_equal(th_info(d, "creator app"), "win");
	assert_string_equal(th_info(d, "creator version"), "10.0");
	assert_string_equal(th_info(d, "creator os"), "Wi2k");
	assert_string_equal(th_info(d, "timestamp"), "2000-01-01 00:00:00 UTC");
	assert_string_equal(th_info(d, "cylinders"), "30");
	assert_string_equal(th_info(d, "heads"), "4");
	assert_string_equal(th_info(d, "sectors"), "17");
	assert_string_equal(th_info(d, "block size"), "524288");
	assert_string_equal(th_info(d, "blocks"), "2");
	assert_string_equal(th_info(d, "blocks allocated"), "1");
	assert_string_equal(th_info(d, "azure upload"), "no: Azure takes fixed VHDs only");
	assert_null(th_info(d, "qemu virtual size"));
	assert_int_equal(strlen(th_info(d, "uuid")), 36);
	disk_close(d);
}

static void test_info_says_what_azure_and_qemu_make_of_it(void **state)
{
	const char *out = th_path("f.vhd");
	const char *whole = th_raw("20m.img", 20 * MIB, UINT64_MAX);
	const char *odd = th_raw("odd.img", 20 * MIB + 512, UINT64_MAX);
	struct disk *d;

	(void)state;
	th_write_ok(&fmt_vhd, "", th_boot_disk("boot.img"), out);
	d = th_open(out);
	assert_string_equal(th_info(d, "azure upload"), "no: Azure takes disks of 20 MiB or more");
	disk_close(d);
	poke_footer32(out, MIB, 28, 0x76706320);	/* "vpc ": QEMU goes by CHS */
	d = th_open(out);
	assert_string_equal(th_info(d, "creator app"), "vpc");
	assert_string_equal(th_info(d, "qemu virtual size"), "1044480");
	disk_close(d);

	th_write_ok(&fmt_vhd, "", whole, out);
	d = th_open(out);
	assert_string_equal(th_info(d, "azure upload"), "yes");
	disk_close(d);
	th_write_ok(&fmt_vhd, "", odd, out);
	d = th_open(out);
	assert_string_equal(th_info(d, "azure upload"),
			    "no: the size is not a whole number of MiB");
	disk_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_fixed_vhd_of_boot_disk_is_1049088_bytes),
		TH_TEST(test_dynamic_vhd_of_boot_disk_is_2100224_bytes_with_2m_blocks),
		TH_TEST(test_dynamic_vhd_of_boot_disk_is_527360_bytes_with_512k_blocks),
		TH_TEST(test_fixed_footer_fields_follow_the_spec),
		TH_TEST(test_dynamic_layout_follows_the_spec),
		TH_TEST(test_all_zero_disk_has_no_blocks),
		TH_TEST(test_odd_sized_disk_round_trips_in_every_layout),
		TH_TEST(test_2gib_sparse_disk_round_trips),
		TH_TEST(test_fixed_2gib_sparse_disk_stays_sparse),
		TH_TEST(test_vhd_converts_to_vhd),
		TH_TEST(test_same_input_gives_the_same_bytes),
		TH_TEST(test_timestamp_comes_from_source_date_epoch),
		TH_TEST(test_uuid_differs_with_content),
		TH_TEST(test_uuid_option_is_stored_in_guid_order),
		TH_TEST(test_bad_uuid_is_refused),
		TH_TEST(test_bad_option_values_are_refused),
		TH_TEST(test_block_size_takes_any_spelling),
		TH_TEST(test_disk_over_2040_gib_is_refused),
		TH_TEST(test_probe_finds_vhds_and_nothing_else),
		TH_TEST(test_vhd_is_found_by_its_name_and_qemus),
		TH_TEST(test_511_byte_footer_of_old_virtual_pc_is_read),
		TH_TEST(test_bad_footer_checksum_is_refused),
		TH_TEST(test_file_without_footer_is_refused),
		TH_TEST(test_truncated_dynamic_vhd_is_refused),
		TH_TEST(test_bad_dynamic_header_is_refused),
		TH_TEST(test_other_disk_types_are_refused),
		TH_TEST(test_impossible_sizes_are_refused),
		TH_TEST(test_footer_copy_that_differs_is_a_fault),
		TH_TEST(test_missing_footers_are_faults),
		TH_TEST(test_dynamic_header_faults),
		TH_TEST(test_overlapping_blocks_are_faults),
		TH_TEST(test_block_over_metadata_is_a_fault),
		TH_TEST(test_data_behind_a_clear_bitmap_bit_reads_as_zeros_and_is_a_fault),
		TH_TEST(test_footer_field_faults),
		TH_TEST(test_qemu_force_size_geometry_is_not_a_fault),
		TH_TEST(test_info_tells_the_vhd_facts),
		TH_TEST(test_info_says_what_azure_and_qemu_make_of_it),
	};

	return cmocka_run_group_tests_name("vhd", tests, NULL, NULL);
}
