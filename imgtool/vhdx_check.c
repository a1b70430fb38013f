/* vhdx_check.c - what imgtool check finds in a VHDX the reader could open: a damaged
 * copy of a header or region table (the other one was used), payload blocks that share
 * file space, and a fixed disk (LeaveBlocksAllocated) with blocks not present. */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "report.h"
#include "vhdx.h"

static int by_offset(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void vhdx_check(struct disk *d, struct faults *f)
{
	struct vhdx_disk *v = (struct vhdx_disk *)d;
	const char *path = d->file.path;
	uint64_t *at, n = 0, absent = 0;

	for (int i = 0; i < 2; i++) {
		if (!v->header_ok[i])
			fault(f, "%s: header %d (at %u KiB) has a bad signature or CRC-32C; header "
			      "%d is used.", path, i + 1, i ? 128 : 64, 2 - i);
		if (!v->regions_ok[i])
			fault(f, "%s: region table %d (at %u KiB) has a bad signature or CRC-32C; "
			      "region table %d is used.", path, i + 1, i ? 256 : 192, 2 - i);
	}
	if (v->header_ok[0] && v->header_ok[1] &&
	    get_le64(v->header[0] + H_SEQUENCE) == get_le64(v->header[1] + H_SEQUENCE) &&
	    memcmp(v->header[0], v->header[1], VHDX_HEADER_SIZE))
		fault(f, "%s: its two headers differ but have the same sequence number %llu.",
		      path, (unsigned long long)get_le64(v->header[0] + H_SEQUENCE));
	at = malloc((v->blocks ? v->blocks : 1) * sizeof *at);
	if (!at) {
		fault(f, "%s: out of memory while checking its blocks.", path);
		return;
	}
	for (uint64_t b = 0; b < v->blocks; b++) {
		uint64_t e = v->bat[vhdx_bat_index(b, v->chunk_ratio)];

		if (BAT_STATE(e) == PAYLOAD_FULLY_PRESENT)
			at[n++] = BAT_OFFSET(e);
		else
			absent++;
	}
	qsort(at, n, sizeof *at, by_offset);
	for (uint64_t i = 1; i < n; i++)
		if (at[i] - at[i - 1] < v->block_size)
			fault(f, "%s: two payload blocks share the file space at byte %llu.", path,
			      (unsigned long long)at[i]);
	free(at);
	if (v->leave_allocated && absent)
		fault(f, "%s: it is marked fixed (LeaveBlocksAllocated), but %llu of its %llu "
		      "blocks are not present.", path, (unsigned long long)absent,
		      (unsigned long long)v->blocks);
}
