/* vmdk_desc.c - VMDK descriptors (see vmdk.h): parsing the text a reader meets, and
 * writing imgtool's own; and the small helpers every vmdk file shares.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "vmdk.h"

const char vmdk_magic[4] = { 'K', 'D', 'M', 'V' };
const char vmdk_newlines[4] = { '\n', ' ', '\r', '\n' };

uint64_t vmdk_div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

const char *vmdk_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* "PATH is not a usable VMDK image: WHY" */
int vmdk_unusable(struct msg *m, const char *path, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return fail(m, "%s is not a usable VMDK image: %s", path, why);
}

void vmdk_header_get(const unsigned char *b, struct header *h)
{
	h->version = get_le32(b + H_VERSION);
	h->flags = get_le32(b + H_FLAGS);
	h->capacity = get_le64(b + H_CAPACITY);
	h->grain = get_le64(b + H_GRAIN);
	h->desc_offset = get_le64(b + H_DESC_OFFSET);
	h->desc_size = get_le64(b + H_DESC_SIZE);
	h->gtes = get_le32(b + H_GTES);
	h->rgd = get_le64(b + H_RGD);
	h->gd = get_le64(b + H_GD);
	h->overhead = get_le64(b + H_OVERHEAD);
	h->compression = get_le16(b + H_COMPRESS);
}

/* --- the descriptor ---------------------------------------------------------------- */

void vmdk_desc_free(struct desc *d)
{
	for (size_t i = 0; i < d->next; i++)
		free(d->ext[i].name);
	free(d->ext);
	d->ext = NULL;
	d->next = 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

static bool is_control(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7F;
}

/* Text from a descriptor, cut to size, with control characters as '?': info and
 * messages print it, and a terminal must not take it for commands. */
static void copy_text(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	for (size_t i = 0; i < len; i++)
		dst[i] = is_control(src[i]) ? '?' : src[i];
	dst[len] = '\0';
}

/* A decimal number of at most 19 digits at s[*i], skipping blanks before it. */
static bool take_number(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t start;

	while (*i < n && blank(s[*i]))
		(*i)++;
	start = *i;
	*v = 0;
	while (*i < n && s[*i] >= '0' && s[*i] <= '9' && *i - start < 19)
		*v = *v * 10 + (uint64_t)(s[(*i)++] - '0');
	return *i > start && (*i == n || !(s[*i] >= '0' && s[*i] <= '9'));
}

static bool take_word(const char *s, size_t n, size_t *i, const char **w, size_t *wlen)
{
	while (*i < n && blank(s[*i]))
		(*i)++;
	*w = s + *i;
	while (*i < n && !blank(s[*i]))
		(*i)++;
	*wlen = (size_t)(s + *i - *w);
	return *wlen > 0;
}

static bool word_is(const char *w, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(w, lit, len) == 0;
}

/* ACCESS SECTORS TYPE ["FILE" [OFFSET]] (spec 1.1, "Extent Descriptions"). */
static int parse_extent(const char *s, size_t n, unsigned line, const char *path,
			struct desc *d, struct msg *m)
{
	struct desc_extent e = { .line = line };
	const char *access, *type, *name = NULL;
	size_t alen, tlen, nlen = 0, i = 0;

	if (!take_word(s, n, &i, &access, &alen) || !take_number(s, n, &i, &e.sectors) ||
	    !take_word(s, n, &i, &type, &tlen))
		goto syntax;
	while (i < n && blank(s[i]))
		i++;
	if (i < n && s[i] == '"') {
		name = s + ++i;
		while (i < n && s[i] != '"')
			i++;
		if (i == n)
			goto syntax;
		nlen = (size_t)(s + i - name);
		i++;
		while (i < n && blank(s[i]))
			i++;
		if (i < n && !take_number(s, n, &i, &e.offset))
			goto syntax;
		while (i < n && blank(s[i]))
			i++;
	}
	if (i != n)
		goto syntax;

	if (word_is(access, alen, "NOACCESS"))
		return vmdk_unusable(m, path, "line %u of its descriptor is a NOACCESS extent, "
				     "which has no data to read.", line);
	if (word_is(type, tlen, "FLAT") || word_is(type, tlen, "VMFS"))
		e.kind = EXT_FLAT;
	else if (word_is(type, tlen, "SPARSE"))
		e.kind = EXT_SPARSE;
	else if (word_is(type, tlen, "ZERO"))
		e.kind = EXT_ZERO;
	else {
		char word[24];

		copy_text(word, sizeof word, type, tlen);
		return vmdk_unusable(m, path, "line %u of its descriptor is a %s extent; imgtool "
				     "reads FLAT, VMFS, ZERO and SPARSE extents.", line, word);
	}
	if (e.sectors == 0)
		return vmdk_unusable(m, path, "line %u of its descriptor is an extent of 0 "
				     "sectors.", line);
	if ((e.kind == EXT_ZERO) != (name == NULL) || (e.kind == EXT_SPARSE && e.offset))
		goto syntax;
	if (d->next == EXTENTS_MAX)
		return vmdk_unusable(m, path, "its descriptor has more than %d extents.",
				     EXTENTS_MAX);
	if (name) {
		if (nlen == 0 || nlen > NAME_MAX_LEN)
			return vmdk_unusable(m, path, "line %u of its descriptor names an "
					     "extent file of %zu characters.", line, nlen);
		for (size_t k = 0; k < nlen; k++)
			if (is_control(name[k]))
				return vmdk_unusable(m, path, "line %u of its descriptor names an "
						     "extent file with a control character.", line);
		e.name = strndup(name, nlen);
		if (!e.name)
			return fail_errno(m, "cannot read %s", path);
	}
	if (d->next % 16 == 0) {
		struct desc_extent *more = realloc(d->ext, (d->next + 16) * sizeof *more);

		if (!more) {
			free(e.name);
			return fail_errno(m, "cannot read %s", path);
		}
		d->ext = more;
	}
	d->ext[d->next++] = e;
	return 0;
syntax:
	return vmdk_unusable(m, path, "line %u of its descriptor is not an extent as ACCESS "
			     "SECTORS TYPE \"FILE\" OFFSET.", line);
}

static void set_value(struct desc *d, const char *key, size_t klen, const char *v, size_t vlen)
{
	static const struct {
		const char *key;
		size_t at, size;
	} fields[] = {
#define FIELD(k, f) { k, offsetof(struct desc, f), sizeof ((struct desc *)0)->f }
		FIELD("createType", create_type),
		FIELD("CID", cid),
		FIELD("parentCID", parent_cid),
		FIELD("parentFileNameHint", parent_hint),
		FIELD("ddb.adapterType", adapter),
		FIELD("ddb.uuid.image", uuid),
		FIELD("ddb.virtualHWVersion", hw_version),
		FIELD("ddb.geometry.cylinders", cylinders),
		FIELD("ddb.geometry.heads", heads),
		FIELD("ddb.geometry.sectors", sectors),
#undef FIELD
	};

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		char *dst = (char *)d + fields[i].at;

		if (!word_is(key, klen, fields[i].key))
			continue;
		copy_text(dst, fields[i].size, v, vlen);
		if (dst == d->cid) {
			d->has_cid = true;
			d->cid_ok = vlen < fields[i].size && is_hex(d->cid, 1, 8);
		}
		if (dst == d->parent_cid)
			d->has_parent_cid = true;
		if (dst == d->parent_hint && !*dst)
			snprintf(dst, fields[i].size, "?");	/* named, even if empty */
	}
}

/* Read the lines of a descriptor: comments, KEY=VALUE (the value maybe quoted) and
 * extent lines. Lines imgtool has no use for are skipped, as VMware does. */
int vmdk_parse_descriptor(const char *text, size_t len, const char *path, struct desc *d,
			  struct msg *m)
{
	size_t pos = 0;
	unsigned line = 0;

	memset(d, 0, sizeof *d);
	len = strnlen(text, len);	/* an embedded descriptor is padded with zeros */
	while (pos < len) {
		const char *s = text + pos, *eq;
		size_t n = 0;

		while (pos + n < len && s[n] != '\n')
			n++;
		pos += n + 1;
		line++;
		while (n && (blank(s[n - 1]) || s[n - 1] == '\r'))
			n--;
		while (n && blank(*s)) {
			s++;
			n--;
		}
		if (n == 0 || *s == '#')
			continue;
		if ((n > 3 && memcmp(s, "RW", 2) == 0 && blank(s[2])) ||
		    (n > 7 && memcmp(s, "RDONLY", 6) == 0 && blank(s[6])) ||
		    (n > 9 && memcmp(s, "NOACCESS", 8) == 0 && blank(s[8]))) {
			if (parse_extent(s, n, line, path, d, m) < 0)
				return -1;
			continue;
		}
		eq = memchr(s, '=', n);
		if (!eq)
			continue;
		size_t klen = (size_t)(eq - s), vat = klen + 1, vlen;

		while (klen && blank(s[klen - 1]))
			klen--;
		while (vat < n && blank(s[vat]))
			vat++;
		vlen = n - vat;
		if (vlen >= 2 && s[vat] == '"' && s[n - 1] == '"') {
			vat++;
			vlen -= 2;
		}
		set_value(d, s, klen, s + vat, vlen);
	}
	return 0;
}

int vmdk_descriptor_text(char *buf, size_t size, const struct wdesc *w)
{
	return snprintf(buf, size,
			"# Disk DescriptorFile\n"
			"version=1\n"
			"CID=%08x\n"
			"parentCID=ffffffff\n"
			"createType=\"%s\"\n"
			"\n"
			"# Extent description\n"
			"RW %llu %s \"%s\"%s\n"
			"\n"
			"# The Disk Data Base\n"
			"#DDB\n"
			"\n"
			"ddb.virtualHWVersion = \"4\"\n"
			"ddb.geometry.cylinders = \"%llu\"\n"
			"ddb.geometry.heads = \"%u\"\n"
			"ddb.geometry.sectors = \"63\"\n"
			"ddb.adapterType = \"%s\"\n"
			"ddb.uuid.image = \"%s\"\n",
			w->cid, w->create_type, (unsigned long long)w->capacity, w->extent_type,
			w->extent, strcmp(w->extent_type, "FLAT") == 0 ? " 0" : "",
			(unsigned long long)w->cylinders, w->heads, w->adapter, w->uuid);
}
