/* qcow2.c - QEMU copy-on-write images, versions 2 and 3.
 *
 * Layout facts from QEMU's docs/interop/qcow2.txt ("the spec" below). All numbers are
 * big-endian. The file is a run of clusters; the header is cluster 0, two-level tables
 * map guest clusters to host clusters (L1 -> L2 -> data), and two-level tables count
 * the references to every host cluster (refcount table -> refcount blocks).
 *
 * The writer makes the smallest image QEMU accepts, in one pass over the source:
 *
 *   cluster 0              the header, written last, when every offset is known
 *   for each L1 range      its data clusters in disk order, then its L2 table
 *   then                   the L1 table, the refcount blocks, the refcount table
 *
 * Only the L1 table and the one L2 table being filled are held in memory. Every
 * cluster of the file is used exactly once, so every refcount is 1 and every L1 and
 * L2 entry carries the "copied" flag; nothing is compressed. The 1 MiB boot disk with
 * 512-byte clusters is six clusters: 3,072 bytes.
 *
 * The reader follows L1 -> L2 -> data checking every entry against the file, reads
 * zlib-compressed clusters (qemu-img convert -c) and "all zeros" clusters, ignores
 * internal snapshots and bitmaps, and refuses what needs another file, a key or a
 * codec it lacks: backing files, external data files, encryption, zstd, extended L2
 * entries. It reads images marked dirty or corrupt (as QEMU does read-only: the
 * mapping tables are valid even when refcounts are stale); check reports both marks,
 * and recounts every reference (snapshots and bitmaps included) against the refcounts.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bytes.h"
#include "disk.h"
#include "format.h"
#include "options.h"
#include "output.h"
#include "report.h"

/* --- the layout (spec "Header", "Host cluster management", "Cluster mapping") -------- */

/* The header as the spec draws it; version 2 ends after snapshots_offset (72 bytes). */
struct qcow2_header {
	uint8_t magic[4];			/* "QFI\xfb" */
	uint8_t version[4];			/* 2 or 3 */
	uint8_t backing_file_offset[8];
	uint8_t backing_file_size[4];
	uint8_t cluster_bits[4];
	uint8_t size[8];			/* virtual size in bytes */
	uint8_t crypt_method[4];
	uint8_t l1_size[4];			/* entries */
	uint8_t l1_table_offset[8];
	uint8_t refcount_table_offset[8];
	uint8_t refcount_table_clusters[4];
	uint8_t nb_snapshots[4];
	uint8_t snapshots_offset[8];
	/* version 3 */
	uint8_t incompatible_features[8];
	uint8_t compatible_features[8];
	uint8_t autoclear_features[8];
	uint8_t refcount_order[4];
	uint8_t header_length[4];
};

#define QCOW2_V2_HEADER 72u
#define QCOW2_V3_HEADER 104u
_Static_assert(offsetof(struct qcow2_header, incompatible_features) == QCOW2_V2_HEADER,
	       "the version 2 header is 72 bytes");
_Static_assert(sizeof(struct qcow2_header) == QCOW2_V3_HEADER,
	       "the version 3 header is 104 bytes");

static const unsigned char qcow2_magic[4] = { 'Q', 'F', 'I', 0xFB };

/* Incompatible feature bits. */
#define INCOMPAT_DIRTY		(1ull << 0)
#define INCOMPAT_CORRUPT	(1ull << 1)
#define INCOMPAT_DATA_FILE	(1ull << 2)
#define INCOMPAT_COMPRESSION	(1ull << 3)
#define INCOMPAT_EXTENDED_L2	(1ull << 4)
#define INCOMPAT_KNOWN		0x1Full

/* Header extension types (spec "Header extensions"). */
#define EXT_END			0x00000000u
#define EXT_BACKING_FORMAT	0xE2792ACAu
#define EXT_BITMAPS		0x23852875u

/* QEMU's limits on a backing file's name and on its format's name (with its NUL). */
#define MAX_BACKING_NAME	1023u
#define MAX_BACKING_FORMAT	16u

/* L1, L2 and refcount table entries. */
#define ENTRY_OFFSET	0x00FFFFFFFFFFFE00ull	/* bits 9..55: a host offset */
#define OFLAG_COPIED	(1ull << 63)		/* the refcount is exactly 1 */
#define OFLAG_COMPRESSED (1ull << 62)
#define OFLAG_ZERO	(1ull << 0)		/* version 3: the cluster reads as zeros */
#define L1E_RESERVED	(~(ENTRY_OFFSET | OFLAG_COPIED))
#define L2E_RESERVED	(~(ENTRY_OFFSET | OFLAG_COPIED | OFLAG_COMPRESSED | OFLAG_ZERO))
#define REFT_RESERVED	0x1FFull

/* QEMU's implementation limits: an image beyond them does not open in QEMU. */
#define MAX_L1_BYTES		(32u << 20)
#define MAX_REFT_BYTES		(8u << 20)
#define MAX_SNAPSHOTS		65536u
#define MAX_BITMAP_DIR		(64u << 20)
#define MIN_CLUSTER_BITS	9u
#define MAX_CLUSTER_BITS	21u
#define DEFAULT_CLUSTER		(64u << 10)	/* as qemu-img */

/* The spec's snapshot table entry and bitmap directory entry, fixed parts. */
#define SNAPSHOT_ENTRY	40u
#define BITMAP_ENTRY	24u

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* --- writing ---------------------------------------------------------------------- */

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
};

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
					put_be16(c + (i - idx * per_block) * 2, 1);
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
	unsigned char buf[sizeof(struct qcow2_header) + 8 + 8 + MAX_BACKING_FORMAT +
			  MAX_BACKING_NAME] = { 0 };
	struct qcow2_header *h = (struct qcow2_header *)buf;
	size_t len = version == 3 ? QCOW2_V3_HEADER : QCOW2_V2_HEADER, at = len;

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
		put_be32(h->header_length, QCOW2_V3_HEADER);
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

static int q2_write(struct disk *src, const char *path, const struct opts *o,
		    struct msg *m)
{
	static const char *const compat[] = { "1.1", "0.10", NULL };
	struct output out = { .n = 0 };
	struct q2_writer w = { .range = UINT64_MAX };
	uint64_t cs, range_bytes, l1_at, l1_clusters, reft_at, rt, rb;
	size_t ci;
	int rc = -1;

	if (opt_choice(o, "compat", compat, 0, &ci, m) < 0 ||
	    opt_pow2(o, "cluster_size", "the cluster size", 1u << MIN_CLUSTER_BITS,
		     1u << MAX_CLUSTER_BITS, DEFAULT_CLUSTER, &cs, m) < 0)
		return -1;
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
	if (output_add(&out, path, &w.out, m) < 0 ||
	    disk_each_data(src, cs > READ_UNIT ? cs : READ_UNIT, q2_unit, &w, NULL, m) < 0 ||
	    end_range(&w, m) < 0)
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
	free(w.l1);
	free(w.l2);
	return rc;
}

/* --- reading ---------------------------------------------------------------------- */

struct q2 {
	struct disk d;
	unsigned version, cbits, refcount_order;
	uint32_t header_length, reft_clusters, nb_snapshots;
	uint64_t cs, l2_entries, l1_size, l1_at, reft_at, snapshots_at;
	uint64_t incompat, compat, autoclear;
	bool has_bitmaps;
	uint32_t nb_bitmaps;
	uint64_t bitmap_dir_at, bitmap_dir_size;
	uint64_t *l1;			/* the active L1 table, host order */
	unsigned char *l2;		/* one L2 table, cached */
	uint64_t l2_at;			/* its offset; 0 = none */
	struct l2_sum *sums;		/* per cluster of the file, for the L2 tables there */
	z_stream z;
	bool z_ready;
	unsigned char *zin, *zout;	/* compressed bytes; the cluster they inflate to */
	uint64_t zout_entry;		/* the L2 entry zout holds; 0 = none */
	char *backing_name;		/* as the header records it, or NULL */
	char backing_fmt[MAX_BACKING_FORMAT];	/* from its extension, or "" */
	struct disk *backing;		/* what unallocated clusters read, or NULL */
};

enum kind { K_UNALLOCATED, K_ZERO, K_DATA, K_COMPRESSED };

/* What one L2 table maps, counted once per table: status() skips tables that are all
 * stored or all unstored, and info() adds the counts, so neither walks every entry
 * of a table that many L1 entries name. */
struct l2_sum {
	uint32_t known;			/* 1 once counted */
	uint32_t stored, compressed;
};

/* "X is not a usable qcow2 image: " and the problem. */
static int PRINTF_LIKE(3, 4) bad(const struct q2 *q, struct msg *m, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return fail(m, "%s is not a usable qcow2 image: %s", q->d.file.path, what);
}

static bool in_file(const struct q2 *q, uint64_t off, uint64_t len)
{
	return off <= q->d.file.size && len <= q->d.file.size - off;
}

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

static int load_l2(struct q2 *q, uint64_t l1i, struct msg *m)
{
	uint64_t at = q->l1[l1i] & ENTRY_OFFSET;

	if (at == q->l2_at)
		return 0;
	if (at & (q->cs - 1))
		return bad(q, m, "L1 entry %llu points to offset 0x%llx, which is not "
			   "cluster-aligned.", ull(l1i), ull(at));
	if (!in_file(q, at, q->cs))
		return bad(q, m, "the L2 table at offset 0x%llx (L1 entry %llu) runs past the "
			   "end of the file.", ull(at), ull(l1i));
	q->l2_at = 0;
	if (infile_read(&q->d.file, q->l2, q->cs, at, "an L2 table", m) < 0)
		return -1;
	q->l2_at = at;
	return 0;
}

static bool is_stored(enum kind k)
{
	return k == K_DATA || k == K_COMPRESSED;
}

static enum kind classify(uint64_t e)
{
	if (e & OFLAG_COMPRESSED)
		return K_COMPRESSED;
	if (e & OFLAG_ZERO)
		return K_ZERO;
	return e & ENTRY_OFFSET ? K_DATA : K_UNALLOCATED;
}

/* The L2 entry of guest cluster vc, and what it means. */
static int lookup(struct q2 *q, uint64_t vc, uint64_t *entry, enum kind *k, struct msg *m)
{
	uint64_t l1i = vc / q->l2_entries;

	*entry = 0;
	*k = K_UNALLOCATED;
	if (l1i >= q->l1_size || !(q->l1[l1i] & ENTRY_OFFSET))
		return 0;
	if (load_l2(q, l1i, m) < 0)
		return -1;
	*entry = get_be64(q->l2 + vc % q->l2_entries * 8);
	*k = classify(*entry);
	if (*k == K_ZERO && q->version < 3)
		return bad(q, m, "the L2 entry of guest offset 0x%llx has the all-zeros flag, "
			   "which version 2 images do not have.", ull(vc << q->cbits));
	return 0;
}

/* The counts of the L2 table that L1 entry l1i names (zero for none). */
static int l2_summary(struct q2 *q, uint64_t l1i, struct l2_sum *sum, struct msg *m)
{
	uint64_t at = l1i < q->l1_size ? q->l1[l1i] & ENTRY_OFFSET : 0;
	struct l2_sum *memo;

	memset(sum, 0, sizeof *sum);
	if (!at)
		return 0;
	if (load_l2(q, l1i, m) < 0)
		return -1;
	memo = q->sums ? &q->sums[at >> q->cbits] : NULL;	/* load_l2: inside the file */
	if (memo && memo->known) {
		*sum = *memo;
		return 0;
	}
	for (uint64_t i = 0; i < q->l2_entries; i++) {
		enum kind k = classify(get_be64(q->l2 + i * 8));

		sum->stored += is_stored(k);
		sum->compressed += k == K_COMPRESSED;
	}
	sum->known = 1;
	if (memo)
		*memo = *sum;
	return 0;
}

/* Where the compressed data of entry e lies (spec "Compressed Clusters Descriptor"). */
static void compressed_extent(const struct q2 *q, uint64_t e, uint64_t *at, uint64_t *len)
{
	unsigned x = 62 - (q->cbits - 8);
	uint64_t sectors = (e >> x) & ((1ull << (62 - x)) - 1);

	*at = e & ((1ull << x) - 1);
	*len = (sectors + 1) * 512 - (*at & 511);
}

static int inflate_cluster(struct q2 *q, uint64_t vc, uint64_t e, struct msg *m)
{
	uint64_t at, len;
	int zrc;

	if (q->zout_entry == e)
		return 0;
	compressed_extent(q, e, &at, &len);
	if (at >= q->d.file.size)
		return bad(q, m, "the compressed data of guest offset 0x%llx (at offset 0x%llx) "
			   "lies past the end of the file.", ull(vc << q->cbits), ull(at));
	/* The last sector it names may run past the end of the file: QEMU's writer ends
	 * the file where the compressed bytes end. */
	if (len > q->d.file.size - at)
		len = q->d.file.size - at;
	if (!q->z_ready) {
		if (inflateInit2(&q->z, -15) != Z_OK)
			return fail(m, "cannot read %s: zlib would not start.", q->d.file.path);
		q->z_ready = true;
	}
	q->zout_entry = 0;
	if (infile_read(&q->d.file, q->zin, (size_t)len, at, "compressed data", m) < 0)
		return -1;
	inflateReset(&q->z);
	q->z.next_in = q->zin;
	q->z.avail_in = (uInt)len;
	q->z.next_out = q->zout;
	q->z.avail_out = (uInt)q->cs;
	zrc = inflate(&q->z, Z_FINISH);
	if ((zrc != Z_STREAM_END && zrc != Z_OK && zrc != Z_BUF_ERROR) || q->z.avail_out)
		return bad(q, m, "the compressed cluster of guest offset 0x%llx (at offset "
			   "0x%llx) does not inflate to a whole cluster.", ull(vc << q->cbits),
			   ull(at));
	q->zout_entry = e;
	return 0;
}

/* The host offset of a data cluster, checked. */
static int data_at(struct q2 *q, uint64_t vc, uint64_t e, uint64_t *at, struct msg *m)
{
	*at = e & ENTRY_OFFSET;
	if (*at & (q->cs - 1))
		return bad(q, m, "the L2 entry of guest offset 0x%llx points to offset 0x%llx, "
			   "which is not cluster-aligned.", ull(vc << q->cbits), ull(*at));
	return 0;
}

static int q2_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	struct q2 *q = (struct q2 *)d;
	unsigned char *out = buf, *run_to = NULL;
	uint64_t run_at = 0;
	size_t run_len = 0;

	/* Clusters that follow each other in the file are read with one call. */
	while (len) {
		uint64_t vc = off >> q->cbits, in = off & (q->cs - 1), e, at;
		size_t n = q->cs - in < len ? (size_t)(q->cs - in) : len;
		enum kind k;

		if (lookup(q, vc, &e, &k, m) < 0)
			return -1;
		if (k == K_DATA) {
			if (data_at(q, vc, e, &at, m) < 0)
				return -1;
			at += in;
			if (!in_file(q, at, n))
				return bad(q, m, "the data of guest offset 0x%llx (at offset "
					   "0x%llx) runs past the end of the file.",
					   ull(off - in), ull(at - in));
			if (run_len && run_at + run_len == at && run_to + run_len == out) {
				run_len += n;
			} else {
				if (run_len && infile_read(&d->file, run_to, run_len, run_at,
							   "data", m) < 0)
					return -1;
				run_at = at;
				run_to = out;
				run_len = n;
			}
		} else if (k == K_COMPRESSED) {
			if (inflate_cluster(q, vc, e, m) < 0)
				return -1;
			memcpy(out, q->zout + in, n);
		} else if (k == K_UNALLOCATED && q->backing && off < q->backing->size) {
			/* The backing file may be smaller: past its end the overlay reads zeros. */
			size_t from = q->backing->size - off < n ? (size_t)(q->backing->size - off)
								 : n;

			if (disk_read(q->backing, out, from, off, m) < 0)
				return -1;
			memset(out + from, 0, n - from);
		} else {
			memset(out, 0, n);
		}
		out += n;
		off += n;
		len -= n;
	}
	if (run_len && infile_read(&d->file, run_to, run_len, run_at, "data", m) < 0)
		return -1;
	return 0;
}

/* From off, in an unallocated cluster of an overlay: the run that the backing file
 * reports there (or, past its end, zeros), cut where the overlay's own clusters
 * begin. The overlay is walked only as far as the backing file's run reaches, so a
 * walk of the whole disk stays linear however the backing file is fragmented. */
static int backing_status(struct q2 *q, uint64_t off, uint64_t *run, bool *stored,
			  struct msg *m)
{
	struct disk *b = q->backing;
	uint64_t limit = q->d.size, end, last = (q->d.size - 1) >> q->cbits, e;
	struct msg ignored;
	enum kind k;

	*stored = false;
	if (off < b->size) {
		if (b->status(b, off, run, stored, m) < 0)
			return -1;
		if (*run == 0 || *run > b->size - off)
			return fail(m, "%s: the %s reader reported a bad run at byte %llu.",
				    b->file.path, b->fmt->name, ull(off));
		limit = off + *run;
	}
	for (end = (off >> q->cbits) + 1; end <= last && end << q->cbits < limit;) {
		uint64_t l1i = end / q->l2_entries;

		/* A whole L2 range with no table is unallocated at once. */
		if (end % q->l2_entries == 0 && (l1i >= q->l1_size ||
						 !(q->l1[l1i] & ENTRY_OFFSET))) {
			end += q->l2_entries;
			continue;
		}
		if (lookup(q, end, &e, &k, &ignored) < 0 || k != K_UNALLOCATED)
			break;
		end++;
	}
	end = end > last ? q->d.size : end << q->cbits;
	*run = (end < limit ? end : limit) - off;
	return 0;
}

static int q2_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		     struct msg *m)
{
	struct q2 *q = (struct q2 *)d;
	uint64_t vc = off >> q->cbits, end, last = (d->size - 1) >> q->cbits, e;
	struct msg ignored;
	enum kind k;

	if (lookup(q, vc, &e, &k, m) < 0)
		return -1;
	if (k == K_UNALLOCATED && q->backing)
		return backing_status(q, off, run, stored, m);
	*stored = is_stored(k);
	/* Merge the clusters that follow while they are alike, a whole L2 table at a time
	 * where the table is all alike; a table that cannot be read ends the run here,
	 * and the next call reports it. With a backing file, an unallocated cluster is
	 * not alike with anything: it is what the backing file has there. */
	for (end = vc + 1; end <= last;) {
		struct l2_sum sum;

		if (end % q->l2_entries == 0 && (*stored || !q->backing)) {
			if (l2_summary(q, end / q->l2_entries, &sum, &ignored) < 0)
				break;
			if (sum.stored == (*stored ? q->l2_entries : 0)) {
				end += q->l2_entries;
				continue;
			}
		}
		if (lookup(q, end, &e, &k, &ignored) < 0 || is_stored(k) != *stored ||
		    (k == K_UNALLOCATED && q->backing))
			break;
		end++;
	}
	end = end > last ? d->size : end << q->cbits;
	*run = end - off;
	return 0;
}

/* --- info ------------------------------------------------------------------------- */

static void q2_info(struct disk *d, struct info *i)
{
	struct q2 *q = (struct q2 *)d;
	uint64_t allocated = 0, compressed = 0, clusters = div_up(d->size, q->cs);
	struct msg ignored;
	char features[96] = "";

	info_str(i, "compat", "%s", q->version == 3 ? "1.1" : "0.10");
	info_num(i, "version", q->version);
	info_num(i, "cluster size", q->cs);
	info_num(i, "l1 entries", q->l1_size);
	info_num(i, "refcount order", q->refcount_order);
	info_num(i, "refcount bits", 1u << q->refcount_order);
	info_num(i, "header length", q->header_length);
	if (q->backing_name) {
		info_str(i, "backing file", "%s", q->backing_name);
		if (q->backing_fmt[0])
			info_str(i, "backing file format", "%s", q->backing_fmt);
	}
	for (uint64_t l1i = 0; l1i * q->l2_entries < clusters; l1i++) {
		struct l2_sum sum;

		if (l2_summary(q, l1i, &sum, &ignored) < 0)
			break;
		if ((l1i + 1) * q->l2_entries > clusters && sum.known) {
			/* The last table maps past the end of the disk: count only up to it. */
			memset(&sum, 0, sizeof sum);
			for (uint64_t vc = l1i * q->l2_entries; vc < clusters; vc++) {
				enum kind k = classify(get_be64(q->l2 + vc % q->l2_entries * 8));

				sum.stored += is_stored(k);
				sum.compressed += k == K_COMPRESSED;
			}
		}
		allocated += sum.stored;
		compressed += sum.compressed;
	}
	info_num(i, "allocated clusters", allocated);
	if (compressed)
		info_num(i, "compressed clusters", compressed);
	if (q->nb_snapshots)
		info_num(i, "snapshots", q->nb_snapshots);
	if (q->incompat & INCOMPAT_DIRTY)
		strcat(features, ", dirty");
	if (q->incompat & INCOMPAT_CORRUPT)
		strcat(features, ", corrupt");
	if (q->compat & 1)
		strcat(features, ", lazy refcounts");
	if (q->has_bitmaps)
		strcat(features, ", bitmaps");
	if (features[0])
		info_str(i, "features", "%s", features + 2);
}

/* --- check ------------------------------------------------------------------------ */

/* What a cluster is used as; the first use names it in an overlap. */
enum role {
	R_NONE, R_HEADER, R_REFT, R_REFBLOCK, R_L1, R_L2, R_DATA, R_COMPRESSED,
	R_SNAPSHOTS, R_BITMAP_DIR, R_BITMAP_TABLE, R_BITMAP_DATA,
};
#define ROLE_MASK	0x3F
#define ROLE_OVERLAP	0x80	/* reported as an overlap: no refcount fault too */
#define ROLE_WALKED	0x40	/* an L2 table already checked for copied flags */

static const char *const role_name[] = {
	"nothing", "the header", "the refcount table", "a refcount block", "an L1 table",
	"an L2 table", "guest data", "compressed guest data", "the snapshot table",
	"the bitmap directory", "a bitmap table", "bitmap data",
};

/* Several references to one cluster are normal only where snapshots share L2 tables
 * and data; every other structure has one owner. */
static bool shareable(enum role r)
{
	return r == R_L2 || r == R_DATA || r == R_COMPRESSED;
}

#define CHECK_MAX_FAULTS 50

struct q2_check {
	struct q2 *q;
	struct faults *f;
	uint64_t n;			/* clusters in the file (the last may be partial) */
	uint32_t *refs;			/* references found, saturating */
	uint32_t *stored;		/* refcounts in the refcount blocks, saturating */
	uint8_t *role;
	unsigned char *buf;		/* one cluster */
	uint64_t faults;
};

static void PRINTF_LIKE(2, 3) kfault(struct q2_check *k, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	if (++k->faults > CHECK_MAX_FAULTS)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	fault(k->f, "%s: %s", k->q->d.file.path, text);
}

static uint32_t sat_add(uint32_t a, uint64_t b)
{
	return b >= UINT32_MAX - a ? UINT32_MAX : (uint32_t)(a + b);
}

/* Count times references to the clusters of [at, at + len) as role r. False when the
 * range overlaps something it may not share with. The caller has checked that the
 * range starts inside the file. */
static bool mark(struct q2_check *k, uint64_t at, uint64_t len, enum role r, uint64_t times)
{
	uint64_t cs = k->q->cs, first = at / cs, last;
	bool ok = true;

	if (len == 0 || first >= k->n)
		return true;	/* nothing of it in the file: read_table says so */
	last = len - 1 > UINT64_MAX - at ? k->n - 1 : (at + len - 1) / cs;
	if (last >= k->n)
		last = k->n - 1;
	for (uint64_t c = first; c <= last; c++) {
		enum role had = (enum role)(k->role[c] & ROLE_MASK);

		if (k->refs[c] && (had != r || !shareable(r))) {
			if (!(k->role[c] & ROLE_OVERLAP))
				kfault(k, "cluster %llu (offset 0x%llx) is used both as %s and as "
				       "%s.", ull(c), ull(c * cs), role_name[had], role_name[r]);
			k->role[c] |= ROLE_OVERLAP;
			ok = false;
		} else if (!k->refs[c]) {
			k->role[c] = (uint8_t)r;
		}
		k->refs[c] = sat_add(k->refs[c], times);
	}
	return ok;
}

/* A table of bytes at offset at, checked against the file; NULL after a fault. */
static unsigned char *read_table(struct q2_check *k, uint64_t at, uint64_t bytes,
				 const char *what)
{
	struct q2 *q = k->q;
	unsigned char *t;
	struct msg m;

	if (at & (q->cs - 1)) {
		kfault(k, "%s at offset 0x%llx is not cluster-aligned.", what, ull(at));
		return NULL;
	}
	if (!in_file(q, at, bytes)) {
		kfault(k, "%s at offset 0x%llx runs past the end of the file.", what, ull(at));
		return NULL;
	}
	t = malloc(bytes ? bytes : 1);
	if (!t) {
		kfault(k, "%s at offset 0x%llx is too large to check here.", what, ull(at));
		return NULL;
	}
	if (infile_read(&q->d.file, t, (size_t)bytes, at, what, &m) < 0) {
		kfault(k, "%s", m.text);
		free(t);
		return NULL;
	}
	return t;
}

/* A cluster that entry index of the table at table_at points to: aligned, and inside
 * the file. */
static bool good_cluster(struct q2_check *k, uint64_t at, const char *what,
			 const char *table, uint64_t index, uint64_t table_at)
{
	struct q2 *q = k->q;

	if (at & (q->cs - 1)) {
		kfault(k, "entry %llu of %s at offset 0x%llx points to %s at 0x%llx, which is "
		       "not cluster-aligned.", ull(index), table, ull(table_at), what, ull(at));
		return false;
	}
	if (at >= q->d.file.size) {
		kfault(k, "entry %llu of %s at offset 0x%llx points to %s at 0x%llx, past the "
		       "end of the file.", ull(index), table, ull(table_at), what, ull(at));
		return false;
	}
	return true;
}

static uint64_t refcount_at(const unsigned char *block, uint64_t j, unsigned order)
{
	unsigned bits = 1u << order;

	switch (order) {
	case 3: return block[j];
	case 4: return get_be16(block + j * 2);
	case 5: return get_be32(block + j * 4);
	case 6: return get_be64(block + j * 8);
	default: return (uint64_t)(block[j * bits / 8] >> (j * bits % 8)) & ((1u << bits) - 1);
	}
}

/* The refcount table and blocks: their own clusters, and the counts they hold. */
static void check_refcount_tables(struct q2_check *k)
{
	struct q2 *q = k->q;
	uint64_t bytes = (uint64_t)q->reft_clusters * q->cs, per_block = q->cs * 8 >>
		q->refcount_order, past_end = 0;
	unsigned char *t;

	mark(k, q->reft_at, bytes, R_REFT, 1);
	t = read_table(k, q->reft_at, bytes, "the refcount table");
	if (!t)
		return;
	for (uint64_t i = 0; i < bytes / 8; i++) {
		uint64_t e = get_be64(t + i * 8), at = e & ~REFT_RESERVED;
		struct msg m;

		if (e == 0)
			continue;
		if (e & REFT_RESERVED) {
			kfault(k, "refcount table entry %llu (0x%llx) has reserved bits set.",
			       ull(i), ull(e));
			continue;
		}
		if (at & (q->cs - 1) || !in_file(q, at, q->cs)) {
			kfault(k, "refcount table entry %llu points to a refcount block at 0x%llx, "
			       "%s.", ull(i), ull(at), at & (q->cs - 1) ?
			       "which is not cluster-aligned" : "past the end of the file");
			continue;
		}
		if (!mark(k, at, q->cs, R_REFBLOCK, 1))
			continue;	/* on top of something else: its counts are junk */
		if (infile_read(&q->d.file, k->buf, q->cs, at, "a refcount block", &m) < 0) {
			kfault(k, "%s", m.text);
			continue;
		}
		for (uint64_t j = 0; j < per_block; j++) {
			uint64_t c = i * per_block + j;
			uint64_t r = refcount_at(k->buf, j, q->refcount_order);

			if (c < k->n)
				k->stored[c] = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
			else if (r)
				past_end++;
		}
	}
	free(t);
	if (past_end)
		kfault(k, "%llu clusters past the end of the file have a refcount.", ull(past_end));
}

/* An L1 table: its clusters, and a reference to each L2 table it names. */
static void check_l1(struct q2_check *k, uint64_t at, uint64_t entries, const char *what)
{
	struct q2 *q = k->q;
	unsigned char *t;

	if (!mark(k, at, entries * 8, R_L1, 1))
		return;	/* on top of something else: its entries are junk */
	t = read_table(k, at, entries * 8, what);
	if (!t)
		return;
	for (uint64_t i = 0; i < entries; i++) {
		uint64_t e = get_be64(t + i * 8), l2 = e & ENTRY_OFFSET;

		if (e & L1E_RESERVED)
			kfault(k, "entry %llu of %s at offset 0x%llx (0x%llx) has reserved bits "
			       "set.", ull(i), what, ull(at), ull(e));
		if (l2 && good_cluster(k, l2, "an L2 table", what, i, at))
			mark(k, l2, q->cs, R_L2, 1);
	}
	free(t);
}

/* Internal snapshots: the table, and each snapshot's L1 table. */
static void check_snapshots(struct q2_check *k)
{
	struct q2 *q = k->q;
	uint64_t at = q->snapshots_at, end = q->snapshots_at;
	unsigned char e[SNAPSHOT_ENTRY];
	struct msg m;

	for (uint32_t s = 0; s < q->nb_snapshots; s++) {
		uint64_t l1_at, l1_size, len;

		if (!in_file(q, end, SNAPSHOT_ENTRY) ||
		    infile_read(&q->d.file, e, sizeof e, end, "a snapshot", &m) < 0) {
			kfault(k, "the snapshot table at offset 0x%llx runs past the end of the "
			       "file at snapshot %u.", ull(at), s);
			break;
		}
		l1_at = get_be64(e);
		l1_size = get_be32(e + 8);
		len = SNAPSHOT_ENTRY + (uint64_t)get_be32(e + 36) + get_be16(e + 12) +
		      get_be16(e + 14);
		end += (len + 7) & ~7ull;
		if (l1_size * 8 > MAX_L1_BYTES) {
			kfault(k, "snapshot %u has an L1 table of %llu entries, more than QEMU's "
			       "limit of 32 MiB.", s, ull(l1_size));
			continue;
		}
		check_l1(k, l1_at, l1_size, "a snapshot's L1 table");
	}
	if (end > q->d.file.size)
		end = q->d.file.size;
	mark(k, at, end - at, R_SNAPSHOTS, 1);
}

/* Persistent dirty bitmaps (spec "Bitmaps"): the directory, tables and data. */
static void check_bitmaps(struct q2_check *k)
{
	struct q2 *q = k->q;
	uint64_t size = q->bitmap_dir_size, pos = 0;
	unsigned char *dir;

	if (size > MAX_BITMAP_DIR) {
		kfault(k, "the bitmap directory of %llu bytes is larger than 64 MiB.", ull(size));
		return;
	}
	dir = read_table(k, q->bitmap_dir_at, size, "the bitmap directory");
	if (!dir)
		return;
	mark(k, q->bitmap_dir_at, size, R_BITMAP_DIR, 1);
	for (uint32_t b = 0; b < q->nb_bitmaps; b++) {
		uint64_t t_at, t_size, len;
		unsigned char *t;

		if (size - pos < BITMAP_ENTRY) {
			kfault(k, "the bitmap directory ends inside bitmap %u.", b);
			break;
		}
		t_at = get_be64(dir + pos);
		t_size = get_be32(dir + pos + 8);
		len = BITMAP_ENTRY + (uint64_t)get_be32(dir + pos + 20) + get_be16(dir + pos + 18);
		pos += (len + 7) & ~7ull;
		if (pos > size)
			pos = size;
		if (!mark(k, t_at, t_size * 8, R_BITMAP_TABLE, 1))
			continue;
		t = read_table(k, t_at, t_size * 8, "a bitmap table");
		for (uint64_t i = 0; t && i < t_size; i++) {
			uint64_t at = get_be64(t + i * 8) & ENTRY_OFFSET;

			if (at && good_cluster(k, at, "bitmap data", "a bitmap table", i, t_at))
				mark(k, at, q->cs, R_BITMAP_DATA, 1);
		}
		free(t);
	}
	free(dir);
}

/* Entry i of the L2 table at offset at, which times L1 entries name. */
static void check_l2_entry(struct q2_check *k, uint64_t at, uint64_t i, uint64_t e,
			   uint64_t times)
{
	struct q2 *q = k->q;
	uint64_t d_at, len;

	if (e & OFLAG_COMPRESSED) {
		compressed_extent(q, e, &d_at, &len);
		if (e & OFLAG_COPIED)
			kfault(k, "entry %llu of the L2 table at offset 0x%llx is compressed and "
			       "has the copied flag.", ull(i), ull(at));
		if (d_at >= q->d.file.size)
			kfault(k, "entry %llu of the L2 table at offset 0x%llx points to "
			       "compressed data at 0x%llx, past the end of the file.", ull(i),
			       ull(at), ull(d_at));
		else
			mark(k, d_at, len, R_COMPRESSED, times);
		return;
	}
	if (e & L2E_RESERVED)
		kfault(k, "entry %llu of the L2 table at offset 0x%llx (0x%llx) has reserved "
		       "bits set.", ull(i), ull(at), ull(e));
	if (e & OFLAG_ZERO && q->version < 3)
		kfault(k, "entry %llu of the L2 table at offset 0x%llx has the all-zeros flag, "
		       "which version 2 images do not have.", ull(i), ull(at));
	d_at = e & ENTRY_OFFSET;
	if (d_at && good_cluster(k, d_at, "data", "the L2 table", i, at))
		mark(k, d_at, q->cs, R_DATA, times);
}

/* Each distinct L2 table once: its data clusters get as many references as the table
 * has (one per L1 table naming it). */
static void check_l2_tables(struct q2_check *k)
{
	struct q2 *q = k->q;
	struct msg m;

	for (uint64_t c = 0; c < k->n; c++) {
		uint64_t at = c * q->cs;

		if ((k->role[c] & ROLE_MASK) != R_L2)
			continue;
		if (!in_file(q, at, q->cs) ||
		    infile_read(&q->d.file, k->buf, q->cs, at, "an L2 table", &m) < 0) {
			kfault(k, "the L2 table at offset 0x%llx runs past the end of the file.",
			       ull(at));
			continue;
		}
		for (uint64_t i = 0; i < q->l2_entries; i++)
			check_l2_entry(k, at, i, get_be64(k->buf + i * 8), k->refs[c]);
	}
}

static void compare_refcounts(struct q2_check *k)
{
	for (uint64_t c = 0; c < k->n; c++) {
		uint32_t used = k->refs[c], count = k->stored[c];

		if (used == count || k->role[c] & ROLE_OVERLAP)
			continue;
		if (count == 0)
			kfault(k, "the refcount of cluster %llu (offset 0x%llx) is 0 but it is "
			       "used as %s.", ull(c), ull(c * k->q->cs),
			       role_name[k->role[c] & ROLE_MASK]);
		else if (used == 0)
			kfault(k, "cluster %llu (offset 0x%llx) has refcount %u but nothing uses "
			       "it (a leak).", ull(c), ull(c * k->q->cs), count);
		else
			kfault(k, "the refcount of cluster %llu (offset 0x%llx) is %u but it is "
			       "used %u time%s.", ull(c), ull(c * k->q->cs), count, used,
			       used == 1 ? "" : "s");
	}
}

/* The refcount of the cluster at offset at, when it agrees with the references found
 * (else compare_refcounts has reported the cluster already). */
static bool agreed_refcount(const struct q2_check *k, uint64_t at, uint32_t *count)
{
	uint64_t c = at / k->q->cs;

	if (at & (k->q->cs - 1) || c >= k->n || k->stored[c] != k->refs[c] ||
	    k->role[c] & ROLE_OVERLAP)
		return false;
	*count = k->stored[c];
	return true;
}

/* The copied flag of the active tables says "refcount exactly 1" (spec "L1 table
 * entry", "L2 table entry"). */
static void check_copied(struct q2_check *k)
{
	struct q2 *q = k->q;
	struct msg m;

	for (uint64_t i = 0; i < q->l1_size; i++) {
		uint64_t e = q->l1[i], l2 = e & ENTRY_OFFSET, c = l2 / q->cs;
		uint32_t count;

		if (!l2 || !agreed_refcount(k, l2, &count))
			continue;
		if ((count == 1) != !!(e & OFLAG_COPIED))
			kfault(k, "L1 entry %llu names an L2 table with refcount %u but its copied "
			       "flag is %s.", ull(i), count, count == 1 ? "clear" : "set");
		if (k->role[c] & ROLE_WALKED || !in_file(q, l2, q->cs) ||
		    infile_read(&q->d.file, k->buf, q->cs, l2, "an L2 table", &m) < 0)
			continue;
		k->role[c] |= ROLE_WALKED;
		for (uint64_t j = 0; j < q->l2_entries; j++) {
			uint64_t f = get_be64(k->buf + j * 8), at = f & ENTRY_OFFSET;
			uint64_t guest = (i * q->l2_entries + j) << q->cbits;

			if (f & OFLAG_COMPRESSED)
				continue;
			if (!at) {
				if (f & OFLAG_COPIED && !(f & OFLAG_ZERO))
					kfault(k, "the L2 entry of guest offset 0x%llx has "
					       "the copied flag but no cluster.", ull(guest));
				continue;
			}
			if (agreed_refcount(k, at, &count) && (count == 1) != !!(f & OFLAG_COPIED))
				kfault(k, "the L2 entry of guest offset 0x%llx names a cluster "
				       "with refcount %u but its copied flag is %s.", ull(guest),
				       count, count == 1 ? "clear" : "set");
		}
	}
}

static void q2_check(struct disk *d, struct faults *f)
{
	struct q2 *q = (struct q2 *)d;
	struct q2_check k = { .q = q, .f = f };

	if (q->incompat & INCOMPAT_DIRTY)
		kfault(&k, "it is marked dirty: it was not closed cleanly, and its refcounts may "
		       "be stale.");
	if (q->incompat & INCOMPAT_CORRUPT)
		kfault(&k, "QEMU marked it corrupt.");
	k.n = div_up(d->file.size, q->cs);
	k.refs = calloc(k.n, sizeof *k.refs);
	k.stored = calloc(k.n, sizeof *k.stored);
	k.role = calloc(k.n, 1);
	k.buf = malloc(q->cs);
	if (!k.refs || !k.stored || !k.role || !k.buf) {
		kfault(&k, "it has too many clusters (%llu) to check here.", ull(k.n));
		goto out;
	}
	mark(&k, 0, q->cs, R_HEADER, 1);
	check_refcount_tables(&k);
	check_l1(&k, q->l1_at, q->l1_size, "the L1 table");
	if (q->nb_snapshots)
		check_snapshots(&k);
	if (q->has_bitmaps)
		check_bitmaps(&k);
	check_l2_tables(&k);
	compare_refcounts(&k);
	check_copied(&k);
	if (k.faults > CHECK_MAX_FAULTS)
		fault(f, "%s: %llu more faults are not listed.", d->file.path,
		      ull(k.faults - CHECK_MAX_FAULTS));
out:
	free(k.refs);
	free(k.stored);
	free(k.role);
	free(k.buf);
}

/* --- opening ---------------------------------------------------------------------- */

static void q2_release(struct disk *d)
{
	struct q2 *q = (struct q2 *)d;

	if (q->z_ready)
		inflateEnd(&q->z);
	free(q->l1);
	free(q->l2);
	free(q->sums);
	free(q->zin);
	free(q->zout);
	free(q->backing_name);
	disk_close(q->backing);
}

/* The header extensions between the header and the end of cluster 0. */
static int read_extensions(struct q2 *q, struct msg *m)
{
	uint64_t end = q->cs < q->d.file.size ? q->cs : q->d.file.size;
	uint64_t pos = q->header_length;
	unsigned char h[24];

	while (pos + 8 <= end) {
		uint32_t type, len;

		if (infile_read(&q->d.file, h, 8, pos, "a header extension", m) < 0)
			return -1;
		type = get_be32(h);
		len = get_be32(h + 4);
		if (type == EXT_END)
			return 0;
		if (len > end - pos - 8)
			return bad(q, m, "its header extension 0x%08x at offset 0x%llx runs past "
				   "the first cluster.", type, ull(pos));
		if (type == EXT_BACKING_FORMAT) {
			if (len == 0 || len >= MAX_BACKING_FORMAT)
				return bad(q, m, "its backing format extension is %u bytes; QEMU "
					   "takes 1 to %u.", len, MAX_BACKING_FORMAT - 1);
			memset(q->backing_fmt, 0, sizeof q->backing_fmt);
			if (infile_read(&q->d.file, q->backing_fmt, len, pos + 8,
					"the backing format extension", m) < 0)
				return -1;
			if (strlen(q->backing_fmt) != len)
				return bad(q, m, "its backing format name holds a NUL byte.");
		}
		if (type == EXT_BITMAPS) {
			if (len < 24)
				return bad(q, m, "its bitmaps extension is %u bytes, not 24.", len);
			if (infile_read(&q->d.file, h, 24, pos + 8, "the bitmaps extension", m) < 0)
				return -1;
			q->has_bitmaps = true;
			q->nb_bitmaps = get_be32(h);
			q->bitmap_dir_size = get_be64(h + 8);
			q->bitmap_dir_at = get_be64(h + 16);
		}
		pos += 8 + (((uint64_t)len + 7) & ~7ull);
	}
	return 0;
}

static int check_features(struct q2 *q, const unsigned char *compression_type,
			  struct msg *m)
{
	const char *path = q->d.file.path;
	uint8_t type = compression_type ? *compression_type : 0;

	if (q->incompat & ~INCOMPAT_KNOWN)
		return bad(q, m, "it has incompatible feature bits 0x%llx that imgtool does not "
			   "know.", ull(q->incompat & ~INCOMPAT_KNOWN));
	if (q->incompat & INCOMPAT_DATA_FILE)
		return fail(m, "%s keeps its data in an external data file; imgtool reads "
			    "standalone images only.", path);
	if (q->incompat & INCOMPAT_EXTENDED_L2)
		return fail(m, "%s uses extended L2 entries (subclusters), which imgtool does "
			    "not read.", path);
	if (!(q->incompat & INCOMPAT_COMPRESSION) && type != 0)
		return bad(q, m, "its compression type is %u but the compression type feature "
			   "bit is clear.", type);
	if (q->incompat & INCOMPAT_COMPRESSION && type == 1)
		return fail(m, "%s compresses its clusters with zstd; imgtool reads only "
			    "zlib-compressed qcow2 images.", path);
	if (q->incompat & INCOMPAT_COMPRESSION)
		return bad(q, m, "its compression type %u is not one imgtool knows.", type);
	return 0;
}

/* A table of entries of width bytes at offset at: aligned, and inside the file. */
static int check_table(struct q2 *q, uint64_t at, uint64_t entries, uint64_t width,
		       const char *what, struct msg *m)
{
	if (at & (q->cs - 1))
		return bad(q, m, "its %s (offset 0x%llx) is not cluster-aligned.", what, ull(at));
	if (!in_file(q, at, entries * width))
		return bad(q, m, "its %s (offset 0x%llx) runs past the end of the file.", what,
			   ull(at));
	return 0;
}

static int parse_header(struct q2 *q, struct msg *m)
{
	struct qcow2_header h;
	unsigned char tail[8] = { 0 };
	const char *path = q->d.file.path;
	uint64_t need, backing, range;
	uint32_t crypt;

	memset(&h, 0, sizeof h);
	if (q->d.file.size < QCOW2_V2_HEADER)
		return bad(q, m, "it is %llu bytes, too short for the 72-byte header.",
			   ull(q->d.file.size));
	if (infile_read(&q->d.file, &h, QCOW2_V2_HEADER, 0, "the header", m) < 0)
		return -1;
	if (memcmp(h.magic, qcow2_magic, sizeof qcow2_magic) != 0)
		return bad(q, m, "it does not start with the magic QFI\\xfb.");
	q->version = get_be32(h.version);
	if (q->version != 2 && q->version != 3)
		return bad(q, m, "its version is %u; imgtool reads versions 2 and 3.", q->version);
	q->cbits = get_be32(h.cluster_bits);
	if (q->cbits < MIN_CLUSTER_BITS || q->cbits > MAX_CLUSTER_BITS)
		return bad(q, m, "its cluster bits %u are outside 9..21 (512 bytes to 2 MiB).",
			   q->cbits);
	q->cs = 1ull << q->cbits;
	q->l2_entries = q->cs / 8;
	q->header_length = QCOW2_V2_HEADER;
	q->refcount_order = 4;
	if (q->version == 3) {
		if (q->d.file.size < QCOW2_V3_HEADER)
			return bad(q, m, "it is %llu bytes, too short for the 104-byte version 3 "
				   "header.", ull(q->d.file.size));
		if (infile_read(&q->d.file, &h, QCOW2_V3_HEADER, 0, "the header", m) < 0)
			return -1;
		q->header_length = get_be32(h.header_length);
		if (q->header_length < QCOW2_V3_HEADER || q->header_length % 8 ||
		    q->header_length > q->cs)
			return bad(q, m, "its header length %u is not a multiple of 8 from 104 to "
				   "the cluster size.", q->header_length);
		if (q->header_length > q->d.file.size)
			return bad(q, m, "its %u-byte header runs past the end of the file.",
				   q->header_length);
		if (q->header_length > QCOW2_V3_HEADER &&
		    infile_read(&q->d.file, tail, 8, QCOW2_V3_HEADER, "the header", m) < 0)
			return -1;
		q->incompat = get_be64(h.incompatible_features);
		q->compat = get_be64(h.compatible_features);
		q->autoclear = get_be64(h.autoclear_features);
		q->refcount_order = get_be32(h.refcount_order);
		if (q->refcount_order > 6)
			return bad(q, m, "its refcount order %u is more than 6 (64-bit refcounts).",
				   q->refcount_order);
	}
	backing = get_be64(h.backing_file_offset);
	if (backing) {
		uint32_t blen = get_be32(h.backing_file_size);

		if (blen == 0 || blen > MAX_BACKING_NAME)
			return bad(q, m, "its backing file name is %u bytes; QEMU takes 1 to %u.",
				   blen, MAX_BACKING_NAME);
		if (backing > q->cs || blen > q->cs - backing || !in_file(q, backing, blen))
			return bad(q, m, "its backing file name (offset 0x%llx) runs past the "
				   "first cluster.", ull(backing));
		if (!(q->backing_name = calloc(1, blen + 1)))
			return fail_errno(m, "cannot open %s", path);
		if (infile_read(&q->d.file, q->backing_name, blen, backing,
				"the backing file name", m) < 0)
			return -1;
		if (strlen(q->backing_name) != blen)
			return bad(q, m, "its backing file name holds a NUL byte.");
	}
	crypt = get_be32(h.crypt_method);
	if (crypt)
		return fail(m, "%s is encrypted (%s); imgtool reads unencrypted images only.",
			    path, crypt == 1 ? "AES" : crypt == 2 ? "LUKS" : "an unknown method");
	if (check_features(q, q->header_length > QCOW2_V3_HEADER ? tail : NULL, m) < 0)
		return -1;

	q->d.size = get_be64(h.size);
	if (q->d.size % SECTOR)
		return bad(q, m, "its virtual size %llu is not a whole number of 512-byte "
			   "sectors.", ull(q->d.size));
	q->l1_size = get_be32(h.l1_size);
	q->l1_at = get_be64(h.l1_table_offset);
	range = q->cs * q->l2_entries;
	need = div_up(q->d.size, range);
	if (q->l1_size * 8 > MAX_L1_BYTES)
		return bad(q, m, "its L1 table of %llu entries is larger than QEMU's limit of "
			   "32 MiB.", ull(q->l1_size));
	if (q->l1_size < need)
		return bad(q, m, "its L1 table has %llu entries, too few for a virtual size of "
			   "%llu bytes (%llu needed).", ull(q->l1_size), ull(q->d.size), ull(need));
	if (check_table(q, q->l1_at, q->l1_size, 8, "L1 table", m) < 0)
		return -1;
	q->reft_at = get_be64(h.refcount_table_offset);
	q->reft_clusters = get_be32(h.refcount_table_clusters);
	if (q->reft_clusters == 0)
		return bad(q, m, "it has no refcount table.");
	if ((uint64_t)q->reft_clusters * q->cs > MAX_REFT_BYTES)
		return bad(q, m, "its refcount table of %u clusters is larger than QEMU's limit "
			   "of 8 MiB.", q->reft_clusters);
	if (check_table(q, q->reft_at, q->reft_clusters, q->cs, "refcount table", m) < 0)
		return -1;
	q->nb_snapshots = get_be32(h.nb_snapshots);
	q->snapshots_at = get_be64(h.snapshots_offset);
	if (q->nb_snapshots > MAX_SNAPSHOTS)
		return bad(q, m, "it claims %u snapshots, more than QEMU's limit of 65536.",
			   q->nb_snapshots);
	if (q->nb_snapshots &&
	    check_table(q, q->snapshots_at, q->nb_snapshots, SNAPSHOT_ENTRY, "snapshot table",
			m) < 0)
		return -1;
	return read_extensions(q, m);
}

/* The images whose backing files are being opened, outermost first: a backing file
 * that is one of them would be opened again for ever. Opening is not reentrant from
 * another thread (imgtool opens its images on one). */
#define MAX_CHAIN 64
static struct {
	dev_t dev;
	ino_t ino;
} chain[MAX_CHAIN];
static size_t chain_len;

/* Open what unallocated clusters read: the backing file as its format extension names
 * it, or as its signature says when the image names none (as QEMU reads it). */
static int open_backing(struct q2 *q, struct msg *m)
{
	const char *path = q->d.file.path;
	const struct format *fmt = NULL;
	struct stat st;
	int rc;

	if (strncmp(q->backing_name, "json:", 5) == 0)
		return fail(m, "%s names its backing file with a QEMU block specification "
			    "(json:), not a file name; imgtool reads backing files by name only.",
			    path);
	if (q->backing_fmt[0]) {
		struct msg ignored;

		fmt = format_by_name(q->backing_fmt, &ignored);
		if (!fmt)
			return fail(m, "%s has a backing file of the format %s, which imgtool "
				    "does not read.", path, q->backing_fmt);
	}
	if (fstat(q->d.file.fd, &st) != 0)
		return fail_errno(m, "cannot open %s", path);
	for (size_t i = 0; i < chain_len; i++)
		if (chain[i].dev == st.st_dev && chain[i].ino == st.st_ino)
			return fail(m, "the backing chain of %s loops back to it.",
				    path);
	if (chain_len == MAX_CHAIN)
		return fail(m, "%s is more than %u images deep in a backing chain.", path,
			    MAX_CHAIN);
	chain[chain_len].dev = st.st_dev;
	chain[chain_len].ino = st.st_ino;
	chain_len++;
	rc = backing_open(path, q->backing_name, fmt, &q->backing, m);
	chain_len--;
	return rc;
}

static int q2_open(struct infile *f, struct disk **d, struct msg *m)
{
	struct q2 *q = calloc(1, sizeof *q);

	*d = NULL;
	if (!q) {
		fail_errno(m, "cannot open %s", f->path);
		infile_close(f);
		return -1;
	}
	q->d.fmt = &fmt_qcow2;
	q->d.file = *f;
	q->d.read = q2_read;
	q->d.status = q2_status;
	q->d.info = q2_info;
	q->d.check = q2_check;
	q->d.release = q2_release;
	if (parse_header(q, m) < 0)
		goto bad;
	q->l1 = malloc(q->l1_size ? q->l1_size * 8 : 1);
	q->l2 = malloc(q->cs);
	q->zin = malloc(2 * q->cs);	/* a compressed cluster spans at most 2 clusters */
	q->zout = malloc(q->cs);
	q->sums = calloc(div_up(q->d.file.size, q->cs), sizeof *q->sums);
	if (!q->l1 || !q->l2 || !q->zin || !q->zout || !q->sums) {
		fail_errno(m, "cannot open %s", q->d.file.path);
		goto bad;
	}
	if (infile_read(&q->d.file, q->l1, q->l1_size * 8, q->l1_at, "the L1 table", m) < 0)
		goto bad;
	for (uint64_t i = 0; i < q->l1_size; i++)
		q->l1[i] = get_be64(&q->l1[i]);
	if (q->backing_name && open_backing(q, m) < 0)
		goto bad;
	*d = &q->d;
	return 0;
bad:
	disk_close(&q->d);
	return -1;
}

static bool q2_probe(const struct infile *f, const unsigned char *head, size_t n)
{
	(void)f;
	return n >= sizeof qcow2_magic && memcmp(head, qcow2_magic, sizeof qcow2_magic) == 0;
}

const struct format fmt_qcow2 = {
	.name = "qcow2",
	.ext = ".qcow2",
	.summary = "QEMU copy-on-write, version 3 (compat 1.1) or 2 (compat 0.10)",
	.opts = (const struct opt_spec[]){
		{ "compat", "1.1|0.10 (default 1.1)" },
		{ "cluster_size", "512 to 2M, a power of two (default 64K)" },
		{ NULL, NULL },
	},
	.backing = true,
	.probe = q2_probe,
	.open = q2_open,
	.write = q2_write,
};
