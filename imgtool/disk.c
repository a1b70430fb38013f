/* disk.c - see disk.h. */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "format.h"
#include "progress.h"

int infile_open(struct infile *f, const char *path, struct msg *m)
{
	struct stat st;

	f->fd = -1;
	f->path = strdup(path);
	f->size = 0;
	if (!f->path)
		return fail_errno(m, "cannot open %s", path);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (f->fd == -1)
		return fail_errno(m, "cannot open %s", path);
	if (fstat(f->fd, &st) == -1)
		return fail_errno(m, "cannot read %s", path);
	fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK);
	if (S_ISDIR(st.st_mode))
		return fail(m, "%s is a folder, not a disk image.", path);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, &f->size) == -1)
			return fail_errno(m, "cannot tell the size of %s", path);
	} else if (S_ISREG(st.st_mode)) {
		f->size = (uint64_t)st.st_size;
	} else {
		return fail(m, "%s is not a file or a block device.", path);
	}
	return 0;
}

int infile_read(const struct infile *f, void *buf, size_t len, uint64_t off,
		const char *what, struct msg *m)
{
	size_t done = 0;

	if (off > f->size || len > f->size - off)
		return fail(m, "%s is truncated: %s at byte %llu runs past its end (%llu).",
			    f->path, what, (unsigned long long)off,
			    (unsigned long long)f->size);
	while (done < len) {
		ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return fail_errno(m, "cannot read %s", f->path);
		if (n == 0)
			return fail(m, "%s is truncated: %s at byte %llu runs past its end.",
				    f->path, what, (unsigned long long)off);
		done += (size_t)n;
	}
	return 0;
}

void infile_data(const struct infile *f, uint64_t off, uint64_t limit, uint64_t *run,
		 bool *stored)
{
	off_t data = lseek(f->fd, (off_t)off, SEEK_DATA), hole;

	if (data == -1 || (uint64_t)data >= limit) {
		*stored = data == -1 && errno != ENXIO;	/* ENXIO: a hole to the end */
		*run = limit - off;
		return;
	}
	if ((uint64_t)data > off) {
		*stored = false;
		*run = (uint64_t)data - off;
		return;
	}
	hole = lseek(f->fd, (off_t)off, SEEK_HOLE);
	if (hole == -1 || (uint64_t)hole <= off || (uint64_t)hole > limit)
		hole = (off_t)limit;
	*stored = true;
	*run = (uint64_t)hole - off;
}

void infile_close(struct infile *f)
{
	if (f->fd != -1)
		close(f->fd);
	free(f->path);
	f->fd = -1;
	f->path = NULL;
}

int disk_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	if (off > d->size || len > d->size - off)
		return fail(m, "a read at byte %llu of %s is beyond its virtual size %llu.",
			    (unsigned long long)off, d->file.path,
			    (unsigned long long)d->size);
	return len ? d->read(d, buf, len, off, m) : 0;
}

int disk_stored_bytes(struct disk *d, uint64_t *bytes, struct msg *m)
{
	uint64_t off = 0, run;
	bool stored;

	*bytes = 0;
	while (off < d->size) {
		if (d->status(d, off, &run, &stored, m) < 0)
			return -1;
		if (run == 0 || run > d->size - off)
			return fail(m, "%s: the %s reader reported a bad run at byte %llu.",
				    d->file.path, d->fmt->name, (unsigned long long)off);
		if (stored)
			*bytes += run;
		off += run;
	}
	return 0;
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	if (d->release)
		d->release(d);
	infile_close(&d->file);
	free(d);
}

/* --- a disk grown past its end (convert -o size=) ------------------------------------ */

struct grown {
	struct disk d;		/* first: the writers see a struct disk */
	struct disk *inner;
};

static int grown_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	struct grown *g = (struct grown *)d;
	uint64_t have = g->inner->size;
	size_t in = off < have ? (size_t)(have - off < len ? have - off : len) : 0;

	if (in && g->inner->read(g->inner, buf, in, off, m) < 0)
		return -1;
	memset((unsigned char *)buf + in, 0, len - in);
	return 0;
}

static int grown_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
			struct msg *m)
{
	struct grown *g = (struct grown *)d;

	if (off < g->inner->size)
		return g->inner->status(g->inner, off, run, stored, m);
	*run = d->size - off;
	*stored = false;
	return 0;
}

static void grown_release(struct disk *d)
{
	struct grown *g = (struct grown *)d;

	/* the file is the inner disk's: it closes it */
	disk_close(g->inner);
	d->file.fd = -1;
	d->file.path = NULL;
}

int disk_grow(struct disk **d, uint64_t size, struct msg *m)
{
	struct grown *g = calloc(1, sizeof *g);

	if (!g)
		return fail(m, "out of memory.");
	g->inner = *d;
	g->d.fmt = (*d)->fmt;
	g->d.size = size;
	g->d.file = (*d)->file;
	g->d.read = grown_read;
	g->d.status = grown_status;
	g->d.release = grown_release;
	*d = &g->d;
	return 0;
}

bool is_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	/* Word at a time where aligned; the compiler vectorises the loop. */
	while (len && ((uintptr_t)b & 7)) {
		if (*b++)
			return false;
		len--;
	}
	for (; len >= 64; b += 64, len -= 64) {
		uint64_t w[8], acc = 0;

		memcpy(w, b, 64);
		for (int i = 0; i < 8; i++)
			acc |= w[i];
		if (acc)
			return false;
	}
	while (len--)
		if (*b++)
			return false;
	return true;
}

/* --- the content digest -----------------------------------------------------------
 * Two 64-bit lanes of multiply-rotate mixing over the sector's words, keyed by the
 * sector's offset, folded into the running sum. Not cryptographic: it only has to make
 * different disks give different UUIDs, at memory speed. */

#define K1 0x9E3779B97F4A7C15ull
#define K2 0xC2B2AE3D27D4EB4Full
#define K3 0x165667B19E3779F9ull

static uint64_t rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

static uint64_t avalanche(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDull;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ull;
	x ^= x >> 33;
	return x;
}

static void digest_sector(struct digest *sum, uint64_t off, const unsigned char *s)
{
	uint64_t a = off * K1 ^ K3, b = off * K2 ^ K1;

	for (size_t i = 0; i < SECTOR; i += 16) {
		uint64_t w0, w1;

		memcpy(&w0, s + i, 8);
		memcpy(&w1, s + i + 8, 8);
		a = rotl(a ^ w0 * K1, 31) * K2;
		b = rotl(b ^ w1 * K2, 29) * K1;
	}
	sum->h[0] = avalanche(sum->h[0] ^ a) + b;
	sum->h[1] = avalanche(sum->h[1] ^ b) + a;
}

static void digest_unit(struct digest *sum, uint64_t off, const unsigned char *data,
			size_t len)
{
	unsigned char last[SECTOR];

	for (size_t i = 0; i < len; i += SECTOR) {
		const unsigned char *s = data + i;

		if (len - i < SECTOR) {		/* a disk that ends inside a sector */
			memset(last, 0, sizeof last);
			memcpy(last, s, len - i);
			s = last;
		}
		if (!is_zero(s, SECTOR))
			digest_sector(sum, off + i, s);
	}
}

int disk_each_data(struct disk *d, size_t unit, unit_fn fn, void *ctx,
		   struct digest *sum, struct msg *m)
{
	unsigned char *buf;
	uint64_t off = 0;
	int rc = 0;

	if (unit == 0 || unit % SECTOR)
		return fail(m, "internal error: a unit of %zu bytes.", unit);
	/* Readers cap virtual sizes far below this; unit arithmetic near 2^64 would wrap. */
	if (d->size > UINT64_MAX / 2)
		return fail(m, "%s claims a virtual size of %llu bytes, more than can be read.",
			    d->file.path, (unsigned long long)d->size);
	buf = malloc(unit);
	if (!buf)
		return fail_errno(m, "cannot hold a unit of %zu bytes", unit);
	if (sum) {
		sum->h[0] = avalanche(d->size ^ K1);
		sum->h[1] = avalanche(d->size ^ K2);
	}
	while (rc == 0 && off < d->size) {
		uint64_t run;
		bool stored;

		rc = d->status(d, off, &run, &stored, m);
		if (rc < 0)
			break;
		if (run == 0 || run > d->size - off) {
			rc = fail(m, "%s: the %s reader reported a bad run at byte %llu.",
				  d->file.path, d->fmt->name, (unsigned long long)off);
			break;
		}
		if (!stored) {
			off += run;
			if (d->progress)
				progress_update(d->progress, off);
			continue;
		}
		/* Every unit that the stored run touches, from the unit holding off. */
		uint64_t end = off + run;

		for (uint64_t u = off - off % unit; rc == 0 && u < end; u += unit) {
			size_t len = d->size - u < unit ? (size_t)(d->size - u) : unit;

			rc = disk_read(d, buf, len, u, m);
			if (rc == 0 && !is_zero(buf, len)) {
				if (sum)
					digest_unit(sum, u, buf, len);
				rc = fn(ctx, u, buf, len, m);
			}
			if (rc == 0 && d->progress)
				progress_update(d->progress, u + len);
		}
		/* Resume after the last unit visited, not inside it. */
		off = end % unit ? end - end % unit + unit : end;
	}
	free(buf);
	return rc;
}
