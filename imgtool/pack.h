/* pack.h - packages: a disk in the archive a platform imports, with what it needs
 * to make a VM of it.
 *
 * A package is not a disk format (it is not read back, and it holds a disk of one of
 * the formats), so it has its own command, `imgtool pack`, and its own table, as the
 * formats have theirs: -O and OUTPUT's ending pick one, --help lists them.
 *   ova                 USTAR: NAME.ovf (OVF 1.0), NAME.mf (SHA256 lines), then
 *                       NAME-disk1.vmdk (streamOptimized); VMware and VirtualBox
 *   gce                 old-GNU tar, gzipped, of disk.raw grown to whole GiB and
 *                       stored sparse; Google Compute Engine's image import
 *   vagrant-libvirt     gzipped tar: metadata.json, Vagrantfile, box.img (qcow2)
 *   vagrant-virtualbox  gzipped tar: box.ovf, box-disk1.vmdk, Vagrantfile, metadata.json
 */
#ifndef IMGTOOL_PACK_H
#define IMGTOOL_PACK_H

#include <stdbool.h>
#include <stdint.h>

#include "disk.h"
#include "options.h"
#include "util.h"

/* What -o says about the VM, checked and with the defaults filled in. */
struct vm_spec {
	char name[65];		/* the VM's name (OVF), and the OVA's member names */
	unsigned memory;	/* MiB */
	unsigned cpus;
};

struct package {
	const char *name;		/* as -O takes it */
	const char *ext;		/* an OUTPUT ending that picks it, or NULL (needs -O) */
	const char *summary;		/* one line for --help */
	const struct opt_spec *opts;	/* the -o keys it takes */
	bool named;			/* takes name= (its VM has a name of its own) */
	/* Write *src (which it may grow, closing the old one) as this package at path,
	 * all or nothing. */
	int (*write)(struct disk **src, const char *path, const struct vm_spec *vm,
		     struct msg *m);
};

extern const struct package *const packages[];
extern const size_t npackages;

/* By name; NULL with a sentence listing the known names. */
const struct package *package_by_name(const char *name, struct msg *m);
/* By the end of OUTPUT; NULL with a sentence asking for -O. */
const struct package *package_by_path(const char *path, struct msg *m);

/* vm from the -o options o (keys already validated) and OUTPUT's name path: name=
 * (for a package that is named at all) defaults to path's file name less its ending,
 * memory= to 32 and cpus= to 1. A value out of range is one sentence naming it. */
int vm_spec_parse(struct vm_spec *vm, const struct opts *o, const char *path,
		  bool named, struct msg *m);

/* The OVF 1.0 descriptor of vm with one disk: the file href of file_size bytes, a
 * streamOptimized VMDK of capacity bytes. Allocated, NUL-terminated; NULL (out of
 * memory) with a sentence. */
char *ovf_descriptor(const struct vm_spec *vm, const char *href, uint64_t file_size,
		     uint64_t capacity, struct msg *m);

#endif
