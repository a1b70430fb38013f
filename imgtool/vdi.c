/* vdi.c - VirtualBox disk images (VDI 1.1), dynamic and fixed.
 *
 * Layout (little-endian), as VirtualBox's VDICore.h draws it: a 72-byte pre-header
 * (64 bytes of text, the signature 0xBEDA107F, the version 0x00010001), then the
 * version 1.1+ header of cbHeader bytes (400 with the LCHS geometry, 384 without),
 * the block map (one u32 per block: 0xFFFFFFFF free, 0xFFFFFFFE zero, else the
 * index of the block's data), and the data area: the data of index i is the
 * block-size bytes at data offset + i * block size.
 *
 * What the readers demand: QEMU 7.2 takes only 1 MiB blocks, 512-byte sectors, map
 * and data offsets that are multiples of 512, and null link and parent UUIDs;
 * `qemu-img check` counts the allocated blocks against the header. VirtualBox wants
 * the map at or after the header, the data after the map, non-null create and modify
 * UUIDs, and map entries below the allocated count (it appends new blocks there).
 *
 * Writing: the header at 0 (400 bytes, padded to 512), the map at 512, the data at
 * the next 512-byte boundary after the map, or at the next 1 MiB boundary for disks
 * of 1 GiB and more, so that every 1 MiB block lies on a 1 MiB boundary of the host
 * file, as VirtualBox's own images do (the gap is a hole). The 1 MiB boot disk is
 * 1024 + 1 MiB = 1,049,600 bytes, dynamic or fixed. The map is written as the stream
 * passes it, so memory stays bounded for any disk size; the header, which holds the
 * UUIDs derived from the content, is written last.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "format.h"
#include "ident.h"
#include "output.h"
#include "report.h"

/* --- the header: byte offsets of the pre-header and the 1.1+ header ------------------ */

enum {
	VDI_TEXT = 0x00,		/* 64 bytes, informational */
	VDI_SIGNATURE = 0x40,
	VDI_VERSION = 0x44,
	VDI_HEADER_SIZE = 0x48,		/* bytes of header after the 72-byte pre-header */
	VDI_TYPE = 0x4C,
	VDI_FLAGS = 0x50,
	VDI_COMMENT = 0x54,		/* 256 bytes */
	VDI_MAP_OFFSET = 0x154,
	VDI_DATA_OFFSET = 0x158,
	VDI_LEGACY_CHS = 0x15C,		/* cylinders, heads, sectors, sector size: u32 each */
	VDI_SECTOR_SIZE = 0x168,	/* the legacy geometry's sector size */
	VDI_DISK_SIZE = 0x170,		/* u64 */
	VDI_BLOCK_SIZE = 0x178,
	VDI_BLOCK_EXTRA = 0x17C,	/* bytes of private data before each block */
	VDI_BLOCKS = 0x180,
	VDI_ALLOCATED = 0x184,
	VDI_UUID_CREATE = 0x188,	/* 16 bytes each, Microsoft GUID byte order */
	VDI_UUID_MODIFY = 0x198,
	VDI_UUID_LINK = 0x1A8,
	VDI_UUID_PARENT = 0x1B8,
	VDI_LCHS = 0x1C8,		/* as the legacy geometry; 400-byte header only */
	VDI_HEADER_END = 0x1D8,
};

#define VDI_PREHEADER 72u
#define VDI_HEADER_V1 384u		/* the 1.1 header without the LCHS geometry */
#define VDI_HEADER_V1PLUS 400u		/* with it */
_Static_assert(VDI_PREHEADER + VDI_HEADER_V1 == VDI_LCHS, "the 1.1 header ends at LCHS");
_Static_assert(VDI_PREHEADER + VDI_HEADER_V1PLUS == VDI_HEADER_END, "1.1+ header size");

#define VDI_MAGIC 0xBEDA107Fu
#define VDI_VERSION_1_1 0x00010001u
#define VDI_TYPE_DYNAMIC 1u		/* VirtualBox's "normal" */
#define VDI_TYPE_FIXED 2u
#define VDI_TYPE_UNDO 3u
#define VDI_TYPE_DIFF 4u
#define VDI_FLAG_ZERO_EXPAND 0x100u	/* the one flag VirtualBox defines */

#define VDI_FREE 0xFFFFFFFFu		/* never written: reads as zeros */
#define VDI_ZERO 0xFFFFFFFEu		/* discarded: reads as zeros */
#define VDI_IS_DATA(e) ((e) < VDI_ZERO)

#define VDI_BLOCK (1u << 20)		/* the only block size QEMU reads */
#define VDI_MAP_AT 512u
/* Disks this large get their data 1 MiB-aligned in the file. */
#define VDI_ALIGN_FROM (1ull << 30)

/* The most blocks whose map still lets the data offset, 1 MiB-aligned, fit its 32
 * bits: 512 + 4 * blocks <= 0xFFF00000. */
#define VDI_MAX_BLOCKS ((0xFFF00000u - VDI_MAP_AT) / 4)

static const char vdi_text[] = "<<< Oracle VM VirtualBox Disk Image >>>\n";

/* --- reading -------------------------------------------------------------------------- */

struct vdi_disk {
	struct disk d;
	uint32_t *map;			/* host byte order */
	uint32_t blocks, allocated, block_size, type, flags, header_size, version;
	uint32_t map_off, data_off;
	uint64_t disk_size;		/* as the header says, before rounding to a sector */
	uint32_t legacy[3], lchs[3];	/* cylinders, heads, sectors */
	struct uuid create, modify, link, parent;
};

static int vdi_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	struct vdi_disk *v = (struct vdi_disk *)d;
	unsigned char *out = buf;

	while (len) {
		uint64_t block = off / v->block_size, in = off % v->block_size;
		size_t n = len < v->block_size - in ? len : (size_t)(v->block_size - in);
		uint32_t e = v->map[block];
		uint64_t at = v->data_off + (uint64_t)e * v->block_size + in;

		if (!VDI_IS_DATA(e))
			memset(out, 0, n);
		else if (infile_read(&d->file, out, n, at, "a data block", m) < 0)
			return -1;
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* A run of blocks that all hold data, or all do not. */
static int vdi_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		      struct msg *m)
{
	struct vdi_disk *v = (struct vdi_disk *)d;
	uint64_t block = off / v->block_size, end;

	(void)m;
	*stored = VDI_IS_DATA(v->map[block]);
	while (++block < v->blocks && VDI_IS_DATA(v->map[block]) == *stored)
		;
	end = block * v->block_size;
	*run = (end < d->size ? end : d->size) - off;
	return 0;
}

static const char *vdi_type_name(uint32_t type)
{
	return type == VDI_TYPE_FIXED ? "fixed" : "dynamic";
}

static void vdi_geometry(struct info *i, const char *key, const uint32_t chs[3])
{
	if (chs[0] == 0 && chs[1] == 0 && chs[2] == 0)
		info_str(i, key, "not set");
	else
		info_str(i, key, "%u/%u/%u", chs[0], chs[1], chs[2]);
}

static void vdi_info(struct disk *d, struct info *i)
{
	struct vdi_disk *v = (struct vdi_disk *)d;
	char text[37];

	info_str(i, "subformat", "%s", vdi_type_name(v->type));
	info_str(i, "header version", "%u.%u", v->version >> 16, v->version & 0xFFFF);
	info_num(i, "header size", v->header_size);
	uuid_format(&v->create, text);
	info_str(i, "create uuid", "%s", text);
	uuid_format(&v->modify, text);
	info_str(i, "modify uuid", "%s", text);
	info_num(i, "block size", v->block_size);
	info_num(i, "blocks", v->blocks);
	info_num(i, "blocks allocated", v->allocated);
	info_num(i, "block map offset", v->map_off);
	info_num(i, "data offset", v->data_off);
	vdi_geometry(i, "legacy geometry", v->legacy);
	if (v->header_size >= VDI_HEADER_V1PLUS)
		vdi_geometry(i, "lchs geometry", v->lchs);
}

/* Shared data blocks named one by one; a map that is all duplicates would otherwise
 * make a sentence per entry. */
#define VDI_SHARED_SHOWN 10u

/* Faults beyond what opening refuses: what QEMU or VirtualBox would reject or
 * misread, and counts that disagree. */
static void vdi_check(struct disk *d, struct faults *f)
{
	struct vdi_disk *v = (struct vdi_disk *)d;
	const char *path = d->file.path;
	uint64_t map_end = v->map_off + 4ull * v->blocks;
	uint64_t need = (v->disk_size + v->block_size - 1) / v->block_size;
	uint32_t *owner, used = 0, shared = 0;

	if (v->data_off < map_end)
		fault(f, "%s: the data area (offset %u) starts inside the block map, which ends "
		      "at %llu; VirtualBox refuses such an image.", path, v->data_off,
		      (unsigned long long)map_end);
	if (v->map_off % SECTOR || v->data_off % SECTOR)
		fault(f, "%s: the block map (offset %u) or the data area (offset %u) does not "
		      "start on a 512-byte boundary; QEMU refuses such an image.", path,
		      v->map_off, v->data_off);
	if (v->block_size != VDI_BLOCK)
		fault(f, "%s: its blocks are %u bytes; QEMU reads only 1 MiB blocks.", path,
		      v->block_size);
	if (v->disk_size % SECTOR)
		fault(f, "%s: its disk size %llu is not a whole number of 512-byte sectors.",
		      path, (unsigned long long)v->disk_size);
	if (v->blocks != need)
		fault(f, "%s: the header counts %u blocks, but a disk of %llu bytes needs "
		      "%llu.", path, v->blocks, (unsigned long long)v->disk_size,
		      (unsigned long long)need);
	if (v->flags & ~VDI_FLAG_ZERO_EXPAND)
		fault(f, "%s: its flags 0x%08x include ones VirtualBox does not define; it "
		      "refuses such an image.", path, v->flags);
	if (uuid_is_null(&v->create))
		fault(f, "%s: its create UUID is null; VirtualBox refuses such an image.", path);
	if (uuid_is_null(&v->modify))
		fault(f, "%s: its modify UUID is null; VirtualBox refuses such an image.", path);
	if (!uuid_is_null(&v->link))
		fault(f, "%s: its link UUID is not null, but it is not a differencing image.",
		      path);
	if (!uuid_is_null(&v->parent))
		fault(f, "%s: its parent UUID is not null, but it is not a differencing image.",
		      path);

	/* Which block owns each data index; opening made every index < allocated. */
	owner = malloc((v->allocated ? v->allocated : 1) * sizeof *owner);
	if (!owner) {
		fault(f, "%s: out of memory checking its block map.", path);
		return;
	}
	memset(owner, 0xFF, (v->allocated ? v->allocated : 1) * sizeof *owner);
	for (uint32_t b = 0; b < v->blocks; b++) {
		uint32_t e = v->map[b];

		if (!VDI_IS_DATA(e))
			continue;
		used++;
		if (owner[e] == VDI_FREE)
			owner[e] = b;
		else if (shared++ < VDI_SHARED_SHOWN)
			fault(f, "%s: blocks %u and %u both use data block %u.", path,
			      owner[e], b, e);
	}
	free(owner);
	if (shared > VDI_SHARED_SHOWN)
		fault(f, "%s: %u more blocks use a data block that another block uses.", path,
		      shared - VDI_SHARED_SHOWN);
	if (used != v->allocated)
		fault(f, "%s: the header counts %u allocated blocks, but the block map uses %u.",
		      path, v->allocated, used);
}

static void vdi_release(struct disk *d)
{
	free(((struct vdi_disk *)d)->map);
}

static void get_chs(const unsigned char *h, size_t at, uint32_t chs[3])
{
	for (int k = 0; k < 3; k++)
		chs[k] = get_le32(h + at + 4 * k);
}

/* The header's facts, checked so that every read and every status stays inside the
 * map and the file. */
static int vdi_parse_header(struct vdi_disk *v, const unsigned char *h, struct msg *m)
{
	const char *path = v->d.file.path;
	uint64_t file_size = v->d.file.size, map_end, room;

	v->version = get_le32(h + VDI_VERSION);
	v->header_size = get_le32(h + VDI_HEADER_SIZE);
	v->type = get_le32(h + VDI_TYPE);
	v->flags = get_le32(h + VDI_FLAGS);
	v->map_off = get_le32(h + VDI_MAP_OFFSET);
	v->data_off = get_le32(h + VDI_DATA_OFFSET);
	get_chs(h, VDI_LEGACY_CHS, v->legacy);
	v->disk_size = get_le64(h + VDI_DISK_SIZE);
	v->block_size = get_le32(h + VDI_BLOCK_SIZE);
	v->blocks = get_le32(h + VDI_BLOCKS);
	v->allocated = get_le32(h + VDI_ALLOCATED);
	v->create = uuid_from_guid(h + VDI_UUID_CREATE);
	v->modify = uuid_from_guid(h + VDI_UUID_MODIFY);
	v->link = uuid_from_guid(h + VDI_UUID_LINK);
	v->parent = uuid_from_guid(h + VDI_UUID_PARENT);
	if (v->header_size >= VDI_HEADER_V1PLUS)
		get_chs(h, VDI_LCHS, v->lchs);

	if (v->version >> 16 != 1)
		return fail(m, "%s is not a usable VDI image: its header version %u.%u is not "
			    "supported; only version 1 headers are.", path, v->version >> 16,
			    v->version & 0xFFFF);
	if (v->header_size < VDI_HEADER_V1)
		return fail(m, "%s is not a usable VDI image: its header size %u is less than "
			    "the %u bytes of a version 1.1 header.", path, v->header_size,
			    VDI_HEADER_V1);
	if (v->type == VDI_TYPE_UNDO || v->type == VDI_TYPE_DIFF)
		return fail(m, "%s is %s vdi image, which holds only changes to another "
			    "image; imgtool reads only dynamic and fixed images.", path,
			    v->type == VDI_TYPE_UNDO ? "an undo" : "a differencing");
	if (v->type != VDI_TYPE_DYNAMIC && v->type != VDI_TYPE_FIXED)
		return fail(m, "%s is not a usable VDI image: its image type %u is none of 1 "
			    "(dynamic), 2 (fixed), 3 (undo) and 4 (differencing).", path,
			    v->type);
	if (get_le32(h + VDI_SECTOR_SIZE) != SECTOR)
		return fail(m, "%s is not a usable VDI image: its sector size is %u, not 512.",
			    path, get_le32(h + VDI_SECTOR_SIZE));
	if (v->block_size < SECTOR || (v->block_size & (v->block_size - 1)))
		return fail(m, "%s is not a usable VDI image: its block size %u is not a power "
			    "of two of at least 512.", path, v->block_size);
	if (get_le32(h + VDI_BLOCK_EXTRA) != 0)
		return fail(m, "%s is not a usable VDI image: it keeps %u bytes of extra data "
			    "per block, which is not supported.", path,
			    get_le32(h + VDI_BLOCK_EXTRA));
	if (v->disk_size == 0)
		return fail(m, "%s is not a usable VDI image: its disk size is 0.", path);
	room = (uint64_t)v->blocks * v->block_size;
	if (v->disk_size > room)
		return fail(m, "%s is not a usable VDI image: its disk size %llu is more than "
			    "its %u blocks of %u bytes hold.", path,
			    (unsigned long long)v->disk_size, v->blocks, v->block_size);
	if (v->allocated > v->blocks)
		return fail(m, "%s is not a usable VDI image: it counts %u allocated blocks of "
			    "only %u.", path, v->allocated, v->blocks);
	if ((uint64_t)v->map_off < (uint64_t)VDI_PREHEADER + v->header_size)
		return fail(m, "%s is not a usable VDI image: its block map (offset %u) starts "
			    "inside the header.", path, v->map_off);
	map_end = v->map_off + 4ull * v->blocks;
	if (map_end > file_size)
		return fail(m, "%s is not a usable VDI image: its block map (offset %u, %u "
			    "entries) runs past the end of the file (%llu bytes).", path,
			    v->map_off, v->blocks, (unsigned long long)file_size);
	if (v->data_off < v->map_off || v->data_off > file_size)
		return fail(m, "%s is not a usable VDI image: its data area (offset %u) is not "
			    "between the block map (offset %u) and the end of the file (%llu "
			    "bytes).", path, v->data_off, v->map_off,
			    (unsigned long long)file_size);
	/* Rounded up as QEMU does: the block holds the sector's rest. */
	v->d.size = (v->disk_size + SECTOR - 1) / SECTOR * SECTOR;
	return 0;
}

/* Every entry names data inside the allocated count and inside the file. */
static int vdi_check_map(struct vdi_disk *v, struct msg *m)
{
	const char *path = v->d.file.path;

	for (uint32_t b = 0; b < v->blocks; b++) {
		uint32_t e = v->map[b];

		if (!VDI_IS_DATA(e))
			continue;
		if (e >= v->allocated)
			return fail(m, "%s is not a usable VDI image: block %u's map entry %u "
				    "is not below the allocated count %u.", path, b, e,
				    v->allocated);
		uint64_t at = v->data_off + (uint64_t)e * v->block_size;

		if (at + v->block_size > v->d.file.size)
			return fail(m, "%s is not a usable VDI image: block %u's data (offset "
				    "%llu) runs past the end of the file (%llu bytes).", path,
				    b, (unsigned long long)at,
				    (unsigned long long)v->d.file.size);
	}
	return 0;
}

static int vdi_open(struct infile *f, struct disk **d, struct msg *m)
{
	unsigned char h[VDI_HEADER_END] = { 0 };
	struct vdi_disk *v;
	unsigned char *raw;
	size_t want;

	*d = NULL;
	v = calloc(1, sizeof *v);
	if (!v) {
		int rc = fail_errno(m, "cannot open %s", f->path);

		infile_close(f);
		return rc;
	}
	v->d.fmt = &fmt_vdi;
	v->d.file = *f;
	v->d.read = vdi_read;
	v->d.status = vdi_status;
	v->d.info = vdi_info;
	v->d.check = vdi_check;
	v->d.release = vdi_release;
	*d = &v->d;

	/* The 1.1 header first; its size field says whether the LCHS geometry follows. */
	if (infile_read(f, h, VDI_LCHS, 0, "the header", m) < 0)
		goto bad;
	if (get_le32(h + VDI_SIGNATURE) != VDI_MAGIC) {
		fail(m, "%s is not a usable VDI image: its signature is 0x%08x, not 0x%08x.",
		     f->path, get_le32(h + VDI_SIGNATURE), VDI_MAGIC);
		goto bad;
	}
	if (get_le32(h + VDI_HEADER_SIZE) >= VDI_HEADER_V1PLUS &&
	    infile_read(f, h + VDI_LCHS, VDI_HEADER_END - VDI_LCHS, VDI_LCHS, "the header",
			m) < 0)
		goto bad;
	if (vdi_parse_header(v, h, m) < 0)
		goto bad;

	/* The map is inside the file (checked above), so the file bounds this. */
	want = (size_t)v->blocks * 4;
	v->map = malloc(want ? want : 1);
	raw = (unsigned char *)v->map;
	if (!v->map) {
		fail_errno(m, "cannot hold the block map of %s", f->path);
		goto bad;
	}
	if (infile_read(f, raw, want, v->map_off, "the block map", m) < 0)
		goto bad;
	for (uint32_t b = 0; b < v->blocks; b++)
		v->map[b] = get_le32(raw + 4 * (size_t)b);
	if (vdi_check_map(v, m) < 0)
		goto bad;
	return 0;
bad:
	disk_close(&v->d);
	*d = NULL;
	return -1;
}

static bool vdi_probe(const struct infile *f, const unsigned char *head, size_t n)
{
	(void)f;
	/* The signature alone, as QEMU probes: a damaged header is then an error that
	 * says so, never a silent read as raw. */
	return n >= VDI_SIGNATURE + 4 && get_le32(head + VDI_SIGNATURE) == VDI_MAGIC;
}

/* --- writing -------------------------------------------------------------------------- */

/* Map entries held at once: the map goes out in pieces of this many as the stream
 * passes them, so a map of any size costs 32 KiB. */
#define MAP_CHUNK 8192u

struct vdi_writer {
	struct outfile *out;
	bool fixed;
	uint32_t blocks;
	uint32_t allocated;
	uint64_t data_off;
	uint32_t chunk_first;		/* the block of the chunk's first entry */
	unsigned char chunk[MAP_CHUNK * 4];
};

/* Fresh entries for the chunk at first: fixed maps block i to data i; dynamic
 * blocks are free until data arrives. */
static void chunk_start(struct vdi_writer *w, uint32_t first)
{
	w->chunk_first = first;
	for (uint32_t k = 0; k < MAP_CHUNK; k++)
		put_le32(w->chunk + 4 * k, w->fixed ? first + k : VDI_FREE);
}

/* Write the chunk's entries that exist and start the next chunk. */
static int chunk_flush(struct vdi_writer *w, struct msg *m)
{
	uint32_t n = w->blocks - w->chunk_first < MAP_CHUNK ? w->blocks - w->chunk_first
							     : MAP_CHUNK;

	if (out_write(w->out, w->chunk, (size_t)n * 4, VDI_MAP_AT + 4ull * w->chunk_first,
		      m) < 0)
		return -1;
	chunk_start(w, w->chunk_first + n);
	return 0;
}

static int vdi_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		    struct msg *m)
{
	struct vdi_writer *w = ctx;
	uint32_t block = (uint32_t)(off / VDI_BLOCK), index;

	while (block - w->chunk_first >= MAP_CHUNK)
		if (chunk_flush(w, m) < 0)
			return -1;
	if (w->fixed) {
		index = block;
	} else {
		index = w->allocated++;
		put_le32(w->chunk + 4 * (block - w->chunk_first), index);
	}
	return out_write(w->out, data, len, w->data_off + (uint64_t)index * VDI_BLOCK, m);
}

static void put_chs_unset(unsigned char *h, size_t at)
{
	/* Cylinders, heads and sectors 0: "not calculated", as VirtualBox writes them,
	 * so the emulator derives its own; CHS cannot say 1 MiB exactly anyway. */
	put_le32(h + at + 12, SECTOR);
}

static void vdi_header(unsigned char h[SECTOR], const struct vdi_writer *w, uint64_t size,
		       const struct uuid *create, const struct uuid *modify)
{
	memset(h, 0, SECTOR);
	memcpy(h + VDI_TEXT, vdi_text, sizeof vdi_text - 1);
	put_le32(h + VDI_SIGNATURE, VDI_MAGIC);
	put_le32(h + VDI_VERSION, VDI_VERSION_1_1);
	put_le32(h + VDI_HEADER_SIZE, VDI_HEADER_V1PLUS);
	put_le32(h + VDI_TYPE, w->fixed ? VDI_TYPE_FIXED : VDI_TYPE_DYNAMIC);
	put_le32(h + VDI_MAP_OFFSET, VDI_MAP_AT);
	put_le32(h + VDI_DATA_OFFSET, (uint32_t)w->data_off);
	put_chs_unset(h, VDI_LEGACY_CHS);
	put_le64(h + VDI_DISK_SIZE, size);
	put_le32(h + VDI_BLOCK_SIZE, VDI_BLOCK);
	put_le32(h + VDI_BLOCKS, w->blocks);
	put_le32(h + VDI_ALLOCATED, w->fixed ? w->blocks : w->allocated);
	uuid_to_guid(create, h + VDI_UUID_CREATE);
	uuid_to_guid(modify, h + VDI_UUID_MODIFY);
	put_chs_unset(h, VDI_LCHS);
}

static int vdi_write(struct disk *src, const char *path, const struct opts *o,
		     struct msg *m)
{
	static const char *const kinds[] = { "dynamic", "fixed", NULL };
	struct output out = { .n = 0 };
	struct vdi_writer *w;
	struct digest sum = { { 0, 0 } };
	struct uuid create, modify;
	unsigned char h[SECTOR];
	uint64_t blocks = src->size / VDI_BLOCK + (src->size % VDI_BLOCK != 0), data_off;
	size_t kind;
	int rc = -1;

	/* Every option is checked before the first byte is read. */
	if (opt_choice(o, "subformat", kinds, 0, &kind, m) < 0 ||
	    uuid_option(o, &sum, "vdi", "create", &create, m) < 0)
		return -1;
	if (blocks > VDI_MAX_BLOCKS)
		return fail(m, "cannot write %s: the disk is %llu bytes, more than the %u MiB "
			    "a vdi image can describe.", path, (unsigned long long)src->size,
			    VDI_MAX_BLOCKS);
	data_off = (VDI_MAP_AT + 4 * blocks + SECTOR - 1) / SECTOR * SECTOR;
	if (src->size >= VDI_ALIGN_FROM)
		data_off = (data_off + VDI_BLOCK - 1) / VDI_BLOCK * VDI_BLOCK;

	w = malloc(sizeof *w);
	if (!w)
		return fail_errno(m, "cannot write %s", path);
	w->fixed = kind == 1;
	w->blocks = (uint32_t)blocks;
	w->allocated = 0;
	w->data_off = data_off;
	chunk_start(w, 0);

	if (output_add(&out, path, &w->out, m) < 0 ||
	    disk_each_data(src, VDI_BLOCK, vdi_unit, w, &sum, m) < 0)
		goto out;
	while (w->chunk_first < w->blocks)
		if (chunk_flush(w, m) < 0)
			goto out;
	if (uuid_option(o, &sum, "vdi", "create", &create, m) < 0)
		goto out;
	modify = uuid_derive(&sum, "vdi", "modify");
	vdi_header(h, w, src->size, &create, &modify);
	if (out_write(w->out, h, sizeof h, 0, m) < 0 ||
	    out_set_size(w->out, data_off + (uint64_t)(w->fixed ? w->blocks : w->allocated) *
				 VDI_BLOCK, m) < 0 ||
	    output_commit(&out, m) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		output_discard(&out);
	free(w);
	return rc;
}

const struct format fmt_vdi = {
	.name = "vdi",
	.ext = ".vdi",
	.summary = "VirtualBox disk image, 1 MiB blocks (dynamic: only blocks holding data)",
	.opts = (const struct opt_spec[]){
		{ "subformat", "dynamic|fixed (default dynamic)" },
		{ "uuid", "UUID (the create UUID; default derived from the content)" },
		{ NULL, NULL },
	},
	.probe = vdi_probe,
	.open = vdi_open,
	.write = vdi_write,
};
