/* userns.h - the sandbox's user namespace: its id maps, and taking the sandbox's ids.
 *
 * The namespace maps exactly one user and one group: the command's uid and gid N
 * inside. Outside, they are N too when the caller is root, so files the command
 * writes through --bind belong to N; an unprivileged caller can only map its own
 * ids, so there N inside is the caller outside. Root (0) is never mapped: files
 * owned by root appear as nobody (65534), and capabilities held in the namespace
 * never apply to them, so even the helper's own setup stage (which holds every
 * capability inside the namespace) cannot override their permissions.
 */
#ifndef SANDBOX_USERNS_H
#define SANDBOX_USERNS_H

#include <sys/types.h>

#include "util.h"

/*
 * Write pid's setgroups ("deny": nobody in the namespace can ever change groups),
 * uid_map ("uid outside_uid 1") and gid_map ("gid outside_gid 1"). Called from the
 * parent user namespace.
 */
int userns_write_maps(pid_t pid, uid_t uid, gid_t gid, uid_t outside_uid,
		      gid_t outside_gid, struct msg *m);

/*
 * Become uid/gid inside the namespace, keeping the namespace's capabilities for the
 * setup still to come (caps_drop_all() drops them before the command starts).
 */
int userns_become(uid_t uid, gid_t gid, struct msg *m);

#endif
