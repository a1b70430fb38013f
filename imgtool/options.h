/* options.h - the -o KEY=VALUE,... options of convert.
 *
 * Parsing only splits the list; each format declares the keys it takes (opt_spec),
 * so an unknown key names the keys that do exist, and reads the values it wants
 * with the helpers below, which word every bad value the same way:
 * "-o cluster_size=3: the cluster size must be a power of two from 512 to 2M."
 */
#ifndef IMGTOOL_OPTIONS_H
#define IMGTOOL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define OPTS_MAX 16

struct opt_spec {
	const char *key;
	const char *values;	/* for --help: "fixed|dynamic (default fixed)" */
};

struct opts {
	struct {
		char *key, *value;
	} kv[OPTS_MAX];
	size_t n;
	bool force;		/* --force: accept an odd boot program */
	bool compress;		/* convert -c: compress the data (a format with compresses) */
	/* create -b and -F: the backing file as the image records it, and its format's
	 * name; only a format with backing set in its table entry writes them. */
	const char *backing;
	const char *backing_fmt;
};

/* Add "k=v,k=v" to o. A key given twice, a missing "=" or an empty key is an error. */
int opts_parse(struct opts *o, const char *list, struct msg *m);
/* Every key must be one of spec's; fmt_name words the error. */
int opts_validate(const struct opts *o, const struct opt_spec *spec, const char *fmt_name,
		  struct msg *m);
void opts_free(struct opts *o);

/* The value of key, or NULL when not given. */
const char *opt_get(const struct opts *o, const char *key);
/* One of choices (NULL-terminated); *index gets its position, or def's when absent. */
int opt_choice(const struct opts *o, const char *key, const char *const *choices,
	       size_t def, size_t *index, struct msg *m);
/* A size in bytes: digits with an optional K, M or G (binary), a power of two in
 * [min, max]. *v gets def when absent. what words the error ("the cluster size"). */
int opt_pow2(const struct opts *o, const char *key, const char *what, uint64_t min,
	     uint64_t max, uint64_t def, uint64_t *v, struct msg *m);

#endif
