/* format.c - see format.h. */
#include "format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "raw.h"
#include "text.h"

const struct format *const formats[] = {
	&fmt_raw, &fmt_vhd, &fmt_vhdx, &fmt_vdi, &fmt_vmdk, &fmt_qcow2,
};
const size_t nformats = sizeof formats / sizeof formats[0];

#define SIG(s) s, sizeof s - 1

/* The signatures as QEMU 7.2's drivers probe them, checked no more strictly than QEMU
 * checks them: refusing one QEMU would not probe costs the user a -f raw, reading one
 * it would probe as raw gives them the wrong disk. */
const struct foreign foreign_formats[] = {
	{ "QED", SIG("QED\0"), false },			/* a little-endian u32 magic */
	{ "Parallels", SIG("WithoutFreeSpace"), false },
	{ "Parallels", SIG("WithouFreSpacExt"), false },	/* qemu-img writes this one */
	{ "LUKS", SIG("LUKS\xba\xbe"), false },		/* LUKS1 and LUKS2 alike */
	/* qcow2's own magic with version 1: versions 2 and 3 are qcow2, and any other is a
	 * qcow2 the qcow2 reader refuses with its version. */
	{ "qcow version 1", SIG("QFI\xfb\0\0\0\1"), false },
	/* VMDK's ESX Server 2 sparse extent: the vmdk reader refuses it too (-f vmdk). */
	{ "VMDK COWD", SIG("COWD"), false },
	/* A NUL-terminated string in a 32-byte field: QEMU compares it with strcmp. */
	{ "Bochs", SIG("Bochs Virtual HD Image\0"), false },
	/* A shell script that mounts the rest; QEMU compares the first lines of it. */
	{ "cloop", SIG("#!/bin/sh\n#V2.0 Format\n"), false },
	/* A UDIF trailer ("koly") is the image's last 512 bytes. QEMU itself probes DMG by
	 * the .dmg name only; the trailer is what its reader looks for. */
	{ "DMG", SIG("koly"), true },
};
const size_t nforeign = sizeof foreign_formats / sizeof foreign_formats[0];

void format_list(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < nformats; i++)
		list_append(buf, size, &len, i, nformats, formats[i]->name);
}

void foreign_list(char *buf, size_t size)
{
	const char *names[sizeof foreign_formats / sizeof foreign_formats[0]];
	size_t n = 0, len = 0;

	/* Parallels has two signatures, and one name. */
	for (size_t i = 0; i < nforeign; i++)
		if (n == 0 || strcmp(names[n - 1], foreign_formats[i].name) != 0)
			names[n++] = foreign_formats[i].name;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		list_append(buf, size, &len, i, n, names[i]);
}

const struct format *format_by_name(const char *name, struct msg *m)
{
	char list[128];

	for (size_t i = 0; i < nformats; i++)
		if (strcmp(name, formats[i]->name) == 0 ||
		    (formats[i]->alias && strcmp(name, formats[i]->alias) == 0))
			return formats[i];
	format_list(list, sizeof list);
	fail(m, "unknown format \"%s\"; the formats are %s.", name, list);
	return NULL;
}

static bool ends_with(const char *s, const char *end)
{
	size_t ls = strlen(s), le = strlen(end);

	return ls >= le && strcmp(s + ls - le, end) == 0;
}

const struct format *format_by_path(const char *path, struct msg *m)
{
	for (size_t i = 0; i < nformats; i++)
		if (ends_with(path, formats[i]->ext))
			return formats[i];
	if (ends_with(path, ".raw"))
		return &fmt_raw;
	fail(m, "cannot tell the format of %s from its name; give one with -O.", path);
	return NULL;
}

/* The foreign format whose signature f has at its start (at_end false) or at the start
 * of its last sector (at_end true), or NULL. head holds f's first n bytes. */
static const struct foreign *foreign_probe(const struct infile *f, const unsigned char *head,
					   size_t n, bool at_end)
{
	for (size_t i = 0; i < nforeign; i++) {
		const struct foreign *e = &foreign_formats[i];
		unsigned char tail[32];
		struct msg m;

		if (e->at_end != at_end)
			continue;
		if (!at_end && n >= e->len && memcmp(head, e->magic, e->len) == 0)
			return e;
		if (at_end && e->len <= sizeof tail && f->size >= SECTOR &&
		    infile_read(f, tail, e->len, f->size - SECTOR, "the last sector", &m) == 0 &&
		    memcmp(tail, e->magic, e->len) == 0)
			return e;
	}
	return NULL;
}

static int refuse_foreign(struct infile *f, const struct foreign *e, struct msg *m)
{
	char list[128];

	format_list(list, sizeof list);
	fail(m, "%s is a %s image; imgtool reads %s (-f raw reads it as a raw disk).",
	     f->path, e->name, list);
	infile_close(f);
	return -1;
}

int image_open(const char *path, const struct format *as, bool force, struct disk **d,
	       struct msg *m)
{
	unsigned char head[SECTOR];
	struct infile f;
	size_t n;

	*d = NULL;
	if (infile_open(&f, path, m) < 0) {
		infile_close(&f);
		return -1;
	}
	/* -f names the format of any file, a .bin too: the user has said what it is. */
	if (!as && ends_with(path, ".bin"))
		return boot_program_open(&f, force, d, m);
	if (f.size == 0) {
		infile_close(&f);
		return fail(m, "%s is empty: there is no disk in it.", path);
	}
	if (as)
		return as->open(&f, d, m);
	n = f.size < sizeof head ? (size_t)f.size : sizeof head;
	if (infile_read(&f, head, n, 0, "the first sector", m) < 0) {
		infile_close(&f);
		return -1;
	}
	/* Formats known by their first sector first, then those known by the end of the
	 * file (a VHD footer, a DMG trailer), so that a container holding such a file as
	 * data stays what its own first sector says it is. In each pass the signatures
	 * imgtool does not read come first: qcow version 1 shares qcow2's magic. Raw is
	 * what is left. */
	for (int tail = 0; tail < 2; tail++) {
		const struct foreign *e = foreign_probe(&f, head, n, tail);

		if (e)
			return refuse_foreign(&f, e, m);
		for (size_t i = 0; i < nformats; i++) {
			const struct format *fmt = formats[i];

			if (fmt != &fmt_raw && fmt->probes_tail == tail &&
			    fmt->probe(&f, head, n))
				return fmt->open(&f, d, m);
		}
	}
	return fmt_raw.open(&f, d, m);
}

char *backing_path(const char *image, const char *name, struct msg *m)
{
	const char *slash = strrchr(image, '/');
	size_t dir = slash && name[0] != '/' ? (size_t)(slash - image) + 1 : 0;
	char *p = malloc(dir + strlen(name) + 1);

	if (!p) {
		fail_errno(m, "cannot open the backing file %s", name);
		return NULL;
	}
	memcpy(p, image, dir);
	strcpy(p + dir, name);
	return p;
}

int backing_open(const char *image, const char *name, const struct format *fmt,
		 struct disk **d, struct msg *m)
{
	char *path = backing_path(image, name, m);
	struct stat st;
	int rc;

	*d = NULL;
	if (!path)
		return -1;
	if (stat(path, &st) != 0) {
		fail(m, "the backing file %s of %s cannot be opened: %s.", path, image,
		     strerror(errno));
		free(path);
		return -1;
	}
	/* The format given must be the one the file's signature names: raw reads
	 * anything, but a base that is really a qcow2 (say) is not the disk the user
	 * meant, and QEMU would be told to read its tables as data. So the file is
	 * probed, and opened once (a chain opened twice per link would take 2^N). */
	if (ends_with(path, ".bin"))		/* a disk, as QEMU reads it: not a boot program */
		rc = image_open(path, fmt ? fmt : &fmt_raw, true, d, m);
	else
		rc = image_open(path, NULL, true, d, m);
	if (rc == 0 && fmt && (*d)->fmt != fmt) {
		rc = fail(m, "the backing file %s is a %s image, not %s.", path, (*d)->fmt->name,
			  fmt->name);
		disk_close(*d);
		*d = NULL;
	}
	free(path);
	return rc;
}
