/* qcow2_check.c - imgtool check on a qcow2 image: every table against the file, the
 * dirty and corrupt marks, and every reference (snapshots and bitmaps included)
 * recounted against the refcounts; then every stored byte read.
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
#include "options.h"
#include "output.h"
#include "qcow2.h"
#include "report.h"

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
		qcow2_compressed_extent(q, e, &d_at, &len);
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

void qcow2_check(struct disk *d, struct faults *f)
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

