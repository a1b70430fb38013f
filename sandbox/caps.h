/* caps.h - capabilities: kept through the setup, then dropped for good.
 *
 * Only the 64-bit capability interface (version 3) of capget/capset is used; no
 * libcap.
 */
#ifndef SANDBOX_CAPS_H
#define SANDBOX_CAPS_H

#include "util.h"

/* Make the effective set equal to the permitted set. */
int caps_raise_effective(struct msg *m);

/*
 * Drop every capability so that nothing can bring one back: lock the securebits
 * (no root privilege on setuid or exec, no ambient raising, keep-caps off), empty
 * the bounding set and the ambient set, clear the effective, permitted and
 * inheritable sets, then check that they are empty. Sets no_new_privs too.
 */
int caps_drop_all(struct msg *m);

#endif
