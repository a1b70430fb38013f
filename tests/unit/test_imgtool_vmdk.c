/* test_imgtool_vmdk.c - VMware VMDK images: the three layouts the writer makes, the
 * descriptors and sparse extents the reader takes or refuses, and what check finds
 * in images damaged on purpose.
 *
 * Offsets are written out as numbers from "VMware Virtual Disk Format 1.1", so a test
 * fails if the writer and the reader agree on a wrong layout. For the 1 MiB test disk
 * the layouts are:
 *   monolithicSparse  header 0 | descriptor 1-20 | redundant GD 21 | redundant GT 22-25 |
 *                     GD 26 | GT 27-30 | grains from 128
 *   streamOptimized   header 0 | descriptor 1 | grain marker and data 2-3 | GT marker 4 |
 *                     GT 5-8 | GD marker 9 | GD 10 | footer marker 11 | footer 12 | EOS 13
 */
#include "bytes.h"
#include "ident.h"

#include "imgtool_harness.h"

#define MIB (1u << 20)
#define GIB (1ull << 30)

/* Sparse header fields by offset. */
#define H_VERSION 4
#define H_FLAGS 8
#define H_CAPACITY 12
#define H_GRAIN 20
#define H_DESC_OFFSET 28
#define H_DESC_SIZE 36
#define H_GTES 44
#define H_RGD 48
#define H_GD 56
#define H_OVERHEAD 64
#define H_NEWLINES 73
#define H_COMPRESS 77

/* Sectors of the 1 MiB layouts above. */
#define SPARSE_RGT 22
#define SPARSE_GT 27
#define STREAM_GRAIN 2
#define STREAM_GT 5
#define STREAM_FOOTER 12

static void write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(s, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The whole file as a string. */
static char *slurp_text(const char *path)
{
	size_t len;
	char *s = (char *)th_slurp(path, &len);

	s[len] = '\0';
	return s;
}

static bool file_has(const char *path, const char *needle)
{
	size_t len;
	unsigned char *s = th_slurp(path, &len);
	bool found = memmem(s, len, needle, strlen(needle)) != NULL;

	free(s);
	return found;
}

/* Where needle first is in the file at path. */
static uint64_t offset_of(const char *path, const char *needle)
{
	size_t len;
	unsigned char *s = th_slurp(path, &len), *at = memmem(s, len, needle, strlen(needle));
	uint64_t off;

	assert_non_null(at);
	off = (uint64_t)(at - s);
	free(s);
	return off;
}

/* A 1 MiB disk with data in its first two grains. */
static const char *two_grain_disk(void)
{
	unsigned char *data = th_pattern(4096, 3);
	const char *path = th_raw("two.img", MIB, (uint64_t)0, data, (size_t)4096,
				  (uint64_t)65536, data, (size_t)4096, UINT64_MAX);

	free(data);
	return path;
}

/* th_assert_same, and some bytes were stored: an image that stores nothing would
 * pass the comparison vacuously. */
static void assert_same_where_stored(struct disk *a, struct disk *b)
{
	assert_true(th_assert_same(a, b) > 0);
}

/* The message writing src as VMDK fails with; tests check out and its -flat extent. */
static const char *write_error(const char *options, const char *src, const char *out)
{
	return th_write_error(&fmt_vmdk, options, src, out);
}

/* The value info gives for key in the image at path, or "" (static). */
static const char *info_value(const char *path, const char *key)
{
	struct disk *d = th_open(path);
	const char *value = th_info(d, key);

	disk_close(d);
	return value ? value : "";
}

/* The line of the file at path that starts with key (the first), static. */
static const char *desc_line(const char *path, const char *key)
{
	static char line[256];
	size_t len;
	unsigned char *s = th_slurp(path, &len), *p = memmem(s, len, key, strlen(key));
	size_t n = 0;

	while (p && p + n < s + len && p[n] != '\n' && n < sizeof line - 1)
		n++;
	snprintf(line, sizeof line, "%.*s", (int)n, p ? (const char *)p : "");
	free(s);
	return line;
}

/* A copy of a th_path() result that later th_path() calls do not overwrite. */
struct path {
	char s[256];
};

static struct path keep(const char *p)
{
	struct path k;

	snprintf(k.s, sizeof k.s, "%s", p);
	return k;
}

/* --- monolithicFlat ------------------------------------------------------------------- */

static void test_flat_vmdk_of_boot_disk_is_a_364_byte_descriptor_and_a_1_mib_extent(void **state)
{
	(void)state;
	th_round_trip(&fmt_vmdk, "", th_boot_disk("boot.img"), th_path("boot.vmdk"));
	assert_int_equal(th_size(th_path("boot.vmdk")), 364);
	assert_int_equal(th_size(th_path("boot-flat.vmdk")), MIB);
}

static void test_flat_descriptor_names_its_extent_by_file_name_with_ide_geometry(void **state)
{
	const char *out = th_path("boot.vmdk");
	char *s;

	(void)state;
	th_write_ok(&fmt_vmdk, "", th_boot_disk("boot.img"), out);
	s = slurp_text(out);
	assert_true(strncmp(s, "# Disk DescriptorFile\nversion=1\nCID=", 36) == 0);
	assert_non_null(strstr(s, "\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n"));
	assert_non_null(strstr(s, "\nRW 2048 FLAT \"boot-flat.vmdk\" 0\n"));
	assert_non_null(strstr(s, "\nddb.virtualHWVersion = \"4\"\n"));
	assert_non_null(strstr(s, "\nddb.geometry.cylinders = \"2\"\n"
				  "ddb.geometry.heads = \"16\"\n"
				  "ddb.geometry.sectors = \"63\"\n"
				  "ddb.adapterType = \"ide\"\n"
				  "ddb.uuid.image = \""));
	assert_true(s[strlen(s) - 1] == '\n');
	free(s);
}

static void test_flat_extent_of_a_vmdk_output_without_the_extension_is_named_after_it(void **state)
{
	(void)state;
	th_round_trip(&fmt_vmdk, "", th_boot_disk("boot.img"), th_path("disk"));
	assert_int_equal(th_size(th_path("disk-flat.vmdk")), MIB);
	assert_true(file_has(th_path("disk"), "RW 2048 FLAT \"disk-flat.vmdk\" 0\n"));
}

static void test_flat_refuses_to_write_its_extent_over_the_input(void **state)
{
	const char *src = th_boot_disk("x-flat.vmdk");

	(void)state;
	/* The .vmdk name makes the harness probe it: it is raw data, so it reads as raw. */
	assert_string_equal(write_error("", src, th_path("x.vmdk")),
			    th_text("%s, the flat extent %s needs beside it, is the input %s; give "
				    "the output another name.", src, th_path("x.vmdk"), src));
	assert_int_equal(th_size(src), MIB);
	assert_int_equal(access(th_path("x.vmdk"), F_OK), -1);
}

static void test_flat_refuses_an_extent_name_with_a_quote(void **state)
{
	const char *out = th_path("a\"b.vmdk");

	(void)state;
	assert_string_equal(write_error("", th_boot_disk("boot.img"), out),
			    th_text("cannot write %s: a VMDK descriptor names the extent file "
				    "a\"b-flat.vmdk in double quotes, so its name cannot hold a "
				    "quote or a control character.", out));
}

static void test_flat_descriptor_with_several_extents_and_a_zero_extent_reads_in_order(void **state)
{
	unsigned char *a = th_pattern(1024, 1), *b = th_pattern(1024, 2);
	const char *desc = th_path("multi.vmdk");
	unsigned char buf[3072], zeros[512] = { 0 };
	struct msg m = { "" };
	struct disk *d;

	(void)state;
	th_raw("one.bin", 4096, (uint64_t)1024, a, (size_t)1024, UINT64_MAX);
	th_raw("two.bin", 1024, (uint64_t)0, b, (size_t)1024, UINT64_MAX);
	/* one.bin from its sector 2; then a sector of zeros; then two.bin. */
	write_text(desc, "# Disk DescriptorFile\r\nversion=1\r\nCID=fffffffe\r\n"
		   "parentCID=ffffffff\r\ncreateType=\"monolithicFlat\"\r\n"
		   "RW 2 FLAT \"one.bin\" 2\r\nRDONLY 1 ZERO\r\n  RW 2 VMFS \"two.bin\"\r\n");
	d = th_open(desc);
	assert_ptr_equal(d->fmt, &fmt_vmdk);
	assert_int_equal(d->size, 5 * 512);
	assert_int_equal(disk_read(d, buf, 1024, 0, &m), 0);
	assert_memory_equal(buf, a, 1024);
	assert_int_equal(disk_read(d, buf, 1536, 1024, &m), 0);
	assert_memory_equal(buf, zeros, 512);
	assert_memory_equal(buf + 512, b, 1024);
	th_assert_clean(d);
	disk_close(d);
	assert_string_equal(info_value(desc, "extents"), "one.bin, (zero), two.bin");
	free(a);
	free(b);
}

/* --- monolithicSparse ----------------------------------------------------------------- */

static void test_sparse_vmdk_of_boot_disk_is_131072_bytes(void **state)
{
	const char *out = th_path("boot.vmdk");

	(void)state;
	th_round_trip(&fmt_vmdk, "subformat=monolithicSparse", th_boot_disk("boot.img"), out);
	assert_int_equal(th_size(out), 131072);
}

static void test_sparse_header_is_version_1_with_redundant_tables_and_grains_from_128(void **state)
{
	const char *out = th_path("boot.vmdk");

	(void)state;
	th_write_ok(&fmt_vmdk, "subformat=monolithicSparse", th_boot_disk("boot.img"), out);
	assert_int_equal(th_peek_le32(out, 0), 0x564D444B);	/* "KDMV" */
	assert_int_equal(th_peek_le32(out, H_VERSION), 1);
	assert_int_equal(th_peek_le32(out, H_FLAGS), 3);
	assert_int_equal(th_peek_le64(out, H_CAPACITY), 2048);
	assert_int_equal(th_peek_le64(out, H_GRAIN), 128);
	assert_int_equal(th_peek_le64(out, H_DESC_OFFSET), 1);
	assert_int_equal(th_peek_le64(out, H_DESC_SIZE), 20);
	assert_int_equal(th_peek_le32(out, H_GTES), 512);
	assert_int_equal(th_peek_le64(out, H_RGD), 21);
	assert_int_equal(th_peek_le64(out, H_GD), 26);
	assert_int_equal(th_peek_le64(out, H_OVERHEAD), 128);
	assert_int_equal(th_peek_le32(out, H_NEWLINES), 0x0A0D200A);
	assert_int_equal(th_peek_le32(out, H_COMPRESS) & 0xFFFF, 0);
	assert_int_equal(th_peek_le32(out, 21 * 512), SPARSE_RGT);
	assert_int_equal(th_peek_le32(out, 26 * 512), SPARSE_GT);
	assert_int_equal(th_peek_le32(out, SPARSE_GT * 512), 128);
	assert_string_equal(desc_line(out, "createType"), "createType=\"monolithicSparse\"");
	assert_string_equal(desc_line(out, "RW "), "RW 2048 SPARSE \"boot.vmdk\"");
}

/* --- streamOptimized ------------------------------------------------------------------- */

static void test_stream_vmdk_of_boot_disk_is_7168_bytes(void **state)
{
	const char *out = th_path("boot.vmdk");

	(void)state;
	th_round_trip(&fmt_vmdk, "subformat=streamOptimized", th_boot_disk("boot.img"), out);
	assert_int_equal(th_size(out), 7168);
}

static void test_stream_has_gd_at_end_a_footer_and_an_end_of_stream_marker(void **state)
{
	const char *out = th_path("boot.vmdk");
	size_t len;
	unsigned char *f;

	(void)state;
	th_write_ok(&fmt_vmdk, "subformat=streamOptimized", th_boot_disk("boot.img"), out);
	assert_int_equal(th_peek_le32(out, H_VERSION), 3);
	assert_int_equal(th_peek_le32(out, H_FLAGS), 0x30001);
	assert_int_equal(th_peek_le64(out, H_GD), UINT64_MAX);
	assert_int_equal(th_peek_le64(out, H_RGD), 0);
	assert_int_equal(th_peek_le64(out, H_DESC_OFFSET), 1);
	assert_int_equal(th_peek_le64(out, H_DESC_SIZE), 1);
	assert_int_equal(th_peek_le64(out, H_OVERHEAD), 2);
	assert_int_equal(th_peek_le32(out, H_COMPRESS) & 0xFFFF, 1);
	/* The grain: its LBA, its size, zlib data (0x78 first). */
	assert_int_equal(th_peek_le64(out, STREAM_GRAIN * 512), 0);
	assert_in_range(th_peek_le32(out, STREAM_GRAIN * 512 + 8), 1, 1012);
	assert_int_equal(th_peek_le32(out, STREAM_GRAIN * 512 + 12) & 0xFF, 0x78);
	/* GT marker: 4 sectors, type 1; the GT points at the grain marker. */
	assert_int_equal(th_peek_le64(out, (STREAM_GT - 1) * 512), 4);
	assert_int_equal(th_peek_le32(out, (STREAM_GT - 1) * 512 + 12), 1);
	assert_int_equal(th_peek_le32(out, STREAM_GT * 512), STREAM_GRAIN);
	/* GD marker: 1 sector, type 2; the GD points at the GT. */
	assert_int_equal(th_peek_le64(out, 9 * 512), 1);
	assert_int_equal(th_peek_le32(out, 9 * 512 + 12), 2);
	assert_int_equal(th_peek_le32(out, 10 * 512), STREAM_GT);
	/* Footer marker (type 3), the footer with the real GD offset, a zero sector. */
	assert_int_equal(th_peek_le64(out, 11 * 512), 1);
	assert_int_equal(th_peek_le32(out, 11 * 512 + 12), 3);
	assert_int_equal(th_peek_le32(out, STREAM_FOOTER * 512), 0x564D444B);
	assert_int_equal(th_peek_le64(out, STREAM_FOOTER * 512 + H_GD), 10);
	f = th_slurp(out, &len);
	assert_true(is_zero(f + len - 512, 512));
	free(f);
	assert_string_equal(desc_line(out, "createType"), "createType=\"streamOptimized\"");
}

static void test_stream_of_incompressible_grains_stores_them_and_reads_back(void **state)
{
	unsigned char *noise = malloc(256 * 1024);
	const char *src, *out = th_path("noise.vmdk");
	FILE *r = fopen("/dev/urandom", "rb");

	(void)state;
	assert_non_null(noise);
	assert_non_null(r);
	assert_int_equal(fread(noise, 1, 256 * 1024, r), 256 * 1024);
	fclose(r);
	src = th_raw("noise.img", MIB, (uint64_t)65536, noise, (size_t)(256 * 1024), UINT64_MAX);
	th_round_trip(&fmt_vmdk, "subformat=streamOptimized", src, out);
	/* Stored blocks: 65536 bytes + 2 + 4 of zlib + 2 * 5 of block headers. */
	assert_int_equal(th_peek_le32(out, 2 * 512 + 8), 65552);
	free(noise);
}

static void test_stream_of_a_disk_of_many_grains_is_the_same_on_any_thread_timing(void **state)
{
	unsigned char *text_like = malloc(MIB);
	const char *src, *a = th_path("a/x.vmdk"), *b = th_path("b/x.vmdk");
	size_t la, lb;
	unsigned char *x, *y;

	(void)state;
	assert_non_null(text_like);
	for (size_t i = 0; i < MIB; i++)	/* compressible, so deflate does run */
		text_like[i] = (unsigned char)"the quick brown fox "[(i * 7 + i / 4096) % 20];
	src = th_raw("text.img", 8 * MIB, (uint64_t)0, text_like, (size_t)MIB,
		     (uint64_t)(3 * MIB), text_like, (size_t)MIB, (uint64_t)(8 * MIB - 512),
		     text_like, (size_t)512, UINT64_MAX);
	assert_int_equal(mkdir(th_path("a"), 0755), 0);
	assert_int_equal(mkdir(th_path("b"), 0755), 0);
	th_round_trip(&fmt_vmdk, "subformat=streamOptimized", src, a);
	th_write_ok(&fmt_vmdk, "subformat=streamOptimized", src, b);
	x = th_slurp(a, &la);
	y = th_slurp(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(x, y, la);
	assert_true(la < MIB / 4);
	free(x);
	free(y);
	free(text_like);
}

/* --- every subformat ------------------------------------------------------------------ */

static const char *const subformat_options[] = {
	"subformat=monolithicFlat", "subformat=monolithicSparse", "subformat=streamOptimized",
};

static void test_odd_size_disk_with_data_in_its_last_sector_round_trips(void **state)
{
	unsigned char *data = th_pattern(512, 11);
	const char *src;

	(void)state;
	src = th_raw("odd.img", 3 * MIB + 512, (uint64_t)0, data, (size_t)512,
		     (uint64_t)(3 * MIB), data, (size_t)512, UINT64_MAX);
	for (size_t i = 0; i < 3; i++) {
		const char *out = th_path(th_text("odd%zu.vmdk", i));

		th_round_trip(&fmt_vmdk, subformat_options[i], src, out);
	}
	assert_int_equal(th_peek_le64(th_path("odd1.vmdk"), H_CAPACITY), 6145);
	assert_int_equal(th_size(th_path("odd0-flat.vmdk")), 3 * MIB + 512);
	free(data);
}

static void test_2_gib_sparse_disk_with_scattered_data_round_trips(void **state)
{
	unsigned char *data = th_pattern(8192, 5);
	const char *src;

	(void)state;
	src = th_raw("big.img", 2 * GIB, (uint64_t)512, data, (size_t)512,
		     (uint64_t)(700 * MIB + 4096), data, (size_t)8192,
		     (uint64_t)(GIB + 65536 * 3), data, (size_t)4096,
		     (uint64_t)(2 * GIB - 512), data, (size_t)512, UINT64_MAX);
	for (size_t i = 0; i < 3; i++) {
		const char *out = th_path(th_text("big%zu.vmdk", i));
		struct disk *a, *b;

		th_write_ok(&fmt_vmdk, subformat_options[i], src, out);
		a = th_open(src);
		b = th_open(out);
		assert_ptr_equal(b->fmt, &fmt_vmdk);
		assert_same_where_stored(a, b);
		th_assert_clean(b);
		disk_close(a);
		disk_close(b);
	}
	/* Grains of data only: 4 grains after 640 sectors of metadata (header,
	 * descriptor, two directories of 64 entries and two sets of 64 tables, 535
	 * sectors, to a grain boundary); the stream has tables only where there is data. */
	assert_int_equal(th_size(th_path("big1.vmdk")), 640 * 512 + 4 * 65536);
	assert_true(th_size(th_path("big2.vmdk")) < 64 * 1024);
	free(data);
}

static void test_all_zero_disk_round_trips_with_no_grains(void **state)
{
	const char *src = th_raw("zero.img", 4 * MIB, UINT64_MAX);

	(void)state;
	for (size_t i = 0; i < 3; i++)
		th_round_trip(&fmt_vmdk, subformat_options[i], src,
			      th_path(th_text("zero%zu.vmdk", i)));
	assert_int_equal(th_size(th_path("zero1.vmdk")), 128 * 512);
	/* Header, descriptor, GD marker and GD, footer marker, footer, end of stream. */
	assert_int_equal(th_size(th_path("zero2.vmdk")), 7 * 512);
}

static void test_writing_twice_gives_the_same_bytes(void **state)
{
	struct path src = keep(two_grain_disk());

	(void)state;
	assert_int_equal(mkdir(th_path("a"), 0755), 0);
	assert_int_equal(mkdir(th_path("b"), 0755), 0);
	for (size_t i = 0; i < 3; i++) {
		const char *names[] = { "x.vmdk", "x-flat.vmdk" };

		th_write_ok(&fmt_vmdk, subformat_options[i], src.s, th_path("a/x.vmdk"));
		th_write_ok(&fmt_vmdk, subformat_options[i], src.s, th_path("b/x.vmdk"));
		for (size_t k = 0; k < (i == 0 ? 2u : 1u); k++) {
			size_t la, lb;
			unsigned char *x = th_slurp(th_path(th_text("a/%s", names[k])), &la);
			unsigned char *y = th_slurp(th_path(th_text("b/%s", names[k])), &lb);

			assert_int_equal(la, lb);
			assert_memory_equal(x, y, la);
			free(x);
			free(y);
		}
	}
}

static void test_cid_and_uuid_come_from_the_content(void **state)
{
	char cid[64], uuid[80];

	(void)state;
	th_write_ok(&fmt_vmdk, "", th_boot_disk("boot.img"), th_path("a.vmdk"));
	th_write_ok(&fmt_vmdk, "", two_grain_disk(), th_path("b.vmdk"));
	snprintf(cid, sizeof cid, "%s", desc_line(th_path("a.vmdk"), "CID="));
	snprintf(uuid, sizeof uuid, "%s", desc_line(th_path("a.vmdk"), "ddb.uuid.image"));
	assert_int_equal(strlen(cid), 12);
	assert_string_not_equal(cid, desc_line(th_path("b.vmdk"), "CID="));
	assert_string_not_equal(uuid, desc_line(th_path("b.vmdk"), "ddb.uuid.image"));
}

static void test_each_subformat_of_one_disk_has_its_own_uuid(void **state)
{
	const char *src = th_boot_disk("boot.img");
	char flat[80];

	(void)state;
	th_write_ok(&fmt_vmdk, "", src, th_path("f.vmdk"));
	th_write_ok(&fmt_vmdk, "subformat=streamOptimized", src, th_path("s.vmdk"));
	snprintf(flat, sizeof flat, "%s", info_value(th_path("f.vmdk"), "uuid"));
	assert_int_equal(strlen(flat), 36);
	assert_string_not_equal(flat, info_value(th_path("s.vmdk"), "uuid"));
	assert_string_equal(info_value(th_path("f.vmdk"), "cid"),
			    info_value(th_path("s.vmdk"), "cid"));
}

static void test_uuid_option_is_written_as_the_image_uuid(void **state)
{
	const char *out = th_path("u.vmdk");

	(void)state;
	th_write_ok(&fmt_vmdk,
		    "subformat=monolithicSparse,uuid=0123ABCD-4567-89ab-cdef-0123456789AB",
		    th_boot_disk("boot.img"), out);
	assert_string_equal(desc_line(out, "ddb.uuid.image"),
			    "ddb.uuid.image = \"0123abcd-4567-89ab-cdef-0123456789ab\"");
	assert_string_equal(info_value(out, "uuid"), "0123abcd-4567-89ab-cdef-0123456789ab");
}

static void test_bad_option_values_are_refused_before_anything_is_written(void **state)
{
	const char *src = th_boot_disk("boot.img"), *out = th_path("o.vmdk");

	(void)state;
	assert_string_equal(write_error("uuid=1234", src, out),
			    "-o uuid=1234: a UUID is 32 hex digits as "
			    "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.");
	assert_string_equal(write_error("subformat=vmfs", src, out),
			    "-o subformat=vmfs: subformat is monolithicFlat, monolithicSparse "
			    "or streamOptimized.");
	assert_string_equal(write_error("adapter=scsi", src, out),
			    "-o adapter=scsi: adapter is ide or lsilogic.");
	assert_string_equal(write_error("hwversion=7", src, out),
			    "vmdk has no option hwversion; it takes subformat, adapter and uuid.");
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(access(th_path("o-flat.vmdk"), F_OK), -1);
}

static void test_lsilogic_adapter_gives_255_heads_and_ide_caps_cylinders_at_16383(void **state)
{
	const char *src = th_raw("16g.img", 16 * GIB, UINT64_MAX);

	(void)state;
	th_write_ok(&fmt_vmdk, "adapter=lsilogic", src, th_path("l.vmdk"));
	assert_string_equal(desc_line(th_path("l.vmdk"), "ddb.geometry.cylinders"),
			    "ddb.geometry.cylinders = \"2088\"");
	assert_string_equal(desc_line(th_path("l.vmdk"), "ddb.geometry.heads"),
			    "ddb.geometry.heads = \"255\"");
	assert_string_equal(desc_line(th_path("l.vmdk"), "ddb.adapterType"),
			    "ddb.adapterType = \"lsilogic\"");
	th_write_ok(&fmt_vmdk, "", src, th_path("i.vmdk"));
	assert_string_equal(info_value(th_path("i.vmdk"), "geometry"), "16383/16/63");
	th_write_ok(&fmt_vmdk, "adapter=lsilogic", th_boot_disk("boot.img"), th_path("s.vmdk"));
	assert_string_equal(info_value(th_path("s.vmdk"), "geometry"), "1/255/63");
}

static void test_sparse_subformats_refuse_a_disk_over_2_tib(void **state)
{
	const char *src = th_raw("3t.img", 3ull << 40, UINT64_MAX);

	(void)state;
	assert_string_equal(write_error("subformat=streamOptimized", src, th_path("s.vmdk")),
			    th_text("-o subformat=streamOptimized: %s is 3298534883328 bytes, more "
				    "than the 2 TiB a sparse VMDK can hold; "
				    "subformat=monolithicFlat can.", src));
}

static void test_info_gives_subformat_geometry_and_grain_facts(void **state)
{
	const char *out = th_path("s.vmdk");

	(void)state;
	th_write_ok(&fmt_vmdk, "subformat=streamOptimized", th_boot_disk("boot.img"), out);
	assert_string_equal(info_value(out, "subformat"), "streamOptimized");
	assert_string_equal(info_value(out, "adapter"), "ide");
	assert_string_equal(info_value(out, "geometry"), "2/16/63");
	assert_int_equal(strlen(info_value(out, "cid")), 8);
	assert_string_equal(info_value(out, "hardware version"), "4");
	assert_string_equal(info_value(out, "version"), "3");
	assert_string_equal(info_value(out, "grain size"), "65536");
	assert_string_equal(info_value(out, "compression"), "deflate");
	assert_string_equal(info_value(out, "extent"), "s.vmdk");
}

/* --- probing ---------------------------------------------------------------------------- */

static void test_probe_takes_kdmv_and_descriptors_but_not_other_formats(void **state)
{
	static const struct {
		const char *head;
		bool vmdk;
	} cases[] = {
		{ "KDMV", true },
		{ "# Disk DescriptorFile\nversion=1\n", true },
		{ "\xEF\xBB\xBF\n# Disk DescriptorFile\n", true },
		{ "QFI\xfb", false },
		{ "COWD", false },
		{ "conectix", false },
		{ "<<< Oracle VM VirtualBox Disk Image >>>\n", false },
		{ "version=1\n", false },
		{ "# Disk", false },
	};
	struct infile f = { .fd = -1 };

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *h = cases[i].head;

		if (fmt_vmdk.probe(&f, (const unsigned char *)h, strlen(h)) != cases[i].vmdk)
			fail_msg("the probe was wrong about \"%s\"", h);
	}
}

/* --- what the reader refuses -------------------------------------------------------------- */

static void test_truncated_sparse_header_is_refused(void **state)
{
	const char *p = th_raw("t.vmdk", 100, (uint64_t)0, "KDMV", (size_t)4, UINT64_MAX);

	(void)state;
	assert_string_equal(th_open_error(p),
			    th_text("%s is truncated: the sparse header at byte 0 runs past its end "
				    "(100).", p));
}

static const char *sparse_image(void)
{
	const char *out = th_path("s.vmdk");

	th_write_ok(&fmt_vmdk, "subformat=monolithicSparse", two_grain_disk(), out);
	return out;
}

static const char *stream_image(void)
{
	const char *out = th_path("st.vmdk");

	th_write_ok(&fmt_vmdk, "subformat=streamOptimized", th_boot_disk("boot.img"), out);
	return out;
}

static void test_sparse_header_fields_out_of_range_are_refused(void **state)
{
	const char *p;

	(void)state;
	p = sparse_image();
	th_poke_le32(p, H_VERSION, 4);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its header gives version 4; "
				    "sparse extents are version 1, 2 or 3.", p));
	p = sparse_image();
	th_poke_le64(p, H_GRAIN, 100);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its header gives a grain of 100 "
				    "sectors, not a power of two from 1 to 2048.", p));
	p = sparse_image();
	th_poke_le32(p, H_GTES, 4096);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its header gives 4096 entries "
				    "per grain table; imgtool reads 1 to 512.", p));
	p = sparse_image();
	th_poke_le64(p, H_CAPACITY, 0);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its header gives a capacity of 0 "
				    "sectors.", p));
	p = sparse_image();
	th_poke(p, H_COMPRESS, "\x02", 1);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its header gives compression "
				    "algorithm 2; only 0 (none) and 1 (deflate) exist.", p));
	p = sparse_image();
	th_poke_le64(p, H_DESC_SIZE, 4096);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its embedded descriptor (4096 "
				    "sectors at sector 1) is larger than 2048 sectors or runs past "
				    "the end of the file (196608 bytes).", p));
}

static void test_grain_directory_past_the_end_of_the_file_is_refused(void **state)
{
	const char *p = sparse_image();

	(void)state;
	th_poke_le64(p, H_GD, 384);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its grain directory (1 entries at "
				    "sector 384) runs past the end of the file (196608 bytes).", p));
	th_poke_le64(p, H_GD, 26);
	th_poke_le64(p, H_CAPACITY, 1ull << 40);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its grain directory (16777216 "
				    "entries at sector 26) runs past the end of the file (196608 "
				    "bytes).", p));
}

static void test_stream_without_its_footer_is_refused(void **state)
{
	const char *p = stream_image();

	(void)state;
	th_truncate(p, th_size(p) - 512);	/* the end-of-stream marker goes */
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its header puts the grain "
				    "directory in a footer, but its last three sectors are not a "
				    "footer marker, a footer and an end-of-stream marker.", p));
	th_truncate(p, 1024);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its header puts the grain "
				    "directory in a footer, but the file is too short to have "
				    "one.", p));
}

static void test_corrupt_compressed_grain_fails_to_read_with_a_sentence(void **state)
{
	const char *p = stream_image();

	(void)state;
	th_poke(p, STREAM_GRAIN * 512 + 12, "\xFF\xFF\xFF\xFF", 4);
	assert_string_equal(th_read_error(p, 0, 512),
			    th_text("%s is not a usable VMDK image: its compressed grain 0 (sector "
				    "2) does not inflate to at most a grain: incorrect header "
				    "check.", p));
	p = stream_image();
	th_poke_le32(p, STREAM_GRAIN * 512 + 8, 0);
	assert_string_equal(th_read_error(p, 0, 512),
			    th_text("%s is not a usable VMDK image: its compressed grain 0 (sector "
				    "2) gives a size of 0 bytes; a grain's data is 1 to 74752 "
				    "bytes.", p));
	p = stream_image();
	th_poke_le32(p, STREAM_GRAIN * 512 + 8, 70000);
	assert_string_equal(th_read_error(p, 0, 512),
			    th_text("%s is not a usable VMDK image: its compressed grain 0 (sector "
				    "2, 70000 bytes) runs past the end of the file (7168 bytes).", p));
}

static void test_grain_table_entry_past_the_end_fails_to_read_and_check_says_so(void **state)
{
	const char *p = sparse_image();

	(void)state;
	th_poke_le32(p, SPARSE_GT * 512, 100000);
	th_poke_le32(p, SPARSE_RGT * 512, 100000);
	assert_string_equal(th_read_error(p, 0, 512),
			    th_text("%s is not a usable VMDK image: its grain 0 is at sector 100000, "
				    "past the end of the file (196608 bytes).", p));
	assert_string_equal(th_faults(p),
			    th_text("%s: the grain of virtual sector 0 (128 sectors at sector 100000) "
				    "runs past the end of the file (196608 bytes).", p));
	th_poke_le32(p, 26 * 512, 5000);
	assert_string_equal(th_read_error(p, 0, 512),
			    th_text("%s is not a usable VMDK image: its grain directory entry 0 "
				    "points at sector 5000, where a grain table would run past the "
				    "end of the file (196608 bytes).", p));
}

static void test_cowd_extents_are_refused_by_name(void **state)
{
	const char *p = th_raw("c.vmdk", 2048, (uint64_t)0, "COWD", (size_t)4, UINT64_MAX);

	(void)state;
	assert_string_equal(th_open_error(p),
			    th_text("%s is a VMDK COWD image; imgtool reads raw, vhd, vhdx, vdi, vmdk "
				    "and qcow2 (-f raw reads it as a raw disk).", p));
	assert_string_equal(th_open_as_error(p, &fmt_vmdk),
			    th_text("%s is not a usable VMDK image: it is an ESX Server 2 sparse "
				    "extent (\"COWD\"), which imgtool does not read.", p));
}

#define HEAD "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"

static void test_descriptor_problems_are_refused_with_a_sentence(void **state)
{
	static const struct {
		const char *body, *why;
	} cases[] = {
		{ "createType=\"monolithicFlat\"\nRW 2048 FLAT \"gone-flat.vmdk\" 0\n",
		  "its extent \"gone-flat.vmdk\" is missing: there is no %s." },
		{ "createType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/passwd\" 0\n",
		  "line 6 of its descriptor names the extent \"/etc/passwd\", which is not a "
		  "file name in the descriptor's folder; imgtool reads extents only from "
		  "beside the descriptor." },
		{ "createType=\"monolithicFlat\"\nRW 2048 FLAT \"..\" 0\n",
		  "line 6 of its descriptor names the extent \"..\", which is not a file name "
		  "in the descriptor's folder; imgtool reads extents only from beside the "
		  "descriptor." },
		{ "createType=\"monolithicFlat\"\nNOACCESS 2048 FLAT \"x\" 0\n",
		  "line 6 of its descriptor is a NOACCESS extent, which has no data to read." },
		{ "createType=\"vmfsSparse\"\nRW 2048 VMFSSPARSE \"x-delta.vmdk\"\n",
		  "line 6 of its descriptor is a VMFSSPARSE extent; imgtool reads FLAT, VMFS, "
		  "ZERO and SPARSE extents." },
		{ "createType=\"monolithicFlat\"\nRW 2048 FLAT \"x-flat.vmdk\" zero\n",
		  "line 6 of its descriptor is not an extent as ACCESS SECTORS TYPE \"FILE\" "
		  "OFFSET." },
		{ "createType=\"monolithicFlat\"\nRW 2048 FLAT \"x-flat.vmdk 0\n",
		  "line 6 of its descriptor is not an extent as ACCESS SECTORS TYPE \"FILE\" "
		  "OFFSET." },
		{ "createType=\"monolithicFlat\"\nRW 0 FLAT \"x-flat.vmdk\" 0\n",
		  "line 6 of its descriptor is an extent of 0 sectors." },
		{ "RW 2048 FLAT \"x-flat.vmdk\" 0\n", "its descriptor has no createType." },
		{ "createType=\"monolithicFlat\"\n", "its descriptor names no extent." },
		{ "createType=\"monolithicSparse\"\nparentFileNameHint=\"base.vmdk\"\n"
		  "RW 2048 SPARSE \"x.vmdk\"\n",
		  "it is a delta disk of the parent \"base.vmdk\" (parentFileNameHint); imgtool "
		  "reads only disks without a parent." },
		{ "createType=\"monolithicFlat\"\nRW 4096 FLAT \"x-flat.vmdk\" 0\n",
		  "its extent \"x-flat.vmdk\" is 1048576 bytes, too short for the 4096 sectors "
		  "from sector 0 that the descriptor gives it." },
		{ "createType=\"monolithicFlat\"\nRW 2048 FLAT \"x\x01y\" 0\n",
		  "line 6 of its descriptor names an extent file with a control character." },
		{ "createType=\"monolithicFlat\"\nRW 2048 FLAT \"fifo\" 0\n",
		  "its extent \"fifo\" is not a file or a block device." },
		{ "createType=\"twoGbMaxExtentSparse\"\nRW 2048 SPARSE \"x-flat.vmdk\"\n",
		  "it does not start with the sparse extent magic \"KDMV\"." },
	};
	struct path desc = keep(th_path("d.vmdk")), gone = keep(th_path("gone-flat.vmdk"));
	struct path extent = keep(th_raw("x-flat.vmdk", MIB, UINT64_MAX));

	(void)state;
	assert_int_equal(mkfifo(th_path("fifo"), 0644), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char expected[1024], why[512];
		const char *got;

		write_text(desc.s, th_text("%s%s", HEAD, cases[i].body));
		snprintf(why, sizeof why, cases[i].why, gone.s);
		/* The sparse extent's own file names itself in the message. */
		snprintf(expected, sizeof expected, "%s is not a usable VMDK image: %s",
			 i == 14 ? extent.s : desc.s, why);
		got = th_open_error(desc.s);
		if (strcmp(got, expected) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, got, expected);
	}
}

static void test_descriptor_with_more_than_256_extents_is_refused(void **state)
{
	const char *p = th_path("many.vmdk");
	FILE *f = fopen(p, "w");

	(void)state;
	assert_non_null(f);
	fputs(HEAD "createType=\"monolithicFlat\"\n", f);
	for (int i = 0; i < 257; i++)
		fputs("RW 1 ZERO\n", f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: its descriptor has more than 256 "
				    "extents.", p));
}

static void test_descriptor_over_1_mib_is_refused(void **state)
{
	const char *p = th_path("huge.vmdk");
	int fd;

	(void)state;
	write_text(p, HEAD);
	fd = open(p, O_WRONLY);
	assert_int_equal(ftruncate(fd, MIB + 1), 0);
	close(fd);
	assert_string_equal(th_open_error(p),
			    th_text("%s is not a usable VMDK image: it starts as a descriptor but is "
				    "1048577 bytes; a descriptor is at most 1 MiB.", p));
}

static void test_split_sparse_extents_in_a_descriptor_read_as_one_disk(void **state)
{
	const char *a = th_path("a.vmdk"), *d = th_path("split.vmdk");
	unsigned char buf[512];
	struct msg m = { "" };
	struct disk *disk;

	(void)state;
	th_write_ok(&fmt_vmdk, "subformat=streamOptimized", th_boot_disk("boot.img"), a);
	th_write_ok(&fmt_vmdk, "subformat=monolithicSparse", two_grain_disk(), th_path("b.vmdk"));
	write_text(d, HEAD "createType=\"twoGbMaxExtentSparse\"\n"
		   "RW 2048 SPARSE \"a.vmdk\"\nRW 2048 SPARSE \"b.vmdk\"\n");
	disk = th_open(d);
	assert_int_equal(disk->size, 2 * MIB);
	assert_int_equal(disk_read(disk, buf, 512, MIB, &m), 0);
	th_assert_clean(disk);
	disk_close(disk);
	assert_string_equal(info_value(d, "extents"), "a.vmdk, b.vmdk");
	assert_string_equal(info_value(d, "compression"), "deflate");
	/* A sparse extent longer than the descriptor says reads, but check says so. */
	write_text(d, HEAD "createType=\"twoGb\x1b[2J\"\nRW 1024 SPARSE \"a.vmdk\"\n");
	assert_string_equal(th_faults(d),
			    th_text("%s: its extent \"a.vmdk\" holds 2048 sectors, but the "
				    "descriptor gives it 1024.", d));
	assert_string_equal(info_value(d, "subformat"), "twoGb?[2J");
}

/* --- what check finds ---------------------------------------------------------------------- */

static void test_check_finds_corrupted_newline_bytes(void **state)
{
	const char *p = sparse_image();

	(void)state;
	th_poke(p, H_NEWLINES + 2, "\n", 1);
	assert_string_equal(th_faults(p),
			    th_text("%s: its newline-check bytes (73 to 76) are not \"\\n \\r\\n\": "
				    "the file went through a text-mode copy that changed line ends.",
				    p));
}

static void test_check_finds_a_redundant_grain_table_that_differs(void **state)
{
	const char *p = sparse_image();

	(void)state;
	th_poke_le32(p, SPARSE_RGT * 512 + 4, 999);
	assert_string_equal(th_faults(p),
			    th_text("%s: its redundant grain table 0 differs from grain table 0.", p));
}

static void test_check_finds_overlapping_grains(void **state)
{
	const char *p = sparse_image();

	(void)state;
	th_poke_le32(p, SPARSE_GT * 512 + 4, 128);
	th_poke_le32(p, SPARSE_RGT * 512 + 4, 128);
	assert_string_equal(th_faults(p),
			    th_text("%s: the grain of virtual sector 128 (sector 128) overlaps the "
				    "grain of virtual sector 0 (sector 128).", p));
	th_poke_le32(p, SPARSE_GT * 512 + 4, 24);
	th_poke_le32(p, SPARSE_RGT * 512 + 4, 24);
	assert_string_equal(th_faults(p),
			    th_text("%s: the grain of virtual sector 128 is at sector 24, inside the "
				    "128 sectors of metadata before the grains.\n"
				    "%s: the grain of virtual sector 128 (sector 24) overlaps "
				    "redundant grain table 0 (sector 22).\n"
				    "%s: the grain directory (sector 26) overlaps the grain of "
				    "virtual sector 128 (sector 24).\n"
				    "%s: grain table 0 (sector 27) overlaps the grain of virtual "
				    "sector 128 (sector 24).\n"
				    "%s: the grain of virtual sector 0 (sector 128) overlaps the "
				    "grain of virtual sector 128 (sector 24).", p, p, p, p, p));
}

static void test_check_finds_descriptor_faults(void **state)
{
	const char *p = sparse_image();

	(void)state;
	th_poke(p, offset_of(p, "CID=") + 4, "xy", 2);
	assert_string_equal(th_faults(p),
			    th_text("%s: its descriptor's CID \"xy%s\" is not 1 to 8 hex digits.", p,
				    desc_line(p, "CID=") + 6));
	p = sparse_image();
	th_poke(p, offset_of(p, "RW 2048"), "RW 2047", 7);
	th_poke(p, offset_of(p, "parentCID=") + 10, "00000001", 8);
	assert_string_equal(th_faults(p),
			    th_text("%s: its descriptor gives parentCID=00000001, but a disk without "
				    "a parent has ffffffff.\n"
				    "%s: its descriptor's extents add up to 2047 sectors, but its "
				    "header gives a capacity of 2048.", p, p));
}

static void test_check_finds_a_stream_without_end_of_stream_marker(void **state)
{
	const char *p = stream_image();

	(void)state;
	/* As qemu-img writes it: the directory's place in the header, no footer. */
	th_poke_le64(p, H_GD, 10);
	th_truncate(p, 13 * 512);
	assert_string_equal(th_faults(p),
			    th_text("%s: its last sector is not an end-of-stream marker (a zero "
				    "sector); ESXi's OVF import refuses such a stream.", p));
}

static void test_check_finds_a_grain_marker_for_another_sector(void **state)
{
	const char *p = stream_image();

	(void)state;
	th_poke_le64(p, STREAM_GRAIN * 512, 128);
	assert_string_equal(th_faults(p),
			    th_text("%s: the grain of virtual sector 0 (at sector 2) has a marker for "
				    "virtual sector 128.", p));
}

static void test_check_finds_a_footer_that_differs_from_the_header(void **state)
{
	const char *p = stream_image();

	(void)state;
	th_poke_le64(p, H_CAPACITY, 4096);
	assert_string_equal(th_faults(p),
			    th_text("%s: its footer gives a different capacity, grain, table size or "
				    "version than its header.", p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_flat_vmdk_of_boot_disk_is_a_364_byte_descriptor_and_a_1_mib_extent),
		TH_TEST(test_flat_descriptor_names_its_extent_by_file_name_with_ide_geometry),
		TH_TEST(test_flat_extent_of_a_vmdk_output_without_the_extension_is_named_after_it),
		TH_TEST(test_flat_refuses_to_write_its_extent_over_the_input),
		TH_TEST(test_flat_refuses_an_extent_name_with_a_quote),
		TH_TEST(test_flat_descriptor_with_several_extents_and_a_zero_extent_reads_in_order),
		TH_TEST(test_sparse_vmdk_of_boot_disk_is_131072_bytes),
		TH_TEST(test_sparse_header_is_version_1_with_redundant_tables_and_grains_from_128),
		TH_TEST(test_stream_vmdk_of_boot_disk_is_7168_bytes),
		TH_TEST(test_stream_has_gd_at_end_a_footer_and_an_end_of_stream_marker),
		TH_TEST(test_stream_of_incompressible_grains_stores_them_and_reads_back),
		TH_TEST(test_stream_of_a_disk_of_many_grains_is_the_same_on_any_thread_timing),
		TH_TEST(test_odd_size_disk_with_data_in_its_last_sector_round_trips),
		TH_TEST(test_2_gib_sparse_disk_with_scattered_data_round_trips),
		TH_TEST(test_all_zero_disk_round_trips_with_no_grains),
		TH_TEST(test_writing_twice_gives_the_same_bytes),
		TH_TEST(test_cid_and_uuid_come_from_the_content),
		TH_TEST(test_each_subformat_of_one_disk_has_its_own_uuid),
		TH_TEST(test_uuid_option_is_written_as_the_image_uuid),
		TH_TEST(test_bad_option_values_are_refused_before_anything_is_written),
		TH_TEST(test_lsilogic_adapter_gives_255_heads_and_ide_caps_cylinders_at_16383),
		TH_TEST(test_sparse_subformats_refuse_a_disk_over_2_tib),
		TH_TEST(test_info_gives_subformat_geometry_and_grain_facts),
		TH_TEST(test_probe_takes_kdmv_and_descriptors_but_not_other_formats),
		TH_TEST(test_truncated_sparse_header_is_refused),
		TH_TEST(test_sparse_header_fields_out_of_range_are_refused),
		TH_TEST(test_grain_directory_past_the_end_of_the_file_is_refused),
		TH_TEST(test_stream_without_its_footer_is_refused),
		TH_TEST(test_corrupt_compressed_grain_fails_to_read_with_a_sentence),
		TH_TEST(test_grain_table_entry_past_the_end_fails_to_read_and_check_says_so),
		TH_TEST(test_cowd_extents_are_refused_by_name),
		TH_TEST(test_descriptor_problems_are_refused_with_a_sentence),
		TH_TEST(test_descriptor_with_more_than_256_extents_is_refused),
		TH_TEST(test_descriptor_over_1_mib_is_refused),
		TH_TEST(test_split_sparse_extents_in_a_descriptor_read_as_one_disk),
		TH_TEST(test_check_finds_corrupted_newline_bytes),
		TH_TEST(test_check_finds_a_redundant_grain_table_that_differs),
		TH_TEST(test_check_finds_overlapping_grains),
		TH_TEST(test_check_finds_descriptor_faults),
		TH_TEST(test_check_finds_a_stream_without_end_of_stream_marker),
		TH_TEST(test_check_finds_a_grain_marker_for_another_sector),
		TH_TEST(test_check_finds_a_footer_that_differs_from_the_header),
	};

	return cmocka_run_group_tests_name("vmdk", tests, NULL, NULL);
}
