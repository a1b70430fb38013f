/* client.h - one WebSocket connection to a sandbox's vmd, in one event loop.
 *
 * The connection is opened only once vmd has proved it holds the VM's secret
 * (handshake.h); the secret itself is never sent. Frames are queued
 * and written only when the socket is writable; whole messages are reassembled and
 * handed to the caller. The caller may also have standard input read in the same
 * loop (exec). Nothing here knows what the frames mean: see exec.c and PROTOCOL.md.
 */
#ifndef VMCTL_CLIENT_H
#define VMCTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct client;

struct client_hooks {
	/* A whole message from vmd. */
	void (*frame)(struct client *c, const uint8_t *msg, size_t len, void *user);
	/* Data read from the adopted input fd (len 0: end of file). */
	void (*input)(struct client *c, const uint8_t *data, size_t len, void *user);
	/* client_wake() was called (from a signal handler, say). */
	void (*wake)(struct client *c, void *user);
	/* A queued frame was written; queued bytes remain (a sender refills from here). */
	void (*sent)(struct client *c, size_t queued, void *user);
	void *user;
};

/* Connect to 127.0.0.1:port and prove the secret both ways, within timeout_ms. NULL
 * with m when vmd cannot be reached, the service there does not prove it holds the
 * secret (HANDSHAKE_NOT_THIS_VM), or it does not answer in time. */
struct client *client_open(unsigned port, const char *secret, int timeout_ms,
			   const struct client_hooks *hooks, struct msg *m);
/* Read fd (standard input) in the loop; its data goes to hooks->input. */
int client_adopt_input(struct client *c, int fd, struct msg *m);
/* Give up (the run ends with a failure) unless client_stop() comes within ms. */
void client_deadline(struct client *c, int ms);
/* Give up when no message comes from vmd or goes to it for ms: the run then fails
 * with a sentence that says the sandbox sent nothing while `what` ("downloading X"). */
void client_idle(struct client *c, int ms, const char *what);
/* Queue a frame for sending; buf came from proto_frame_*() with LWS_PRE headroom and
 * passes to the client (freed after sending). */
int client_send(struct client *c, uint8_t *buf, size_t frame_len, struct msg *m);
/* Bytes queued and not yet written. */
size_t client_queued(const struct client *c);
/* Serve the loop until client_stop() or the connection ends; -1 with m when it ended
 * by failure (vmd went away). */
int client_run(struct client *c, struct msg *m);
void client_stop(struct client *c);
/* Make the loop call hooks->wake soon; async-signal-safe. */
void client_wake(struct client *c);
void client_close(struct client *c);

/* Connect, ping, wait for the pong: 0 when vmd answers; -1 with m when not, and
 * CLIENT_NOT_THIS_VM when what answered failed to prove it holds the secret. */
#define CLIENT_NOT_THIS_VM (-2)
int client_ping(unsigned port, const char *secret, int timeout_ms, struct msg *m);

/* Connect with secret and ask vmd to re-read and apply its identity from fw_cfg
 * (reload_identity): 0 once it said ok (it then closes the connection when the
 * identity's secret is a new one), -1 with m when vmd cannot be reached,
 * CLIENT_REFUSED with vmd's sentence when it answered with an error, and
 * CLIENT_NOT_THIS_VM as for client_ping. */
#define CLIENT_REFUSED (-3)
int client_reload_identity(unsigned port, const char *secret, int timeout_ms, struct msg *m);

#endif
