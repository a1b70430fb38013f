/* text.c - see text.h. */
#include "text.h"

#include <errno.h>
#include <stdbool.h>
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

/* The length of the well-formed UTF-8 sequence at s (n bytes left) and its code point,
 * or 0 when the bytes there are not one (overlong, a surrogate, over U+10FFFF, cut). */
static size_t utf8_char(const unsigned char *s, size_t n, unsigned long *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t more;
	unsigned long v;

	if (c >= 0xC2 && c <= 0xDF) {
		more = 1;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		more = 2;
		v = c & 0x0F;
		lo = c == 0xE0 ? 0xA0 : lo;	/* no overlong forms */
		hi = c == 0xED ? 0x9F : hi;	/* no UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		more = 3;
		v = c & 0x07;
		lo = c == 0xF0 ? 0x90 : lo;
		hi = c == 0xF4 ? 0x8F : hi;	/* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (n - 1 < more || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 1; k <= more; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3F);
	}
	*cp = v;
	return more + 1;
}

/* Characters that change how the text around them reads: zero-width ones, the line
 * and paragraph separators, and the bidirectional embeddings, overrides and isolates. */
static bool hides_text(unsigned long cp)
{
	return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

char *text_escape(char *out, size_t size, const void *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = in;
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		char esc[8];
		const char *piece = esc;
		size_t n = 0, used = 1;
		unsigned long cp = 0;
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7F && c != '\\') {
			esc[n++] = (char)c;
		} else if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
			esc[n++] = '\\';
			esc[n++] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c >= 0x80 && (used = utf8_char(s + i, len - i, &cp)) && cp >= 0xA0 &&
			   !hides_text(cp)) {
			piece = (const char *)s + i;	/* a printable character, as it is */
			n = used;
		} else if (c >= 0x80 && used && hides_text(cp)) {
			n = (size_t)snprintf(esc, sizeof esc, "\\u%04lx", cp);
		} else {
			used = 1;	/* one byte: a control, or malformed UTF-8 */
			esc[n++] = '\\';
			esc[n++] = 'x';
			esc[n++] = hex[c >> 4];
			esc[n++] = hex[c & 15];
		}
		if (n >= size - o)
			break;
		memcpy(out + o, piece, n);
		o += n;
		i += used;
	}
	out[o] = '\0';
	return out;
}

char *text_safe(char *out, size_t size, const char *s)
{
	return text_escape(out, size, s ? s : "", s ? strlen(s) : 0);
}
