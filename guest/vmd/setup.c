/* setup.c - what vmd --identity does before it listens: wait for the VM's identity
 * in fw_cfg and make the VM that one (see identity.h for the item).
 *
 * It runs in the guest as root, before the first client: the RNG, the clock and
 * the hostname are the VM's, and a clone of a template starts with the template's
 * of each, so each is set again from the identity.
 */
#include "setup.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/random.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch.h"

/* The poll period: short, since a clone's start waits on it, and the template does
 * nothing else meanwhile (it is saved while vmd sleeps here). */
#define POLL_NS (2 * 1000 * 1000)
/* Bad identities read in a row, after the template's placeholder, before vmd gives up. */
#define TORN_READS 3

#define SHARE_TAGS "/sys/bus/virtio/drivers/9pnet_virtio/virtio*/mount_tag"
#define SHARE_OPTIONS "trans=virtio,version=9p2000.L,msize=524288"
#define HOME_DISK "/dev/vda"
#define HOME_DISK_MNT "/run/vmd-home-disk"

static int mount_home_disk(const char *home_root, struct msg *m);
static void scan_shares(void);

/* Whether the home disk is mounted already: a template mounts it before its identity. */
static bool home_mounted;

int setup_wait_identity(const char *path, const char *home_root, void (*home_ready)(void),
			struct identity *id, struct msg *m)
{
	char buf[IDENTITY_SIZE];
	struct timespec tick = { 0, POLL_NS };
	bool told = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC), torn = 0;

	if (fd < 0)
		return fail_errno(m, "cannot open the identity %s", path);
	for (;;) {
		/* qemu_fw_cfg reads the item from the device on every read: a clone's
		 * is the one its own QEMU was given. */
		ssize_t n = pread(fd, buf, sizeof buf, 0);
		enum identity_kind k;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail_errno(m, "cannot read the identity %s", path);
			break;
		}
		k = identity_parse(buf, (size_t)n, id, m);
		if (k == IDENTITY_REAL) {
			explicit_bzero(buf, sizeof buf);
			close(fd);
			return 0;
		}
		/* A template saved in the middle of a read resumes, in each clone, reading
		 * the rest from its own QEMU's item at the offset the template's had
		 * reached: the start of the placeholder, the end of the real identity.
		 * The next read is whole; an identity that is bad read after read is bad. */
		if (k == IDENTITY_BAD && told && ++torn < TORN_READS)
			continue;
		if (k == IDENTITY_BAD)
			break;
		torn = 0;
		/* The template's disk is an empty ext4 that every clone's disk is a
		 * copy of, taken when the template is saved: mounted here, the mount
		 * and the sandbox user's home are the template's work, done once (a
		 * clone would do them with a cold translation cache, 60 ms under TCG). */
		if (!told)
			scan_shares();
		if (!told && id->home_disk) {
			if (mount_home_disk(home_root, m) < 0)
				break;
			home_mounted = true;
			home_ready();
		}
		if (!told) {
			/* The host saves the template once it sees this line. */
			fputs("vmd: waiting for its identity\n", stdout);
			fflush(stdout);
			told = true;
		}
		nanosleep(&tick, NULL);
	}
	explicit_bzero(buf, sizeof buf);
	close(fd);
	return -1;
}

/* Credit the seed as 256 bits and reseed the CRNG from it now: without the reseed
 * a clone would go on producing the template's numbers until the kernel's next
 * scheduled reseed, and that one would draw on the template's input pool and the
 * few interrupts since the clone resumed. */
static int apply_seed(const unsigned char seed[IDENTITY_SEED_LEN], struct msg *m)
{
	/* struct rand_pool_info ends in a flexible array: the header, then the bytes */
	_Alignas(struct rand_pool_info) unsigned char pool[sizeof(struct rand_pool_info) +
							   IDENTITY_SEED_LEN];
	struct rand_pool_info *info = (struct rand_pool_info *)pool;
	int fd = open("/dev/random", O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return fail_errno(m, "cannot open /dev/random to add the identity's seed");
	info->entropy_count = IDENTITY_SEED_LEN * 8;
	info->buf_size = IDENTITY_SEED_LEN;
	memcpy(info->buf, seed, IDENTITY_SEED_LEN);
	if (ioctl(fd, RNDADDENTROPY, info) < 0)
		rc = fail_errno(m, "cannot add the identity's seed to the kernel's entropy");
	else if (ioctl(fd, RNDRESEEDCRNG) < 0)
		rc = fail_errno(m, "cannot reseed the kernel's random number generator");
	explicit_bzero(pool, sizeof pool);
	close(fd);
	return rc;
}

/* The 9p shares' tags, read from sysfs once: the devices are there from the boot on,
 * so a template reads them before it waits and its clones do not (a clone's first
 * sysfs walk costs it milliseconds under TCG). */
#define MAX_SHARE_TAGS 64
static char share_tags[MAX_SHARE_TAGS][256];
static size_t nshare_tags;
static bool shares_scanned;

static void scan_shares(void)
{
	glob_t g;

	shares_scanned = true;
	if (glob(SHARE_TAGS, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc && nshare_tags < MAX_SHARE_TAGS; i++) {
		char *tag = share_tags[nshare_tags];
		size_t n = 0;
		ssize_t got;
		int fd = open(g.gl_pathv[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			continue;
		got = read(fd, tag, sizeof share_tags[0] - 1);
		close(fd);
		if (got < 0)
			continue;
		/* the attribute ends with the tag's NUL (and a newline on some kernels) */
		while (n < (size_t)got && tag[n] && tag[n] != '\n')
			n++;
		tag[n] = '\0';
		if (!identity_tag_ok(tag, n)) {
			warn("skipping the share tag \"%s\".", tag);
			continue;
		}
		nshare_tags++;
	}
	globfree(&g);
}

/* Each 9p share QEMU gives the VM (vmctl start --share HOST TAG) at ROOT/TAG,
 * read-only when its tag is in ro_shares (QEMU refuses the writes anyway; this
 * makes the mount say so). nosuid and nodev: the host's files never gain
 * privileges here. A tag that is not a plain word is skipped, and a share that
 * cannot be mounted is reported: the VM serves without it. */
static void mount_shares(const char *root, const char *ro)
{
	if (!shares_scanned)
		scan_shares();
	for (size_t i = 0; i < nshare_tags; i++) {
		const char *tag = share_tags[i];
		char dir[1300];

		snprintf(dir, sizeof dir, "%s/%s", root, tag);
		if ((mkdir(root, 0755) < 0 && errno != EEXIST) ||
		    (mkdir(dir, 0755) < 0 && errno != EEXIST) ||
		    mount(tag, dir, "9p",
			  MS_NOSUID | MS_NODEV | (identity_tag_listed(ro, tag) ? MS_RDONLY : 0),
			  SHARE_OPTIONS) < 0)
			warn("cannot mount the share %s on %s: %s.", tag, dir, strerror(errno));
	}
}

/* The disk at HOME_DISK_MNT (root's alone), its folder home bound on home_root, with
 * nosuid and nodev on both. */
static int mount_home_disk(const char *home_root, struct msg *m)
{
	char home[sizeof HOME_DISK_MNT + 8];

	snprintf(home, sizeof home, "%s/home", HOME_DISK_MNT);
	if ((mkdir(HOME_DISK_MNT, 0700) < 0 && errno != EEXIST) ||
	    /* No barriers: QEMU has the disk cache=unsafe and drops flushes, so
	     * each one is only a request's round trip (the guest's writes reach QEMU
	     * all the same, and a pause's migration flushes them). A 300 MB upload:
	     * 19 -> 21-23 MB/s. */
	    mount(HOME_DISK, HOME_DISK_MNT, "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME,
		  "barrier=0") < 0)
		return fail_errno(m, "cannot mount the home disk %s on %s", HOME_DISK, HOME_DISK_MNT);
	if ((mkdir(home, 0755) < 0 && errno != EEXIST) ||
	    mount(home, home_root, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, home_root, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) < 0)
		return fail_errno(m, "cannot put the home disk's %s on %s", home, home_root);
	return 0;
}

int setup_apply_identity(const struct identity *id, const struct vmd_options *o,
			 char secret[VMD_SECRET_LEN + 1], struct msg *m)
{
	if (apply_seed(id->seed, m) < 0)
		return -1;
	if (clock_settime(CLOCK_REALTIME, &id->time) < 0)
		return fail_errno(m, "cannot set the clock to the identity's time");
	if (sethostname(id->hostname, strlen(id->hostname)) < 0)
		return fail_errno(m, "cannot set the hostname %s", id->hostname);
	mount_shares(o->share_root, id->ro_shares);
	/* The host made the disk an empty ext4: the users' homes go there instead of
	 * the tmpfs of /etc/fstab. Its folder "home" is /home, so that the filesystem's
	 * own lost+found is no user's name in it. */
	if (id->home_disk && !home_mounted && mount_home_disk(o->home_root, m) < 0)
		return -1;
	if (!id->home_disk && home_mounted)
		return fail(m, "the identity's home is ram, but the template has mounted the home "
			    "disk.");
	if (launch_set_proxy(id->proxy) < 0)
		return fail(m, "the identity's proxy %s is too long.", id->proxy);
	memcpy(secret, id->secret, VMD_SECRET_LEN + 1);
	return 0;
}

bool setup_home_mounted(void)
{
	return home_mounted;
}

int setup_reload_identity(const char *path, char secret[VMD_SECRET_LEN + 1], bool *changed,
			  struct msg *m)
{
	char buf[IDENTITY_SIZE];
	struct identity id;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	*changed = false;
	if (fd < 0)
		return fail_errno(m, "cannot open the identity %s", path);
	while ((n = pread(fd, buf, sizeof buf, 0)) < 0 && errno == EINTR)
		;
	close(fd);
	if (n < 0)
		return fail_errno(m, "cannot read the identity %s", path);
	switch (identity_parse(buf, (size_t)n, &id, m)) {
	case IDENTITY_REAL:
		break;
	case IDENTITY_TEMPLATE:
		fail(m, "the identity is the template's placeholder; there is nothing to reload.");
		/* fall through */
	default:
		goto out;
	}
	if (apply_seed(id.seed, m) < 0)
		goto out;
	if (clock_settime(CLOCK_REALTIME, &id.time) < 0) {
		fail_errno(m, "cannot set the clock to the identity's time");
		goto out;
	}
	if (sethostname(id.hostname, strlen(id.hostname)) < 0) {
		fail_errno(m, "cannot set the hostname %s", id.hostname);
		goto out;
	}
	*changed = strcmp(secret, id.secret) != 0;
	memcpy(secret, id.secret, VMD_SECRET_LEN + 1);
	rc = 0;
out:
	explicit_bzero(buf, sizeof buf);
	explicit_bzero(&id, sizeof id);
	return rc;
}
