/* output.h - writing images all or nothing.
 *
 * Each output file is written as an unnamed or temporary file in the folder of its
 * final name, synced, and renamed into place only when every file of the image is
 * complete (VMDK flat has two). A failure, a full disk or a signal never leaves a
 * partial image behind and never touches a good one already there. An output that
 * exists and is not a regular file (/dev/full, a pipe, a block device) is written
 * in place: it cannot be replaced, only written.
 */
#ifndef IMGTOOL_OUTPUT_H
#define IMGTOOL_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define OUTPUT_MAX_FILES 2

struct outfile {
	int fd;
	char *path;		/* the final name */
	char *tmp;		/* the temporary name once linked, else NULL */
	int in_place;		/* an existing non-regular file, written directly */
	uint64_t size;		/* the end of what was written or set */
	uint64_t dirty_lo, dirty_hi, dirty;	/* written since write-back was last started */
};

struct output {
	struct outfile file[OUTPUT_MAX_FILES];
	size_t n;
};

/* Start an output file that will become path. */
int output_add(struct output *o, const char *path, struct outfile **f, struct msg *m);
/* Write len bytes at off; a short write or ENOSPC is an error naming the final path.
 * Every few MiB the kernel is asked to start writing back what was written, so that
 * the sync at commit does not find the whole image still to write. */
int out_write(struct outfile *f, const void *buf, size_t len, uint64_t off, struct msg *m);
/* The file ends at size: what was not written reads as zeros (a hole where the file
 * system has them). */
int out_set_size(struct outfile *f, uint64_t size, struct msg *m);
/* Sync every file and rename them all into place; then o is empty again. On
 * failure the caller discards o. */
int output_commit(struct output *o, struct msg *m);
/* Remove every file started that has not taken its final name, and empty o. */
void output_discard(struct output *o);
/* "dir/.name.imgtool-XXXXXX" beside path, for mkstemp or mkdtemp (malloc'ed; NULL when
 * out of memory): the hidden name every temporary file of imgtool's takes. */
char *output_hidden_name(const char *path);
/* An empty folder of the caller's to remove too if imgtool is stopped by a signal
 * (SIGINT, SIGTERM, SIGHUP) while it exists; NULL when it is gone. */
void output_track_folder(const char *dir);

#endif
