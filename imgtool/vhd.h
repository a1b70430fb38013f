/* vhd.h - Microsoft Virtual Hard Disk (VHD) images, fixed and dynamic disks: what the
 * reader, the checker and the writer share.
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
 *
 * vhd_read.c opens, probes and reads (and holds the format's entry in the table),
 * vhd_check.c checks what the reader opened, vhd_write.c writes fixed and dynamic disks.
 */
#ifndef IMGTOOL_VHD_H
#define IMGTOOL_VHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk.h"
#include "format.h"

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

/* The bitmap in front of each block: a bit per sector, padded to whole sectors. */
static inline uint32_t vhd_bitmap_bytes(uint32_t block_size)
{
	uint32_t bits = block_size / SECTOR / 8;

	return bits ? (bits + SECTOR - 1) / SECTOR * SECTOR : SECTOR;
}

/* What the reader found; the checker looks at it again. */
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

static inline bool vhd_bit_set(const uint8_t *bitmap, uint64_t sector)
{
	return bitmap[sector / 8] >> (7 - sector % 8) & 1;	/* MSB is the first sector */
}

static inline uint64_t vhd_block_offset(const struct vhd_disk *v, uint64_t block)
{
	return (uint64_t)v->bat[block] * SECTOR;
}

/* The ones' complement of the byte sum, with the 4-byte checksum field at at as 0. */
uint32_t vhd_checksum(const void *p, size_t len, size_t at);
/* The first sector from s (< limit) whose bit differs from s's, or limit. */
uint64_t vhd_bit_run_end(const struct vhd_disk *v, uint64_t s, uint64_t limit);
/* Read the bitmap of an allocated block into v->bitmap and set bitmap_full, unless that
 * block's bitmap is cached already. */
int vhd_load_bitmap(struct vhd_disk *v, uint64_t block, struct msg *m);

/* Footer, dynamic header, overlaps and hidden data faults into f (vhd_check.c). */
void vhd_check(struct disk *d, struct faults *f);
/* Write src as a fixed or dynamic VHD (vhd_write.c). */
int vhd_write(struct disk *src, const char *path, const struct opts *o, struct msg *m);

#endif
