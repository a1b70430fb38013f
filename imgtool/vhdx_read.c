/* vhdx_read.c - reading VHDX images (see vhdx.h): fixed and dynamic disks of any block
 * size and logical sector size, as qemu-img and Hyper-V write them.
 *
 * Refused with the reason: a log to replay (its writes are not in the file yet, so the
 * bytes read would not be the disk Hyper-V sees), a differencing disk (HasParent, or
 * partially present blocks), a region or metadata item marked required that imgtool
 * does not know, and every structure that points outside the file or over another.
 * Of two headers or region tables, one with a bad checksum is passed over for the
 * other (check reports it); both bad is a refusal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "ident.h"
#include "report.h"
#include "vhdx.h"

void guid_bytes(const char *text, uint8_t out[16])
{
	struct uuid u;

	uuid_parse(text, &u);
	uuid_to_guid(&u, out);
}

bool guid_is(const uint8_t *p, const char *text)
{
	uint8_t g[16];

	guid_bytes(text, g);
	return memcmp(p, g, 16) == 0;
}

uint32_t vhdx_checksum(const uint8_t *b, size_t size)
{
	static const uint8_t zero[4];
	uint32_t c = crc32c(0, b, 4);

	c = crc32c(c, zero, 4);
	return crc32c(c, b + 8, size - 8);
}

/* "X is not a usable VHDX image: WHY." */
static int refuse(struct msg *m, const struct vhdx_disk *v, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int refuse(struct msg *m, const struct vhdx_disk *v, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return fail(m, "%s is not a usable VHDX image: %s.", v->d.file.path, why);
}

static int vhdx_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	struct vhdx_disk *v = (struct vhdx_disk *)d;
	unsigned char *out = buf;

	while (len) {
		uint64_t b = off / v->block_size, in = off % v->block_size;
		size_t n = v->block_size - in < len ? (size_t)(v->block_size - in) : len;
		uint64_t e = v->bat[vhdx_bat_index(b, v->chunk_ratio)];

		if (BAT_STATE(e) == PAYLOAD_FULLY_PRESENT) {
			if (infile_read(&d->file, out, n, BAT_OFFSET(e) + in, "a payload block", m) < 0)
				return -1;
		} else {
			memset(out, 0, n);
		}
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vhdx_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		       struct msg *m)
{
	struct vhdx_disk *v = (struct vhdx_disk *)d;
	uint64_t b = off / v->block_size;
	bool s = BAT_STATE(v->bat[vhdx_bat_index(b, v->chunk_ratio)]) == PAYLOAD_FULLY_PRESENT;
	uint64_t end;

	(void)m;
	for (b++; b < v->blocks; b++)
		if ((BAT_STATE(v->bat[vhdx_bat_index(b, v->chunk_ratio)]) ==
		     PAYLOAD_FULLY_PRESENT) != s)
			break;
	end = b * v->block_size < d->size ? b * v->block_size : d->size;
	*run = end - off;
	*stored = s;
	return 0;
}

static void guid_text(const uint8_t *p, char buf[37])
{
	struct uuid u = uuid_from_guid(p);

	uuid_format(&u, buf);
}

static void vhdx_info(struct disk *d, struct info *i)
{
	struct vhdx_disk *v = (struct vhdx_disk *)d;
	const uint8_t *h = v->header[v->current];
	uint64_t present = 0;
	char text[37];

	for (uint64_t b = 0; b < v->blocks; b++)
		present += BAT_STATE(v->bat[vhdx_bat_index(b, v->chunk_ratio)]) ==
			   PAYLOAD_FULLY_PRESENT;
	info_str(i, "subformat", "%s", v->leave_allocated ? "fixed" : "dynamic");
	info_num(i, "block size", v->block_size);
	info_num(i, "blocks", v->blocks);
	info_num(i, "blocks present", present);
	info_num(i, "logical sector size", v->logical_sector);
	info_num(i, "physical sector size", v->physical_sector);
	info_num(i, "log size", v->log_len);
	info_num(i, "sequence number", get_le64(h + H_SEQUENCE));
	guid_text(h + H_FILE_WRITE_GUID, text);
	info_str(i, "file write guid", "%s", text);
	guid_text(h + H_DATA_WRITE_GUID, text);
	info_str(i, "data write guid", "%s", text);
	guid_text(v->page83, text);
	info_str(i, "page 83 id", "%s", text);
}

static void vhdx_release(struct disk *d)
{
	free(((struct vhdx_disk *)d)->bat);
}

/* A MiB-aligned structure [off, off + len) of the file: inside it, and past the
 * header section. */
static int region_in_file(struct vhdx_disk *v, const char *what, uint64_t off, uint64_t len,
			  struct msg *m)
{
	if (off % MIB || len % MIB || len == 0)
		return refuse(m, v, "its %s (byte %llu, %llu bytes) is not a whole number of MiB "
			      "at a MiB boundary", what, (unsigned long long)off,
			      (unsigned long long)len);
	if (off < MIB)
		return refuse(m, v, "its %s (byte %llu) lies in the 1 MiB header section", what,
			      (unsigned long long)off);
	if (off > v->d.file.size || v->d.file.size - off < len)
		return refuse(m, v, "its %s (byte %llu, %llu bytes) runs past the end of the "
			      "file (%llu)", what, (unsigned long long)off,
			      (unsigned long long)len, (unsigned long long)v->d.file.size);
	return 0;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int open_headers(struct vhdx_disk *v, struct msg *m)
{
	const uint32_t at[2] = { VHDX_HEADER1, VHDX_HEADER2 };
	const uint8_t *h;

	for (int i = 0; i < 2; i++) {
		if (infile_read(&v->d.file, v->header[i], VHDX_HEADER_SIZE, at[i], "a header", m) < 0)
			return -1;
		v->header_ok[i] = !memcmp(v->header[i], "head", 4) &&
				  get_le32(v->header[i] + H_CHECKSUM) ==
					  vhdx_checksum(v->header[i], VHDX_HEADER_SIZE);
	}
	if (!v->header_ok[0] && !v->header_ok[1])
		return refuse(m, v, "neither of its headers (at 64 KiB and 128 KiB) has the "
			      "signature \"head\" and a right CRC-32C");
	v->current = !v->header_ok[0] ? 1 : !v->header_ok[1] ? 0
		     : get_le64(v->header[1] + H_SEQUENCE) > get_le64(v->header[0] + H_SEQUENCE);
	h = v->header[v->current];
	if (get_le16(h + H_VERSION) != VHDX_VERSION)
		return refuse(m, v, "its header has the version %u; imgtool reads version 1",
			      get_le16(h + H_VERSION));
	for (int k = 0; k < 16; k++)
		if (h[H_LOG_GUID + k])
			return refuse(m, v, "its log holds writes that were never applied (the "
				      "header's LogGuid is set); open it in Hyper-V, or repair it "
				      "with qemu-img check -r all, first");
	v->log_off = get_le64(h + H_LOG_OFFSET);
	v->log_len = get_le32(h + H_LOG_LENGTH);
	if (v->log_len && region_in_file(v, "log", v->log_off, v->log_len, m) < 0)
		return -1;
	return 0;
}

static int open_regions(struct vhdx_disk *v, struct msg *m)
{
	const uint32_t at[2] = { VHDX_REGIONS1, VHDX_REGIONS2 };
	uint8_t *t = malloc(VHDX_REGIONS_SIZE);
	const char *twice = NULL;
	int rc = -1;
	uint32_t n;

	if (!t)
		return fail_errno(m, "cannot read %s", v->d.file.path);
	for (int i = 1; i >= 0; i--) {
		if (infile_read(&v->d.file, t, VHDX_REGIONS_SIZE, at[i], "a region table", m) < 0)
			goto out;
		v->regions_ok[i] = !memcmp(t, "regi", 4) &&
				   get_le32(t + R_CHECKSUM) == vhdx_checksum(t, VHDX_REGIONS_SIZE) &&
				   get_le32(t + R_COUNT) <= VHDX_REGIONS_MAX;
		if (v->regions_ok[i])
			v->regions_used = i;
	}
	if (!v->regions_ok[0] && !v->regions_ok[1]) {
		refuse(m, v, "neither of its region tables (at 192 KiB and 256 KiB) has the "
		       "signature \"regi\" and a right CRC-32C");
		goto out;
	}
	/* t holds table 1, read last: table 2 is read again when it is the one in use */
	if (v->regions_used == 1 && infile_read(&v->d.file, t, VHDX_REGIONS_SIZE, at[1],
						 "a region table", m) < 0)
		goto out;
	n = get_le32(t + R_COUNT);
	for (uint32_t i = 0; i < n && !twice; i++) {
		const uint8_t *e = t + R_ENTRIES + (size_t)i * R_ENTRY_SIZE;
		uint64_t off = get_le64(e + 16);
		uint32_t len = get_le32(e + 24);
		bool required = get_le32(e + 28) & 1;

		if (guid_is(e, GUID_BAT)) {
			if (v->bat_len)
				twice = "BAT";
			v->bat_off = off;
			v->bat_len = len;
		} else if (guid_is(e, GUID_METADATA)) {
			if (v->meta_len)
				twice = "metadata";
			v->meta_off = off;
			v->meta_len = len;
		} else if (required) {
			char g[37];

			guid_text(e, g);
			refuse(m, v, "its region table has a required region imgtool does not know "
			       "({%s})", g);
			goto out;
		}
	}
	if (twice) {
		refuse(m, v, "its region table lists the %s region twice", twice);
		goto out;
	}
	if (!v->bat_len || !v->meta_len) {
		refuse(m, v, "its region table has no %s region", v->bat_len ? "metadata" : "BAT");
		goto out;
	}
	if (region_in_file(v, "BAT region", v->bat_off, v->bat_len, m) < 0 ||
	    region_in_file(v, "metadata region", v->meta_off, v->meta_len, m) < 0)
		goto out;
	if (overlap(v->bat_off, v->bat_len, v->meta_off, v->meta_len) ||
	    (v->log_len && (overlap(v->log_off, v->log_len, v->bat_off, v->bat_len) ||
			    overlap(v->log_off, v->log_len, v->meta_off, v->meta_len)))) {
		refuse(m, v, "its log, BAT and metadata regions overlap");
		goto out;
	}
	rc = 0;
out:
	free(t);
	return rc;
}

/* The metadata item id: [*off, *off + len) of the region when present. */
struct item {
	const char *guid;
	const char *name;
	uint32_t len;			/* its fixed length */
	const uint8_t *data;		/* NULL when absent */
};

static int open_metadata(struct vhdx_disk *v, struct msg *m)
{
	struct item items[] = {
		{ GUID_FILE_PARAMETERS, "file parameters", 8, NULL },
		{ GUID_VIRTUAL_DISK_SIZE, "virtual disk size", 8, NULL },
		{ GUID_PAGE83, "page 83 data", 16, NULL },
		{ GUID_LOGICAL_SECTOR, "logical sector size", 4, NULL },
		{ GUID_PHYSICAL_SECTOR, "physical sector size", 4, NULL },
	};
	const size_t nitems = sizeof items / sizeof items[0];
	uint8_t *r = malloc(v->meta_len);
	uint32_t n;
	int rc = -1;

	if (!r)
		return fail_errno(m, "cannot read %s", v->d.file.path);
	if (infile_read(&v->d.file, r, v->meta_len, v->meta_off, "the metadata region", m) < 0)
		goto out;
	if (memcmp(r, "metadata", 8)) {
		refuse(m, v, "its metadata region (byte %llu) does not start with \"metadata\"",
		       (unsigned long long)v->meta_off);
		goto out;
	}
	n = get_le16(r + M_COUNT);
	if (n > VHDX_META_MAX) {
		refuse(m, v, "its metadata table has %u entries; at most %u fit", n, VHDX_META_MAX);
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = r + M_ENTRIES + (size_t)i * M_ENTRY_SIZE;
		uint32_t off = get_le32(e + 16), len = get_le32(e + 20), flags = get_le32(e + 24);
		size_t k;

		for (k = 0; k < nitems && !guid_is(e, items[k].guid); k++)
			;
		if (k == nitems) {
			char g[37];

			if (!(flags & M_IS_REQUIRED))
				continue;
			guid_text(e, g);
			if (guid_is(e, GUID_PARENT_LOCATOR))
				refuse(m, v, "it is a differencing disk (it has a parent locator), "
				       "which needs its parent; imgtool reads fixed and dynamic disks");
			else
				refuse(m, v, "its metadata has a required item imgtool does not know "
				       "({%s})", g);
			goto out;
		}
		if (items[k].data) {
			refuse(m, v, "its metadata lists the %s twice", items[k].name);
			goto out;
		}
		if (len != items[k].len || off < VHDX_META_TABLE_SIZE || off > v->meta_len ||
		    v->meta_len - off < len) {
			refuse(m, v, "its %s item (offset %u, %u bytes) is not %u bytes inside the "
			       "metadata region", items[k].name, off, len, items[k].len);
			goto out;
		}
		items[k].data = r + off;
	}
	for (size_t k = 0; k < nitems; k++)
		if (!items[k].data) {
			refuse(m, v, "its metadata has no %s item", items[k].name);
			goto out;
		}
	v->block_size = get_le32(items[0].data);
	v->leave_allocated = get_le32(items[0].data + 4) & FP_LEAVE_ALLOCATED;
	if (get_le32(items[0].data + 4) & FP_HAS_PARENT) {
		refuse(m, v, "it is a differencing disk (HasParent), which needs its parent; "
		       "imgtool reads fixed and dynamic disks");
		goto out;
	}
	v->d.size = get_le64(items[1].data);
	memcpy(v->page83, items[2].data, 16);
	v->logical_sector = get_le32(items[3].data);
	v->physical_sector = get_le32(items[4].data);
	if (v->block_size < VHDX_MIN_BLOCK || v->block_size > VHDX_MAX_BLOCK ||
	    (v->block_size & (v->block_size - 1))) {
		refuse(m, v, "its block size %u is not a power of two from 1 MiB to 256 MiB",
		       v->block_size);
		goto out;
	}
	if ((v->logical_sector != 512 && v->logical_sector != 4096) ||
	    (v->physical_sector != 512 && v->physical_sector != 4096)) {
		refuse(m, v, "its sector sizes (logical %u, physical %u) are not 512 or 4096",
		       v->logical_sector, v->physical_sector);
		goto out;
	}
	if (v->d.size == 0 || v->d.size % v->logical_sector || v->d.size > VHDX_MAX_SIZE) {
		refuse(m, v, "its virtual size %llu is not a whole number of %u-byte sectors "
		       "from one sector to 64 TiB", (unsigned long long)v->d.size,
		       v->logical_sector);
		goto out;
	}
	rc = 0;
out:
	free(r);
	return rc;
}

static int open_bat(struct vhdx_disk *v, struct msg *m)
{
	uint8_t *raw;

	v->blocks = (v->d.size + v->block_size - 1) / v->block_size;
	v->chunk_ratio = vhdx_chunk_ratio(v->logical_sector, v->block_size);
	v->entries = vhdx_bat_entries(v->blocks, v->chunk_ratio);
	if (v->entries > v->bat_len / 8)
		return refuse(m, v, "its BAT region holds %u entries, but %llu blocks need %llu",
			      v->bat_len / 8, (unsigned long long)v->blocks,
			      (unsigned long long)v->entries);
	raw = malloc(v->entries * 8);
	v->bat = malloc(v->entries * sizeof *v->bat);
	if (!raw || !v->bat) {
		free(raw);
		return fail_errno(m, "cannot read %s", v->d.file.path);
	}
	if (infile_read(&v->d.file, raw, v->entries * 8, v->bat_off, "the BAT", m) < 0) {
		free(raw);
		return -1;
	}
	for (uint64_t i = 0; i < v->entries; i++)
		v->bat[i] = get_le64(raw + i * 8);
	free(raw);
	for (uint64_t b = 0; b < v->blocks; b++) {
		uint64_t e = v->bat[vhdx_bat_index(b, v->chunk_ratio)], off = BAT_OFFSET(e);
		uint64_t need = b + 1 == v->blocks ? v->d.size - b * v->block_size : v->block_size;

		switch (BAT_STATE(e)) {
		case PAYLOAD_NOT_PRESENT:
		case PAYLOAD_UNDEFINED:
		case PAYLOAD_ZERO:
		case PAYLOAD_UNMAPPED:
			break;
		case PAYLOAD_FULLY_PRESENT:
			if (off < MIB || off > v->d.file.size || v->d.file.size - off < need)
				return refuse(m, v, "block %llu's BAT entry points at byte %llu, "
					      "%s the file (%llu bytes)", (unsigned long long)b,
					      (unsigned long long)off,
					      off < MIB ? "in the header section of" : "past the end of",
					      (unsigned long long)v->d.file.size);
			if (overlap(off, need, v->bat_off, v->bat_len) ||
			    overlap(off, need, v->meta_off, v->meta_len) ||
			    (v->log_len && overlap(off, need, v->log_off, v->log_len)))
				return refuse(m, v, "block %llu (byte %llu) lies over its log, BAT or "
					      "metadata region", (unsigned long long)b,
					      (unsigned long long)off);
			break;
		case PAYLOAD_PARTIALLY_PRESENT:
			return refuse(m, v, "block %llu is partially present, which only a "
				      "differencing disk's blocks may be", (unsigned long long)b);
		default:
			return refuse(m, v, "block %llu's BAT entry has the state %u, which the "
				      "spec does not define", (unsigned long long)b,
				      BAT_STATE(e));
		}
	}
	return 0;
}

static int vhdx_open(struct infile *f, struct disk **d, struct msg *m)
{
	struct vhdx_disk *v = calloc(1, sizeof *v);

	*d = NULL;
	if (!v) {
		infile_close(f);
		return fail_errno(m, "cannot open %s", f->path);
	}
	v->d.fmt = &fmt_vhdx;
	v->d.file = *f;
	v->d.read = vhdx_read;
	v->d.status = vhdx_status;
	v->d.info = vhdx_info;
	v->d.check = vhdx_check;
	v->d.release = vhdx_release;
	if (v->d.file.size < MIB) {
		refuse(m, v, "it is %llu bytes, less than its 1 MiB header section",
		       (unsigned long long)v->d.file.size);
		goto fail;
	}
	if (open_headers(v, m) < 0 || open_regions(v, m) < 0 || open_metadata(v, m) < 0 ||
	    open_bat(v, m) < 0)
		goto fail;
	*d = &v->d;
	return 0;
fail:
	disk_close(&v->d);
	return -1;
}

static bool vhdx_probe(const struct infile *f, const unsigned char *head, size_t n)
{
	(void)f;
	return n >= 8 && memcmp(head, VHDX_SIGNATURE, 8) == 0;
}

const struct format fmt_vhdx = {
	.name = "vhdx",
	.ext = ".vhdx",
	.summary = "Microsoft VHDX (Hyper-V; Windows mounts it)",
	.opts = (const struct opt_spec[]){
		{ "subformat", "fixed|dynamic (default dynamic)" },
		{ "block_size", "1M..256M, a power of two (default 1M)" },
		{ NULL, NULL } },
	.probe = vhdx_probe,
	.open = vhdx_open,
	.write = vhdx_write,
};
