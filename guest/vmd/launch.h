/* launch.h - what a spawn request turns into: the argv, environment and identity
 * of the program vmd forks and executes. Pure (no fork, no lws) so it is tested
 * alone.
 *
 * Sandboxed (the default): argv is
 *   SANDBOX [--uid U] [--gid G] [--network] [--cwd C] -- command args...
 * and the helper, not vmd, switches identity and directory. Raw (the request's
 * "raw", or vmd started with --sandbox none): argv is command args..., and vmd's
 * child changes directory and identity itself before exec.
 *
 * The environment is explicit, never vmd's own: PATH, HOME, TERM=xterm-256color
 * with a PTY; then the request's env, which may replace any of them. A sandboxed
 * command gets it through the helper's own environment.
 *
 * HOME: the user's home when vmd gives one (a session's, or the default sandbox
 * user's), which is also the default directory and, sandboxed, is bound into the
 * sandbox read-write (--bind H:H) and is the only home that is; else /root for
 * root and /tmp for anyone else, /tmp being the one writable directory a sandbox
 * is sure to have.
 */
#ifndef VMD_LAUNCH_H
#define VMD_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

#include "proto.h"
#include "util.h"

/* The id sandbox-helper runs a command as when not told (its --uid default). */
#define LAUNCH_SANDBOX_ID 1000

#define LAUNCH_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct launch {
	char **argv;		/* NULL-terminated; argv[0] is what is executed */
	char **envp;		/* NULL-terminated, "NAME=value" */
	const char *cwd;	/* raw only: chdir() there first; NULL to stay */
	bool set_uid, set_gid;	/* raw only: switch to uid/gid first */
	uid_t uid;
	gid_t gid;
	uid_t tty_uid;		/* who the command runs as, so who owns its terminal */
	gid_t tty_gid;
	bool sandboxed;
	bool bad_params;	/* launch_build failed on the request's values (-32602) */
};

/* Build l from a decoded spawn request; sandbox is the helper's path or NULL when
 * vmd runs everything directly; home is the home of the user the command runs as,
 * or NULL; shares is the folder the host's shares are mounted under (bound into
 * the sandbox as it is, each share keeping its own read-only flag), or NULL.
 * -1 with a message when out of memory or the request is refused. */
int launch_build(const struct proto_request *req, const char *sandbox, const char *home,
		 const char *shares, struct launch *l, struct msg *m);
void launch_free(struct launch *l);
/* The VM's HTTP proxy, "ADDR:PORT" from its identity ("" for none): every command
 * launched from now on gets http_proxy and the like set to http://ADDR:PORT, and a
 * sandboxed one the guest's network. -1 (and no proxy) when it is too long. */
int launch_set_proxy(const char *addr_port);

#endif
