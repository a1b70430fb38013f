/* vhd_write.c - writing VHD images (see vhd.h), fixed or dynamic (-o subformat=), with
 * 512 KiB or 2 MiB blocks (-o block_size=), in one pass over the source.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "ident.h"
#include "output.h"
#include "vhd.h"

/* The creator. QEMU takes a disk's size from its CHS geometry, which cannot express
 * most sizes (1 MiB reads as 1,044,480 bytes), unless the creator app is one of "win ",
 * "qem2", "d2v ", "CTXS" or "tap\0"; Hyper-V, Windows and VirtualBox always use the
 * current size. "win " is what Windows and Hyper-V themselves write, so every reader
 * that tells writers apart knows it as "the size is in the footer"; "qem2" would only
 * be known to QEMU. Version 10.0 and "Wi2k" are what that writer puts beside it. */
static const char CREATOR_APP[4] = { 'w', 'i', 'n', ' ' };
#define CREATOR_VERSION 0x000A0000u
static const char CREATOR_OS[4] = { 'W', 'i', '2', 'k' };

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
	w->bitmap_size = vhd_bitmap_bytes(w->block_size);
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

int vhd_write(struct disk *src, const char *path, const struct opts *o, struct msg *m)
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
