/* format.c - see format.h. */
#include "format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raw.h"
#include "text.h"

const struct format *const formats[] = {
	&fmt_raw, &fmt_vhd, &fmt_vdi, &fmt_vmdk, &fmt_qcow2,
};
const size_t nformats = sizeof formats / sizeof formats[0];

void format_list(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < nformats; i++)
		list_append(buf, size, &len, i, nformats, formats[i]->name);
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

int image_open(const char *path, bool force, struct disk **d, struct msg *m)
{
	unsigned char head[SECTOR];
	struct infile f;
	size_t n;

	*d = NULL;
	if (infile_open(&f, path, m) < 0) {
		infile_close(&f);
		return -1;
	}
	if (ends_with(path, ".bin"))
		return boot_program_open(&f, force, d, m);
	if (f.size == 0) {
		infile_close(&f);
		return fail(m, "%s is empty: there is no disk in it.", path);
	}
	n = f.size < sizeof head ? (size_t)f.size : sizeof head;
	if (infile_read(&f, head, n, 0, "the first sector", m) < 0) {
		infile_close(&f);
		return -1;
	}
	/* Formats known by their first sector first, then those known by the end of the
	 * file (a VHD footer), so that a container holding such a file as data stays what
	 * its own first sector says it is. Raw is what is left. */
	for (int tail = 0; tail < 2; tail++)
		for (size_t i = 0; i < nformats; i++) {
			const struct format *fmt = formats[i];

			if (fmt != &fmt_raw && fmt->probes_tail == tail &&
			    fmt->probe(&f, head, n))
				return fmt->open(&f, d, m);
		}
	return fmt_raw.open(&f, d, m);
}
