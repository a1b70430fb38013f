/* vdi_read.c - reading VDI images (see vdi.h): the header and block map, each checked
 * against the file on opening; reads, the allocation status, info, probing, and the
 * format's entry in the table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "ident.h"
#include "report.h"
#include "vdi.h"

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
