/* commands.c - convert, info and check. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "disk.h"
#include "format.h"
#include "progress.h"
#include "report.h"

/* Refuse to write over the input: the write would read what it is destroying. */
static int same_file(const char *in, const char *out, struct msg *m)
{
	struct stat a, b;

	if (stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && S_ISREG(b.st_mode))
		return fail(m, "%s is the input %s; write the output to another file.", out, in);
	return 0;
}

int cmd_convert(const struct cli *c, struct msg *m)
{
	const struct format *fmt = c->out_fmt;
	struct progress progress;
	struct disk *src;
	int rc;

	if (!fmt && !(fmt = format_by_path(c->arg[1], m)))
		return -1;
	if (opts_validate(&c->opts, fmt->opts, fmt->name, m) < 0 ||
	    same_file(c->arg[0], c->arg[1], m) < 0)
		return -1;
	if (image_open(c->arg[0], c->in_fmt, c->opts.force, &src, m) < 0)
		return -1;
	/* Only a person watching a terminal wants the line redrawn; a log does not. */
	if (c->progress && isatty(STDERR_FILENO)) {
		progress_start(&progress, stderr, src->size);
		src->progress = &progress;
	}
	rc = fmt->write(src, c->arg[1], &c->opts, m);
	if (src->progress)
		progress_end(&progress, rc == 0);
	disk_close(src);
	return rc;
}

int cmd_info(const struct cli *c, struct msg *m)
{
	struct info i = { .n = 0 };
	struct disk *d;
	uint64_t stored;

	if (image_open(c->arg[0], c->in_fmt, true, &d, m) < 0)
		return -1;
	if (disk_stored_bytes(d, &stored, m) < 0) {
		disk_close(d);
		return -1;
	}
	info_str(&i, "image", "%s", c->arg[0]);
	info_str(&i, "format", "%s", d->fmt->name);
	info_num(&i, "virtual size", d->size);
	info_num(&i, "file size", d->file.size);
	info_num(&i, "allocated", stored);
	if (d->info)
		d->info(d, &i);
	if (c->json)
		info_print_json(stdout, &i);
	else
		info_print_text(stdout, &i);
	disk_close(d);
	return 0;
}

/* Every stored byte must be readable: a table that points past the end of the file
 * is found here even when the format's own check missed it. */
static void check_reads(struct disk *d, struct faults *f)
{
	static unsigned char buf[1 << 20];
	uint64_t off = 0, run;
	bool stored;
	struct msg m;

	while (off < d->size) {
		if (d->status(d, off, &run, &stored, &m) < 0) {
			fault(f, "%s", m.text);
			return;
		}
		if (run == 0 || run > d->size - off) {
			fault(f, "%s: the allocation map is inconsistent at byte %llu.",
			      d->file.path, (unsigned long long)off);
			return;
		}
		for (uint64_t at = off; stored && at < off + run; at += sizeof buf) {
			size_t len = off + run - at < sizeof buf ? (size_t)(off + run - at)
								 : sizeof buf;

			if (disk_read(d, buf, len, at, &m) < 0) {
				fault(f, "%s", m.text);
				return;
			}
		}
		off += run;
	}
}

int cmd_check(const struct cli *c, struct msg *m)
{
	struct faults f = { .n = 0 };
	struct disk *d;
	int rc;

	if (image_open(c->arg[0], c->in_fmt, true, &d, m) < 0)
		return -1;
	if (d->check)
		d->check(d, &f);
	if (f.n == 0 && f.lost == 0)
		check_reads(d, &f);
	for (size_t k = 0; k < f.n; k++)
		fprintf(stderr, "imgtool: %s\n", f.text[k]);
	if (f.lost)
		fprintf(stderr, "imgtool: %zu more faults could not be recorded (out of memory).\n",
			f.lost);
	rc = f.n || f.lost;
	if (!rc)
		printf("%s: %s, virtual size %llu, no faults.\n", c->arg[0], d->fmt->name,
		       (unsigned long long)d->size);
	faults_free(&f);
	disk_close(d);
	return rc;
}
