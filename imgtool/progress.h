/* progress.h - convert -p: how much of the source disk has been walked.
 *
 * One line, redrawn in place as qemu-img convert -p draws it ("    (12.34/100%)"), at
 * most once per whole percent or once per 100 ms, so a fast conversion does not spend
 * its time on the terminal; the caller gives it a terminal only, as a log or a pipe
 * would fill with carriage returns. disk_each_data (disk.h) reports to it, so every
 * writer shows progress without a line of its own.
 */
#ifndef IMGTOOL_PROGRESS_H
#define IMGTOOL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct progress {
	FILE *out;
	uint64_t total;			/* bytes of the virtual disk */
	unsigned shown;			/* hundredths of a percent last drawn */
	struct timespec last;		/* when it was last drawn */
};

/* Draw 0.00% on out; total is the virtual size of the disk being walked. */
void progress_start(struct progress *p, FILE *out, uint64_t total);
/* done bytes of total are walked: redraw when a whole percent more is done than was
 * shown, or when 100 ms have passed and the figure changed. */
void progress_update(struct progress *p, uint64_t done);
/* Draw 100% when ok, and end the line either way, so that what comes next (an error
 * message too) starts a line of its own. */
void progress_end(struct progress *p, bool ok);

#endif
