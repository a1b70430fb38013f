/* net.h - the sandbox's network: a new namespace holds only lo, and lo starts down. */
#ifndef SANDBOX_NET_H
#define SANDBOX_NET_H

#include "util.h"

/* Bring lo up in the current network namespace, so that 127.0.0.1 and ::1 work. */
int net_loopback_up(struct msg *m);

#endif
