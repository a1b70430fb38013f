/* map.h - read the map file NASM writes for [map all FILE] in -f bin output.
 *
 * Only what sizecheck needs is kept: the program origin, the length of .text and
 * the .text labels. Everything read is still checked, so a file that is not a
 * NASM 2.16 map fails with a sentence that names the line, not with odd numbers.
 */
#ifndef SIZECHECK_MAP_H
#define SIZECHECK_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The label that ends the bytes in use; the padding follows it. */
#define MAP_END_LABEL "code_end"

struct label {
	char *name;		/* as NASM prints it: local labels are "parent.local" */
	uint64_t addr;		/* the "Real" column, so addr - origin is a file offset */
	size_t seq;		/* order in the map, to keep ties in NASM's order */
};

struct map {
	char *output;		/* "Output file:" of the preamble, NULL if absent */
	uint64_t origin;
	uint64_t text_length;	/* .text in bytes, from the section summary */
	uint64_t code_end;	/* address of MAP_END_LABEL */
	struct label *labels;	/* every .text label, by address */
	size_t nlabels;
};

/* Read path into *map; on failure *map is empty and m says why. */
int map_load(const char *path, struct map *map, struct msg *m);
void map_free(struct map *map);

/* Bytes in use: code_end - origin. */
uint64_t map_used(const struct map *map);

#endif
