/* check.h - what sizecheck's subcommands check and report.
 *
 * Each check returns 0, or -1 with one sentence in m naming the file and the
 * problem; nothing here prints except to the FILE it is given.
 */
#ifndef SIZECHECK_CHECK_H
#define SIZECHECK_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "map.h"
#include "util.h"

/* The raw disk that make builds: 1 MiB, the boot signature at 510. */
#define IMAGE_SIZE		1048576
#define SIGNATURE_OFFSET	510

struct cli;

/* One row of the budget table: a routine, or a pseudo-row in parentheses. */
struct row {
	const char *name;	/* borrowed from the map, or a string literal */
	uint64_t bytes;
};

struct account {
	struct row *rows;	/* in address order, "(free)" last */
	size_t nrows;
	uint64_t used;
	unsigned long budget;
};

/* Over budget is an error in its own words, naming BOOT.BIN. */
int budget_check(const char *bin_path, uint64_t used, unsigned long budget,
		 struct msg *m);

/* Read BOOT.BIN, which must be exactly budget bytes, into a new *bin. */
int bin_load(const char *path, unsigned long budget, unsigned char **bin,
	     struct msg *m);

/* The map must describe this BOOT.BIN: .text as long as the file. */
int map_matches_bin(const char *map_path, const struct map *map,
		    const char *bin_path, size_t bin_size, struct msg *m);

/* The budget per top-level label; the map must be within budget (budget_check). */
int account_build(const struct map *map, const char *map_path,
		  unsigned long budget, struct account *a, struct msg *m);
void account_free(struct account *a);

/* "N / BUDGET bytes (M free)". */
void print_used(FILE *out, uint64_t used, unsigned long budget);
/* The account as an aligned table. */
void account_print(FILE *out, const struct account *a);

/* IMAGE is the 1 MiB disk: signature at 510, and it begins with bin. */
int image_check(const char *image_path, const char *bin_path,
		const unsigned char *bin, size_t bin_size, struct msg *m);

/* The subcommands' handlers; they print their report to out. */
int cmd_size(const struct cli *cli, FILE *out, struct msg *m);
int cmd_check(const struct cli *cli, FILE *out, struct msg *m);

#endif
