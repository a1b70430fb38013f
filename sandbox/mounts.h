/* mounts.h - the sandbox's file system: a new root built in a tmpfs.
 *
 * The root holds read-only binds (nosuid, nodev) of the system directories that
 * exist (/usr, /bin, /sbin, /lib, /lib32, /lib64, /libx32, /etc; a symbolic link
 * such as /bin -> usr/bin is copied as a link), a fresh /proc for the new pid
 * namespace, a minimal /dev (null, zero, full, random, urandom and tty bound from
 * the caller's /dev, a private devpts for PTYs, /dev/shm), an empty /tmp (both
 * sized, see below), then the
 * --ro-bind, --bind and --tmpfs mounts in command-line order. There is no /sys.
 * The root tmpfs and /dev are read-only in the end; /tmp, /dev/shm, --bind and
 * --tmpfs mounts are the only writable places.
 */
#ifndef SANDBOX_MOUNTS_H
#define SANDBOX_MOUNTS_H

#include "cli.h"

/* The sizes of the sandbox's /tmp and /dev/shm, as shares of RAM: a command that
 * fills them gets ENOSPC before it reaches its memory.max (three quarters of what
 * all sandboxes may use, which in a 128 MiB guest is about 24 MiB), rather than
 * being killed for memory that only its files hold. */
#define SANDBOX_TMP_SIZE "20%"
#define SANDBOX_SHM_SIZE "10%"

/*
 * Build the root and make it this mount namespace's root (pivot_root, then the old
 * root is detached). Runs as pid 1 of the new pid namespace, in the new mount
 * namespace, with the user namespace's capabilities.
 */
int mounts_build_root(const struct cli *c, struct msg *m);

#endif
