/* identity.h - the VM's identity, as the host gives it in the fw_cfg item
 * opt/vmd/identity (parsed here, pure, so that it is tested alone).
 *
 * A VM cloned from a booted template resumes the template's memory: whatever the
 * guest learnt at boot (the secret, the RNG state, the clock, the hostname) is the
 * template's. fw_cfg item contents are read from the device each time, from the
 * clone's own QEMU command line, so the item is where each clone finds its own.
 * Its size was fixed when the template booted: it is always IDENTITY_SIZE bytes,
 * text lines and then NUL bytes.
 *
 * The template's placeholder is the line "vmd-identity template"; a real identity
 * is exactly these lines, in this order:
 *   vmd-identity 1
 *   secret=<64 lowercase hex digits>
 *   seed=<64 lowercase hex digits: 32 random bytes>
 *   time=<seconds since 1970>.<9 digits of nanoseconds>
 *   hostname=<1 to 63 of [a-z0-9-], not starting or ending with '-'>
 *   proxy=<empty, or IPv4:PORT of the HTTP proxy>
 *   ro_shares=<empty, or comma-separated 9p tags mounted read-only>
 *   home=<disk or ram>
 * Each line ends with a newline; the last one may end with the first NUL instead.
 */
#ifndef VMD_IDENTITY_H
#define VMD_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cli.h"
#include "util.h"

#define IDENTITY_SIZE 512
#define IDENTITY_SEED_LEN 32	/* bytes */

struct identity {
	char secret[VMD_SECRET_LEN + 1];
	unsigned char seed[IDENTITY_SEED_LEN];
	struct timespec time;
	char hostname[64];
	char proxy[32];			/* "A.B.C.D:PORT", or "" */
	char ro_shares[IDENTITY_SIZE];	/* "tag,tag", or "" */
	bool home_disk;			/* home=disk: /home is the virtio disk */
};

enum identity_kind { IDENTITY_BAD = -1, IDENTITY_TEMPLATE = 0, IDENTITY_REAL = 1 };

/* Parse the len bytes of buf (len must be IDENTITY_SIZE): IDENTITY_TEMPLATE for the
 * placeholder ("vmd-identity template", then an optional home= line that sets only
 * id->home_disk), IDENTITY_REAL with *id filled, or IDENTITY_BAD with one sentence in m
 * (which never quotes the secret or the seed). */
enum identity_kind identity_parse(const char *buf, size_t len, struct identity *id,
				  struct msg *m);

/* True when tag is a 9p tag vmd mounts: a plain word of [A-Za-z0-9_.-], not "." or
 * "..", since it becomes a folder's name under the share root. */
bool identity_tag_ok(const char *tag, size_t len);

/* True when the comma-separated list ro (an identity's ro_shares) names tag. */
bool identity_tag_listed(const char *ro, const char *tag);

#endif
