/* map.c - see map.h.
 *
 * The map is a sequence of parts, each under a heading "-- Title ----...". Three
 * are read: "Program origin" (one hex number), "Sections (summary)" (a table of
 * sections) and "Symbols", which holds one table per "---- Heading ----": the equ
 * constants under "No Section", and the labels of each section under "Section NAME".
 * The other parts (the preamble, "Sections (detailed)") say nothing sizecheck
 * uses, so their lines are skipped; a part NASM may add later is skipped too.
 */
#include "map.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "text.h"

/* More words than any table has, so a row with too many is noticed. */
#define MAX_COLUMNS 8

struct parser;

/* One kind of table: its columns (the words of its header line) and its rows. */
struct table {
	const char *columns;
	bool has_header;	/* the program origin is a bare number */
	int (*row)(struct parser *p, char **word, struct msg *m);
};

struct parser {
	const char *path;
	unsigned long lineno;
	bool skipping;			/* in a part sizecheck does not read */
	bool in_symbols;		/* "---- " headings start tables here */
	const struct table *table;	/* NULL: no table yet in "Symbols" */
	bool want_header;		/* the next line is the table's header */
	bool in_text;			/* the labels table is .text's */
	bool past_preamble;		/* a "-- " part has begun */
	bool seen_origin_part;
	bool has_origin, has_text, has_code_end;
	struct map *map;
	size_t cap;			/* room in map->labels */
};

/* 1 to 16 hex digits, as NASM prints addresses and values; nothing else. *v is
 * set either way, as callers cannot be seen to skip it when fail() returns -1. */
static bool parse_hex(const char *s, uint64_t *v)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	*v = 0;
	if (n == 0 || n > 16 || s[n] != '\0')
		return false;
	*v = strtoull(s, NULL, 16);
	return true;
}

static int hex_word(struct parser *p, const char *word, uint64_t *v,
		    struct msg *m)
{
	if (!parse_hex(word, v))
		return fail(m, "%s line %lu: \"%.40s\" is not a hexadecimal number.",
			    p->path, p->lineno, word);
	return 0;
}

static int origin_row(struct parser *p, char **word, struct msg *m)
{
	if (p->has_origin)
		return fail(m, "%s line %lu: a second program origin.",
			    p->path, p->lineno);
	p->has_origin = true;
	return hex_word(p, word[0], &p->map->origin, m);
}

/* Vstart Start Stop Length Class Name: only the length of .text is kept. */
static int summary_row(struct parser *p, char **word, struct msg *m)
{
	uint64_t v;

	for (int i = 0; i < 4; i++)
		if (hex_word(p, word[i], &v, m) < 0)
			return -1;
	if (strcmp(word[5], ".text") != 0)
		return 0;
	if (p->has_text)
		return fail(m, "%s line %lu: a second .text section.",
			    p->path, p->lineno);
	p->has_text = true;
	return hex_word(p, word[3], &p->map->text_length, m);
}

static int constant_row(struct parser *p, char **word, struct msg *m)
{
	uint64_t v;

	return hex_word(p, word[0], &v, m);
}

static int add_label(struct parser *p, const char *name, uint64_t addr,
		     struct msg *m)
{
	struct map *map = p->map;
	struct label *l;

	if (map->nlabels == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;

		l = realloc(map->labels, cap * sizeof *l);
		if (!l)
			return fail_errno(m, "cannot hold the labels of %s", p->path);
		map->labels = l;
		p->cap = cap;
	}
	l = &map->labels[map->nlabels];
	l->name = strdup(name);
	if (!l->name)
		return fail_errno(m, "cannot hold the labels of %s", p->path);
	l->addr = addr;
	l->seq = map->nlabels++;
	return 0;
}

/* Real Virtual Name. Real is the address in the file's own layout (start +
 * offset), which is what an offset into BOOT.BIN is measured against. */
static int label_row(struct parser *p, char **word, struct msg *m)
{
	uint64_t real, virt;

	if (hex_word(p, word[0], &real, m) < 0 || hex_word(p, word[1], &virt, m) < 0)
		return -1;
	if (!p->in_text)
		return 0;
	if (strcmp(word[2], MAP_END_LABEL) == 0) {
		p->has_code_end = true;
		p->map->code_end = real;
	}
	return add_label(p, word[2], real, m);
}

static const struct table origin_table = { "Origin", false, origin_row };
static const struct table summary_table = {
	"Vstart Start Stop Length Class Name", true, summary_row
};
static const struct table constant_table = { "Value Name", true, constant_row };
static const struct table label_table = { "Real Virtual Name", true, label_row };

/* Split s at blanks into at most max words; returns how many words s has. */
static size_t split(char *s, char **word, size_t max)
{
	size_t n = 0;
	char *save, *w;

	for (w = strtok_r(s, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (n++ < max)
			word[n - 1] = w;
	return n;
}

/* Do two lines hold the same words, however they are spaced? */
static bool same_words(const char *a, const char *b)
{
	for (;;) {
		a += strspn(a, " \t");
		b += strspn(b, " \t");
		size_t la = strcspn(a, " \t"), lb = strcspn(b, " \t");

		if (la != lb || strncmp(a, b, la) != 0)
			return false;
		if (la == 0)
			return true;
		a += la;
		b += lb;
	}
}

/* "Title -------" -> "Title", in place. */
static char *heading_title(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '-')
		n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = '\0';
	return s;
}

static void start_table(struct parser *p, const struct table *t)
{
	p->table = t;
	p->want_header = t->has_header;
}

static void enter_part(struct parser *p, const char *title)
{
	p->skipping = false;
	p->in_symbols = false;
	p->table = NULL;
	if (strcmp(title, "Program origin") == 0) {
		p->seen_origin_part = true;
		start_table(p, &origin_table);
	} else if (strcmp(title, "Sections (summary)") == 0) {
		start_table(p, &summary_table);
	} else if (strcmp(title, "Symbols") == 0) {
		p->in_symbols = true;
	} else {
		p->skipping = true;
	}
}

static int enter_table(struct parser *p, const char *title, struct msg *m)
{
	if (p->skipping)
		return 0;
	if (!p->in_symbols)
		return fail(m, "%s line %lu: unexpected heading \"%.40s\".",
			    p->path, p->lineno, title);
	if (strcmp(title, "No Section") == 0) {
		start_table(p, &constant_table);
	} else if (strncmp(title, "Section ", 8) == 0) {
		start_table(p, &label_table);
		p->in_text = strcmp(title + 8, ".text") == 0;
	} else {
		return fail(m, "%s line %lu: unexpected heading \"%.40s\" among the symbols.",
			    p->path, p->lineno, title);
	}
	return 0;
}

static int table_line(struct parser *p, char *line, struct msg *m)
{
	const struct table *t = p->table;
	size_t want = count_words(t->columns), n;
	char *word[MAX_COLUMNS];

	if (p->want_header) {
		p->want_header = false;
		if (same_words(line, t->columns))
			return 0;
		return fail(m, "%s line %lu: expected the column header \"%s\".",
			    p->path, p->lineno, t->columns);
	}
	n = split(line, word, MAX_COLUMNS);
	if (n != want)
		return fail(m, "%s line %lu: expected %zu column%s (%s), found %zu.",
			    p->path, p->lineno, want, want == 1 ? "" : "s",
			    t->columns, n);
	return t->row(p, word, m);
}

/* The file NASM wrote this map for, so that a map from another program is noticed. */
static int set_output(struct parser *p, const char *value, struct msg *m)
{
	value += strspn(value, " \t");
	free(p->map->output);
	p->map->output = strdup(value);
	if (!p->map->output)
		return fail_errno(m, "cannot hold the output name of %s", p->path);
	return 0;
}

static int parse_line(struct parser *p, char *line, size_t len, struct msg *m)
{
	if (strlen(line) != len)
		return fail(m, "%s line %lu holds a NUL byte; a map file is text.",
			    p->path, p->lineno);
	while (len > 0 && strchr(" \t\r\n", line[len - 1]))
		line[--len] = '\0';
	if (line[strspn(line, " \t")] == '\0')
		return 0;
	if (strncmp(line, "-- ", 3) == 0) {
		p->past_preamble = true;
		enter_part(p, heading_title(line + 3));
		return 0;
	}
	if (!p->past_preamble && strncmp(line, "Output file:", 12) == 0)
		return set_output(p, line + 12, m);
	if (strncmp(line, "---- ", 5) == 0)
		return enter_table(p, heading_title(line + 5), m);
	if (p->skipping)
		return 0;
	if (!p->table)
		return fail(m, "%s line %lu: a symbol row before any \"---- Section\" heading.",
			    p->path, p->lineno);
	return table_line(p, line, m);
}

static int by_address(const void *a, const void *b)
{
	const struct label *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* What a whole file must have had, and labels that make sense against it. */
static int finish(struct parser *p, struct msg *m)
{
	struct map *map = p->map;

	if (p->lineno == 0)
		return fail(m, "%s is empty, not a NASM map file.", p->path);
	if (!p->seen_origin_part)
		return fail(m, "%s is not a NASM map file (no \"-- Program origin --\" section).",
			    p->path);
	if (!p->has_origin)
		return fail(m, "%s has an empty \"-- Program origin --\" section.",
			    p->path);
	if (!p->has_text)
		return fail(m, "%s lists no .text section under \"-- Sections (summary) --\".",
			    p->path);
	if (!p->has_code_end)
		return fail(m, "%s has no %s symbol; end the code with a %s: label before the padding.",
			    p->path, MAP_END_LABEL, MAP_END_LABEL);
	qsort(map->labels, map->nlabels, sizeof *map->labels, by_address);
	for (size_t i = 0; i < map->nlabels; i++) {
		const struct label *l = &map->labels[i];

		if (l->addr < map->origin || l->addr - map->origin > map->text_length)
			return fail(m, "%s puts %.40s at 0x%llX, outside .text (0x%llX to 0x%llX).",
				    p->path, l->name, (unsigned long long)l->addr,
				    (unsigned long long)map->origin,
				    (unsigned long long)(map->origin + map->text_length));
	}
	return 0;
}

int map_load(const char *path, struct map *map, struct msg *m)
{
	struct parser p = { .path = path, .skipping = true, .map = map };
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int rc = 0;

	memset(map, 0, sizeof *map);
	f = fopen(path, "r");
	if (!f)
		return fail_errno(m, "cannot open %s", path);
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		p.lineno++;
		rc = parse_line(&p, line, (size_t)len, m);
	}
	if (rc == 0 && ferror(f))
		rc = fail_errno(m, "cannot read %s", path);
	if (rc == 0)
		rc = finish(&p, m);
	free(line);
	fclose(f);
	if (rc < 0)
		map_free(map);
	return rc;
}

void map_free(struct map *map)
{
	for (size_t i = 0; i < map->nlabels; i++)
		free(map->labels[i].name);
	free(map->labels);
	free(map->output);
	memset(map, 0, sizeof *map);
}

uint64_t map_used(const struct map *map)
{
	return map->code_end - map->origin;
}
