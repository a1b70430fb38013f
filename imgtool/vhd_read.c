/* vhd_read.c - reading VHD images (see vhd.h): finding the footer (at the end, or its
 * copy at byte 0 of a dynamic disk), the dynamic header and the BAT; reads, the
 * allocation status, info, probing, and the format's entry in the table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "ident.h"
#include "report.h"
#include "vhd.h"

/* The ones' complement of the byte sum, with the 4-byte checksum field at at as 0. */
uint32_t vhd_checksum(const void *p, size_t len, size_t at)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i < at || i >= at + 4)
			sum += b[i];
	return ~sum;
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

/* The first sector from s (< limit) whose bit differs from s's, or limit. */
uint64_t vhd_bit_run_end(const struct vhd_disk *v, uint64_t s, uint64_t limit)
{
	bool want = vhd_bit_set(v->bitmap, s);
	uint8_t whole = want ? 0xFF : 0x00;

	if (v->bitmap_full)
		return limit;
	for (s++; s < limit; s++) {
		if (s % 8 == 0 && limit - s >= 8 && v->bitmap[s / 8] == whole) {
			s += 7;
			continue;
		}
		if (vhd_bit_set(v->bitmap, s) != want)
			return s;
	}
	return limit;
}

int vhd_load_bitmap(struct vhd_disk *v, uint64_t block, struct msg *m)
{
	if (v->cached == block)
		return 0;
	v->cached = UINT64_MAX;
	if (infile_read(&v->d.file, v->bitmap, v->bitmap_size, vhd_block_offset(v, block),
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
			uint64_t data = vhd_block_offset(v, block) + v->bitmap_size;

			if (vhd_load_bitmap(v, block, m) < 0)
				return -1;
			for (uint64_t at = in; at < in + n;) {
				uint64_t s = at / SECTOR, last = (in + n + SECTOR - 1) / SECTOR;
				uint64_t end = vhd_bit_run_end(v, s, last) * SECTOR;
				size_t k;

				if (end > in + n)
					end = in + n;
				k = (size_t)(end - at);
				if (!vhd_bit_set(v->bitmap, s))
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

		if (vhd_load_bitmap(v, block, m) < 0)
			return -1;
		*stored = vhd_bit_set(v->bitmap, s);
		end = base + vhd_bit_run_end(v, s, v->block_size / SECTOR) * SECTOR;
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
	v->bitmap_size = vhd_bitmap_bytes(v->block_size);
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
