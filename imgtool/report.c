/* report.c - see report.h. */
#include "report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void add(struct info *i, const char *key, const char *value, bool number)
{
	if (i->n == INFO_MAX)
		return;
	snprintf(i->field[i->n].key, sizeof i->field[i->n].key, "%s", key);
	snprintf(i->field[i->n].value, sizeof i->field[i->n].value, "%s", value);
	i->field[i->n].number = number;
	i->n++;
}

void info_str(struct info *i, const char *key, const char *fmt, ...)
{
	char value[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	add(i, key, value, false);
}

void info_num(struct info *i, const char *key, uint64_t v)
{
	char value[32];

	snprintf(value, sizeof value, "%llu", (unsigned long long)v);
	add(i, key, value, true);
}

void info_print_text(FILE *out, const struct info *i)
{
	size_t width = 0;

	for (size_t k = 0; k < i->n; k++)
		if (strlen(i->field[k].key) > width)
			width = strlen(i->field[k].key);
	for (size_t k = 0; k < i->n; k++)
		fprintf(out, "%s:%*s %s\n", i->field[k].key,
			(int)(width - strlen(i->field[k].key)), "", i->field[k].value);
}

/* A JSON string: the values are ours or the user's file names, so escape fully. */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void info_print_json(FILE *out, const struct info *i)
{
	fputs("{", out);
	for (size_t k = 0; k < i->n; k++) {
		char key[sizeof i->field[k].key];

		snprintf(key, sizeof key, "%s", i->field[k].key);
		for (char *p = key; *p; p++)
			if (*p == ' ')
				*p = '-';
		fputs(k ? ",\n  " : "\n  ", out);
		json_string(out, key);
		fputs(": ", out);
		if (i->field[k].number)
			fputs(i->field[k].value, out);
		else
			json_string(out, i->field[k].value);
	}
	fputs("\n}\n", out);
}

void fault(struct faults *f, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		char **t = realloc(f->text, cap * sizeof *t);

		if (!t) {
			f->lost++;
			return;
		}
		f->text = t;
		f->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) >= 0)
		f->text[f->n++] = text;
	else
		f->lost++;
	va_end(ap);
}

void faults_free(struct faults *f)
{
	for (size_t k = 0; k < f->n; k++)
		free(f->text[k]);
	free(f->text);
	memset(f, 0, sizeof *f);
}
