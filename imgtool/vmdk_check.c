/* vmdk_check.c - what imgtool check finds in a VMDK the reader could open: in its
 * descriptor, a text that does not parse, a missing or bad CID, parentCID or createType,
 * and extents that disagree with the data; in each sparse extent, line ends changed by
 * a text-mode copy, a footer that disagrees with the header, a missing end-of-stream
 * marker, redundant grain tables that differ, grains where none can be, and structures
 * that run past the end of the file or overlap. At most FAULTS_MAX faults a file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "report.h"
#include "vmdk.h"

/* Faults for one image, at most FAULTS_MAX of them, then one that says so. */
struct report {
	struct faults *f;
	const char *path;
	size_t n;
};

static void report(struct report *r, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void report(struct report *r, const char *fmt, ...)
{
	char text[480];
	va_list ap;

	if (r->n++ > FAULTS_MAX)
		return;
	if (r->n > FAULTS_MAX) {
		fault(r->f, "%s: more faults than these %d; the rest are not listed.", r->path,
		      FAULTS_MAX);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	fault(r->f, "%s: %s", r->path, text);
}

/* A stretch of a sparse file that a structure takes, for the overlap check. */
struct region {
	uint64_t start, end;		/* sectors, end exclusive */
	int kind;			/* REGION_* */
	uint64_t index;
};

enum { REGION_HEADER, REGION_DESC, REGION_GD, REGION_RGD, REGION_GT, REGION_RGT,
       REGION_GRAIN, REGION_FOOTER };

struct regions {
	struct region *r;
	size_t n, cap, max;
	bool full;
};

static void region_add(struct regions *rs, int kind, uint64_t index, uint64_t start,
		       uint64_t sectors)
{
	if (rs->full || sectors == 0)
		return;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 64;
		struct region *more;

		if (cap > rs->max)
			cap = rs->max;
		more = cap > rs->n ? realloc(rs->r, cap * sizeof *more) : NULL;
		if (!more) {
			rs->full = true;
			return;
		}
		rs->r = more;
		rs->cap = cap;
	}
	rs->r[rs->n++] = (struct region){ start, start + sectors, kind, index };
}

static int region_cmp(const void *a, const void *b)
{
	const struct region *x = a, *y = b;

	/* A total order, so the faults come out the same on every run. */
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index ? 1 : 0;
}

static void region_name(const struct region *r, const struct sparse *sp, char *buf,
			size_t size)
{
	switch (r->kind) {
	case REGION_HEADER: snprintf(buf, size, "the header"); break;
	case REGION_DESC: snprintf(buf, size, "the embedded descriptor"); break;
	case REGION_GD: snprintf(buf, size, "the grain directory"); break;
	case REGION_RGD: snprintf(buf, size, "the redundant grain directory"); break;
	case REGION_GT:
		snprintf(buf, size, "grain table %llu", (unsigned long long)r->index);
		break;
	case REGION_RGT:
		snprintf(buf, size, "redundant grain table %llu", (unsigned long long)r->index);
		break;
	case REGION_GRAIN:
		snprintf(buf, size, "the grain of virtual sector %llu",
			 (unsigned long long)(r->index * sp->h.grain));
		break;
	default: snprintf(buf, size, "the footer"); break;
	}
	buf[size - 1] = '\0';
}

/* Read the n-entry table at sector at into t; false (with a fault) when it is not
 * inside the file. */
static bool read_table(const struct infile *f, uint64_t at, uint32_t *t, uint64_t n,
		       const char *what, struct report *r)
{
	unsigned char raw[GTES_MAX * 4];
	struct msg m;

	if (at == 0 || at > f->size / SECTOR || n * 4 > f->size - at * SECTOR) {
		report(r, "%s at sector %llu runs past the end of the file (%llu bytes).", what,
		       (unsigned long long)at, (unsigned long long)f->size);
		return false;
	}
	for (uint64_t done = 0; done < n; done += GTES_MAX) {
		size_t k = n - done < GTES_MAX ? (size_t)(n - done) : GTES_MAX;

		if (infile_read(f, raw, k * 4, at * SECTOR + done * 4, what, &m) < 0) {
			report(r, "%s", m.text);
			return false;
		}
		for (size_t i = 0; i < k; i++)
			t[done + i] = get_le32(raw + 4 * i);
	}
	return true;
}

/* The grain an entry points at: inside the file, and for a stream a grain marker
 * that names this grain. Adds its region. */
static void check_grain(const struct extent *e, uint64_t gi, uint32_t entry,
			struct regions *rs, struct report *r)
{
	const struct sparse *sp = &e->sp;
	const struct infile *f = e->file;
	uint64_t at = (uint64_t)entry * SECTOR, sectors = sp->h.grain;
	unsigned char marker[GRAIN_DATA];
	struct msg m;

	if (sp->compressed) {
		if (at > f->size || GRAIN_DATA > f->size - at ||
		    infile_read(f, marker, sizeof marker, at, "a grain marker", &m) < 0) {
			report(r, "the grain of virtual sector %llu is at sector %u, past the end "
			       "of the file.", (unsigned long long)(gi * sp->h.grain), entry);
			return;
		}
		uint32_t size = get_le32(marker + M_SIZE);

		if (get_le64(marker + M_VAL) != gi * sp->h.grain)
			report(r, "the grain of virtual sector %llu (at sector %u) has a marker "
			       "for virtual sector %llu.", (unsigned long long)(gi * sp->h.grain),
			       entry, (unsigned long long)get_le64(marker + M_VAL));
		if (size == 0 || size > vmdk_zbound(sp->h.grain * SECTOR)) {
			report(r, "the grain of virtual sector %llu (at sector %u) gives a size "
			       "of %u bytes.", (unsigned long long)(gi * sp->h.grain), entry,
			       size);
			return;
		}
		sectors = vmdk_div_up(GRAIN_DATA + (uint64_t)size, SECTOR);
	} else if (!sp->footer && !(sp->h.flags & FLAG_MARKERS) && entry < sp->h.overhead) {
		report(r, "the grain of virtual sector %llu is at sector %u, inside the %llu "
		       "sectors of metadata before the grains.",
		       (unsigned long long)(gi * sp->h.grain), entry,
		       (unsigned long long)sp->h.overhead);
	}
	if (sectors > f->size / SECTOR || entry > f->size / SECTOR - sectors) {
		report(r, "the grain of virtual sector %llu (%llu sectors at sector %u) runs "
		       "past the end of the file (%llu bytes).",
		       (unsigned long long)(gi * sp->h.grain), (unsigned long long)sectors,
		       entry, (unsigned long long)f->size);
		return;
	}
	region_add(rs, REGION_GRAIN, gi, entry, sectors);
}

static void check_overlaps(struct regions *rs, const struct sparse *sp, struct report *r)
{
	uint64_t end = 0;
	size_t last = 0;

	if (rs->full) {
		report(r, "its tables point at more grains than the file can hold apart, so "
		       "some of them overlap.");
		return;
	}
	qsort(rs->r, rs->n, sizeof *rs->r, region_cmp);
	for (size_t i = 0; i < rs->n; i++) {
		if (i && rs->r[i].start < end) {
			char a[64], b[64];

			region_name(&rs->r[last], sp, a, sizeof a);
			region_name(&rs->r[i], sp, b, sizeof b);
			report(r, "%s (sector %llu) overlaps %s (sector %llu).", b,
			       (unsigned long long)rs->r[i].start, a,
			       (unsigned long long)rs->r[last].start);
		}
		if (rs->r[i].end > end) {
			end = rs->r[i].end;
			last = i;
		}
	}
}

static void check_sparse(const struct extent *e, struct report *r)
{
	const struct sparse *sp = &e->sp;
	const struct infile *f = e->file;
	/* Regions that do not overlap take a sector each at least: more than the file
	 * has sectors proves an overlap, and bounds the work on a hostile file. */
	struct regions rs = { .max = f->size / SECTOR + 8 };
	uint32_t *gt = malloc(GTES_MAX * 4), *rgt = malloc(GTES_MAX * 4), *rgd = NULL;
	uint64_t gd_sectors = vmdk_div_up(sp->ngt * 4, SECTOR);
	bool redundant = sp->h.flags & FLAG_RGD;
	struct header first;

	if (!gt || !rgt) {
		report(r, "there was not enough memory to check its grain tables.");
		goto out;
	}
	vmdk_header_get(sp->head, &first);
	if ((first.flags & FLAG_NEWLINE) && memcmp(sp->head + H_NEWLINES, vmdk_newlines, 4) != 0)
		report(r, "its newline-check bytes (73 to 76) are not \"\\n \\r\\n\": the file "
		       "went through a text-mode copy that changed line ends.");
	if (sp->footer && (first.capacity != sp->h.capacity || first.grain != sp->h.grain ||
			   first.gtes != sp->h.gtes || first.version != sp->h.version))
		report(r, "its footer gives a different capacity, grain, table size or version "
		       "than its header.");
	if (sp->h.flags & FLAG_MARKERS) {
		unsigned char eos[SECTOR];
		struct msg m;

		if (f->size < SECTOR || f->size % SECTOR ||
		    infile_read(f, eos, SECTOR, f->size - SECTOR, "the last sector", &m) < 0 ||
		    !is_zero(eos, SECTOR))
			report(r, "its last sector is not an end-of-stream marker (a zero "
			       "sector); ESXi's OVF import refuses such a stream.");
	}
	region_add(&rs, REGION_HEADER, 0, 0, 1);
	region_add(&rs, REGION_DESC, 0, sp->h.desc_offset, sp->h.desc_size);
	region_add(&rs, REGION_GD, 0, sp->h.gd, gd_sectors);
	if (sp->footer)
		region_add(&rs, REGION_FOOTER, 0, f->size / SECTOR - 3, 3);
	if (redundant) {
		rgd = malloc((size_t)sp->ngt * 4);
		if (!rgd)
			report(r, "there was not enough memory to check its redundant grain "
			       "directory.");
		else if (!read_table(f, sp->h.rgd, rgd, sp->ngt, "its redundant grain directory",
				     r))
			redundant = false;
		else
			region_add(&rs, REGION_RGD, 0, sp->h.rgd, gd_sectors);
		if (!rgd)
			redundant = false;
	}
	for (uint64_t t = 0; t < sp->ngt && !rs.full; t++) {
		uint64_t gt_sectors = vmdk_div_up(sp->h.gtes * 4u, SECTOR);
		bool have = false, have_r = false;
		char what[64];

		if (sp->gd[t]) {
			snprintf(what, sizeof what, "grain table %llu", (unsigned long long)t);
			have = read_table(f, sp->gd[t], gt, sp->h.gtes, what, r);
			if (have)
				region_add(&rs, REGION_GT, t, sp->gd[t], gt_sectors);
		}
		if (redundant && rgd[t]) {
			snprintf(what, sizeof what, "redundant grain table %llu",
				 (unsigned long long)t);
			have_r = read_table(f, rgd[t], rgt, sp->h.gtes, what, r);
			if (have_r)
				region_add(&rs, REGION_RGT, t, rgd[t], gt_sectors);
		}
		if (redundant && (!sp->gd[t] != !rgd[t] ||
				  (have && have_r && memcmp(gt, rgt, sp->h.gtes * 4u) != 0)))
			report(r, "its redundant grain table %llu differs from grain table %llu.",
			       (unsigned long long)t, (unsigned long long)t);
		for (uint32_t i = 0; have && i < sp->h.gtes && !rs.full; i++) {
			uint64_t gi = t * sp->h.gtes + i;

			if (gi * sp->h.grain >= sp->h.capacity) {
				if (gt[i])
					report(r, "grain table %llu has an entry for a grain past "
					       "the end of the disk.", (unsigned long long)t);
				break;
			}
			if (vmdk_entry_stored(sp, gt[i]))
				check_grain(e, gi, gt[i], &rs, r);
		}
	}
	check_overlaps(&rs, sp, r);
out:
	free(rs.r);
	free(gt);
	free(rgt);
	free(rgd);
}

static void check_descriptor(struct vmdk *v, struct report *r)
{
	const struct desc *ds = &v->desc;
	const struct sparse *sp = vmdk_first_sparse(v);
	uint64_t sum = 0;

	if (*v->desc_error) {
		report(r, "its embedded descriptor does not parse: %s", v->desc_error);
		return;
	}
	if (!v->text && !sp->h.desc_size)
		return;		/* an extent of a split disk: no descriptor of its own */
	if (!ds->has_cid)
		report(r, "its descriptor has no CID.");
	else if (!ds->cid_ok)
		report(r, "its descriptor's CID \"%s\" is not 1 to 8 hex digits.", ds->cid);
	if (ds->has_parent_cid && strcmp(ds->parent_cid, "ffffffff") != 0)
		report(r, "its descriptor gives parentCID=%s, but a disk without a parent "
		       "has ffffffff.", ds->parent_cid);
	if (!*ds->create_type)
		report(r, "its descriptor has no createType.");
	if (v->text) {
		for (size_t i = 0; i < v->next; i++) {
			const struct extent *e = &v->ext[i];

			if (e->kind == EXT_SPARSE && e->sp.h.capacity != e->sectors)
				report(r, "its extent \"%s\" holds %llu sectors, but the "
				       "descriptor gives it %llu.", e->name,
				       (unsigned long long)e->sp.h.capacity,
				       (unsigned long long)e->sectors);
		}
		return;
	}
	for (size_t i = 0; i < ds->next; i++)
		sum += ds->ext[i].sectors;
	if (sum != sp->h.capacity)
		report(r, "its descriptor's extents add up to %llu sectors, but its header "
		       "gives a capacity of %llu.", (unsigned long long)sum,
		       (unsigned long long)sp->h.capacity);
	if (sp->compressed != (strcmp(ds->create_type, "streamOptimized") == 0) &&
	    *ds->create_type)
		report(r, "its descriptor says createType=\"%s\", but its grains are %s.",
		       ds->create_type, sp->compressed ? "compressed" : "not compressed");
}

void vmdk_check(struct disk *d, struct faults *f)
{
	struct vmdk *v = (struct vmdk *)d;
	struct report r = { f, d->file.path, 0 };

	check_descriptor(v, &r);
	for (size_t i = 0; i < v->next; i++)
		if (v->ext[i].kind == EXT_SPARSE) {
			struct report er = { f, v->ext[i].file->path, 0 };

			check_sparse(&v->ext[i], &er);
		}
}
