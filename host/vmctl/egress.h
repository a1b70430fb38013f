/* egress.h - the only way out of a sandbox VM: an HTTP proxy on the host, and the
 * address policy it enforces.
 *
 * QEMU's user network runs restrict=on: the guest reaches nothing but the forwarded
 * vmd port and, with vmctl start --internet or --allow, one address, EGRESS_ADDR,
 * whose every TCP connection QEMU hands to a new `vmctl egress` (guestfwd=...-cmd:)
 * with the connection on its stdin and stdout. That process speaks HTTP proxy
 * (CONNECT HOST:PORT and absolute http:// requests), resolves names itself and checks
 * every address it would connect to, so that neither the guest nor its DNS answers
 * decide where the host connects: the host itself, its loopback and private,
 * link-local and reserved ranges are refused, unless --allow names an address
 * literally (the user's own choice).
 */
#ifndef VMCTL_EGRESS_H
#define VMCTL_EGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Where the guest finds the proxy (an address of QEMU's 10.0.2.0/24 that is no one's). */
#define EGRESS_ADDR "10.0.2.100"
#define EGRESS_PORT 3128
#define EGRESS_MAX_ALLOW 32
/* Connections through the proxy one VM may hold open at once: each is a process on
 * the host, and the guest could otherwise start them without end. */
#define EGRESS_MAX_CONNECTIONS 64
#define EGRESS_HOST_MAX 253		/* a DNS name's longest text form */

/* One --allow HOST[:PORT]. */
struct egress_allow {
	char host[EGRESS_HOST_MAX + 1];	/* lower case, no trailing dot, no brackets */
	bool wildcard;			/* "*.DOMAIN": any name below DOMAIN (host) */
	int family;			/* AF_INET or AF_INET6 for a literal address, else 0 */
	unsigned char addr[16];		/* that address */
	unsigned port;			/* 0: any port */
};

struct egress_policy {
	bool internet;			/* --internet: any public address */
	struct egress_allow allow[EGRESS_MAX_ALLOW];	/* --allow: only these */
	int nallow;
};

/* What an address is, from the host's point of view. */
enum egress_class {
	EGRESS_PUBLIC,
	EGRESS_LOOPBACK,
	EGRESS_HOST,		/* one of the host's own addresses, or 10.0.2.2/.3 */
	EGRESS_PRIVATE,		/* 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, fec0::/10 */
	EGRESS_LINK_LOCAL,	/* 169.254/16, fe80::/10 */
	EGRESS_UNSPECIFIED,	/* 0/8, :: */
	EGRESS_MULTICAST,	/* 224/4, ff00::/8 */
	EGRESS_RESERVED,	/* documentation, benchmarking, 240/4, broadcast, unallocated */
};

/* The host's own addresses (getifaddrs), which the policy refuses as EGRESS_HOST. */
struct egress_own {
	int n;
	int family[64];
	unsigned char addr[64][16];
};

/* Parse one HOST[:PORT] of --allow: a host name, *.DOMAIN, an IPv4 address or an
 * IPv6 one (in brackets when a port follows). */
int egress_allow_parse(const char *text, struct egress_allow *out, struct msg *m);

/* Classify the address (4 or 16 bytes of family). own may be NULL. IPv4-mapped,
 * NAT64 and 6to4 IPv6 forms are classified by the IPv4 address inside. */
enum egress_class egress_classify(int family, const unsigned char *addr,
				  const struct egress_own *own);
/* The phrase for a class: "the host's loopback", "a private address", ... */
const char *egress_class_text(enum egress_class c);

/* Whether the policy lets a request name host:port at all (host as the request wrote
 * it, lower-cased, brackets off). 1 and *literal set when an --allow entry names this
 * very address (its class then does not matter); 0 with the sentence in m if not. */
int egress_permits(const struct egress_policy *p, const char *host, unsigned port,
		   bool *literal, struct msg *m);

/* Fill own from getifaddrs; on failure it stays empty but for what loopback covers. */
void egress_own_addresses(struct egress_own *own);

/* The command QEMU runs for each connection (guestfwd=...-cmd:), every word quoted:
 * SELF egress PORT --internet, or SELF egress PORT --allow A --allow B ... */
int egress_command(const char *self, unsigned port, bool internet, const char *const *allow,
		   int nallow, char *out, size_t size, struct msg *m);

/* One of the EGRESS_MAX_CONNECTIONS places of the VM on port, held while the returned
 * descriptor is open (an abstract socket of this host's: it goes with the process,
 * whoever QEMU runs as); -1 when all are taken. */
int egress_take_slot(unsigned port);

/* Serve one proxied connection: the request from in, the answer to out. 0 when it
 * was relayed, -1 when it was refused or failed (the client got the sentence). */
int egress_serve(const struct egress_policy *p, int in, int out);

#endif
