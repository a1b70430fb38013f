/* tar.h - writing tar archives, the container of every package imgtool makes.
 *
 * An OVA is a USTAR archive; a GCE image is an old-GNU archive (GCE refuses USTAR
 * and PAX) whose one member is stored sparse; a Vagrant box is a gzipped archive.
 * Members are written front to back into one output file (output.h), so the archive
 * is whole or not there at all. Every header is the same on every run: owner and
 * group 0 named "root", mode 0644, and one fixed time for every member; the gzip
 * layer records no name, time 0 and a fixed OS byte.
 *
 * The layout is POSIX.1-1988 ustar (pax(1), "ustar Interchange Format"): 512-byte
 * blocks, a header block per member, its data padded to a block, two zero blocks at
 * the end. Old-GNU differs in its magic ("ustar  \0" at 257) and in its sparse
 * members (type 'S'): a map of (offset, length) pairs, four in the header at 386,
 * more in extension blocks of 21, the flag at 482 saying one follows, the file's
 * real size at 483; the data is the mapped ranges only, one after the other.
 */
#ifndef IMGTOOL_TAR_H
#define IMGTOOL_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "disk.h"
#include "output.h"
#include "util.h"

#define TAR_BLOCK 512u
#define TAR_NAME_MAX 100u	/* a member name fits the header's name field */

enum tar_kind {
	TAR_USTAR,		/* POSIX ustar: "ustar\0" "00" */
	TAR_OLDGNU,		/* GNU tar's --format=oldgnu: "ustar  \0", sparse members */
};

struct tar {
	struct outfile *f;
	enum tar_kind kind;
	uint64_t mtime;		/* every member's time */
	uint64_t pos;		/* bytes of the archive so far (before gzip) */
	uint64_t out;		/* bytes written to f */
	bool gzip;
	bool z_live;		/* z needs deflateEnd */
	z_stream z;
	unsigned char *zbuf;
};

/* Start an archive of kind written to f, gzipped when gzip is true; every member is
 * dated mtime (seconds since 1970). */
int tar_begin(struct tar *t, struct outfile *f, enum tar_kind kind, bool gzip,
	      uint64_t mtime, struct msg *m);
/* A member holding len bytes of data. */
int tar_add(struct tar *t, const char *name, const void *data, size_t len, struct msg *m);
/* A member holding the whole of the file in. */
int tar_add_file(struct tar *t, const char *name, const struct infile *in, struct msg *m);
/* A sparse member (old-GNU archives only) holding the virtual disk d: only the
 * 512-byte sectors that hold a non-zero byte are stored, the rest is the map's holes.
 * The map comes from the content, not from where the source file has holes, so the
 * archive is the same whatever file system the source was on. */
int tar_add_sparse(struct tar *t, const char *name, struct disk *d, struct msg *m);
/* The end-of-archive blocks, and the end of the gzip stream; the file ends there. */
int tar_end(struct tar *t, struct msg *m);
/* Release what tar_begin allocated (after tar_end, or instead of it on failure). */
void tar_free(struct tar *t);

#endif
