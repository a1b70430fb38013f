/* pack.c - see pack.h.
 *
 * The disk inside a package is written by the format's own writer (format.h) in a
 * private folder beside the output, and copied into the archive from there: the name
 * and the folder are removed as soon as the file is open, so only the open file
 * remains, and the archive itself is written all or nothing through output.h.
 */
#include "pack.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "ident.h"
#include "output.h"
#include "sha256.h"
#include "tar.h"
#include "text.h"

#define GIB (1ull << 30)
#define MEMORY_MIN 4u		/* MiB: the least VirtualBox and VMware give a VM */
#define MEMORY_MAX 1048576u	/* 1 TiB: the most vmx-10 (ESXi 5.5) gives one */
#define CPUS_MAX 32u		/* the most VirtualBox gives a VM */

/* --- the VM: name, memory, CPUs -------------------------------------------------------- */

static bool name_char(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (!first && (ch == '.' || ch == '_' || ch == '-'));
}

/* A VM name is also a file name in the archive and a word in XML and Ruby: letters,
 * digits and . _ - only, so that nothing in it needs quoting anywhere. */
static bool valid_name(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i], i == 0))
			return false;
	return true;
}

/* OUTPUT's file name without the ending that picked the package. */
static void default_name(const char *path, const char **name, size_t *len)
{
	static const char *const endings[] = { ".tar.gz", ".ova", ".box", ".tgz" };
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	*name = base;
	*len = strlen(base);
	for (size_t i = 0; i < sizeof endings / sizeof endings[0]; i++) {
		size_t e = strlen(endings[i]);

		if (*len > e && strcmp(base + *len - e, endings[i]) == 0) {
			*len -= e;
			return;
		}
	}
}

int vm_spec_parse(struct vm_spec *vm, const struct opts *o, const char *path,
		  bool named, struct msg *m)
{
	const char *name = opt_get(o, "name"), *s;
	size_t len;
	long v;

	vm->memory = 32;
	vm->cpus = 1;
	if (!named) {
		name = "";
		len = 0;
	} else if (name) {
		len = strlen(name);
		if (!valid_name(name, len))
			return fail(m, "-o name=%s: a VM name is 1 to 64 letters, digits, '.', '_' "
				    "or '-', and starts with a letter or a digit.", name);
	} else {
		default_name(path, &name, &len);
		if (!valid_name(name, len))
			return fail(m, "%s does not make a VM name (1 to 64 letters, digits, '.', "
				    "'_' or '-'); give one with -o name=NAME.", path);
	}
	memcpy(vm->name, name, len);
	vm->name[len] = '\0';
	if ((s = opt_get(o, "memory"))) {
		if (parse_long_in(s, MEMORY_MIN, MEMORY_MAX, &v) < 0)
			return fail(m, "-o memory=%s: the memory size is a whole number of MiB "
				    "from %u to %u.", s, MEMORY_MIN, MEMORY_MAX);
		vm->memory = (unsigned)v;
	}
	if ((s = opt_get(o, "cpus"))) {
		if (parse_long_in(s, 1, CPUS_MAX, &v) < 0)
			return fail(m, "-o cpus=%s: the number of CPUs is a whole number from 1 "
				    "to %u.", s, CPUS_MAX);
		vm->cpus = (unsigned)v;
	}
	return 0;
}

/* --- OVF ------------------------------------------------------------------------------- */

/* OVF 1.0 (DSP0243 1.0, validated against the 1.1.1 schema, which takes 1.0
 * envelopes), with what VirtualBox's reader insists on besides the schema: a Disk
 * with diskId, format and capacity; an OperatingSystemSection with an id (1: "Other",
 * CIM_OperatingSystem's OsType); memory in "byte * 2^20"; a controller with an
 * InstanceID that the disk's Parent names; and ovf:required="false" on the serial
 * port (ResourceType 21), which it does not know and would otherwise refuse. The IDE
 * controller (ResourceType 5) is what a BIOS boots from on every product. */
char *ovf_descriptor(const struct vm_spec *vm, const char *href, uint64_t file_size,
		     uint64_t capacity, struct msg *m)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f) {
		fail(m, "out of memory for the OVF descriptor.");
		return NULL;
	}
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<!-- Written by imgtool pack. -->\n"
		"<Envelope ovf:version=\"1.0\" xml:lang=\"en-US\""
		" xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\""
		" xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\""
		" xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
		"CIM_ResourceAllocationSettingData\""
		" xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
		"CIM_VirtualSystemSettingData\">\n"
		"  <References>\n"
		"    <File ovf:href=\"%s\" ovf:id=\"file1\" ovf:size=\"%llu\"/>\n"
		"  </References>\n"
		"  <DiskSection>\n"
		"    <Info>The virtual disk</Info>\n"
		"    <Disk ovf:capacity=\"%llu\" ovf:capacityAllocationUnits=\"byte\""
		" ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\""
		" ovf:format=\"http://www.vmware.com/interfaces/specifications/"
		"vmdk.html#streamOptimized\"/>\n"
		"  </DiskSection>\n"
		"  <VirtualSystem ovf:id=\"%s\">\n"
		"    <Info>A virtual machine that boots the disk</Info>\n"
		"    <Name>%s</Name>\n"
		"    <OperatingSystemSection ovf:id=\"1\">\n"
		"      <Info>The guest operating system</Info>\n"
		"      <Description>Other</Description>\n"
		"    </OperatingSystemSection>\n"
		"    <VirtualHardwareSection>\n"
		"      <Info>%u MiB of memory, %u CPU%s, the disk on IDE, COM1</Info>\n"
		"      <System>\n"
		"        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n"
		"        <vssd:InstanceID>0</vssd:InstanceID>\n"
		"        <vssd:VirtualSystemIdentifier>%s</vssd:VirtualSystemIdentifier>\n"
		"        <vssd:VirtualSystemType>vmx-10</vssd:VirtualSystemType>\n"
		"      </System>\n"
		"      <Item>\n"
		"        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>\n"
		"        <rasd:Description>Number of virtual CPUs</rasd:Description>\n"
		"        <rasd:ElementName>%u virtual CPU%s</rasd:ElementName>\n"
		"        <rasd:InstanceID>1</rasd:InstanceID>\n"
		"        <rasd:ResourceType>3</rasd:ResourceType>\n"
		"        <rasd:VirtualQuantity>%u</rasd:VirtualQuantity>\n"
		"      </Item>\n"
		"      <Item>\n"
		"        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>\n"
		"        <rasd:Description>Memory size</rasd:Description>\n"
		"        <rasd:ElementName>%u MiB of memory</rasd:ElementName>\n"
		"        <rasd:InstanceID>2</rasd:InstanceID>\n"
		"        <rasd:ResourceType>4</rasd:ResourceType>\n"
		"        <rasd:VirtualQuantity>%u</rasd:VirtualQuantity>\n"
		"      </Item>\n"
		"      <Item>\n"
		"        <rasd:Address>0</rasd:Address>\n"
		"        <rasd:Description>IDE controller</rasd:Description>\n"
		"        <rasd:ElementName>ideController0</rasd:ElementName>\n"
		"        <rasd:InstanceID>3</rasd:InstanceID>\n"
		"        <rasd:ResourceType>5</rasd:ResourceType>\n"
		"      </Item>\n"
		"      <Item>\n"
		"        <rasd:AddressOnParent>0</rasd:AddressOnParent>\n"
		"        <rasd:ElementName>disk0</rasd:ElementName>\n"
		"        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>\n"
		"        <rasd:InstanceID>4</rasd:InstanceID>\n"
		"        <rasd:Parent>3</rasd:Parent>\n"
		"        <rasd:ResourceType>17</rasd:ResourceType>\n"
		"      </Item>\n"
		"      <Item ovf:required=\"false\">\n"
		"        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n"
		"        <rasd:Description>COM1, where the program talks</rasd:Description>\n"
		"        <rasd:ElementName>serial0</rasd:ElementName>\n"
		"        <rasd:InstanceID>5</rasd:InstanceID>\n"
		"        <rasd:ResourceType>21</rasd:ResourceType>\n"
		"      </Item>\n"
		"    </VirtualHardwareSection>\n"
		"  </VirtualSystem>\n"
		"</Envelope>\n",
		href, (unsigned long long)file_size, (unsigned long long)capacity, vm->name,
		vm->name, vm->memory, vm->cpus, vm->cpus == 1 ? "" : "s", vm->name, vm->cpus,
		vm->cpus == 1 ? "" : "s", vm->cpus, vm->memory, vm->memory);
	if (fclose(f) != 0 || !text) {
		free(text);
		fail(m, "out of memory for the OVF descriptor.");
		return NULL;
	}
	return text;
}

/* --- the disk inside ------------------------------------------------------------------- */

/* m's text with every "from" in it said as "to". */
static void say_as(struct msg *m, const char *from, const char *to)
{
	char out[sizeof m->text];
	size_t n = 0, flen = strlen(from), tlen = strlen(to);

	for (const char *p = m->text; *p && n + 1 < sizeof out;) {
		if (strncmp(p, from, flen) == 0 && n + tlen < sizeof out) {
			memcpy(out + n, to, tlen);
			n += tlen;
			p += flen;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	memcpy(m->text, out, n + 1);
}

/* src written as fmt (with the -o list opts) under the name member, and opened as in.
 * The file is written by the format's own writer in a private folder beside path
 * (so a stream VMDK's descriptor names its member, and no file of the user's is in
 * the way), and the name and the folder are removed as soon as it is open: only the
 * open file remains, and a signal removes the folder too. A failure is told of path,
 * the package, not of the hidden name. */
static int inner_disk(struct disk *src, const struct format *fmt, const char *list,
		      const char *member, const char *path, struct infile *in, struct msg *m)
{
	struct opts o = { .n = 0 };
	char *dir = NULL, *file = NULL;
	int rc = -1;

	in->fd = -1;
	in->path = NULL;
	if (!(dir = output_hidden_name(path)))
		return fail(m, "cannot write %s: out of memory.", path);
	if (!mkdtemp(dir)) {
		fail_errno(m, "cannot write %s", path);
		free(dir);
		return -1;
	}
	output_track_folder(dir);
	if (asprintf(&file, "%s/%s", dir, member) < 0) {
		file = NULL;
		fail(m, "cannot write %s: out of memory.", path);
	} else if ((!list || opts_parse(&o, list, m) == 0) && fmt->write(src, file, &o, m) == 0 &&
		   infile_open(in, file, m) == 0) {
		rc = 0;
	}
	if (file)
		unlink(file);
	rmdir(dir);
	output_track_folder(NULL);
	if (rc < 0 && file)
		say_as(m, file, path);
	opts_free(&o);
	free(file);
	free(dir);
	return rc;
}

/* The SHA-256 of the whole of in, as lowercase hex. */
static int file_sha256(const struct infile *in, char hex[2 * SHA256_SIZE + 1], struct msg *m)
{
	static unsigned char buf[1 << 16];
	uint8_t sum[SHA256_SIZE];
	struct sha256 c;

	sha256_init(&c);
	for (uint64_t off = 0; off < in->size; off += sizeof buf) {
		size_t len = in->size - off < sizeof buf ? (size_t)(in->size - off) : sizeof buf;

		if (infile_read(in, buf, len, off, "its data", m) < 0)
			return -1;
		sha256_update(&c, buf, len);
	}
	sha256_final(&c, sum);
	sha256_hex(sum, hex);
	return 0;
}

/* *src grown to a whole number of GiB, as GCE wants and Vagrant's virtual_size says. */
static int grow_to_gib(struct disk **src, struct msg *m)
{
	uint64_t size = ((*src)->size + GIB - 1) / GIB * GIB;

	return size > (*src)->size ? disk_grow(src, size, m) : 0;
}

/* --- the packages ---------------------------------------------------------------------- */

/* What every package writer shares: the archive at path, all or nothing. */
struct pack {
	struct output out;
	struct tar tar;
	struct infile disk;
	char *text[3];		/* descriptors written for the archive, freed at the end */
};

static int pack_begin(struct pack *p, const char *path, enum tar_kind kind, bool gzip,
		      struct msg *m)
{
	struct outfile *f;
	int64_t epoch;

	memset(p, 0, sizeof *p);
	p->disk.fd = -1;
	if (source_date_epoch(&epoch, m) < 0 || output_add(&p->out, path, &f, m) < 0)
		return -1;
	return tar_begin(&p->tar, f, kind, gzip, (uint64_t)epoch, m);
}

static int pack_end(struct pack *p, int rc, struct msg *m)
{
	if (rc == 0)
		rc = tar_end(&p->tar, m);
	if (rc == 0)
		rc = output_commit(&p->out, m);
	tar_free(&p->tar);
	output_discard(&p->out);
	if (p->disk.fd != -1)
		infile_close(&p->disk);
	for (size_t i = 0; i < sizeof p->text / sizeof p->text[0]; i++)
		free(p->text[i]);
	return rc;
}

/* A text for the archive, kept in p to be freed; NULL (out of memory) with a sentence. */
static char *pack_text(struct pack *p, size_t slot, struct msg *m, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
static char *pack_text(struct pack *p, size_t slot, struct msg *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p->text[slot], fmt, ap);
	va_end(ap);
	if (n < 0) {
		p->text[slot] = NULL;
		fail(m, "out of memory for a file of the package.");
	}
	return p->text[slot];
}

static int add_text(struct pack *p, const char *name, const char *text, struct msg *m)
{
	return tar_add(&p->tar, name, text, strlen(text), m);
}

/* The part of a Vagrantfile that both providers share. */
#define VAGRANT_HEAD \
	"# Written by imgtool pack: the VM the box's disk boots in. A Vagrantfile of\n" \
	"# your own overrides any of it.\n" \
	"Vagrant.configure(\"2\") do |config|\n" \
	"  # The disk's program may run no SSH server (the 256-byte boot program runs\n" \
	"  # none): vagrant up then starts the VM, waits boot_timeout seconds for SSH and\n" \
	"  # stops with a timeout error, the VM still running, instead of waiting for\n" \
	"  # ever. Talk to it on COM1 (the provider's serial console), and stop it with\n" \
	"  # vagrant halt --force. No key can be put in it and no folder synced into it.\n" \
	"  config.vm.boot_timeout = 30\n" \
	"  config.ssh.insert_key = false\n" \
	"  config.vm.synced_folder \".\", \"/vagrant\", disabled: true\n"

static int write_ova(struct disk **src, const char *path, const struct vm_spec *vm,
		     struct msg *m)
{
	char ovf_name[80], mf_name[80], vmdk_name[80], ovf_sum[65], vmdk_sum[65];
	uint8_t raw[SHA256_SIZE];
	const char *ovf, *mf;
	struct pack p;
	int rc = -1;

	snprintf(ovf_name, sizeof ovf_name, "%s.ovf", vm->name);
	snprintf(mf_name, sizeof mf_name, "%s.mf", vm->name);
	snprintf(vmdk_name, sizeof vmdk_name, "%s-disk1.vmdk", vm->name);
	if (pack_begin(&p, path, TAR_USTAR, false, m) < 0 ||
	    inner_disk(*src, &fmt_vmdk, "subformat=streamOptimized", vmdk_name, path, &p.disk,
		       m) < 0 ||
	    file_sha256(&p.disk, vmdk_sum, m) < 0 ||
	    !(ovf = p.text[0] = ovf_descriptor(vm, vmdk_name, p.disk.size, (*src)->size, m)))
		goto out;
	sha256(ovf, strlen(ovf), raw);
	sha256_hex(raw, ovf_sum);
	/* VMware wants the descriptor first, then the manifest, then the disks. */
	if (!(mf = pack_text(&p, 1, m, "SHA256(%s)= %s\nSHA256(%s)= %s\n", ovf_name, ovf_sum,
			     vmdk_name, vmdk_sum)) ||
	    add_text(&p, ovf_name, ovf, m) < 0 || add_text(&p, mf_name, mf, m) < 0 ||
	    tar_add_file(&p.tar, vmdk_name, &p.disk, m) < 0)
		goto out;
	rc = 0;
out:
	return pack_end(&p, rc, m);
}

static int write_gce(struct disk **src, const char *path, const struct vm_spec *vm,
		     struct msg *m)
{
	struct pack p;
	int rc = -1;

	(void)vm;
	if (pack_begin(&p, path, TAR_OLDGNU, true, m) == 0 && grow_to_gib(src, m) == 0 &&
	    tar_add_sparse(&p.tar, "disk.raw", *src, m) == 0)
		rc = 0;
	return pack_end(&p, rc, m);
}

static int write_vagrant_libvirt(struct disk **src, const char *path,
				 const struct vm_spec *vm, struct msg *m)
{
	const char *meta, *vagrantfile;
	struct pack p;
	int rc = -1;

	if (pack_begin(&p, path, TAR_USTAR, true, m) < 0 || grow_to_gib(src, m) < 0 ||
	    inner_disk(*src, &fmt_qcow2, NULL, "box.img", path, &p.disk, m) < 0 ||
	    !(meta = pack_text(&p, 0, m,
			       "{\"provider\":\"libvirt\",\"format\":\"qcow2\",\"virtual_size\":%llu}\n",
			       (unsigned long long)((*src)->size / GIB))) ||
	    !(vagrantfile = pack_text(&p, 1, m,
				      VAGRANT_HEAD
				      "  config.vm.provider :libvirt do |libvirt|\n"
				      "    libvirt.memory = %u\n"
				      "    libvirt.cpus = %u\n"
				      "  end\n"
				      "end\n", vm->memory, vm->cpus)) ||
	    add_text(&p, "metadata.json", meta, m) < 0 ||
	    add_text(&p, "Vagrantfile", vagrantfile, m) < 0 ||
	    tar_add_file(&p.tar, "box.img", &p.disk, m) < 0)
		goto out;
	rc = 0;
out:
	return pack_end(&p, rc, m);
}

static int write_vagrant_virtualbox(struct disk **src, const char *path,
				    const struct vm_spec *vm, struct msg *m)
{
	const char *ovf, *vagrantfile;
	char vmdk_sum[65];
	struct pack p;
	int rc = -1;

	/* base_mac: VirtualBox's own prefix 08:00:27 and three bytes of the disk's hash,
	 * the same on every build of the same disk. */
	if (pack_begin(&p, path, TAR_USTAR, true, m) < 0 ||
	    inner_disk(*src, &fmt_vmdk, "subformat=streamOptimized", "box-disk1.vmdk", path,
		       &p.disk, m) < 0 ||
	    file_sha256(&p.disk, vmdk_sum, m) < 0 ||
	    !(ovf = p.text[0] = ovf_descriptor(vm, "box-disk1.vmdk", p.disk.size,
					       (*src)->size, m)) ||
	    !(vagrantfile = pack_text(&p, 1, m,
				      VAGRANT_HEAD
				      "  config.vm.base_mac = \"080027%.6s\"\n"
				      "  config.vm.provider :virtualbox do |vb|\n"
				      "    vb.memory = %u\n"
				      "    vb.cpus = %u\n"
				      "  end\n"
				      "end\n", vmdk_sum, vm->memory, vm->cpus)) ||
	    add_text(&p, "box.ovf", ovf, m) < 0 ||
	    tar_add_file(&p.tar, "box-disk1.vmdk", &p.disk, m) < 0 ||
	    add_text(&p, "Vagrantfile", vagrantfile, m) < 0 ||
	    add_text(&p, "metadata.json", "{\"provider\":\"virtualbox\"}\n", m) < 0)
		goto out;
	rc = 0;
out:
	return pack_end(&p, rc, m);
}

static const struct opt_spec vm_opts[] = {
	{ "name", "NAME (default OUTPUT's name less its ending)" },
	{ "memory", "MIB (default 32)" },
	{ "cpus", "N (default 1)" },
	{ NULL, NULL },
};
static const struct opt_spec vagrant_libvirt_opts[] = {
	{ "memory", "MIB (default 32)" },
	{ "cpus", "N (default 1)" },
	{ NULL, NULL },
};
static const struct opt_spec no_opts[] = { { NULL, NULL } };

static const struct package pkg_ova = {
	"ova", ".ova", "VMware and VirtualBox: OVF 1.0, manifest, streamOptimized VMDK",
	vm_opts, true, write_ova,
};
static const struct package pkg_gce = {
	"gce", ".tar.gz", "Google Compute Engine: disk.raw, whole GiB, sparse, old-GNU tar",
	no_opts, false, write_gce,
};
static const struct package pkg_vagrant_libvirt = {
	"vagrant-libvirt", NULL, "Vagrant box (.box) for libvirt: box.img qcow2",
	vagrant_libvirt_opts, false, write_vagrant_libvirt,
};
static const struct package pkg_vagrant_virtualbox = {
	"vagrant-virtualbox", NULL, "Vagrant box (.box) for VirtualBox: box.ovf, VMDK",
	vm_opts, true, write_vagrant_virtualbox,
};

const struct package *const packages[] = {
	&pkg_ova, &pkg_gce, &pkg_vagrant_libvirt, &pkg_vagrant_virtualbox,
};
const size_t npackages = sizeof packages / sizeof packages[0];

static void package_list(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < npackages; i++)
		list_append(buf, size, &len, i, npackages, packages[i]->name);
}

const struct package *package_by_name(const char *name, struct msg *m)
{
	char list[128];

	for (size_t i = 0; i < npackages; i++)
		if (strcmp(name, packages[i]->name) == 0)
			return packages[i];
	package_list(list, sizeof list);
	fail(m, "unknown package \"%s\"; the packages are %s.", name, list);
	return NULL;
}

const struct package *package_by_path(const char *path, struct msg *m)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < npackages; i++) {
		const char *ext = packages[i]->ext;

		if (ext && len > strlen(ext) && strcmp(path + len - strlen(ext), ext) == 0)
			return packages[i];
	}
	if (len > 4 && strcmp(path + len - 4, ".box") == 0)
		fail(m, "%s is a Vagrant box: give its provider with -O vagrant-libvirt or -O "
		     "vagrant-virtualbox.", path);
	else
		fail(m, "cannot tell the package of %s from its name; give one with -O.", path);
	return NULL;
}
