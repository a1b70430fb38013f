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

/* Text that came from elsewhere (a guest, a file) made safe to print on a terminal,
 * NUL-terminated in out (size > 0): printable ASCII and well-formed UTF-8 stay as they
 * are; backslash becomes \\, newline \n, carriage return \r, tab \t; every other
 * control character (C0, DEL, and the C1 range U+0080 to U+009F), every byte of
 * malformed UTF-8 and a NUL become \xNN (one per byte); the characters that reorder or
 * hide text (U+200B to U+200F, U+2028 to U+202E, U+2060 to U+2069, U+FEFF) become
 * \uXXXX. So the result holds no byte below 0x20 and no DEL, and reads the same
 * whatever the terminal makes of escape sequences. Output that does not fit is cut
 * before a whole escape or character, never inside one. Returns out. */
char *text_escape(char *out, size_t size, const void *in, size_t len);
/* text_escape() of a NUL-terminated string (NULL reads as ""). */
char *text_safe(char *out, size_t size, const char *s);

#endif
