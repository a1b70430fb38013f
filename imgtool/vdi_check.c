/* vdi_check.c - what imgtool check finds in a VDI the reader could open: offsets,
 * a block size, flags and UUIDs that QEMU or VirtualBox would refuse, counts that
 * disagree with the block map, and data blocks that two blocks share.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "report.h"
#include "vdi.h"

/* Shared data blocks named one by one; a map that is all duplicates would otherwise
 * make a sentence per entry. */
#define VDI_SHARED_SHOWN 10u

/* Faults beyond what opening refuses: what QEMU or VirtualBox would reject or
 * misread, and counts that disagree. */
void vdi_check(struct disk *d, struct faults *f)
{
	struct vdi_disk *v = (struct vdi_disk *)d;
	const char *path = d->file.path;
	uint64_t map_end = v->map_off + 4ull * v->blocks;
	uint64_t need = (v->disk_size + v->block_size - 1) / v->block_size;
	uint32_t *owner, used = 0, shared = 0;

	if (v->data_off < map_end)
		fault(f, "%s: the data area (offset %u) starts inside the block map, which ends "
		      "at %llu; VirtualBox refuses such an image.", path, v->data_off,
		      (unsigned long long)map_end);
	if (v->map_off % SECTOR || v->data_off % SECTOR)
		fault(f, "%s: the block map (offset %u) or the data area (offset %u) does not "
		      "start on a 512-byte boundary; QEMU refuses such an image.", path,
		      v->map_off, v->data_off);
	if (v->block_size != VDI_BLOCK)
		fault(f, "%s: its blocks are %u bytes; QEMU reads only 1 MiB blocks.", path,
		      v->block_size);
	if (v->disk_size % SECTOR)
		fault(f, "%s: its disk size %llu is not a whole number of 512-byte sectors.",
		      path, (unsigned long long)v->disk_size);
	if (v->blocks != need)
		fault(f, "%s: the header counts %u blocks, but a disk of %llu bytes needs "
		      "%llu.", path, v->blocks, (unsigned long long)v->disk_size,
		      (unsigned long long)need);
	if (v->flags & ~VDI_FLAG_ZERO_EXPAND)
		fault(f, "%s: its flags 0x%08x include ones VirtualBox does not define; it "
		      "refuses such an image.", path, v->flags);
	if (uuid_is_null(&v->create))
		fault(f, "%s: its create UUID is null; VirtualBox refuses such an image.", path);
	if (uuid_is_null(&v->modify))
		fault(f, "%s: its modify UUID is null; VirtualBox refuses such an image.", path);
	if (!uuid_is_null(&v->link))
		fault(f, "%s: its link UUID is not null, but it is not a differencing image.",
		      path);
	if (!uuid_is_null(&v->parent))
		fault(f, "%s: its parent UUID is not null, but it is not a differencing image.",
		      path);

	/* Which block owns each data index; opening made every index < allocated. */
	owner = malloc((v->allocated ? v->allocated : 1) * sizeof *owner);
	if (!owner) {
		fault(f, "%s: out of memory checking its block map.", path);
		return;
	}
	memset(owner, 0xFF, (v->allocated ? v->allocated : 1) * sizeof *owner);
	for (uint32_t b = 0; b < v->blocks; b++) {
		uint32_t e = v->map[b];

		if (!VDI_IS_DATA(e))
			continue;
		used++;
		if (owner[e] == VDI_FREE)
			owner[e] = b;
		else if (shared++ < VDI_SHARED_SHOWN)
			fault(f, "%s: blocks %u and %u both use data block %u.", path,
			      owner[e], b, e);
	}
	free(owner);
	if (shared > VDI_SHARED_SHOWN)
		fault(f, "%s: %u more blocks use a data block that another block uses.", path,
		      shared - VDI_SHARED_SHOWN);
	if (used != v->allocated)
		fault(f, "%s: the header counts %u allocated blocks, but the block map uses %u.",
		      path, v->allocated, used);
}
