/* test_imgtool_vhdx.c - the VHDX writer and reader: CRC-32C, the lean layout byte for
 * byte, round trips, options, and every refusal of the reader and fault of check.
 *
 * Offsets are the spec's ([MS-VHDX] "Header Section", "Region Table", "Metadata
 * Region", "BAT"). A damaged image is made by poking one field and, for a field under
 * a checksum, fixing the checksum, so that only the field is wrong.
 */
#include "bytes.h"
#include "crc32c.h"
#include "vhdx.h"

#include "imgtool_harness.h"

#define BAT_AT (3u * MIB)
#define META_AT (2u * MIB)

/* Read the structure of size bytes at off, let poke change it, fix its CRC-32C. */
static void poke_summed(const char *path, uint64_t off, size_t size, uint64_t field,
			uint64_t v, int width)
{
	unsigned char *b = malloc(size);

	assert_non_null(b);
	th_read_at(path, off, b, size);
	if (width == 8)
		put_le64(b + field, v);
	else
		put_le32(b + field, (uint32_t)v);
	put_le32(b + 4, vhdx_checksum(b, size));
	th_poke(path, off, b, size);
	free(b);
}

static void poke_header(const char *path, uint64_t at, uint64_t field, uint64_t v, int width)
{
	poke_summed(path, at, VHDX_HEADER_SIZE, field, v, width);
}

/* Poke a field of both region tables. */
static void poke_regions(const char *path, uint64_t field, uint64_t v, int width)
{
	poke_summed(path, VHDX_REGIONS1, VHDX_REGIONS_SIZE, field, v, width);
	poke_summed(path, VHDX_REGIONS2, VHDX_REGIONS_SIZE, field, v, width);
}

/* A 3 MiB disk with data in its first and third MiB, as a dynamic VHDX. */
static const char *sample(const char *name, const char *options)
{
	unsigned char *p = th_pattern(4096, 5);
	const char *src = th_raw("src.img", 3 * (uint64_t)MIB, (uint64_t)0, p, (size_t)4096,
				 (uint64_t)2 * MIB + 512, p, (size_t)4096, UINT64_MAX);

	free(p);
	return th_write_ok(&fmt_vhdx, options, src, th_path(name));
}

/* --- CRC-32C ------------------------------------------------------------------------- */

static void test_crc32c_gives_the_check_values_of_rfc_3720(void **state)
{
	unsigned char zeros[32] = { 0 }, ones[32];

	(void)state;
	memset(ones, 0xFF, sizeof ones);
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c(0, zeros, sizeof zeros), 0x8A9136AAu);
	assert_int_equal(crc32c(0, ones, sizeof ones), 0x62A8AB43u);
	/* in two pieces as in one */
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

/* --- the layout ----------------------------------------------------------------------- */

static void test_the_boot_disk_is_5_mib_header_section_log_metadata_bat_one_block(void **state)
{
	const char *src = th_boot_disk("boot.img");
	const char *opts[] = { "", "subformat=fixed" };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		const char *out = th_write_ok(&fmt_vhdx, opts[k], src, th_path("boot.vhdx"));
		unsigned char id[8], h[VHDX_HEADER_SIZE];
		uint64_t e = th_peek_le64(out, BAT_AT);

		assert_int_equal(th_size(out), 5 * (uint64_t)MIB);
		th_read_at(out, 0, id, 8);
		assert_memory_equal(id, "vhdxfile", 8);
		for (int i = 0; i < 2; i++) {
			th_read_at(out, i ? VHDX_HEADER2 : VHDX_HEADER1, h, sizeof h);
			assert_memory_equal(h, "head", 4);
			assert_int_equal(get_le32(h + 4), vhdx_checksum(h, sizeof h));
			assert_int_equal(get_le64(h + H_SEQUENCE), (uint64_t)i);
			assert_int_equal(get_le64(h + H_LOG_OFFSET), MIB);
			assert_int_equal(get_le32(h + H_LOG_LENGTH), MIB);
		}
		/* the one block: fully present at 4 MiB */
		assert_int_equal(BAT_STATE(e), PAYLOAD_FULLY_PRESENT);
		assert_int_equal(BAT_OFFSET(e), 4 * (uint64_t)MIB);
		th_round_trip(&fmt_vhdx, opts[k], src, th_path("boot.vhdx"));
	}
}

static void test_dynamic_stores_only_blocks_with_data_and_fixed_all_with_no_slack(void **state)
{
	const char *d = sample("d.vhdx", "");
	const char *f;
	struct disk *disk;

	(void)state;
	/* blocks 0 and 2 hold data; block 1 is not present; the file ends after block 2 */
	assert_int_equal(BAT_STATE(th_peek_le64(d, BAT_AT)), PAYLOAD_FULLY_PRESENT);
	assert_int_equal(BAT_STATE(th_peek_le64(d, BAT_AT + 8)), PAYLOAD_NOT_PRESENT);
	assert_int_equal(BAT_STATE(th_peek_le64(d, BAT_AT + 16)), PAYLOAD_FULLY_PRESENT);
	assert_int_equal(th_size(d), 6 * (uint64_t)MIB);
	disk = th_open(d);
	assert_string_equal(th_info(disk, "subformat"), "dynamic");
	assert_string_equal(th_info(disk, "blocks present"), "2");
	disk_close(disk);
	f = sample("f.vhdx", "subformat=fixed");
	for (int b = 0; b < 3; b++)
		assert_int_equal(th_peek_le64(f, BAT_AT + 8 * (uint64_t)b),
				 BAT_ENTRY(PAYLOAD_FULLY_PRESENT, (4 + b) * (uint64_t)MIB));
	assert_int_equal(th_size(f), 7 * (uint64_t)MIB);
	disk = th_open(f);
	assert_string_equal(th_info(disk, "subformat"), "fixed");
	th_assert_clean(disk);
	disk_close(disk);
}

static void test_block_sizes_from_1_to_256_mib_round_trip_and_others_are_refused(void **state)
{
	const char *src = th_boot_disk("boot.img");

	(void)state;
	th_round_trip(&fmt_vhdx, "block_size=1M", src, th_path("a.vhdx"));
	th_round_trip(&fmt_vhdx, "block_size=32M", src, th_path("b.vhdx"));
	th_round_trip(&fmt_vhdx, "subformat=fixed,block_size=256M", src, th_path("c.vhdx"));
	assert_int_equal(th_size(th_path("c.vhdx")), 260 * (uint64_t)MIB);
	assert_string_equal(th_write_refused(&fmt_vhdx, "block_size=512K", src, th_path("x.vhdx")),
			    "-o block_size=512K: the block size must be a power of two from 1048576 "
			    "to 268435456 bytes (K, M and G may follow the number).");
	assert_string_equal(th_write_refused(&fmt_vhdx, "block_size=3M", src, th_path("x.vhdx")),
			    "-o block_size=3M: the block size must be a power of two from 1048576 "
			    "to 268435456 bytes (K, M and G may follow the number).");
	assert_string_equal(th_write_refused(&fmt_vhdx, "subformat=sparse", src,
					     th_path("x.vhdx")),
			    "-o subformat=sparse: subformat is dynamic or fixed.");
}

static void test_the_same_disk_gives_the_same_bytes_and_fixed_and_dynamic_differ_in_ids(void **state)
{
	const char *src = th_boot_disk("boot.img");
	size_t la, lb;
	unsigned char *a, *b;
	struct disk *d, *f;
	char id[64];

	(void)state;
	a = th_slurp(th_write_ok(&fmt_vhdx, "", src, th_path("a.vhdx")), &la);
	b = th_slurp(th_write_ok(&fmt_vhdx, "", src, th_path("b.vhdx")), &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	d = th_open(th_path("a.vhdx"));
	f = th_open(th_write_ok(&fmt_vhdx, "subformat=fixed", src, th_path("f.vhdx")));
	snprintf(id, sizeof id, "%s", th_info(d, "page 83 id"));
	assert_string_not_equal(id, th_info(f, "page 83 id"));
	disk_close(d);
	disk_close(f);
}

/* --- the reader: one bad copy, and refusals ------------------------------------------- */

static void test_a_bad_header_or_region_table_passes_to_the_other_and_check_says_so(void **state)
{
	const char *p = sample("d.vhdx", "");
	unsigned char junk = 0x5A;
	struct disk *d, *src;

	(void)state;
	th_poke(p, VHDX_HEADER2 + 200, &junk, 1);	/* header 2, the current one */
	th_poke(p, VHDX_REGIONS1 + 100, &junk, 1);
	d = th_open(p);
	src = th_open(th_path("src.img"));
	th_assert_same(d, src);
	assert_string_equal(th_info(d, "sequence number"), "0");
	disk_close(d);
	disk_close(src);
	assert_string_equal(th_faults(p),
			    th_text("%s: region table 1 (at 192 KiB) has a bad signature or "
				    "CRC-32C; region table 2 is used.\n%s: header 2 (at 128 KiB) has "
				    "a bad signature or CRC-32C; header 1 is used.", p, p));
}

static void test_both_headers_or_both_region_tables_bad_is_a_refusal(void **state)
{
	const char *p = sample("d.vhdx", "");
	unsigned char junk = 0x5A;

	(void)state;
	th_poke(p, VHDX_HEADER1 + 200, &junk, 1);
	th_poke(p, VHDX_HEADER2 + 200, &junk, 1);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: neither of its headers (at "
				    "64 KiB and 128 KiB) has the signature \"head\" and a right "
				    "CRC-32C.", p));
	p = sample("d.vhdx", "");
	th_poke(p, VHDX_REGIONS1 + 100, &junk, 1);
	th_poke(p, VHDX_REGIONS2, "xegi", 4);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: neither of its region tables "
				    "(at 192 KiB and 256 KiB) has the signature \"regi\" and a right "
				    "CRC-32C.", p));
}

static void test_a_log_to_replay_and_a_parent_are_refused_with_the_reason(void **state)
{
	const char *p = sample("d.vhdx", "");

	(void)state;
	poke_header(p, VHDX_HEADER2, H_LOG_GUID, 0x1234, 4);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: its log holds writes that "
				    "were never applied (the header's LogGuid is set); open it in "
				    "Hyper-V, or repair it with qemu-img check -r all, first.", p));
	p = sample("d.vhdx", "");
	/* file parameters are the first item, at 64 KiB into the metadata region */
	th_poke_le32(p, META_AT + VHDX_META_TABLE_SIZE + 4, FP_HAS_PARENT);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: it is a differencing disk "
				    "(HasParent), which needs its parent; imgtool reads fixed and "
				    "dynamic disks.", p));
}

static void test_a_bat_entry_past_the_end_and_overlapping_regions_are_refused(void **state)
{
	const char *p = sample("d.vhdx", "");

	(void)state;
	th_poke_le64(p, BAT_AT + 16, BAT_ENTRY(PAYLOAD_FULLY_PRESENT, 64 * (uint64_t)MIB));
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: block 2's BAT entry points at "
				    "byte 67108864, past the end of the file (6291456 bytes).", p));
	p = sample("d.vhdx", "");
	th_poke_le64(p, BAT_AT + 16, BAT_ENTRY(PAYLOAD_FULLY_PRESENT, META_AT));
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: block 2 (byte 2097152) lies "
				    "over its log, BAT or metadata region.", p));
	p = sample("d.vhdx", "");
	/* the BAT region (the first entry) moved onto the metadata region */
	poke_regions(p, R_ENTRIES + 16, META_AT, 8);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: its log, BAT and metadata "
				    "regions overlap.", p));
	p = sample("d.vhdx", "");
	th_poke_le64(p, BAT_AT + 8, BAT_ENTRY(PAYLOAD_PARTIALLY_PRESENT, 0));
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: block 1 is partially present, "
				    "which only a differencing disk's blocks may be.", p));
}

static void test_an_unknown_required_region_or_item_is_refused_and_an_optional_one_read(void **state)
{
	const char *p = sample("d.vhdx", "");
	struct disk *d;

	(void)state;
	/* a third region, not required: read past */
	poke_regions(p, R_COUNT, 3, 4);
	poke_regions(p, R_ENTRIES + 2 * R_ENTRY_SIZE, 0x1122334455667788ull, 8);
	d = th_open(p);
	disk_close(d);
	poke_regions(p, R_ENTRIES + 2 * R_ENTRY_SIZE + 28, 1, 4);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: its region table has a "
				    "required region imgtool does not know "
				    "({55667788-3344-1122-0000-000000000000}).", p));
	p = sample("d.vhdx", "");
	/* the page 83 item (the third) marked required under another GUID */
	th_poke_le32(p, META_AT + M_ENTRIES + 2 * M_ENTRY_SIZE, 0xDEADBEEF);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: its metadata has a required "
				    "item imgtool does not know ({deadbeef-b2e6-4523-93ef-"
				    "c309e000c746}).", p));
}

static void test_a_truncated_file_is_refused_by_what_runs_past_its_end(void **state)
{
	const char *p = sample("d.vhdx", "");

	(void)state;
	th_truncate(p, 5 * (uint64_t)MIB + 4096);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: block 2's BAT entry points at "
				    "byte 5242880, past the end of the file (5246976 bytes).", p));
	th_truncate(p, 4096);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VHDX image: it is 4096 bytes, less than "
				    "its 1 MiB header section.", p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_crc32c_gives_the_check_values_of_rfc_3720),
		TH_TEST(test_the_boot_disk_is_5_mib_header_section_log_metadata_bat_one_block),
		TH_TEST(test_dynamic_stores_only_blocks_with_data_and_fixed_all_with_no_slack),
		TH_TEST(test_block_sizes_from_1_to_256_mib_round_trip_and_others_are_refused),
		TH_TEST(test_the_same_disk_gives_the_same_bytes_and_fixed_and_dynamic_differ_in_ids),
		TH_TEST(test_a_bad_header_or_region_table_passes_to_the_other_and_check_says_so),
		TH_TEST(test_both_headers_or_both_region_tables_bad_is_a_refusal),
		TH_TEST(test_a_log_to_replay_and_a_parent_are_refused_with_the_reason),
		TH_TEST(test_a_bat_entry_past_the_end_and_overlapping_regions_are_refused),
		TH_TEST(test_an_unknown_required_region_or_item_is_refused_and_an_optional_one_read),
		TH_TEST(test_a_truncated_file_is_refused_by_what_runs_past_its_end),
	};

	return cmocka_run_group_tests_name("vhdx", tests, NULL, NULL);
}
