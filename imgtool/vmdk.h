/* vmdk.h - VMware virtual disks: monolithicFlat, monolithicSparse and streamOptimized;
 * what the descriptor, the reader, the checker and the writer share.
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
 *
 * vmdk_desc.c parses and writes descriptors, vmdk_read.c opens and reads, vmdk_check.c
 * checks what the reader opened, vmdk_write.c writes the three layouts.
 */
#ifndef IMGTOOL_VMDK_H
#define IMGTOOL_VMDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "disk.h"
#include "format.h"
#include "util.h"

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

/* "KDMV" at H_MAGIC, and "\n \r\n" at H_NEWLINES (no terminating zeros). */
extern const char vmdk_magic[4], vmdk_newlines[4];

#define FLAG_NEWLINE	(1u << 0)	/* H_NEWLINES holds vmdk_newlines */
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

uint64_t vmdk_div_up(uint64_t a, uint64_t b);
/* The file name in path: what follows its last '/'. */
const char *vmdk_base_name(const char *path);

/* "PATH is not a usable VMDK image: WHY" */
int vmdk_unusable(struct msg *m, const char *path, const char *fmt, ...) PRINTF_LIKE(3, 4);

struct header {
	uint32_t version, flags, gtes;
	uint64_t capacity, grain, desc_offset, desc_size, rgd, gd, overhead;
	uint16_t compression;
};

void vmdk_header_get(const unsigned char *b, struct header *h);

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

/* Read the lines of a descriptor at path into d; on failure m says why. */
int vmdk_parse_descriptor(const char *text, size_t len, const char *path, struct desc *d,
			  struct msg *m);
void vmdk_desc_free(struct desc *d);

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

/* The descriptor for w in buf, as snprintf: the length it needs, or < 0. */
int vmdk_descriptor_text(char *buf, size_t size, const struct wdesc *w);

/* --- reading ------------------------------------------------------------------------- */

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
size_t vmdk_zbound(uint64_t grain_bytes);
/* Whether a grain table entry points at stored data: not 0, and not 1 when
 * FLAG_ZERO_GTE makes 1 a grain of zeros. */
bool vmdk_entry_stored(const struct sparse *sp, uint32_t entry);
/* The first sparse extent of v, or NULL. */
const struct sparse *vmdk_first_sparse(const struct vmdk *v);

void vmdk_check(struct disk *d, struct faults *f);
int vmdk_write(struct disk *src, const char *path, const struct opts *o, struct msg *m);

#endif
