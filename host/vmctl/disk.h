/* disk.h - the sandboxes' home disks: one empty ext4 base per size, cached, and a
 * qcow2 overlay on it per sandbox.
 *
 * Formatting 8 GiB of ext4 takes about a second; a qcow2 overlay whose backing file is
 * that filesystem takes a few milliseconds and holds only what the sandbox writes. So
 * the base is made once per size, in the cache folder, and every sandbox gets its own
 * overlay from imgtool. The base is never written after it is renamed into place: QEMU
 * opens a backing file read-only, and every write lands in the overlay.
 *
 * The programs: imgtool from $VMCTL_IMGTOOL, else beside this vmctl (build/ in the
 * source tree, PREFIX/bin when installed), as vmctl finds qemu-boot; mkfs.ext4 from
 * $VMCTL_MKFS_EXT4, else the PATH, /usr/sbin and /sbin (a user's PATH on Debian has no
 * sbin).
 */
#ifndef VMCTL_DISK_H
#define VMCTL_DISK_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* The smallest home disk, and the unit of its size: ext4 with a journal wants a few
 * MiB, and whole MiB keep every block group whole. */
#define DISK_MIN_SIZE (16ull << 20)
#define DISK_SIZE_UNIT (1ull << 20)
/* --disk's default, as issue 12 asks: sparse, so it costs what is written. */
#define DISK_DEFAULT_SIZE (8ull << 30)
#define DISK_MAX_SIZE (16ull << 40)	/* ext4's limit with 4 KiB blocks */

/* The base for a disk of size bytes: cache_dir/home-SIZE.ext4 (cache_dir is made 0700
 * when missing). Made when missing or damaged (not a regular file of exactly size
 * bytes holding an ext4 superblock that says so): a sparse raw file from imgtool,
 * formatted by mkfs.ext4 with the root folder root's and 5% reserved for root, under a
 * temporary name, synced and renamed into place. An flock on cache_dir/home-SIZE.lock
 * makes two vmctl at once make it once; neither sees it half made. path gets the
 * base's name. */
int disk_base(const char *cache_dir, unsigned long long size, char *path, size_t path_size,
	      struct msg *m);

/* The overlay of one sandbox: a qcow2 whose backing file is base (recorded as given, so
 * a relative name is relative to the overlay's folder), mode 0600, written whole or not
 * at all by imgtool; one already at overlay is replaced. */
int disk_create(const char *base, const char *overlay, struct msg *m);

/* Copy the file src to dst (new, 0600), synced when durable; the holes of a sparse
 * file stay holes (SEEK_DATA), so a qcow2 costs what it holds. A failed copy leaves
 * no dst. */
int disk_copy(const char *src, const char *dst, bool durable, struct msg *m);

#endif
