/* qcow2_write.c - writing qcow2, versions 2 and 3 (qcow2.h has the layout).
 *
 * The writer makes the smallest image QEMU accepts, in one pass over the source:
 *
 *   cluster 0              the header, written last, when every offset is known
 *   for each L1 range      its data clusters in disk order, then its L2 table
 *   then                   the L1 table, the refcount blocks, the refcount table
 *
 * Only the L1 table and the one L2 table being filled are held in memory. Every
 * cluster of the file is used exactly once, so every refcount is 1 and every L1 and
 * L2 entry carries the "copied" flag. The 1 MiB boot disk with 512-byte clusters is
 * six clusters: 3,072 bytes.
 *
 * With -c (convert) every data cluster is compressed on every core (cpool.h), with
 * zlib as QEMU does it (raw deflate, a 4 KiB window, level 6) or with zstd (-o
 * compression_type=zstd, QEMU's default level 3), and the layout is QEMU's, so that
 * the file ends with data rather than with a partly used cluster: the header, the
 * refcount table (sized for the most clusters the source could need), the L1 table,
 * then the data, each range's L2 table taken before its data and each refcount block
 * before the clusters it counts. The compressed clusters are packed byte after byte,
 * as qemu-img packs them, so a host cluster may hold several and its refcount counts
 * each; a cluster that would not shrink (or whose bytes are already too evenly spread
 * to, cpool_incompressible) is stored as it is, cluster-aligned, with the copied flag.
 * The bytes depend on the data alone.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd_errors.h>

#include "bytes.h"
#include "cpool.h"
#include "options.h"
#include "output.h"
#include "qcow2.h"
#include "report.h"

/* The source is read a mebibyte at a time (or a cluster, if larger), and each run of
 * non-zero clusters in it goes out in one write straight from that buffer: data
 * clusters take the next free offsets, so a run in the disk is a run in the file. */
#define READ_UNIT (1u << 20)

struct q2_writer {
	struct outfile *out;
	uint64_t cs;			/* cluster size */
	unsigned cbits;
	uint64_t l2_entries;		/* cs / 8 */
	unsigned char *l1;		/* the L1 table as written, l1_bytes long */
	uint64_t l1_size, l1_bytes;
	unsigned char *l2;		/* the L2 table of the range being filled */
	uint64_t range;			/* its L1 index; UINT64_MAX before the first */
	uint64_t next;			/* where the next cluster goes */
	const unsigned char *run;	/* data clusters not yet written, for offset run_at */
	size_t run_len;
	uint64_t run_at;
	/* -c: compressed clusters are packed from zat on, in the host cluster that began
	 * at it, and on into next when that is the cluster after it (as qemu-img packs
	 * them); refs counts the references to each host cluster of the data; the
	 * refcount blocks are placed as the file reaches the clusters they count, at
	 * rbo[] (see claim) */
	bool compress;
	uint64_t zat;			/* 0: no cluster is being packed */
	uint64_t *rbo;
	uint64_t nrb, rb_cap;
	uint8_t type;			/* QCOW2_ZLIB or QCOW2_ZSTD */
	struct cpool pool;
	size_t queued;
	uint32_t *refs;
	uint64_t nrefs;
};

static uint64_t align_up(uint64_t a, uint64_t b)
{
	return div_up(a, b) * b;
}

static int flush_run(struct q2_writer *w, struct msg *m)
{
	if (w->run_len && out_write(w->out, w->run, w->run_len, w->run_at, m) < 0)
		return -1;
	w->run_len = 0;
	return 0;
}

/* The range's data is all out: its L2 table follows it, and the L1 entry points there. */
static int end_range(struct q2_writer *w, struct msg *m)
{
	if (w->range == UINT64_MAX)
		return 0;
	if (flush_run(w, m) < 0 || out_write(w->out, w->l2, w->cs, w->next, m) < 0)
		return -1;
	put_be64(w->l1 + w->range * 8, w->next | OFLAG_COPIED);
	w->next += w->cs;
	memset(w->l2, 0, w->cs);
	return 0;
}

static int q2_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		   struct msg *m)
{
	struct q2_writer *w = ctx;

	for (size_t i = 0; i < len; i += w->cs) {
		size_t n = len - i < w->cs ? len - i : (size_t)w->cs;
		uint64_t vc = (off + i) >> w->cbits, range = vc / w->l2_entries;

		if (is_zero(data + i, n))
			continue;
		if (range != w->range) {
			if (end_range(w, m) < 0)
				return -1;
			w->range = range;
		}
		if (!w->run_len || w->run + w->run_len != data + i ||
		    w->run_at + w->run_len != w->next) {
			if (flush_run(w, m) < 0)
				return -1;
			w->run = data + i;
			w->run_at = w->next;
		}
		/* A last cluster cut short by the end of the disk is padded by what follows:
		 * the file goes on past it, and the gap reads as zeros. */
		w->run_len += n;
		put_be64(w->l2 + vc % w->l2_entries * 8, w->next | OFLAG_COPIED);
		w->next += w->cs;
	}
	return flush_run(w, m);	/* data is the caller's buffer: out before it changes */
}

/* --- -c: compressed clusters ---------------------------------------------------------- */

/* A thread's compressor: zlib's deflate stream, or a zstd context. */
struct q2_codec {
	z_stream z;
	bool z_ready;
	ZSTD_CCtx *zc;
};

struct q2_codec_arg {
	uint64_t cs;
	uint8_t type;
};

static int codec_init(void *state, const void *arg)
{
	struct q2_codec *c = state;
	const struct q2_codec_arg *a = arg;

	if (a->type == QCOW2_ZSTD)
		return (c->zc = ZSTD_createCCtx()) ? 0 : -1;
	/* QEMU's: level 6, raw deflate with a 4 KiB window, memLevel 9 */
	if (deflateInit2(&c->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	c->z_ready = true;
	return 0;
}

static void codec_end(void *state)
{
	struct q2_codec *c = state;

	if (c->z_ready)
		deflateEnd(&c->z);
	ZSTD_freeCCtx(c->zc);
}

/* The cluster j->in compressed into j->out, in fewer than cs bytes; out_len 0 when it
 * would not be (the cluster is then stored as it is). */
static int codec_run(void *state, struct cpool_job *j, const void *arg)
{
	struct q2_codec *c = state;
	const struct q2_codec_arg *a = arg;
	size_t cap = (size_t)a->cs - 1;

	j->out_len = 0;
	if (cpool_incompressible(j->in, (size_t)a->cs))
		return 0;
	if (a->type == QCOW2_ZSTD) {
		size_t n = ZSTD_compress2(c->zc, j->out, cap, j->in, (size_t)a->cs);

		if (ZSTD_isError(n))
			return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -1;
		j->out_len = n;
		return 0;
	}
	deflateReset(&c->z);
	c->z.next_in = j->in;
	c->z.avail_in = (uInt)a->cs;
	c->z.next_out = j->out;
	c->z.avail_out = (uInt)cap;
	switch (deflate(&c->z, Z_FINISH)) {
	case Z_STREAM_END:
		j->out_len = c->z.total_out;
		return 0;
	case Z_OK:
	case Z_BUF_ERROR:
		return 0;		/* it does not fit: stored */
	default:
		return -1;
	}
}

static const struct cpool_codec q2_codec = {
	sizeof(struct q2_codec), codec_init, codec_end, codec_run,
};

/* One more reference to each host cluster of [at, at + len). A cluster refs does not
 * count (the header, the tables) is referenced once. */
static int add_refs(struct q2_writer *w, uint64_t at, uint64_t len, struct msg *m)
{
	uint64_t last = (at + len - 1) >> w->cbits;

	if (last >= w->nrefs) {
		uint64_t n = w->nrefs ? w->nrefs : 1024;
		uint32_t *p;

		while (n <= last)
			n *= 2;
		if (!(p = realloc(w->refs, n * sizeof *p)))
			return fail_errno(m, "cannot write %s", w->out->path);
		memset(p + w->nrefs, 0, (n - w->nrefs) * sizeof *p);
		w->refs = p;
		w->nrefs = n;
	}
	for (uint64_t c = at >> w->cbits; c <= last; c++)
		w->refs[c]++;
	return 0;
}

/* Whether the cluster at byte offset at has no refcount block to count it yet. */
static bool uncounted(const struct q2_writer *w, uint64_t at)
{
	return (at >> w->cbits) >= w->nrb * (w->cs / 2);
}

/* A cluster is about to be taken at next: first the refcount block that counts it, if
 * there is none yet, as QEMU places them (the block then counts itself). */
static int claim(struct q2_writer *w, struct msg *m)
{
	while (uncounted(w, w->next)) {
		if (w->nrb == w->rb_cap) {
			uint64_t cap = w->rb_cap ? 2 * w->rb_cap : 16;
			uint64_t *p = realloc(w->rbo, cap * sizeof *p);

			if (!p)
				return fail_errno(m, "cannot write %s", w->out->path);
			w->rbo = p;
			w->rb_cap = cap;
		}
		w->rbo[w->nrb++] = w->next;
		w->next += w->cs;
	}
	return 0;
}

/* The L2 table of the range being filled goes to the cluster the L1 entry names. */
static int write_l2(struct q2_writer *w, struct msg *m)
{
	if (w->range == UINT64_MAX)
		return 0;
	return out_write(w->out, w->l2, w->cs, get_be64(w->l1 + w->range * 8) & ENTRY_OFFSET,
			 m);
}

/* Guest cluster vc is in the range being filled: a new range writes the table of the
 * one before, and takes a cluster for its own before its data, as QEMU does. */
static int enter_range(struct q2_writer *w, uint64_t vc, struct msg *m)
{
	uint64_t range = vc / w->l2_entries;

	if (range == w->range)
		return 0;
	if (write_l2(w, m) < 0 || claim(w, m) < 0)
		return -1;
	memset(w->l2, 0, w->cs);
	w->range = range;
	put_be64(w->l1 + range * 8, w->next | OFLAG_COPIED);
	w->next += w->cs;
	return 0;
}

/* Compress the queued clusters and write them in disk order. */
static int drain(struct q2_writer *w, struct msg *m)
{
	unsigned x = 62 - (w->cbits - 8);

	if (!w->queued)
		return 0;
	if (!cpool_run(&w->pool, w->queued))
		return fail(m, "cannot write %s: %s failed to compress a cluster.", w->out->path,
			    w->type == QCOW2_ZSTD ? "zstd" : "zlib");
	for (size_t i = 0; i < w->queued; i++) {
		struct cpool_job *j = &w->pool.jobs[i];
		uint64_t at, e, n = j->out_len;

		if (enter_range(w, j->key, m) < 0)
			return -1;
		if (n == 0) {
			if (claim(w, m) < 0)
				return -1;
			at = w->next;
			e = at | OFLAG_COPIED;
			if (out_write(w->out, j->in, w->cs, at, m) < 0)
				return -1;
			w->next += w->cs;
		} else {
			uint64_t end = align_up(w->zat, w->cs);

			/* on in the cluster being packed if it fits, or runs on into the
			 * next free one; a host cluster counts at most 65535 references
			 * (16-bit refcounts) */
			at = w->zat && w->zat < end &&
			     (w->zat + n <= end || (end == w->next && !uncounted(w, end))) &&
			     w->refs[w->zat >> w->cbits] < 0xFFFF ? w->zat : 0;
			if (!at) {		/* a new cluster to pack */
				if (claim(w, m) < 0)
					return -1;
				at = w->next;
			}
			e = OFLAG_COMPRESSED | at | ((((at + n - 1) >> 9) - (at >> 9)) << x);
			if (out_write(w->out, j->out, n, at, m) < 0)
				return -1;
			w->zat = at + n;
			if (align_up(w->zat, w->cs) > w->next)
				w->next = align_up(w->zat, w->cs);
		}
		/* a stored cluster is counted once, as refcount_of counts what refs does not */
		if (n && add_refs(w, at, n, m) < 0)
			return -1;
		put_be64(w->l2 + j->key % w->l2_entries * 8, e);
	}
	w->queued = 0;
	return 0;
}

static int q2_cunit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		    struct msg *m)
{
	struct q2_writer *w = ctx;

	for (size_t i = 0; i < len; i += w->cs) {
		size_t n = len - i < w->cs ? len - i : (size_t)w->cs;
		struct cpool_job *j;

		if (is_zero(data + i, n))
			continue;
		j = &w->pool.jobs[w->queued++];
		j->key = (off + i) >> w->cbits;
		memcpy(j->in, data + i, n);
		memset(j->in + n, 0, w->cs - n);	/* the disk's last, short cluster */
		if (w->queued == w->pool.batch && drain(w, m) < 0)
			return -1;
	}
	return 0;
}

/* The refcount of host cluster i: what refs counts, or 1 for a cluster it does not
 * (the header, the tables, a stored cluster). */
static uint16_t refcount_of(const struct q2_writer *w, uint64_t i)
{
	return i < w->nrefs && w->refs[i] ? (uint16_t)w->refs[i] : 1;
}

/* The refcount table and blocks count themselves too: find the smallest numbers of
 * each that cover every cluster of the file including them. */
static void refcount_layout(uint64_t used, uint64_t cs, uint64_t *table_clusters,
			    uint64_t *blocks)
{
	uint64_t per_block = cs * 8 / 16, per_table_cluster = cs / 8;
	uint64_t rb = 0, rt = 0;

	for (;;) {
		uint64_t total = used + rt + rb;
		uint64_t nrb = div_up(total, per_block), nrt = div_up(nrb, per_table_cluster);

		if (nrb == rb && nrt == rt)
			break;
		rb = nrb;
		rt = nrt;
	}
	*table_clusters = rt;
	*blocks = rb;
}

/* The refcount blocks at offset at, then the refcount table (7-Zip takes the end of
 * the refcount table, not of the blocks, for the end of the image), a few clusters per
 * write. */
static int write_refcounts(struct q2_writer *w, uint64_t at, uint64_t rt, uint64_t rb,
			   struct msg *m)
{
	uint64_t per_block = w->cs / 2, per_table_cluster = w->cs / 8;
	uint64_t total = at / w->cs + rb + rt, chunk = READ_UNIT / w->cs ? READ_UNIT / w->cs : 1;
	unsigned char *buf = malloc(chunk * w->cs);
	uint64_t done = 0, pos = at;
	int rc = 0;

	if (!buf)
		return fail_errno(m, "cannot write %s", w->out->path);
	while (rc == 0 && done < rb + rt) {
		uint64_t n = rb + rt - done < chunk ? rb + rt - done : chunk;

		memset(buf, 0, n * w->cs);
		for (uint64_t k = 0; k < n; k++) {
			unsigned char *c = buf + k * w->cs;
			uint64_t idx = done + k;

			if (idx < rb) {
				for (uint64_t i = idx * per_block; i < (idx + 1) * per_block &&
				     i < total; i++)
					put_be16(c + (i - idx * per_block) * 2, refcount_of(w, i));
				continue;
			}
			for (uint64_t i = 0; i < per_table_cluster; i++) {
				uint64_t block = (idx - rb) * per_table_cluster + i;

				if (block < rb)
					put_be64(c + i * 8, at + block * w->cs);
			}
		}
		rc = out_write(w->out, buf, n * w->cs, pos, m);
		pos += n * w->cs;
		done += n;
	}
	free(buf);
	return rc;
}

/* What follows the header in cluster 0 of an overlay, as qemu-img create writes it:
 * the backing format extension, the end of the extensions, then the backing file's
 * name, which the header points to. Its length, for a header of hlen bytes. */
static uint64_t backing_bytes(const struct opts *o, size_t hlen)
{
	uint64_t n = hlen + 8;		/* the end-of-extensions marker */

	if (!o->backing)
		return n;
	return n + 8 + ((strlen(o->backing_fmt) + 7) & ~(size_t)7) + strlen(o->backing);
}

static int write_header(struct q2_writer *w, unsigned version, uint64_t size,
			uint64_t l1_at, uint64_t reft_at, uint64_t rt, const struct opts *o,
			struct msg *m)
{
	unsigned char buf[QCOW2_ZSTD_HEADER + 8 + 8 + MAX_BACKING_FORMAT +
			  MAX_BACKING_NAME] = { 0 };
	struct qcow2_header *h = (struct qcow2_header *)buf;
	size_t len = version == 2 ? QCOW2_V2_HEADER
		     : w->type == QCOW2_ZSTD ? QCOW2_ZSTD_HEADER : QCOW2_V3_HEADER, at = len;

	memcpy(h->magic, qcow2_magic, sizeof qcow2_magic);
	put_be32(h->version, version);
	put_be32(h->cluster_bits, w->cbits);
	put_be64(h->size, size);
	put_be32(h->l1_size, (uint32_t)w->l1_size);
	put_be64(h->l1_table_offset, l1_at);
	put_be64(h->refcount_table_offset, reft_at);
	put_be32(h->refcount_table_clusters, (uint32_t)rt);
	if (version == 3) {
		put_be32(h->refcount_order, 4);
		put_be32(h->header_length, (uint32_t)len);
	}
	/* zstd: the compression type feature, and the type in the byte after the header */
	if (w->type == QCOW2_ZSTD) {
		put_be64(h->incompatible_features, INCOMPAT_COMPRESSION);
		buf[QCOW2_V3_HEADER] = QCOW2_ZSTD;
	}
	if (o->backing) {
		size_t flen = strlen(o->backing_fmt), nlen = strlen(o->backing);

		put_be32(buf + at, EXT_BACKING_FORMAT);
		put_be32(buf + at + 4, (uint32_t)flen);
		memcpy(buf + at + 8, o->backing_fmt, flen);
		at += 8 + ((flen + 7) & ~(size_t)7);
		at += 8;			/* the end of the extensions */
		put_be64(h->backing_file_offset, at);
		put_be32(h->backing_file_size, (uint32_t)nlen);
		memcpy(buf + at, o->backing, nlen);
		at += nlen;
	} else {
		at += 8;
	}
	return out_write(w->out, buf, at, 0, m);
}

/* The most clusters a compressed image of src could take besides its header, L1 and
 * refcount tables: a cluster for each that src stores (a cluster a stored range
 * touches), and an L2 table for each range it touches. */
static int most_clusters(struct disk *src, const struct q2_writer *w, uint64_t *most,
			 struct msg *m)
{
	uint64_t off = 0, data = 0, tables = 0, last_range = UINT64_MAX;

	while (off < src->size) {
		uint64_t run;
		bool stored;

		if (src->status(src, off, &run, &stored, m) < 0)
			return -1;
		if (run > src->size - off)
			run = src->size - off;
		if (stored) {
			uint64_t first = off >> w->cbits, last = (off + run - 1) >> w->cbits;
			uint64_t r0 = first / w->l2_entries, r1 = last / w->l2_entries;

			data += last - first + 1;
			tables += r1 - r0 + 1 - (r0 == last_range);
			last_range = r1;
		}
		off += run;
	}
	*most = data + tables;
	return 0;
}

/* -c, after the last drain: the last L2 table, the L1 table at l1_at, each refcount
 * block where claim put it and the refcount table of rt clusters at cluster 1, which
 * qcow2_write sized for the largest file the disk could make. The file ends where
 * its last cluster's data does, rounded to a sector (a reader reads whole sectors). */
static int finish_compressed(struct q2_writer *w, uint64_t l1_at, uint64_t rt,
			     struct msg *m)
{
	uint64_t end = w->next, clusters, per_block = w->cs / 2;
	unsigned char *buf;
	int rc = 0;

	if (w->zat && align_up(w->zat, w->cs) == w->next)
		end = align_up(w->zat, 512);	/* the last cluster is the one packed */
	clusters = div_up(end, w->cs);
	if (w->nrb > rt * (w->cs / 8))
		return fail(m, "internal error: %s needs more refcount blocks than its table "
			    "holds.", w->out->path);
	if (write_l2(w, m) < 0 ||
	    (w->l1_bytes && out_write(w->out, w->l1, w->l1_bytes, l1_at, m) < 0))
		return -1;
	if (!(buf = calloc(1, w->cs)))
		return fail_errno(m, "cannot write %s", w->out->path);
	for (uint64_t k = 0; rc == 0 && k < w->nrb; k++) {
		memset(buf, 0, w->cs);
		for (uint64_t i = k * per_block; i < (k + 1) * per_block && i < clusters; i++)
			put_be16(buf + (i - k * per_block) * 2, refcount_of(w, i));
		rc = out_write(w->out, buf, w->cs, w->rbo[k], m);
	}
	free(buf);
	for (uint64_t c = 0; rc == 0 && c < rt; c++) {
		unsigned char *t = calloc(1, w->cs);

		if (!t)
			return fail_errno(m, "cannot write %s", w->out->path);
		for (uint64_t i = 0; i < w->cs / 8 && c * (w->cs / 8) + i < w->nrb; i++)
			put_be64(t + i * 8, w->rbo[c * (w->cs / 8) + i]);
		rc = out_write(w->out, t, w->cs, (1 + c) * w->cs, m);
		free(t);
	}
	return rc < 0 ? -1 : out_set_size(w->out, end, m);
}

int qcow2_write(struct disk *src, const char *path, const struct opts *o,
		    struct msg *m)
{
	static const char *const compat[] = { "1.1", "0.10", NULL };
	static const char *const types[] = { "zlib", "zstd", NULL };
	struct output out = { .n = 0 };
	struct q2_writer w = { .range = UINT64_MAX };
	struct q2_codec_arg arg;
	uint64_t cs, range_bytes, l1_at = 0, l1_clusters, reft_at, rt = 0, rb;
	size_t ci, ti;
	int rc = -1;

	if (opt_choice(o, "compat", compat, 0, &ci, m) < 0 ||
	    opt_choice(o, "compression_type", types, 0, &ti, m) < 0 ||
	    opt_pow2(o, "cluster_size", "the cluster size", 1u << MIN_CLUSTER_BITS,
		     1u << MAX_CLUSTER_BITS, DEFAULT_CLUSTER, &cs, m) < 0)
		return -1;
	if (ti == QCOW2_ZSTD && ci == 1)
		return fail(m, "-o compression_type=zstd needs compat=1.1: a version 2 image has "
			    "no compression type.");
	w.type = (uint8_t)ti;
	w.compress = o->compress;
	if (o->backing && strlen(o->backing) > MAX_BACKING_NAME)
		return fail(m, "the backing file name is %zu bytes; QEMU takes at most %u.",
			    strlen(o->backing), MAX_BACKING_NAME);
	if (o->backing && strlen(o->backing_fmt) >= MAX_BACKING_FORMAT)
		return fail(m, "the backing format name %s is longer than QEMU takes.",
			    o->backing_fmt);
	if (backing_bytes(o, ci == 0 ? QCOW2_V3_HEADER : QCOW2_V2_HEADER) > cs)
		return fail(m, "%s: the backing file name does not fit in the first %llu-byte "
			    "cluster with the header; use a larger -o cluster_size.", path,
			    (unsigned long long)cs);
	w.cs = cs;
	while ((1ull << w.cbits) < cs)
		w.cbits++;
	w.l2_entries = cs / 8;
	range_bytes = cs * w.l2_entries;
	w.l1_size = div_up(src->size, range_bytes);
	if (w.l1_size * 8 > MAX_L1_BYTES)
		return fail(m, "%s: a disk of %llu bytes with %llu-byte clusters needs an L1 table "
			    "larger than QEMU's limit of 32 MiB; use a larger -o cluster_size.",
			    path, (unsigned long long)src->size, (unsigned long long)cs);
	l1_clusters = div_up(w.l1_size * 8, cs);
	w.l1_bytes = l1_clusters * cs;
	w.next = cs;			/* cluster 0 is the header */
	w.l1 = calloc(1, w.l1_bytes ? w.l1_bytes : 1);
	w.l2 = calloc(1, cs);
	if (!w.l1 || !w.l2) {
		fail_errno(m, "cannot write %s", path);
		goto out;
	}
	if (w.compress) {
		/* QEMU's layout: the header, the refcount table, the L1 table, then the
		 * data, each range's L2 table before its data and each refcount block
		 * before the clusters it counts, so that the file ends with data. The
		 * table is sized for the largest file the disk could make: every cluster
		 * it stores stored as it is. */
		uint64_t most, blocks;

		if (most_clusters(src, &w, &most, m) < 0)
			goto out;
		refcount_layout(1 + l1_clusters + most, cs, &rt, &blocks);
		if (rt * cs > MAX_REFT_BYTES) {
			fail(m, "%s: the image would need a refcount table larger than QEMU's "
			     "limit of 8 MiB; use a larger -o cluster_size.", path);
			goto out;
		}
		l1_at = (1 + rt) * cs;
		w.next = l1_at + w.l1_bytes;
	}
	arg = (struct q2_codec_arg){ cs, w.type };
	if (w.compress && cpool_start(&w.pool, &q2_codec, &arg, (size_t)cs, (size_t)cs, path,
				      m) < 0)
		goto out;
	if (output_add(&out, path, &w.out, m) < 0 ||
	    disk_each_data(src, cs > READ_UNIT ? cs : READ_UNIT, w.compress ? q2_cunit : q2_unit,
			   &w, NULL, m) < 0 ||
	    (w.compress && drain(&w, m) < 0))
		goto out;
	if (w.compress) {
		if (finish_compressed(&w, l1_at, rt, m) < 0 ||
		    write_header(&w, ci == 0 ? 3 : 2, src->size, l1_at, cs, rt, o, m) < 0 ||
		    output_commit(&out, m) < 0)
			goto out;
		rc = 0;
		goto out;
	}
	if (end_range(&w, m) < 0)
		goto out;

	l1_at = w.next;
	if (w.l1_bytes && out_write(w.out, w.l1, w.l1_bytes, l1_at, m) < 0)
		goto out;
	refcount_layout((l1_at + w.l1_bytes) / cs, cs, &rt, &rb);
	reft_at = l1_at + w.l1_bytes + rb * cs;
	if (rt * cs > MAX_REFT_BYTES) {
		fail(m, "%s: the image would need a refcount table larger than QEMU's limit of "
		     "8 MiB; use a larger -o cluster_size.", path);
		goto out;
	}
	if (write_refcounts(&w, l1_at + w.l1_bytes, rt, rb, m) < 0)
		goto out;
	if (write_header(&w, ci == 0 ? 3 : 2, src->size, l1_at, reft_at, rt, o, m) < 0 ||
	    output_commit(&out, m) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		output_discard(&out);
	if (w.compress)
		cpool_stop(&w.pool);
	free(w.refs);
	free(w.rbo);
	free(w.l1);
	free(w.l2);
	return rc;
}

