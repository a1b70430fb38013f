/* vmdk_write.c - writing VMDK images (see vmdk.h): monolithicFlat, monolithicSparse and
 * streamOptimized, the stream's grains compressed on the shared pool (cpool.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bytes.h"
#include "cpool.h"
#include "ident.h"
#include "output.h"
#include "vmdk.h"

/* --- writing: what every subformat shares ------------------------------------------------ */

static uint64_t round_up(uint64_t a, uint64_t b)
{
	return vmdk_div_up(a, b) * b;
}

static void header_put(unsigned char *b, const struct header *h)
{
	memset(b, 0, SECTOR);
	memcpy(b + H_MAGIC, vmdk_magic, sizeof vmdk_magic);
	put_le32(b + H_VERSION, h->version);
	put_le32(b + H_FLAGS, h->flags);
	put_le64(b + H_CAPACITY, h->capacity);
	put_le64(b + H_GRAIN, h->grain);
	put_le64(b + H_DESC_OFFSET, h->desc_offset);
	put_le64(b + H_DESC_SIZE, h->desc_size);
	put_le32(b + H_GTES, h->gtes);
	put_le64(b + H_RGD, h->rgd);
	put_le64(b + H_GD, h->gd);
	put_le64(b + H_OVERHEAD, h->overhead);
	memcpy(b + H_NEWLINES, vmdk_newlines, sizeof vmdk_newlines);
	put_le16(b + H_COMPRESS, h->compression);
}

static void marker_put(unsigned char *b, uint64_t sectors, uint32_t type)
{
	memset(b, 0, SECTOR);
	put_le64(b + M_VAL, sectors);
	put_le32(b + M_TYPE, type);
}

enum subformat { SUB_FLAT, SUB_SPARSE, SUB_STREAM };

static const char *const subformats[] = { "monolithicFlat", "monolithicSparse",
					  "streamOptimized", NULL };
static const char *const adapters[] = { "ide", "lsilogic", NULL };

/* The geometry VMware gives each adapter: IDE 16 heads, SCSI 255, 63 sectors a track;
 * IDE cylinders stop at 16383 as ATA's do. */
static void geometry(uint64_t capacity, size_t adapter, uint64_t *cylinders, unsigned *heads)
{
	*heads = adapter == 0 ? 16 : 255;
	*cylinders = capacity / (*heads * 63u);
	if (*cylinders == 0)
		*cylinders = 1;
	if (adapter == 0 && *cylinders > 16383)
		*cylinders = 16383;
}

/* Refuse to write path when it is a file of the source: the input, or an extent of a
 * VMDK input. extent_of names the descriptor when path is its flat extent. */
static int refuse_input(struct disk *src, const char *path, const char *extent_of,
			struct msg *m)
{
	struct stat out, in;
	size_t nfiles = 1;
	const struct vmdk *v = src->fmt == &fmt_vmdk ? (const struct vmdk *)src : NULL;

	if (stat(path, &out) != 0 || !S_ISREG(out.st_mode))
		return 0;
	if (v)
		nfiles += v->next;
	for (size_t i = 0; i < nfiles; i++) {
		const struct infile *f = i == 0 ? &src->file : v->ext[i - 1].file;

		if (f->fd == -1 || fstat(f->fd, &in) != 0 || in.st_dev != out.st_dev ||
		    in.st_ino != out.st_ino)
			continue;
		if (extent_of)
			return fail(m, "%s, the flat extent %s needs beside it, is the input %s; "
				    "give the output another name.", path, extent_of, f->path);
		return fail(m, "%s is the input %s; write the output to another file.", path,
			    f->path);
	}
	return 0;
}

/* The descriptor names its extent in double quotes, on one line. */
static int check_name(const char *path, const char *name, struct msg *m)
{
	for (const char *c = name; *c; c++)
		if (*c == '"' || (unsigned char)*c < 0x20)
			return fail(m, "cannot write %s: a VMDK descriptor names the extent file "
				    "%s in double quotes, so its name cannot hold a quote or a "
				    "control character.", path, name);
	if (strlen(name) > NAME_MAX_LEN)
		return fail(m, "cannot write %s: its extent name is longer than %d characters.",
			    path, NAME_MAX_LEN);
	return 0;
}

struct wopts {
	size_t sub, adapter;
	uint64_t capacity;
};

static int write_options(struct disk *src, const struct opts *o, struct wopts *w,
			 struct msg *m)
{
	struct digest none = { { 0, 0 } };
	struct uuid u;

	if (opt_choice(o, "subformat", subformats, SUB_FLAT, &w->sub, m) < 0 ||
	    opt_choice(o, "adapter", adapters, 0, &w->adapter, m) < 0 ||
	    uuid_option(o, &none, "vmdk", "image", &u, m) < 0)	/* a bad one fails now */
		return -1;
	w->capacity = vmdk_div_up(src->size, SECTOR);
	if (w->capacity == 0)
		return fail(m, "%s is an empty disk; a VMDK holds at least one sector.",
			    src->file.path);
	if (w->sub != SUB_FLAT && w->capacity > SPARSE_MAX_SECTORS)
		return fail(m, "-o subformat=%s: %s is %llu bytes, more than the 2 TiB a sparse "
			    "VMDK can hold; subformat=monolithicFlat can.", subformats[w->sub],
			    src->file.path, (unsigned long long)src->size);
	return 0;
}

/* The UUID's role names the subformat: VirtualBox registers disks by UUID, and a flat
 * and a stream copy of one disk must both be registrable. */
static int fill_wdesc(struct wdesc *wd, const struct wopts *w, const struct opts *o,
		      const struct digest *sum, const char *extent, struct msg *m)
{
	struct uuid u;

	if (uuid_option(o, sum, "vmdk", subformats[w->sub], &u, m) < 0)
		return -1;
	uuid_format(&u, wd->uuid);
	wd->cid = ident_u32(sum, "vmdk", "cid");
	wd->create_type = subformats[w->sub];
	wd->extent_type = w->sub == SUB_FLAT ? "FLAT" : "SPARSE";
	wd->extent = extent;
	wd->capacity = w->capacity;
	wd->adapter = adapters[w->adapter];
	geometry(w->capacity, w->adapter, &wd->cylinders, &wd->heads);
	return 0;
}

/* --- writing monolithicFlat ------------------------------------------------------------- */

static int flat_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		     struct msg *m)
{
	return out_write(ctx, data, len, off, m);
}

/* 64 KiB units: few system calls, and zero runs of that size become holes. */
#define FLAT_UNIT (64u << 10)

static int write_flat(struct disk *src, const char *path, const struct opts *o,
		      const struct wopts *w, struct msg *m)
{
	struct output out = { .n = 0 };
	struct outfile *desc_file, *extent_file;
	struct digest sum;
	struct wdesc wd;
	char text[1024], *extent;
	size_t len = strlen(path);
	int n, rc = -1;

	if (len >= 5 && strcmp(path + len - 5, ".vmdk") == 0)
		len -= 5;
	if (asprintf(&extent, "%.*s-flat.vmdk", (int)len, path) < 0)
		return fail_errno(m, "cannot write %s", path);
	if (check_name(path, vmdk_base_name(extent), m) < 0 ||
	    refuse_input(src, path, NULL, m) < 0 || refuse_input(src, extent, path, m) < 0)
		goto out;
	/* The descriptor first: the files are renamed last first, so the descriptor
	 * never names an extent that is not there yet. */
	if (output_add(&out, path, &desc_file, m) < 0 ||
	    output_add(&out, extent, &extent_file, m) < 0 ||
	    disk_each_data(src, FLAT_UNIT, flat_unit, extent_file, &sum, m) < 0 ||
	    out_set_size(extent_file, w->capacity * SECTOR, m) < 0 ||
	    fill_wdesc(&wd, w, o, &sum, vmdk_base_name(extent), m) < 0)
		goto out;
	n = vmdk_descriptor_text(text, sizeof text, &wd);
	if (n < 0 || (size_t)n >= sizeof text) {
		fail(m, "cannot write %s: its descriptor does not fit in %zu bytes.", path,
		     sizeof text);
		goto out;
	}
	if (out_write(desc_file, text, (size_t)n, 0, m) < 0 || output_commit(&out, m) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		output_discard(&out);
	free(extent);
	return rc;
}

/* --- writing monolithicSparse and streamOptimized ------------------------------------ */

/* The header and the descriptor at sector 1, written last: they need the digest. */
static int write_head(struct outfile *f, const struct header *h, const struct wdesc *wd,
		      const char *path, struct msg *m)
{
	size_t size = (size_t)h->desc_size * SECTOR;
	unsigned char *buf = calloc(1, SECTOR + size);
	int n, rc;

	if (!buf)
		return fail_errno(m, "cannot write %s", path);
	header_put(buf, h);
	n = vmdk_descriptor_text((char *)buf + SECTOR, size, wd);
	if (n < 0 || (size_t)n >= size)
		rc = fail(m, "cannot write %s: its descriptor does not fit in %zu bytes.", path,
			  size);
	else
		rc = out_write(f, buf, SECTOR + size, 0, m);
	free(buf);
	return rc;
}

/* How many sectors the descriptor for wd takes (its UUID and CID have fixed widths,
 * so a placeholder digest gives the final length). */
static uint64_t desc_sectors(const struct wopts *w, const struct opts *o, const char *name)
{
	struct digest none = { { 0, 0 } };
	struct wdesc wd;
	struct msg m;
	char text[1024];
	int n;

	if (fill_wdesc(&wd, w, o, &none, name, &m) < 0)
		return 1;
	n = vmdk_descriptor_text(text, sizeof text, &wd);
	return n < 0 ? 2 : vmdk_div_up((uint64_t)n + 1, SECTOR);
}

/* The grain-table state both sparse writers share: grains come in disk order, so
 * only the table being filled is held. */
struct sparse_writer {
	struct outfile *out;
	const char *path;
	uint64_t next;			/* the next free sector */
	uint64_t gt_index;		/* the table being filled, or UINT64_MAX */
	bool gt_used;
	uint32_t gt[GT_ENTRIES];
	/* monolithicSparse: where the preallocated tables are */
	uint64_t gt_base, rgt_base;
	/* streamOptimized: the directory, written at the end */
	uint32_t *gd;
	uint64_t ngt;
};

static int too_big(const struct sparse_writer *s, struct msg *m)
{
	return fail(m, "cannot write %s: its grains would pass the 2 TiB that a sparse VMDK's "
		    "32-bit grain tables can address; subformat=monolithicFlat has no such "
		    "limit.", s->path);
}

static void gt_bytes(const struct sparse_writer *s, unsigned char *raw)
{
	for (unsigned i = 0; i < GT_ENTRIES; i++)
		put_le32(raw + 4 * i, s->gt[i]);
}

/* monolithicSparse: the table goes to its two preallocated places. */
static int sparse_flush_gt(struct sparse_writer *s, struct msg *m)
{
	unsigned char raw[GT_ENTRIES * 4];
	uint64_t at = s->gt_index * GT_SECTORS;

	if (!s->gt_used)
		return 0;
	gt_bytes(s, raw);
	s->gt_used = false;
	return out_write(s->out, raw, sizeof raw, (s->gt_base + at) * SECTOR, m) < 0 ||
	       out_write(s->out, raw, sizeof raw, (s->rgt_base + at) * SECTOR, m) < 0 ? -1 : 0;
}

/* streamOptimized: the table follows its grains, behind a marker. */
static int stream_flush_gt(struct sparse_writer *s, struct msg *m)
{
	unsigned char buf[SECTOR + GT_ENTRIES * 4];

	if (!s->gt_used)
		return 0;
	if (s->next + 1 + GT_SECTORS > UINT32_MAX)
		return too_big(s, m);
	marker_put(buf, GT_SECTORS, MARKER_GT);
	gt_bytes(s, buf + SECTOR);
	s->gd[s->gt_index] = (uint32_t)(s->next + 1);
	s->gt_used = false;
	if (out_write(s->out, buf, sizeof buf, s->next * SECTOR, m) < 0)
		return -1;
	s->next += 1 + GT_SECTORS;
	return 0;
}

/* Enter the grain at virtual sector lba into its table, flushing the table before
 * when the grain is in the next one; *at gets the sector the grain goes to. */
static int add_grain(struct sparse_writer *s, uint64_t lba, uint64_t sectors, uint64_t *at,
		     int (*flush)(struct sparse_writer *, struct msg *), struct msg *m)
{
	uint64_t t = lba / GT_SPAN;

	if (t != s->gt_index) {
		if (flush(s, m) < 0)
			return -1;
		memset(s->gt, 0, sizeof s->gt);
		s->gt_index = t;
	}
	if (s->next + sectors > UINT32_MAX)
		return too_big(s, m);
	s->gt[lba / GRAIN_SECTORS % GT_ENTRIES] = (uint32_t)s->next;
	s->gt_used = true;
	*at = s->next;
	s->next += sectors;
	return 0;
}

static int sparse_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		       struct msg *m)
{
	struct sparse_writer *s = ctx;
	uint64_t at = 0;

	/* A short last grain is padded by the file's size, set at the end. */
	if (add_grain(s, off / SECTOR, GRAIN_SECTORS, &at, sparse_flush_gt, m) < 0)
		return -1;
	return out_write(s->out, data, len, at * SECTOR, m);
}

/* A grain directory of n entries, entry i = first + i * GT_SECTORS, at sector at. */
static int write_directory(struct outfile *f, uint64_t at, uint64_t n, uint64_t first,
			   struct msg *m)
{
	unsigned char buf[SECTOR];

	for (uint64_t i = 0; i < n; i += SECTOR / 4) {
		memset(buf, 0, sizeof buf);
		for (uint64_t k = 0; k < SECTOR / 4 && i + k < n; k++)
			put_le32(buf + 4 * k, (uint32_t)(first + (i + k) * GT_SECTORS));
		if (out_write(f, buf, sizeof buf, at * SECTOR + i * 4, m) < 0)
			return -1;
	}
	return 0;
}

static int write_sparse(struct disk *src, const char *path, const struct opts *o,
			const struct wopts *w, struct msg *m)
{
	struct output out = { .n = 0 };
	struct sparse_writer s = { .path = path, .gt_index = UINT64_MAX };
	uint64_t ngt = vmdk_div_up(w->capacity, GT_SPAN), gd_sectors = vmdk_div_up(ngt * 4, SECTOR);
	struct header h = {
		.version = 1, .flags = FLAG_NEWLINE | FLAG_RGD, .capacity = w->capacity,
		.grain = GRAIN_SECTORS, .desc_offset = 1, .desc_size = SPARSE_DESC_SECTORS,
		.gtes = GT_ENTRIES, .compression = 0,
	};
	struct digest sum;
	struct wdesc wd;

	if (check_name(path, vmdk_base_name(path), m) < 0 || refuse_input(src, path, NULL, m) < 0)
		return -1;
	h.rgd = 1 + SPARSE_DESC_SECTORS;
	s.rgt_base = h.rgd + gd_sectors;
	h.gd = s.rgt_base + ngt * GT_SECTORS;
	s.gt_base = h.gd + gd_sectors;
	/* Grains start on a grain boundary of the file, as VMware places them. */
	h.overhead = round_up(s.gt_base + ngt * GT_SECTORS, GRAIN_SECTORS);
	s.next = h.overhead;
	if (output_add(&out, path, &s.out, m) < 0 ||
	    disk_each_data(src, GRAIN_BYTES, sparse_unit, &s, &sum, m) < 0 ||
	    sparse_flush_gt(&s, m) < 0 ||
	    write_directory(s.out, h.rgd, ngt, s.rgt_base, m) < 0 ||
	    write_directory(s.out, h.gd, ngt, s.gt_base, m) < 0 ||
	    fill_wdesc(&wd, w, o, &sum, vmdk_base_name(path), m) < 0 ||
	    write_head(s.out, &h, &wd, path, m) < 0 ||
	    out_set_size(s.out, s.next * SECTOR, m) < 0 ||
	    output_commit(&out, m) < 0) {
		output_discard(&out);
		return -1;
	}
	return 0;
}

/* --- writing streamOptimized: compressing grains on every core ------------------------ */

/* Grains are compressed on every core by the shared pool (cpool.h), a batch at a time;
 * each grain's bytes depend on its data alone. */

/* A thread's deflate streams: fast for most grains, stored for those deflate would not
 * shrink. */
struct zctx {
	z_stream fast, store;
	int ready;			/* how many of the two are initialised */
};

static int zctx_init(void *state, const void *arg)
{
	struct zctx *z = state;

	(void)arg;
	if (deflateInit2(&z->fast, Z_BEST_SPEED, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z->ready = 1;
	if (deflateInit2(&z->store, Z_NO_COMPRESSION, Z_DEFLATED, 15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z->ready = 2;
	return 0;
}

static void zctx_end(void *state)
{
	struct zctx *z = state;

	if (z->ready > 0)
		deflateEnd(&z->fast);
	if (z->ready > 1)
		deflateEnd(&z->store);
	z->ready = 0;
}

/* One whole zlib stream of in into out; *n gets its length. */
static int zdeflate(z_stream *s, const unsigned char *in, size_t len, unsigned char *out,
		    size_t cap, size_t *n)
{
	deflateReset(s);
	s->next_in = (unsigned char *)in;
	s->avail_in = (uInt)len;
	s->next_out = out;
	s->avail_out = (uInt)cap;
	if (deflate(s, Z_FINISH) != Z_STREAM_END)
		return -1;
	*n = s->total_out;
	return 0;
}

/* A grain job's output buffer: marker, the zlib data at its worst, padding. */
static size_t grain_out_size(void)
{
	return (size_t)round_up(GRAIN_DATA + compressBound(GRAIN_BYTES), SECTOR);
}

/* The grain j->in (GRAIN_BYTES, zero-padded) of disk sector j->key, as its marker and
 * zlib stream, padded to a sector. */
static int compress_grain(void *state, struct cpool_job *j, const void *arg)
{
	struct zctx *z = state;
	unsigned char *data = j->out + GRAIN_DATA;
	size_t cap = grain_out_size() - GRAIN_DATA, n = 0, end;
	bool store = cpool_incompressible(j->in, GRAIN_BYTES);

	(void)arg;
	if (!store && zdeflate(&z->fast, j->in, GRAIN_BYTES, data, cap, &n) < 0)
		return -1;
	/* Stored blocks when deflate gains nothing: as small, and faster to read. */
	if ((store || n >= GRAIN_BYTES) &&
	    zdeflate(&z->store, j->in, GRAIN_BYTES, data, cap, &n) < 0)
		return -1;
	put_le64(j->out + M_VAL, j->key);
	put_le32(j->out + M_SIZE, (uint32_t)n);
	end = GRAIN_DATA + n;
	j->out_len = (size_t)round_up(end, SECTOR);
	memset(j->out + end, 0, j->out_len - end);
	return 0;
}

static const struct cpool_codec grain_codec = {
	sizeof(struct zctx), zctx_init, zctx_end, compress_grain,
};

struct stream_writer {
	struct sparse_writer s;
	struct cpool pool;
	size_t queued;
};

/* Compress the queued grains and append them in disk order. */
static int stream_drain(struct stream_writer *w, struct msg *m)
{
	struct sparse_writer *s = &w->s;

	if (w->queued == 0)
		return 0;
	if (!cpool_run(&w->pool, w->queued))
		return fail(m, "cannot write %s: zlib failed to compress a grain.", s->path);
	for (size_t i = 0; i < w->queued; i++) {
		struct cpool_job *j = &w->pool.jobs[i];
		uint64_t at = 0;

		if (add_grain(s, j->key, j->out_len / SECTOR, &at, stream_flush_gt, m) < 0 ||
		    out_write(s->out, j->out, j->out_len, at * SECTOR, m) < 0)
			return -1;
	}
	w->queued = 0;
	return 0;
}

static int stream_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		       struct msg *m)
{
	struct stream_writer *w = ctx;
	struct cpool_job *j = &w->pool.jobs[w->queued++];

	j->key = off / SECTOR;
	memcpy(j->in, data, len);
	memset(j->in + len, 0, GRAIN_BYTES - len);	/* the disk's last, short grain */
	return w->queued == w->pool.batch ? stream_drain(w, m) : 0;
}

/* After the grains: the last table, the directory, the footer and end of stream. */
static int stream_finish(struct stream_writer *w, const struct header *h, struct msg *m)
{
	struct sparse_writer *s = &w->s;
	uint64_t gd_sectors = vmdk_div_up(s->ngt * 4, SECTOR);
	size_t size = (size_t)(SECTOR + gd_sectors * SECTOR + 3 * SECTOR);
	unsigned char *buf;
	struct header footer = *h;
	int rc;

	if (stream_drain(w, m) < 0 || stream_flush_gt(s, m) < 0)
		return -1;
	buf = calloc(1, size);
	if (!buf)
		return fail_errno(m, "cannot write %s", s->path);
	marker_put(buf, gd_sectors, MARKER_GD);
	for (uint64_t i = 0; i < s->ngt; i++)
		put_le32(buf + SECTOR + 4 * i, s->gd[i]);
	footer.gd = s->next + 1;
	marker_put(buf + SECTOR + gd_sectors * SECTOR, 1, MARKER_FOOTER);
	header_put(buf + 2 * SECTOR + gd_sectors * SECTOR, &footer);
	/* The end-of-stream marker is the zero sector calloc left at the end. */
	rc = out_write(s->out, buf, size, s->next * SECTOR, m);
	s->next += size / SECTOR;
	free(buf);
	return rc;
}

static int write_stream(struct disk *src, const char *path, const struct opts *o,
			const struct wopts *w, struct msg *m)
{
	struct output out = { .n = 0 };
	struct stream_writer sw = { .s = { .path = path, .gt_index = UINT64_MAX } };
	struct header h = {
		.version = 3, .flags = FLAG_NEWLINE | FLAG_COMPRESSED | FLAG_MARKERS,
		.capacity = w->capacity, .grain = GRAIN_SECTORS, .desc_offset = 1,
		.gtes = GT_ENTRIES, .rgd = 0, .gd = GD_AT_END, .compression = COMPRESS_DEFLATE,
	};
	struct digest sum;
	struct wdesc wd;
	int rc = -1;

	if (check_name(path, vmdk_base_name(path), m) < 0 || refuse_input(src, path, NULL, m) < 0)
		return -1;
	h.desc_size = desc_sectors(w, o, vmdk_base_name(path));
	h.overhead = 1 + h.desc_size;
	sw.s.next = h.overhead;
	sw.s.ngt = vmdk_div_up(w->capacity, GT_SPAN);
	sw.s.gd = calloc((size_t)sw.s.ngt, 4);
	if (!sw.s.gd)
		return fail_errno(m, "cannot write %s", path);
	if (cpool_start(&sw.pool, &grain_codec, NULL, GRAIN_BYTES, grain_out_size(), path,
			m) == 0 &&
	    output_add(&out, path, &sw.s.out, m) == 0 &&
	    disk_each_data(src, GRAIN_BYTES, stream_unit, &sw, &sum, m) == 0 &&
	    stream_finish(&sw, &h, m) == 0 &&
	    fill_wdesc(&wd, w, o, &sum, vmdk_base_name(path), m) == 0 &&
	    write_head(sw.s.out, &h, &wd, path, m) == 0 &&
	    output_commit(&out, m) == 0)
		rc = 0;
	if (rc < 0)
		output_discard(&out);
	cpool_stop(&sw.pool);
	free(sw.s.gd);
	return rc;
}

int vmdk_write(struct disk *src, const char *path, const struct opts *o, struct msg *m)
{
	struct wopts w;

	if (write_options(src, o, &w, m) < 0)
		return -1;
	switch (w.sub) {
	case SUB_SPARSE:
		return write_sparse(src, path, o, &w, m);
	case SUB_STREAM:
		return write_stream(src, path, o, &w, m);
	default:
		return write_flat(src, path, o, &w, m);
	}
}
