/* imgbench.c - imgtool beside qemu-img, measured in the same run: container sizes for
 * the 1 MiB boot disk, the time to write them all, and the speed and peak memory of
 * converting a 2 GiB disk that holds 200 MiB of data.
 *
 * Each tool runs as a child process; times are wall-clock medians (CLOCK_MONOTONIC
 * around fork..wait4), memory is the child's peak RSS from wait4. Both tools read the
 * same files from a warm page cache and write to the same folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "text.h"
#include "util.h"

#define MAX_ARGS 16
#define MIB (1ull << 20)

struct opts {
	const char *imgtool, *qemu_img, *boot_img, *work;
	int small_runs, big_runs;
	unsigned disk_gib, data_mib;
};

struct run {
	double seconds;		/* median wall time */
	long peak_kib;		/* largest peak RSS over the runs */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Run argv once; its wall time and peak RSS. Dies if it fails: a failed conversion
 * has no figure to compare. out is the file it writes. */
static void run_once(char *const argv[], const char *out, double *seconds, long *peak_kib)
{
	const struct timespec settle = { 0, 200000000 };
	struct rusage ru;
	double t0;
	int status;
	pid_t pid;

	/* What earlier runs left the kernel to do must not slow this one: the last output
	 * goes (freeing its blocks, which a file system mounted with discard trims), then
	 * everything is written back, then a moment for the trims to finish. */
	unlink(out);
	sync();
	nanosleep(&settle, NULL);
	t0 = now();
	pid = fork();

	if (pid == -1)
		die_errno("cannot fork");
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null != -1)
			dup2(null, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "imgbench: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		die_errno("cannot wait for %s", argv[0]);
	*seconds = now() - t0;
	*peak_kib = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "imgbench: this failed:");
		for (int i = 0; argv[i]; i++)
			fprintf(stderr, " %s", argv[i]);
		fprintf(stderr, "\n");
		exit(1);
	}
}

static struct run run_many(char *const argv[], const char *out, int runs)
{
	double t[64];
	struct run r = { 0, 0 };

	if (runs > 64)
		runs = 64;
	for (int i = 0; i < runs; i++) {
		long kib;

		run_once(argv, out, &t[i], &kib);
		if (kib > r.peak_kib)
			r.peak_kib = kib;
	}
	qsort(t, (size_t)runs, sizeof t[0], cmp_double);
	r.seconds = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
	return r;
}

/* argv for "imgtool convert [-c] [-o OPTS] IN OUT" or "qemu-img convert -f raw -O FMT
 * [-c] [-o OPTS] IN OUT"; the strings live in the static buffers of the caller's slot. */
struct cmd {
	char *argv[MAX_ARGS];
	char out[512];
};

static void imgtool_cmd(struct cmd *c, const struct opts *o, const char *opts,
			const char *in, const char *name)
{
	int n = 0;

	snprintf(c->out, sizeof c->out, "%s/ours-%s", o->work, name);
	c->argv[n++] = (char *)o->imgtool;
	c->argv[n++] = "convert";
	if (strncmp(opts, "-c", 2) == 0) {	/* "-c" or "-c,OPTS": compressed */
		c->argv[n++] = "-c";
		opts += opts[2] ? 3 : 2;
	}
	if (*opts) {
		c->argv[n++] = "-o";
		c->argv[n++] = (char *)opts;
	}
	c->argv[n++] = (char *)in;
	c->argv[n++] = c->out;
	c->argv[n] = NULL;
}

/* cache: NULL for qemu-img's default (convert does not sync what it writes), or
 * "writeback", which syncs at the end as imgtool always does. */
static void qemu_cmd(struct cmd *c, const struct opts *o, const char *fmt, const char *opts,
		     const char *in, const char *name, const char *cache)
{
	int n = 0;

	snprintf(c->out, sizeof c->out, "%s/qemu-%s", o->work, name);
	c->argv[n++] = (char *)o->qemu_img;
	c->argv[n++] = "convert";
	if (cache) {
		c->argv[n++] = "-t";
		c->argv[n++] = (char *)cache;
	}
	c->argv[n++] = "-f";
	c->argv[n++] = "raw";
	c->argv[n++] = "-O";
	c->argv[n++] = (char *)fmt;
	if (strncmp(opts, "-c", 2) == 0) {
		c->argv[n++] = "-c";
		opts += opts[2] ? 3 : 2;
	}
	if (*opts) {
		c->argv[n++] = "-o";
		c->argv[n++] = (char *)opts;
	}
	c->argv[n++] = (char *)in;
	c->argv[n++] = c->out;
	c->argv[n] = NULL;
}

static unsigned long long file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		die_errno("cannot read %s", path);
	return (unsigned long long)st.st_size;
}

/* The extent beside a monolithicFlat descriptor: "x.vmdk" -> "x-flat.vmdk". */
static unsigned long long flat_extent_size(const char *descriptor)
{
	char path[600];
	size_t len = strlen(descriptor);

	snprintf(path, sizeof path, "%.*s-flat.vmdk", (int)(len - 5), descriptor);
	return file_size(path);
}

/* --- the 1 MiB boot disk ---------------------------------------------------------------- */

struct kind {
	const char *label;
	const char *name;		/* output file name, its extension picks our format */
	const char *ours_opts;
	const char *qemu_fmt, *qemu_opts;
	unsigned long long goal;	/* <= this many bytes; 0: no larger than qemu-img */
	int flat;			/* a descriptor plus a -flat extent */
};

static const struct kind kinds[] = {
	{ "qcow2 size (cluster_size=512)", "boot.qcow2", "cluster_size=512", "qcow2",
	  "cluster_size=512", 3072, 0 },
	{ "VMDK streamOptimized size", "stream.vmdk", "subformat=streamOptimized", "vmdk",
	  "subformat=streamOptimized", 16384, 0 },
	{ "dynamic VHD size (smallest blocks)", "dyn.vhd", "subformat=dynamic,block_size=512K",
	  "vpc", "subformat=dynamic", 530000, 0 },
	{ "fixed VHD size", "fixed.vhd", "subformat=fixed", "vpc", "subformat=fixed", 0, 0 },
	{ "fixed VHDX size", "fixed.vhdx", "subformat=fixed", "vhdx", "subformat=fixed",
	  5u << 20, 0 },
	{ "dynamic VHDX size", "dyn.vhdx", "subformat=dynamic", "vhdx", "subformat=dynamic",
	  5u << 20, 0 },
	{ "VDI size", "boot.vdi", "", "vdi", "", 0, 0 },
	{ "VMDK monolithicFlat size", "flat.vmdk", "subformat=monolithicFlat", "vmdk",
	  "subformat=monolithicFlat", 0, 1 },
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* Seconds to spawn a process that does nothing, measured in small_disk. */
static double spawn_floor;

struct row {
	char label[64], ours[48], peer[48], ratio[48], goal[48], verdict[8];
};

/* The OVA of the boot disk: qemu-img makes none, so the goal alone judges it. */
static void ova_row(const struct opts *o, struct row *r)
{
	char out[600];
	char *argv[] = { (char *)o->imgtool, "pack", (char *)o->boot_img, out, NULL };
	unsigned long long size;

	snprintf(out, sizeof out, "%s/boot.ova", o->work);
	run_many(argv, out, 1);
	size = file_size(out);
	snprintf(r->label, sizeof r->label, "OVA of the boot disk (imgtool pack)");
	snprintf(r->ours, sizeof r->ours, "%llu", size);
	snprintf(r->peer, sizeof r->peer, "(has none)");
	snprintf(r->ratio, sizeof r->ratio, "-");
	snprintf(r->goal, sizeof r->goal, "<= 16384");
	snprintf(r->verdict, sizeof r->verdict, "%s", size <= 16384 ? "meets" : "MISSES");
}

static void fmt_bytes(char *buf, size_t size, unsigned long long v, unsigned long long flat)
{
	if (flat)
		snprintf(buf, size, "%llu + %llu", v, flat);
	else
		snprintf(buf, size, "%llu", v);
}

static void small_disk(const struct opts *o, struct row *rows, size_t *nrows)
{
	double ours_total = 0, peer_total = 0;

	for (size_t k = 0; k < NKINDS; k++) {
		const struct kind *kd = &kinds[k];
		struct cmd a, b;
		struct run ra, rb;
		unsigned long long sa, sb, fa = 0, fb = 0;
		struct row *r = &rows[(*nrows)++];
		int ok;

		imgtool_cmd(&a, o, kd->ours_opts, o->boot_img, kd->name);
		qemu_cmd(&b, o, kd->qemu_fmt, kd->qemu_opts, o->boot_img, kd->name, NULL);
		ra = run_many(a.argv, a.out, o->small_runs);
		rb = run_many(b.argv, b.out, o->small_runs);
		ours_total += ra.seconds;
		peer_total += rb.seconds;
		sa = file_size(a.out);
		sb = file_size(b.out);
		if (kd->flat) {
			fa = flat_extent_size(a.out);
			fb = flat_extent_size(b.out);
		}
		snprintf(r->label, sizeof r->label, "%s", kd->label);
		fmt_bytes(r->ours, sizeof r->ours, sa, fa);
		fmt_bytes(r->peer, sizeof r->peer, sb, fb);
		if (sa + fa < sb + fb)
			snprintf(r->ratio, sizeof r->ratio, "%.2fx smaller",
				 (double)(sb + fb) / (double)(sa + fa));
		else if (sa + fa == sb + fb)
			snprintf(r->ratio, sizeof r->ratio, "same");
		else
			snprintf(r->ratio, sizeof r->ratio, "%.2fx larger",
				 (double)(sa + fa) / (double)(sb + fb));
		if (kd->goal) {
			snprintf(r->goal, sizeof r->goal, "<= %llu", kd->goal);
			ok = sa + fa <= kd->goal;
		} else {
			snprintf(r->goal, sizeof r->goal, "no larger");
			ok = sa + fa <= sb + fb;
		}
		snprintf(r->verdict, sizeof r->verdict, "%s", ok ? "meets" : "MISSES");
	}
	/* The floor under any tool run as a process here: fork, exec and wait for
	 * /bin/true, which does nothing at all. */
	char *true_argv[] = { "true", NULL };
	char none[600];

	snprintf(none, sizeof none, "%s/none", o->work);
	spawn_floor = run_many(true_argv, none, o->small_runs).seconds;
	struct row *r = &rows[(*nrows)++];

	snprintf(r->label, sizeof r->label, "time to write all %zu containers", NKINDS);
	snprintf(r->ours, sizeof r->ours, "%.1f ms", ours_total * 1e3);
	snprintf(r->peer, sizeof r->peer, "%.1f ms", peer_total * 1e3);
	snprintf(r->ratio, sizeof r->ratio, peer_total >= ours_total ? "%.1fx faster" : "%.1fx slower",
		 peer_total >= ours_total ? peer_total / ours_total : ours_total / peer_total);
	snprintf(r->goal, sizeof r->goal, "<= 1/10");
	snprintf(r->verdict, sizeof r->verdict, "%s",
		 ours_total * 10 <= peer_total ? "meets" : "MISSES");
}

/* --- the 2 GiB disk ---------------------------------------------------------------------- */

/* A MiB of text: words of 2 to 9 letters from a fixed vocabulary of 4,096, drawn by
 * the generator x, separated by spaces. Deflate makes it about a third. */
static void text_mib(unsigned char *buf, uint64_t *x)
{
	static char words[4096][10];
	size_t at = 0;

	if (!words[0][0])
		for (size_t w = 0; w < 4096; w++) {
			size_t len = 2 + w * 7 % 8;

			for (size_t i = 0; i < len; i++)
				words[w][i] = (char)('a' + (w * 31 + i * 17 + w / 26) % 26);
		}
	while (at < MIB) {
		const char *w;

		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		w = words[*x % 4096];
		for (size_t i = 0; w[i] && at < MIB; i++)
			buf[at++] = (unsigned char)w[i];
		if (at < MIB)
			buf[at++] = ' ';
	}
}

/* disk_gib GiB, sparse, with data_mib chunks of 1 MiB of pseudo-random bytes (or of
 * text) spread evenly across it. The generator is fixed, so every run converts the
 * same disk. */
static void make_big_disk(const char *path, const struct opts *o, int text)
{
	unsigned long long size = (unsigned long long)o->disk_gib << 30;
	unsigned long long step = size / o->data_mib / MIB * MIB;
	unsigned char *buf = malloc(MIB);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (!buf || fd == -1)
		die_errno("cannot create %s", path);
	if (ftruncate(fd, (off_t)size) == -1)
		die_errno("cannot size %s", path);
	for (unsigned i = 0; i < o->data_mib; i++) {
		for (size_t j = 0; !text && j < MIB; j += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(buf + j, &x, 8);
		}
		if (text)
			text_mib(buf, &x);
		if (pwrite(fd, buf, MIB, (off_t)(i * step)) != (ssize_t)MIB)
			die_errno("cannot write %s", path);
	}
	if (close(fd) == -1)
		die_errno("cannot write %s", path);
	free(buf);
}

/* Read the file once so both tools start from a warm page cache. */
static void warm(const char *path)
{
	char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd == -1)
		die_errno("cannot read %s", path);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		;
	close(fd);
}

struct big {
	const char *label, *name, *ours_opts, *qemu_fmt, *qemu_opts;
	double speedup;		/* ours must be at least this much faster */
	int text;		/* of the disk with text rather than random bytes */
	int no_larger;		/* and its file no larger than qemu-img's */
};

static const struct big bigs[] = {
	{ "qcow2", "big.qcow2", "", "qcow2", "", 1, 0, 0 },
	{ "dynamic VHD", "big.vhd", "subformat=dynamic", "vpc", "subformat=dynamic", 1, 0, 0 },
	{ "dynamic VHDX", "big.vhdx", "subformat=dynamic", "vhdx", "subformat=dynamic", 1, 0, 0 },
	{ "VDI", "big.vdi", "", "vdi", "", 1, 0, 0 },
	{ "stream VMDK", "big.vmdk", "subformat=streamOptimized", "vmdk",
	  "subformat=streamOptimized", 2, 0, 0 },
	{ "qcow2 -c", "bigc.qcow2", "-c", "qcow2", "-c", 2, 0, 1 },
	{ "qcow2 -c (text)", "bigt.qcow2", "-c", "qcow2", "-c", 2, 1, 1 },
	{ "qcow2 -c zstd (text)", "bigz.qcow2", "-c,compression_type=zstd", "qcow2",
	  "-c,compression_type=zstd", 1, 1, 1 },
};
#define NBIGS (sizeof bigs / sizeof bigs[0])

static void big_disk(const struct opts *o, struct row *rows, size_t *nrows)
{
	char src[600];
	long ours_peak = 0, peer_peak = 0;
	int made = -1;

	snprintf(src, sizeof src, "%s/big.img", o->work);
	for (size_t k = 0; k < NBIGS; k++) {
		const struct big *bg = &bigs[k];
		struct cmd a, b, c;
		struct run ra, rb, rc;
		struct row *r = &rows[(*nrows)++];
		unsigned long long sa = 0, sb = 0;
		double ratio;
		int ok;

		if (made != bg->text) {
			fprintf(stderr, "imgbench: writing a %u GiB disk with %u MiB of %s...\n",
				o->disk_gib, o->data_mib, bg->text ? "text" : "random data");
			make_big_disk(src, o, bg->text);
			warm(src);
			made = bg->text;
		}
		fprintf(stderr, "imgbench: converting it to %s...\n", bg->label);
		imgtool_cmd(&a, o, bg->ours_opts, src, bg->name);
		qemu_cmd(&b, o, bg->qemu_fmt, bg->qemu_opts, src, bg->name, NULL);
		qemu_cmd(&c, o, bg->qemu_fmt, bg->qemu_opts, src, bg->name, "writeback");
		ra = run_many(a.argv, a.out, o->big_runs);
		sa = file_size(a.out);
		unlink(a.out);
		rb = run_many(b.argv, b.out, o->big_runs);
		sb = file_size(b.out);
		unlink(b.out);
		rc = run_many(c.argv, c.out, o->big_runs);
		unlink(c.out);
		if (ra.peak_kib > ours_peak)
			ours_peak = ra.peak_kib;
		if (rb.peak_kib > peer_peak)
			peer_peak = rb.peak_kib;
		/* Like with like: imgtool syncs its output, so the ratio is against qemu-img
		 * syncing too; its unsynced default is shown beside it. */
		ratio = rc.seconds / ra.seconds;
		snprintf(r->label, sizeof r->label, "%u GiB (%u MiB %s) -> %s", o->disk_gib,
			 o->data_mib, bg->text ? "text" : "data", bg->label);
		snprintf(r->ours, sizeof r->ours, "%.2f s", ra.seconds);
		snprintf(r->peer, sizeof r->peer, "%.2f s (%.2f s)", rc.seconds, rb.seconds);
		snprintf(r->ratio, sizeof r->ratio, ratio >= 1 ? "%.2fx faster" : "%.2fx slower",
			 ratio >= 1 ? ratio : 1 / ratio);
		snprintf(r->goal, sizeof r->goal, bg->speedup > 1 ? ">= %.0fx faster" : "no slower",
			 bg->speedup);
		ok = ratio >= bg->speedup;
		if (bg->no_larger) {
			/* the size in the ratio column, the time beside it */
			char t[32];

			snprintf(t, sizeof t, "%s", r->ratio);
			if (sa <= sb)
				snprintf(r->ratio, sizeof r->ratio, "%s, no larger", t);
			else
				snprintf(r->ratio, sizeof r->ratio, "%s, %.2f%% larger", t,
					 100.0 * (double)(sa - sb) / (double)sb);
			snprintf(r->ours + strlen(r->ours), sizeof r->ours - strlen(r->ours),
				 ", %llu", sa);
			snprintf(r->peer + strlen(r->peer), sizeof r->peer - strlen(r->peer),
				 ", %llu", sb);
			snprintf(r->goal + strlen(r->goal), sizeof r->goal - strlen(r->goal),
				 ", no larger");
			ok = ok && sa <= sb;
		}
		snprintf(r->verdict, sizeof r->verdict, "%s", ok ? "meets" : "MISSES");
	}
	unlink(src);
	struct row *r = &rows[(*nrows)++];

	snprintf(r->label, sizeof r->label, "peak memory of those conversions");
	snprintf(r->ours, sizeof r->ours, "%.1f MiB", (double)ours_peak / 1024);
	snprintf(r->peer, sizeof r->peer, "%.1f MiB", (double)peer_peak / 1024);
	snprintf(r->ratio, sizeof r->ratio, "%.2fx less", (double)peer_peak / (double)ours_peak);
	snprintf(r->goal, sizeof r->goal, "no more");
	snprintf(r->verdict, sizeof r->verdict, "%s", ours_peak <= peer_peak ? "meets" : "MISSES");
}

static void print_rows(const struct row *rows, size_t n)
{
	int w[5] = { 6, 7, 8, 5, 4 };

	for (size_t i = 0; i < n; i++) {
		const char *cell[5] = { rows[i].label, rows[i].ours, rows[i].peer, rows[i].ratio,
					rows[i].goal };

		for (int c = 0; c < 5; c++)
			if ((int)strlen(cell[c]) > w[c])
				w[c] = (int)strlen(cell[c]);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-*s\n", w[0], "figure", w[1], "imgtool", w[2],
	       "qemu-img", w[3], "ratio", w[4], "goal");
	for (size_t i = 0; i < n; i++)
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], rows[i].label, w[1],
		       rows[i].ours, w[2], rows[i].peer, w[3], rows[i].ratio, w[4], rows[i].goal,
		       rows[i].verdict);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static _Noreturn void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: imgbench [options] --imgtool PATH BOOT.IMG\n"
		"\n"
		"Writes every container of BOOT.IMG (the 1 MiB boot disk) with imgtool and with\n"
		"qemu-img and compares sizes and times, then converts a large sparse disk with\n"
		"both and compares speed and peak memory.\n"
		"\n"
		"  --imgtool PATH     the imgtool to measure (required)\n"
		"  --qemu-img PATH    the peer (default qemu-img)\n"
		"  --work DIR         where the files go (default: a new folder in $TMPDIR)\n"
		"  --small-runs N     runs per small conversion, median taken (default 11)\n"
		"  --big-runs N       runs per large conversion (default 5)\n"
		"  --disk-gib N       size of the large disk (default 2)\n"
		"  --data-mib N       MiB of data in it (default 200): random bytes, and for the\n"
		"                     compressed rows text too\n");
	exit(status);
}

static long number(const char *opt, const char *s, long lo, long hi)
{
	long v;

	if (parse_long_in(s, lo, hi, &v) < 0) {
		fprintf(stderr, "imgbench: %s wants a whole number from %ld to %ld, not \"%s\".\n",
			opt, lo, hi, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "imgtool", required_argument, NULL, 'i' },
		{ "qemu-img", required_argument, NULL, 'q' },
		{ "work", required_argument, NULL, 'w' },
		{ "small-runs", required_argument, NULL, 's' },
		{ "big-runs", required_argument, NULL, 'b' },
		{ "disk-gib", required_argument, NULL, 'g' },
		{ "data-mib", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { .qemu_img = "qemu-img", .small_runs = 11, .big_runs = 5,
			  .disk_gib = 2, .data_mib = 200 };
	struct row rows[NKINDS + NBIGS + 3];
	size_t nrows = 0;
	char work[] = "/tmp/imgbench.XXXXXX";
	int c;

	prog_name = "imgbench";
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'i': o.imgtool = optarg; break;
		case 'q': o.qemu_img = optarg; break;
		case 'w': o.work = optarg; break;
		case 's': o.small_runs = (int)number("--small-runs", optarg, 1, 64); break;
		case 'b': o.big_runs = (int)number("--big-runs", optarg, 1, 64); break;
		case 'g': o.disk_gib = (unsigned)number("--disk-gib", optarg, 1, 64); break;
		case 'd': o.data_mib = (unsigned)number("--data-mib", optarg, 1, 4096); break;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (!o.imgtool || argc - optind != 1)
		usage(2);
	o.boot_img = argv[optind];
	if (o.data_mib > o.disk_gib * 1024u)
		die("--data-mib %u does not fit in a %u GiB disk.", o.data_mib, o.disk_gib);
	if (!o.work) {
		if (!mkdtemp(work))
			die_errno("cannot create a work folder");
		o.work = work;
	}
	small_disk(&o, rows, &nrows);
	ova_row(&o, &rows[nrows++]);
	big_disk(&o, rows, &nrows);
	print_rows(rows, nrows);
	printf("\nImages written in the same run, same folder, warm page cache, the kernel's "
	       "write-back\nflushed before each run. imgtool syncs what it writes before renaming "
	       "it into place;\nfor the large disk the qemu-img column is `-t writeback` (synced "
	       "too), the ratio's\nbasis, and in brackets its default, which leaves the data "
	       "unsynced. Medians of %d\n(small) and %d (large) runs; memory is the peak RSS.\n",
	       o.small_runs, o.big_runs);
	printf("A process that does nothing (/bin/true) takes %.2f ms to spawn and reap here, so\n"
	       "%zu conversions, one process each, cannot take less than %.1f ms.\n",
	       spawn_floor * 1e3, NKINDS, spawn_floor * 1e3 * NKINDS);
	if (o.work == work && nftw(work, remove_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
		warn("could not remove %s.", work);
	return 0;
}
