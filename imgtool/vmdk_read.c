/* vmdk_read.c - reading VMDK images (see vmdk.h): a sparse extent opened directly, or
 * a descriptor and the FLAT, VMFS, ZERO and SPARSE extents it names; probing, reads,
 * the allocation status, info, and the format's entry in the table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bytes.h"
#include "report.h"
#include "vmdk.h"

/* --- reading: the disk and its extents ------------------------------------------------ */

/* The largest compressed grain a stream can hold: zlib's stored-block worst case. */
size_t vmdk_zbound(uint64_t grain_bytes)
{
	return (size_t)grain_bytes + (size_t)grain_bytes / 8 + 1024;
}

/* Check a sparse header (or footer) against the file it is in. where is "header" or
 * "footer". */
static int header_ok(const struct header *h, const struct infile *f, const char *where,
		     struct msg *m)
{
	uint64_t span;

	if (h->version < 1 || h->version > 3)
		return vmdk_unusable(m, f->path, "its %s gives version %u; sparse extents are "
				     "version 1, 2 or 3.", where, h->version);
	if (h->compression > COMPRESS_DEFLATE)
		return vmdk_unusable(m, f->path, "its %s gives compression algorithm %u; only 0 "
				     "(none) and 1 (deflate) exist.", where, h->compression);
	if (h->capacity == 0)
		return vmdk_unusable(m, f->path, "its %s gives a capacity of 0 sectors.", where);
	if (h->capacity > DISK_MAX_SECTORS)
		return vmdk_unusable(m, f->path, "its %s gives a capacity of %llu sectors, more "
				     "than imgtool reads (2^53).", where,
				     (unsigned long long)h->capacity);
	if (h->grain == 0 || h->grain > GRAIN_MAX_SECTORS || (h->grain & (h->grain - 1)))
		return vmdk_unusable(m, f->path, "its %s gives a grain of %llu sectors, not a "
				     "power of two from 1 to %u.", where,
				     (unsigned long long)h->grain, GRAIN_MAX_SECTORS);
	if (h->gtes == 0 || h->gtes > GTES_MAX)
		return vmdk_unusable(m, f->path, "its %s gives %u entries per grain table; imgtool "
				     "reads 1 to %u.", where, h->gtes, GTES_MAX);
	if (h->desc_size && (h->desc_size > DESC_MAX / SECTOR || h->desc_offset == 0 ||
			     h->desc_offset > f->size / SECTOR ||
			     h->desc_size > f->size / SECTOR - h->desc_offset))
		return vmdk_unusable(m, f->path, "its embedded descriptor (%llu sectors at sector "
				     "%llu) is larger than %u sectors or runs past the end of the "
				     "file (%llu bytes).", (unsigned long long)h->desc_size,
				     (unsigned long long)h->desc_offset, DESC_MAX / SECTOR,
				     (unsigned long long)f->size);
	span = h->grain * h->gtes;
	if (vmdk_div_up(h->capacity, span) > f->size / 4 || h->gd == 0 ||
	    h->gd > f->size / SECTOR ||
	    vmdk_div_up(h->capacity, span) * 4 > f->size - h->gd * SECTOR)
		return vmdk_unusable(m, f->path, "its grain directory (%llu entries at sector "
				     "%llu) runs past the end of the file (%llu bytes).",
				     (unsigned long long)vmdk_div_up(h->capacity, span),
				     (unsigned long long)h->gd, (unsigned long long)f->size);
	return 0;
}

/* A stream whose header says "grain directory at end" has the real header in a
 * footer: footer marker, footer, end-of-stream marker, the last three sectors. */
static int read_footer(const struct infile *f, struct header *h, struct msg *m)
{
	unsigned char tail[3 * SECTOR];
	uint64_t end = f->size / SECTOR * SECTOR;

	if (end < 4 * SECTOR)
		return vmdk_unusable(m, f->path, "its header puts the grain directory in a footer, "
				     "but the file is too short to have one.");
	if (infile_read(f, tail, sizeof tail, end - sizeof tail, "the footer", m) < 0)
		return -1;
	if (get_le32(tail + M_SIZE) != 0 || get_le32(tail + M_TYPE) != MARKER_FOOTER ||
	    memcmp(tail + SECTOR, vmdk_magic, sizeof vmdk_magic) != 0 ||
	    get_le64(tail + 2 * SECTOR + M_VAL) != 0 ||
	    get_le32(tail + 2 * SECTOR + M_SIZE) != 0 ||
	    get_le32(tail + 2 * SECTOR + M_TYPE) != MARKER_EOS)
		return vmdk_unusable(m, f->path, "its header puts the grain directory in a footer, "
				     "but its last three sectors are not a footer marker, a footer "
				     "and an end-of-stream marker.");
	vmdk_header_get(tail + SECTOR, h);
	if (h->gd == GD_AT_END)
		return vmdk_unusable(m, f->path, "its footer does not say where the grain "
				     "directory is either.");
	return header_ok(h, f, "footer", m);
}

/* Open the sparse extent in f: its header (or footer) and its grain directory. */
static int sparse_open(struct sparse *sp, const struct infile *f, struct msg *m)
{
	if (infile_read(f, sp->head, SECTOR, 0, "the sparse header", m) < 0)
		return -1;
	if (memcmp(sp->head, vmdk_magic, sizeof vmdk_magic) != 0)
		return vmdk_unusable(m, f->path, "it does not start with the sparse extent magic "
				     "\"KDMV\".");
	vmdk_header_get(sp->head, &sp->h);
	if (sp->h.gd == GD_AT_END) {
		if (read_footer(f, &sp->h, m) < 0)
			return -1;
		sp->footer = true;
	} else if (header_ok(&sp->h, f, "header", m) < 0) {
		return -1;
	}
	sp->compressed = sp->h.compression == COMPRESS_DEFLATE;
	sp->ngt = vmdk_div_up(sp->h.capacity, sp->h.grain * sp->h.gtes);
	sp->gd = malloc((size_t)sp->ngt * 4);
	if (!sp->gd)
		return fail_errno(m, "cannot read %s", f->path);
	unsigned char *raw = (unsigned char *)sp->gd;

	if (infile_read(f, raw, (size_t)sp->ngt * 4, sp->h.gd * SECTOR, "the grain directory",
			m) < 0)
		return -1;
	for (uint64_t i = 0; i < sp->ngt; i++)
		sp->gd[i] = get_le32(raw + 4 * i);
	return 0;
}

/* The grain table entry of grain gi of sparse extent e: 0 when not allocated. */
static int grain_entry(struct vmdk *v, const struct extent *e, uint64_t gi, uint32_t *entry,
		       struct msg *m)
{
	const struct sparse *sp = &e->sp;
	uint64_t t = gi / sp->h.gtes;
	uint32_t at;

	*entry = 0;
	if (t >= sp->ngt || sp->gd[t] == 0)
		return 0;
	at = sp->gd[t];
	if (v->gt_of != e || v->gt_index != t) {
		unsigned char raw[GTES_MAX * 4];

		v->gt_of = NULL;
		if ((uint64_t)at * SECTOR > e->file->size ||
		    sp->h.gtes * 4u > e->file->size - (uint64_t)at * SECTOR)
			return vmdk_unusable(m, e->file->path, "its grain directory entry %llu "
					     "points at sector %u, where a grain table would "
					     "run past the end of the file (%llu bytes).",
					     (unsigned long long)t, at,
					     (unsigned long long)e->file->size);
		if (infile_read(e->file, raw, sp->h.gtes * 4u, (uint64_t)at * SECTOR,
				"a grain table", m) < 0)
			return -1;
		for (uint32_t i = 0; i < sp->h.gtes; i++)
			v->gt[i] = get_le32(raw + 4 * i);
		v->gt_of = e;
		v->gt_index = t;
	}
	*entry = v->gt[gi % sp->h.gtes];
	return 0;
}

bool vmdk_entry_stored(const struct sparse *sp, uint32_t entry)
{
	return entry > 1 || (entry == 1 && !(sp->h.flags & FLAG_ZERO_GTE));
}

/* Inflate the compressed grain gi (its marker at sector at) into v->grain. */
static int load_grain(struct vmdk *v, const struct extent *e, uint64_t gi, uint32_t at,
		      struct msg *m)
{
	const struct sparse *sp = &e->sp;
	uint64_t grain_bytes = sp->h.grain * SECTOR, off = (uint64_t)at * SECTOR;
	uint64_t need = sp->h.capacity - gi * sp->h.grain;
	uint32_t size;
	int zrc;

	if (v->grain_of == e && v->grain_index == gi)
		return 0;
	v->grain_of = NULL;
	if (!v->grain) {
		v->grain = malloc(GRAIN_MAX_SECTORS * SECTOR);
		v->zbuf_size = GRAIN_DATA + vmdk_zbound(GRAIN_MAX_SECTORS * SECTOR);
		v->zbuf = malloc(v->zbuf_size);
		if (!v->grain || !v->zbuf)
			return fail_errno(m, "cannot read %s", e->file->path);
	}
	if (!v->z_ready) {
		memset(&v->z, 0, sizeof v->z);
		if (inflateInit(&v->z) != Z_OK)
			return fail(m, "cannot read %s: zlib does not start.", e->file->path);
		v->z_ready = true;
	}
	if (off > e->file->size || GRAIN_DATA > e->file->size - off)
		return vmdk_unusable(m, e->file->path, "its compressed grain %llu is at sector "
				     "%u, past the end of the file (%llu bytes).",
				     (unsigned long long)gi, at,
				     (unsigned long long)e->file->size);
	if (infile_read(e->file, v->zbuf, GRAIN_DATA, off, "a grain marker", m) < 0)
		return -1;
	size = get_le32(v->zbuf + M_SIZE);
	if (size == 0 || size > vmdk_zbound(grain_bytes))
		return vmdk_unusable(m, e->file->path, "its compressed grain %llu (sector %u) "
				     "gives a size of %u bytes; a grain's data is 1 to %zu "
				     "bytes.", (unsigned long long)gi, at, size,
				     vmdk_zbound(grain_bytes));
	if (size > e->file->size - off - GRAIN_DATA)
		return vmdk_unusable(m, e->file->path, "its compressed grain %llu (sector %u, %u "
				     "bytes) runs past the end of the file (%llu bytes).",
				     (unsigned long long)gi, at, size,
				     (unsigned long long)e->file->size);
	if (infile_read(e->file, v->zbuf + GRAIN_DATA, size, off + GRAIN_DATA, "a grain", m) < 0)
		return -1;
	inflateReset(&v->z);
	v->z.next_in = v->zbuf + GRAIN_DATA;
	v->z.avail_in = size;
	v->z.next_out = v->grain;
	v->z.avail_out = (uInt)grain_bytes;
	zrc = inflate(&v->z, Z_FINISH);
	if (zrc != Z_STREAM_END)
		return vmdk_unusable(m, e->file->path, "its compressed grain %llu (sector %u) "
				     "does not inflate to at most a grain: %s.",
				     (unsigned long long)gi, at,
				     zrc == Z_BUF_ERROR && v->z.avail_out == 0 ? "it is longer"
				     : v->z.msg ? v->z.msg : "it is cut short");
	if (v->z.total_out < (need < sp->h.grain ? need * SECTOR : grain_bytes))
		return vmdk_unusable(m, e->file->path, "its compressed grain %llu (sector %u) "
				     "inflates to %lu bytes, less than the %llu of a grain.",
				     (unsigned long long)gi, at, (unsigned long)v->z.total_out,
				     (unsigned long long)grain_bytes);
	memset(v->grain + v->z.total_out, 0, (size_t)(grain_bytes - v->z.total_out));
	v->grain_of = e;
	v->grain_index = gi;
	return 0;
}

/* Read [off, off + len) of sparse extent e (offsets within the extent). */
static int sparse_read(struct vmdk *v, const struct extent *e, unsigned char *buf, size_t len,
		       uint64_t off, struct msg *m)
{
	const struct sparse *sp = &e->sp;
	uint64_t grain_bytes = sp->h.grain * SECTOR;

	while (len) {
		uint64_t gi = off / grain_bytes, in = off % grain_bytes;
		size_t n = grain_bytes - in < len ? (size_t)(grain_bytes - in) : len;
		uint32_t entry;

		if (grain_entry(v, e, gi, &entry, m) < 0)
			return -1;
		if (!vmdk_entry_stored(sp, entry)) {
			memset(buf, 0, n);
		} else if (sp->compressed) {
			if (load_grain(v, e, gi, entry, m) < 0)
				return -1;
			memcpy(buf, v->grain + in, n);
		} else {
			uint64_t at = (uint64_t)entry * SECTOR;

			if (at > e->file->size || in + n > e->file->size - at)
				return vmdk_unusable(m, e->file->path, "its grain %llu is "
						     "at sector %u, past the end of the "
						     "file (%llu bytes).",
						     (unsigned long long)gi, entry,
						     (unsigned long long)e->file->size);
			if (infile_read(e->file, buf, n, at + in, "a grain", m) < 0)
				return -1;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* From off within sparse extent e (left bytes to its end): a run of grains that are
 * all allocated or all not. */
static int sparse_status(struct vmdk *v, const struct extent *e, uint64_t off, uint64_t left,
			 uint64_t *run, bool *stored, struct msg *m)
{
	const struct sparse *sp = &e->sp;
	uint64_t grain_bytes = sp->h.grain * SECTOR, gi = off / grain_bytes;
	uint64_t grains = vmdk_div_up(e->sectors, sp->h.grain);
	uint32_t entry;

	if (grain_entry(v, e, gi, &entry, m) < 0)
		return -1;
	*stored = vmdk_entry_stored(sp, entry);
	for (gi++; gi < grains; gi++) {
		uint64_t t = gi / sp->h.gtes;

		if (!*stored && t < sp->ngt && sp->gd[t] == 0) {
			gi = (t + 1) * sp->h.gtes - 1;	/* a whole table unallocated */
			continue;
		}
		if (grain_entry(v, e, gi, &entry, m) < 0)
			return -1;
		if (vmdk_entry_stored(sp, entry) != *stored)
			break;
	}
	*run = gi * grain_bytes - off;
	if (gi >= grains || *run > left)
		*run = left;
	return 0;
}

/* Where a flat extent's file has data, as raw files do: holes read as zeros. */
static void flat_status(const struct extent *e, uint64_t off, uint64_t left, uint64_t *run,
			bool *stored)
{
	off_t at = (off_t)(e->offset + off), data, hole;

	*run = left;
	*stored = true;
	data = lseek(e->file->fd, at, SEEK_DATA);
	if (data == -1) {
		*stored = errno != ENXIO;	/* ENXIO: only a hole from here on */
		return;
	}
	if (data > at) {
		*stored = false;
		if ((uint64_t)(data - at) < left)
			*run = (uint64_t)(data - at);
		return;
	}
	hole = lseek(e->file->fd, at, SEEK_HOLE);
	if (hole > at && (uint64_t)(hole - at) < left)
		*run = (uint64_t)(hole - at);
}

static struct extent *extent_at(struct vmdk *v, uint64_t off)
{
	size_t lo = 0, hi = v->next;
	uint64_t sector = off / SECTOR;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->ext[mid].start <= sector)
			lo = mid;
		else
			hi = mid;
	}
	return &v->ext[lo];
}

static int vmdk_read(struct disk *d, void *buf, size_t len, uint64_t off, struct msg *m)
{
	struct vmdk *v = (struct vmdk *)d;
	unsigned char *out = buf;

	while (len) {
		struct extent *e = extent_at(v, off);
		uint64_t rel = off - e->start * SECTOR, left = e->sectors * SECTOR - rel;
		size_t n = left < len ? (size_t)left : len;

		if (e->kind == EXT_ZERO)
			memset(out, 0, n);
		else if (e->kind == EXT_FLAT &&
			 infile_read(e->file, out, n, e->offset + rel, "flat extent data", m) < 0)
			return -1;
		else if (e->kind == EXT_SPARSE && sparse_read(v, e, out, n, rel, m) < 0)
			return -1;
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vmdk_status(struct disk *d, uint64_t off, uint64_t *run, bool *stored,
		       struct msg *m)
{
	struct vmdk *v = (struct vmdk *)d;
	struct extent *e = extent_at(v, off);
	uint64_t rel = off - e->start * SECTOR, left = e->sectors * SECTOR - rel;

	if (e->kind == EXT_ZERO) {
		*run = left;
		*stored = false;
		return 0;
	}
	if (e->kind == EXT_FLAT) {
		flat_status(e, rel, left, run, stored);
		return 0;
	}
	return sparse_status(v, e, rel, left, run, stored, m);
}

/* --- reading: info and release ------------------------------------------------------- */

const struct sparse *vmdk_first_sparse(const struct vmdk *v)
{
	for (size_t i = 0; i < v->next; i++)
		if (v->ext[i].kind == EXT_SPARSE)
			return &v->ext[i].sp;
	return NULL;
}

static void vmdk_info(struct disk *d, struct info *i)
{
	struct vmdk *v = (struct vmdk *)d;
	const struct desc *ds = &v->desc;
	const struct sparse *sp = vmdk_first_sparse(v);
	char names[128] = "";
	size_t len = 0;

	if (*ds->create_type)
		info_str(i, "subformat", "%s", ds->create_type);
	if (*ds->adapter)
		info_str(i, "adapter", "%s", ds->adapter);
	if (*ds->cylinders || *ds->heads || *ds->sectors)
		info_str(i, "geometry", "%s/%s/%s", ds->cylinders, ds->heads, ds->sectors);
	if (ds->has_cid)
		info_str(i, "cid", "%s", ds->cid);
	if (*ds->uuid)
		info_str(i, "uuid", "%s", ds->uuid);
	if (*ds->hw_version)
		info_str(i, "hardware version", "%s", ds->hw_version);
	if (sp) {
		info_num(i, "version", sp->h.version);
		info_num(i, "grain size", sp->h.grain * SECTOR);
		info_str(i, "compression", "%s", sp->compressed ? "deflate" : "none");
	}
	for (size_t k = 0; k < v->next; k++) {
		int n = snprintf(names + len, sizeof names - len, "%s%s", k ? ", " : "",
				 v->ext[k].name);

		if (n < 0 || (size_t)n >= sizeof names - len)
			break;
		len += (size_t)n;
	}
	info_str(i, v->next == 1 ? "extent" : "extents", "%s", names);
}

static void vmdk_release(struct disk *d)
{
	struct vmdk *v = (struct vmdk *)d;

	for (size_t i = 0; i < v->next; i++) {
		struct extent *e = &v->ext[i];

		if (e->file == &e->own)
			infile_close(&e->own);
		free(e->name);
		free(e->sp.gd);
	}
	free(v->ext);
	vmdk_desc_free(&v->desc);
	free(v->grain);
	free(v->zbuf);
	if (v->z_ready)
		inflateEnd(&v->z);
}

/* --- reading: opening ---------------------------------------------------------------- */

static struct vmdk *vmdk_new(struct infile *f)
{
	struct vmdk *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->d.fmt = &fmt_vmdk;
	v->d.file = *f;
	v->d.read = vmdk_read;
	v->d.status = vmdk_status;
	v->d.info = vmdk_info;
	v->d.check = vmdk_check;
	v->d.release = vmdk_release;
	return v;
}

static int refuse_parent(const struct vmdk *v, struct msg *m)
{
	if (*v->desc.parent_hint)
		return vmdk_unusable(m, v->d.file.path, "it is a delta disk of the parent \"%s\" "
				     "(parentFileNameHint); imgtool reads only disks without a "
				     "parent.", v->desc.parent_hint);
	return 0;
}

/* A sparse extent opened directly: monolithicSparse or streamOptimized. */
static int open_sparse_file(struct vmdk *v, struct msg *m)
{
	struct extent *e;
	char *text = NULL;

	v->ext = calloc(1, sizeof *v->ext);
	if (!v->ext)
		return fail_errno(m, "cannot read %s", v->d.file.path);
	v->next = 1;
	e = &v->ext[0];
	e->kind = EXT_SPARSE;
	e->own.fd = -1;
	e->file = &v->d.file;
	e->name = strdup(vmdk_base_name(v->d.file.path));
	if (!e->name)
		return fail_errno(m, "cannot read %s", v->d.file.path);
	if (sparse_open(&e->sp, e->file, m) < 0)
		return -1;
	e->sectors = e->sp.h.capacity;
	v->d.size = e->sectors * SECTOR;
	if (e->sp.h.desc_size) {
		struct msg dm;
		size_t len = (size_t)e->sp.h.desc_size * SECTOR;

		text = malloc(len);
		if (!text)
			return fail_errno(m, "cannot read %s", v->d.file.path);
		if (infile_read(e->file, text, len, e->sp.h.desc_offset * SECTOR,
				"the embedded descriptor", m) < 0) {
			free(text);
			return -1;
		}
		/* A descriptor that does not parse leaves the data readable: check says so. */
		if (vmdk_parse_descriptor(text, len, v->d.file.path, &v->desc, &dm) < 0)
			snprintf(v->desc_error, sizeof v->desc_error, "%s", dm.text);
		free(text);
	}
	return refuse_parent(v, m);
}

/* dir/name for an extent named in the descriptor at path; NULL with m set when the
 * name is not a plain file name. */
static char *extent_path(const char *path, const struct desc_extent *de, struct msg *m)
{
	const char *base = vmdk_base_name(path);
	char *p;

	if (strchr(de->name, '/') || strcmp(de->name, ".") == 0 ||
	    strcmp(de->name, "..") == 0 || strchr(de->name, '\\')) {
		vmdk_unusable(m, path, "line %u of its descriptor names the extent \"%s\", "
			      "which is not a file name in the descriptor's folder; imgtool "
			      "reads extents only from beside the descriptor.", de->line,
			      de->name);
		return NULL;
	}
	if (asprintf(&p, "%.*s%s", (int)(base - path), path, de->name) < 0) {
		fail_errno(m, "cannot read %s", path);
		return NULL;
	}
	return p;
}

static int open_extent(struct vmdk *v, struct extent *e, const struct desc_extent *de,
		       struct msg *m)
{
	const char *path = v->d.file.path;
	char *p = extent_path(path, de, m);
	struct stat st = { .st_mode = S_IFREG };
	int rc;

	if (!p)
		return -1;
	if (stat(p, &st) != 0 && errno == ENOENT) {
		rc = vmdk_unusable(m, path, "its extent \"%s\" is missing: there is no %s.",
				   de->name, p);
		free(p);
		return rc;
	}
	/* Opening a FIFO would wait for a writer forever. */
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		rc = vmdk_unusable(m, path, "its extent \"%s\" is not a file or a block device.",
				   de->name);
		free(p);
		return rc;
	}
	rc = infile_open(&e->own, p, m);
	free(p);
	if (rc < 0)
		return -1;
	if (e->kind == EXT_FLAT) {
		if (de->offset > e->own.size / SECTOR ||
		    de->sectors > e->own.size / SECTOR - de->offset)
			return vmdk_unusable(m, path, "its extent \"%s\" is %llu bytes, too "
					     "short for the %llu sectors from sector %llu that "
					     "the descriptor gives it.", de->name,
					     (unsigned long long)e->own.size,
					     (unsigned long long)de->sectors,
					     (unsigned long long)de->offset);
		e->offset = de->offset * SECTOR;
		return 0;
	}
	if (sparse_open(&e->sp, e->file, m) < 0)
		return -1;
	if (e->sp.h.capacity < de->sectors)
		return vmdk_unusable(m, path, "its extent \"%s\" holds %llu sectors, fewer "
				     "than the %llu the descriptor gives it.", de->name,
				     (unsigned long long)e->sp.h.capacity,
				     (unsigned long long)de->sectors);
	return 0;
}

/* A descriptor file and the extents it names. */
static int open_descriptor_file(struct vmdk *v, struct msg *m)
{
	const char *path = v->d.file.path;
	char *text;
	uint64_t total = 0;
	int rc;

	if (v->d.file.size > DESC_MAX)
		return vmdk_unusable(m, path, "it starts as a descriptor but is %llu bytes; a "
				     "descriptor is at most 1 MiB.",
				     (unsigned long long)v->d.file.size);
	v->text = true;
	text = malloc((size_t)v->d.file.size + 1);
	if (!text)
		return fail_errno(m, "cannot read %s", path);
	rc = infile_read(&v->d.file, text, (size_t)v->d.file.size, 0, "the descriptor", m);
	if (rc == 0)
		rc = vmdk_parse_descriptor(text, (size_t)v->d.file.size, path, &v->desc, m);
	free(text);
	if (rc < 0 || refuse_parent(v, m) < 0)
		return -1;
	if (!*v->desc.create_type)
		return vmdk_unusable(m, path, "its descriptor has no createType.");
	if (v->desc.next == 0)
		return vmdk_unusable(m, path, "its descriptor names no extent.");
	v->ext = calloc(v->desc.next, sizeof *v->ext);
	if (!v->ext)
		return fail_errno(m, "cannot read %s", path);
	for (size_t i = 0; i < v->desc.next; i++) {
		const struct desc_extent *de = &v->desc.ext[i];
		struct extent *e = &v->ext[i];

		e->kind = de->kind;
		e->own.fd = -1;
		e->file = &e->own;
		e->start = total;
		e->sectors = de->sectors;
		e->name = strdup(de->name ? de->name : "(zero)");
		v->next = i + 1;
		if (!e->name)
			return fail_errno(m, "cannot read %s", path);
		if (de->sectors > DISK_MAX_SECTORS - total)
			return vmdk_unusable(m, path, "its extents add up to more sectors than "
					     "imgtool reads (2^53).");
		total += de->sectors;
		if (e->kind != EXT_ZERO && open_extent(v, e, de, m) < 0)
			return -1;
	}
	v->d.size = total * SECTOR;
	return 0;
}

static bool is_descriptor(const unsigned char *head, size_t n)
{
	static const char sig[] = "# Disk DescriptorFile";
	size_t i = 0;

	if (n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' ||
			 head[i] == '\n'))
		i++;
	return n - i >= sizeof sig - 1 && memcmp(head + i, sig, sizeof sig - 1) == 0;
}

static bool vmdk_probe(const struct infile *f, const unsigned char *head, size_t n)
{
	(void)f;
	/* Not "COWD": image_open refuses those by name before it asks the readers. */
	if (n >= 4 && memcmp(head, vmdk_magic, 4) == 0)
		return true;
	return is_descriptor(head, n);
}

static int vmdk_open(struct infile *f, struct disk **d, struct msg *m)
{
	struct vmdk *v = vmdk_new(f);
	unsigned char head[SECTOR];
	size_t n = f->size < SECTOR ? (size_t)f->size : SECTOR;
	int rc;

	*d = NULL;
	if (!v) {
		infile_close(f);
		return fail_errno(m, "cannot open %s", f->path);
	}
	rc = infile_read(&v->d.file, head, n, 0, "the first sector", m);
	if (rc == 0 && n >= 4 && memcmp(head, "COWD", 4) == 0)
		rc = vmdk_unusable(m, f->path, "it is an ESX Server 2 sparse extent (\"COWD\"), "
				   "which imgtool does not read.");
	else if (rc == 0 && n >= 4 && memcmp(head, vmdk_magic, 4) == 0)
		rc = open_sparse_file(v, m);
	else if (rc == 0)
		rc = open_descriptor_file(v, m);
	if (rc < 0) {
		disk_close(&v->d);
		return -1;
	}
	*d = &v->d;
	return 0;
}

const struct format fmt_vmdk = {
	.name = "vmdk",
	.ext = ".vmdk",
	.summary = "VMware disk: a descriptor and a flat extent, or one sparse or "
		   "stream-optimized file",
	.opts = (const struct opt_spec[]){
		{ "subformat", "monolithicFlat|monolithicSparse|streamOptimized (default "
			       "monolithicFlat)" },
		{ "adapter", "ide|lsilogic (default ide)" },
		{ "uuid", "UUID (ddb.uuid.image; default derived from the content)" },
		{ NULL, NULL },
	},
	.probe = vmdk_probe,
	.open = vmdk_open,
	.write = vmdk_write,
};
