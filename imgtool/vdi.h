/* vdi.h - VirtualBox disk images (VDI 1.1), dynamic and fixed: what the reader, the
 * checker and the writer share.
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
 * vdi_read.c opens, probes and reads (and holds the format's entry in the table),
 * vdi_check.c checks what the reader opened, vdi_write.c writes dynamic and fixed
 * images.
 */
#ifndef IMGTOOL_VDI_H
#define IMGTOOL_VDI_H

#include <stdint.h>

#include "disk.h"
#include "format.h"
#include "ident.h"

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

/* What the reader found; the checker looks at it again. */
struct vdi_disk {
	struct disk d;
	uint32_t *map;			/* host byte order */
	uint32_t blocks, allocated, block_size, type, flags, header_size, version;
	uint32_t map_off, data_off;
	uint64_t disk_size;		/* as the header says, before rounding to a sector */
	uint32_t legacy[3], lchs[3];	/* cylinders, heads, sectors */
	struct uuid create, modify, link, parent;
};

/* Faults beyond what opening refuses (vdi_check.c). */
void vdi_check(struct disk *d, struct faults *f);
/* Write src as a dynamic or fixed VDI (vdi_write.c). */
int vdi_write(struct disk *src, const char *path, const struct opts *o, struct msg *m);

#endif
