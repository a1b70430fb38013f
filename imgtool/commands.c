/* commands.c - convert, create, pack, info and check. */
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "disk.h"
#include "format.h"
#include "pack.h"
#include "progress.h"
#include "report.h"

/* Refuse to write over the input (or the backing file): the write would read what it
 * is destroying. */
int same_file(const char *in, const char *out, const char *what, struct msg *m)
{
	struct stat a, b;

	if (stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && S_ISREG(b.st_mode))
		return fail(m, "%s is %s %s; write the output to another file.", out, what, in);
	return 0;
}

/* SIZE as qemu-img takes it: a number of bytes, or of K, M, G, T or P (binary). label
 * names it in a sentence ("SIZE ", "-o size="). */
static int parse_size(const char *label, const char *s, uint64_t *v, struct msg *m)
{
	static const char units[] = "KMGTP";
	uint64_t n = 0, scale = 1;
	const char *p = s, *u;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			goto bad;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		goto bad;
	if (*p && (u = strchr(units, *p == 'k' ? 'K' : *p))) {
		scale = 1ull << (10 * (u - units + 1));
		p++;
	}
	if (*p || n > UINT64_MAX / scale)
		goto bad;
	*v = n * scale;
	if (*v == 0)
		return fail(m, "%s0 makes a disk with no room in it; give its size in bytes.", label);
	if (*v % SECTOR)
		return fail(m, "%s%s is not a whole number of 512-byte sectors.", label, s);
	/* Every writer keeps offsets that fit an off_t. */
	if (*v > (uint64_t)INT64_MAX)
		return fail(m, "%s%s is larger than a file can be here.", label, s);
	return 0;
bad:
	return fail(m, "%s\"%s\" is not a size: give a number of bytes, or one followed by "
		    "K, M, G, T or P.", label, s);
}

int cmd_convert(const struct cli *c, struct msg *m)
{
	const struct format *fmt = c->out_fmt;
	struct opts o = c->opts;	/* the writer's: all but size= */
	const char *size_arg = NULL;
	struct progress progress;
	struct disk *src;
	uint64_t size = 0;
	int rc;

	if (!fmt && !(fmt = format_by_path(c->arg[1], m)))
		return -1;
	/* size= is every format's: the disk grown to it, the rest reading as zeros */
	for (size_t i = 0; i < o.n; i++)
		if (!strcmp(o.kv[i].key, "size")) {
			size_arg = o.kv[i].value;
			o.kv[i] = o.kv[--o.n];
			break;
		}
	if (o.compress && !fmt->compresses)
		return fail(m, fmt == &fmt_vmdk
			    ? "-c: a VMDK is compressed as -o subformat=streamOptimized, which "
			      "always is; give that instead."
			    : "-c: %s has no compressed form; qcow2 has (and VMDK's "
			      "streamOptimized always is).", fmt->name);
	if ((size_arg && parse_size("-o size=", size_arg, &size, m) < 0) ||
	    opts_validate(&o, fmt->opts, fmt->name, m) < 0 ||
	    same_file(c->arg[0], c->arg[1], "the input", m) < 0)
		return -1;
	if (image_open(c->arg[0], c->in_fmt, c->opts.force, &src, m) < 0)
		return -1;
	if (size_arg && size < src->size) {
		fail(m, "-o size=%s is smaller than %s (%llu bytes): convert grows a disk, it "
		     "never cuts one.", size_arg, c->arg[0], (unsigned long long)src->size);
		disk_close(src);
		return -1;
	}
	if (size > src->size && disk_grow(&src, size, m) < 0) {
		disk_close(src);
		return -1;
	}
	/* Only a person watching a terminal wants the line redrawn; a log does not. */
	if (c->progress && isatty(STDERR_FILENO)) {
		progress_start(&progress, stderr, src->size);
		src->progress = &progress;
	}
	rc = fmt->write(src, c->arg[1], &o, m);
	if (src->progress)
		progress_end(&progress, rc == 0);
	disk_close(src);
	return rc;
}

/* create writes an empty disk through the same writers as convert: its source is a
 * disk that stores nothing, so a writer skips all of it and writes only its tables. */
static int empty_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	(void)d;
	(void)off;
	(void)m;
	memset(buf, 0, len);
	return 0;
}

static int empty_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
			struct msg *m)
{
	(void)m;
	*run = d->size - off;
	*stored = false;
	return 0;
}

int cmd_create(const struct cli *c, struct msg *m)
{
	const struct format *fmt = c->out_fmt;
	struct disk empty = { .size = 0 }, *base = NULL;
	int rc;

	if (!fmt && !(fmt = format_by_path(c->arg[0], m)))
		return -1;
	if (opts_validate(&c->opts, fmt->opts, fmt->name, m) < 0)
		return -1;
	if (c->opts.backing && !fmt->backing)
		return fail(m, "%s images have no backing file; -b needs -f qcow2.", fmt->name);
	if (c->arg[1] && parse_size("SIZE ", c->arg[1], &empty.size, m) < 0)
		return -1;
	if (!c->arg[1] && !c->opts.backing)
		return fail(m, "create needs a SIZE, or a backing file (-b) to take it from.");
	if (c->opts.backing) {
		char *path;

		if (backing_open(c->arg[0], c->opts.backing, c->backing_fmt, &base, m) < 0)
			return -1;
		path = base->file.path;
		rc = same_file(path, c->arg[0], "the backing file", m);
		if (rc == 0 && !c->arg[1])
			empty.size = base->size;
		if (rc == 0 && empty.size < base->size)
			rc = fail(m, "SIZE %llu is smaller than the backing file %s (%llu bytes); an "
				  "overlay is at least as large as its backing file.",
				  (unsigned long long)empty.size, path,
				  (unsigned long long)base->size);
		disk_close(base);
		if (rc < 0)
			return -1;
	}
	empty.fmt = &fmt_raw;
	empty.file.fd = -1;
	empty.read = empty_read;
	empty.status = empty_status;
	if (!(empty.file.path = strdup(c->arg[0])))
		return fail_errno(m, "cannot write %s", c->arg[0]);
	rc = fmt->write(&empty, c->arg[0], &c->opts, m);
	free(empty.file.path);
	return rc;
}

int cmd_pack(const struct cli *c, struct msg *m)
{
	const struct package *p = c->package;
	struct vm_spec vm;
	struct disk *src;
	int rc;

	if (!p && !(p = package_by_path(c->arg[1], m)))
		return -1;
	/* Every value is checked before the disk is read: a bad one writes nothing. */
	if (opts_validate(&c->opts, p->opts, p->name, m) < 0 ||
	    vm_spec_parse(&vm, &c->opts, c->arg[1], p->named, m) < 0 ||
	    same_file(c->arg[0], c->arg[1], "the input", m) < 0)
		return -1;
	if (image_open(c->arg[0], c->in_fmt, c->opts.force, &src, m) < 0)
		return -1;
	rc = p->write(&src, c->arg[1], &vm, m);
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
