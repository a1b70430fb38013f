/* test_imgtool_pack.c - the tar writer and the packages: every header field of a
 * USTAR and an old-GNU member, the sparse map (in the header and in extension blocks),
 * the OVA's member order, sizes and manifest digests, the GCE and Vagrant archives,
 * the same bytes on every run, and each refusal of a VM's name, memory and CPUs.
 *
 * Offsets are pax(1)'s ustar header and GNU tar's old-GNU sparse header (tar.h). The
 * archives are read back by a small reader of the test's own, not by tar.c.
 */
#include <dirent.h>
#include <zlib.h>

#include "output.h"
#include "pack.h"
#include "sha256.h"
#include "tar.h"

#include "imgtool_harness.h"

#define GIB (1ull << 30)

/* --- reading an archive back ---------------------------------------------------------- */

/* The whole of path, gunzipped when gz; *len its length. */
static unsigned char *slurp_archive(const char *path, bool gz, size_t *len)
{
	if (!gz)
		return th_slurp(path, len);

	gzFile f = gzopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	unsigned char *b = malloc(cap);
	int got;

	assert_non_null(f);
	assert_non_null(b);
	while ((got = gzread(f, b + n, (unsigned)(cap - n))) > 0) {
		n += (size_t)got;
		if (n == cap) {
			b = realloc(b, cap *= 2);
			assert_non_null(b);
		}
	}
	assert_int_equal(got, 0);
	assert_int_equal(gzclose(f), Z_OK);
	*len = n;
	return b;
}

/* An octal field of a header, as a reader takes it. */
static uint64_t octal(const unsigned char *h, size_t off, size_t len)
{
	uint64_t v = 0;

	for (size_t i = off; i < off + len && h[i] >= '0' && h[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(h[i] - '0');
	return v;
}

/* The header's checksum is the sum of its bytes with the field itself as spaces. */
static void assert_sealed(const unsigned char *h)
{
	unsigned sum = 0;

	for (size_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	assert_int_equal(octal(h, 148, 8), sum);
	assert_int_equal(h[154], 0);
	assert_int_equal(h[155], ' ');
}

struct member {
	char name[101];
	char type;
	uint64_t size;		/* of the data stored in the archive */
	const unsigned char *header, *data;
};

/* The members of the archive a (len bytes), which must end in two zero blocks right
 * after the last member's padded data; returns how many (at most max). */
static size_t members(const unsigned char *a, size_t len, struct member *out, size_t max)
{
	static const unsigned char zero[1024];
	size_t at = 0, n = 0;

	assert_int_equal(len % 512, 0);
	while (at + 1024 <= len && memcmp(a + at, zero, 512) != 0) {
		const unsigned char *h = a + at;

		assert_true(n < max);
		assert_sealed(h);
		memcpy(out[n].name, h, 100);
		out[n].name[100] = '\0';
		out[n].type = (char)h[156];
		out[n].size = octal(h, 124, 12);
		out[n].header = h;
		at += 512;
		/* an old-GNU sparse header says whether extension blocks follow */
		if (h[156] == 'S')
			for (int more = h[482]; more; at += 512)
				more = a[at + 504];
		out[n].data = a + at;
		at += (size_t)(out[n].size + 511) / 512 * 512;
		n++;
	}
	assert_int_equal(at + 1024, len);
	assert_memory_equal(a + at, zero, 1024);
	return n;
}

/* The SHA-256 of data as lowercase hex, written here rather than by the code under test. */
static void digest_of(const void *data, size_t len, char hex[65])
{
	uint8_t sum[SHA256_SIZE];

	sha256(data, len, sum);
	for (size_t i = 0; i < SHA256_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
}

/* --- writing ---------------------------------------------------------------------------- */

static const struct package *package(const char *name)
{
	struct msg m = { "" };
	const struct package *p = package_by_name(name, &m);

	if (!p)
		fail_msg("%s", m.text);
	return p;
}

/* Pack the disk at src as the package name at out with the -o list options ("" for
 * none); returns the result, the message in m. */
static int pack(const char *name, const char *options, const char *src, const char *out,
		struct msg *m)
{
	const struct package *p = package(name);
	struct opts o = { .n = 0 };
	struct vm_spec vm;
	struct disk *d = th_open(src);
	int rc = -1;

	if ((!*options || opts_parse(&o, options, m) == 0) &&
	    opts_validate(&o, p->opts, p->name, m) == 0 &&
	    vm_spec_parse(&vm, &o, out, p->named, m) == 0)
		rc = p->write(&d, out, &vm, m);
	opts_free(&o);
	disk_close(d);
	return rc;
}

static const char *pack_ok(const char *name, const char *options, const char *src,
			   const char *out)
{
	struct msg m = { "" };

	if (pack(name, options, src, out, &m) < 0)
		fail_msg("pack -O %s -o \"%s\" %s: %s", name, options, out, m.text);
	return out;
}

/* The message pack fails with; out must not exist after. */
static const char *pack_refused(const char *name, const char *options, const char *src,
				const char *out)
{
	static struct msg m;

	memset(&m, 0, sizeof m);
	assert_int_equal(pack(name, options, src, out, &m), -1);
	assert_int_equal(access(out, F_OK), -1);
	return m.text;
}

/* A USTAR archive at path of the members given as name, text pairs (NULL ends). */
static const char *ustar_of(const char *path, ...)
{
	struct output out = { .n = 0 };
	struct outfile *f;
	struct msg m = { "" };
	struct tar t;
	va_list ap;

	assert_int_equal(output_add(&out, path, &f, &m), 0);
	assert_int_equal(tar_begin(&t, f, TAR_USTAR, false, 1700000000, &m), 0);
	va_start(ap, path);
	for (const char *name; (name = va_arg(ap, const char *));) {
		const char *text = va_arg(ap, const char *);

		assert_int_equal(tar_add(&t, name, text, strlen(text), &m), 0);
	}
	va_end(ap);
	assert_int_equal(tar_end(&t, &m), 0);
	tar_free(&t);
	if (output_commit(&out, &m) < 0)
		fail_msg("%s", m.text);
	output_discard(&out);
	return path;
}

/* --- the tar writer ----------------------------------------------------------------------- */

static void test_a_ustar_member_has_every_header_field_of_pax(void **state)
{
	size_t len;
	unsigned char *a = th_slurp(ustar_of(th_path("a.tar"), "hello.txt", "hello\n",
					     (const char *)NULL), &len);
	struct member mb[2];

	(void)state;
	/* header, one block of data, the two end blocks */
	assert_int_equal(len, 4 * 512);
	assert_int_equal(members(a, len, mb, 2), 1);
	assert_string_equal(mb[0].name, "hello.txt");
	assert_int_equal(mb[0].type, '0');
	assert_memory_equal(a + 100, "0000644\0", 8);		/* mode */
	assert_memory_equal(a + 108, "0000000\0", 8);		/* uid */
	assert_memory_equal(a + 116, "0000000\0", 8);		/* gid */
	assert_memory_equal(a + 124, "00000000006\0", 12);	/* size */
	assert_memory_equal(a + 136, "14524770400\0", 12);	/* 1700000000 */
	assert_memory_equal(a + 257, "ustar\0" "00", 8);
	assert_string_equal((const char *)a + 265, "root");
	assert_string_equal((const char *)a + 297, "root");
	assert_memory_equal(a + 512, "hello\n\0\0", 8);
	free(a);
}

static void test_members_are_padded_to_a_block_and_kept_in_order(void **state)
{
	static char big[1500];
	size_t len;
	unsigned char *a;
	struct member mb[3];

	(void)state;
	memset(big, 'x', sizeof big - 1);
	a = th_slurp(ustar_of(th_path("b.tar"), "one", "1", "two", big, "three", "",
			      (const char *)NULL), &len);
	/* 512 + 512, 512 + 1536, 512 + 0, end */
	assert_int_equal(len, 1024 + 2048 + 512 + 1024);
	assert_int_equal(members(a, len, mb, 3), 3);
	assert_string_equal(mb[0].name, "one");
	assert_string_equal(mb[1].name, "two");
	assert_string_equal(mb[2].name, "three");
	assert_int_equal(mb[1].size, 1499);
	assert_memory_equal(mb[1].data, big, 1499);
	free(a);
}

static void test_a_member_name_that_does_not_fit_the_header_is_refused(void **state)
{
	char name[101];
	struct output out = { .n = 0 };
	struct outfile *f;
	struct msg m = { "" };
	struct tar t;

	(void)state;
	memset(name, 'n', 100);
	name[100] = '\0';
	assert_int_equal(output_add(&out, th_path("c.tar"), &f, &m), 0);
	assert_int_equal(tar_begin(&t, f, TAR_USTAR, false, 0, &m), 0);
	assert_int_equal(tar_add(&t, name, "", 0, &m), -1);
	assert_string_equal(m.text, th_text("cannot write %s: the member name \"%s\" does not "
					    "fit a tar header (1 to 99 bytes).",
					    th_path("c.tar"), name));
	tar_free(&t);
	output_discard(&out);
	assert_int_equal(access(th_path("c.tar"), F_OK), -1);
}

/* --- GCE: old-GNU, sparse, gzip -------------------------------------------------------------- */

static void test_gce_is_one_sparse_disk_raw_of_a_whole_gib_in_old_gnu_tar(void **state)
{
	unsigned char *p = th_pattern(1024, 3), *a;
	const char *src = th_raw("src.img", 1 << 20, (uint64_t)0, p, (size_t)512,
				 (uint64_t)4096, p + 512, (size_t)512, UINT64_MAX);
	size_t len;
	struct member mb[2];

	(void)state;
	a = slurp_archive(pack_ok("gce", "", src, th_path("disk.tar.gz")), true, &len);
	assert_int_equal(members(a, len, mb, 2), 1);
	assert_string_equal(mb[0].name, "disk.raw");
	assert_int_equal(mb[0].type, 'S');
	assert_memory_equal(mb[0].header + 257, "ustar  \0", 8);
	/* the file's real size (483) is the disk grown to 1 GiB; stored are its two
	 * sectors of data */
	assert_int_equal(octal(mb[0].header, 483, 12), GIB);
	assert_int_equal(mb[0].size, 1024);
	/* the map: (0, 512), (4096, 512), and the empty range at the end */
	assert_int_equal(octal(mb[0].header, 386, 12), 0);
	assert_int_equal(octal(mb[0].header, 398, 12), 512);
	assert_int_equal(octal(mb[0].header, 410, 12), 4096);
	assert_int_equal(octal(mb[0].header, 422, 12), 512);
	assert_int_equal(octal(mb[0].header, 434, 12), GIB);
	assert_int_equal(octal(mb[0].header, 446, 12), 0);
	assert_int_equal(mb[0].header[482], 0);
	assert_memory_equal(mb[0].data, p, 1024);
	free(a);
	free(p);
}

static void test_a_sparse_map_longer_than_four_ranges_goes_on_in_extension_blocks(void **state)
{
	unsigned char *p = th_pattern(512, 9), *a;
	const char *src = th_raw("src.img", 1 << 20, (uint64_t)0, p, (size_t)512,
				 UINT64_MAX);
	size_t len;
	struct member mb[2];
	int fd = open(src, O_WRONLY);

	(void)state;
	/* 30 ranges of data one sector each, every 8 KiB: 4 in the header, 21 in the first
	 * extension block, 5 (and the empty one at the end) in the second */
	for (int i = 1; i < 30; i++)
		assert_int_equal(pwrite(fd, p, 512, (off_t)i * 8192), 512);
	assert_int_equal(close(fd), 0);
	a = slurp_archive(pack_ok("gce", "", src, th_path("disk.tar.gz")), true, &len);
	assert_int_equal(members(a, len, mb, 2), 1);
	assert_int_equal(mb[0].size, 30 * 512);
	assert_int_equal(mb[0].header[482], 1);
	const unsigned char *ext1 = mb[0].header + 512, *ext2 = ext1 + 512;

	assert_int_equal(octal(mb[0].header, 386 + 3 * 24, 12), 3 * 8192);
	assert_int_equal(octal(ext1, 0, 12), 4 * 8192);
	assert_int_equal(octal(ext1, 12, 12), 512);
	assert_int_equal(octal(ext1, 20 * 24, 12), 24 * 8192);
	assert_int_equal(ext1[504], 1);
	assert_int_equal(octal(ext2, 4 * 24, 12), 29 * 8192);
	assert_int_equal(octal(ext2, 5 * 24, 12), GIB);
	assert_int_equal(octal(ext2, 5 * 24 + 12, 12), 0);
	assert_int_equal(ext2[504], 0);
	assert_ptr_equal(mb[0].data, ext2 + 512);
	free(a);
	free(p);
}

static void test_the_gzip_layer_records_no_name_and_no_time(void **state)
{
	unsigned char head[10];

	(void)state;
	pack_ok("gce", "", th_boot_disk("src.img"), th_path("disk.tar.gz"));
	th_read_at(th_path("disk.tar.gz"), 0, head, sizeof head);
	/* magic, deflate, no flags (no name), time 0, OS 3 */
	assert_memory_equal(head, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
	assert_int_equal(head[9], 3);
}

/* --- OVA -------------------------------------------------------------------------------------- */

static void test_an_ova_holds_the_ovf_then_the_manifest_then_the_vmdk(void **state)
{
	size_t len;
	unsigned char *a;
	struct member mb[4];
	char ovf_sum[65], vmdk_sum[65], mf[256];

	(void)state;
	a = th_slurp(pack_ok("ova", "", th_boot_disk("src.img"), th_path("appliance.ova")), &len);
	assert_true(len <= 16384);
	assert_int_equal(members(a, len, mb, 4), 3);
	assert_string_equal(mb[0].name, "appliance.ovf");
	assert_string_equal(mb[1].name, "appliance.mf");
	assert_string_equal(mb[2].name, "appliance-disk1.vmdk");
	assert_memory_equal(mb[0].header + 257, "ustar\0" "00", 8);
	/* the VMDK is stream-optimized, and the manifest has both digests */
	assert_memory_equal(mb[2].data, "KDMV", 4);
	digest_of(mb[0].data, (size_t)mb[0].size, ovf_sum);
	digest_of(mb[2].data, (size_t)mb[2].size, vmdk_sum);
	snprintf(mf, sizeof mf, "SHA256(appliance.ovf)= %s\nSHA256(appliance-disk1.vmdk)= %s\n",
		 ovf_sum, vmdk_sum);
	assert_int_equal(mb[1].size, strlen(mf));
	assert_memory_equal(mb[1].data, mf, strlen(mf));
	free(a);
}

static void test_the_ovf_gives_the_exact_vmdk_size_and_the_disk_capacity(void **state)
{
	size_t len;
	unsigned char *a;
	struct member mb[3];
	char *ovf, want[128];

	(void)state;
	a = th_slurp(pack_ok("ova", "name=web-1,memory=64,cpus=2", th_boot_disk("src.img"),
			     th_path("x.ova")), &len);
	assert_int_equal(members(a, len, mb, 3), 3);
	assert_string_equal(mb[0].name, "web-1.ovf");
	ovf = strndup((const char *)mb[0].data, (size_t)mb[0].size);
	snprintf(want, sizeof want, "<File ovf:href=\"web-1-disk1.vmdk\" ovf:id=\"file1\" "
		 "ovf:size=\"%llu\"/>", (unsigned long long)mb[2].size);
	assert_non_null(strstr(ovf, want));
	assert_non_null(strstr(ovf, "<Disk ovf:capacity=\"1048576\" "
				    "ovf:capacityAllocationUnits=\"byte\""));
	assert_non_null(strstr(ovf, "<Name>web-1</Name>"));
	assert_non_null(strstr(ovf, "<rasd:ElementName>64 MiB of memory</rasd:ElementName>"));
	assert_non_null(strstr(ovf, "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>"));
	assert_non_null(strstr(ovf, "<Item ovf:required=\"false\">"));
	free(ovf);
	free(a);
}

static void test_a_package_is_the_same_bytes_on_every_run(void **state)
{
	const char *src = th_boot_disk("src.img");
	size_t la, lb;
	unsigned char *a, *b;

	(void)state;
	for (size_t i = 0; i < npackages; i++) {
		const char *name = packages[i]->name;
		const char *out_a = th_path(packages[i]->ext && !strcmp(packages[i]->ext, ".ova")
					    ? "a.ova" : "a.box");
		const char *out_b = th_path(packages[i]->ext && !strcmp(packages[i]->ext, ".ova")
					    ? "b.ova" : "b.box");

		setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
		pack_ok(name, packages[i]->named ? "name=a" : "", src, out_a);
		pack_ok(name, packages[i]->named ? "name=a" : "", src, out_b);
		unsetenv("SOURCE_DATE_EPOCH");
		a = th_slurp(out_a, &la);
		b = th_slurp(out_b, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		free(a);
		free(b);
		unlink(out_a);
		unlink(out_b);
	}
}

/* --- Vagrant ------------------------------------------------------------------------------------ */

static void test_a_libvirt_box_has_metadata_a_vagrantfile_and_a_qcow2_of_whole_gib(void **state)
{
	size_t len;
	unsigned char *a;
	struct member mb[4];

	(void)state;
	a = slurp_archive(pack_ok("vagrant-libvirt", "memory=48", th_boot_disk("src.img"),
				  th_path("l.box")), true, &len);
	assert_int_equal(members(a, len, mb, 4), 3);
	assert_string_equal(mb[0].name, "metadata.json");
	assert_memory_equal(mb[0].data,
			    "{\"provider\":\"libvirt\",\"format\":\"qcow2\",\"virtual_size\":1}\n",
			    mb[0].size);
	assert_string_equal(mb[1].name, "Vagrantfile");
	assert_non_null(memmem(mb[1].data, (size_t)mb[1].size, "libvirt.memory = 48\n", 20));
	assert_string_equal(mb[2].name, "box.img");
	assert_memory_equal(mb[2].data, "QFI\xfb", 4);
	assert_int_equal(get_be64(mb[2].data + 24), GIB);
	free(a);
}

static void test_a_virtualbox_box_has_box_ovf_its_vmdk_and_a_base_mac(void **state)
{
	size_t len;
	unsigned char *a;
	struct member mb[5];

	(void)state;
	a = slurp_archive(pack_ok("vagrant-virtualbox", "", th_boot_disk("src.img"),
				  th_path("v.box")), true, &len);
	assert_int_equal(members(a, len, mb, 5), 4);
	assert_string_equal(mb[0].name, "box.ovf");
	assert_non_null(memmem(mb[0].data, (size_t)mb[0].size,
			       "<File ovf:href=\"box-disk1.vmdk\"", 30));
	assert_string_equal(mb[1].name, "box-disk1.vmdk");
	assert_memory_equal(mb[1].data, "KDMV", 4);
	assert_string_equal(mb[2].name, "Vagrantfile");
	assert_non_null(memmem(mb[2].data, (size_t)mb[2].size,
			       "config.vm.base_mac = \"080027", 28));
	assert_string_equal(mb[3].name, "metadata.json");
	assert_memory_equal(mb[3].data, "{\"provider\":\"virtualbox\"}\n", mb[3].size);
	free(a);
}

/* How many names the folder path holds, besides . and .. */
static int entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* --- refusals ------------------------------------------------------------------------------------ */

static void test_a_vm_name_memory_or_cpu_count_out_of_range_is_refused(void **state)
{
	const char *src = th_boot_disk("src.img");

	(void)state;
	assert_string_equal(pack_refused("ova", "memory=3", src, th_path("a.ova")),
			    "-o memory=3: the memory size is a whole number of MiB from 4 to "
			    "1048576.");
	assert_string_equal(pack_refused("ova", "memory=1048577", src, th_path("a.ova")),
			    "-o memory=1048577: the memory size is a whole number of MiB from 4 "
			    "to 1048576.");
	assert_string_equal(pack_refused("ova", "memory=32M", src, th_path("a.ova")),
			    "-o memory=32M: the memory size is a whole number of MiB from 4 to "
			    "1048576.");
	assert_string_equal(pack_refused("ova", "cpus=0", src, th_path("a.ova")),
			    "-o cpus=0: the number of CPUs is a whole number from 1 to 32.");
	assert_string_equal(pack_refused("ova", "name=a<b", src, th_path("a.ova")),
			    "-o name=a<b: a VM name is 1 to 64 letters, digits, '.', '_' or '-', "
			    "and starts with a letter or a digit.");
	assert_string_equal(pack_refused("ova", "name=.hidden", src, th_path("a.ova")),
			    "-o name=.hidden: a VM name is 1 to 64 letters, digits, '.', '_' or "
			    "'-', and starts with a letter or a digit.");
	assert_string_equal(pack_refused("ova", "", src, th_path("my vm.ova")),
			    th_text("%s does not make a VM name (1 to 64 letters, digits, '.', "
				    "'_' or '-'); give one with -o name=NAME.", th_path("my vm.ova")));
	assert_string_equal(pack_refused("gce", "name=x", src, th_path("a.tar.gz")),
			    "gce takes no -o options, not even name.");
}

static void test_a_failed_pack_leaves_what_was_there(void **state)
{
	const char *src = th_boot_disk("src.img");
	const char *out = th_path("keep.ova");
	static struct msg m;
	size_t len;
	unsigned char *a;

	(void)state;
	th_raw("keep.ova", 4, (uint64_t)0, "old!", (size_t)4, UINT64_MAX);
	memset(&m, 0, sizeof m);
	assert_int_equal(pack("ova", "memory=1", src, out, &m), -1);
	a = th_slurp(out, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(a, "old!", 4);
	free(a);
	/* nor anything else in the folder: a temporary file or folder */
	assert_int_equal(entries(th_dir), 2);
}

static void test_a_package_is_picked_by_name_or_by_the_output_ending(void **state)
{
	struct msg m = { "" };

	(void)state;
	assert_ptr_equal(package_by_path("x/boot.ova", &m), package("ova"));
	assert_ptr_equal(package_by_path("boot-gce.tar.gz", &m), package("gce"));
	assert_null(package_by_path("boot.box", &m));
	assert_string_equal(m.text, "boot.box is a Vagrant box: give its provider with -O "
				    "vagrant-libvirt or -O vagrant-virtualbox.");
	assert_null(package_by_path("boot.zip", &m));
	assert_string_equal(m.text, "cannot tell the package of boot.zip from its name; give one "
				    "with -O.");
	assert_null(package_by_name("vhd", &m));
	assert_string_equal(m.text, "unknown package \"vhd\"; the packages are ova, gce, "
				    "vagrant-libvirt and vagrant-virtualbox.");
}

#define T(f) cmocka_unit_test_setup_teardown(f, th_setup, th_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_a_ustar_member_has_every_header_field_of_pax),
		T(test_members_are_padded_to_a_block_and_kept_in_order),
		T(test_a_member_name_that_does_not_fit_the_header_is_refused),
		T(test_gce_is_one_sparse_disk_raw_of_a_whole_gib_in_old_gnu_tar),
		T(test_a_sparse_map_longer_than_four_ranges_goes_on_in_extension_blocks),
		T(test_the_gzip_layer_records_no_name_and_no_time),
		T(test_an_ova_holds_the_ovf_then_the_manifest_then_the_vmdk),
		T(test_the_ovf_gives_the_exact_vmdk_size_and_the_disk_capacity),
		T(test_a_package_is_the_same_bytes_on_every_run),
		T(test_a_libvirt_box_has_metadata_a_vagrantfile_and_a_qcow2_of_whole_gib),
		T(test_a_virtualbox_box_has_box_ovf_its_vmdk_and_a_base_mac),
		T(test_a_vm_name_memory_or_cpu_count_out_of_range_is_refused),
		T(test_a_failed_pack_leaves_what_was_there),
		T(test_a_package_is_picked_by_name_or_by_the_output_ending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
