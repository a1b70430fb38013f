/* vhdx.h - Microsoft VHDX (Hyper-V) images: what the reader, the checker and the
 * writer share.
 *
 * The reference is Microsoft's "[MS-VHDX]: Virtual Hard Disk v2 (VHDX) File Format"
 * (v1.0 and later): "Header Section", "Log", "BAT" and "Metadata Region". Every field
 * is little-endian; GUIDs are stored in the Microsoft layout (the first three fields
 * little-endian).
 *
 *   0       file type identifier, "vhdxfile" and the creator (UTF-16)  } the header
 *   64 KiB  header 1, 128 KiB header 2 (4 KiB each, CRC-32C)           } section,
 *   192 KiB region table 1, 256 KiB region table 2 (64 KiB, CRC-32C)   } 1 MiB
 *   then, each at a MiB boundary and a whole number of MiB long: the log, the BAT,
 *   the metadata region and the payload blocks the BAT points at.
 *
 * The current header is the valid one with the higher sequence number. A LogGuid that
 * is not zero means the log holds writes not yet applied to the file.
 */
#ifndef IMGTOOL_VHDX_H
#define IMGTOOL_VHDX_H

#include <stdbool.h>
#include <stdint.h>

#include "disk.h"
#include "format.h"

#define MIB (1u << 20)
#define VHDX_SIGNATURE "vhdxfile"
#define VHDX_HEADER1 (64u << 10)
#define VHDX_HEADER2 (128u << 10)
#define VHDX_HEADER_SIZE (4u << 10)
#define VHDX_REGIONS1 (192u << 10)
#define VHDX_REGIONS2 (256u << 10)
#define VHDX_REGIONS_SIZE (64u << 10)
#define VHDX_REGIONS_MAX 2047u		/* entries a 64 KiB table holds */
#define VHDX_META_TABLE_SIZE (64u << 10)
#define VHDX_META_MAX 2047u
#define VHDX_VERSION 1
#define VHDX_MAX_SIZE (64ull << 40)	/* the spec's largest virtual disk, 64 TiB */
#define VHDX_MIN_BLOCK MIB
#define VHDX_MAX_BLOCK (256u * MIB)

/* Header fields (offsets in the 4 KiB header). */
#define H_SIGNATURE 0			/* "head" */
#define H_CHECKSUM 4
#define H_SEQUENCE 8
#define H_FILE_WRITE_GUID 16
#define H_DATA_WRITE_GUID 32
#define H_LOG_GUID 48
#define H_LOG_VERSION 64
#define H_VERSION 66
#define H_LOG_LENGTH 68
#define H_LOG_OFFSET 72

/* Region table: a 16-byte header ("regi", checksum, entry count, reserved), then
 * 32-byte entries (GUID, file offset u64, length u32, bit 0 of u32: required). */
#define R_SIGNATURE 0
#define R_CHECKSUM 4
#define R_COUNT 8
#define R_ENTRIES 16
#define R_ENTRY_SIZE 32

/* Metadata table: "metadata", reserved u16, entry count u16, 20 reserved bytes, then
 * 32-byte entries (item GUID, offset u32 from the region's start, length u32, flags
 * u32: bit 0 IsUser, bit 1 IsVirtualDisk, bit 2 IsRequired). */
#define M_COUNT 10
#define M_ENTRIES 32
#define M_ENTRY_SIZE 32
#define M_IS_USER 1u
#define M_IS_VIRTUAL_DISK 2u
#define M_IS_REQUIRED 4u

/* File parameters: block size u32, then bit 0 LeaveBlocksAllocated, bit 1 HasParent. */
#define FP_LEAVE_ALLOCATED 1u
#define FP_HAS_PARENT 2u

/* A BAT entry: the state in bits 0-2, the file offset in MiB in bits 20-63. */
enum {
	PAYLOAD_NOT_PRESENT = 0,
	PAYLOAD_UNDEFINED = 1,
	PAYLOAD_ZERO = 2,
	PAYLOAD_UNMAPPED = 3,
	PAYLOAD_FULLY_PRESENT = 6,
	PAYLOAD_PARTIALLY_PRESENT = 7,
};
#define BAT_STATE(e) ((unsigned)((e) & 7))
#define BAT_OFFSET(e) (((e) >> 20) * (uint64_t)MIB)
#define BAT_ENTRY(state, off) ((uint64_t)(off) / MIB << 20 | (state))

/* The GUIDs, as the spec writes them; guid_bytes turns one into the stored layout. */
#define GUID_BAT "2DC27766-F623-4200-9D64-115E9BFD4A08"
#define GUID_METADATA "8B7CA206-4790-4B9A-B8FE-575F050F886E"
#define GUID_FILE_PARAMETERS "CAA16737-FA36-4D43-B3B6-33F0AA44E76B"
#define GUID_VIRTUAL_DISK_SIZE "2FA54224-CD1B-4876-B211-5DBED83BF4B8"
#define GUID_PAGE83 "BECA12AB-B2E6-4523-93EF-C309E000C746"
#define GUID_LOGICAL_SECTOR "8141BF1D-A96F-4709-BA47-F233A8FAAB5F"
#define GUID_PHYSICAL_SECTOR "CDA348C7-445D-4471-9CC9-E9885251C556"
#define GUID_PARENT_LOCATOR "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C"

/* The stored (Microsoft) layout of a GUID written as text; the text is known good. */
void guid_bytes(const char *text, uint8_t out[16]);
/* True when the 16 stored bytes at p are the GUID text. */
bool guid_is(const uint8_t *p, const char *text);

/* The CRC-32C of a header or region table of size bytes, its checksum field read as 0. */
uint32_t vhdx_checksum(const uint8_t *b, size_t size);

/* Payload blocks per sector bitmap block: 2^23 sectors of logical_sector bytes each. */
static inline uint64_t vhdx_chunk_ratio(uint32_t logical_sector, uint32_t block_size)
{
	return ((uint64_t)1 << 23) * logical_sector / block_size;
}

/* BAT entries of a disk of blocks payload blocks that has no parent: a sector bitmap
 * entry follows every chunk ratio payload entries but the last chunk. */
static inline uint64_t vhdx_bat_entries(uint64_t blocks, uint64_t chunk_ratio)
{
	return blocks + (blocks ? (blocks - 1) / chunk_ratio : 0);
}

/* The BAT index of payload block b. */
static inline uint64_t vhdx_bat_index(uint64_t b, uint64_t chunk_ratio)
{
	return b + b / chunk_ratio;
}

/* What the reader found; the checker looks at it again. */
struct vhdx_disk {
	struct disk d;
	uint8_t header[2][VHDX_HEADER_SIZE];
	bool header_ok[2];
	int current;				/* the header in use, 0 or 1 */
	bool regions_ok[2];
	int regions_used;			/* the region table in use */
	uint64_t bat_off, meta_off, log_off;
	uint32_t bat_len, meta_len, log_len;
	uint32_t block_size, logical_sector, physical_sector;
	bool leave_allocated;
	uint8_t page83[16];
	uint64_t blocks, chunk_ratio, entries;
	uint64_t *bat;				/* all entries, host order */
};

void vhdx_check(struct disk *d, struct faults *f);
int vhdx_write(struct disk *src, const char *path, const struct opts *o, struct msg *m);

#endif
