/* setup.h - vmd --identity: wait for the VM's identity and apply it (setup.c). */
#ifndef VMD_SETUP_H
#define VMD_SETUP_H

#include "cli.h"
#include "identity.h"
#include "util.h"

/* Read path (the fw_cfg item) every 2 ms until it holds a real identity, printing
 * "vmd: waiting for its identity" on stdout the first time it finds the template's
 * placeholder. Before that line, a placeholder with home=disk has the disk mounted on
 * home_root (as setup_apply_identity would), and home_ready called: the template is
 * saved with both done. 0 with *id filled, or -1 with one sentence in m (malformed,
 * unreadable, or a disk that cannot be mounted). */
int setup_wait_identity(const char *path, const char *home_root, void (*home_ready)(void),
			struct identity *id, struct msg *m);

/* Whether setup_wait_identity mounted the home disk. */
bool setup_home_mounted(void);

/* Make this VM the identity's, in this order: reseed the RNG, set the clock and the
 * hostname, mount the 9p shares under o->share_root and, with home=disk, the disk
 * on o->home_root (unless the template has), set the proxy, and copy the secret into secret. */
int setup_apply_identity(const struct identity *id, const struct vmd_options *o,
			 char secret[VMD_SECRET_LEN + 1], struct msg *m);

/* reload_identity (after a resume or a fork): read path once, which must hold a real
 * identity, and apply what changes with a new QEMU under the same memory: reseed the
 * RNG, set the clock and the hostname; then the secret, *changed telling whether it
 * differs from the one in secret. The shares, the home disk and the proxy stay as
 * they were mounted and set at the first identity: the devices are the same. 0, or
 * -1 with one sentence in m (nothing changed when the item is malformed). */
int setup_reload_identity(const char *path, char secret[VMD_SECRET_LEN + 1], bool *changed,
			  struct msg *m);

#endif
