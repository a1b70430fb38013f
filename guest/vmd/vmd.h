/* vmd.h - the daemon's shared state and the pieces that talk to each other.
 *
 * One thread runs everything inside libwebsockets' event loop: the WebSocket
 * connections (server.c), the per-connection state and request handling
 * (session.c), and the processes (process.c), whose pipes, PTY masters and the
 * SIGCHLD signalfd are adopted into the same loop as raw file descriptors. So no
 * socket has two writers, and nothing needs a lock.
 */
#ifndef VMD_VMD_H
#define VMD_VMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libwebsockets.h>

#include "cli.h"
#include "proto.h"

/* Output bytes queued for a client above which vmd stops reading that client's
 * processes, and below which it starts again: memory stays bounded whatever the
 * client's speed, and the pipes make the processes wait. */
#define OUTQ_HIGH (2u << 20)
#define OUTQ_LOW (512u << 10)
/* Output bytes queued above which vmd also stops reading the client's socket:
 * replies to requests are not paused like process output, so a client that sends
 * and never reads would otherwise grow the queue without bound. */
#define OUTQ_HARD (16u << 20)
/* Standard-input bytes queued for a client's processes above which vmd stops
 * reading that client's socket (TCP then slows the client), and below which it
 * reads again. */
#define STDINQ_HIGH (4u << 20)
#define STDINQ_LOW (1u << 20)
/* Bytes read from a pipe or PTY at once, and so the most data in one message. */
#define READ_CHUNK (64u << 10)
/* After a process is reaped, how long vmd waits for its output to reach end of
 * file before it closes the pipes itself: a background grandchild that inherited
 * them could otherwise hold the exit back for ever. Whatever the pipes hold at
 * that moment is still sent. */
#define EXIT_GRACE_MS 500
/* Exited processes a connection remembers (for is_running) before it forgets the
 * oldest. */
#define EXITED_KEPT 1024
/* fs_read: bytes read from the file at once (so the most data in one message),
 * and the output queue below which vmd reads the next chunk: a download of any
 * size costs about FSREAD_QUEUE + one chunk of memory. */
#define FSREAD_CHUNK (1u << 20)
#define FSREAD_QUEUE (4u << 20)
/* Downloads waiting and uploads open on one connection at most: each holds a
 * descriptor, and a client must not be able to take them all. */
#define FILES_OPEN_MAX 64
/* Where sandbox-helper makes each sandbox's cgroup leaf, named by the helper's pid
 * (sandbox/cgroup.h; guest/init mounts cgroup2 at /sys/fs/cgroup). */
#define SANDBOX_CGROUP "/sys/fs/cgroup/sandbox-helper"
/* The default sandbox user's home, under the home root: it needs no session. */
#define SANDBOX_HOME_NAME "sandbox"

struct session;
struct process;

/* What an adopted descriptor is, kept as the wsi's opaque user data. */
enum fd_kind { FD_STDOUT, FD_STDERR, FD_STDIN, FD_PTY, FD_SIGNAL };

struct fdref {
	enum fd_kind kind;
	struct process *p;	/* NULL for FD_SIGNAL */
	struct lws *wsi;	/* NULL once closed */
	int fd;
	bool closing;		/* vmd closes it: the close callback does nothing */
};

/* A queued outgoing message: LWS_PRE spare bytes, then the frame. */
struct out_msg {
	struct out_msg *next;
	uint8_t *buf;
	size_t len;
};

struct vmd {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	const char *sandbox;
	const char *home_root;		/* session homes live here (/home) */
	const char *bin_dir;		/* binary_install writes here */
	const char *share_root;		/* the host's shares are mounted under it */
	bool own_uids;			/* session uids are vmd's alone (the guest) */
	char secret[VMD_SECRET_LEN + 1];
	/* The fw_cfg item of --identity (reload_identity reads it again), or NULL. */
	const char *identity;
	/* Bumped when reload_identity changes the secret: a connection whose proofs were
	 * made with an older one is served nothing (server.c). */
	unsigned secret_generation;
	bool stop;
	struct session *sessions;	/* every open connection */
	struct process *orphans;	/* killed at disconnect, not yet reaped */
	struct fdref sigfd;
};

extern struct vmd vmd;

/* server.c */
/* Listen as o says, with sigfd (the signalfd) in the loop; max_fds bounds the
 * descriptors the loop can hold. */
int server_start(const struct vmd_options *o, int sigfd, unsigned max_fds);
/* Kill every process, close every connection, end the loop. */
void server_stop(void);
/* Adopt fd into the loop as ref's descriptor; -1 (fd left open) on failure. */
int server_adopt(struct fdref *ref, int fd);
/* Close an adopted descriptor from outside its own callbacks. */
void server_close_fd(struct fdref *ref);
/* A whole message on a connection not yet authenticated (NULL: one that cannot be
 * a frame): the client's proof makes it so; anything else closes it. */
void server_authenticate(struct session *s, const uint8_t *msg, size_t len);

/* session.c */
struct session *session_new(struct lws *wsi);
/* Let go of every process of s, as process_abandon() does for each that runs. */
void session_drop_processes(struct session *s);
void session_free(struct session *s);
void session_receive(struct session *s, const void *in, size_t len, bool first,
		     bool final, bool binary);
int session_writeable(struct session *s);
/* Queue a frame built with LWS_PRE headroom; takes buf. */
void session_send(struct session *s, uint8_t *buf, size_t len);
void session_send_error(struct session *s, const cJSON *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Send the error, then close the connection; nothing it sends is read any more. */
void session_close_with_error(struct session *s, const cJSON *id, int code,
			      const char *message);
bool session_output_paused(const struct session *s);
/* Account standard input queued (+) or written (-) for the client's processes. */
void session_stdin_account(struct session *s, ssize_t delta);

/* users.c: the users ("sessions" in the protocol), which belong to vmd */
/* Create the default user's home; a failure is reported, not fatal. */
void users_init(void);
/* The home of uid's session, the default home for LAUNCH_SANDBOX_ID without one,
 * else NULL. */
const char *users_home(uid_t uid);
/* The home of uid's session only (load_state), else NULL. */
const char *users_session_home(uid_t uid);
void users_create(struct session *s, const struct proto_request *req);
/* session_destroy: answered once the user's processes are gone (see users.c). */
void users_destroy(struct session *s, const struct proto_request *req);
/* True while uid's session_destroy is under way: it takes no new commands. */
bool users_dying(uid_t uid);
/* The connection is closing: a destroy it asked for goes on without an answer. */
void users_session_end(struct session *s);

/* session.c: reload_identity (setup.c reads and applies it) */
void session_reload_identity(struct session *s, const struct proto_request *req);

/* files.c: binary_install, fs_read, load_state, file_put/file_data/file_end */
void files_request(struct session *s, struct proto_request *req);
/* Read more of the connection's downloads while its queue has room. */
void files_pump(struct session *s);
/* The connection is closing: abandon its downloads and uploads. */
void files_session_end(struct session *s);

/* mounts.c: mount and unmount of the 9p shares */
/* The host's 9p shares are mounted under vmd.share_root (setup.c mounts each at
 * /mnt/TAG before vmd listens; mount requests go beneath it too). Sandboxed commands
 * see it as it is, each share with its own read-only flag. */
void mounts_request(struct session *s, const struct proto_request *req);

/* Replies several files send. */
void send_ok(struct session *s, const cJSON *id);
/* Queue obj as a frame of type; frees obj. */
void session_send_json(struct session *s, uint8_t type, cJSON *obj);

/* process.c */
/* 32 random hex digits: unguessable handles for processes and uploads. */
void random_handle(char out[33]);
/* SIGKILL (whole groups) every unreaped process vmd started as uid, from any
 * connection; true when none is left. */
bool process_uid_gone(uid_t uid);
struct process *process_spawn(struct session *s, struct proto_request *req);
struct process *process_find(struct session *s, const char *handle);
void process_request(struct session *s, struct process *p, struct proto_request *req);
/* Pause or resume reading the process's output. */
void process_set_paused(struct process *p, bool paused);
/* Disconnect: kill the process group, stop reading, reap later. */
void process_abandon(struct process *p);
void process_free(struct process *p);
bool process_finished(const struct process *p);
void process_list_link(struct process **head, struct process *p);
void process_list_unlink(struct process **head, struct process *p);
/* fd events from the loop */
int process_fd_event(struct fdref *ref, int reason);
/* SIGCHLD: reap every exited child. */
void process_reap(void);
int process_signals_init(void);
/* Number of processes not yet reaped, for shutdown. */
size_t process_live_count(void);

struct process {
	struct process *prev, *next;	/* in its session's list, or vmd.orphans */
	struct session *s;		/* NULL once abandoned */
	char handle[33];
	cJSON *id;			/* the spawn's id, echoed in its messages */
	char *id_json;			/* the same as JSON text, for the data path */
	pid_t pid;
	uid_t run_uid;			/* who the command runs as (session_destroy) */
	bool sandboxed;			/* run by the helper */
	bool oom;			/* its sandbox ran out of memory (exit's reason) */
	bool reaped;
	int status;			/* wait status once reaped */
	bool pty;
	int pty_slave;			/* vmd's own hold on the slave, till reaped */
	bool paused;
	struct fdref out, err, in;	/* a PTY uses out for both directions */
	bool stdin_closed;		/* by close_stdin, by the child, or at exit */
	bool close_after_flush;		/* close_stdin arrived with input queued */
	struct out_msg *inq, *inq_tail;	/* standard input not yet written */
	size_t inq_off, inq_bytes;
	lws_sorted_usec_list_t rearm;	/* asks for room to write stdin again */
	bool exit_sent;
	bool grace_armed;
	lws_sorted_usec_list_t grace;
	struct process *live_next;	/* in the list of unreaped processes */
};

#endif
