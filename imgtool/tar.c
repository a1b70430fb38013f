/* tar.c - see tar.h. */
#include "tar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZBUF (64u << 10)
#define COPY_BUF (1u << 20)

/* Header fields (offset, length), as pax(1) draws the ustar header. */
enum {
	H_NAME = 0, H_MODE = 100, H_UID = 108, H_GID = 116, H_SIZE = 124, H_MTIME = 136,
	H_CHKSUM = 148, H_TYPE = 156, H_MAGIC = 257, H_UNAME = 265, H_GNAME = 297,
	/* old-GNU only: the sparse map and the real size */
	H_SPARSE = 386, H_EXTENDED = 482, H_REALSIZE = 483,
};
#define SPARSE_IN_HEADER 4
#define SPARSE_IN_EXT 21	/* an extension block: 21 pairs, then its flag at 504 */
#define SPARSE_EXT_FLAG 504

/* A number in a field of len bytes: octal digits and a NUL where they fit (every
 * reader takes those); else GNU's base-256 form (the first byte's high bit set,
 * the value big-endian in the rest), which GNU tar, libarchive and python read. */
static void put_num(unsigned char *h, size_t len, uint64_t v)
{
	if (v < (uint64_t)1 << (3 * (len - 1))) {
		for (size_t i = len - 1; i-- > 0; v >>= 3)
			h[i] = (unsigned char)('0' + (v & 7));
		h[len - 1] = 0;
		return;
	}
	memset(h, 0, len);
	h[0] = 0x80;
	for (size_t i = len; i-- > 1 && v; v >>= 8)
		h[i] = (unsigned char)(v & 0xff);
}

static int put(struct tar *t, const void *data, size_t len, struct msg *m)
{
	t->pos += len;
	if (!t->gzip) {
		if (out_write(t->f, data, len, t->out, m) < 0)
			return -1;
		t->out += len;
		return 0;
	}
	t->z.next_in = (unsigned char *)data;
	t->z.avail_in = (uInt)len;
	while (t->z.avail_in) {
		t->z.next_out = t->zbuf;
		t->z.avail_out = ZBUF;
		if (deflate(&t->z, Z_NO_FLUSH) == Z_STREAM_ERROR)
			return fail(m, "cannot write %s: zlib failed.", t->f->path);
		if (ZBUF - t->z.avail_out &&
		    out_write(t->f, t->zbuf, ZBUF - t->z.avail_out, t->out, m) < 0)
			return -1;
		t->out += ZBUF - t->z.avail_out;
	}
	return 0;
}

/* Zeros up to the next block boundary. */
static int pad(struct tar *t, struct msg *m)
{
	static const unsigned char zeros[TAR_BLOCK];
	size_t rest = (size_t)(t->pos % TAR_BLOCK);

	return rest ? put(t, zeros, TAR_BLOCK - rest, m) : 0;
}

int tar_begin(struct tar *t, struct outfile *f, enum tar_kind kind, bool gzip,
	      uint64_t mtime, struct msg *m)
{
	/* What gzip(1) -n records: no name, no time; and the OS byte set here rather
	 * than left to how zlib was built. */
	static gz_header gz = { .os = 3 };

	memset(t, 0, sizeof *t);
	t->f = f;
	t->kind = kind;
	t->mtime = mtime;
	t->gzip = gzip;
	if (!gzip)
		return 0;
	if (!(t->zbuf = malloc(ZBUF)))
		return fail(m, "cannot write %s: out of memory.", f->path);
	/* 15 + 16: a gzip wrapper around the deflate stream. */
	if (deflateInit2(&t->z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return fail(m, "cannot write %s: zlib could not start.", f->path);
	t->z_live = true;
	if (deflateSetHeader(&t->z, &gz) != Z_OK)
		return fail(m, "cannot write %s: zlib could not start.", f->path);
	return 0;
}

/* The header of a member of type '0' (a file) or 'S' (a sparse file, whose map the
 * caller adds) holding size bytes of data, before its checksum. */
static void header(const struct tar *t, unsigned char h[TAR_BLOCK], const char *name,
		   char type, uint64_t size)
{
	memset(h, 0, TAR_BLOCK);
	memcpy(h + H_NAME, name, strlen(name));
	put_num(h + H_MODE, 8, 0644);
	put_num(h + H_UID, 8, 0);
	put_num(h + H_GID, 8, 0);
	put_num(h + H_SIZE, 12, size);
	put_num(h + H_MTIME, 12, t->mtime);
	h[H_TYPE] = (unsigned char)type;
	memcpy(h + H_MAGIC, t->kind == TAR_OLDGNU ? "ustar  " : "ustar\0" "00", 8);
	memcpy(h + H_UNAME, "root", 4);
	memcpy(h + H_GNAME, "root", 4);
}

/* The checksum: the sum of the header's bytes with its own field taken as spaces,
 * six octal digits, a NUL and a space. */
static void seal(unsigned char h[TAR_BLOCK])
{
	unsigned sum = 0;

	memset(h + H_CHKSUM, ' ', 8);
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	put_num(h + H_CHKSUM, 7, sum);
}

static int check_name(const struct tar *t, const char *name, struct msg *m)
{
	if (!*name || strlen(name) >= TAR_NAME_MAX)
		return fail(m, "cannot write %s: the member name \"%s\" does not fit a tar "
			    "header (1 to %u bytes).", t->f->path, name, TAR_NAME_MAX - 1);
	return 0;
}

int tar_add(struct tar *t, const char *name, const void *data, size_t len, struct msg *m)
{
	unsigned char h[TAR_BLOCK];

	if (check_name(t, name, m) < 0)
		return -1;
	header(t, h, name, '0', len);
	seal(h);
	if (put(t, h, TAR_BLOCK, m) < 0 || put(t, data, len, m) < 0)
		return -1;
	return pad(t, m);
}

int tar_add_file(struct tar *t, const char *name, const struct infile *in, struct msg *m)
{
	unsigned char h[TAR_BLOCK], *buf;
	int rc = 0;

	if (check_name(t, name, m) < 0)
		return -1;
	header(t, h, name, '0', in->size);
	seal(h);
	if (put(t, h, TAR_BLOCK, m) < 0)
		return -1;
	if (!(buf = malloc(COPY_BUF)))
		return fail(m, "cannot write %s: out of memory.", t->f->path);
	for (uint64_t off = 0; rc == 0 && off < in->size; off += COPY_BUF) {
		size_t len = in->size - off < COPY_BUF ? (size_t)(in->size - off) : COPY_BUF;

		rc = infile_read(in, buf, len, off, "its data", m);
		if (rc == 0)
			rc = put(t, buf, len, m);
	}
	free(buf);
	return rc < 0 ? -1 : pad(t, m);
}

/* The sparse map: ranges of the disk that hold data, in order. */
struct sparse_map {
	uint64_t (*r)[2];	/* offset, length */
	size_t n, cap;
	uint64_t stored;	/* the sum of the lengths */
};

static int map_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		    struct msg *m)
{
	struct sparse_map *s = ctx;

	(void)data;
	s->stored += len;
	if (s->n && s->r[s->n - 1][0] + s->r[s->n - 1][1] == off) {
		s->r[s->n - 1][1] += len;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *p = realloc(s->r, cap * sizeof s->r[0]);

		if (!p)
			return fail(m, "out of memory for the sparse map of a tar member.");
		s->r = p;
		s->cap = cap;
	}
	s->r[s->n][0] = off;
	s->r[s->n][1] = len;
	s->n++;
	return 0;
}

/* The map's pairs from i on, into n slots of 24 bytes at p; a slot with no pair
 * stays zero. */
static size_t put_pairs(unsigned char *p, size_t slots, const struct sparse_map *s, size_t i)
{
	size_t k;

	for (k = 0; k < slots && i + k < s->n; k++) {
		put_num(p + 24 * k, 12, s->r[i + k][0]);
		put_num(p + 24 * k + 12, 12, s->r[i + k][1]);
	}
	return i + k;
}

static int sparse_data(struct tar *t, struct disk *d, const struct sparse_map *s,
		       struct msg *m)
{
	unsigned char *buf = malloc(COPY_BUF);
	int rc = 0;

	if (!buf)
		return fail(m, "cannot write %s: out of memory.", t->f->path);
	for (size_t i = 0; rc == 0 && i < s->n; i++)
		for (uint64_t at = 0; rc == 0 && at < s->r[i][1]; at += COPY_BUF) {
			uint64_t rest = s->r[i][1] - at;
			size_t len = rest < COPY_BUF ? (size_t)rest : COPY_BUF;

			rc = disk_read(d, buf, len, s->r[i][0] + at, m);
			if (rc == 0)
				rc = put(t, buf, len, m);
		}
	free(buf);
	return rc;
}

int tar_add_sparse(struct tar *t, const char *name, struct disk *d, struct msg *m)
{
	struct sparse_map s = { .n = 0 };
	unsigned char h[TAR_BLOCK];
	size_t next;
	int rc = -1;

	if (t->kind != TAR_OLDGNU)
		return fail(m, "internal error: a sparse member needs an old-GNU archive.");
	if (check_name(t, name, m) < 0 ||
	    disk_each_data(d, SECTOR, map_unit, &s, NULL, m) < 0)
		goto out;
	/* A disk that ends in a hole ends its map with an empty range at its end, as GNU
	 * tar writes it: a reader that goes by the map alone still makes the whole file. */
	if (!s.n || s.r[s.n - 1][0] + s.r[s.n - 1][1] < d->size) {
		if (map_unit(&s, d->size, NULL, 0, m) < 0)
			goto out;
	}
	header(t, h, name, 'S', s.stored);
	next = put_pairs(h + H_SPARSE, SPARSE_IN_HEADER, &s, 0);
	h[H_EXTENDED] = next < s.n;
	put_num(h + H_REALSIZE, 12, d->size);
	seal(h);
	if (put(t, h, TAR_BLOCK, m) < 0)
		goto out;
	while (next < s.n) {
		memset(h, 0, TAR_BLOCK);
		next = put_pairs(h, SPARSE_IN_EXT, &s, next);
		h[SPARSE_EXT_FLAG] = next < s.n;
		if (put(t, h, TAR_BLOCK, m) < 0)
			goto out;
	}
	if (sparse_data(t, d, &s, m) < 0 || pad(t, m) < 0)
		goto out;
	rc = 0;
out:
	free(s.r);
	return rc;
}

int tar_end(struct tar *t, struct msg *m)
{
	static const unsigned char zeros[2 * TAR_BLOCK];
	int z;

	if (put(t, zeros, sizeof zeros, m) < 0)
		return -1;
	if (t->gzip) {
		do {
			t->z.next_out = t->zbuf;
			t->z.avail_out = ZBUF;
			z = deflate(&t->z, Z_FINISH);
			if (z == Z_STREAM_ERROR)
				return fail(m, "cannot write %s: zlib failed.", t->f->path);
			if (ZBUF - t->z.avail_out &&
			    out_write(t->f, t->zbuf, ZBUF - t->z.avail_out, t->out, m) < 0)
				return -1;
			t->out += ZBUF - t->z.avail_out;
		} while (z != Z_STREAM_END);
	}
	return out_set_size(t->f, t->out, m);
}

void tar_free(struct tar *t)
{
	if (t->z_live)
		deflateEnd(&t->z);
	free(t->zbuf);
	t->z_live = false;
	t->zbuf = NULL;
}
