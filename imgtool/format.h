/* format.h - the table of container formats.
 *
 * One format per reader file (raw.c; qcow2_read.c, vdi_read.c, vhd_read.c, vhdx_read.c
 * and vmdk_read.c, whose checker and writer have files of their own) fills in one
 * struct format; format.c lists them. Format names, the usage text, --help, -O and
 * probing all come from that table, so a format added there is everywhere at once.
 */
#ifndef IMGTOOL_FORMAT_H
#define IMGTOOL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "disk.h"
#include "options.h"
#include "util.h"

struct format {
	const char *name;		/* as -O takes it and info prints it */
	const char *alias;		/* another name -O accepts (qemu-img's), or NULL */
	const char *ext;		/* what an OUTPUT name ends with, e.g. ".qcow2" */
	const char *summary;		/* one line for --help */
	const struct opt_spec *opts;	/* the -o keys it takes, ending with { NULL } */
	bool probes_tail;		/* known by the end of the file: probed last */
	bool backing;			/* its writer records a backing file (create -b) */
	bool compresses;		/* its writer compresses with convert -c */

	/* Is this the format of f? head holds the file's first n bytes (n may be less
	 * than 512 for a short file). May read more of f. */
	bool (*probe)(const struct infile *f, const unsigned char *head, size_t n);
	/* Open f (ownership passes to the disk, even on failure) as this format. */
	int (*open)(struct infile *f, struct disk **d, struct msg *m);
	/* Write src as this format to path (and, for VMDK flat, a second file beside
	 * it), all or nothing: see output.h. */
	int (*write)(struct disk *src, const char *path, const struct opts *o,
		     struct msg *m);
};

extern const struct format fmt_raw, fmt_vhd, fmt_vhdx, fmt_vdi, fmt_vmdk, fmt_qcow2;

/* The table, in the order --help lists it. */
extern const struct format *const formats[];
extern const size_t nformats;

/* A container imgtool knows by its signature but does not read. qemu-img probes each
 * of these by its signature too, so reading one as raw would hand the user a disk
 * that is not the one QEMU sees. */
struct foreign {
	const char *name;	/* as the refusal names it: "x is a QED image" */
	const char *magic;	/* the signature's bytes (it may hold NULs) */
	size_t len;
	bool at_end;		/* at the start of the file's last 512 bytes, not at 0 */
};

extern const struct foreign foreign_formats[];
extern const size_t nforeign;

/* By name or alias; NULL with a sentence listing the known names. */
const struct format *format_by_name(const char *name, struct msg *m);
/* By the end of an output path; NULL with a sentence asking for -O. */
const struct format *format_by_path(const char *path, struct msg *m);
/* "raw, vhd, vdi, vmdk and qcow2". */
void format_list(char *buf, size_t size);
/* The names of foreign_formats, each once: "QED, Parallels, ... and DMG". */
void foreign_list(char *buf, size_t size);

/* Open an image as the format as (-f), or with as NULL, as the container its
 * signature names, else as a raw disk. A signature of foreign_formats is refused by
 * name: "x is a QED image; imgtool reads raw, ...". Without as, a path ending in .bin
 * is a boot program (see raw.h); force is for those. */
int image_open(const char *path, const struct format *as, bool force, struct disk **d,
	       struct msg *m);

/* A backing file's name as an image records it, as QEMU resolves it: an absolute name
 * as it is, a relative one from the folder of the image that names it. Allocated;
 * NULL (out of memory) with a sentence. */
char *backing_path(const char *image, const char *name, struct msg *m);

/* Open the backing file name of image (as backing_path finds it) as the format fmt, or
 * with fmt NULL, as its signature says. A file that is not there, and a raw file whose
 * signature names another format, are one sentence each. */
int backing_open(const char *image, const char *name, const struct format *fmt,
		 struct disk **d, struct msg *m);

#endif
