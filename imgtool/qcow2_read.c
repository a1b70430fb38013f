/* qcow2_read.c - reading qcow2, versions 2 and 3 (qcow2.h has the layout), and the
 * format's entry in the table.
 *
 * The reader follows L1 -> L2 -> data checking every entry against the file, reads
 * zlib-compressed clusters (qemu-img convert -c) and "all zeros" clusters, ignores
 * internal snapshots and bitmaps, and refuses what needs another file, a key or a
 * codec it lacks: backing files, external data files, encryption, zstd, extended L2
 * entries. It reads images marked dirty or corrupt (as QEMU does read-only: the
 * mapping tables are valid even when refcounts are stale); check (qcow2_check.c)
 * reports both marks.
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

const unsigned char qcow2_magic[4] = { 'Q', 'F', 'I', 0xFB };

int qcow2_bad(const struct q2 *q, struct msg *m, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return fail(m, "%s is not a usable qcow2 image: %s", q->d.file.path, what);
}


static int load_l2(struct q2 *q, uint64_t l1i, struct msg *m)
{
	uint64_t at = q->l1[l1i] & ENTRY_OFFSET;

	if (at == q->l2_at)
		return 0;
	if (at & (q->cs - 1))
		return qcow2_bad(q, m, "L1 entry %llu points to offset 0x%llx, which is not "
			   "cluster-aligned.", ull(l1i), ull(at));
	if (!in_file(q, at, q->cs))
		return qcow2_bad(q, m, "the L2 table at offset 0x%llx (L1 entry %llu) runs past the "
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
		return qcow2_bad(q, m, "the L2 entry of guest offset 0x%llx has the all-zeros flag, "
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
void qcow2_compressed_extent(const struct q2 *q, uint64_t e, uint64_t *at, uint64_t *len)
{
	unsigned x = 62 - (q->cbits - 8);
	uint64_t sectors = (e >> x) & ((1ull << (62 - x)) - 1);

	*at = e & ((1ull << x) - 1);
	*len = (sectors + 1) * 512 - (*at & 511);
}

/* The cluster of raw deflate data (zlib's, without header; QEMU's writer uses a
 * 4 KiB window, every window up to 32 KiB reads) in q->zin[0..len) into q->zout. */
static bool inflate_into(struct q2 *q, size_t len, struct msg *m)
{
	int zrc;

	if (!q->z_ready) {
		if (inflateInit2(&q->z, -15) != Z_OK)
			return fail(m, "cannot read %s: zlib would not start.", q->d.file.path) == 0;
		q->z_ready = true;
	}
	inflateReset(&q->z);
	q->z.next_in = q->zin;
	q->z.avail_in = (uInt)len;
	q->z.next_out = q->zout;
	q->z.avail_out = (uInt)q->cs;
	zrc = inflate(&q->z, Z_FINISH);
	return (zrc == Z_STREAM_END || zrc == Z_OK || zrc == Z_BUF_ERROR) && !q->z.avail_out;
}

/* The same for zstd: QEMU's writer ends the cluster's frame where its data ends, and
 * the rest of the last sector is whatever follows, so decompression stops as soon as
 * the cluster is whole, not at the end of the input. */
static bool unzstd_into(struct q2 *q, size_t len, struct msg *m)
{
	ZSTD_inBuffer in = { q->zin, len, 0 };
	ZSTD_outBuffer out = { q->zout, q->cs, 0 };

	if (!q->zstd && !(q->zstd = ZSTD_createDCtx()))
		return fail(m, "cannot read %s: zstd would not start.", q->d.file.path) == 0;
	ZSTD_DCtx_reset(q->zstd, ZSTD_reset_session_only);
	while (out.pos < out.size) {
		size_t before = in.pos + out.pos;
		size_t rc = ZSTD_decompressStream(q->zstd, &out, &in);

		if (ZSTD_isError(rc))
			return false;
		if (rc == 0 && out.pos < out.size)	/* the frame ended short */
			return false;
		if (in.pos + out.pos == before)		/* nothing more comes of the input */
			return false;
	}
	return true;
}

static int inflate_cluster(struct q2 *q, uint64_t vc, uint64_t e, struct msg *m)
{
	struct msg why = { "" };
	uint64_t at, len;
	bool ok;

	if (q->zout_entry == e)
		return 0;
	qcow2_compressed_extent(q, e, &at, &len);
	if (at >= q->d.file.size)
		return qcow2_bad(q, m, "the compressed data of guest offset 0x%llx (at offset 0x%llx) "
			   "lies past the end of the file.", ull(vc << q->cbits), ull(at));
	/* The last sector it names may run past the end of the file: QEMU's writer ends
	 * the file where the compressed bytes end. */
	if (len > q->d.file.size - at)
		len = q->d.file.size - at;
	q->zout_entry = 0;
	if (infile_read(&q->d.file, q->zin, (size_t)len, at, "compressed data", m) < 0)
		return -1;
	ok = q->compression == QCOW2_ZSTD ? unzstd_into(q, (size_t)len, &why)
					  : inflate_into(q, (size_t)len, &why);
	if (why.text[0]) {
		*m = why;
		return -1;
	}
	if (!ok)
		return qcow2_bad(q, m, "the compressed cluster of guest offset 0x%llx (at offset "
			   "0x%llx) does not %s to a whole cluster.", ull(vc << q->cbits),
			   ull(at), q->compression == QCOW2_ZSTD ? "decompress" : "inflate");
	q->zout_entry = e;
	return 0;
}

/* The host offset of a data cluster, checked. */
static int data_at(struct q2 *q, uint64_t vc, uint64_t e, uint64_t *at, struct msg *m)
{
	*at = e & ENTRY_OFFSET;
	if (*at & (q->cs - 1))
		return qcow2_bad(q, m, "the L2 entry of guest offset 0x%llx points to offset 0x%llx, "
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
				return qcow2_bad(q, m, "the data of guest offset 0x%llx (at offset "
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
	if (compressed || q->compression != QCOW2_ZLIB)
		info_str(i, "compression type", "%s", q->compression == QCOW2_ZSTD ? "zstd" : "zlib");
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

/* --- opening ---------------------------------------------------------------------- */

static void q2_release(struct disk *d)
{
	struct q2 *q = (struct q2 *)d;

	if (q->z_ready)
		inflateEnd(&q->z);
	ZSTD_freeDCtx(q->zstd);
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
			return qcow2_bad(q, m, "its header extension 0x%08x at offset 0x%llx runs past "
				   "the first cluster.", type, ull(pos));
		if (type == EXT_BACKING_FORMAT) {
			if (len == 0 || len >= MAX_BACKING_FORMAT)
				return qcow2_bad(q, m, "its backing format extension is %u bytes; QEMU "
					   "takes 1 to %u.", len, MAX_BACKING_FORMAT - 1);
			memset(q->backing_fmt, 0, sizeof q->backing_fmt);
			if (infile_read(&q->d.file, q->backing_fmt, len, pos + 8,
					"the backing format extension", m) < 0)
				return -1;
			if (strlen(q->backing_fmt) != len)
				return qcow2_bad(q, m, "its backing format name holds a NUL byte.");
		}
		if (type == EXT_BITMAPS) {
			if (len < 24)
				return qcow2_bad(q, m, "its bitmaps extension is %u bytes, not 24.", len);
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
		return qcow2_bad(q, m, "it has incompatible feature bits 0x%llx that imgtool does not "
			   "know.", ull(q->incompat & ~INCOMPAT_KNOWN));
	if (q->incompat & INCOMPAT_DATA_FILE)
		return fail(m, "%s keeps its data in an external data file; imgtool reads "
			    "standalone images only.", path);
	if (q->incompat & INCOMPAT_EXTENDED_L2)
		return fail(m, "%s uses extended L2 entries (subclusters), which imgtool does "
			    "not read.", path);
	if (!(q->incompat & INCOMPAT_COMPRESSION) && type != 0)
		return qcow2_bad(q, m, "its compression type is %u but the compression type feature "
			   "bit is clear.", type);
	if (q->incompat & INCOMPAT_COMPRESSION && type != QCOW2_ZSTD)
		return qcow2_bad(q, m, "its compression type %u is not one imgtool knows.", type);
	q->compression = type;
	return 0;
}

/* A table of entries of width bytes at offset at: aligned, and inside the file. */
static int check_table(struct q2 *q, uint64_t at, uint64_t entries, uint64_t width,
		       const char *what, struct msg *m)
{
	if (at & (q->cs - 1))
		return qcow2_bad(q, m, "its %s (offset 0x%llx) is not cluster-aligned.", what, ull(at));
	if (!in_file(q, at, entries * width))
		return qcow2_bad(q, m, "its %s (offset 0x%llx) runs past the end of the file.", what,
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
		return qcow2_bad(q, m, "it is %llu bytes, too short for the 72-byte header.",
			   ull(q->d.file.size));
	if (infile_read(&q->d.file, &h, QCOW2_V2_HEADER, 0, "the header", m) < 0)
		return -1;
	if (memcmp(h.magic, qcow2_magic, sizeof qcow2_magic) != 0)
		return qcow2_bad(q, m, "it does not start with the magic QFI\\xfb.");
	q->version = get_be32(h.version);
	if (q->version != 2 && q->version != 3)
		return qcow2_bad(q, m, "its version is %u; imgtool reads versions 2 and 3.", q->version);
	q->cbits = get_be32(h.cluster_bits);
	if (q->cbits < MIN_CLUSTER_BITS || q->cbits > MAX_CLUSTER_BITS)
		return qcow2_bad(q, m, "its cluster bits %u are outside 9..21 (512 bytes to 2 MiB).",
			   q->cbits);
	q->cs = 1ull << q->cbits;
	q->l2_entries = q->cs / 8;
	q->header_length = QCOW2_V2_HEADER;
	q->refcount_order = 4;
	if (q->version == 3) {
		if (q->d.file.size < QCOW2_V3_HEADER)
			return qcow2_bad(q, m, "it is %llu bytes, too short for the 104-byte version 3 "
				   "header.", ull(q->d.file.size));
		if (infile_read(&q->d.file, &h, QCOW2_V3_HEADER, 0, "the header", m) < 0)
			return -1;
		q->header_length = get_be32(h.header_length);
		if (q->header_length < QCOW2_V3_HEADER || q->header_length % 8 ||
		    q->header_length > q->cs)
			return qcow2_bad(q, m, "its header length %u is not a multiple of 8 from 104 to "
				   "the cluster size.", q->header_length);
		if (q->header_length > q->d.file.size)
			return qcow2_bad(q, m, "its %u-byte header runs past the end of the file.",
				   q->header_length);
		if (q->header_length > QCOW2_V3_HEADER &&
		    infile_read(&q->d.file, tail, 8, QCOW2_V3_HEADER, "the header", m) < 0)
			return -1;
		q->incompat = get_be64(h.incompatible_features);
		q->compat = get_be64(h.compatible_features);
		q->autoclear = get_be64(h.autoclear_features);
		q->refcount_order = get_be32(h.refcount_order);
		if (q->refcount_order > 6)
			return qcow2_bad(q, m, "its refcount order %u is more than 6 (64-bit refcounts).",
				   q->refcount_order);
	}
	backing = get_be64(h.backing_file_offset);
	if (backing) {
		uint32_t blen = get_be32(h.backing_file_size);

		if (blen == 0 || blen > MAX_BACKING_NAME)
			return qcow2_bad(q, m, "its backing file name is %u bytes; QEMU takes 1 to %u.",
				   blen, MAX_BACKING_NAME);
		if (backing > q->cs || blen > q->cs - backing || !in_file(q, backing, blen))
			return qcow2_bad(q, m, "its backing file name (offset 0x%llx) runs past the "
				   "first cluster.", ull(backing));
		if (!(q->backing_name = calloc(1, blen + 1)))
			return fail_errno(m, "cannot open %s", path);
		if (infile_read(&q->d.file, q->backing_name, blen, backing,
				"the backing file name", m) < 0)
			return -1;
		if (strlen(q->backing_name) != blen)
			return qcow2_bad(q, m, "its backing file name holds a NUL byte.");
	}
	crypt = get_be32(h.crypt_method);
	if (crypt)
		return fail(m, "%s is encrypted (%s); imgtool reads unencrypted images only.",
			    path, crypt == 1 ? "AES" : crypt == 2 ? "LUKS" : "an unknown method");
	if (check_features(q, q->header_length > QCOW2_V3_HEADER ? tail : NULL, m) < 0)
		return -1;

	q->d.size = get_be64(h.size);
	if (q->d.size % SECTOR)
		return qcow2_bad(q, m, "its virtual size %llu is not a whole number of 512-byte "
			   "sectors.", ull(q->d.size));
	q->l1_size = get_be32(h.l1_size);
	q->l1_at = get_be64(h.l1_table_offset);
	range = q->cs * q->l2_entries;
	need = div_up(q->d.size, range);
	if (q->l1_size * 8 > MAX_L1_BYTES)
		return qcow2_bad(q, m, "its L1 table of %llu entries is larger than QEMU's limit of "
			   "32 MiB.", ull(q->l1_size));
	if (q->l1_size < need)
		return qcow2_bad(q, m, "its L1 table has %llu entries, too few for a virtual size of "
			   "%llu bytes (%llu needed).", ull(q->l1_size), ull(q->d.size), ull(need));
	if (check_table(q, q->l1_at, q->l1_size, 8, "L1 table", m) < 0)
		return -1;
	q->reft_at = get_be64(h.refcount_table_offset);
	q->reft_clusters = get_be32(h.refcount_table_clusters);
	if (q->reft_clusters == 0)
		return qcow2_bad(q, m, "it has no refcount table.");
	if ((uint64_t)q->reft_clusters * q->cs > MAX_REFT_BYTES)
		return qcow2_bad(q, m, "its refcount table of %u clusters is larger than QEMU's limit "
			   "of 8 MiB.", q->reft_clusters);
	if (check_table(q, q->reft_at, q->reft_clusters, q->cs, "refcount table", m) < 0)
		return -1;
	q->nb_snapshots = get_be32(h.nb_snapshots);
	q->snapshots_at = get_be64(h.snapshots_offset);
	if (q->nb_snapshots > MAX_SNAPSHOTS)
		return qcow2_bad(q, m, "it claims %u snapshots, more than QEMU's limit of 65536.",
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
	q->d.check = qcow2_check;
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
		{ "compression_type", "zlib|zstd (how -c compresses; default zlib)" },
		{ NULL, NULL },
	},
	.backing = true,
	.compresses = true,
	.probe = q2_probe,
	.open = q2_open,
	.write = qcow2_write,
};

