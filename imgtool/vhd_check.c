/* vhd_check.c - what imgtool check finds in a VHD the reader could open: footer fields
 * the spec fixes, a geometry or size Hyper-V and QEMU would not take, a saved state; in
 * a dynamic disk, a missing or differing footer copy, dynamic header faults, blocks and
 * structures that share file bytes, and data hidden behind clear bitmap bits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "report.h"
#include "vhd.h"

/* A block or a piece of metadata in the file, for the overlap check. */
struct extent {
	uint64_t start, end;
	int64_t block;			/* -1..-4: the metadata below */
};

static const char *const meta_name[] = {
	"the footer copy at byte 0", "the dynamic header", "the block allocation table",
	"the footer at the end",
};

static void extent_name(const struct extent *e, char *buf, size_t size)
{
	if (e->block < 0)
		snprintf(buf, size, "%s", meta_name[-e->block - 1]);
	else
		snprintf(buf, size, "block %lld", (long long)e->block);
}

static int extent_cmp(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

/* Faults of one kind listed before the rest are only counted. */
#define FAULTS_PER_KIND 8
/* Bytes read at a time when check looks at sectors behind clear bitmap bits. */
#define VHD_CHECK_CHUNK (64u << 10)

/* Every block and every structure must have the file bytes it occupies to itself.
 * Returns the number of overlaps. */
static size_t check_overlaps(struct vhd_disk *v, bool end_footer, struct faults *f)
{
	const char *path = v->d.file.path;
	uint64_t bat_len = ((uint64_t)v->max_entries * 4 + SECTOR - 1) / SECTOR * SECTOR;
	size_t n = 0, found = 0, top = 0, used = 0;
	struct extent *e;

	for (uint32_t b = 0; b < v->max_entries; b++)
		used += v->bat[b] != BAT_FREE;
	e = malloc((used + 4) * sizeof *e);

	if (!e) {
		fault(f, "%s: cannot hold its block list to check it for overlaps.", path);
		return 1;
	}
	e[n++] = (struct extent){ 0, SECTOR, -1 };
	e[n++] = (struct extent){ v->hdr_off, v->hdr_off + sizeof v->hdr, -2 };
	if (bat_len)
		e[n++] = (struct extent){ v->bat_off, v->bat_off + bat_len, -3 };
	if (end_footer)
		e[n++] = (struct extent){ v->d.file.size - SECTOR, v->d.file.size, -4 };
	for (uint32_t b = 0; b < v->max_entries; b++)
		if (v->bat[b] != BAT_FREE) {
			uint64_t at = (uint64_t)v->bat[b] * SECTOR;

			e[n++] = (struct extent){ at, at + v->bitmap_size + v->block_size, b };
		}
	qsort(e, n, sizeof *e, extent_cmp);
	/* top: the extent reaching furthest so far; whatever starts before its end
	 * overlaps it. */
	for (size_t k = 1; k < n; k++) {
		if (e[k].start < e[top].end) {
			char a[48], b[48];

			if (found++ < FAULTS_PER_KIND) {
				extent_name(&e[k], a, sizeof a);
				extent_name(&e[top], b, sizeof b);
				fault(f, "%s: %s (bytes %llu to %llu) overlaps %s (bytes %llu "
				      "to %llu).", path, a, (unsigned long long)e[k].start,
				      (unsigned long long)e[k].end, b,
				      (unsigned long long)e[top].start,
				      (unsigned long long)e[top].end);
			}
		}
		if (e[k].end > e[top].end)
			top = k;
	}
	if (found > FAULTS_PER_KIND)
		fault(f, "%s: %zu more overlaps like these.", path, found - FAULTS_PER_KIND);
	free(e);
	return found;
}

/* A sector whose bitmap bit is clear reads as zeros here, in Hyper-V and in
 * VirtualBox, but QEMU reads what is stored there: they agree only if it is zero. */
static void check_hidden_data(struct vhd_disk *v, struct faults *f)
{
	static unsigned char buf[VHD_CHECK_CHUNK];
	size_t found = 0;
	struct msg m;

	for (uint32_t b = 0; b < v->nblocks; b++) {
		uint64_t base = (uint64_t)b * v->block_size, limit, s = 0;
		bool hidden = false;

		if (v->bat[b] == BAT_FREE)
			continue;
		if (vhd_load_bitmap(v, b, &m) < 0) {
			fault(f, "%s", m.text);
			return;
		}
		if (v->bitmap_full)
			continue;
		/* The sectors of the block that are inside the virtual disk. */
		limit = (v->d.size - base + SECTOR - 1) / SECTOR;
		if (limit > v->block_size / SECTOR)
			limit = v->block_size / SECTOR;
		while (s < limit && !hidden) {
			uint64_t end = vhd_bit_run_end(v, s, limit);

			for (uint64_t at = s; !vhd_bit_set(v->bitmap, s) && at < end &&
					      !hidden;) {
				uint64_t k = end - at < sizeof buf / SECTOR ? end - at
									   : sizeof buf / SECTOR;

				if (infile_read(&v->d.file, buf, (size_t)k * SECTOR,
						vhd_block_offset(v, b) + v->bitmap_size +
						at * SECTOR, "block data", &m) < 0) {
					fault(f, "%s", m.text);
					return;
				}
				hidden = !is_zero(buf, (size_t)k * SECTOR);
				at += k;
			}
			s = end;
		}
		if (hidden && found++ < FAULTS_PER_KIND)
			fault(f, "%s: block %u holds data in sectors its bitmap marks unused: QEMU "
			      "reads that data, Hyper-V and VirtualBox read zeros.",
			      v->d.file.path, b);
	}
	if (found > FAULTS_PER_KIND)
		fault(f, "%s: %zu more blocks hide data the same way.", v->d.file.path,
		      found - FAULTS_PER_KIND);
}

static void check_dynamic(struct vhd_disk *v, struct faults *f)
{
	const char *path = v->d.file.path;
	struct vhd_footer end;
	struct msg m;
	uint32_t sum = vhd_checksum(&v->hdr, sizeof v->hdr,
				    offsetof(struct vhd_dyn_header, checksum));
	bool have_end = false;

	/* The footer at the end is the real one; the copy at 0 must equal it. */
	if (v->foot_off != 0) {
		have_end = true;
		fault(f, "%s: its footer copy at byte 0 is missing (it does not start with "
		      "\"conectix\").", path);
	} else if (v->d.file.size < 2 * SECTOR ||
		   infile_read(&v->d.file, &end, sizeof end, v->d.file.size - SECTOR, "the footer",
			       &m) < 0 || memcmp(end.cookie, VHD_COOKIE, 8) != 0) {
		fault(f, "%s: its last 512 bytes are not a VHD footer; the file may be "
		      "truncated.", path);
	} else {
		have_end = true;
		if (memcmp(&end, &v->foot, sizeof end) != 0)
			fault(f, "%s: the footer at its end differs from the copy at byte 0.",
			      path);
	}
	if (get_be32(v->hdr.checksum) != sum)
		fault(f, "%s: its dynamic header checksum is 0x%08x, but its bytes give 0x%08x.",
		      path, get_be32(v->hdr.checksum), sum);
	if (get_be64(v->hdr.data_offset) != NO_OFFSET)
		fault(f, "%s: its dynamic header's data offset is 0x%llx; it must be all ones.",
		      path, (unsigned long long)get_be64(v->hdr.data_offset));
	if (get_be32(v->hdr.version) != VHD_VERSION)
		fault(f, "%s: its dynamic header version is 0x%08x, not 0x%08x.", path,
		      get_be32(v->hdr.version), VHD_VERSION);
	if (v->hdr_off % SECTOR || v->bat_off % SECTOR)
		fault(f, "%s: its dynamic header (byte %llu) or block allocation table (byte "
		      "%llu) does not start on a sector.", path, (unsigned long long)v->hdr_off,
		      (unsigned long long)v->bat_off);
	if (check_overlaps(v, have_end, f) == 0)
		check_hidden_data(v, f);
}

void vhd_check(struct disk *d, struct faults *f)
{
	struct vhd_disk *v = (struct vhd_disk *)d;
	const struct vhd_footer *ft = &v->foot;
	const char *path = d->file.path;
	uint64_t chs = (uint64_t)get_be16(ft->cylinders) * ft->heads * ft->sectors;

	if (!(get_be32(ft->features) & VHD_FEATURES))
		fault(f, "%s: its footer's features are 0x%08x; the spec requires the reserved "
		      "bit 0x00000002.", path, get_be32(ft->features));
	if (get_be32(ft->version) != VHD_VERSION)
		fault(f, "%s: its footer's format version is 0x%08x, not 0x%08x.", path,
		      get_be32(ft->version), VHD_VERSION);
	/* 65535/16/255 is the spec's largest geometry, and QEMU's mark of "the size is in
	 * the footer" (qemu-img -o force_size): it may exceed a small disk. */
	if (chs * SECTOR > d->size && chs != CHS_MAX_SECTORS)
		fault(f, "%s: its geometry %u/%u/%u holds more than its %llu bytes.", path,
		      get_be16(ft->cylinders), ft->heads, ft->sectors,
		      (unsigned long long)d->size);
	if (d->size > VHD_MAX_SIZE)
		fault(f, "%s: its virtual size %llu is over 2040 GiB, which Hyper-V and QEMU "
		      "refuse.", path, (unsigned long long)d->size);
	if (ft->saved_state)
		fault(f, "%s: its footer marks it as in a saved state.", path);
	if (!v->dynamic) {
		uint64_t data = d->file.size - v->foot_len;

		if (get_be64(ft->data_offset) != NO_OFFSET)
			fault(f, "%s: a fixed disk's footer data offset must be all ones, but it "
			      "is 0x%llx.", path, (unsigned long long)get_be64(ft->data_offset));
		if (data != d->size)
			fault(f, "%s holds %llu bytes before its footer, but its virtual size is "
			      "%llu.", path, (unsigned long long)data,
			      (unsigned long long)d->size);
		return;
	}
	check_dynamic(v, f);
}
