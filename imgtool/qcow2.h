/* qcow2.h - what the qcow2 reader (qcow2_read.c), checker (qcow2_check.c) and writer
 * (qcow2_write.c) share: the layout after QEMU's docs/interop/qcow2.txt ("the spec"),
 * and the reader's state. All numbers are big-endian. The file is a run of clusters;
 * the header is cluster 0, two-level tables map guest clusters to host clusters
 * (L1 -> L2 -> data), and two-level tables count the references to every host cluster
 * (refcount table -> refcount blocks).
 */
#ifndef IMGTOOL_QCOW2_H
#define IMGTOOL_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include <zstd.h>

#include "disk.h"
#include "format.h"
#include "util.h"

/* --- the layout (spec "Header", "Host cluster management", "Cluster mapping") -------- */

/* The header as the spec draws it; version 2 ends after snapshots_offset (72 bytes). */
struct qcow2_header {
	uint8_t magic[4];			/* "QFI\xfb" */
	uint8_t version[4];			/* 2 or 3 */
	uint8_t backing_file_offset[8];
	uint8_t backing_file_size[4];
	uint8_t cluster_bits[4];
	uint8_t size[8];			/* virtual size in bytes */
	uint8_t crypt_method[4];
	uint8_t l1_size[4];			/* entries */
	uint8_t l1_table_offset[8];
	uint8_t refcount_table_offset[8];
	uint8_t refcount_table_clusters[4];
	uint8_t nb_snapshots[4];
	uint8_t snapshots_offset[8];
	/* version 3 */
	uint8_t incompatible_features[8];
	uint8_t compatible_features[8];
	uint8_t autoclear_features[8];
	uint8_t refcount_order[4];
	uint8_t header_length[4];
};

#define QCOW2_V2_HEADER 72u
#define QCOW2_V3_HEADER 104u
#define QCOW2_ZSTD_HEADER 112u	/* with the compression type byte, padded to 8 */
_Static_assert(offsetof(struct qcow2_header, incompatible_features) == QCOW2_V2_HEADER,
	       "the version 2 header is 72 bytes");
_Static_assert(sizeof(struct qcow2_header) == QCOW2_V3_HEADER,
	       "the version 3 header is 104 bytes");

extern const unsigned char qcow2_magic[4];	/* "QFI\xfb" */

/* Incompatible feature bits. */
#define INCOMPAT_DIRTY		(1ull << 0)
#define INCOMPAT_CORRUPT	(1ull << 1)
#define INCOMPAT_DATA_FILE	(1ull << 2)
#define INCOMPAT_COMPRESSION	(1ull << 3)
#define INCOMPAT_EXTENDED_L2	(1ull << 4)
#define INCOMPAT_KNOWN		0x1Full

/* Compression types (the header's byte 104, version 3 with the compression feature). */
#define QCOW2_ZLIB		0u
#define QCOW2_ZSTD		1u

/* Header extension types (spec "Header extensions"). */
#define EXT_END			0x00000000u
#define EXT_BACKING_FORMAT	0xE2792ACAu
#define EXT_BITMAPS		0x23852875u

/* QEMU's limits on a backing file's name and on its format's name (with its NUL). */
#define MAX_BACKING_NAME	1023u
#define MAX_BACKING_FORMAT	16u

/* L1, L2 and refcount table entries. */
#define ENTRY_OFFSET	0x00FFFFFFFFFFFE00ull	/* bits 9..55: a host offset */
#define OFLAG_COPIED	(1ull << 63)		/* the refcount is exactly 1 */
#define OFLAG_COMPRESSED (1ull << 62)
#define OFLAG_ZERO	(1ull << 0)		/* version 3: the cluster reads as zeros */
#define L1E_RESERVED	(~(ENTRY_OFFSET | OFLAG_COPIED))
#define L2E_RESERVED	(~(ENTRY_OFFSET | OFLAG_COPIED | OFLAG_COMPRESSED | OFLAG_ZERO))
#define REFT_RESERVED	0x1FFull

/* QEMU's implementation limits: an image beyond them does not open in QEMU. */
#define MAX_L1_BYTES		(32u << 20)
#define MAX_REFT_BYTES		(8u << 20)
#define MAX_SNAPSHOTS		65536u
#define MAX_BITMAP_DIR		(64u << 20)
#define MIN_CLUSTER_BITS	9u
#define MAX_CLUSTER_BITS	21u
#define DEFAULT_CLUSTER		(64u << 10)	/* as qemu-img */

/* The spec's snapshot table entry and bitmap directory entry, fixed parts. */
#define SNAPSHOT_ENTRY	40u
#define BITMAP_ENTRY	24u

static inline uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static inline unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

/* --- the reader's state ------------------------------------------------------------ */

struct q2 {
	struct disk d;
	unsigned version, cbits, refcount_order;
	uint32_t header_length, reft_clusters, nb_snapshots;
	uint64_t cs, l2_entries, l1_size, l1_at, reft_at, snapshots_at;
	uint64_t incompat, compat, autoclear;
	bool has_bitmaps;
	uint32_t nb_bitmaps;
	uint64_t bitmap_dir_at, bitmap_dir_size;
	uint64_t *l1;			/* the active L1 table, host order */
	unsigned char *l2;		/* one L2 table, cached */
	uint64_t l2_at;			/* its offset; 0 = none */
	struct l2_sum *sums;		/* per cluster of the file, for the L2 tables there */
	uint8_t compression;		/* the header's compression type: QCOW2_ZLIB, QCOW2_ZSTD */
	z_stream z;
	bool z_ready;
	ZSTD_DCtx *zstd;		/* made when the first zstd cluster is read */
	unsigned char *zin, *zout;	/* compressed bytes; the cluster they inflate to */
	uint64_t zout_entry;		/* the L2 entry zout holds; 0 = none */
	char *backing_name;		/* as the header records it, or NULL */
	char backing_fmt[MAX_BACKING_FORMAT];	/* from its extension, or "" */
	struct disk *backing;		/* what unallocated clusters read, or NULL */
};

enum kind { K_UNALLOCATED, K_ZERO, K_DATA, K_COMPRESSED };

/* What one L2 table maps, counted once per table: status() skips tables that are all
 * stored or all unstored, and info() adds the counts, so neither walks every entry
 * of a table that many L1 entries name. */
struct l2_sum {
	uint32_t known;			/* 1 once counted */
	uint32_t stored, compressed;
};


/* "PATH is not a usable qcow2 image: ..." into m; returns -1. */
int qcow2_bad(const struct q2 *q, struct msg *m, const char *fmt, ...) PRINTF_LIKE(3, 4);

static inline bool in_file(const struct q2 *q, uint64_t off, uint64_t len)
{
	return off <= q->d.file.size && len <= q->d.file.size - off;
}

/* Where the compressed data of L2 entry e lies (spec "Compressed Clusters Descriptor"). */
void qcow2_compressed_extent(const struct q2 *q, uint64_t e, uint64_t *at, uint64_t *len);
/* Structure faults of q into f, then every stored byte read (qcow2_check.c). */
void qcow2_check(struct disk *d, struct faults *f);
/* Write src as a qcow2 image (qcow2_write.c). */
int qcow2_write(struct disk *src, const char *path, const struct opts *o, struct msg *m);

#endif
