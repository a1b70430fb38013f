/* vdi_write.c - writing VDI images (see vdi.h), dynamic or fixed (-o subformat=).
 *
 * The header at 0 (400 bytes, padded to 512), the map at 512, the data at the next
 * 512-byte boundary after the map, or at the next 1 MiB boundary for disks of 1 GiB
 * and more, so that every 1 MiB block lies on a 1 MiB boundary of the host file, as
 * VirtualBox's own images do (the gap is a hole). The 1 MiB boot disk is
 * 1024 + 1 MiB = 1,049,600 bytes, dynamic or fixed. The map is written as the stream
 * passes it, so memory stays bounded for any disk size; the header, which holds the
 * UUIDs derived from the content, is written last.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "ident.h"
#include "output.h"
#include "vdi.h"

#define VDI_MAP_AT 512u
/* Disks this large get their data 1 MiB-aligned in the file. */
#define VDI_ALIGN_FROM (1ull << 30)

/* The most blocks whose map still lets the data offset, 1 MiB-aligned, fit its 32
 * bits: 512 + 4 * blocks <= 0xFFF00000. */
#define VDI_MAX_BLOCKS ((0xFFF00000u - VDI_MAP_AT) / 4)

static const char vdi_text[] = "<<< Oracle VM VirtualBox Disk Image >>>\n";

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

int vdi_write(struct disk *src, const char *path, const struct opts *o, struct msg *m)
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
