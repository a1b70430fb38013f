/* check.c - see check.h. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define BEFORE_FIRST "(before first label)"

int budget_check(const char *bin_path, uint64_t used, unsigned long budget,
		 struct msg *m)
{
	if (used <= budget)
		return 0;
	return fail(m, "%s uses %llu bytes, %llu over the %lu-byte budget.",
		    bin_path, (unsigned long long)used,
		    (unsigned long long)(used - budget), budget);
}

/* Size errors must give the size, so open and stat before reading. */
static int open_regular(const char *path, int *fd, uint64_t *size,
			struct msg *m)
{
	struct stat st;

	/* Set on every path: the compiler cannot see that fail() returns -1. */
	*size = 0;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return fail_errno(m, "cannot open %s", path);
	if (fstat(*fd, &st) < 0) {
		fail_errno(m, "cannot stat %s", path);
	} else if (S_ISDIR(st.st_mode)) {
		fail(m, "%s is a directory, not a file.", path);
	} else if (!S_ISREG(st.st_mode)) {
		fail(m, "%s is not a regular file.", path);
	} else {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	close(*fd);
	return -1;
}

static int read_all(int fd, const char *path, unsigned char *buf, size_t n,
		    struct msg *m)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail_errno(m, "cannot read %s", path);
		if (r == 0)
			return fail(m, "%s shrank while it was being read.", path);
		got += (size_t)r;
	}
	return 0;
}

/* Open path, check its size is want, and read its first n bytes into a new *buf. */
static int load_prefix(const char *path, uint64_t want, const char *what,
		       size_t n, unsigned char **buf, struct msg *m)
{
	uint64_t size;
	int fd;

	*buf = NULL;
	if (open_regular(path, &fd, &size, m) < 0)
		return -1;
	if (size != want) {
		fail(m, "%s is %llu bytes; %s must be exactly %llu.", path,
		     (unsigned long long)size, what, (unsigned long long)want);
		goto out_close;
	}
	*buf = malloc(n);
	if (!*buf) {
		fail_errno(m, "cannot read %s", path);
		goto out_close;
	}
	if (read_all(fd, path, *buf, n, m) < 0) {
		free(*buf);
		*buf = NULL;
		goto out_close;
	}
	close(fd);
	return 0;
out_close:
	close(fd);
	return -1;
}

int bin_load(const char *path, unsigned long budget, unsigned char **bin,
	     struct msg *m)
{
	return load_prefix(path, budget, "a boot program", budget, bin, m);
}

/* "dir/boot.bin" -> "boot.bin". */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int map_matches_bin(const char *map_path, const struct map *map,
		    const char *bin_path, size_t bin_size, struct msg *m)
{
	/* Only the file names are compared: the map may name the output relative to
	 * another folder than the one sizecheck runs in. */
	if (map->output && strcmp(base_name(map->output), base_name(bin_path)) != 0)
		return fail(m, "%s was written for %s, not %s; the map is from another program.",
			    map_path, map->output, bin_path);
	if (map->text_length == bin_size)
		return 0;
	return fail(m, "%s gives .text %llu bytes but %s is %zu; the map is stale or from another build.",
		    map_path, (unsigned long long)map->text_length, bin_path,
		    bin_size);
}

static void add_row(struct account *a, const char *name, uint64_t bytes)
{
	a->rows[a->nrows].name = name;
	a->rows[a->nrows].bytes = bytes;
	a->nrows++;
}

static bool is_routine(const struct label *l)
{
	return !strchr(l->name, '.') && strcmp(l->name, MAP_END_LABEL) != 0;
}

/* A routine runs from its label to the next routine's label, or to code_end;
 * so a local label (parent.local) is simply part of the routine before it. */
int account_build(const struct map *map, const char *map_path,
		  unsigned long budget, struct account *a, struct msg *m)
{
	const struct label *prev = NULL;

	memset(a, 0, sizeof *a);
	a->used = map_used(map);
	a->budget = budget;
	for (size_t i = 0; i < map->nlabels; i++)
		if (map->labels[i].addr > map->code_end)
			return fail(m, "%s puts %.40s after %s; %s must be the last label.",
				    map_path, map->labels[i].name, MAP_END_LABEL,
				    MAP_END_LABEL);
	/* At most a row per label, plus "(before first label)" and "(free)". */
	a->rows = calloc(map->nlabels + 2, sizeof *a->rows);
	if (!a->rows)
		return fail_errno(m, "cannot account for the labels of %s", map_path);
	for (size_t i = 0; i < map->nlabels; i++) {
		const struct label *l = &map->labels[i];

		if (!is_routine(l))
			continue;
		if (prev)
			add_row(a, prev->name, l->addr - prev->addr);
		else if (l->addr > map->origin)
			add_row(a, BEFORE_FIRST, l->addr - map->origin);
		prev = l;
	}
	if (prev)
		add_row(a, prev->name, map->code_end - prev->addr);
	else if (a->used > 0)
		add_row(a, BEFORE_FIRST, a->used);
	add_row(a, "(free)", budget - a->used);
	return 0;
}

void account_free(struct account *a)
{
	free(a->rows);
	memset(a, 0, sizeof *a);
}

void print_used(FILE *out, uint64_t used, unsigned long budget)
{
	fprintf(out, "%llu / %lu bytes (%llu free)\n", (unsigned long long)used,
		budget, (unsigned long long)(budget - used));
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

void account_print(FILE *out, const struct account *a)
{
	char share[32];
	int name_w = (int)strlen("routine"), bytes_w = (int)strlen("bytes");
	int share_w = snprintf(share, sizeof share, "of %lu", a->budget);

	share_w = max_int(share_w, (int)strlen("100.0%"));
	for (size_t i = 0; i < a->nrows; i++) {
		name_w = max_int(name_w, (int)strlen(a->rows[i].name));
		bytes_w = max_int(bytes_w, snprintf(NULL, 0, "%llu",
				  (unsigned long long)a->rows[i].bytes));
	}
	fprintf(out, "  %-*s  %*s  %*s\n", name_w, "routine", bytes_w, "bytes",
		share_w, share);
	for (size_t i = 0; i < a->nrows; i++) {
		const struct row *r = &a->rows[i];

		fprintf(out, "  %-*s  %*llu  %*.1f%%\n", name_w, r->name, bytes_w,
			(unsigned long long)r->bytes, share_w - 1,
			100.0 * (double)r->bytes / (double)a->budget);
	}
}

int image_check(const char *image_path, const char *bin_path,
		const unsigned char *bin, size_t bin_size, struct msg *m)
{
	size_t n = bin_size > SIGNATURE_OFFSET + 2 ? bin_size : SIGNATURE_OFFSET + 2;
	const unsigned char *sig;
	unsigned char *img;
	int rc = 0;

	if (load_prefix(image_path, IMAGE_SIZE, "a disk image", n, &img, m) < 0)
		return -1;
	sig = img + SIGNATURE_OFFSET;
	if (sig[0] != 0x55 || sig[1] != 0xAA)
		rc = fail(m, "%s has 0x%02X 0x%02X at offset %d, not the boot signature 0x55 0xAA.",
			  image_path, sig[0], sig[1], SIGNATURE_OFFSET);
	for (size_t i = 0; rc == 0 && i < bin_size; i++)
		if (img[i] != bin[i])
			rc = fail(m, "%s does not begin with %s: the first difference is at offset %zu (0x%02X, not 0x%02X).",
				  image_path, bin_path, i, img[i], bin[i]);
	free(img);
	return rc;
}

int cmd_size(const struct cli *cli, FILE *out, struct msg *m)
{
	struct map map;
	int rc;

	if (map_load(cli->map, &map, m) < 0)
		return -1;
	rc = budget_check(cli->bin, map_used(&map), cli->budget, m);
	if (rc == 0)
		print_used(out, map_used(&map), cli->budget);
	map_free(&map);
	return rc;
}

/* Nothing is printed until every check has passed. */
int cmd_check(const struct cli *cli, FILE *out, struct msg *m)
{
	unsigned char *bin;
	struct account a;
	struct map map;
	int rc = -1;

	if (bin_load(cli->bin, cli->budget, &bin, m) < 0)
		return -1;
	if (map_load(cli->map, &map, m) < 0)
		goto out_bin;
	if (map_matches_bin(cli->map, &map, cli->bin, cli->budget, m) < 0 ||
	    budget_check(cli->bin, map_used(&map), cli->budget, m) < 0 ||
	    account_build(&map, cli->map, cli->budget, &a, m) < 0)
		goto out_map;
	if (image_check(cli->image, cli->bin, bin, cli->budget, m) == 0) {
		print_used(out, a.used, a.budget);
		account_print(out, &a);
		fprintf(out, "%s: %d bytes, 0x55AA at %d, begins with %s\n",
			cli->image, IMAGE_SIZE, SIGNATURE_OFFSET, cli->bin);
		rc = 0;
	}
	account_free(&a);
out_map:
	map_free(&map);
out_bin:
	free(bin);
	return rc;
}
