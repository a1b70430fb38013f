/* text.h - small helpers for reading text the programs parse. */
#ifndef COMMON_TEXT_H
#define COMMON_TEXT_H

#include <stddef.h>

/* How many words s holds, words being separated by blanks (spaces and tabs). */
size_t count_words(const char *s);

/* Append item i of n to an English list being built in buf: "a", "a and b",
 * "a, b and c". *len is the length so far; an item that does not fit is left out. */
void list_append(char *buf, size_t size, size_t *len, size_t i, size_t n, const char *item);

/* s as a whole decimal number from lo to hi into *out: 0, or -1 when it is not one
 * (empty, trailing characters, out of range). */
int parse_long_in(const char *s, long lo, long hi, long *out);

/* What a command line asks with -h, --help or --version, which win over any mistake
 * on it: the first of them among argv[1..] before a "--", or HELP_NONE. */
enum help_flag { HELP_NONE, HELP_USAGE, HELP_VERSION };
enum help_flag help_flag(int argc, char **argv);

#endif
