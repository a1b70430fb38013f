/* disk.h - reading images: the files under them, and the virtual disk they hold.
 *
 * Every format's reader turns its files into a struct disk: a virtual size, a way
 * to read any byte range, and a way to ask which ranges are stored at all. Writers
 * take a struct disk as their source, so any format converts to any other, and
 * ranges that are not stored are never read or written.
 */
#ifndef IMGTOOL_DISK_H
#define IMGTOOL_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SECTOR 512u

/* A file opened for reading, with its size at open time. */
struct infile {
	int fd;
	char *path;		/* as the user named it (owned) */
	uint64_t size;
};

/* Open path read-only; it must be a regular file (or a block device). */
int infile_open(struct infile *f, const char *path, struct msg *m);
/* Read exactly len bytes at off. Reading past the end of the file is an error that
 * says the file is truncated: "X is truncated: WHAT at byte N runs past its end (M)." */
int infile_read(const struct infile *f, void *buf, size_t len, uint64_t off,
		const char *what, struct msg *m);
void infile_close(struct infile *f);
/* Where the file keeps data, from off up to limit (<= its size): *run > 0 bytes that
 * the file system stores (*stored) or leaves as a hole. Without SEEK_DATA (or on a
 * block device) everything counts as stored, which is always correct, only slower. */
void infile_data(const struct infile *f, uint64_t off, uint64_t limit, uint64_t *run,
		 bool *stored);

struct format;
struct info;
struct faults;
struct progress;

/* A virtual disk read from an image. A reader allocates its own struct with a
 * struct disk first and fills in the operations. */
struct disk {
	const struct format *fmt;
	uint64_t size;			/* virtual size in bytes */
	struct infile file;		/* the image file itself (closed by disk_close) */
	struct progress *progress;	/* convert -p: disk_each_data reports to it; or NULL */

	/* Read [off, off + len) of the virtual disk; the caller keeps it in bounds.
	 * Unstored ranges read as zeros. */
	int (*read)(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m);
	/* From off (< size): *run > 0 bytes that are all stored (*stored = true: they may
	 * hold data) or all unstored (*stored = false: they read as zeros). */
	int (*status)(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		      struct msg *m);
	/* Add this format's own facts (subformat, UUIDs, geometry...) to i; may be NULL. */
	void (*info)(struct disk *d, struct info *i);
	/* Look deeper than opening did (tables, counts, overlaps); one fault per problem;
	 * may be NULL. */
	void (*check)(struct disk *d, struct faults *f);
	/* Release what the reader allocated, but not the struct disk's file; may be NULL. */
	void (*release)(struct disk *d);
};

/* Bounds-checked read of the virtual disk. */
int disk_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m);
/* Bytes of the disk that are stored (what "allocated" reports). */
int disk_stored_bytes(struct disk *d, uint64_t *bytes, struct msg *m);
/* Release the reader's data, close the file, free d. */
void disk_close(struct disk *d);
/* *d grown to size bytes (more than its size): a disk that reads as *d up to its end
 * and as zeros after it, stores nothing there, and closes *d when it is closed. On
 * failure (out of memory) *d is left as it was. */
int disk_grow(struct disk **d, uint64_t size, struct msg *m);

/* The content identity of a disk: a 128-bit hash of its virtual size and of every
 * non-zero 512-byte sector with its offset. Zero sectors do not count, so the value
 * does not depend on how a format stores them; it seeds UUIDs and the VMDK CID. */
struct digest {
	uint64_t h[2];
};

/* Called for each unit holding a non-zero byte: off is unit-aligned, len is the unit
 * size (the last unit of the disk may be shorter), data is the unit's bytes. */
typedef int (*unit_fn)(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		       struct msg *m);

/* Visit every unit of d that holds a non-zero byte, in order. Unstored ranges are
 * skipped unread; stored units of zeros are read and skipped. unit is a multiple of
 * 512. If sum is not NULL it receives the content digest. Every writer walks its
 * source this way, once, so this is where d->progress hears how far it has got. */
int disk_each_data(struct disk *d, size_t unit, unit_fn fn, void *ctx,
		   struct digest *sum, struct msg *m);

/* True if len bytes at p are all zero. */
bool is_zero(const void *p, size_t len);

#endif
