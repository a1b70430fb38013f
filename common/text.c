/* text.c - see text.h. */
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t count_words(const char *s)
{
	size_t n = 0;

	for (s += strspn(s, " \t"); *s; s += strspn(s, " \t")) {
		s += strcspn(s, " \t");
		n++;
	}
	return n;
}

void list_append(char *buf, size_t size, size_t *len, size_t i, size_t n, const char *item)
{
	const char *sep = i == 0 ? "" : i + 1 == n ? " and " : ", ";
	int k = snprintf(buf + *len, size - *len, "%s%s", sep, item);

	if (k > 0 && (size_t)k < size - *len)
		*len += (size_t)k;
	else
		buf[*len] = '\0';
}

int parse_long_in(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

enum help_flag help_flag(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return HELP_USAGE;
		else if (strcmp(argv[i], "--version") == 0)
			return HELP_VERSION;
	return HELP_NONE;
}
