/* imgtool_harness.h - what the imgtool unit tests share: temporary folders, raw
 * source disks made to order, the write-then-read round trip every format must pass,
 * and reads and pokes of an image's fields. Include it before <cmocka.h>'s users;
 * every helper asserts, so a test reads as a list of facts.
 */
#ifndef IMGTOOL_HARNESS_H
#define IMGTOOL_HARNESS_H

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "disk.h"
#include "format.h"
#include "options.h"
#include "report.h"

#include <setjmp.h>
#include <cmocka.h>

/* The folder of the test that is running; removed by th_teardown. */
static char th_dir[64];

static inline int th_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Setup and teardown for cmocka_unit_test_setup_teardown. */
static inline int th_setup(void **state)
{
	(void)state;
	/* make exports it; each test starts without it and sets it when it wants it. */
	unsetenv("SOURCE_DATE_EPOCH");
	snprintf(th_dir, sizeof th_dir, "/tmp/test_imgtool-XXXXXX");
	return mkdtemp(th_dir) ? 0 : -1;
}

static inline int th_teardown(void **state)
{
	(void)state;
	return nftw(th_dir, th_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* th_dir/name, in a static ring of buffers: a test may keep 32 names at once. */
static inline const char *th_path(const char *name)
{
	static char ring[32][256];
	static int next;
	char *p = ring[next++ % 32];

	snprintf(p, sizeof ring[0], "%s/%s", th_dir, name);
	return p;
}

/* printf into a static buffer: expected messages carry th_dir's paths. */
static inline const char *th_text(const char *fmt, ...) PRINTF_LIKE(1, 2);
static inline const char *th_text(const char *fmt, ...)
{
	static char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return buf;
}

/* A raw disk of size bytes (sparse), with len bytes of data at each off:
 * th_raw("src.img", 1 << 20, 0, boot, 512, 65536, blob, 4096, (uint64_t)-1). The data
 * pairs end with an offset of UINT64_MAX. Returns its path. */
static inline const char *th_raw(const char *name, uint64_t size, ...)
{
	const char *path = th_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	va_list ap;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	va_start(ap, size);
	for (;;) {
		uint64_t off = va_arg(ap, uint64_t);

		if (off == UINT64_MAX)
			break;
		const void *data = va_arg(ap, const void *);
		size_t len = va_arg(ap, size_t);

		assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	}
	va_end(ap);
	assert_int_equal(close(fd), 0);
	return path;
}

/* len bytes of a repeatable non-zero pattern seeded by seed (malloc'ed). */
static inline unsigned char *th_pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len);
	uint32_t x = seed * 2654435761u + 1;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x | 1);	/* never zero: a unit of it is data */
	}
	return p;
}

/* A 1 MiB raw disk at th_dir/name: sector at 0, signed 0x55AA as build/boot.img is. */
static inline const char *th_boot_disk_of(const char *name, unsigned char sector[512])
{
	sector[510] = 0x55;
	sector[511] = 0xAA;
	return th_raw(name, (uint64_t)1 << 20, (uint64_t)0, sector, (size_t)512, UINT64_MAX);
}

/* The usual boot disk: th_boot_disk_of with pattern bytes (seed 7) for the code. */
static inline const char *th_boot_disk(const char *name)
{
	unsigned char *sector = th_pattern(512, 7);
	const char *path = th_boot_disk_of(name, sector);

	free(sector);
	return path;
}

static inline struct disk *th_open(const char *path)
{
	struct disk *d = NULL;
	struct msg m = { "" };

	if (image_open(path, NULL, false, &d, &m) < 0)
		fail_msg("opening %s: %s", path, m.text);
	return d;
}

/* The message opening path as fmt (-f; NULL probes) fails with (asserting that it
 * fails). */
static inline const char *th_open_as_error(const char *path, const struct format *fmt)
{
	static struct msg m;
	struct disk *d = NULL;

	memset(&m, 0, sizeof m);
	if (image_open(path, fmt, false, &d, &m) == 0) {
		disk_close(d);
		fail_msg("%s opened, but should not have", path);
	}
	return m.text;
}

/* The message opening path fails with (asserting that it fails). */
static inline const char *th_open_error(const char *path)
{
	return th_open_as_error(path, NULL);
}

/* The message reading [off, off + len) of the image at path fails with (it must open). */
static inline const char *th_read_error(const char *path, uint64_t off, size_t len)
{
	static struct msg m;
	struct disk *d = th_open(path);
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	memset(&m, 0, sizeof m);
	if (disk_read(d, buf, len, off, &m) == 0)
		fail_msg("reading %s at %llu worked, but should not have", path,
			 (unsigned long long)off);
	free(buf);
	disk_close(d);
	return m.text;
}

/* Write src (a path) as fmt with options ("" for none) to out; returns the result and
 * leaves the message in m. */
static inline int th_write(const struct format *fmt, const char *options, const char *src,
			   const char *out, struct msg *m)
{
	struct opts o = { .n = 0 };
	struct disk *d = th_open(src);
	int rc;

	if (*options && opts_parse(&o, options, m) < 0) {
		disk_close(d);
		return -1;
	}
	rc = opts_validate(&o, fmt->opts, fmt->name, m);
	if (rc == 0)
		rc = fmt->write(d, out, &o, m);
	opts_free(&o);
	disk_close(d);
	return rc;
}

/* th_write that must work; returns out, so that a helper can hand the image on. */
static inline const char *th_write_ok(const struct format *fmt, const char *options,
				      const char *src, const char *out)
{
	struct msg m = { "" };

	if (th_write(fmt, options, src, out, &m) < 0)
		fail_msg("writing %s as %s -o \"%s\": %s", out, fmt->name, options, m.text);
	return out;
}

/* The message writing src as fmt to out fails with (asserting that it fails). */
static inline const char *th_write_error(const struct format *fmt, const char *options,
					 const char *src, const char *out)
{
	static struct msg m;

	memset(&m, 0, sizeof m);
	assert_int_equal(th_write(fmt, options, src, out, &m), -1);
	return m.text;
}

/* th_write_error, and out must not exist after: output is all or nothing. */
static inline const char *th_write_refused(const struct format *fmt, const char *options,
					   const char *src, const char *out)
{
	const char *text = th_write_error(fmt, options, src, out);

	assert_int_equal(access(out, F_OK), -1);
	return text;
}

/* Every byte of a and b equal, and the same virtual size. Ranges that neither disk
 * stores read as zeros on both by definition, so they are skipped: reading a sparse
 * 2 GiB file byte by byte would only fill the page cache with zeros. Returns how many
 * bytes were compared, for tests that want some to have been stored. */
static inline uint64_t th_assert_same(struct disk *a, struct disk *b)
{
	static unsigned char x[1 << 16], y[1 << 16];
	struct msg m = { "" };
	uint64_t off = 0, compared = 0;

	assert_int_equal(a->size, b->size);
	while (off < a->size) {
		uint64_t run_a = 0, run_b = 0, run;
		bool in_a, in_b;

		if (a->status(a, off, &run_a, &in_a, &m) < 0 || b->status(b, off, &run_b, &in_b, &m) < 0)
			fail_msg("status at %llu: %s", (unsigned long long)off, m.text);
		run = run_a < run_b ? run_a : run_b;
		assert_true(run > 0 && run <= a->size - off);
		for (uint64_t at = off; (in_a || in_b) && at < off + run; at += sizeof x) {
			size_t len = off + run - at < sizeof x ? (size_t)(off + run - at) : sizeof x;

			if (disk_read(a, x, len, at, &m) < 0 || disk_read(b, y, len, at, &m) < 0)
				fail_msg("reading at %llu: %s", (unsigned long long)at, m.text);
			if (memcmp(x, y, len) != 0)
				fail_msg("the disks differ in the 64 KiB at byte %llu",
					 (unsigned long long)at);
			compared += len;
		}
		off += run;
	}
	return compared;
}

/* check finds nothing wrong with d. */
static inline void th_assert_clean(struct disk *d)
{
	struct faults f = { .n = 0 };

	if (d->check)
		d->check(d, &f);
	if (f.n)
		fail_msg("%zu fault(s), the first: %s", f.n, f.text[0]);
	faults_free(&f);
}

/* The faults check finds in the image at path (joined by newlines, static). */
static inline const char *th_faults(const char *path)
{
	static char text[4096];
	struct faults f = { .n = 0 };
	struct disk *d = th_open(path);
	size_t len = 0;

	text[0] = '\0';
	if (d->check)
		d->check(d, &f);
	for (size_t i = 0; i < f.n && len < sizeof text; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", i ? "\n" : "",
					f.text[i]);
	faults_free(&f);
	disk_close(d);
	return text;
}

/* The value d's info gives for key, or NULL (static: the next call overwrites it). */
static inline const char *th_info(struct disk *d, const char *key)
{
	static struct info i;

	memset(&i, 0, sizeof i);
	if (d->info)
		d->info(d, &i);
	for (size_t k = 0; k < i.n; k++)
		if (strcmp(i.field[k].key, key) == 0)
			return i.field[k].value;
	return NULL;
}

/* Write src as fmt, read it back: same bytes, found as fmt, no faults. */
static inline void th_round_trip(const struct format *fmt, const char *options,
				 const char *src, const char *out)
{
	struct disk *a, *b;

	th_write_ok(fmt, options, src, out);
	a = th_open(src);
	b = th_open(out);
	assert_ptr_equal(b->fmt, fmt);
	th_assert_same(a, b);
	th_assert_clean(b);
	disk_close(a);
	disk_close(b);
}

/* The whole file at path (malloc'ed), its length in *len. */
static inline unsigned char *th_slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* The len bytes at off of the file at path, all of them: th_poke's other half. */
static inline void th_read_at(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Overwrite len bytes at off of the file at path (to corrupt it on purpose). */
static inline void th_poke(const char *path, uint64_t off, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* The little-endian u32 at off of the file at path: VDI and VMDK headers are LE. */
static inline uint32_t th_peek_le32(const char *path, uint64_t off)
{
	unsigned char b[4];

	th_read_at(path, off, b, sizeof b);
	return get_le32(b);
}

/* The little-endian u64 at off of the file at path. */
static inline uint64_t th_peek_le64(const char *path, uint64_t off)
{
	unsigned char b[8];

	th_read_at(path, off, b, sizeof b);
	return get_le64(b);
}

/* Overwrite the u32 at off of the file at path with v, little-endian. */
static inline void th_poke_le32(const char *path, uint64_t off, uint32_t v)
{
	unsigned char b[4];

	put_le32(b, v);
	th_poke(path, off, b, sizeof b);
}

/* Overwrite the u64 at off of the file at path with v, little-endian. */
static inline void th_poke_le64(const char *path, uint64_t off, uint64_t v)
{
	unsigned char b[8];

	put_le64(b, v);
	th_poke(path, off, b, sizeof b);
}

/* Overwrite the u32 at off of the file at path with v, big-endian as qcow2 and VHD. */
static inline void th_poke_be32(const char *path, uint64_t off, uint32_t v)
{
	unsigned char b[4];

	put_be32(b, v);
	th_poke(path, off, b, sizeof b);
}

static inline void th_truncate(const char *path, uint64_t size)
{
	assert_int_equal(truncate(path, (off_t)size), 0);
}

static inline uint64_t th_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

#define TH_TEST(f) cmocka_unit_test_setup_teardown(f, th_setup, th_teardown)

#endif
