/* vmdk.c - VMware virtual disks: monolithicFlat, monolithicSparse and streamOptimized.
 *
 * After "VMware Virtual Disk Format 1.1" (VMware, 2007). A VMDK is a text descriptor
 * that names its extents, and the extents that hold the data. Three layouts are
 * written (-o subformat=):
 *
 *   monolithicFlat    NAME.vmdk, the descriptor, and NAME-flat.vmdk beside it: the
 *                     disk byte for byte, zero ranges left as holes.
 *   monolithicSparse  one hosted sparse extent (version 1): header | descriptor (20
 *                     sectors: room for VMware and VirtualBox to edit it in place) |
 *                     redundant grain directory | redundant grain tables | grain
 *                     directory | grain tables | padding to a grain | grains that hold
 *                     data, in disk order.
 *   streamOptimized   one sparse extent (version 3) in the order a stream reader meets
 *                     it: header (grain directory "at end") | descriptor | for each grain
 *                     with data a marker and its zlib data | each grain table after its
 *                     grains, behind a marker | grain directory marker and directory |
 *                     footer marker and footer (the header with the real directory
 *                     offset) | end-of-stream marker, which ESXi's OVF import demands.
 *
 * The reader takes a sparse extent opened directly, or a descriptor whose extents are
 * FLAT, VMFS, ZERO or SPARSE (hosted sparse, compressed or not), so the split
 * twoGbMaxExtent layouts read too. Extent names must be plain file names beside the
 * descriptor: VMDK allows absolute paths and "..", but a descriptor from elsewhere
 * could then make imgtool copy any file it can read into the image it writes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bytes.h"
#include "cpool.h"
#include "disk.h"
#include "format.h"
#include "ident.h"
#include "output.h"
#include "report.h"

/* --- the layout ------------------------------------------------------------------------ */

/* SparseExtentHeader (spec 1.1, "Hosted Sparse Extent Header"): packed, little-endian,
 * in sector 0 of a sparse extent. Offsets and sizes are in sectors. */
enum {
	H_MAGIC = 0,		/* "KDMV" */
	H_VERSION = 4,		/* 1; 2 with zeroed-grain entries; 3 for streams */
	H_FLAGS = 8,
	H_CAPACITY = 12,	/* u64 sectors of virtual disk */
	H_GRAIN = 20,		/* u64 sectors per grain */
	H_DESC_OFFSET = 28,	/* u64: the embedded descriptor, or 0 */
	H_DESC_SIZE = 36,	/* u64 sectors */
	H_GTES = 44,		/* u32 entries per grain table */
	H_RGD = 48,		/* u64: the redundant grain directory */
	H_GD = 56,		/* u64: the grain directory, or GD_AT_END */
	H_OVERHEAD = 64,	/* u64 sectors before the first grain */
	H_UNCLEAN = 72,		/* u8 */
	H_NEWLINES = 73,	/* "\n \r\n": a text-mode copy changes them */
	H_COMPRESS = 77,	/* u16: 0 none, 1 deflate */
	H_END = 79		/* padding to the end of the sector */
};
_Static_assert(H_END <= SECTOR, "the sparse header fits in a sector");

static const char MAGIC[4] = { 'K', 'D', 'M', 'V' };
static const char NEWLINES[4] = { '\n', ' ', '\r', '\n' };

#define FLAG_NEWLINE	(1u << 0)	/* H_NEWLINES holds NEWLINES */
#define FLAG_RGD	(1u << 1)	/* a redundant grain directory exists */
#define FLAG_ZERO_GTE	(1u << 2)	/* a grain table entry of 1 means a grain of zeros */
#define FLAG_COMPRESSED	(1u << 16)
#define FLAG_MARKERS	(1u << 17)
#define GD_AT_END	UINT64_MAX	/* streams: the real offset is in the footer */
#define COMPRESS_DEFLATE 1

/* Markers (spec 1.1, "Stream-Optimized Compressed Sparse Extents"). A grain is its
 * LBA (u64), its compressed size (u32) and the zlib data, padded to a sector. A
 * metadata marker has size 0 and a type, fills a sector, and its value is the number
 * of sectors of metadata that follow it. */
enum { M_VAL = 0, M_SIZE = 8, M_TYPE = 12, GRAIN_DATA = 12 };
enum { MARKER_EOS = 0, MARKER_GT = 1, MARKER_GD = 2, MARKER_FOOTER = 3 };

/* What the writer uses: 64 KiB grains and 512-entry tables, as VMware does. */
#define GRAIN_SECTORS 128u
#define GRAIN_BYTES (GRAIN_SECTORS * SECTOR)
#define GT_ENTRIES 512u
#define GT_SECTORS (GT_ENTRIES * 4u / SECTOR)
#define GT_SPAN ((uint64_t)GRAIN_SECTORS * GT_ENTRIES)	/* sectors one table covers */
#define SPARSE_DESC_SECTORS 20u
/* Grain tables hold 32-bit sector numbers: a sparse file ends before 2 TiB. */
#define SPARSE_MAX_SECTORS (1ull << 32)

/* What the reader accepts: enough for every VMDK VMware and QEMU write, and bounded
 * so that no input makes it allocate much or loop long. */
#define DESC_MAX (1u << 20)
#define EXTENTS_MAX 256
#define NAME_MAX_LEN 255
#define GRAIN_MAX_SECTORS 2048u
#define GTES_MAX 512u
#define FAULTS_MAX 20
/* 4 EiB: far more than any disk, and far enough from 2^64 bytes that no sum of
 * offsets and lengths overflows. */
#define DISK_MAX_SECTORS (1ull << 53)

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static uint64_t round_up(uint64_t a, uint64_t b)
{
	return div_up(a, b) * b;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* "PATH is not a usable VMDK image: WHY" */
static int unusable(struct msg *m, const char *path, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int unusable(struct msg *m, const char *path, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return fail(m, "%s is not a usable VMDK image: %s", path, why);
}

struct header {
	uint32_t version, flags, gtes;
	uint64_t capacity, grain, desc_offset, desc_size, rgd, gd, overhead;
	uint16_t compression;
};

static void header_get(const unsigned char *b, struct header *h)
{
	h->version = get_le32(b + H_VERSION);
	h->flags = get_le32(b + H_FLAGS);
	h->capacity = get_le64(b + H_CAPACITY);
	h->grain = get_le64(b + H_GRAIN);
	h->desc_offset = get_le64(b + H_DESC_OFFSET);
	h->desc_size = get_le64(b + H_DESC_SIZE);
	h->gtes = get_le32(b + H_GTES);
	h->rgd = get_le64(b + H_RGD);
	h->gd = get_le64(b + H_GD);
	h->overhead = get_le64(b + H_OVERHEAD);
	h->compression = get_le16(b + H_COMPRESS);
}

static void header_put(unsigned char *b, const struct header *h)
{
	memset(b, 0, SECTOR);
	memcpy(b + H_MAGIC, MAGIC, sizeof MAGIC);
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
	memcpy(b + H_NEWLINES, NEWLINES, sizeof NEWLINES);
	put_le16(b + H_COMPRESS, h->compression);
}

static void marker_put(unsigned char *b, uint64_t sectors, uint32_t type)
{
	memset(b, 0, SECTOR);
	put_le64(b + M_VAL, sectors);
	put_le32(b + M_TYPE, type);
}

/* --- the descriptor ---------------------------------------------------------------- */

enum ext_kind { EXT_FLAT, EXT_ZERO, EXT_SPARSE };

struct desc_extent {
	enum ext_kind kind;
	uint64_t sectors, offset;	/* offset: FLAT, in sectors of the file */
	char *name;			/* NULL for ZERO */
	unsigned line;
};

/* What imgtool reads from a descriptor; text values are cut to their buffers. */
struct desc {
	char create_type[64], cid[16], parent_cid[16], parent_hint[128];
	char adapter[32], uuid[48], hw_version[16], cylinders[24], heads[24], sectors[24];
	bool has_cid, cid_ok, has_parent_cid;
	struct desc_extent *ext;
	size_t next;
};

static void desc_free(struct desc *d)
{
	for (size_t i = 0; i < d->next; i++)
		free(d->ext[i].name);
	free(d->ext);
	d->ext = NULL;
	d->next = 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

static bool is_control(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7F;
}

/* Text from a descriptor, cut to size, with control characters as '?': info and
 * messages print it, and a terminal must not take it for commands. */
static void copy_text(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	for (size_t i = 0; i < len; i++)
		dst[i] = is_control(src[i]) ? '?' : src[i];
	dst[len] = '\0';
}

/* A decimal number of at most 19 digits at s[*i], skipping blanks before it. */
static bool take_number(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t start;

	while (*i < n && blank(s[*i]))
		(*i)++;
	start = *i;
	*v = 0;
	while (*i < n && s[*i] >= '0' && s[*i] <= '9' && *i - start < 19)
		*v = *v * 10 + (uint64_t)(s[(*i)++] - '0');
	return *i > start && (*i == n || !(s[*i] >= '0' && s[*i] <= '9'));
}

static bool take_word(const char *s, size_t n, size_t *i, const char **w, size_t *wlen)
{
	while (*i < n && blank(s[*i]))
		(*i)++;
	*w = s + *i;
	while (*i < n && !blank(s[*i]))
		(*i)++;
	*wlen = (size_t)(s + *i - *w);
	return *wlen > 0;
}

static bool word_is(const char *w, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(w, lit, len) == 0;
}

/* ACCESS SECTORS TYPE ["FILE" [OFFSET]] (spec 1.1, "Extent Descriptions"). */
static int parse_extent(const char *s, size_t n, unsigned line, const char *path,
			struct desc *d, struct msg *m)
{
	struct desc_extent e = { .line = line };
	const char *access, *type, *name = NULL;
	size_t alen, tlen, nlen = 0, i = 0;

	if (!take_word(s, n, &i, &access, &alen) || !take_number(s, n, &i, &e.sectors) ||
	    !take_word(s, n, &i, &type, &tlen))
		goto syntax;
	while (i < n && blank(s[i]))
		i++;
	if (i < n && s[i] == '"') {
		name = s + ++i;
		while (i < n && s[i] != '"')
			i++;
		if (i == n)
			goto syntax;
		nlen = (size_t)(s + i - name);
		i++;
		while (i < n && blank(s[i]))
			i++;
		if (i < n && !take_number(s, n, &i, &e.offset))
			goto syntax;
		while (i < n && blank(s[i]))
			i++;
	}
	if (i != n)
		goto syntax;

	if (word_is(access, alen, "NOACCESS"))
		return unusable(m, path, "line %u of its descriptor is a NOACCESS extent, "
				"which has no data to read.", line);
	if (word_is(type, tlen, "FLAT") || word_is(type, tlen, "VMFS"))
		e.kind = EXT_FLAT;
	else if (word_is(type, tlen, "SPARSE"))
		e.kind = EXT_SPARSE;
	else if (word_is(type, tlen, "ZERO"))
		e.kind = EXT_ZERO;
	else {
		char word[24];

		copy_text(word, sizeof word, type, tlen);
		return unusable(m, path, "line %u of its descriptor is a %s extent; imgtool "
				"reads FLAT, VMFS, ZERO and SPARSE extents.", line, word);
	}
	if (e.sectors == 0)
		return unusable(m, path, "line %u of its descriptor is an extent of 0 sectors.",
				line);
	if ((e.kind == EXT_ZERO) != (name == NULL) || (e.kind == EXT_SPARSE && e.offset))
		goto syntax;
	if (d->next == EXTENTS_MAX)
		return unusable(m, path, "its descriptor has more than %d extents.", EXTENTS_MAX);
	if (name) {
		if (nlen == 0 || nlen > NAME_MAX_LEN)
			return unusable(m, path, "line %u of its descriptor names an extent file "
					"of %zu characters.", line, nlen);
		for (size_t k = 0; k < nlen; k++)
			if (is_control(name[k]))
				return unusable(m, path, "line %u of its descriptor names an "
						"extent file with a control character.", line);
		e.name = strndup(name, nlen);
		if (!e.name)
			return fail_errno(m, "cannot read %s", path);
	}
	if (d->next % 16 == 0) {
		struct desc_extent *more = realloc(d->ext, (d->next + 16) * sizeof *more);

		if (!more) {
			free(e.name);
			return fail_errno(m, "cannot read %s", path);
		}
		d->ext = more;
	}
	d->ext[d->next++] = e;
	return 0;
syntax:
	return unusable(m, path, "line %u of its descriptor is not an extent as ACCESS "
			"SECTORS TYPE \"FILE\" OFFSET.", line);
}

static void set_value(struct desc *d, const char *key, size_t klen, const char *v, size_t vlen)
{
	static const struct {
		const char *key;
		size_t at, size;
	} fields[] = {
#define FIELD(k, f) { k, offsetof(struct desc, f), sizeof ((struct desc *)0)->f }
		FIELD("createType", create_type),
		FIELD("CID", cid),
		FIELD("parentCID", parent_cid),
		FIELD("parentFileNameHint", parent_hint),
		FIELD("ddb.adapterType", adapter),
		FIELD("ddb.uuid.image", uuid),
		FIELD("ddb.virtualHWVersion", hw_version),
		FIELD("ddb.geometry.cylinders", cylinders),
		FIELD("ddb.geometry.heads", heads),
		FIELD("ddb.geometry.sectors", sectors),
#undef FIELD
	};

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		char *dst = (char *)d + fields[i].at;

		if (!word_is(key, klen, fields[i].key))
			continue;
		copy_text(dst, fields[i].size, v, vlen);
		if (dst == d->cid) {
			d->has_cid = true;
			d->cid_ok = vlen < fields[i].size && is_hex(d->cid, 1, 8);
		}
		if (dst == d->parent_cid)
			d->has_parent_cid = true;
		if (dst == d->parent_hint && !*dst)
			snprintf(dst, fields[i].size, "?");	/* named, even if empty */
	}
}

/* Read the lines of a descriptor: comments, KEY=VALUE (the value maybe quoted) and
 * extent lines. Lines imgtool has no use for are skipped, as VMware does. */
static int parse_descriptor(const char *text, size_t len, const char *path, struct desc *d,
			    struct msg *m)
{
	size_t pos = 0;
	unsigned line = 0;

	memset(d, 0, sizeof *d);
	len = strnlen(text, len);	/* an embedded descriptor is padded with zeros */
	while (pos < len) {
		const char *s = text + pos, *eq;
		size_t n = 0;

		while (pos + n < len && s[n] != '\n')
			n++;
		pos += n + 1;
		line++;
		while (n && (blank(s[n - 1]) || s[n - 1] == '\r'))
			n--;
		while (n && blank(*s)) {
			s++;
			n--;
		}
		if (n == 0 || *s == '#')
			continue;
		if ((n > 3 && memcmp(s, "RW", 2) == 0 && blank(s[2])) ||
		    (n > 7 && memcmp(s, "RDONLY", 6) == 0 && blank(s[6])) ||
		    (n > 9 && memcmp(s, "NOACCESS", 8) == 0 && blank(s[8]))) {
			if (parse_extent(s, n, line, path, d, m) < 0)
				return -1;
			continue;
		}
		eq = memchr(s, '=', n);
		if (!eq)
			continue;
		size_t klen = (size_t)(eq - s), vat = klen + 1, vlen;

		while (klen && blank(s[klen - 1]))
			klen--;
		while (vat < n && blank(s[vat]))
			vat++;
		vlen = n - vat;
		if (vlen >= 2 && s[vat] == '"' && s[n - 1] == '"') {
			vat++;
			vlen -= 2;
		}
		set_value(d, s, klen, s + vat, vlen);
	}
	return 0;
}

/* The descriptor imgtool writes. The DDB carries the geometry and adapter VMware
 * needs to attach the disk, and the image UUID VirtualBox registers it by. */
struct wdesc {
	uint32_t cid;
	const char *create_type;
	const char *extent_type;	/* "FLAT" or "SPARSE" */
	const char *extent;		/* the extent's file name */
	uint64_t capacity;
	const char *adapter;
	uint64_t cylinders;
	unsigned heads;
	char uuid[37];
};

static int descriptor_text(char *buf, size_t size, const struct wdesc *w)
{
	return snprintf(buf, size,
			"# Disk DescriptorFile\n"
			"version=1\n"
			"CID=%08x\n"
			"parentCID=ffffffff\n"
			"createType=\"%s\"\n"
			"\n"
			"# Extent description\n"
			"RW %llu %s \"%s\"%s\n"
			"\n"
			"# The Disk Data Base\n"
			"#DDB\n"
			"\n"
			"ddb.virtualHWVersion = \"4\"\n"
			"ddb.geometry.cylinders = \"%llu\"\n"
			"ddb.geometry.heads = \"%u\"\n"
			"ddb.geometry.sectors = \"63\"\n"
			"ddb.adapterType = \"%s\"\n"
			"ddb.uuid.image = \"%s\"\n",
			w->cid, w->create_type, (unsigned long long)w->capacity, w->extent_type,
			w->extent, strcmp(w->extent_type, "FLAT") == 0 ? " 0" : "",
			(unsigned long long)w->cylinders, w->heads, w->adapter, w->uuid);
}

/* --- reading: the disk and its extents ------------------------------------------------ */

/* A hosted sparse extent, as its header (or a stream's footer) lays it out. */
struct sparse {
	struct header h;
	unsigned char head[SECTOR];	/* sector 0 as found, for check */
	bool footer;			/* h came from the footer */
	bool compressed;		/* each grain is a marker and zlib data */
	uint64_t ngt;			/* grain tables (entries of the directory) */
	uint32_t *gd;
};

struct extent {
	enum ext_kind kind;
	uint64_t start, sectors;	/* where it sits on the virtual disk */
	uint64_t offset;		/* FLAT: the byte of the file it starts at */
	struct infile own;		/* its file, unless it is the disk's own */
	struct infile *file;		/* &own or the disk's file */
	char *name;
	struct sparse sp;
};

struct vmdk {
	struct disk d;
	struct desc desc;
	bool text;			/* opened as a descriptor file */
	char desc_error[512];		/* why an embedded descriptor did not parse */
	struct extent *ext;
	size_t next;

	/* One grain table and one inflated grain, cached: reads come in order. */
	const struct extent *gt_of;
	uint64_t gt_index;
	uint32_t gt[GTES_MAX];
	const struct extent *grain_of;
	uint64_t grain_index;
	unsigned char *grain;		/* GRAIN_MAX_SECTORS sectors, once needed */
	unsigned char *zbuf;		/* a compressed grain with its marker */
	size_t zbuf_size;
	z_stream z;
	bool z_ready;
};

/* The largest compressed grain a stream can hold: zlib's stored-block worst case. */
static size_t zbound(uint64_t grain_bytes)
{
	return (size_t)grain_bytes + (size_t)grain_bytes / 8 + 1024;
}

/* Check a sparse header (or footer) against the file it is in. where is "header" or
 * "footer". */
static int header_ok(const struct header *h, const struct infile *f, const char *where,
		     struct msg *m)
{
	uint64_t span;

	if (h->version < 1 || h->version > 3)
		return unusable(m, f->path, "its %s gives version %u; sparse extents are "
				"version 1, 2 or 3.", where, h->version);
	if (h->compression > COMPRESS_DEFLATE)
		return unusable(m, f->path, "its %s gives compression algorithm %u; only 0 "
				"(none) and 1 (deflate) exist.", where, h->compression);
	if (h->capacity == 0)
		return unusable(m, f->path, "its %s gives a capacity of 0 sectors.", where);
	if (h->capacity > DISK_MAX_SECTORS)
		return unusable(m, f->path, "its %s gives a capacity of %llu sectors, more "
				"than imgtool reads (2^53).", where,
				(unsigned long long)h->capacity);
	if (h->grain == 0 || h->grain > GRAIN_MAX_SECTORS || (h->grain & (h->grain - 1)))
		return unusable(m, f->path, "its %s gives a grain of %llu sectors, not a power "
				"of two from 1 to %u.", where, (unsigned long long)h->grain,
				GRAIN_MAX_SECTORS);
	if (h->gtes == 0 || h->gtes > GTES_MAX)
		return unusable(m, f->path, "its %s gives %u entries per grain table; imgtool "
				"reads 1 to %u.", where, h->gtes, GTES_MAX);
	if (h->desc_size && (h->desc_size > DESC_MAX / SECTOR || h->desc_offset == 0 ||
			     h->desc_offset > f->size / SECTOR ||
			     h->desc_size > f->size / SECTOR - h->desc_offset))
		return unusable(m, f->path, "its embedded descriptor (%llu sectors at sector "
				"%llu) is larger than %u sectors or runs past the end of the "
				"file (%llu bytes).", (unsigned long long)h->desc_size,
				(unsigned long long)h->desc_offset, DESC_MAX / SECTOR,
				(unsigned long long)f->size);
	span = h->grain * h->gtes;
	if (div_up(h->capacity, span) > f->size / 4 || h->gd == 0 ||
	    h->gd > f->size / SECTOR ||
	    div_up(h->capacity, span) * 4 > f->size - h->gd * SECTOR)
		return unusable(m, f->path, "its grain directory (%llu entries at sector %llu) "
				"runs past the end of the file (%llu bytes).",
				(unsigned long long)div_up(h->capacity, span),
				(unsigned long long)h->gd, (unsigned long long)f->size);
	return 0;
}

/* A stream whose header says "grain directory at end" has the real header in a
 * footer: footer marker, footer, end-of-stream marker, the last three sectors. */
static int read_footer(const struct infile *f, struct header *h, struct msg *m)
{
	unsigned char tail[3 * SECTOR];
	uint64_t end = f->size / SECTOR * SECTOR;

	if (end < 4 * SECTOR)
		return unusable(m, f->path, "its header puts the grain directory in a footer, "
				"but the file is too short to have one.");
	if (infile_read(f, tail, sizeof tail, end - sizeof tail, "the footer", m) < 0)
		return -1;
	if (get_le32(tail + M_SIZE) != 0 || get_le32(tail + M_TYPE) != MARKER_FOOTER ||
	    memcmp(tail + SECTOR, MAGIC, sizeof MAGIC) != 0 ||
	    get_le64(tail + 2 * SECTOR + M_VAL) != 0 ||
	    get_le32(tail + 2 * SECTOR + M_SIZE) != 0 ||
	    get_le32(tail + 2 * SECTOR + M_TYPE) != MARKER_EOS)
		return unusable(m, f->path, "its header puts the grain directory in a footer, "
				"but its last three sectors are not a footer marker, a footer "
				"and an end-of-stream marker.");
	header_get(tail + SECTOR, h);
	if (h->gd == GD_AT_END)
		return unusable(m, f->path, "its footer does not say where the grain "
				"directory is either.");
	return header_ok(h, f, "footer", m);
}

/* Open the sparse extent in f: its header (or footer) and its grain directory. */
static int sparse_open(struct sparse *sp, const struct infile *f, struct msg *m)
{
	if (infile_read(f, sp->head, SECTOR, 0, "the sparse header", m) < 0)
		return -1;
	if (memcmp(sp->head, MAGIC, sizeof MAGIC) != 0)
		return unusable(m, f->path, "it does not start with the sparse extent magic "
				"\"KDMV\".");
	header_get(sp->head, &sp->h);
	if (sp->h.gd == GD_AT_END) {
		if (read_footer(f, &sp->h, m) < 0)
			return -1;
		sp->footer = true;
	} else if (header_ok(&sp->h, f, "header", m) < 0) {
		return -1;
	}
	sp->compressed = sp->h.compression == COMPRESS_DEFLATE;
	sp->ngt = div_up(sp->h.capacity, sp->h.grain * sp->h.gtes);
	sp->gd = malloc((size_t)sp->ngt * 4);
	if (!sp->gd)
		return fail_errno(m, "cannot read %s", f->path);
	unsigned char *raw = (unsigned char *)sp->gd;

	if (infile_read(f, raw, (size_t)sp->ngt * 4, sp->h.gd * SECTOR, "the grain directory",
			m) < 0)
		return -1;
	for (uint64_t i = 0; i < sp->ngt; i++)
		sp->gd[i] = get_le32(raw + 4 * i);
	return 0;
}

/* The grain table entry of grain gi of sparse extent e: 0 when not allocated. */
static int grain_entry(struct vmdk *v, const struct extent *e, uint64_t gi, uint32_t *entry,
		       struct msg *m)
{
	const struct sparse *sp = &e->sp;
	uint64_t t = gi / sp->h.gtes;
	uint32_t at;

	*entry = 0;
	if (t >= sp->ngt || sp->gd[t] == 0)
		return 0;
	at = sp->gd[t];
	if (v->gt_of != e || v->gt_index != t) {
		unsigned char raw[GTES_MAX * 4];

		v->gt_of = NULL;
		if ((uint64_t)at * SECTOR > e->file->size ||
		    sp->h.gtes * 4u > e->file->size - (uint64_t)at * SECTOR)
			return unusable(m, e->file->path, "its grain directory entry %llu points "
					"at sector %u, where a grain table would run past the "
					"end of the file (%llu bytes).", (unsigned long long)t,
					at, (unsigned long long)e->file->size);
		if (infile_read(e->file, raw, sp->h.gtes * 4u, (uint64_t)at * SECTOR,
				"a grain table", m) < 0)
			return -1;
		for (uint32_t i = 0; i < sp->h.gtes; i++)
			v->gt[i] = get_le32(raw + 4 * i);
		v->gt_of = e;
		v->gt_index = t;
	}
	*entry = v->gt[gi % sp->h.gtes];
	return 0;
}

static bool entry_stored(const struct sparse *sp, uint32_t entry)
{
	return entry > 1 || (entry == 1 && !(sp->h.flags & FLAG_ZERO_GTE));
}

/* Inflate the compressed grain gi (its marker at sector at) into v->grain. */
static int load_grain(struct vmdk *v, const struct extent *e, uint64_t gi, uint32_t at,
		      struct msg *m)
{
	const struct sparse *sp = &e->sp;
	uint64_t grain_bytes = sp->h.grain * SECTOR, off = (uint64_t)at * SECTOR;
	uint64_t need = sp->h.capacity - gi * sp->h.grain;
	uint32_t size;
	int zrc;

	if (v->grain_of == e && v->grain_index == gi)
		return 0;
	v->grain_of = NULL;
	if (!v->grain) {
		v->grain = malloc(GRAIN_MAX_SECTORS * SECTOR);
		v->zbuf_size = GRAIN_DATA + zbound(GRAIN_MAX_SECTORS * SECTOR);
		v->zbuf = malloc(v->zbuf_size);
		if (!v->grain || !v->zbuf)
			return fail_errno(m, "cannot read %s", e->file->path);
	}
	if (!v->z_ready) {
		memset(&v->z, 0, sizeof v->z);
		if (inflateInit(&v->z) != Z_OK)
			return fail(m, "cannot read %s: zlib does not start.", e->file->path);
		v->z_ready = true;
	}
	if (off > e->file->size || GRAIN_DATA > e->file->size - off)
		return unusable(m, e->file->path, "its compressed grain %llu is at sector %u, "
				"past the end of the file (%llu bytes).", (unsigned long long)gi,
				at, (unsigned long long)e->file->size);
	if (infile_read(e->file, v->zbuf, GRAIN_DATA, off, "a grain marker", m) < 0)
		return -1;
	size = get_le32(v->zbuf + M_SIZE);
	if (size == 0 || size > zbound(grain_bytes))
		return unusable(m, e->file->path, "its compressed grain %llu (sector %u) gives "
				"a size of %u bytes; a grain's data is 1 to %zu bytes.",
				(unsigned long long)gi, at, size, zbound(grain_bytes));
	if (size > e->file->size - off - GRAIN_DATA)
		return unusable(m, e->file->path, "its compressed grain %llu (sector %u, %u "
				"bytes) runs past the end of the file (%llu bytes).",
				(unsigned long long)gi, at, size,
				(unsigned long long)e->file->size);
	if (infile_read(e->file, v->zbuf + GRAIN_DATA, size, off + GRAIN_DATA, "a grain", m) < 0)
		return -1;
	inflateReset(&v->z);
	v->z.next_in = v->zbuf + GRAIN_DATA;
	v->z.avail_in = size;
	v->z.next_out = v->grain;
	v->z.avail_out = (uInt)grain_bytes;
	zrc = inflate(&v->z, Z_FINISH);
	if (zrc != Z_STREAM_END)
		return unusable(m, e->file->path, "its compressed grain %llu (sector %u) does "
				"not inflate to at most a grain: %s.", (unsigned long long)gi, at,
				zrc == Z_BUF_ERROR && v->z.avail_out == 0 ? "it is longer"
				: v->z.msg ? v->z.msg : "it is cut short");
	if (v->z.total_out < (need < sp->h.grain ? need * SECTOR : grain_bytes))
		return unusable(m, e->file->path, "its compressed grain %llu (sector %u) "
				"inflates to %lu bytes, less than the %llu of a grain.",
				(unsigned long long)gi, at, (unsigned long)v->z.total_out,
				(unsigned long long)grain_bytes);
	memset(v->grain + v->z.total_out, 0, (size_t)(grain_bytes - v->z.total_out));
	v->grain_of = e;
	v->grain_index = gi;
	return 0;
}

/* Read [off, off + len) of sparse extent e (offsets within the extent). */
static int sparse_read(struct vmdk *v, const struct extent *e, unsigned char *buf, size_t len,
		       uint64_t off, struct msg *m)
{
	const struct sparse *sp = &e->sp;
	uint64_t grain_bytes = sp->h.grain * SECTOR;

	while (len) {
		uint64_t gi = off / grain_bytes, in = off % grain_bytes;
		size_t n = grain_bytes - in < len ? (size_t)(grain_bytes - in) : len;
		uint32_t entry;

		if (grain_entry(v, e, gi, &entry, m) < 0)
			return -1;
		if (!entry_stored(sp, entry)) {
			memset(buf, 0, n);
		} else if (sp->compressed) {
			if (load_grain(v, e, gi, entry, m) < 0)
				return -1;
			memcpy(buf, v->grain + in, n);
		} else {
			uint64_t at = (uint64_t)entry * SECTOR;

			if (at > e->file->size || in + n > e->file->size - at)
				return unusable(m, e->file->path, "its grain %llu is at sector %u, "
						"past the end of the file (%llu bytes).",
						(unsigned long long)gi, entry,
						(unsigned long long)e->file->size);
			if (infile_read(e->file, buf, n, at + in, "a grain", m) < 0)
				return -1;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* From off within sparse extent e (left bytes to its end): a run of grains that are
 * all allocated or all not. */
static int sparse_status(struct vmdk *v, const struct extent *e, uint64_t off, uint64_t left,
			 uint64_t *run, bool *stored, struct msg *m)
{
	const struct sparse *sp = &e->sp;
	uint64_t grain_bytes = sp->h.grain * SECTOR, gi = off / grain_bytes;
	uint64_t grains = div_up(e->sectors, sp->h.grain);
	uint32_t entry;

	if (grain_entry(v, e, gi, &entry, m) < 0)
		return -1;
	*stored = entry_stored(sp, entry);
	for (gi++; gi < grains; gi++) {
		uint64_t t = gi / sp->h.gtes;

		if (!*stored && t < sp->ngt && sp->gd[t] == 0) {
			gi = (t + 1) * sp->h.gtes - 1;	/* a whole table unallocated */
			continue;
		}
		if (grain_entry(v, e, gi, &entry, m) < 0)
			return -1;
		if (entry_stored(sp, entry) != *stored)
			break;
	}
	*run = gi * grain_bytes - off;
	if (gi >= grains || *run > left)
		*run = left;
	return 0;
}

/* Where a flat extent's file has data, as raw files do: holes read as zeros. */
static void flat_status(const struct extent *e, uint64_t off, uint64_t left, uint64_t *run,
			bool *stored)
{
	off_t at = (off_t)(e->offset + off), data, hole;

	*run = left;
	*stored = true;
	data = lseek(e->file->fd, at, SEEK_DATA);
	if (data == -1) {
		*stored = errno != ENXIO;	/* ENXIO: only a hole from here on */
		return;
	}
	if (data > at) {
		*stored = false;
		if ((uint64_t)(data - at) < left)
			*run = (uint64_t)(data - at);
		return;
	}
	hole = lseek(e->file->fd, at, SEEK_HOLE);
	if (hole > at && (uint64_t)(hole - at) < left)
		*run = (uint64_t)(hole - at);
}

static struct extent *extent_at(struct vmdk *v, uint64_t off)
{
	size_t lo = 0, hi = v->next;
	uint64_t sector = off / SECTOR;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->ext[mid].start <= sector)
			lo = mid;
		else
			hi = mid;
	}
	return &v->ext[lo];
}

static int vmdk_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	struct vmdk *v = (struct vmdk *)d;
	unsigned char *out = buf;

	while (len) {
		struct extent *e = extent_at(v, off);
		uint64_t rel = off - e->start * SECTOR, left = e->sectors * SECTOR - rel;
		size_t n = left < len ? (size_t)left : len;

		if (e->kind == EXT_ZERO)
			memset(out, 0, n);
		else if (e->kind == EXT_FLAT &&
			 infile_read(e->file, out, n, e->offset + rel, "flat extent data", m) < 0)
			return -1;
		else if (e->kind == EXT_SPARSE && sparse_read(v, e, out, n, rel, m) < 0)
			return -1;
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vmdk_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		       struct msg *m)
{
	struct vmdk *v = (struct vmdk *)d;
	struct extent *e = extent_at(v, off);
	uint64_t rel = off - e->start * SECTOR, left = e->sectors * SECTOR - rel;

	if (e->kind == EXT_ZERO) {
		*run = left;
		*stored = false;
		return 0;
	}
	if (e->kind == EXT_FLAT) {
		flat_status(e, rel, left, run, stored);
		return 0;
	}
	return sparse_status(v, e, rel, left, run, stored, m);
}

/* --- reading: info and check ---------------------------------------------------------- */

static const struct sparse *first_sparse(const struct vmdk *v)
{
	for (size_t i = 0; i < v->next; i++)
		if (v->ext[i].kind == EXT_SPARSE)
			return &v->ext[i].sp;
	return NULL;
}

static void vmdk_info(struct disk *d, struct info *i)
{
	struct vmdk *v = (struct vmdk *)d;
	const struct desc *ds = &v->desc;
	const struct sparse *sp = first_sparse(v);
	char names[128] = "";
	size_t len = 0;

	if (*ds->create_type)
		info_str(i, "subformat", "%s", ds->create_type);
	if (*ds->adapter)
		info_str(i, "adapter", "%s", ds->adapter);
	if (*ds->cylinders || *ds->heads || *ds->sectors)
		info_str(i, "geometry", "%s/%s/%s", ds->cylinders, ds->heads, ds->sectors);
	if (ds->has_cid)
		info_str(i, "cid", "%s", ds->cid);
	if (*ds->uuid)
		info_str(i, "uuid", "%s", ds->uuid);
	if (*ds->hw_version)
		info_str(i, "hardware version", "%s", ds->hw_version);
	if (sp) {
		info_num(i, "version", sp->h.version);
		info_num(i, "grain size", sp->h.grain * SECTOR);
		info_str(i, "compression", "%s", sp->compressed ? "deflate" : "none");
	}
	for (size_t k = 0; k < v->next; k++) {
		int n = snprintf(names + len, sizeof names - len, "%s%s", k ? ", " : "",
				 v->ext[k].name);

		if (n < 0 || (size_t)n >= sizeof names - len)
			break;
		len += (size_t)n;
	}
	info_str(i, v->next == 1 ? "extent" : "extents", "%s", names);
}

/* Faults for one image, at most FAULTS_MAX of them, then one that says so. */
struct report {
	struct faults *f;
	const char *path;
	size_t n;
};

static void report(struct report *r, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void report(struct report *r, const char *fmt, ...)
{
	char text[480];
	va_list ap;

	if (r->n++ > FAULTS_MAX)
		return;
	if (r->n > FAULTS_MAX) {
		fault(r->f, "%s: more faults than these %d; the rest are not listed.", r->path,
		      FAULTS_MAX);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	fault(r->f, "%s: %s", r->path, text);
}

/* A stretch of a sparse file that a structure takes, for the overlap check. */
struct region {
	uint64_t start, end;		/* sectors, end exclusive */
	int kind;			/* REGION_* */
	uint64_t index;
};

enum { REGION_HEADER, REGION_DESC, REGION_GD, REGION_RGD, REGION_GT, REGION_RGT,
       REGION_GRAIN, REGION_FOOTER };

struct regions {
	struct region *r;
	size_t n, cap, max;
	bool full;
};

static void region_add(struct regions *rs, int kind, uint64_t index, uint64_t start,
		       uint64_t sectors)
{
	if (rs->full || sectors == 0)
		return;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 64;
		struct region *more;

		if (cap > rs->max)
			cap = rs->max;
		more = cap > rs->n ? realloc(rs->r, cap * sizeof *more) : NULL;
		if (!more) {
			rs->full = true;
			return;
		}
		rs->r = more;
		rs->cap = cap;
	}
	rs->r[rs->n++] = (struct region){ start, start + sectors, kind, index };
}

static int region_cmp(const void *a, const void *b)
{
	const struct region *x = a, *y = b;

	/* A total order, so the faults come out the same on every run. */
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index ? 1 : 0;
}

static void region_name(const struct region *r, const struct sparse *sp, char *buf,
			size_t size)
{
	switch (r->kind) {
	case REGION_HEADER: snprintf(buf, size, "the header"); break;
	case REGION_DESC: snprintf(buf, size, "the embedded descriptor"); break;
	case REGION_GD: snprintf(buf, size, "the grain directory"); break;
	case REGION_RGD: snprintf(buf, size, "the redundant grain directory"); break;
	case REGION_GT:
		snprintf(buf, size, "grain table %llu", (unsigned long long)r->index);
		break;
	case REGION_RGT:
		snprintf(buf, size, "redundant grain table %llu", (unsigned long long)r->index);
		break;
	case REGION_GRAIN:
		snprintf(buf, size, "the grain of virtual sector %llu",
			 (unsigned long long)(r->index * sp->h.grain));
		break;
	default: snprintf(buf, size, "the footer"); break;
	}
	buf[size - 1] = '\0';
}

/* Read the n-entry table at sector at into t; false (with a fault) when it is not
 * inside the file. */
static bool read_table(const struct infile *f, uint64_t at, uint32_t *t, uint64_t n,
		       const char *what, struct report *r)
{
	unsigned char raw[GTES_MAX * 4];
	struct msg m;

	if (at == 0 || at > f->size / SECTOR || n * 4 > f->size - at * SECTOR) {
		report(r, "%s at sector %llu runs past the end of the file (%llu bytes).", what,
		       (unsigned long long)at, (unsigned long long)f->size);
		return false;
	}
	for (uint64_t done = 0; done < n; done += GTES_MAX) {
		size_t k = n - done < GTES_MAX ? (size_t)(n - done) : GTES_MAX;

		if (infile_read(f, raw, k * 4, at * SECTOR + done * 4, what, &m) < 0) {
			report(r, "%s", m.text);
			return false;
		}
		for (size_t i = 0; i < k; i++)
			t[done + i] = get_le32(raw + 4 * i);
	}
	return true;
}

/* The grain an entry points at: inside the file, and for a stream a grain marker
 * that names this grain. Adds its region. */
static void check_grain(const struct extent *e, uint64_t gi, uint32_t entry,
			struct regions *rs, struct report *r)
{
	const struct sparse *sp = &e->sp;
	const struct infile *f = e->file;
	uint64_t at = (uint64_t)entry * SECTOR, sectors = sp->h.grain;
	unsigned char marker[GRAIN_DATA];
	struct msg m;

	if (sp->compressed) {
		if (at > f->size || GRAIN_DATA > f->size - at ||
		    infile_read(f, marker, sizeof marker, at, "a grain marker", &m) < 0) {
			report(r, "the grain of virtual sector %llu is at sector %u, past the end "
			       "of the file.", (unsigned long long)(gi * sp->h.grain), entry);
			return;
		}
		uint32_t size = get_le32(marker + M_SIZE);

		if (get_le64(marker + M_VAL) != gi * sp->h.grain)
			report(r, "the grain of virtual sector %llu (at sector %u) has a marker "
			       "for virtual sector %llu.", (unsigned long long)(gi * sp->h.grain),
			       entry, (unsigned long long)get_le64(marker + M_VAL));
		if (size == 0 || size > zbound(sp->h.grain * SECTOR)) {
			report(r, "the grain of virtual sector %llu (at sector %u) gives a size "
			       "of %u bytes.", (unsigned long long)(gi * sp->h.grain), entry,
			       size);
			return;
		}
		sectors = div_up(GRAIN_DATA + (uint64_t)size, SECTOR);
	} else if (!sp->footer && !(sp->h.flags & FLAG_MARKERS) && entry < sp->h.overhead) {
		report(r, "the grain of virtual sector %llu is at sector %u, inside the %llu "
		       "sectors of metadata before the grains.",
		       (unsigned long long)(gi * sp->h.grain), entry,
		       (unsigned long long)sp->h.overhead);
	}
	if (sectors > f->size / SECTOR || entry > f->size / SECTOR - sectors) {
		report(r, "the grain of virtual sector %llu (%llu sectors at sector %u) runs "
		       "past the end of the file (%llu bytes).",
		       (unsigned long long)(gi * sp->h.grain), (unsigned long long)sectors,
		       entry, (unsigned long long)f->size);
		return;
	}
	region_add(rs, REGION_GRAIN, gi, entry, sectors);
}

static void check_overlaps(struct regions *rs, const struct sparse *sp, struct report *r)
{
	uint64_t end = 0;
	size_t last = 0;

	if (rs->full) {
		report(r, "its tables point at more grains than the file can hold apart, so "
		       "some of them overlap.");
		return;
	}
	qsort(rs->r, rs->n, sizeof *rs->r, region_cmp);
	for (size_t i = 0; i < rs->n; i++) {
		if (i && rs->r[i].start < end) {
			char a[64], b[64];

			region_name(&rs->r[last], sp, a, sizeof a);
			region_name(&rs->r[i], sp, b, sizeof b);
			report(r, "%s (sector %llu) overlaps %s (sector %llu).", b,
			       (unsigned long long)rs->r[i].start, a,
			       (unsigned long long)rs->r[last].start);
		}
		if (rs->r[i].end > end) {
			end = rs->r[i].end;
			last = i;
		}
	}
}

static void check_sparse(const struct extent *e, struct report *r)
{
	const struct sparse *sp = &e->sp;
	const struct infile *f = e->file;
	/* Regions that do not overlap take a sector each at least: more than the file
	 * has sectors proves an overlap, and bounds the work on a hostile file. */
	struct regions rs = { .max = f->size / SECTOR + 8 };
	uint32_t *gt = malloc(GTES_MAX * 4), *rgt = malloc(GTES_MAX * 4), *rgd = NULL;
	uint64_t gd_sectors = div_up(sp->ngt * 4, SECTOR);
	bool redundant = sp->h.flags & FLAG_RGD;
	struct header first;

	if (!gt || !rgt) {
		report(r, "there was not enough memory to check its grain tables.");
		goto out;
	}
	header_get(sp->head, &first);
	if ((first.flags & FLAG_NEWLINE) && memcmp(sp->head + H_NEWLINES, NEWLINES, 4) != 0)
		report(r, "its newline-check bytes (73 to 76) are not \"\\n \\r\\n\": the file "
		       "went through a text-mode copy that changed line ends.");
	if (sp->footer && (first.capacity != sp->h.capacity || first.grain != sp->h.grain ||
			   first.gtes != sp->h.gtes || first.version != sp->h.version))
		report(r, "its footer gives a different capacity, grain, table size or version "
		       "than its header.");
	if (sp->h.flags & FLAG_MARKERS) {
		unsigned char eos[SECTOR];
		struct msg m;

		if (f->size < SECTOR || f->size % SECTOR ||
		    infile_read(f, eos, SECTOR, f->size - SECTOR, "the last sector", &m) < 0 ||
		    !is_zero(eos, SECTOR))
			report(r, "its last sector is not an end-of-stream marker (a zero "
			       "sector); ESXi's OVF import refuses such a stream.");
	}
	region_add(&rs, REGION_HEADER, 0, 0, 1);
	region_add(&rs, REGION_DESC, 0, sp->h.desc_offset, sp->h.desc_size);
	region_add(&rs, REGION_GD, 0, sp->h.gd, gd_sectors);
	if (sp->footer)
		region_add(&rs, REGION_FOOTER, 0, f->size / SECTOR - 3, 3);
	if (redundant) {
		rgd = malloc((size_t)sp->ngt * 4);
		if (!rgd)
			report(r, "there was not enough memory to check its redundant grain "
			       "directory.");
		else if (!read_table(f, sp->h.rgd, rgd, sp->ngt, "its redundant grain directory",
				     r))
			redundant = false;
		else
			region_add(&rs, REGION_RGD, 0, sp->h.rgd, gd_sectors);
		if (!rgd)
			redundant = false;
	}
	for (uint64_t t = 0; t < sp->ngt && !rs.full; t++) {
		uint64_t gt_sectors = div_up(sp->h.gtes * 4u, SECTOR);
		bool have = false, have_r = false;
		char what[64];

		if (sp->gd[t]) {
			snprintf(what, sizeof what, "grain table %llu", (unsigned long long)t);
			have = read_table(f, sp->gd[t], gt, sp->h.gtes, what, r);
			if (have)
				region_add(&rs, REGION_GT, t, sp->gd[t], gt_sectors);
		}
		if (redundant && rgd[t]) {
			snprintf(what, sizeof what, "redundant grain table %llu",
				 (unsigned long long)t);
			have_r = read_table(f, rgd[t], rgt, sp->h.gtes, what, r);
			if (have_r)
				region_add(&rs, REGION_RGT, t, rgd[t], gt_sectors);
		}
		if (redundant && (!sp->gd[t] != !rgd[t] ||
				  (have && have_r && memcmp(gt, rgt, sp->h.gtes * 4u) != 0)))
			report(r, "its redundant grain table %llu differs from grain table %llu.",
			       (unsigned long long)t, (unsigned long long)t);
		for (uint32_t i = 0; have && i < sp->h.gtes && !rs.full; i++) {
			uint64_t gi = t * sp->h.gtes + i;

			if (gi * sp->h.grain >= sp->h.capacity) {
				if (gt[i])
					report(r, "grain table %llu has an entry for a grain past "
					       "the end of the disk.", (unsigned long long)t);
				break;
			}
			if (entry_stored(sp, gt[i]))
				check_grain(e, gi, gt[i], &rs, r);
		}
	}
	check_overlaps(&rs, sp, r);
out:
	free(rs.r);
	free(gt);
	free(rgt);
	free(rgd);
}

static void check_descriptor(struct vmdk *v, struct report *r)
{
	const struct desc *ds = &v->desc;
	const struct sparse *sp = first_sparse(v);
	uint64_t sum = 0;

	if (*v->desc_error) {
		report(r, "its embedded descriptor does not parse: %s", v->desc_error);
		return;
	}
	if (!v->text && !sp->h.desc_size)
		return;		/* an extent of a split disk: no descriptor of its own */
	if (!ds->has_cid)
		report(r, "its descriptor has no CID.");
	else if (!ds->cid_ok)
		report(r, "its descriptor's CID \"%s\" is not 1 to 8 hex digits.", ds->cid);
	if (ds->has_parent_cid && strcmp(ds->parent_cid, "ffffffff") != 0)
		report(r, "its descriptor gives parentCID=%s, but a disk without a parent "
		       "has ffffffff.", ds->parent_cid);
	if (!*ds->create_type)
		report(r, "its descriptor has no createType.");
	if (v->text) {
		for (size_t i = 0; i < v->next; i++) {
			const struct extent *e = &v->ext[i];

			if (e->kind == EXT_SPARSE && e->sp.h.capacity != e->sectors)
				report(r, "its extent \"%s\" holds %llu sectors, but the "
				       "descriptor gives it %llu.", e->name,
				       (unsigned long long)e->sp.h.capacity,
				       (unsigned long long)e->sectors);
		}
		return;
	}
	for (size_t i = 0; i < ds->next; i++)
		sum += ds->ext[i].sectors;
	if (sum != sp->h.capacity)
		report(r, "its descriptor's extents add up to %llu sectors, but its header "
		       "gives a capacity of %llu.", (unsigned long long)sum,
		       (unsigned long long)sp->h.capacity);
	if (sp->compressed != (strcmp(ds->create_type, "streamOptimized") == 0) &&
	    *ds->create_type)
		report(r, "its descriptor says createType=\"%s\", but its grains are %s.",
		       ds->create_type, sp->compressed ? "compressed" : "not compressed");
}

static void vmdk_check(struct disk *d, struct faults *f)
{
	struct vmdk *v = (struct vmdk *)d;
	struct report r = { f, d->file.path, 0 };

	check_descriptor(v, &r);
	for (size_t i = 0; i < v->next; i++)
		if (v->ext[i].kind == EXT_SPARSE) {
			struct report er = { f, v->ext[i].file->path, 0 };

			check_sparse(&v->ext[i], &er);
		}
}

static void vmdk_release(struct disk *d)
{
	struct vmdk *v = (struct vmdk *)d;

	for (size_t i = 0; i < v->next; i++) {
		struct extent *e = &v->ext[i];

		if (e->file == &e->own)
			infile_close(&e->own);
		free(e->name);
		free(e->sp.gd);
	}
	free(v->ext);
	desc_free(&v->desc);
	free(v->grain);
	free(v->zbuf);
	if (v->z_ready)
		inflateEnd(&v->z);
}

/* --- reading: opening ---------------------------------------------------------------- */

static struct vmdk *vmdk_new(struct infile *f)
{
	struct vmdk *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->d.fmt = &fmt_vmdk;
	v->d.file = *f;
	v->d.read = vmdk_read;
	v->d.status = vmdk_status;
	v->d.info = vmdk_info;
	v->d.check = vmdk_check;
	v->d.release = vmdk_release;
	return v;
}

static int refuse_parent(const struct vmdk *v, struct msg *m)
{
	if (*v->desc.parent_hint)
		return unusable(m, v->d.file.path, "it is a delta disk of the parent \"%s\" "
				"(parentFileNameHint); imgtool reads only disks without a "
				"parent.", v->desc.parent_hint);
	return 0;
}

/* A sparse extent opened directly: monolithicSparse or streamOptimized. */
static int open_sparse_file(struct vmdk *v, struct msg *m)
{
	struct extent *e;
	char *text = NULL;

	v->ext = calloc(1, sizeof *v->ext);
	if (!v->ext)
		return fail_errno(m, "cannot read %s", v->d.file.path);
	v->next = 1;
	e = &v->ext[0];
	e->kind = EXT_SPARSE;
	e->own.fd = -1;
	e->file = &v->d.file;
	e->name = strdup(base_name(v->d.file.path));
	if (!e->name)
		return fail_errno(m, "cannot read %s", v->d.file.path);
	if (sparse_open(&e->sp, e->file, m) < 0)
		return -1;
	e->sectors = e->sp.h.capacity;
	v->d.size = e->sectors * SECTOR;
	if (e->sp.h.desc_size) {
		struct msg dm;
		size_t len = (size_t)e->sp.h.desc_size * SECTOR;

		text = malloc(len);
		if (!text)
			return fail_errno(m, "cannot read %s", v->d.file.path);
		if (infile_read(e->file, text, len, e->sp.h.desc_offset * SECTOR,
				"the embedded descriptor", m) < 0) {
			free(text);
			return -1;
		}
		/* A descriptor that does not parse leaves the data readable: check says so. */
		if (parse_descriptor(text, len, v->d.file.path, &v->desc, &dm) < 0)
			snprintf(v->desc_error, sizeof v->desc_error, "%s", dm.text);
		free(text);
	}
	return refuse_parent(v, m);
}

/* dir/name for an extent named in the descriptor at path; NULL with m set when the
 * name is not a plain file name. */
static char *extent_path(const char *path, const struct desc_extent *de, struct msg *m)
{
	const char *base = base_name(path);
	char *p;

	if (strchr(de->name, '/') || strcmp(de->name, ".") == 0 ||
	    strcmp(de->name, "..") == 0 || strchr(de->name, '\\')) {
		unusable(m, path, "line %u of its descriptor names the extent \"%s\", which is "
			 "not a file name in the descriptor's folder; imgtool reads extents "
			 "only from beside the descriptor.", de->line, de->name);
		return NULL;
	}
	if (asprintf(&p, "%.*s%s", (int)(base - path), path, de->name) < 0) {
		fail_errno(m, "cannot read %s", path);
		return NULL;
	}
	return p;
}

static int open_extent(struct vmdk *v, struct extent *e, const struct desc_extent *de,
		       struct msg *m)
{
	const char *path = v->d.file.path;
	char *p = extent_path(path, de, m);
	struct stat st = { .st_mode = S_IFREG };
	int rc;

	if (!p)
		return -1;
	if (stat(p, &st) != 0 && errno == ENOENT) {
		rc = unusable(m, path, "its extent \"%s\" is missing: there is no %s.", de->name,
			      p);
		free(p);
		return rc;
	}
	/* Opening a FIFO would wait for a writer forever. */
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		rc = unusable(m, path, "its extent \"%s\" is not a file or a block device.",
			      de->name);
		free(p);
		return rc;
	}
	rc = infile_open(&e->own, p, m);
	free(p);
	if (rc < 0)
		return -1;
	if (e->kind == EXT_FLAT) {
		if (de->offset > e->own.size / SECTOR ||
		    de->sectors > e->own.size / SECTOR - de->offset)
			return unusable(m, path, "its extent \"%s\" is %llu bytes, too short for "
					"the %llu sectors from sector %llu that the descriptor "
					"gives it.", de->name, (unsigned long long)e->own.size,
					(unsigned long long)de->sectors,
					(unsigned long long)de->offset);
		e->offset = de->offset * SECTOR;
		return 0;
	}
	if (sparse_open(&e->sp, e->file, m) < 0)
		return -1;
	if (e->sp.h.capacity < de->sectors)
		return unusable(m, path, "its extent \"%s\" holds %llu sectors, fewer than the "
				"%llu the descriptor gives it.", de->name,
				(unsigned long long)e->sp.h.capacity,
				(unsigned long long)de->sectors);
	return 0;
}

/* A descriptor file and the extents it names. */
static int open_descriptor_file(struct vmdk *v, struct msg *m)
{
	const char *path = v->d.file.path;
	char *text;
	uint64_t total = 0;
	int rc;

	if (v->d.file.size > DESC_MAX)
		return unusable(m, path, "it starts as a descriptor but is %llu bytes; a "
				"descriptor is at most 1 MiB.",
				(unsigned long long)v->d.file.size);
	v->text = true;
	text = malloc((size_t)v->d.file.size + 1);
	if (!text)
		return fail_errno(m, "cannot read %s", path);
	rc = infile_read(&v->d.file, text, (size_t)v->d.file.size, 0, "the descriptor", m);
	if (rc == 0)
		rc = parse_descriptor(text, (size_t)v->d.file.size, path, &v->desc, m);
	free(text);
	if (rc < 0 || refuse_parent(v, m) < 0)
		return -1;
	if (!*v->desc.create_type)
		return unusable(m, path, "its descriptor has no createType.");
	if (v->desc.next == 0)
		return unusable(m, path, "its descriptor names no extent.");
	v->ext = calloc(v->desc.next, sizeof *v->ext);
	if (!v->ext)
		return fail_errno(m, "cannot read %s", path);
	for (size_t i = 0; i < v->desc.next; i++) {
		const struct desc_extent *de = &v->desc.ext[i];
		struct extent *e = &v->ext[i];

		e->kind = de->kind;
		e->own.fd = -1;
		e->file = &e->own;
		e->start = total;
		e->sectors = de->sectors;
		e->name = strdup(de->name ? de->name : "(zero)");
		v->next = i + 1;
		if (!e->name)
			return fail_errno(m, "cannot read %s", path);
		if (de->sectors > DISK_MAX_SECTORS - total)
			return unusable(m, path, "its extents add up to more sectors than imgtool "
					"reads (2^53).");
		total += de->sectors;
		if (e->kind != EXT_ZERO && open_extent(v, e, de, m) < 0)
			return -1;
	}
	v->d.size = total * SECTOR;
	return 0;
}

static bool is_descriptor(const unsigned char *head, size_t n)
{
	static const char sig[] = "# Disk DescriptorFile";
	size_t i = 0;

	if (n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' ||
			 head[i] == '\n'))
		i++;
	return n - i >= sizeof sig - 1 && memcmp(head + i, sig, sizeof sig - 1) == 0;
}

static bool vmdk_probe(const struct infile *f, const unsigned char *head, size_t n)
{
	(void)f;
	/* Not "COWD": image_open refuses those by name before it asks the readers. */
	if (n >= 4 && memcmp(head, MAGIC, 4) == 0)
		return true;
	return is_descriptor(head, n);
}

static int vmdk_open(struct infile *f, struct disk **d, struct msg *m)
{
	struct vmdk *v = vmdk_new(f);
	unsigned char head[SECTOR];
	size_t n = f->size < SECTOR ? (size_t)f->size : SECTOR;
	int rc;

	*d = NULL;
	if (!v) {
		infile_close(f);
		return fail_errno(m, "cannot open %s", f->path);
	}
	rc = infile_read(&v->d.file, head, n, 0, "the first sector", m);
	if (rc == 0 && n >= 4 && memcmp(head, "COWD", 4) == 0)
		rc = unusable(m, f->path, "it is an ESX Server 2 sparse extent (\"COWD\"), "
			      "which imgtool does not read.");
	else if (rc == 0 && n >= 4 && memcmp(head, MAGIC, 4) == 0)
		rc = open_sparse_file(v, m);
	else if (rc == 0)
		rc = open_descriptor_file(v, m);
	if (rc < 0) {
		disk_close(&v->d);
		return -1;
	}
	*d = &v->d;
	return 0;
}

/* --- writing: what every subformat shares ------------------------------------------------ */

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
	w->capacity = div_up(src->size, SECTOR);
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
	if (check_name(path, base_name(extent), m) < 0 ||
	    refuse_input(src, path, NULL, m) < 0 || refuse_input(src, extent, path, m) < 0)
		goto out;
	/* The descriptor first: the files are renamed last first, so the descriptor
	 * never names an extent that is not there yet. */
	if (output_add(&out, path, &desc_file, m) < 0 ||
	    output_add(&out, extent, &extent_file, m) < 0 ||
	    disk_each_data(src, FLAT_UNIT, flat_unit, extent_file, &sum, m) < 0 ||
	    out_set_size(extent_file, w->capacity * SECTOR, m) < 0 ||
	    fill_wdesc(&wd, w, o, &sum, base_name(extent), m) < 0)
		goto out;
	n = descriptor_text(text, sizeof text, &wd);
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
	n = descriptor_text((char *)buf + SECTOR, size, wd);
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
	n = descriptor_text(text, sizeof text, &wd);
	return n < 0 ? 2 : div_up((uint64_t)n + 1, SECTOR);
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
	uint64_t ngt = div_up(w->capacity, GT_SPAN), gd_sectors = div_up(ngt * 4, SECTOR);
	struct header h = {
		.version = 1, .flags = FLAG_NEWLINE | FLAG_RGD, .capacity = w->capacity,
		.grain = GRAIN_SECTORS, .desc_offset = 1, .desc_size = SPARSE_DESC_SECTORS,
		.gtes = GT_ENTRIES, .compression = 0,
	};
	struct digest sum;
	struct wdesc wd;

	if (check_name(path, base_name(path), m) < 0 || refuse_input(src, path, NULL, m) < 0)
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
	    fill_wdesc(&wd, w, o, &sum, base_name(path), m) < 0 ||
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
	return w->queued == CPOOL_BATCH ? stream_drain(w, m) : 0;
}

/* After the grains: the last table, the directory, the footer and end of stream. */
static int stream_finish(struct stream_writer *w, const struct header *h, struct msg *m)
{
	struct sparse_writer *s = &w->s;
	uint64_t gd_sectors = div_up(s->ngt * 4, SECTOR);
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

	if (check_name(path, base_name(path), m) < 0 || refuse_input(src, path, NULL, m) < 0)
		return -1;
	h.desc_size = desc_sectors(w, o, base_name(path));
	h.overhead = 1 + h.desc_size;
	sw.s.next = h.overhead;
	sw.s.ngt = div_up(w->capacity, GT_SPAN);
	sw.s.gd = calloc((size_t)sw.s.ngt, 4);
	if (!sw.s.gd)
		return fail_errno(m, "cannot write %s", path);
	if (cpool_start(&sw.pool, &grain_codec, NULL, GRAIN_BYTES, grain_out_size(), path,
			m) == 0 &&
	    output_add(&out, path, &sw.s.out, m) == 0 &&
	    disk_each_data(src, GRAIN_BYTES, stream_unit, &sw, &sum, m) == 0 &&
	    stream_finish(&sw, &h, m) == 0 &&
	    fill_wdesc(&wd, w, o, &sum, base_name(path), m) == 0 &&
	    write_head(sw.s.out, &h, &wd, path, m) == 0 &&
	    output_commit(&out, m) == 0)
		rc = 0;
	if (rc < 0)
		output_discard(&out);
	cpool_stop(&sw.pool);
	free(sw.s.gd);
	return rc;
}

static int vmdk_write(struct disk *src, const char *path, const struct opts *o,
		      struct msg *m)
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

const struct format fmt_vmdk = {
	.name = "vmdk",
	.ext = ".vmdk",
	.summary = "VMware disk: a descriptor and a flat extent, or one sparse or "
		   "stream-optimized file",
	.opts = (const struct opt_spec[]){
		{ "subformat", "monolithicFlat|monolithicSparse|streamOptimized (default "
			       "monolithicFlat)" },
		{ "adapter", "ide|lsilogic (default ide)" },
		{ "uuid", "UUID (ddb.uuid.image; default derived from the content)" },
		{ NULL, NULL },
	},
	.probe = vmdk_probe,
	.open = vmdk_open,
	.write = vmdk_write,
};
