/* test_imgtool_qcow2.c - the qcow2 writer, reader and check.
 *
 * Images are written from raw disks made to order, then read back, measured, and
 * corrupted on purpose at known offsets. The 1 MiB boot disk with 512-byte clusters
 * is laid out as header 0x000 | data 0x200 | L2 0x400 | L1 0x600 | refcount block
 * 0x800 | refcount table 0xa00; with 64 KiB clusters the same order at 0x10000 steps.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bytes.h"
#include "imgtool_harness.h"

#define MiB (1ull << 20)
#define END UINT64_MAX

/* The 512-byte clusters boot image's offsets. */
#define B_DATA	0x200u
#define B_L2	0x400u
#define B_L1	0x600u
#define B_REFB	0x800u
#define B_REFT	0xa00u
/* The 64 KiB clusters boot image's offsets. */
#define K_DATA	0x10000u
#define K_L2	0x20000u
#define K_L1	0x30000u

#define COPIED (1ull << 63)
#define COMPRESSED (1ull << 62)

/* A boot sector that compresses: text, zeros and the signature. */
static unsigned char boot_sector[512];

static void make_boot_sector(void)
{
	memset(boot_sector, 0, sizeof boot_sector);
	for (size_t i = 0; i < 440; i++)
		boot_sector[i] = (unsigned char)"imgtool qcow2 test "[i % 19];
	boot_sector[510] = 0x55;
	boot_sector[511] = 0xAA;
}

/* The 1 MiB boot disk whose sector 0 is that boot sector. */
static const char *boot_disk(void)
{
	make_boot_sector();
	return th_boot_disk_of("boot.img", boot_sector);
}

/* The boot disk as qcow2 with options opts, at th_dir/name. */
static const char *boot_qcow2(const char *name, const char *opts)
{
	return th_write_ok(&fmt_qcow2, opts, boot_disk(), th_path(name));
}

static void poke_be64(const char *path, uint64_t off, uint64_t v)
{
	unsigned char b[8];

	put_be64(b, v);
	th_poke(path, off, b, sizeof b);
}

static void poke_be16(const char *path, uint64_t off, uint16_t v)
{
	unsigned char b[2];

	put_be16(b, v);
	th_poke(path, off, b, sizeof b);
}

static uint64_t peek_be64(const char *path, uint64_t off)
{
	size_t len;
	unsigned char *b = th_slurp(path, &len);
	uint64_t v;

	assert_true(off + 8 <= len);
	v = get_be64(b + off);
	free(b);
	return v;
}

static uint32_t peek_be32(const char *path, uint64_t off)
{
	return (uint32_t)(peek_be64(path, off) >> 32);
}

/* "PATH is not a usable qcow2 image: WHAT" for the image at path. */
static const char *unusable(const char *path, const char *what)
{
	static char text[600];

	snprintf(text, sizeof text, "%s is not a usable qcow2 image: %s", path, what);
	return text;
}

/* The message writing src as qcow2 fails with; it leaves nothing at out. */
static const char *write_error(const char *opts, const char *src, const char *out)
{
	return th_write_refused(&fmt_qcow2, opts, src, out);
}

/* th_info, but "(absent)" for a key that d's info does not give. */
static const char *info_value(struct disk *d, const char *key)
{
	const char *value = th_info(d, key);

	return value ? value : "(absent)";
}

/* --- sizes and layout ------------------------------------------------------------- */

static void test_boot_disk_with_512_byte_clusters_is_3072_bytes_in_six_clusters(void **state)
{
	const char *src = boot_disk(), *out = th_path("boot.qcow2");
	size_t len;
	unsigned char *b;

	(void)state;
	th_round_trip(&fmt_qcow2, "cluster_size=512", src, out);
	assert_int_equal(th_size(out), 3072);
	b = th_slurp(out, &len);
	assert_memory_equal(b, "QFI\xfb", 4);
	assert_int_equal(get_be32(b + 4), 3);			/* version */
	assert_int_equal(get_be64(b + 8), 0);			/* no backing file */
	assert_int_equal(get_be32(b + 20), 9);			/* cluster bits */
	assert_int_equal(get_be64(b + 24), MiB);		/* virtual size */
	assert_int_equal(get_be32(b + 32), 0);			/* not encrypted */
	assert_int_equal(get_be32(b + 36), 32);			/* L1 entries */
	assert_int_equal(get_be64(b + 40), B_L1);
	assert_int_equal(get_be64(b + 48), B_REFT);
	assert_int_equal(get_be32(b + 56), 1);			/* refcount table clusters */
	assert_int_equal(get_be32(b + 60), 0);			/* snapshots */
	assert_int_equal(get_be64(b + 72), 0);			/* incompatible features */
	assert_int_equal(get_be64(b + 80), 0);
	assert_int_equal(get_be64(b + 88), 0);
	assert_int_equal(get_be32(b + 96), 4);			/* 16-bit refcounts */
	assert_int_equal(get_be32(b + 100), 104);		/* header length */
	assert_int_equal(get_be64(b + 104), 0);			/* end of extensions */
	assert_memory_equal(b + B_DATA, boot_sector, 512);
	assert_int_equal(get_be64(b + B_L2), COPIED | B_DATA);
	assert_int_equal(get_be64(b + B_L1), COPIED | B_L2);
	for (unsigned c = 0; c < 6; c++)
		assert_int_equal(get_be16(b + B_REFB + 2 * c), 1);
	assert_int_equal(get_be16(b + B_REFB + 12), 0);
	assert_int_equal(get_be64(b + B_REFT), B_REFB);
	assert_int_equal(get_be64(b + B_REFT + 8), 0);
	free(b);
}

static void test_boot_disk_with_default_64k_clusters_is_393216_bytes(void **state)
{
	const char *src = boot_disk(), *out = th_path("boot.qcow2");

	(void)state;
	th_round_trip(&fmt_qcow2, "", src, out);
	assert_int_equal(th_size(out), 6 * 65536);
	assert_int_equal(peek_be32(out, 20), 16);
	assert_int_equal(peek_be64(out, K_L2), COPIED | K_DATA);
	assert_int_equal(peek_be64(out, K_L1), COPIED | K_L2);
}

static void test_boot_disk_with_2m_clusters_is_six_clusters(void **state)
{
	const char *src = boot_disk(), *out = th_path("boot.qcow2");

	(void)state;
	th_round_trip(&fmt_qcow2, "cluster_size=2M", src, out);
	assert_int_equal(th_size(out), 6 * 2 * MiB);
}

static void test_compat_0_10_writes_a_72_byte_version_2_header(void **state)
{
	const char *src = boot_disk(), *out = th_path("boot.qcow2");
	unsigned char *b;
	size_t len;
	struct disk *d;

	(void)state;
	th_round_trip(&fmt_qcow2, "compat=0.10,cluster_size=512", src, out);
	assert_int_equal(th_size(out), 3072);
	b = th_slurp(out, &len);
	assert_int_equal(get_be32(b + 4), 2);
	for (size_t i = 72; i < 512; i++)
		assert_int_equal(b[i], 0);
	free(b);
	d = th_open(out);
	assert_string_equal(info_value(d, "compat"), "0.10");
	assert_string_equal(info_value(d, "version"), "2");
	assert_string_equal(info_value(d, "header length"), "72");
	disk_close(d);
}

static void test_compat_1_1_is_version_3(void **state)
{
	const char *out = boot_qcow2("boot.qcow2", "compat=1.1");

	(void)state;
	assert_int_equal(peek_be32(out, 4), 3);
}

static void test_all_zero_disk_is_header_l1_and_refcounts_only(void **state)
{
	const char *src = th_raw("zero.img", MiB, END), *out = th_path("zero.qcow2");
	struct disk *d;

	(void)state;
	th_round_trip(&fmt_qcow2, "cluster_size=512", src, out);
	assert_int_equal(th_size(out), 4 * 512);
	d = th_open(out);
	assert_string_equal(info_value(d, "allocated clusters"), "0");
	disk_close(d);
	th_round_trip(&fmt_qcow2, "", src, th_path("zero64k.qcow2"));
	assert_int_equal(th_size(th_path("zero64k.qcow2")), 4 * 65536);
}

static void test_odd_size_disk_with_data_in_the_last_sector_round_trips(void **state)
{
	unsigned char *p = th_pattern(512, 7);
	uint64_t size = 3 * MiB + 512;
	const char *src = th_raw("odd.img", size, (uint64_t)0, p, (size_t)100,
				 size - 512, p, (size_t)512, END);
	struct disk *d;

	(void)state;
	th_round_trip(&fmt_qcow2, "", src, th_path("odd64k.qcow2"));
	th_round_trip(&fmt_qcow2, "cluster_size=512", src, th_path("odd512.qcow2"));
	th_round_trip(&fmt_qcow2, "cluster_size=2M", src, th_path("odd2m.qcow2"));
	d = th_open(th_path("odd64k.qcow2"));
	assert_int_equal(d->size, size);
	assert_string_equal(info_value(d, "allocated clusters"), "2");
	disk_close(d);
	free(p);
}

static void test_2gib_sparse_disk_with_scattered_data_round_trips(void **state)
{
	unsigned char *a = th_pattern(3 * 65536, 1), *b = th_pattern(4096, 2);
	uint64_t size = 2048 * MiB;
	const char *src = th_raw("big.img", size, (uint64_t)0, a, (size_t)512,
				 (uint64_t)100 * MiB + 1000, a, (size_t)(3 * 65536),
				 /* the end of L1 range 0 and the start of range 1 */
				 (uint64_t)512 * MiB - 4096, b, (size_t)4096,
				 (uint64_t)512 * MiB, b, (size_t)4096,
				 (uint64_t)1536 * MiB + 12345, b, (size_t)4096,
				 size - 512, b, (size_t)512, END);
	const char *out = th_path("big.qcow2");
	struct disk *d;
	uint64_t stored;
	struct msg m;

	(void)state;
	th_round_trip(&fmt_qcow2, "", src, out);
	/* header, 1 + 4 + 1 + 1 + 1 + 1 data clusters, L2 tables for L1 ranges 0, 1 and 3,
	 * L1, refcount block and table */
	assert_int_equal(th_size(out), (1 + 9 + 3 + 1 + 1 + 1) * 65536);
	d = th_open(out);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_int_equal(stored, 9 * 65536);
	disk_close(d);
	free(a);
	free(b);
}

/* 512-byte clusters: every 32 KiB of the disk has its own L2 table. */
static void test_data_in_every_l1_range_gets_an_l2_table_each(void **state)
{
	unsigned char *p = th_pattern(512, 3);
	const char *src = th_path("ranges.img");
	FILE *f = fopen(src, "w");
	struct disk *d;

	(void)state;
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), (off_t)MiB), 0);
	for (unsigned r = 0; r < 32; r++) {
		assert_int_equal(fseek(f, (long)(r * 32768 + r * 512), SEEK_SET), 0);
		assert_int_equal(fwrite(p, 1, 512, f), 512);
	}
	assert_int_equal(fclose(f), 0);
	th_round_trip(&fmt_qcow2, "cluster_size=512", src, th_path("ranges.qcow2"));
	/* header, 32 data, 32 L2, 1 L1, 1 refcount block, 1 refcount table */
	assert_int_equal(th_size(th_path("ranges.qcow2")), (1 + 32 + 32 + 1 + 1 + 1) * 512);
	d = th_open(th_path("ranges.qcow2"));
	assert_string_equal(info_value(d, "allocated clusters"), "32");
	disk_close(d);
	free(p);
}

/* One refcount block of 512 bytes counts 256 clusters: the image crosses that line
 * as its data grows, and the refcount structures must count themselves. */
static void test_refcounts_cover_the_refcount_structures_across_block_boundaries(void **state)
{
	unsigned char *p = th_pattern(262 * 512, 4);

	(void)state;
	for (size_t n = 240; n <= 262; n++) {
		char name[32];
		const char *src, *out;

		snprintf(name, sizeof name, "n%zu.img", n);
		src = th_raw(name, MiB, (uint64_t)0, p, n * 512, END);
		snprintf(name, sizeof name, "n%zu.qcow2", n);
		out = th_path(name);
		th_round_trip(&fmt_qcow2, "cluster_size=512", src, out);
		/* header, n data, ceil(n / 64) L2, 1 L1: 254 clusters at n = 248, then the
		 * refcount block and table make exactly 256; one more needs a second block. */
		if (n == 248)
			assert_int_equal(th_size(out), 256 * 512);
		if (n == 249)
			assert_int_equal(th_size(out), 258 * 512);
		unlink(src);
		unlink(out);
	}
	free(p);
}

static void test_writing_twice_gives_identical_bytes(void **state)
{
	const char *a = boot_qcow2("a.qcow2", "cluster_size=512");
	const char *b = boot_qcow2("b.qcow2", "cluster_size=512");
	size_t la, lb;
	unsigned char *x = th_slurp(a, &la), *y = th_slurp(b, &lb);

	(void)state;
	assert_int_equal(la, lb);
	assert_memory_equal(x, y, la);
	free(x);
	free(y);
}

static void test_a_qcow2_source_converts_to_qcow2(void **state)
{
	const char *a = boot_qcow2("a.qcow2", ""), *b = th_path("b.qcow2");

	(void)state;
	th_round_trip(&fmt_qcow2, "cluster_size=512", a, b);
	assert_int_equal(th_size(b), 3072);
}

static void test_a_disk_too_large_for_512_byte_clusters_is_refused(void **state)
{
	uint64_t size = 129 * 1024 * MiB;
	const char *src = th_raw("huge.img", size, END), *out = th_path("huge.qcow2");
	char want[300];

	(void)state;
	snprintf(want, sizeof want, "%s: a disk of %llu bytes with 512-byte clusters needs an "
		 "L1 table larger than QEMU's limit of 32 MiB; use a larger -o cluster_size.",
		 out, (unsigned long long)size);
	assert_string_equal(write_error("cluster_size=512", src, out), want);
	/* 1 KiB clusters: 1,056,768 L1 entries in 8,256 clusters, then 17 refcount blocks
	 * and one refcount table cluster after the header. */
	th_write_ok(&fmt_qcow2, "cluster_size=1K", src, out);
	assert_int_equal(th_size(out), (1 + 8256 + 17 + 1) * 1024);
}

/* --- options ---------------------------------------------------------------------- */

static void test_bad_option_values_are_refused_with_exact_text(void **state)
{
	const char *src = boot_disk(), *out = th_path("bad.qcow2");

	(void)state;
	assert_string_equal(write_error("cluster_size=3", src, out),
			    "-o cluster_size=3: the cluster size must be a power of two from 512 "
			    "to 2097152 bytes (K, M and G may follow the number).");
	assert_string_equal(write_error("cluster_size=256", src, out),
			    "-o cluster_size=256: the cluster size must be a power of two from "
			    "512 to 2097152 bytes (K, M and G may follow the number).");
	assert_string_equal(write_error("cluster_size=4M", src, out),
			    "-o cluster_size=4M: the cluster size must be a power of two from 512 "
			    "to 2097152 bytes (K, M and G may follow the number).");
	assert_string_equal(write_error("cluster_size=64X", src, out),
			    "-o cluster_size=64X: the cluster size must be a power of two from "
			    "512 to 2097152 bytes (K, M and G may follow the number).");
	assert_string_equal(write_error("compat=2", src, out),
			    "-o compat=2: compat is 1.1 or 0.10.");
	assert_string_equal(write_error("refcount_bits=16", src, out),
			    "qcow2 has no option refcount_bits; it takes compat, cluster_size and "
			    "compression_type.");
}

/* --- opening: every refusal --------------------------------------------------------- */

static void test_a_file_shorter_than_the_header_is_refused(void **state)
{
	const char *out = boot_qcow2("short.qcow2", "cluster_size=512");

	(void)state;
	th_truncate(out, 50);
	assert_string_equal(th_open_error(out),
			    unusable(out, "it is 50 bytes, too short for the 72-byte header."));
	th_truncate(out, 80);
	assert_string_equal(th_open_error(out),
			    unusable(out, "it is 80 bytes, too short for the 104-byte version 3 "
				     "header."));
}

static void test_a_truncated_image_is_refused(void **state)
{
	const char *out = boot_qcow2("t.qcow2", "cluster_size=512");

	(void)state;
	th_truncate(out, 2560);		/* the refcount table is gone */
	assert_string_equal(th_open_error(out),
			    unusable(out, "its refcount table (offset 0xa00) runs past the end "
				     "of the file."));
	th_truncate(out, 1600);		/* and most of the L1 table */
	assert_string_equal(th_open_error(out),
			    unusable(out, "its L1 table (offset 0x600) runs past the end of the "
				     "file."));
}

static void test_header_fields_out_of_range_are_refused(void **state)
{
	const char *out = boot_qcow2("h.qcow2", "cluster_size=512");

	(void)state;
	/* Version 1 is qcow, another format: probed, it is refused by that name. */
	th_poke_be32(out, 4, 1);
	assert_string_equal(th_open_error(out),
			    th_text("%s is a qcow version 1 image; imgtool reads raw, vhd, vhdx, vdi, "
				    "vmdk and qcow2 (-f raw reads it as a raw disk).", out));
	assert_string_equal(th_open_as_error(out, &fmt_qcow2),
			    unusable(out, "its version is 1; imgtool reads versions 2 and 3."));
	th_poke_be32(out, 4, 4);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its version is 4; imgtool reads versions 2 and 3."));
	th_poke_be32(out, 4, 3);
	th_poke_be32(out, 20, 8);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its cluster bits 8 are outside 9..21 (512 bytes to 2 "
				     "MiB)."));
	th_poke_be32(out, 20, 22);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its cluster bits 22 are outside 9..21 (512 bytes to 2 "
				     "MiB)."));
	th_poke_be32(out, 20, 9);
	th_poke_be32(out, 100, 100);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its header length 100 is not a multiple of 8 from 104 "
				     "to the cluster size."));
	th_poke_be32(out, 100, 108);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its header length 108 is not a multiple of 8 from 104 "
				     "to the cluster size."));
	th_poke_be32(out, 100, 104);
	th_poke_be32(out, 96, 7);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its refcount order 7 is more than 6 (64-bit "
				     "refcounts)."));
	th_poke_be32(out, 96, 4);
	poke_be64(out, 24, MiB + 100);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its virtual size 1048676 is not a whole number of "
				     "512-byte sectors."));
	poke_be64(out, 24, MiB);
	th_poke_be32(out, 36, 31);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its L1 table has 31 entries, too few for a virtual size "
				     "of 1048576 bytes (32 needed)."));
	th_poke_be32(out, 36, 8u << 20);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its L1 table of 8388608 entries is larger than QEMU's "
				     "limit of 32 MiB."));
	th_poke_be32(out, 36, 32);
	disk_close(th_open(out));
}

static void test_table_offsets_are_checked_at_open(void **state)
{
	const char *out = boot_qcow2("o.qcow2", "cluster_size=512");

	(void)state;
	poke_be64(out, 40, B_L1 + 8);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its L1 table (offset 0x608) is not cluster-aligned."));
	poke_be64(out, 40, 0x1000);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its L1 table (offset 0x1000) runs past the end of the "
				     "file."));
	poke_be64(out, 40, B_L1);
	poke_be64(out, 48, B_REFT + 1);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its refcount table (offset 0xa01) is not "
				     "cluster-aligned."));
	poke_be64(out, 48, B_REFT);
	th_poke_be32(out, 56, 0);
	assert_string_equal(th_open_error(out), unusable(out, "it has no refcount table."));
	th_poke_be32(out, 56, 1u << 20);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its refcount table of 1048576 clusters is larger than "
				     "QEMU's limit of 8 MiB."));
	th_poke_be32(out, 56, 1);
	th_poke_be32(out, 60, 1);
	poke_be64(out, 64, 0x1000);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its snapshot table (offset 0x1000) runs past the end of "
				     "the file."));
	th_poke_be32(out, 60, 70000);
	assert_string_equal(th_open_error(out),
			    unusable(out, "it claims 70000 snapshots, more than QEMU's limit of "
				     "65536."));
}

static void test_missing_backing_files_encryption_and_external_data_are_refused(void **state)
{
	const char *out = boot_qcow2("f.qcow2", "cluster_size=512");
	char want[300];

	(void)state;
	/* A backing file is read through now; one that is not there is one sentence. */
	poke_be64(out, 8, 0x1F0);
	th_poke_be32(out, 16, 8);
	th_poke(out, 0x1F0, "none.raw", 8);
	snprintf(want, sizeof want, "the backing file %s of %s cannot be opened: No such file "
		 "or directory.", th_path("none.raw"), out);
	assert_string_equal(th_open_error(out), want);
	th_poke(out, 0x1F0, "none\0raw", 8);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its backing file name holds a NUL byte."));
	th_poke_be32(out, 16, 1024);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its backing file name is 1024 bytes; QEMU takes 1 to "
				     "1023."));
	th_poke_be32(out, 16, 0x20);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its backing file name (offset 0x1f0) runs past the first "
				     "cluster."));
	poke_be64(out, 8, 0);
	th_poke_be32(out, 16, 0);
	th_poke_be32(out, 32, 2);
	snprintf(want, sizeof want, "%s is encrypted (LUKS); imgtool reads unencrypted images "
		 "only.", out);
	assert_string_equal(th_open_error(out), want);
	th_poke_be32(out, 32, 1);
	snprintf(want, sizeof want, "%s is encrypted (AES); imgtool reads unencrypted images "
		 "only.", out);
	assert_string_equal(th_open_error(out), want);
	th_poke_be32(out, 32, 0);
	poke_be64(out, 72, 1u << 2);
	snprintf(want, sizeof want, "%s keeps its data in an external data file; imgtool reads "
		 "standalone images only.", out);
	assert_string_equal(th_open_error(out), want);
}

static void test_incompatible_features_are_refused_unless_known(void **state)
{
	const char *out = boot_qcow2("i.qcow2", "cluster_size=512");
	char want[300];

	(void)state;
	poke_be64(out, 72, 0x60);
	assert_string_equal(th_open_error(out),
			    unusable(out, "it has incompatible feature bits 0x60 that imgtool "
				     "does not know."));
	poke_be64(out, 72, 1u << 4);
	snprintf(want, sizeof want, "%s uses extended L2 entries (subclusters), which imgtool "
		 "does not read.", out);
	assert_string_equal(th_open_error(out), want);
	/* A 112-byte header with the compression type byte at 104: zstd (1) reads, a type
	 * after it does not */
	th_poke_be32(out, 100, 112);
	th_poke(out, 104, "\1", 1);
	poke_be64(out, 72, 1u << 3);
	disk_close(th_open(out));
	th_poke(out, 104, "\2", 1);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its compression type 2 is not one imgtool knows."));
	th_poke(out, 104, "\1", 1);
	poke_be64(out, 72, 0);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its compression type is 1 but the compression type "
				     "feature bit is clear."));
	th_poke(out, 104, "\0", 1);
	disk_close(th_open(out));
}

static void test_a_header_extension_past_the_first_cluster_is_refused(void **state)
{
	const char *out = boot_qcow2("e.qcow2", "cluster_size=512");

	(void)state;
	th_poke_be32(out, 104, 0x12345678);
	th_poke_be32(out, 108, 401);
	assert_string_equal(th_open_error(out),
			    unusable(out, "its header extension 0x12345678 at offset 0x68 runs "
				     "past the first cluster."));
	th_poke_be32(out, 108, 400);		/* exactly to the end of cluster 0: fine */
	disk_close(th_open(out));
}

static void test_dirty_and_corrupt_images_read_but_check_reports_them(void **state)
{
	const char *src = boot_disk(), *out = th_path("d.qcow2");
	char want[400];
	struct disk *a, *b;

	(void)state;
	th_write_ok(&fmt_qcow2, "cluster_size=512", src, out);
	poke_be64(out, 72, 3);
	a = th_open(src);
	b = th_open(out);
	th_assert_same(a, b);
	assert_string_equal(info_value(b, "features"), "dirty, corrupt");
	disk_close(a);
	disk_close(b);
	snprintf(want, sizeof want, "%s: it is marked dirty: it was not closed cleanly, and its "
		 "refcounts may be stale.\n%s: QEMU marked it corrupt.", out, out);
	assert_string_equal(th_faults(out), want);
}

/* --- reading: entries that point where they may not --------------------------------- */

static void test_an_l2_table_past_the_end_is_a_read_error(void **state)
{
	const char *out = boot_qcow2("r.qcow2", "cluster_size=512");

	(void)state;
	poke_be64(out, B_L1, COPIED | 0x10000);
	assert_string_equal(th_read_error(out, 0, 512),
			    unusable(out, "the L2 table at offset 0x10000 (L1 entry 0) runs past "
				     "the end of the file."));
}

static void test_an_unaligned_l2_table_is_a_read_error(void **state)
{
	const char *out = boot_qcow2("r.qcow2", "");

	(void)state;
	poke_be64(out, K_L1, COPIED | (K_L2 + 512));
	assert_string_equal(th_read_error(out, 0, 512),
			    unusable(out, "L1 entry 0 points to offset 0x20200, which is not "
				     "cluster-aligned."));
}

static void test_a_data_cluster_past_the_end_is_a_read_error(void **state)
{
	const char *out = boot_qcow2("r.qcow2", "cluster_size=512");

	(void)state;
	poke_be64(out, B_L2, COPIED | 0x100000);
	assert_string_equal(th_read_error(out, 0, 4096),
			    unusable(out, "the data of guest offset 0x0 (at offset 0x100000) runs "
				     "past the end of the file."));
}

static void test_an_unaligned_data_cluster_is_a_read_error(void **state)
{
	const char *out = boot_qcow2("r.qcow2", "");

	(void)state;
	poke_be64(out, K_L2, COPIED | (K_DATA + 512));
	assert_string_equal(th_read_error(out, 0, 512),
			    unusable(out, "the L2 entry of guest offset 0x0 points to offset "
				     "0x10200, which is not cluster-aligned."));
}

static void test_the_zero_flag_reads_zeros_in_version_3_and_is_an_error_in_version_2(void **state)
{
	const char *out = boot_qcow2("z.qcow2", "cluster_size=512");
	unsigned char buf[512], zeros[512] = { 0 };
	struct disk *d;
	uint64_t stored;
	struct msg m;

	(void)state;
	poke_be64(out, B_L2, COPIED | B_DATA | 1);
	d = th_open(out);
	assert_int_equal(disk_read(d, buf, sizeof buf, 0, &m), 0);
	assert_memory_equal(buf, zeros, sizeof buf);
	assert_int_equal(disk_stored_bytes(d, &stored, &m), 0);
	assert_int_equal(stored, 0);
	th_assert_clean(d);
	disk_close(d);
	th_poke_be32(out, 4, 2);
	assert_string_equal(th_read_error(out, 0, 512),
			    unusable(out, "the L2 entry of guest offset 0x0 has the all-zeros "
				     "flag, which version 2 images do not have."));
}

/* Deflate the boot sector raw (no zlib header) into cluster 1, as qemu-img -c does. */
static size_t compress_boot_sector(const char *path)
{
	unsigned char z[512] = { 0 };
	z_stream s;

	memset(&s, 0, sizeof s);
	assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = boot_sector;
	s.avail_in = sizeof boot_sector;
	s.next_out = z;
	s.avail_out = sizeof z;
	assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
	deflateEnd(&s);
	th_poke(path, B_DATA, z, sizeof z);
	/* x = 62 - (9 - 8) = 61: the offset below bit 61, no additional sectors. */
	poke_be64(path, B_L2, COMPRESSED | B_DATA);
	return sizeof z - s.avail_out;
}

static void test_compressed_clusters_are_read(void **state)
{
	const char *out = boot_qcow2("c.qcow2", "cluster_size=512");
	struct disk *a, *b;

	(void)state;
	assert_true(compress_boot_sector(out) < 200);
	a = th_open(th_path("boot.img"));
	b = th_open(out);
	th_assert_same(a, b);
	th_assert_clean(b);
	assert_string_equal(info_value(b, "compressed clusters"), "1");
	disk_close(a);
	disk_close(b);
	th_round_trip(&fmt_qcow2, "cluster_size=512", out, th_path("plain.qcow2"));
}

static void test_a_compressed_cluster_that_does_not_inflate_is_a_read_error(void **state)
{
	const char *out = boot_qcow2("c.qcow2", "cluster_size=512");
	unsigned char junk[512];

	(void)state;
	compress_boot_sector(out);
	memset(junk, 0xFF, sizeof junk);
	th_poke(out, B_DATA, junk, sizeof junk);
	assert_string_equal(th_read_error(out, 0, 512),
			    unusable(out, "the compressed cluster of guest offset 0x0 (at offset "
				     "0x200) does not inflate to a whole cluster."));
	poke_be64(out, B_L2, COMPRESSED | 0x100000);
	assert_string_equal(th_read_error(out, 0, 512),
			    unusable(out, "the compressed data of guest offset 0x0 (at offset "
				     "0x100000) lies past the end of the file."));
}

/* --- check -------------------------------------------------------------------------- */

static void test_check_finds_a_used_cluster_with_refcount_0(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	char want[300];

	(void)state;
	poke_be16(out, B_REFB + 2, 0);
	snprintf(want, sizeof want, "%s: the refcount of cluster 1 (offset 0x200) is 0 but it "
		 "is used as guest data.", out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_a_refcount_that_differs_from_the_references(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	char want[300];

	(void)state;
	poke_be16(out, B_REFB + 4, 2);
	snprintf(want, sizeof want, "%s: the refcount of cluster 2 (offset 0x400) is 2 but it "
		 "is used 1 time.", out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_a_leaked_cluster(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	char want[300];

	(void)state;
	th_truncate(out, 3584);
	poke_be16(out, B_REFB + 12, 1);
	snprintf(want, sizeof want, "%s: cluster 6 (offset 0xc00) has refcount 1 but nothing "
		 "uses it (a leak).", out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_a_refcount_past_the_end_of_the_file(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	char want[300];

	(void)state;
	poke_be16(out, B_REFB + 20, 1);
	snprintf(want, sizeof want, "%s: 1 clusters past the end of the file have a refcount.",
		 out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_wrong_copied_flags(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	char want[300];

	(void)state;
	poke_be64(out, B_L2, B_DATA);
	snprintf(want, sizeof want, "%s: the L2 entry of guest offset 0x0 names a cluster with "
		 "refcount 1 but its copied flag is clear.", out);
	assert_string_equal(th_faults(out), want);
	poke_be64(out, B_L2, COPIED | B_DATA);
	poke_be64(out, B_L1, B_L2);
	snprintf(want, sizeof want, "%s: L1 entry 0 names an L2 table with refcount 1 but its "
		 "copied flag is clear.", out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_overlapping_structures(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	char want[300];

	(void)state;
	poke_be64(out, B_L2 + 8, COPIED | B_REFB);	/* guest cluster 1 on the refcounts */
	snprintf(want, sizeof want, "%s: cluster 4 (offset 0x800) is used both as a refcount "
		 "block and as guest data.", out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_unaligned_and_outside_entries(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "");
	char want[600];

	(void)state;
	poke_be64(out, K_L2, COPIED | (K_DATA + 512));
	snprintf(want, sizeof want, "%s: entry 0 of the L2 table at offset 0x20000 points to "
		 "data at 0x10200, which is not cluster-aligned.\n"
		 "%s: cluster 1 (offset 0x10000) has refcount 1 but nothing uses it (a leak).",
		 out, out);
	assert_string_equal(th_faults(out), want);
	poke_be64(out, K_L2, COPIED | 0x1000000);
	snprintf(want, sizeof want, "%s: entry 0 of the L2 table at offset 0x20000 points to "
		 "data at 0x1000000, past the end of the file.\n"
		 "%s: cluster 1 (offset 0x10000) has refcount 1 but nothing uses it (a leak).",
		 out, out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_finds_reserved_bits(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	char want[600];

	(void)state;
	poke_be64(out, B_L1, COPIED | B_L2 | 1);
	snprintf(want, sizeof want, "%s: entry 0 of the L1 table at offset 0x600 "
		 "(0x8000000000000401) has reserved bits set.", out);
	assert_string_equal(th_faults(out), want);
}

static void test_check_lists_at_most_fifty_faults(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	struct faults f = { .n = 0 };
	char last[200];
	struct disk *d;

	(void)state;
	/* 63 L2 entries with a reserved bit set */
	for (unsigned i = 1; i < 64; i++)
		poke_be64(out, B_L2 + 8 * i, 2);
	d = th_open(out);
	d->check(d, &f);
	assert_int_equal(f.n, 51);
	snprintf(last, sizeof last, "%s: 13 more faults are not listed.", out);
	assert_string_equal(f.text[50], last);
	faults_free(&f);
	disk_close(d);
}

static void test_a_clean_image_has_no_faults_and_full_info(void **state)
{
	const char *out = boot_qcow2("k.qcow2", "cluster_size=512");
	struct disk *d = th_open(out);

	(void)state;
	th_assert_clean(d);
	assert_string_equal(info_value(d, "compat"), "1.1");
	assert_string_equal(info_value(d, "version"), "3");
	assert_string_equal(info_value(d, "cluster size"), "512");
	assert_string_equal(info_value(d, "l1 entries"), "32");
	assert_string_equal(info_value(d, "refcount order"), "4");
	assert_string_equal(info_value(d, "refcount bits"), "16");
	assert_string_equal(info_value(d, "header length"), "104");
	assert_string_equal(info_value(d, "allocated clusters"), "1");
	assert_string_equal(info_value(d, "features"), "(absent)");
	disk_close(d);
}

/* --- QEMU's own images (qemu-img and qemu-io: ci/install-deps installs qemu-utils) --- */

static void run(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static void test_qemu_images_with_snapshots_compression_and_zero_clusters_read_clean(void **state)
{
	const char *img = th_path("s.qcow2"), *ref = th_path("s.raw");
	uint64_t l2, host, refblock;
	struct disk *a, *b;
	char want[300];

	(void)state;
	run("qemu-img create -q -f qcow2 -o cluster_size=4096 %s 4M", img);
	run("qemu-io -c 'write -P 0x11 0 128k' -c 'write -P 0x22 1M 64k' %s >/dev/null", img);
	run("qemu-img snapshot -c one %s", img);
	run("qemu-io -c 'write -P 0x33 0 8k' -c 'write -z 1M 8k' -c 'write -z 2M 4k' "
	    "%s >/dev/null", img);
	run("qemu-img convert -O raw %s %s", img, ref);
	a = th_open(ref);
	b = th_open(img);
	th_assert_same(a, b);
	th_assert_clean(b);
	assert_string_equal(info_value(b, "snapshots"), "1");
	disk_close(a);
	disk_close(b);
	/* Guest cluster 2 was written before the snapshot and not since: the snapshot and
	 * the active table share its host cluster, whose refcount is 2; make it 1. */
	l2 = peek_be64(img, peek_be64(img, 40)) & 0x00FFFFFFFFFFFE00ull;
	host = peek_be64(img, l2 + 2 * 8) & 0x00FFFFFFFFFFFE00ull;
	refblock = peek_be64(img, peek_be64(img, 48));
	poke_be16(img, refblock + host / 4096 * 2, 1);
	snprintf(want, sizeof want, "%s: the refcount of cluster %llu (offset 0x%llx) is 1 but "
		 "it is used 2 times.", img, (unsigned long long)(host / 4096),
		 (unsigned long long)host);
	assert_string_equal(th_faults(img), want);

	run("qemu-img convert -c -O qcow2 -o cluster_size=512 %s %s", ref, th_path("c.qcow2"));
	th_round_trip(&fmt_qcow2, "", th_path("c.qcow2"), th_path("c2.qcow2"));
	a = th_open(ref);
	b = th_open(th_path("c.qcow2"));
	th_assert_same(a, b);
	th_assert_clean(b);
	disk_close(a);
	disk_close(b);
}

/* --- probing ------------------------------------------------------------------------ */

static void test_probe_takes_qcow2_only(void **state)
{
	const char *boot = boot_disk(), *q = boot_qcow2("p.qcow2", "cluster_size=512");
	unsigned char vhd[512] = "conectix", qfi[512] = "QFI\xfb";
	struct disk *d;

	(void)state;
	assert_false(fmt_qcow2.probe(NULL, vhd, sizeof vhd));
	assert_false(fmt_qcow2.probe(NULL, qfi, 3));
	assert_true(fmt_qcow2.probe(NULL, qfi, 4));
	d = th_open(boot);
	assert_ptr_equal(d->fmt, &fmt_raw);
	disk_close(d);
	d = th_open(q);
	assert_ptr_equal(d->fmt, &fmt_qcow2);
	disk_close(d);
}

/* --- -c: compressed clusters ---------------------------------------------------------- */

/* src written as qcow2 -c with options opts at th_dir/name. */
static const char *compressed(const char *name, const char *opts, const char *src)
{
	struct opts o = { .n = 0 };
	struct msg m = { "" };
	struct disk *d = th_open(src);
	const char *out = th_path(name);

	if (*opts && opts_parse(&o, opts, &m) < 0)
		fail_msg("%s", m.text);
	o.compress = true;
	if (opts_validate(&o, fmt_qcow2.opts, "qcow2", &m) < 0 ||
	    fmt_qcow2.write(d, out, &o, &m) < 0)
		fail_msg("qcow2 -c -o \"%s\": %s", opts, m.text);
	opts_free(&o);
	disk_close(d);
	return out;
}

/* A 1 MiB disk: text in clusters 0 and 1 (4 KiB clusters), random bytes in cluster 4,
 * both again at 512 KiB. */
static const char *mixed_disk(void)
{
	static char text[8192];
	unsigned char *rnd = malloc(4096);
	uint64_t x = 88172645463325252ull;
	const char *p;

	assert_non_null(rnd);
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = "the quick brown fox jumps over the lazy dog "[i % 44];
	for (size_t i = 0; i < 4096; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		rnd[i] = (unsigned char)x;
	}
	p = th_raw("mixed.img", 1 << 20, (uint64_t)0, text, sizeof text, (uint64_t)16384, rnd,
		   (size_t)4096, (uint64_t)512 << 10, text, sizeof text,
		   (uint64_t)(512 << 10) + 16384, rnd, (size_t)4096, UINT64_MAX);
	free(rnd);
	return p;
}

/* The L2 entry of guest cluster vc in an image with one L2 table. */
static uint64_t l2_entry(const char *img, unsigned cbits, uint64_t vc)
{
	uint64_t l1 = peek_be64(img, 40), l2 = peek_be64(img, l1) & 0x00FFFFFFFFFFFE00ull;

	(void)cbits;
	return peek_be64(img, l2 + vc * 8);
}

static void test_c_compresses_what_shrinks_and_stores_what_does_not(void **state)
{
	const char *src = mixed_disk();
	const char *img = compressed("c.qcow2", "cluster_size=4K", src);
	struct disk *a = th_open(src), *b = th_open(img);
	uint64_t text = l2_entry(img, 12, 0), text2 = l2_entry(img, 12, 1);
	uint64_t rnd = l2_entry(img, 12, 4);

	(void)state;
	th_assert_same(a, b);
	th_assert_clean(b);
	assert_string_equal(th_info(b, "compressed clusters"), "4");
	assert_string_equal(th_info(b, "compression type"), "zlib");
	/* text: compressed, not copied; both in the same host cluster, one after the
	 * other (x = 62 - (12 - 8) = 58 bits of offset) */
	assert_true(text & (1ull << 62));
	assert_false(text & (1ull << 63));
	assert_true(text2 & (1ull << 62));
	assert_int_equal((text & ((1ull << 58) - 1)) >> 12, (text2 & ((1ull << 58) - 1)) >> 12);
	assert_true((text2 & ((1ull << 58) - 1)) > (text & ((1ull << 58) - 1)));
	/* random: stored as it is, cluster-aligned, copied */
	assert_false(rnd & (1ull << 62));
	assert_true(rnd & (1ull << 63));
	assert_int_equal(rnd & 0xFFF, 0);
	/* the header is QEMU's version 3 one: 104 bytes, no compression feature */
	assert_int_equal(peek_be32(img, 100), 104);
	assert_int_equal(peek_be64(img, 72), 0);
	disk_close(a);
	disk_close(b);
}

static void test_c_with_zstd_sets_the_compression_type_and_reads_back(void **state)
{
	const char *src = mixed_disk();
	const char *img = compressed("z.qcow2", "compression_type=zstd,cluster_size=4K", src);
	struct disk *a = th_open(src), *b = th_open(img);
	unsigned char type;

	(void)state;
	th_assert_same(a, b);
	th_assert_clean(b);
	assert_string_equal(th_info(b, "compression type"), "zstd");
	assert_string_equal(th_info(b, "header length"), "112");
	assert_int_equal(peek_be64(img, 72), 1u << 3);
	th_read_at(img, 104, &type, 1);
	assert_int_equal(type, 1);
	/* the zstd frame magic at the first compressed cluster's offset */
	assert_int_equal(peek_be32(img, l2_entry(img, 12, 0) & ((1ull << 58) - 1)),
			 0x28B52FFDu);
	disk_close(a);
	disk_close(b);
}

static void test_c_writes_the_same_bytes_every_time(void **state)
{
	const char *src = mixed_disk();
	size_t la, lb;
	unsigned char *a, *b;

	(void)state;
	a = th_slurp(compressed("a.qcow2", "compression_type=zstd", src), &la);
	b = th_slurp(compressed("b.qcow2", "compression_type=zstd", src), &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
}

static void test_many_small_compressed_clusters_share_host_clusters(void **state)
{
	/* 2,048 clusters of 512 bytes of one repeated byte: each compresses to a few
	 * bytes, so dozens share a host cluster and its refcount counts them all */
	unsigned char *p = malloc(1 << 20);
	const char *src, *img;
	struct disk *a, *b;

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < 1 << 20; i++)
		p[i] = (unsigned char)(1 + i / 512 % 251);
	src = th_raw("small.img", 1 << 20, (uint64_t)0, p, (size_t)1 << 20, UINT64_MAX);
	free(p);
	img = compressed("s.qcow2", "cluster_size=512", src);
	a = th_open(src);
	b = th_open(img);
	th_assert_same(a, b);
	th_assert_clean(b);
	assert_string_equal(th_info(b, "compressed clusters"), "2048");
	assert_true(b->file.size < 200 * 1024);
	disk_close(a);
	disk_close(b);
}

static void test_c_ends_the_file_where_the_last_compressed_bytes_end(void **state)
{
	/* two 64 KiB clusters of text compress to a few hundred bytes each, packed in
	 * the last host cluster: the tables come before the data, so the file ends at the
	 * end of their last sector, not at a whole cluster */
	static char text[2 * 65536];
	const char *src, *img;
	struct disk *a, *b;

	(void)state;
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = "pack my box with five dozen liquor jugs "[i % 40];
	src = th_raw("t.img", 1 << 20, (uint64_t)65536, text, sizeof text, UINT64_MAX);
	img = compressed("t.qcow2", "", src);
	a = th_open(src);
	b = th_open(img);
	th_assert_same(a, b);
	th_assert_clean(b);
	assert_int_not_equal(b->file.size % 65536, 0);
	assert_int_equal(b->file.size % 512, 0);
	/* header, refcount table, L1, refcount block, L2, then the packed bytes */
	assert_true(b->file.size < 5 * 65536 + 4096);
	disk_close(a);
	disk_close(b);
}

static void test_zstd_needs_version_3(void **state)
{
	(void)state;
	assert_string_equal(write_error("compat=0.10,compression_type=zstd", boot_disk(),
					th_path("v2.qcow2")),
			    "-o compression_type=zstd needs compat=1.1: a version 2 image has no "
			    "compression type.");
	assert_string_equal(write_error("compression_type=lz4", boot_disk(), th_path("x.qcow2")),
			    "-o compression_type=lz4: compression_type is zlib or zstd.");
}

static void test_a_zstd_cluster_that_does_not_decompress_is_a_read_error(void **state)
{
	const char *img = compressed("z.qcow2", "compression_type=zstd,cluster_size=4K",
				     mixed_disk());
	uint64_t at = l2_entry(img, 12, 0) & ((1ull << 58) - 1);
	char want[300];

	(void)state;
	th_poke(img, at + 4, "\xff\xff\xff\xff", 4);
	snprintf(want, sizeof want, "the compressed cluster of guest offset 0x0 (at offset "
		 "0x%llx) does not decompress to a whole cluster.", (unsigned long long)at);
	assert_string_equal(th_read_error(img, 0, 4096), unusable(img, want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_boot_disk_with_512_byte_clusters_is_3072_bytes_in_six_clusters),
		TH_TEST(test_boot_disk_with_default_64k_clusters_is_393216_bytes),
		TH_TEST(test_boot_disk_with_2m_clusters_is_six_clusters),
		TH_TEST(test_compat_0_10_writes_a_72_byte_version_2_header),
		TH_TEST(test_compat_1_1_is_version_3),
		TH_TEST(test_all_zero_disk_is_header_l1_and_refcounts_only),
		TH_TEST(test_odd_size_disk_with_data_in_the_last_sector_round_trips),
		TH_TEST(test_2gib_sparse_disk_with_scattered_data_round_trips),
		TH_TEST(test_data_in_every_l1_range_gets_an_l2_table_each),
		TH_TEST(test_refcounts_cover_the_refcount_structures_across_block_boundaries),
		TH_TEST(test_writing_twice_gives_identical_bytes),
		TH_TEST(test_a_qcow2_source_converts_to_qcow2),
		TH_TEST(test_a_disk_too_large_for_512_byte_clusters_is_refused),
		TH_TEST(test_bad_option_values_are_refused_with_exact_text),
		TH_TEST(test_a_file_shorter_than_the_header_is_refused),
		TH_TEST(test_a_truncated_image_is_refused),
		TH_TEST(test_header_fields_out_of_range_are_refused),
		TH_TEST(test_table_offsets_are_checked_at_open),
		TH_TEST(test_missing_backing_files_encryption_and_external_data_are_refused),
		TH_TEST(test_incompatible_features_are_refused_unless_known),
		TH_TEST(test_a_header_extension_past_the_first_cluster_is_refused),
		TH_TEST(test_dirty_and_corrupt_images_read_but_check_reports_them),
		TH_TEST(test_an_l2_table_past_the_end_is_a_read_error),
		TH_TEST(test_an_unaligned_l2_table_is_a_read_error),
		TH_TEST(test_a_data_cluster_past_the_end_is_a_read_error),
		TH_TEST(test_an_unaligned_data_cluster_is_a_read_error),
		TH_TEST(test_the_zero_flag_reads_zeros_in_version_3_and_is_an_error_in_version_2),
		TH_TEST(test_compressed_clusters_are_read),
		TH_TEST(test_a_compressed_cluster_that_does_not_inflate_is_a_read_error),
		TH_TEST(test_check_finds_a_used_cluster_with_refcount_0),
		TH_TEST(test_check_finds_a_refcount_that_differs_from_the_references),
		TH_TEST(test_check_finds_a_leaked_cluster),
		TH_TEST(test_check_finds_a_refcount_past_the_end_of_the_file),
		TH_TEST(test_check_finds_wrong_copied_flags),
		TH_TEST(test_check_finds_overlapping_structures),
		TH_TEST(test_check_finds_unaligned_and_outside_entries),
		TH_TEST(test_check_finds_reserved_bits),
		TH_TEST(test_check_lists_at_most_fifty_faults),
		TH_TEST(test_a_clean_image_has_no_faults_and_full_info),
		TH_TEST(test_qemu_images_with_snapshots_compression_and_zero_clusters_read_clean),
		TH_TEST(test_probe_takes_qcow2_only),
		TH_TEST(test_c_compresses_what_shrinks_and_stores_what_does_not),
		TH_TEST(test_c_with_zstd_sets_the_compression_type_and_reads_back),
		TH_TEST(test_c_writes_the_same_bytes_every_time),
		TH_TEST(test_many_small_compressed_clusters_share_host_clusters),
		TH_TEST(test_c_ends_the_file_where_the_last_compressed_bytes_end),
		TH_TEST(test_zstd_needs_version_3),
		TH_TEST(test_a_zstd_cluster_that_does_not_decompress_is_a_read_error),
	};

	return cmocka_run_group_tests_name("qcow2", tests, NULL, NULL);
}
