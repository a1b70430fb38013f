/* text.c - see text.h. */
#include "text.h"

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
