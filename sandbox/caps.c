/* caps.c - see caps.h. */
#include "caps.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/securebits.h>

/* Version 3 carries 64 bits of each set in two 32-bit halves. */
struct caps {
	struct __user_cap_header_struct head;
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
};

static int caps_get(struct caps *c)
{
	memset(c, 0, sizeof *c);
	c->head.version = _LINUX_CAPABILITY_VERSION_3;
	return (int)syscall(SYS_capget, &c->head, c->data);
}

static int caps_set(struct caps *c)
{
	c->head.version = _LINUX_CAPABILITY_VERSION_3;
	c->head.pid = 0;
	return (int)syscall(SYS_capset, &c->head, c->data);
}

int caps_raise_effective(struct msg *m)
{
	struct caps c;

	if (caps_get(&c) < 0)
		return fail_errno(m, "cannot read the capability sets");
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		c.data[i].effective = c.data[i].permitted;
	if (caps_set(&c) < 0)
		return fail_errno(m, "cannot raise the effective capabilities");
	return 0;
}

int caps_drop_all(struct msg *m)
{
	const unsigned long locked = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
				     SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
				     SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
				     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	struct caps c;
	int cap;

	/* Both need CAP_SETPCAP, so they come before the sets are cleared. */
	if (prctl(PR_SET_SECUREBITS, locked, 0L, 0L, 0L) < 0)
		return fail_errno(m, "cannot lock the securebits");
	/* The kernel's last capability is wherever PR_CAPBSET_READ stops. */
	for (cap = 0; prctl(PR_CAPBSET_READ, (unsigned long)cap, 0L, 0L, 0L) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0L, 0L, 0L) < 0)
			return fail_errno(m, "cannot drop capability %d from the bounding set", cap);
	}
	if (errno != EINVAL)
		return fail_errno(m, "cannot read the bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) < 0)
		return fail_errno(m, "cannot clear the ambient capabilities");
	memset(&c, 0, sizeof c);
	if (caps_set(&c) < 0)
		return fail_errno(m, "cannot clear the capability sets");
	if (caps_get(&c) < 0)
		return fail_errno(m, "cannot read the capability sets");
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		if (c.data[i].effective || c.data[i].permitted || c.data[i].inheritable)
			return fail(m, "capabilities remain after dropping them all.");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return fail_errno(m, "cannot set no_new_privs");
	return 0;
}
