/* options.c - see options.h. */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int opts_parse(struct opts *o, const char *list, struct msg *m)
{
	char *copy = strdup(list), *save = NULL, *item;
	int rc = 0;

	if (!copy)
		return fail_errno(m, "cannot hold the options");
	if (!*list)
		rc = fail(m, "-o needs KEY=VALUE pairs separated by commas.");
	for (item = strtok_r(copy, ",", &save); rc == 0 && item;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq || eq == item) {
			rc = fail(m, "-o %s: options are KEY=VALUE.", item);
			break;
		}
		*eq = '\0';
		if (opt_get(o, item)) {
			rc = fail(m, "-o %s is given twice; give it once.", item);
			break;
		}
		if (o->n == OPTS_MAX) {
			rc = fail(m, "-o: more than %d options.", OPTS_MAX);
			break;
		}
		o->kv[o->n].key = strdup(item);
		o->kv[o->n].value = strdup(eq + 1);
		if (!o->kv[o->n].key || !o->kv[o->n].value) {
			free(o->kv[o->n].key);
			free(o->kv[o->n].value);
			rc = fail_errno(m, "cannot hold the options");
			break;
		}
		o->n++;
	}
	free(copy);
	return rc;
}

int opts_validate(const struct opts *o, const struct opt_spec *spec, const char *fmt_name,
		  struct msg *m)
{
	for (size_t i = 0; i < o->n; i++) {
		const struct opt_spec *s;
		char keys[256] = "";
		size_t len = 0, count = 0;

		for (s = spec; s && s->key; s++)
			if (strcmp(s->key, o->kv[i].key) == 0)
				break;
		if (s && s->key)
			continue;
		for (s = spec; s && s->key; s++)
			count++;
		if (count == 0)
			return fail(m, "%s takes no -o options, not even %s.", fmt_name,
				    o->kv[i].key);
		for (s = spec; s->key; s++)
			list_append(keys, sizeof keys, &len, (size_t)(s - spec), count, s->key);
		return fail(m, "%s has no option %s; it takes %s.", fmt_name, o->kv[i].key, keys);
	}
	return 0;
}

void opts_free(struct opts *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->kv[i].key);
		free(o->kv[i].value);
	}
	o->n = 0;
}

const char *opt_get(const struct opts *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->kv[i].key, key) == 0)
			return o->kv[i].value;
	return NULL;
}

int opt_choice(const struct opts *o, const char *key, const char *const *choices,
	       size_t def, size_t *index, struct msg *m)
{
	const char *v = opt_get(o, key);
	char list[256] = "";
	size_t len = 0, count = 0;

	*index = def;
	if (!v)
		return 0;
	for (size_t i = 0; choices[i]; i++, count++)
		if (strcmp(v, choices[i]) == 0) {
			*index = i;
			return 0;
		}
	for (size_t i = 0; i < count; i++) {
		const char *sep = i == 0 ? "" : i + 1 == count ? " or " : ", ";
		int n = snprintf(list + len, sizeof list - len, "%s%s", sep, choices[i]);

		if (n > 0 && (size_t)n < sizeof list - len)
			len += (size_t)n;
	}
	return fail(m, "-o %s=%s: %s is %s.", key, v, key, list);
}

int opt_pow2(const struct opts *o, const char *key, const char *what, uint64_t min,
	     uint64_t max, uint64_t def, uint64_t *v, struct msg *m)
{
	const char *s = opt_get(o, key);
	uint64_t n = 0, scale = 1;
	const char *p;

	*v = def;
	if (!s)
		return 0;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (n > UINT64_MAX / 10)
			goto bad;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		goto bad;
	switch (*p) {
	case 'k': case 'K': scale = 1ull << 10; p++; break;
	case 'm': case 'M': scale = 1ull << 20; p++; break;
	case 'g': case 'G': scale = 1ull << 30; p++; break;
	}
	if (*p || n > max / scale)
		goto bad;
	n *= scale;
	if (n < min || n > max || (n & (n - 1)))
		goto bad;
	*v = n;
	return 0;
bad:
	return fail(m, "-o %s=%s: %s must be a power of two from %llu to %llu bytes "
		    "(K, M and G may follow the number).", key, s, what,
		    (unsigned long long)min, (unsigned long long)max);
}
