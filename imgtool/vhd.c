/* vhd.c - Microsoft Virtual Hard Disk (VHD) images: fixed and dynamic disks.
 *
 * The reference is Microsoft's "Virtual Hard Disk Image Format Specification" (version
 * 1.0, 2006): "Hard Disk Footer Format", "Dynamic Disk Header Format", "Block
 * Allocation Table and Data Blocks" and Appendix "CHS Calculation". Every field is
 * big-endian.
 *
 *   fixed:    the disk byte for byte | footer (512)
 *   dynamic:  footer copy (512) | dynamic header (1024) | BAT (u32 per block, padded
 *             to a sector with 0xFF) | blocks: sector bitmap (padded to a sector) and
 *             block_size bytes of data | footer (512)
 *
 * Known spec errors: the "data offset" of a fixed disk's footer and of the dynamic
 * header are drawn as 8-byte fields but described as 0xFFFFFFFF; Microsoft's own tools
 * write (and expect) all 64 bits set. The spec also allows a 511-byte footer, written by
 * Virtual PC before 2004, at the end of a fixed disk: the reader takes it (QEMU does
 * not), the writer never writes it.
 *
 * Dynamic blocks are written in disk order, only for blocks that hold a non-zero byte;
 * zero 64 KiB units inside a block are left as holes. Their bitmaps have every bit set:
 * VirtualBox and Hyper-V read a sector whose bit is clear as zeros, and QEMU ignores the
 * bitmap, so only "all set" makes every reader see the same bytes. The reader follows
 * the spec: a clear bit reads as zeros, and check reports data hidden behind one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "format.h"
#include "ident.h"
#include "output.h"
#include "report.h"

/* --- the structures, as the spec draws them -------------------------------------------- */

/* "Hard Disk Footer Format": at the end of every VHD, and copied to offset 0 of a
 * dynamic one. */
struct vhd_footer {
	uint8_t cookie[8];		/* "conectix" */
	uint8_t features[4];		/* bit 1 "reserved" must be set */
	uint8_t version[4];		/* 0x00010000 */
	uint8_t data_offset[8];		/* dynamic header; all ones for a fixed disk */
	uint8_t timestamp[4];		/* seconds since 2000-01-01 00:00:00 UTC */
	uint8_t creator_app[4];
	uint8_t creator_version[4];
	uint8_t creator_os[4];		/* "Wi2k" or "Mac " */
	uint8_t original_size[8];
	uint8_t current_size[8];	/* the virtual size */
	uint8_t cylinders[2];
	uint8_t heads;
	uint8_t sectors;		/* per track */
	uint8_t disk_type[4];		/* 2 fixed, 3 dynamic, 4 differencing */
	uint8_t checksum[4];		/* ones' complement of the byte sum, this field 0 */
	uint8_t uuid[16];
	uint8_t saved_state;
	uint8_t reserved[427];
};
_Static_assert(sizeof(struct vhd_footer) == 512, "the VHD footer is one sector");

/* "Dynamic Disk Header Format": at the footer's data offset of a dynamic disk. */
struct vhd_dyn_header {
	uint8_t cookie[8];		/* "cxsparse" */
	uint8_t data_offset[8];		/* unused: all ones */
	uint8_t table_offset[8];	/* the BAT */
	uint8_t version[4];		/* 0x00010000 */
	uint8_t max_table_entries[4];
	uint8_t block_size[4];
	uint8_t checksum[4];		/* as the footer's, over these 1024 bytes */
	uint8_t parent_uuid[16];	/* differencing disks only, as are the next four */
	uint8_t parent_timestamp[4];
	uint8_t reserved1[4];
	uint8_t parent_name[512];
	uint8_t parent_locators[8][24];
	uint8_t reserved2[256];
};
_Static_assert(sizeof(struct vhd_dyn_header) == 1024, "the dynamic header is two sectors");

#define VHD_COOKIE "conectix"
#define DYN_COOKIE "cxsparse"
#define VHD_FEATURES 0x00000002u		/* only the reserved bit */
#define VHD_VERSION 0x00010000u
#define VHD_FIXED 2u
#define VHD_DYNAMIC 3u
#define VHD_DIFFERENCING 4u
#define NO_OFFSET UINT64_MAX
#define BAT_FREE 0xFFFFFFFFu
#define DYN_HEADER_OFF 512u
#define BAT_OFF 1536u			/* right after the dynamic header */
/* Seconds from 1970-01-01 to 2000-01-01, the VHD epoch. */
#define VHD_EPOCH 946684800
/* 2040 GiB: the most Hyper-V and QEMU (VHD_MAX_SECTORS) take. */
#define VHD_MAX_SIZE (0xFF000000ull * SECTOR)
/* The largest disk CHS can describe; QEMU sizes such a disk from the footer. */
#define CHS_MAX_SECTORS (65535ull * 16 * 255)

/* The creator. QEMU takes a disk's size from its CHS geometry, which cannot express
 * most sizes (1 MiB reads as 1,044,480 bytes), unless the creator app is one of "win ",
 * "qem2", "d2v ", "CTXS" or "tap\0"; Hyper-V, Windows and VirtualBox always use the
 * current size. "win " is what Windows and Hyper-V themselves write, so every reader
 * that tells writers apart knows it as "the size is in the footer"; "qem2" would only
 * be known to QEMU. Version 10.0 and "Wi2k" are what that writer puts beside it. */
static const char CREATOR_APP[4] = { 'w', 'i', 'n', ' ' };
#define CREATOR_VERSION 0x000A0000u
static const char CREATOR_OS[4] = { 'W', 'i', '2', 'k' };

/* The ones' complement of the byte sum, with the 4-byte checksum field at at as 0. */
static uint32_t vhd_checksum(const void *p, size_t len, size_t at)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i < at || i >= at + 4)
			sum += b[i];
	return ~sum;
}

/* Appendix "CHS Calculation", as written there: cylinders * heads * sectors may be
 * less than the disk (2048 sectors give 30/4/17 = 2040). */
static void vhd_geometry(uint64_t sectors, uint16_t *cyl, uint8_t *heads, uint8_t *spt)
{
	uint64_t cth, h;

	if (sectors > CHS_MAX_SECTORS)
		sectors = CHS_MAX_SECTORS;
	if (sectors >= 65535ull * 16 * 63) {
		*spt = 255;
		h = 16;
		cth = sectors / 255;
	} else {
		*spt = 17;
		cth = sectors / 17;
		h = (cth + 1023) / 1024;
		if (h < 4)
			h = 4;
		if (cth >= h * 1024 || h > 16) {
			*spt = 31;
			h = 16;
			cth = sectors / 31;
		}
		if (cth >= h * 1024) {
			*spt = 63;
			h = 16;
			cth = sectors / 63;
		}
	}
	*heads = (uint8_t)h;
	*cyl = (uint16_t)(cth / h);
}

/* The bitmap in front of each block: a bit per sector, padded to whole sectors. */
static uint32_t bitmap_bytes(uint32_t block_size)
{
	uint32_t bits = block_size / SECTOR / 8;

	return bits ? (bits + SECTOR - 1) / SECTOR * SECTOR : SECTOR;
}

/* Does QEMU size this disk from its footer (as everyone else does), or from CHS? */
static bool qemu_uses_current_size(const struct vhd_footer *f)
{
	static const char *const apps[] = { "win ", "qem2", "d2v ", "CTXS", "tap" };

	for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++)
		if (memcmp(f->creator_app, apps[i], 4) == 0)
			return true;
	return get_be16(f->cylinders) == 65535 && f->heads == 16 && f->sectors == 255;
}

/* --- reading ------------------------------------------------------------------------- */

struct vhd_disk {
	struct disk d;
	struct vhd_footer foot;		/* the footer in use (the copy at 0 if dynamic) */
	uint64_t foot_off;		/* where it was read */
	size_t foot_len;		/* 512, or 511 for an old Virtual PC fixed disk */
	bool dynamic;

	/* A dynamic disk. */
	struct vhd_dyn_header hdr;
	uint64_t hdr_off;
	uint64_t bat_off;
	uint32_t max_entries;		/* entries in the BAT */
	uint32_t nblocks;		/* entries that cover the virtual size */
	uint32_t block_size;
	uint32_t bitmap_size;
	uint32_t *bat;			/* all max_entries entries, host order */
	uint8_t *bitmap;		/* the bitmap of block cached */
	uint64_t cached;		/* UINT64_MAX: none */
	bool bitmap_full;		/* every bit of it set */
};

/* "X is not a usable VHD image: WHY." */
#define bad_vhd(m, v, ...) vhd_refuse(m, (v)->d.file.path, __VA_ARGS__)

static int vhd_refuse(struct msg *m, const char *path, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int vhd_refuse(struct msg *m, const char *path, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return fail(m, "%s is not a usable VHD image: %s.", path, why);
}

static bool bit_set(const uint8_t *bitmap, uint64_t sector)
{
	return bitmap[sector / 8] >> (7 - sector % 8) & 1;	/* MSB is the first sector */
}

/* The first sector from s (< limit) whose bit differs from s's, or limit. */
static uint64_t bit_run_end(const struct vhd_disk *v, uint64_t s, uint64_t limit)
{
	bool want = bit_set(v->bitmap, s);
	uint8_t whole = want ? 0xFF : 0x00;

	if (v->bitmap_full)
		return limit;
	for (s++; s < limit; s++) {
		if (s % 8 == 0 && limit - s >= 8 && v->bitmap[s / 8] == whole) {
			s += 7;
			continue;
		}
		if (bit_set(v->bitmap, s) != want)
			return s;
	}
	return limit;
}

static uint64_t block_offset(const struct vhd_disk *v, uint64_t block)
{
	return (uint64_t)v->bat[block] * SECTOR;
}

static int load_bitmap(struct vhd_disk *v, uint64_t block, struct msg *m)
{
	if (v->cached == block)
		return 0;
	v->cached = UINT64_MAX;
	if (infile_read(&v->d.file, v->bitmap, v->bitmap_size, block_offset(v, block),
			"a block bitmap", m) < 0)
		return -1;
	v->cached = block;
	v->bitmap_full = true;
	for (uint32_t i = 0; i < v->block_size / SECTOR / 8 && v->bitmap_full; i++)
		v->bitmap_full = v->bitmap[i] == 0xFF;
	if (v->block_size / SECTOR < 8)	/* a 512..2048-byte block: part of a byte */
		v->bitmap_full = (v->bitmap[0] | (0xFF >> (v->block_size / SECTOR))) == 0xFF;
	return 0;
}

static int fixed_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	return infile_read(&d->file, buf, len, off, "data", m);
}

/* Where the file system keeps the data of a fixed disk (holes read as zeros). */
static int fixed_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
			struct msg *m)
{
	(void)m;
	infile_data(&d->file, off, d->size, run, stored);
	return 0;
}

static int dyn_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	struct vhd_disk *v = (struct vhd_disk *)d;
	unsigned char *out = buf;

	while (len) {
		uint64_t block = off / v->block_size, in = off % v->block_size;
		size_t n = v->block_size - in < len ? (size_t)(v->block_size - in) : len;

		if (v->bat[block] == BAT_FREE) {
			memset(out, 0, n);
		} else {
			uint64_t data = block_offset(v, block) + v->bitmap_size;

			if (load_bitmap(v, block, m) < 0)
				return -1;
			for (uint64_t at = in; at < in + n;) {
				uint64_t s = at / SECTOR, last = (in + n + SECTOR - 1) / SECTOR;
				uint64_t end = bit_run_end(v, s, last) * SECTOR;
				size_t k;

				if (end > in + n)
					end = in + n;
				k = (size_t)(end - at);
				if (!bit_set(v->bitmap, s))
					memset(out + (at - in), 0, k);
				else if (infile_read(&d->file, out + (at - in), k, data + at,
						     "block data", m) < 0)
					return -1;
				at = end;
			}
		}
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Unallocated blocks are unstored; in an allocated block, the sectors whose bitmap bit
 * is set are stored and the others are not. */
static int dyn_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		      struct msg *m)
{
	struct vhd_disk *v = (struct vhd_disk *)d;
	uint64_t block = off / v->block_size, base = block * v->block_size, end;

	if (v->bat[block] == BAT_FREE) {
		uint64_t b = block + 1;

		while (b < v->nblocks && v->bat[b] == BAT_FREE)
			b++;
		end = b * v->block_size;
		*stored = false;
	} else {
		uint64_t s = (off - base) / SECTOR;

		if (load_bitmap(v, block, m) < 0)
			return -1;
		*stored = bit_set(v->bitmap, s);
		end = base + bit_run_end(v, s, v->block_size / SECTOR) * SECTOR;
	}
	if (end > d->size)
		end = d->size;
	*run = end - off;
	return 0;
}

/* A four-byte text field, as printable as it can be ("win ", "tap\0"). */
static void fourcc(const uint8_t *f, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int k = 0; k < 4 && len < size; k++) {
		unsigned char c = f[k];
		int n;

		if (c >= 0x20 && c < 0x7F && c != '\\')
			n = snprintf(buf + len, size - len, "%c", c);
		else
			n = snprintf(buf + len, size - len, "\\x%02x", c);
		if (n > 0)
			len += (size_t)n;
		if (len >= size)
			len = size - 1;
	}
	while (len && buf[len - 1] == ' ')
		buf[--len] = '\0';
}

static void vhd_info(struct disk *d, struct info *i)
{
	struct vhd_disk *v = (struct vhd_disk *)d;
	const struct vhd_footer *f = &v->foot;
	struct uuid u = uuid_from_guid(f->uuid);
	char text[37], app[20], os[20];
	time_t t = (time_t)VHD_EPOCH + get_be32(f->timestamp);
	struct tm tm;
	uint32_t ver = get_be32(f->creator_version);
	uint64_t chs = (uint64_t)get_be16(f->cylinders) * f->heads * f->sectors * SECTOR;

	info_str(i, "subformat", "%s", v->dynamic ? "dynamic" : "fixed");
	uuid_format(&u, text);
	info_str(i, "uuid", "%s", text);
	fourcc(f->creator_app, app, sizeof app);
	fourcc(f->creator_os, os, sizeof os);
	info_str(i, "creator app", "%s", app);
	info_str(i, "creator version", "%u.%u", ver >> 16, ver & 0xFFFF);
	info_str(i, "creator os", "%s", os);
	gmtime_r(&t, &tm);
	info_str(i, "timestamp", "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	info_num(i, "cylinders", get_be16(f->cylinders));
	info_num(i, "heads", f->heads);
	info_num(i, "sectors", f->sectors);
	if (!qemu_uses_current_size(f) && chs != d->size)
		info_num(i, "qemu virtual size", chs);
	if (v->dynamic) {
		uint32_t used = 0;

		for (uint32_t b = 0; b < v->nblocks; b++)
			used += v->bat[b] != BAT_FREE;
		info_num(i, "block size", v->block_size);
		info_num(i, "blocks", v->nblocks);
		info_num(i, "blocks allocated", used);
	}
	if (v->foot_len != sizeof v->foot)
		info_str(i, "footer", "511 bytes (Virtual PC before 2004)");
	/* Azure takes a fixed VHD of a whole number of MiB, at least 20 MiB. */
	info_str(i, "azure upload", "%s",
		 v->dynamic ? "no: Azure takes fixed VHDs only"
		 : d->size % (1u << 20) ? "no: the size is not a whole number of MiB"
		 : d->size < (20u << 20) ? "no: Azure takes disks of 20 MiB or more"
					 : "yes");
}

/* A block or a piece of metadata in the file, for the overlap check. */
struct extent {
	uint64_t start, end;
	int64_t block;			/* -1..-4: the metadata below */
};

static const char *const meta_name[] = {
	"the footer copy at byte 0", "the dynamic header", "the block allocation table",
	"the footer at the end",
};

static void extent_name(const struct extent *e, char *buf, size_t size)
{
	if (e->block < 0)
		snprintf(buf, size, "%s", meta_name[-e->block - 1]);
	else
		snprintf(buf, size, "block %lld", (long long)e->block);
}

static int extent_cmp(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

/* Faults of one kind listed before the rest are only counted. */
#define FAULTS_PER_KIND 8
/* Bytes read at a time when check looks at sectors behind clear bitmap bits. */
#define VHD_CHECK_CHUNK (64u << 10)

/* Every block and every structure must have the file bytes it occupies to itself.
 * Returns the number of overlaps. */
static size_t check_overlaps(struct vhd_disk *v, bool end_footer, struct faults *f)
{
	const char *path = v->d.file.path;
	uint64_t bat_len = ((uint64_t)v->max_entries * 4 + SECTOR - 1) / SECTOR * SECTOR;
	size_t n = 0, found = 0, top = 0, used = 0;
	struct extent *e;

	for (uint32_t b = 0; b < v->max_entries; b++)
		used += v->bat[b] != BAT_FREE;
	e = malloc((used + 4) * sizeof *e);

	if (!e) {
		fault(f, "%s: cannot hold its block list to check it for overlaps.", path);
		return 1;
	}
	e[n++] = (struct extent){ 0, SECTOR, -1 };
	e[n++] = (struct extent){ v->hdr_off, v->hdr_off + sizeof v->hdr, -2 };
	if (bat_len)
		e[n++] = (struct extent){ v->bat_off, v->bat_off + bat_len, -3 };
	if (end_footer)
		e[n++] = (struct extent){ v->d.file.size - SECTOR, v->d.file.size, -4 };
	for (uint32_t b = 0; b < v->max_entries; b++)
		if (v->bat[b] != BAT_FREE) {
			uint64_t at = (uint64_t)v->bat[b] * SECTOR;

			e[n++] = (struct extent){ at, at + v->bitmap_size + v->block_size, b };
		}
	qsort(e, n, sizeof *e, extent_cmp);
	/* top: the extent reaching furthest so far; whatever starts before its end
	 * overlaps it. */
	for (size_t k = 1; k < n; k++) {
		if (e[k].start < e[top].end) {
			char a[48], b[48];

			if (found++ < FAULTS_PER_KIND) {
				extent_name(&e[k], a, sizeof a);
				extent_name(&e[top], b, sizeof b);
				fault(f, "%s: %s (bytes %llu to %llu) overlaps %s (bytes %llu "
				      "to %llu).", path, a, (unsigned long long)e[k].start,
				      (unsigned long long)e[k].end, b,
				      (unsigned long long)e[top].start,
				      (unsigned long long)e[top].end);
			}
		}
		if (e[k].end > e[top].end)
			top = k;
	}
	if (found > FAULTS_PER_KIND)
		fault(f, "%s: %zu more overlaps like these.", path, found - FAULTS_PER_KIND);
	free(e);
	return found;
}

/* A sector whose bitmap bit is clear reads as zeros here, in Hyper-V and in
 * VirtualBox, but QEMU reads what is stored there: they agree only if it is zero. */
static void check_hidden_data(struct vhd_disk *v, struct faults *f)
{
	static unsigned char buf[VHD_CHECK_CHUNK];
	size_t found = 0;
	struct msg m;

	for (uint32_t b = 0; b < v->nblocks; b++) {
		uint64_t base = (uint64_t)b * v->block_size, limit, s = 0;
		bool hidden = false;

		if (v->bat[b] == BAT_FREE)
			continue;
		if (load_bitmap(v, b, &m) < 0) {
			fault(f, "%s", m.text);
			return;
		}
		if (v->bitmap_full)
			continue;
		/* The sectors of the block that are inside the virtual disk. */
		limit = (v->d.size - base + SECTOR - 1) / SECTOR;
		if (limit > v->block_size / SECTOR)
			limit = v->block_size / SECTOR;
		while (s < limit && !hidden) {
			uint64_t end = bit_run_end(v, s, limit);

			for (uint64_t at = s; !bit_set(v->bitmap, s) && at < end && !hidden;) {
				uint64_t k = end - at < sizeof buf / SECTOR ? end - at
									   : sizeof buf / SECTOR;

				if (infile_read(&v->d.file, buf, (size_t)k * SECTOR,
						block_offset(v, b) + v->bitmap_size + at * SECTOR,
						"block data", &m) < 0) {
					fault(f, "%s", m.text);
					return;
				}
				hidden = !is_zero(buf, (size_t)k * SECTOR);
				at += k;
			}
			s = end;
		}
		if (hidden && found++ < FAULTS_PER_KIND)
			fault(f, "%s: block %u holds data in sectors its bitmap marks unused: QEMU "
			      "reads that data, Hyper-V and VirtualBox read zeros.",
			      v->d.file.path, b);
	}
	if (found > FAULTS_PER_KIND)
		fault(f, "%s: %zu more blocks hide data the same way.", v->d.file.path,
		      found - FAULTS_PER_KIND);
}

static void check_dynamic(struct vhd_disk *v, struct faults *f)
{
	const char *path = v->d.file.path;
	struct vhd_footer end;
	struct msg m;
	uint32_t sum = vhd_checksum(&v->hdr, sizeof v->hdr,
				    offsetof(struct vhd_dyn_header, checksum));
	bool have_end = false;

	/* The footer at the end is the real one; the copy at 0 must equal it. */
	if (v->foot_off != 0) {
		have_end = true;
		fault(f, "%s: its footer copy at byte 0 is missing (it does not start with "
		      "\"conectix\").", path);
	} else if (v->d.file.size < 2 * SECTOR ||
		   infile_read(&v->d.file, &end, sizeof end, v->d.file.size - SECTOR, "the footer",
			       &m) < 0 || memcmp(end.cookie, VHD_COOKIE, 8) != 0) {
		fault(f, "%s: its last 512 bytes are not a VHD footer; the file may be "
		      "truncated.", path);
	} else {
		have_end = true;
		if (memcmp(&end, &v->foot, sizeof end) != 0)
			fault(f, "%s: the footer at its end differs from the copy at byte 0.",
			      path);
	}
	if (get_be32(v->hdr.checksum) != sum)
		fault(f, "%s: its dynamic header checksum is 0x%08x, but its bytes give 0x%08x.",
		      path, get_be32(v->hdr.checksum), sum);
	if (get_be64(v->hdr.data_offset) != NO_OFFSET)
		fault(f, "%s: its dynamic header's data offset is 0x%llx; it must be all ones.",
		      path, (unsigned long long)get_be64(v->hdr.data_offset));
	if (get_be32(v->hdr.version) != VHD_VERSION)
		fault(f, "%s: its dynamic header version is 0x%08x, not 0x%08x.", path,
		      get_be32(v->hdr.version), VHD_VERSION);
	if (v->hdr_off % SECTOR || v->bat_off % SECTOR)
		fault(f, "%s: its dynamic header (byte %llu) or block allocation table (byte "
		      "%llu) does not start on a sector.", path, (unsigned long long)v->hdr_off,
		      (unsigned long long)v->bat_off);
	if (check_overlaps(v, have_end, f) == 0)
		check_hidden_data(v, f);
}

static void vhd_check(struct disk *d, struct faults *f)
{
	struct vhd_disk *v = (struct vhd_disk *)d;
	const struct vhd_footer *ft = &v->foot;
	const char *path = d->file.path;
	uint64_t chs = (uint64_t)get_be16(ft->cylinders) * ft->heads * ft->sectors;

	if (!(get_be32(ft->features) & VHD_FEATURES))
		fault(f, "%s: its footer's features are 0x%08x; the spec requires the reserved "
		      "bit 0x00000002.", path, get_be32(ft->features));
	if (get_be32(ft->version) != VHD_VERSION)
		fault(f, "%s: its footer's format version is 0x%08x, not 0x%08x.", path,
		      get_be32(ft->version), VHD_VERSION);
	/* 65535/16/255 is the spec's largest geometry, and QEMU's mark of "the size is in
	 * the footer" (qemu-img -o force_size): it may exceed a small disk. */
	if (chs * SECTOR > d->size && chs != CHS_MAX_SECTORS)
		fault(f, "%s: its geometry %u/%u/%u holds more than its %llu bytes.", path,
		      get_be16(ft->cylinders), ft->heads, ft->sectors,
		      (unsigned long long)d->size);
	if (d->size > VHD_MAX_SIZE)
		fault(f, "%s: its virtual size %llu is over 2040 GiB, which Hyper-V and QEMU "
		      "refuse.", path, (unsigned long long)d->size);
	if (ft->saved_state)
		fault(f, "%s: its footer marks it as in a saved state.", path);
	if (!v->dynamic) {
		uint64_t data = d->file.size - v->foot_len;

		if (get_be64(ft->data_offset) != NO_OFFSET)
			fault(f, "%s: a fixed disk's footer data offset must be all ones, but it "
			      "is 0x%llx.", path, (unsigned long long)get_be64(ft->data_offset));
		if (data != d->size)
			fault(f, "%s holds %llu bytes before its footer, but its virtual size is "
			      "%llu.", path, (unsigned long long)data,
			      (unsigned long long)d->size);
		return;
	}
	check_dynamic(v, f);
}

static void vhd_release(struct disk *d)
{
	struct vhd_disk *v = (struct vhd_disk *)d;

	free(v->bat);
	free(v->bitmap);
}

/* Where the footer is: the copy at 0 of a dynamic disk (read first, as QEMU does, so
 * both see the same disk), else the last 512 bytes, else the last 511. */
static int find_footer(struct vhd_disk *v, struct msg *m)
{
	const struct infile *f = &v->d.file;

	if (f->size >= SECTOR) {
		if (infile_read(f, &v->foot, SECTOR, 0, "the footer", m) < 0)
			return -1;
		if (memcmp(v->foot.cookie, VHD_COOKIE, 8) == 0) {
			v->foot_off = 0;
			v->foot_len = SECTOR;
			return 0;
		}
	}
	for (size_t len = SECTOR; len >= SECTOR - 1; len--) {
		if (f->size < len)
			continue;
		memset(&v->foot, 0, sizeof v->foot);
		if (infile_read(f, &v->foot, len, f->size - len, "the footer", m) < 0)
			return -1;
		if (memcmp(v->foot.cookie, VHD_COOKIE, 8) == 0) {
			v->foot_off = f->size - len;
			v->foot_len = len;
			return 0;
		}
	}
	return bad_vhd(m, v, "neither its first sector nor its last holds a footer "
		       "starting with \"conectix\"");
}

static int open_dynamic(struct vhd_disk *v, struct msg *m)
{
	const struct infile *f = &v->d.file;
	uint64_t bs, need, bat_bytes;

	v->hdr_off = get_be64(v->foot.data_offset);
	if (v->hdr_off > f->size || f->size - v->hdr_off < sizeof v->hdr)
		return bad_vhd(m, v, "its dynamic header (byte %llu) runs past the end of the "
			       "file (%llu)", (unsigned long long)v->hdr_off,
			       (unsigned long long)f->size);
	if (infile_read(f, &v->hdr, sizeof v->hdr, v->hdr_off, "the dynamic header", m) < 0)
		return -1;
	if (memcmp(v->hdr.cookie, DYN_COOKIE, 8) != 0)
		return bad_vhd(m, v, "its dynamic header (byte %llu) does not start with "
			       "\"cxsparse\"", (unsigned long long)v->hdr_off);
	bs = get_be32(v->hdr.block_size);
	if (bs < SECTOR || (bs & (bs - 1)))
		return bad_vhd(m, v, "its block size %llu is not a power of two of at least "
			       "512 bytes", (unsigned long long)bs);
	v->block_size = (uint32_t)bs;
	v->bitmap_size = bitmap_bytes(v->block_size);
	v->max_entries = get_be32(v->hdr.max_table_entries);
	need = v->d.size / bs + (v->d.size % bs != 0);
	if (need > v->max_entries)
		return bad_vhd(m, v, "its block allocation table has %u entries, but its "
			       "virtual size of %llu bytes needs %llu blocks of %llu bytes",
			       v->max_entries, (unsigned long long)v->d.size,
			       (unsigned long long)need, (unsigned long long)bs);
	v->nblocks = (uint32_t)need;
	v->bat_off = get_be64(v->hdr.table_offset);
	bat_bytes = (uint64_t)v->max_entries * 4;
	if (v->bat_off > f->size || f->size - v->bat_off < bat_bytes)
		return bad_vhd(m, v, "its block allocation table (byte %llu, %u entries) runs "
			       "past the end of the file (%llu)", (unsigned long long)v->bat_off,
			       v->max_entries, (unsigned long long)f->size);
	v->bat = malloc(bat_bytes ? (size_t)bat_bytes : 1);
	v->bitmap = malloc(v->bitmap_size);
	if (!v->bat || !v->bitmap)
		return fail_errno(m, "cannot hold the block table of %s", f->path);
	if (infile_read(f, v->bat, (size_t)bat_bytes, v->bat_off, "the block allocation table",
			m) < 0)
		return -1;
	for (uint32_t b = 0; b < v->max_entries; b++) {
		uint64_t at;

		v->bat[b] = get_be32(&v->bat[b]);
		if (v->bat[b] == BAT_FREE)
			continue;
		at = (uint64_t)v->bat[b] * SECTOR;
		if (at > f->size || f->size - at < (uint64_t)v->bitmap_size + bs)
			return bad_vhd(m, v, "block %u (byte %llu) runs past the end of the file "
				       "(%llu); it may be truncated", b, (unsigned long long)at,
				       (unsigned long long)f->size);
	}
	v->cached = UINT64_MAX;
	v->d.read = dyn_read;
	v->d.status = dyn_status;
	return 0;
}

static int vhd_open_footer(struct vhd_disk *v, struct msg *m)
{
	const struct vhd_footer *ft = &v->foot;
	uint32_t sum, type;

	if (find_footer(v, m) < 0)
		return -1;
	sum = vhd_checksum(ft, sizeof *ft, offsetof(struct vhd_footer, checksum));
	if (get_be32(ft->checksum) != sum)
		return bad_vhd(m, v, "its footer (byte %llu) has the checksum 0x%08x, but its "
			       "bytes give 0x%08x", (unsigned long long)v->foot_off,
			       get_be32(ft->checksum), sum);
	type = get_be32(ft->disk_type);
	if (type == VHD_DIFFERENCING)
		return bad_vhd(m, v, "it is a differencing disk, which needs its parent; "
			       "imgtool reads fixed and dynamic disks");
	if (type != VHD_FIXED && type != VHD_DYNAMIC)
		return bad_vhd(m, v, "its disk type is %u, not fixed (2), dynamic (3) or "
			       "differencing (4)", type);
	if (type == VHD_FIXED && v->foot_off == 0 && v->d.file.size > sizeof *ft)
		return bad_vhd(m, v, "its first sector is the footer of a fixed disk, which "
			       "belongs at the end of the file");
	v->dynamic = type == VHD_DYNAMIC;
	v->d.size = get_be64(ft->current_size);
	if (v->d.size % SECTOR)
		return bad_vhd(m, v, "its virtual size of %llu bytes is not a whole number of "
			       "512-byte sectors", (unsigned long long)v->d.size);
	if (v->dynamic)
		return open_dynamic(v, m);
	if (v->d.size > v->foot_off)
		return bad_vhd(m, v, "its footer gives a virtual size of %llu bytes, but only "
			       "%llu bytes precede the footer", (unsigned long long)v->d.size,
			       (unsigned long long)v->foot_off);
	v->d.read = fixed_read;
	v->d.status = fixed_status;
	return 0;
}

static int vhd_open(struct infile *f, struct disk **d, struct msg *m)
{
	struct vhd_disk *v = calloc(1, sizeof *v);

	*d = NULL;
	if (!v) {
		infile_close(f);
		return fail_errno(m, "cannot open %s", f->path);
	}
	v->d.fmt = &fmt_vhd;
	v->d.file = *f;
	v->d.info = vhd_info;
	v->d.check = vhd_check;
	v->d.release = vhd_release;
	if (vhd_open_footer(v, m) < 0) {
		disk_close(&v->d);
		return -1;
	}
	*d = &v->d;
	return 0;
}

/* A VHD has "conectix" in its first sector (dynamic) or at the start of its last 512
 * (or 511) bytes. The footer is at the end, so image_open probes VHD after the formats
 * that know themselves by their first sector: a qcow2 holding a VHD as data stays qcow2. */
static bool vhd_probe(const struct infile *f, const unsigned char *head, size_t n)
{
	char tail[8];
	struct msg m;

	if (n >= 8 && memcmp(head, VHD_COOKIE, 8) == 0)
		return true;
	for (uint64_t len = SECTOR; len >= SECTOR - 1; len--)
		if (f->size >= len && infile_read(f, tail, sizeof tail, f->size - len, "the footer",
						  &m) == 0 && memcmp(tail, VHD_COOKIE, 8) == 0)
			return true;
	return false;
}

/* --- writing ------------------------------------------------------------------------- */

/* Source units of 1 MiB (a 512 KiB block takes them 512 KiB at a time, so a unit never
 * straddles two blocks): few system calls. Inside a unit, 64 KiB runs of zeros are not
 * written, so they stay holes. */
#define VHD_UNIT (1u << 20)
#define VHD_HOLE (64u << 10)
/* BAT entries held at once: blocks come in disk order, so the table is written front to
 * back in windows and a 2040 GiB disk needs no 16 MiB table in memory. */
#define BAT_WINDOW (16u << 10)
/* The block sizes Hyper-V takes. */
#define MIN_BLOCK (512u << 10)
#define MAX_BLOCK (2u << 20)

struct vhd_writer {
	struct outfile *out;
	uint64_t size;			/* virtual size */
	bool dynamic;
	uint32_t block_size, bitmap_size;
	uint32_t entries;		/* in the BAT */
	uint64_t next;			/* where the next block goes */
	uint64_t block;			/* the block being filled; UINT64_MAX none */
	uint64_t block_off;		/* its bitmap's offset in the file */
	uint64_t win_first;		/* the first entry in win */
	unsigned char win[BAT_WINDOW * 4];
	unsigned char bitmap[MAX_BLOCK / SECTOR / 8];
};

/* Write the BAT window and move it on by one window. */
static int bat_flush(struct vhd_writer *w, struct msg *m)
{
	uint64_t padded = ((uint64_t)w->entries * 4 + SECTOR - 1) / SECTOR * SECTOR;
	uint64_t at = w->win_first * 4;
	size_t len = padded - at < sizeof w->win ? (size_t)(padded - at) : sizeof w->win;

	if (out_write(w->out, w->win, len, BAT_OFF + at, m) < 0)
		return -1;
	memset(w->win, 0xFF, sizeof w->win);
	w->win_first += BAT_WINDOW;
	return 0;
}

static int bat_set(struct vhd_writer *w, uint64_t block, uint32_t sector, struct msg *m)
{
	while (block >= w->win_first + BAT_WINDOW)
		if (bat_flush(w, m) < 0)
			return -1;
	put_be32(w->win + (block - w->win_first) * 4, sector);
	return 0;
}

/* Write the non-zero 64 KiB pieces of a unit at where, each run of them at once. */
static int write_sparse(struct outfile *out, const unsigned char *data,
			size_t len, uint64_t where, struct msg *m)
{
	size_t at = 0;

	while (at < len) {
		size_t start, end;

		while (at < len && is_zero(data + at, len - at < VHD_HOLE ? len - at : VHD_HOLE))
			at += VHD_HOLE;
		if (at >= len)
			break;
		start = at;
		while (at < len && !is_zero(data + at, len - at < VHD_HOLE ? len - at : VHD_HOLE))
			at += VHD_HOLE;
		end = at < len ? at : len;
		if (out_write(out, data + start, end - start, where + start, m) < 0)
			return -1;
	}
	return 0;
}

static int vhd_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		    struct msg *m)
{
	struct vhd_writer *w = ctx;
	uint64_t block;

	if (!w->dynamic)
		return write_sparse(w->out, data, len, off, m);
	block = off / w->block_size;
	if (block != w->block) {
		if (w->next / SECTOR >= BAT_FREE)
			return fail(m, "cannot write %s: its blocks would go past the 2 TiB a "
				    "VHD block table can address.", w->out->path);
		w->block = block;
		w->block_off = w->next;
		w->next += (uint64_t)w->bitmap_size + w->block_size;
		if (out_write(w->out, w->bitmap, w->bitmap_size, w->block_off, m) < 0 ||
		    bat_set(w, block, (uint32_t)(w->block_off / SECTOR), m) < 0)
			return -1;
	}
	return write_sparse(w->out, data, len, w->block_off + w->bitmap_size +
			    off % w->block_size, m);
}

static void build_footer(struct vhd_footer *f, const struct vhd_writer *w, uint32_t stamp,
			 const struct uuid *u)
{
	uint16_t cyl;
	uint8_t heads, spt;

	memset(f, 0, sizeof *f);
	memcpy(f->cookie, VHD_COOKIE, 8);
	put_be32(f->features, VHD_FEATURES);
	put_be32(f->version, VHD_VERSION);
	put_be64(f->data_offset, w->dynamic ? DYN_HEADER_OFF : NO_OFFSET);
	put_be32(f->timestamp, stamp);
	memcpy(f->creator_app, CREATOR_APP, 4);
	put_be32(f->creator_version, CREATOR_VERSION);
	memcpy(f->creator_os, CREATOR_OS, 4);
	put_be64(f->original_size, w->size);
	put_be64(f->current_size, w->size);
	vhd_geometry(w->size / SECTOR, &cyl, &heads, &spt);
	put_be16(f->cylinders, cyl);
	f->heads = heads;
	f->sectors = spt;
	put_be32(f->disk_type, w->dynamic ? VHD_DYNAMIC : VHD_FIXED);
	uuid_to_guid(u, f->uuid);
	put_be32(f->checksum, vhd_checksum(f, sizeof *f, offsetof(struct vhd_footer, checksum)));
}

static void build_header(struct vhd_dyn_header *h, const struct vhd_writer *w)
{
	memset(h, 0, sizeof *h);
	memcpy(h->cookie, DYN_COOKIE, 8);
	put_be64(h->data_offset, NO_OFFSET);
	put_be64(h->table_offset, BAT_OFF);
	put_be32(h->version, VHD_VERSION);
	put_be32(h->max_table_entries, w->entries);
	put_be32(h->block_size, w->block_size);
	put_be32(h->checksum, vhd_checksum(h, sizeof *h, offsetof(struct vhd_dyn_header,
								  checksum)));
}

/* The options: subformat, block size, and the time stamp, checked before any work. */
static int vhd_options(struct vhd_writer *w, const struct opts *o, uint32_t *stamp,
		       struct msg *m)
{
	static const char *const subformats[] = { "fixed", "dynamic", NULL };
	size_t sub;
	uint64_t bs;
	int64_t t;

	if (opt_choice(o, "subformat", subformats, 0, &sub, m) < 0)
		return -1;
	w->dynamic = sub == 1;
	/* Hyper-V takes VHD blocks of 512 KiB or 2 MiB only; 2 MiB is its default and
	 * Virtual PC's and qemu-img's. */
	if (opt_pow2(o, "block_size", "the block size", MIN_BLOCK, MAX_BLOCK, MAX_BLOCK, &bs,
		     m) < 0)
		return -1;
	if (bs != MIN_BLOCK && bs != MAX_BLOCK)
		return fail(m, "-o block_size=%s: the block size must be 512K or 2M, the two "
			    "Hyper-V takes.", opt_get(o, "block_size"));
	if (opt_get(o, "block_size") && !w->dynamic)
		return fail(m, "-o block_size=%s: only a dynamic VHD has blocks; add "
			    "-o subformat=dynamic.", opt_get(o, "block_size"));
	w->block_size = (uint32_t)bs;
	w->bitmap_size = bitmap_bytes(w->block_size);
	if (source_date_epoch(&t, m) < 0)
		return -1;
	*stamp = t <= VHD_EPOCH ? 0 : t - VHD_EPOCH > UINT32_MAX ? UINT32_MAX
								 : (uint32_t)(t - VHD_EPOCH);
	return 0;
}

static int vhd_write_image(struct vhd_writer *w, struct disk *src, const struct opts *o,
			   uint32_t stamp, struct msg *m)
{
	struct vhd_footer foot;
	struct vhd_dyn_header hdr;
	struct digest sum;
	struct uuid u;

	if (disk_each_data(src, w->dynamic && w->block_size < VHD_UNIT ? w->block_size : VHD_UNIT,
			   vhd_unit, w, &sum, m) < 0 ||
	    uuid_option(o, &sum, "vhd", w->dynamic ? "dynamic" : "fixed", &u, m) < 0)
		return -1;
	build_footer(&foot, w, stamp, &u);
	if (!w->dynamic)
		return out_write(w->out, &foot, sizeof foot, w->size, m);
	build_header(&hdr, w);
	while (w->win_first < w->entries)
		if (bat_flush(w, m) < 0)
			return -1;
	if (out_write(w->out, &foot, sizeof foot, 0, m) < 0 ||
	    out_write(w->out, &hdr, sizeof hdr, DYN_HEADER_OFF, m) < 0 ||
	    out_write(w->out, &foot, sizeof foot, w->next, m) < 0)
		return -1;
	return 0;
}

static int vhd_write(struct disk *src, const char *path, const struct opts *o,
		     struct msg *m)
{
	struct output out = { .n = 0 };
	struct vhd_writer *w = calloc(1, sizeof *w);
	uint32_t stamp = 0;
	int rc = -1;

	if (!w)
		return fail_errno(m, "cannot write %s", path);
	if (vhd_options(w, o, &stamp, m) < 0)
		goto out;
	/* Every container stores whole sectors: a disk that ends inside one grows to it. */
	w->size = (src->size + SECTOR - 1) / SECTOR * SECTOR;
	if (w->size > VHD_MAX_SIZE) {
		fail(m, "%s is %llu bytes; a VHD holds at most 2040 GiB (%llu bytes), the most "
		     "Hyper-V and QEMU take.", src->file.path, (unsigned long long)src->size,
		     (unsigned long long)VHD_MAX_SIZE);
		goto out;
	}
	w->entries = (uint32_t)((w->size + w->block_size - 1) / w->block_size);
	w->next = BAT_OFF + ((uint64_t)w->entries * 4 + SECTOR - 1) / SECTOR * SECTOR;
	w->block = UINT64_MAX;
	memset(w->win, 0xFF, sizeof w->win);
	memset(w->bitmap, 0xFF, sizeof w->bitmap);
	if (output_add(&out, path, &w->out, m) < 0 ||
	    vhd_write_image(w, src, o, stamp, m) < 0 ||
	    output_commit(&out, m) < 0) {
		output_discard(&out);
		goto out;
	}
	rc = 0;
out:
	free(w);
	return rc;
}

const struct format fmt_vhd = {
	.name = "vhd",
	.alias = "vpc",
	.ext = ".vhd",
	.summary = "Microsoft Virtual Hard Disk (Hyper-V, Azure, VirtualBox)",
	.opts = (const struct opt_spec[]){
		{ "subformat", "fixed|dynamic (default fixed; Azure takes fixed only)" },
		{ "block_size", "512K|2M (dynamic only; default 2M)" },
		{ "uuid", "UUID (default derived from the content)" },
		{ NULL, NULL } },
	.probe = vhd_probe,
	.probes_tail = true,
	.open = vhd_open,
	.write = vhd_write,
};
