/* report.h - what info and check print: facts about an image, and its faults. */
#ifndef IMGTOOL_REPORT_H
#define IMGTOOL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

#define INFO_MAX 32

/* Facts about an image, in the order they were added. Keys are lower case words
 * ("virtual size"); JSON turns spaces into dashes ("virtual-size"). */
struct info {
	struct {
		char key[32];
		char value[128];
		bool number;		/* JSON prints it bare */
	} field[INFO_MAX];
	size_t n;
};

void info_str(struct info *i, const char *key, const char *fmt, ...) PRINTF_LIKE(3, 4);
void info_num(struct info *i, const char *key, uint64_t v);
void info_print_text(FILE *out, const struct info *i);
void info_print_json(FILE *out, const struct info *i);

/* The faults check found: one sentence each. A fault that could not be recorded
 * (out of memory) is still counted in lost, so a check never passes by accident. */
struct faults {
	char **text;
	size_t n;
	size_t cap;
	size_t lost;
};

void fault(struct faults *f, const char *fmt, ...) PRINTF_LIKE(2, 3);
void faults_free(struct faults *f);

#endif
