/* vhdx_write.c - writing VHDX images (see vhdx.h), fixed and dynamic, in the lean
 * layout: nothing but what the spec requires, each part as small as it may be.
 *
 *   0       header section (1 MiB): identifier, headers, region tables
 *   1 MiB   the log, 1 MiB, empty (LogGuid zero: nothing to replay)
 *   2 MiB   the metadata region, 1 MiB: the table, then the five required items
 *   3 MiB   the BAT, a whole number of MiB
 *   then    the payload blocks, in disk order, and nothing after the last one
 *
 * So the 1 MiB boot disk is 5 MiB whatever the subformat (qemu-img 7.2 writes 16 or
 * 17 MiB). A fixed disk has every block fully present, its space in the file (holes
 * where the data is zero, so the file system need not store them) and the flag
 * LeaveBlocksAllocated; a dynamic disk has only the blocks that hold a non-zero byte,
 * the rest NOT_PRESENT, which reads as zeros (ZERO would say the same; NOT_PRESENT is
 * what Hyper-V writes for blocks never written). Both headers and both region tables
 * are written, header 2 with the higher sequence number. GUIDs come from the content,
 * so every rebuild gives the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "ident.h"
#include "output.h"
#include "vhdx.h"

#define LOG_OFF MIB
#define LOG_LEN MIB
#define META_OFF (2u * MIB)
#define META_LEN MIB
#define BAT_OFF (3u * MIB)
#define UNIT MIB			/* source units: a block takes whole ones */
#define CREATOR "imgtool"
#define PHYSICAL_SECTOR 4096u		/* what Hyper-V and qemu-img report */

struct vhdx_writer {
	struct outfile *out;
	uint64_t size;			/* virtual size */
	bool fixed;
	uint32_t block_size;
	uint64_t blocks, chunk_ratio, entries;
	uint64_t bat_len, data_off;	/* the BAT region's length; the first block */
	uint64_t next;			/* where the next dynamic block goes */
	uint64_t *bat;
};

static int vhdx_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		     struct msg *m)
{
	struct vhdx_writer *w = ctx;
	uint64_t b = off / w->block_size, *e = &w->bat[vhdx_bat_index(b, w->chunk_ratio)];

	if (BAT_STATE(*e) != PAYLOAD_FULLY_PRESENT) {
		*e = BAT_ENTRY(PAYLOAD_FULLY_PRESENT, w->next);
		w->next += w->block_size;
	}
	return out_write(w->out, data, len, BAT_OFFSET(*e) + off % w->block_size, m);
}

static void put_header(uint8_t *h, uint64_t sequence, const struct uuid *file_guid,
		       const struct uuid *data_guid)
{
	memset(h, 0, VHDX_HEADER_SIZE);
	memcpy(h + H_SIGNATURE, "head", 4);
	put_le64(h + H_SEQUENCE, sequence);
	uuid_to_guid(file_guid, h + H_FILE_WRITE_GUID);
	uuid_to_guid(data_guid, h + H_DATA_WRITE_GUID);
	put_le16(h + H_LOG_VERSION, 0);
	put_le16(h + H_VERSION, VHDX_VERSION);
	put_le32(h + H_LOG_LENGTH, LOG_LEN);
	put_le64(h + H_LOG_OFFSET, LOG_OFF);
	put_le32(h + H_CHECKSUM, vhdx_checksum(h, VHDX_HEADER_SIZE));
}

static void put_regions(uint8_t *t, const struct vhdx_writer *w)
{
	uint8_t *e = t + R_ENTRIES;

	memset(t, 0, VHDX_REGIONS_SIZE);
	memcpy(t + R_SIGNATURE, "regi", 4);
	put_le32(t + R_COUNT, 2);
	guid_bytes(GUID_BAT, e);
	put_le64(e + 16, BAT_OFF);
	put_le32(e + 24, (uint32_t)w->bat_len);
	put_le32(e + 28, 1);
	e += R_ENTRY_SIZE;
	guid_bytes(GUID_METADATA, e);
	put_le64(e + 16, META_OFF);
	put_le32(e + 24, META_LEN);
	put_le32(e + 28, 1);
	put_le32(t + R_CHECKSUM, vhdx_checksum(t, VHDX_REGIONS_SIZE));
}

/* The metadata table and its five items, which follow it at 64 KiB: 40 bytes. */
static size_t put_metadata(uint8_t *r, const struct vhdx_writer *w, const struct uuid *page83)
{
	static const struct {
		const char *guid;
		uint32_t len, flags;
	} items[] = {
		{ GUID_FILE_PARAMETERS, 8, M_IS_REQUIRED },
		{ GUID_VIRTUAL_DISK_SIZE, 8, M_IS_VIRTUAL_DISK | M_IS_REQUIRED },
		{ GUID_PAGE83, 16, M_IS_VIRTUAL_DISK | M_IS_REQUIRED },
		{ GUID_LOGICAL_SECTOR, 4, M_IS_VIRTUAL_DISK | M_IS_REQUIRED },
		{ GUID_PHYSICAL_SECTOR, 4, M_IS_VIRTUAL_DISK | M_IS_REQUIRED },
	};
	uint32_t at = VHDX_META_TABLE_SIZE;
	uint8_t *d = r + VHDX_META_TABLE_SIZE;

	memset(r, 0, VHDX_META_TABLE_SIZE + 40);
	memcpy(r, "metadata", 8);
	put_le16(r + M_COUNT, sizeof items / sizeof items[0]);
	for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
		uint8_t *e = r + M_ENTRIES + i * M_ENTRY_SIZE;

		guid_bytes(items[i].guid, e);
		put_le32(e + 16, at);
		put_le32(e + 20, items[i].len);
		put_le32(e + 24, items[i].flags);
		at += items[i].len;
	}
	put_le32(d, w->block_size);
	put_le32(d + 4, w->fixed ? FP_LEAVE_ALLOCATED : 0);
	put_le64(d + 8, w->size);
	uuid_to_guid(page83, d + 16);
	put_le32(d + 32, SECTOR);
	put_le32(d + 36, PHYSICAL_SECTOR);
	return VHDX_META_TABLE_SIZE + 40;
}

static int write_image(struct vhdx_writer *w, struct disk *src, struct msg *m)
{
	struct digest sum;
	struct uuid file_guid, data_guid, page83;
	uint8_t *buf;
	size_t len;
	int rc = -1;

	if (disk_each_data(src, UNIT < w->block_size ? UNIT : w->block_size, vhdx_unit, w, &sum,
			   m) < 0)
		return -1;
	/* a fixed and a dynamic image of one disk are two disks to Hyper-V */
	file_guid = uuid_derive(&sum, "vhdx", w->fixed ? "fixed file write" : "dynamic file write");
	data_guid = uuid_derive(&sum, "vhdx", w->fixed ? "fixed data write" : "dynamic data write");
	page83 = uuid_derive(&sum, "vhdx", w->fixed ? "fixed page 83" : "dynamic page 83");
	buf = calloc(1, VHDX_META_TABLE_SIZE + 40);	/* the largest piece: the metadata */
	if (!buf)
		return fail_errno(m, "cannot write %s", w->out->path);
	/* the file type identifier: the signature, then the creator in UTF-16LE */
	memcpy(buf, VHDX_SIGNATURE, 8);
	for (size_t i = 0; i < sizeof CREATOR - 1; i++)
		buf[8 + 2 * i] = (uint8_t)CREATOR[i];
	if (out_write(w->out, buf, 8 + 2 * (sizeof CREATOR - 1), 0, m) < 0)
		goto out;
	put_header(buf, 0, &file_guid, &data_guid);
	if (out_write(w->out, buf, VHDX_HEADER_SIZE, VHDX_HEADER1, m) < 0)
		goto out;
	put_header(buf, 1, &file_guid, &data_guid);
	if (out_write(w->out, buf, VHDX_HEADER_SIZE, VHDX_HEADER2, m) < 0)
		goto out;
	put_regions(buf, w);
	if (out_write(w->out, buf, VHDX_REGIONS_SIZE, VHDX_REGIONS1, m) < 0 ||
	    out_write(w->out, buf, VHDX_REGIONS_SIZE, VHDX_REGIONS2, m) < 0)
		goto out;
	len = put_metadata(buf, w, &page83);
	if (out_write(w->out, buf, len, META_OFF, m) < 0)
		goto out;
	/* the BAT, a window at a time */
	for (uint64_t i = 0; i < w->entries;) {
		size_t n = w->entries - i < VHDX_REGIONS_SIZE / 8 ? (size_t)(w->entries - i)
								  : VHDX_REGIONS_SIZE / 8;

		for (size_t k = 0; k < n; k++)
			put_le64(buf + 8 * k, w->bat[i + k]);
		if (out_write(w->out, buf, n * 8, BAT_OFF + i * 8, m) < 0)
			goto out;
		i += n;
	}
	rc = out_set_size(w->out, w->next, m);
out:
	free(buf);
	return rc;
}

static int options(struct vhdx_writer *w, const struct opts *o, struct msg *m)
{
	static const char *const subformats[] = { "dynamic", "fixed", NULL };
	size_t sub;
	uint64_t bs;

	if (opt_choice(o, "subformat", subformats, 0, &sub, m) < 0 ||
	    opt_pow2(o, "block_size", "the block size", VHDX_MIN_BLOCK, VHDX_MAX_BLOCK,
		     VHDX_MIN_BLOCK, &bs, m) < 0)
		return -1;
	w->fixed = sub == 1;
	w->block_size = (uint32_t)bs;
	return 0;
}

int vhdx_write(struct disk *src, const char *path, const struct opts *o, struct msg *m)
{
	struct output out = { .n = 0 };
	struct vhdx_writer w = { 0 };
	int rc = -1;

	if (options(&w, o, m) < 0)
		return -1;
	/* Every container stores whole sectors: a disk that ends inside one grows to it. */
	w.size = (src->size + SECTOR - 1) / SECTOR * SECTOR;
	if (w.size > VHDX_MAX_SIZE)
		return fail(m, "%s is %llu bytes; a VHDX holds at most 64 TiB.", src->file.path,
			    (unsigned long long)src->size);
	w.blocks = (w.size + w.block_size - 1) / w.block_size;
	w.chunk_ratio = vhdx_chunk_ratio(SECTOR, w.block_size);
	w.entries = vhdx_bat_entries(w.blocks, w.chunk_ratio);
	w.bat_len = (w.entries * 8 + MIB - 1) / MIB * MIB;
	if (w.bat_len == 0)
		w.bat_len = MIB;
	if (w.bat_len > UINT32_MAX)
		return fail(m, "%s is too large for a VHDX of %u-byte blocks: its BAT would pass "
			    "4 GiB; take larger blocks (-o block_size=).", src->file.path,
			    w.block_size);
	w.data_off = BAT_OFF + w.bat_len;
	w.next = w.data_off;
	w.bat = calloc(w.entries ? w.entries : 1, sizeof *w.bat);
	if (!w.bat)
		return fail_errno(m, "cannot write %s", path);
	if (w.fixed) {
		for (uint64_t b = 0; b < w.blocks; b++)
			w.bat[vhdx_bat_index(b, w.chunk_ratio)] =
				BAT_ENTRY(PAYLOAD_FULLY_PRESENT, w.data_off + b * w.block_size);
		w.next = w.data_off + w.blocks * w.block_size;
	}
	if (output_add(&out, path, &w.out, m) < 0 || write_image(&w, src, m) < 0 ||
	    output_commit(&out, m) < 0) {
		output_discard(&out);
		goto out;
	}
	rc = 0;
out:
	free(w.bat);
	return rc;
}
