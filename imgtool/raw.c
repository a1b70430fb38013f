/* raw.c - raw disk images: the virtual disk byte for byte.
 *
 * Reading asks the file system where the file's data is (SEEK_DATA/SEEK_HOLE), so a
 * sparse 64 GiB raw disk converts without reading its holes. Writing leaves zero
 * ranges as holes. A raw disk whose size is not a whole number of sectors reads as if
 * zero-padded to the next sector, as every container stores whole sectors.
 */
#include "raw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "output.h"
#include "report.h"

/* --- reading a raw file ------------------------------------------------------------ */

static int raw_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	uint64_t have = off < d->file.size ? d->file.size - off : 0;
	size_t from_file = len < have ? len : (size_t)have;

	if (from_file && infile_read(&d->file, buf, from_file, off, "data", m) < 0)
		return -1;
	memset((char *)buf + from_file, 0, len - from_file);
	return 0;
}

/* Past the end of the file is the zero padding to a whole sector. */
static int raw_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		      struct msg *m)
{
	(void)m;
	if (off >= d->file.size) {
		*run = d->size - off;
		*stored = false;
		return 0;
	}
	infile_data(&d->file, off, d->file.size, run, stored);
	return 0;
}

static void raw_check(struct disk *d, struct faults *f)
{
	/* A raw disk has no structure to be wrong; only its size can be odd. */
	if (d->file.size % SECTOR)
		fault(f, "%s is %llu bytes, not a whole number of 512-byte sectors; it reads "
		      "as if padded with zeros.", d->file.path,
		      (unsigned long long)d->file.size);
}

static struct disk *raw_disk(struct infile *f)
{
	struct disk *d = calloc(1, sizeof *d);

	if (!d)
		return NULL;
	d->fmt = &fmt_raw;
	d->file = *f;
	d->size = (f->size + SECTOR - 1) / SECTOR * SECTOR;
	d->read = raw_read;
	d->status = raw_status;
	d->check = raw_check;
	return d;
}

static int raw_open(struct infile *f, struct disk **d, struct msg *m)
{
	*d = raw_disk(f);
	if (!*d) {
		fail_errno(m, "cannot open %s", f->path);
		infile_close(f);
		return -1;
	}
	return 0;
}

/* --- a boot program as a disk --------------------------------------------------------- */

struct boot_disk {
	struct disk d;
	unsigned char sector[SECTOR];	/* the program, zeros, and the signature */
	unsigned char *rest;		/* a --force program longer than a sector */
	size_t len;			/* bytes of program */
};

static int boot_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	struct boot_disk *b = (struct boot_disk *)d;
	unsigned char *out = buf;

	(void)m;
	memset(out, 0, len);
	for (size_t i = 0; i < len && off + i < SECTOR; i++)
		out[i] = b->sector[off + i];
	for (uint64_t at = off > SECTOR ? off : SECTOR; at < off + len && at < b->len; at++)
		out[at - off] = b->rest[at - SECTOR];
	return 0;
}

static int boot_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		       struct msg *m)
{
	struct boot_disk *b = (struct boot_disk *)d;
	uint64_t end = b->len > SECTOR ? (b->len + SECTOR - 1) / SECTOR * SECTOR : SECTOR;

	(void)m;
	*stored = off < end;
	*run = off < end ? end - off : d->size - off;
	return 0;
}

static void boot_info(struct disk *d, struct info *i)
{
	struct boot_disk *b = (struct boot_disk *)d;

	info_str(i, "boot program", "%zu bytes", b->len);
}

static void boot_release(struct disk *d)
{
	free(((struct boot_disk *)d)->rest);
}

int boot_program_open(struct infile *f, bool force, struct disk **d, struct msg *m)
{
	struct boot_disk *b;
	unsigned char head[SECTOR] = { 0 };
	size_t len = f->size > SIZE_MAX ? SIZE_MAX : (size_t)f->size;
	bool signed_sector;
	int rc = -1;

	*d = NULL;
	if (f->size == 0) {
		rc = fail(m, "%s is empty; a boot program is 256 bytes.", f->path);
		goto out;
	}
	if (f->size > BOOT_DISK_SIZE) {
		rc = fail(m, "%s is %llu bytes: more than the 1 MiB disk it would boot from.",
			  f->path, (unsigned long long)f->size);
		goto out;
	}
	if (infile_read(f, head, len < SECTOR ? len : SECTOR, 0, "the program", m) < 0)
		goto out;
	signed_sector = len == SECTOR && head[510] == 0x55 && head[511] == 0xAA;
	if (!force && len == SECTOR && !signed_sector) {
		rc = fail(m, "%s is a 512-byte sector without the boot signature 0x55 0xAA at "
			  "510; --force takes it as it is.", f->path);
		goto out;
	}
	if (!force && len != 256 && len != SECTOR) {
		rc = fail(m, "%s is %zu bytes; a boot program is 256 bytes (or a 512-byte "
			  "sector ending in 0x55 0xAA). --force takes it anyway.", f->path, len);
		goto out;
	}

	b = calloc(1, sizeof *b);
	if (!b) {
		rc = fail_errno(m, "cannot open %s", f->path);
		goto out;
	}
	memcpy(b->sector, head, sizeof head);
	b->len = len;
	if (len <= BOOT_SIGNATURE_OFFSET) {
		b->sector[510] = 0x55;
		b->sector[511] = 0xAA;
	}
	if (len > SECTOR) {
		b->rest = malloc(len - SECTOR);
		if (!b->rest || infile_read(f, b->rest, len - SECTOR, SECTOR, "the program", m) < 0) {
			if (!b->rest)
				fail_errno(m, "cannot open %s", f->path);
			free(b->rest);
			free(b);
			goto out;
		}
	}
	b->d.fmt = &fmt_raw;
	b->d.file = *f;
	b->d.size = BOOT_DISK_SIZE;
	b->d.read = boot_read;
	b->d.status = boot_status;
	b->d.info = boot_info;
	b->d.check = raw_check;
	b->d.release = boot_release;
	*d = &b->d;
	return 0;
out:
	infile_close(f);
	return rc;
}

/* --- writing ------------------------------------------------------------------------- */

struct raw_writer {
	struct outfile *out;
};

static int raw_unit(void *ctx, uint64_t off, const unsigned char *data, size_t len,
		    struct msg *m)
{
	struct raw_writer *w = ctx;

	return out_write(w->out, data, len, off, m);
}

/* 64 KiB units: few system calls, and zero runs of that size become holes. */
#define RAW_UNIT (64u << 10)

static int raw_write(struct disk *src, const char *path, const struct opts *o,
		     struct msg *m)
{
	struct output out = { .n = 0 };
	struct raw_writer w;

	(void)o;
	if (output_add(&out, path, &w.out, m) < 0 ||
	    disk_each_data(src, RAW_UNIT, raw_unit, &w, NULL, m) < 0 ||
	    out_set_size(w.out, src->size, m) < 0 ||
	    output_commit(&out, m) < 0) {
		output_discard(&out);
		return -1;
	}
	return 0;
}

static bool raw_probe(const struct infile *f, const unsigned char *head, size_t n)
{
	(void)f;
	(void)head;
	(void)n;
	return true;
}

const struct format fmt_raw = {
	.name = "raw",
	.ext = ".img",
	.summary = "the disk byte for byte (zero ranges left as holes)",
	.opts = (const struct opt_spec[]){ { NULL, NULL } },
	.probe = raw_probe,
	.open = raw_open,
	.write = raw_write,
};
