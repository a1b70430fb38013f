/* fuzz_reader.c - libFuzzer target for imgtool's readers.
 *
 * Built once per format (-DFUZZ_FORMAT=fmt_qcow2 ...): the input becomes a file that
 * the format's reader opens directly, probe or not, and then everything a user could
 * ask of it is done: info, check, the allocation walk, and reading what is stored (up
 * to a budget, as a fuzzed header may claim an exabyte). Any crash, hang, leak or
 * sanitizer report is a bug in the reader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk.h"
#include "format.h"
#include "report.h"

#define READ_BUDGET (8u << 20)	/* bytes read back per input */
#define RUN_BUDGET 4096		/* status() calls per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(struct disk *d)
{
	static unsigned char buf[1 << 16];
	struct info info = { .n = 0 };
	struct faults faults = { .n = 0 };
	uint64_t off = 0, run, read = 0;
	bool stored;
	struct msg m;

	if (d->info)
		d->info(d, &info);
	if (d->check)
		d->check(d, &faults);
	faults_free(&faults);
	for (int calls = 0; off < d->size && calls < RUN_BUDGET; calls++) {
		if (d->status(d, off, &run, &stored, &m) < 0 || run == 0 || run > d->size - off)
			return;
		for (uint64_t at = off; stored && at < off + run && read < READ_BUDGET;
		     at += sizeof buf) {
			size_t len = off + run - at < sizeof buf ? (size_t)(off + run - at) : sizeof buf;

			if (disk_read(d, buf, len, at, &m) < 0)
				return;
			read += len;
		}
		off += run;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	extern const struct format FUZZ_FORMAT;
	char path[64];
	struct infile f;
	struct disk *d = NULL;
	struct msg m;
	int fd = memfd_create("image", MFD_CLOEXEC);

	if (fd == -1)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (infile_open(&f, path, &m) == 0) {
		if (FUZZ_FORMAT.open(&f, &d, &m) == 0)
			exercise(d);
		disk_close(d);
	} else {
		infile_close(&f);
	}
	close(fd);
	return 0;
}
