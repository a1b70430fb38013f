/* test_vmd_e2e.c - vmd end to end, on this host, as TAP.
 *
 * Starts build/guest/vmd on a free loopback port with a temporary secret and
 * --sandbox none (every command runs directly), drives it with wsclient, and
 * checks the protocol's promises: exit codes and signals, stdin and its end,
 * separate streams, byte-exact binary output, concurrency, kill, is_running, PTY
 * resize, every bad-frame answer (while another client keeps working), the
 * secret, and that a disconnect leaves no process, zombie or descriptor behind.
 * A second vmd runs with tests/vmd/fake-sandbox to check the helper's command line.
 *
 * usage: test_vmd_e2e [VMD [FAKE_SANDBOX]]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "wsclient.h"

static const char *vmd_path = "build/guest/vmd";
static const char *fake_sandbox = "tests/vmd/fake-sandbox";
static char secret[65];
static char secret_file[64];
static char log_file[64];	/* vmd's stderr, shown when a case fails */
static char home_root[64];	/* vmd's --home-root, so the host's /home is not used */
static char share_root[64];	/* vmd's --share-root, so the host's /mnt is not used */
static char bin_dir[64];	/* vmd's --bin-dir, for binary_install */
static int ncase, nfailed;

/* --- TAP ------------------------------------------------------------------------- */

static char why[4096];

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	size_t n = strlen(why);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why + n, sizeof why - n, fmt, ap);
	va_end(ap);
	n = strlen(why);
	if (n + 1 < sizeof why) {
		why[n] = '\n';
		why[n + 1] = '\0';
	}
}

#define CHECK(cond, ...) ((cond) ? true : (note(__VA_ARGS__), false))

static void case_end(const char *name)
{
	char *line, *save = NULL;

	ncase++;
	printf("%s %d - %s\n", why[0] ? "not ok" : "ok", ncase, name);
	if (why[0])
		nfailed++;
	for (line = strtok_r(why, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
	why[0] = '\0';
	fflush(stdout);
}

/* --- vmd ----------------------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		port = 0;
	else
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

struct daemon {
	pid_t pid;
	int port;
};

/* Start vmd with the given --sandbox; wait until it answers. */
static int start_vmd(struct daemon *d, const char *sandbox)
{
	char port[16];

	d->port = free_port();
	snprintf(port, sizeof port, "%d", d->port);
	d->pid = fork();
	if (d->pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		int log = open(log_file, O_WRONLY | O_APPEND);

		dup2(null, 1);
		dup2(log, 2);
		/* an environment variable that must not reach the commands */
		setenv("VMD_TEST_LEAK", "1", 1);
		/* A vmd built with ASan keeps freed memory in quarantine (256 MiB by
		 * default), which the RSS bounds would count; a small one still catches
		 * use after free of recent blocks. Later options override earlier ones. */
		char asan[512];
		const char *had = getenv("ASAN_OPTIONS");

		snprintf(asan, sizeof asan, "%s%squarantine_size_mb=8", had ? had : "",
			 had && had[0] ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
		execl(vmd_path, vmd_path, "--port", port, "--secret-file", secret_file,
		      "--sandbox", sandbox, "--bind", "127.0.0.1", "--home-root", home_root,
		      "--bin-dir", bin_dir, "--share-root", share_root, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (http_status_of(d->port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			return 0;
		sleep_ms(10);
	}
	return -1;
}

static int stop_vmd(struct daemon *d)
{
	int status;

	kill(d->pid, SIGTERM);
	waitpid(d->pid, &status, 0);
	return status;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof path, "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Children of pid, zombies included. */
static int count_children(pid_t pid)
{
	struct dirent *e;
	int n = 0;
	DIR *dir = opendir("/proc");

	while (dir && (e = readdir(dir))) {
		char path[300], line[256];
		FILE *f;

		snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "PPid:", 5) && atoi(line + 5) == pid)
				n++;
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return n;
}

static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, field, strlen(field)))
			v = atol(line + strlen(field) + 1);
	if (f)
		fclose(f);
	return v;
}

/* --- a client and its processes ------------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	b->p = realloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

struct proc {
	int id;
	char handle[33];
	long pid;
	bool spawned, exited;
	int code, sig;
	int error_code;
	char error[256];
	struct buf out, err;
	bool late_output;	/* output after exit: must never happen */
};

struct client {
	struct ws w;
	struct proc procs[64];
	size_t nprocs;
	int next_id;
};

static int client_open(struct client *c, int port)
{
	int status;

	memset(c, 0, sizeof *c);
	c->next_id = 1000;
	return ws_connect(&c->w, port, secret, &status);
}

static void client_close(struct client *c)
{
	ws_close(&c->w);
	for (size_t i = 0; i < c->nprocs; i++) {
		free(c->procs[i].out.p);
		free(c->procs[i].err.p);
	}
	c->nprocs = 0;
}

static struct proc *by_id(struct client *c, const cJSON *id)
{
	for (size_t i = 0; i < c->nprocs; i++)
		if (cJSON_IsNumber(id) && id->valuedouble == c->procs[i].id)
			return &c->procs[i];
	return NULL;
}

/* Route a reply that belongs to a process; false when it is not one. */
static bool route(struct client *c, struct proto_reply *r)
{
	struct proc *p = by_id(c, r->id);

	if (!p)
		return false;
	switch (r->type) {
	case PROTO_SPAWNED:
		p->spawned = true;
		p->pid = r->pid;
		snprintf(p->handle, sizeof p->handle, "%s", r->handle);
		return true;
	case PROTO_STDOUT:
	case PROTO_STDERR:
		if (p->exited)
			p->late_output = true;
		buf_add(r->type == PROTO_STDOUT ? &p->out : &p->err, r->data, r->data_len);
		return true;
	case PROTO_EXIT:
		p->exited = true;
		p->code = r->code;
		p->sig = r->signal;
		return true;
	case PROTO_ERROR:
		p->error_code = r->code;
		snprintf(p->error, sizeof p->error, "%s", r->message);
		p->exited = true;	/* never started: nothing more will come */
		return true;
	default:
		return false;
	}
}

/* Wait for the reply to request id (routing process messages meanwhile). */
static int wait_reply(struct client *c, int id, struct proto_reply *r, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct proto_error e;

	while (now_ms() < deadline) {
		int got = ws_recv_reply(&c->w, r, (int)(deadline - now_ms()), &e);

		if (got < 0) {
			note("no reply to %d: %s", id, e.message);
			return -1;
		}
		if (!got)
			break;
		if (cJSON_IsNumber(r->id) && r->id->valuedouble == id)
			return 0;
		if (id == -1 && cJSON_IsNull(r->id))
			return 0;	/* the reply to a request without a readable id */
		route(c, r);
		proto_reply_free(r);
	}
	note("no reply to %d in time", id);
	return -1;
}

/* Spawn with the given extra JSON fields; returns the proc (spawned or failed). */
static struct proc *spawn(struct client *c, const char *fields)
{
	struct proc *p = &c->procs[c->nprocs++];
	char json[8192];

	memset(p, 0, sizeof *p);
	p->id = (int)c->nprocs;
	snprintf(json, sizeof json, "{\"id\":%d,%s}", p->id, fields);
	ws_send_frame(&c->w, PROTO_SPAWN, json);
	for (long long end = now_ms() + 5000; !p->spawned && !p->error_code && now_ms() < end;) {
		struct proto_reply r;
		struct proto_error e;

		if (ws_recv_reply(&c->w, &r, 100, &e) > 0) {
			route(c, &r);
			proto_reply_free(&r);
		}
	}
	return p;
}

/* Pump messages until every given process has exited. */
static bool wait_exits(struct client *c, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		bool all = true;
		struct proto_reply r;
		struct proto_error e;

		for (size_t i = 0; i < c->nprocs; i++)
			all = all && c->procs[i].exited;
		if (all)
			return true;
		if (now_ms() >= deadline)
			return false;
		int got = ws_recv_reply(&c->w, &r, (int)(deadline - now_ms()), &e);

		if (got < 0) {
			note("while waiting for exits: %s", e.message);
			return false;
		}
		if (got > 0) {
			if (!route(c, &r))
				note("unexpected reply type 0x%02X", r.type);
			proto_reply_free(&r);
		}
	}
}

/* Send a request on a process; returns its id. */
__attribute__((format(printf, 4, 5)))
static int request(struct client *c, uint8_t type, const struct proc *p, const char *fmt, ...)
{
	char extra[2048] = "", json[4096];
	int id = c->next_id++;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(extra, sizeof extra, fmt, ap);
	va_end(ap);
	snprintf(json, sizeof json, "{\"id\":%d,\"handle\":\"%s\"%s%s}", id,
		 p ? p->handle : "", extra[0] ? "," : "", extra);
	ws_send_frame(&c->w, type, json);
	return id;
}

/* Expect an error reply with code and message to request id (-1: id null). */
static void expect_error(struct client *c, int id, int code, const char *message)
{
	struct proto_reply r;

	if (wait_reply(c, id, &r, 5000) < 0)
		return;
	CHECK(r.type == PROTO_ERROR, "reply type 0x%02X, expected error", r.type);
	CHECK(r.code == code, "error code %d, expected %d", r.code, code);
	CHECK(r.message && !strcmp(r.message, message), "message \"%s\"\n expected \"%s\"",
	      r.message ? r.message : "", message);
	proto_reply_free(&r);
}

static void expect_ok(struct client *c, int id)
{
	struct proto_reply r;

	if (wait_reply(c, id, &r, 5000) < 0)
		return;
	CHECK(r.type == PROTO_OK, "reply type 0x%02X (%s), expected ok", r.type,
	      r.type == PROTO_ERROR ? r.message : "");
	proto_reply_free(&r);
}

static void send_stdin(struct client *c, const struct proc *p, const void *data, size_t n)
{
	char *b64 = malloc(proto_b64_len(n) + 1);
	char *json = malloc(proto_b64_len(n) + 128);

	b64[proto_b64_encode(data, n, b64)] = '\0';
	sprintf(json, "{\"id\":%d,\"handle\":\"%s\",\"data\":\"%s\"}", c->next_id++,
		p->handle, b64);
	ws_send_frame(&c->w, PROTO_STDIN, json);
	free(b64);
	free(json);
}

/* --- cases ---------------------------------------------------------------------------------- */

static struct daemon vmd;

/* The next reply on a raw connection is an error with code and message, and then
 * the connection closes. */
static void expect_error_then_close(struct ws *w, int code, const char *message)
{
	struct proto_reply r;
	struct proto_error e;
	uint8_t *msg;
	size_t len;
	int op;

	if (!CHECK(ws_recv_reply(w, &r, 5000, &e) == 1, "no reply (%s)", e.message))
		return;
	CHECK(r.type == PROTO_ERROR && r.code == code, "reply type 0x%02X code %d, expected "
	      "error %d", r.type, r.code, code);
	CHECK(r.message && !strcmp(r.message, message), "message \"%s\"\n expected \"%s\"",
	      r.message ? r.message : "", message);
	proto_reply_free(&r);
	CHECK(ws_recv(w, &msg, &len, &op, 5000) == -1, "the connection stayed open");
}

static void test_refused(void)
{
	static const char not_proved[] = "a connection must first prove it holds the VM's "
					 "secret (an auth frame); nothing is served before that.";
	static const char no_match[] = "auth: the proof does not match; this client does not "
				       "hold the VM's secret.";
	struct ws w;
	struct ws_hello h, h2;
	int status;
	char wrong[65], nc[65], hdr[256], want[65], proof[65], marker[80];
	struct stat st;

	CHECK(ws_upgrade(&w, vmd.port, NULL, &h) < 0 && h.status == 401,
	      "no nonce: HTTP status %d, expected 401", h.status);
	snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", secret);
	CHECK(ws_upgrade(&w, vmd.port, hdr, &h) < 0 && h.status == 401,
	      "the secret as a Bearer token: HTTP status %d, expected 401", h.status);
	CHECK(ws_upgrade(&w, vmd.port, "X-Vmd-Nonce: 1234\r\n", &h) < 0 && h.status == 401,
	      "a short nonce: HTTP status %d, expected 401", h.status);
	case_end("an upgrade without a nonce is refused with 401, the secret as a Bearer "
		 "token included");

	memcpy(wrong, secret, sizeof wrong);
	wrong[63] = wrong[63] == 'a' ? 'b' : 'a';
	auth_nonce(nc);
	snprintf(hdr, sizeof hdr, "X-Vmd-Nonce: %s\r\n", nc);
	if (CHECK(ws_upgrade(&w, vmd.port, hdr, &h) == 0, "status %d, expected 101", h.status)) {
		ws_close(&w);
		CHECK(auth_hex_valid(h.nonce, strlen(h.nonce)) && strcmp(h.nonce, nc),
		      "vmd's nonce \"%s\"", h.nonce);
		auth_proof(secret, AUTH_SERVER, nc, h.nonce, want);
		CHECK(auth_hex_valid(h.proof, strlen(h.proof)) && auth_equal(h.proof, want),
		      "vmd's proof \"%s\", expected \"%s\"", h.proof, want);
		CHECK(!strstr(h.proof, secret) && !strstr(h.nonce, secret), "the secret is sent");
	}
	if (CHECK(ws_upgrade(&w, vmd.port, hdr, &h2) == 0, "status %d, expected 101",
		  h2.status)) {
		ws_close(&w);
		CHECK(strcmp(h.nonce, h2.nonce) && strcmp(h.proof, h2.proof),
		      "the same nonce got the same answer twice");
	}
	CHECK(ws_connect(&w, vmd.port, wrong, &status) < 0 && status == 101,
	      "with another secret, vmd's proof checked out (status %d)", status);
	case_end("vmd answers each upgrade with a fresh nonce and a proof that checks out "
		 "under its secret only");

	if (ws_upgrade(&w, vmd.port, hdr, &h) == 0) {
		auth_proof(wrong, AUTH_CLIENT, nc, h.nonce, proof);
		ws_send_proof(&w, proof);
		expect_error_then_close(&w, PROTO_E_AUTH, no_match);
		ws_close(&w);
	} else {
		note("status %d, expected 101", h.status);
	}
	case_end("a client without the secret gets an exact error and a closed connection");

	snprintf(marker, sizeof marker, "/tmp/test_vmd-preauth-%d", (int)getpid());
	if (ws_upgrade(&w, vmd.port, hdr, &h) == 0) {
		char json[256];

		snprintf(json, sizeof json, "{\"id\":1,\"command\":\"/bin/sh\",\"args\":[\"-c\","
			 "\"echo ran > %s\"]}", marker);
		ws_send_frame(&w, PROTO_SPAWN, json);
		expect_error_then_close(&w, PROTO_E_AUTH, not_proved);
		ws_close(&w);
		usleep(200 * 1000);
		CHECK(stat(marker, &st) < 0, "the spawn before the proof ran (%s exists)", marker);
		unlink(marker);
	} else {
		note("status %d, expected 101", h.status);
	}
	case_end("a request before the proof is refused, runs nothing, and closes the "
		 "connection");

	/* The right proof for one connection, replayed on the next with the same nonce:
	 * vmd's nonce differs, so the proof does not hold there. */
	if (ws_upgrade(&w, vmd.port, hdr, &h) == 0) {
		struct proto_reply r;
		struct proto_error e;

		auth_proof(secret, AUTH_CLIENT, nc, h.nonce, proof);
		ws_send_proof(&w, proof);
		ws_send_frame(&w, PROTO_PING, "{\"id\":5}");
		CHECK(ws_recv_reply(&w, &r, 5000, &e) == 1 && r.type == PROTO_PONG,
		      "the first connection got no pong");
		proto_reply_free(&r);
		ws_close(&w);
		if (CHECK(ws_upgrade(&w, vmd.port, hdr, &h) == 0, "second upgrade: status %d",
			  h.status)) {
			ws_send_proof(&w, proof);
			expect_error_then_close(&w, PROTO_E_AUTH, no_match);
			ws_close(&w);
		}
	} else {
		note("status %d, expected 101", h.status);
	}
	case_end("a proof replayed on a new connection opens nothing");

	/* One that upgrades and then says nothing is closed after 10 s. */
	if (ws_upgrade(&w, vmd.port, hdr, &h) == 0) {
		struct timespec t0, t1;
		uint8_t *msg;
		size_t len;
		int op;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(ws_recv(&w, &msg, &len, &op, 20000) == -1, "a message came instead");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		CHECK(t1.tv_sec - t0.tv_sec >= 9 && t1.tv_sec - t0.tv_sec <= 13,
		      "closed after %ld s, expected 10", (long)(t1.tv_sec - t0.tv_sec));
		ws_close(&w);
	} else {
		note("status %d, expected 101", h.status);
	}
	case_end("a connection that proves nothing is closed after 10 s");

	char req[512];

	snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
		 secret);
	status = http_status_of(vmd.port, req);
	CHECK(status == 401, "plain HTTP with the secret: status %d, expected 401", status);
	status = http_status_of(vmd.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK(status == 401, "plain HTTP without it: status %d, expected 401", status);
	case_end("plain HTTP gets nothing: 401, with the secret or without");
}

static void test_ping(struct client *c)
{
	struct proto_reply r;

	ws_send_frame(&c->w, PROTO_PING, "{\"id\":\"p1\"}");
	if (ws_recv_reply(&c->w, &r, 5000, &(struct proto_error){ 0 }) > 0) {
		CHECK(r.type == PROTO_PONG, "type 0x%02X", r.type);
		CHECK(cJSON_IsString(r.id) && !strcmp(r.id->valuestring, "p1"), "id not echoed");
		proto_reply_free(&r);
	} else {
		note("no pong");
	}
	ws_send_frame(&c->w, PROTO_PING, "{}");
	if (ws_recv_reply(&c->w, &r, 5000, &(struct proto_error){ 0 }) > 0) {
		CHECK(r.type == PROTO_PONG && cJSON_IsNull(r.id), "pong without id: not null");
		proto_reply_free(&r);
	} else {
		note("no pong");
	}
	case_end("ping gets pong with its id, or null");
}

static bool is_hex32(const char *h)
{
	if (strlen(h) != 32)
		return false;
	for (int i = 0; i < 32; i++)
		if (!strchr("0123456789abcdef", h[i]))
			return false;
	return true;
}

static void test_exit_codes(struct client *c)
{
	struct proc *p = spawn(c, "\"command\":\"true\"");

	CHECK(p->spawned && p->pid > 0 && is_hex32(p->handle), "spawned: pid %ld handle %s",
	      p->pid, p->handle);
	wait_exits(c, 5000);
	CHECK(p->exited && p->code == 0 && p->sig == 0, "true: code %d signal %d", p->code,
	      p->sig);
	case_end("true: spawned with a pid and a 32-hex-digit handle, exits 0");

	p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\",\"exit 7\"]");
	wait_exits(c, 5000);
	CHECK(p->code == 7 && p->sig == 0, "code %d signal %d", p->code, p->sig);
	case_end("sh -c 'exit 7' exits 7");

	p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\",\"kill -9 $$\"]");
	wait_exits(c, 5000);
	CHECK(p->code == 137 && p->sig == 9, "code %d signal %d", p->code, p->sig);
	case_end("a process killed by signal 9 exits with code 137 and signal 9");
	client_close(c);
	client_open(c, vmd.port);
}

static void test_streams(struct client *c)
{
	struct proc *p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\","
			       "\"echo out; echo err >&2; echo out2\"]");

	wait_exits(c, 5000);
	CHECK(p->out.len == 9 && !memcmp(p->out.p, "out\nout2\n", 9), "stdout \"%s\"",
	      p->out.p ? (char *)p->out.p : "");
	CHECK(p->err.len == 4 && !memcmp(p->err.p, "err\n", 4), "stderr \"%s\"",
	      p->err.p ? (char *)p->err.p : "");
	CHECK(!p->late_output, "output after exit");
	case_end("stdout and stderr arrive separately, before exit");
	client_close(c);
	client_open(c, vmd.port);
}

static void test_stdin(struct client *c)
{
	struct proc *p = spawn(c, "\"command\":\"cat\"");
	int id;

	send_stdin(c, p, "hello\n", 6);
	send_stdin(c, p, "", 0);
	send_stdin(c, p, "world\n", 6);
	id = request(c, PROTO_CLOSE_STDIN, p, "%s", "");
	expect_ok(c, id);
	wait_exits(c, 5000);
	CHECK(p->exited && p->code == 0, "cat: exited %d code %d", p->exited, p->code);
	CHECK(p->out.len == 12 && !memcmp(p->out.p, "hello\nworld\n", 12), "stdout \"%s\"",
	      p->out.p ? (char *)p->out.p : "");
	case_end("stdin reaches cat, close_stdin ends it, cat exits 0");

	id = request(c, PROTO_STDIN, p, "\"data\":\"aGk=\"");
	expect_error(c, id, PROTO_E_EXITED, "the process has already exited.");
	id = request(c, PROTO_KILL, p, "%s", "");
	expect_error(c, id, PROTO_E_EXITED, "the process has already exited.");
	id = request(c, PROTO_CLOSE_STDIN, p, "%s", "");
	expect_error(c, id, PROTO_E_EXITED, "the process has already exited.");
	case_end("stdin, kill and close_stdin after exit get -32003");

	p = spawn(c, "\"command\":\"sleep\",\"args\":[\"1000\"]");
	id = request(c, PROTO_CLOSE_STDIN, p, "%s", "");
	expect_ok(c, id);
	id = request(c, PROTO_STDIN, p, "\"data\":\"aGk=\"");
	expect_error(c, id, PROTO_E_EXITED, "the standard input of the process is closed.");
	id = request(c, PROTO_CLOSE_STDIN, p, "%s", "");
	expect_error(c, id, PROTO_E_EXITED, "the standard input of the process is closed.");
	id = request(c, PROTO_KILL, p, "\"signal\":9");
	expect_ok(c, id);
	wait_exits(c, 5000);
	case_end("stdin after close_stdin gets -32003");
	client_close(c);
	client_open(c, vmd.port);
}

static uint8_t *random_file(const char *path, size_t n)
{
	uint8_t *data = malloc(n);
	int fd = open("/dev/urandom", O_RDONLY);

	for (size_t got = 0; got < n;)
		got += (size_t)read(fd, data + got, n - got);
	close(fd);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	(void)!write(fd, data, n);
	close(fd);
	return data;
}

static void test_binary(struct client *c)
{
	const size_t n = 10u << 20;
	char path[] = "/tmp/test_vmd-bin-XXXXXX", fields[256];
	int fd = mkstemp(path);
	uint8_t *data;
	struct proc *p;

	close(fd);
	data = random_file(path, n);
	snprintf(fields, sizeof fields, "\"command\":\"cat\",\"args\":[\"%s\"]", path);
	p = spawn(c, fields);
	wait_exits(c, 30000);
	CHECK(p->code == 0, "cat exits %d", p->code);
	CHECK(p->out.len == n && !memcmp(p->out.p, data, n), "got %zu bytes, expected %zu%s",
	      p->out.len, n, p->out.len == n ? " (they differ)" : "");
	case_end("a 10 MiB binary output arrives byte for byte");

	/* the other way, through stdin, with the reply streaming back at once */
	p = spawn(c, "\"command\":\"cat\"");
	for (size_t off = 0; off < n; off += 256u << 10)
		send_stdin(c, p, data + off, 256u << 10);
	expect_ok(c, request(c, PROTO_CLOSE_STDIN, p, "%s", ""));
	wait_exits(c, 30000);
	CHECK(p->out.len == n && !memcmp(p->out.p, data, n), "echoed %zu bytes of %zu",
	      p->out.len, n);
	case_end("10 MiB through stdin comes back byte for byte");

	/* A client that does not read: vmd holds a bounded amount, then catches up.
	 * 40 MiB is 53 MiB of messages; vmd's queue stops at 2 MiB (the bound also
	 * leaves room for a vmd built with ASan, whose allocator keeps more). */
	const size_t big = 40u << 20;
	long before = status_kib(vmd.pid, "VmRSS:");
	uint8_t *zeros = calloc(1, big);

	p = spawn(c, "\"command\":\"head\",\"args\":[\"-c\",\"41943040\",\"/dev/zero\"]");
	sleep_ms(1000);
	long during = status_kib(vmd.pid, "VmRSS:");

	wait_exits(c, 30000);
	CHECK(during - before < 24576, "vmd's RSS grew by %ld KiB while the client did not read",
	      during - before);
	CHECK(p->code == 0 && p->out.len == big && !memcmp(p->out.p, zeros, big),
	      "got %zu bytes of %zu", p->out.len, big);
	free(zeros);
	case_end("a client that stops reading costs vmd < 24 MiB (not the 53 MiB it has "
		 "coming), then gets every byte");
	unlink(path);
	free(data);
	client_close(c);
	client_open(c, vmd.port);
}

static void test_concurrent(struct client *c)
{
	struct client more[3];
	char fields[256];
	bool good = true;

	for (int i = 0; i < 8; i++) {
		snprintf(fields, sizeof fields, "\"command\":\"sh\",\"args\":[\"-c\","
			 "\"sleep 0.2; echo %d; exit %d\"]", i, i);
		spawn(c, fields);
	}
	CHECK(wait_exits(c, 10000), "not all exited");
	for (int i = 0; i < 8; i++) {
		struct proc *p = &c->procs[i];
		char want[8];

		snprintf(want, sizeof want, "%d\n", i);
		good = good && p->code == i && p->out.p && !strcmp((char *)p->out.p, want);
	}
	CHECK(good, "a process got another's output or code");
	case_end("8 concurrent processes on one connection each get their own output and code");
	client_close(c);
	client_open(c, vmd.port);

	good = true;
	for (int k = 0; k < 3; k++) {
		client_open(&more[k], vmd.port);
		for (int i = 0; i < 4; i++) {
			snprintf(fields, sizeof fields, "\"command\":\"sh\",\"args\":[\"-c\","
				 "\"sleep 0.1; echo c%dp%d\"]", k, i);
			spawn(&more[k], fields);
		}
	}
	for (int k = 0; k < 3; k++) {
		CHECK(wait_exits(&more[k], 10000), "connection %d: not all exited", k);
		for (int i = 0; i < 4; i++) {
			char want[16];

			snprintf(want, sizeof want, "c%dp%d\n", k, i);
			good = good && more[k].procs[i].out.p &&
			       !strcmp((char *)more[k].procs[i].out.p, want);
		}
	}
	CHECK(good, "a process got another's output");
	/* handles belong to their connection */
	int id = request(&more[0], PROTO_IS_RUNNING, &more[1].procs[0], "%s", "");
	char msg[128];

	snprintf(msg, sizeof msg, "no process with handle \"%s\" on this connection.",
		 more[1].procs[0].handle);
	expect_error(&more[0], id, PROTO_E_HANDLE, msg);
	for (int k = 0; k < 3; k++)
		client_close(&more[k]);
	case_end("3 connections with 4 processes each; another connection's handle is unknown");
}

static void test_kill_running(struct client *c)
{
	struct proc *p = spawn(c, "\"command\":\"sleep\",\"args\":[\"1000\"]");
	struct proto_reply r;
	int id = request(c, PROTO_IS_RUNNING, p, "%s", "");

	if (wait_reply(c, id, &r, 5000) == 0) {
		CHECK(r.type == PROTO_RUNNING_STATUS && r.running && r.pid == p->pid &&
		      !strcmp(r.handle, p->handle), "before: running %d pid %ld", r.running,
		      r.pid);
		proto_reply_free(&r);
	}
	id = request(c, PROTO_KILL, p, "%s", "");
	expect_ok(c, id);
	wait_exits(c, 5000);
	CHECK(p->code == 143 && p->sig == 15, "code %d signal %d", p->code, p->sig);
	id = request(c, PROTO_IS_RUNNING, p, "%s", "");
	if (wait_reply(c, id, &r, 5000) == 0) {
		CHECK(r.type == PROTO_RUNNING_STATUS && !r.running && r.pid == -1,
		      "after: running %d pid %ld", r.running, r.pid);
		proto_reply_free(&r);
	}
	case_end("kill sends SIGTERM by default; is_running is true before, false after");

	p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\",\"trap 'exit 3' USR1; "
		  "echo ready; while :; do sleep 0.05; done\"]");
	while (!p->out.len && wait_exits(c, 50) == false && p->out.len == 0)
		;
	id = request(c, PROTO_KILL, p, "\"signal\":10");
	expect_ok(c, id);
	wait_exits(c, 5000);
	CHECK(p->code == 3 && p->sig == 0, "code %d signal %d", p->code, p->sig);
	case_end("kill with a signal number delivers that signal");
	client_close(c);
	client_open(c, vmd.port);
}

static void test_pty(struct client *c)
{
	struct proc *p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\","
			       "\"stty size; read x; stty size; echo err >&2\"],"
			       "\"pty\":{\"rows\":24,\"cols\":80}");
	long long end = now_ms() + 5000;

	while (!(p->out.p && strstr((char *)p->out.p, "24 80")) && now_ms() < end)
		wait_exits(c, 50);
	expect_ok(c, request(c, PROTO_RESIZE, p, "\"rows\":40,\"cols\":120"));
	send_stdin(c, p, "\n", 1);
	wait_exits(c, 5000);
	CHECK(p->out.p && strstr((char *)p->out.p, "24 80"), "no \"24 80\" in \"%s\"",
	      p->out.p ? (char *)p->out.p : "");
	CHECK(p->out.p && strstr((char *)p->out.p, "40 120"), "no \"40 120\" in \"%s\"",
	      p->out.p ? (char *)p->out.p : "");
	CHECK(p->out.p && strstr((char *)p->out.p, "err"), "stderr not on the terminal");
	CHECK(p->err.len == 0, "a PTY process sent stderr");
	CHECK(p->code == 0, "code %d", p->code);
	case_end("a PTY has the size asked for, resize changes it, one stream");

	p = spawn(c, "\"command\":\"cat\",\"pty\":{\"rows\":10,\"cols\":10}");
	send_stdin(c, p, "abc\n", 4);
	expect_ok(c, request(c, PROTO_CLOSE_STDIN, p, "%s", ""));
	CHECK(wait_exits(c, 5000) && p->code == 0, "cat on a PTY: exited %d code %d",
	      p->exited, p->code);
	case_end("close_stdin on a PTY sends end of file");

	p = spawn(c, "\"command\":\"true\"");
	wait_exits(c, 5000);
	expect_error(c, request(c, PROTO_RESIZE, p, "\"rows\":1,\"cols\":1"), PROTO_E_PARAMS,
		     "resize: the process has no terminal.");
	case_end("resize of a process without a PTY gets -32602");
	client_close(c);
	client_open(c, vmd.port);
}

static void test_spawn_failures(struct client *c)
{
	struct proc *p = spawn(c, "\"command\":\"/nonexistent/cmd\"");

	CHECK(p->error_code == PROTO_E_SPAWN && !strcmp(p->error,
	      "cannot run \"/nonexistent/cmd\": No such file or directory."),
	      "%d %s", p->error_code, p->error);
	p = spawn(c, "\"command\":\"true\",\"cwd\":\"/nonexistent\"");
	CHECK(p->error_code == PROTO_E_SPAWN && !strcmp(p->error,
	      "cannot change directory to \"/nonexistent\": No such file or directory."),
	      "%d %s", p->error_code, p->error);
	case_end("a missing command or directory gets -32002 with the reason");

	p = spawn(c, "\"command\":\"pwd\",\"cwd\":\"/tmp\"");
	wait_exits(c, 5000);
	CHECK(p->out.p && !strcmp((char *)p->out.p, "/tmp\n"), "pwd: %s",
	      p->out.p ? (char *)p->out.p : "");
	p = spawn(c, "\"command\":\"env\",\"env\":{\"FOO\":\"bar\",\"HOME\":\"/h\"}");
	wait_exits(c, 5000);
	const char *env = p->out.p ? (char *)p->out.p : "";

	CHECK(strstr(env, "FOO=bar\n") && strstr(env, "HOME=/h\n") &&
	      strstr(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"),
	      "env: %s", env);
	CHECK(!strstr(env, "VMD_TEST_LEAK"), "vmd's own environment leaked: %s", env);
	p = spawn(c, "\"command\":\"id\",\"args\":[\"-u\"],\"uid\":65534");
	wait_exits(c, 5000);
	CHECK(p->out.p && !strcmp((char *)p->out.p, "65534\n"), "id -u: %s",
	      p->out.p ? (char *)p->out.p : p->error);
	case_end("cwd, env (not vmd's own) and uid are applied");

	p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\",\"sleep 30 & echo hi\"]");
	long long start = now_ms();

	wait_exits(c, 10000);
	CHECK(p->exited && p->code == 0 && now_ms() - start < 3000,
	      "exit after %lld ms", now_ms() - start);
	CHECK(p->out.p && !strcmp((char *)p->out.p, "hi\n"), "output \"%s\"",
	      p->out.p ? (char *)p->out.p : "");
	case_end("a background grandchild holding the pipes delays exit by the grace only");

	p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\",\"head -c 3000000 /dev/zero; exit 5\"]");
	wait_exits(c, 10000);
	CHECK(p->out.len == 3000000 && p->code == 5 && !p->late_output,
	      "%zu bytes, code %d", p->out.len, p->code);
	case_end("all output comes before exit, even when the writer exits at once");
	client_close(c);
	client_open(c, vmd.port);
}

/* Send raw bytes as one binary message and expect an error with null id. */
static void bad_frame(struct client *c, const void *msg, size_t len, int code,
		      const char *message)
{
	ws_send(&c->w, WS_BINARY, msg, len, 0);
	expect_error(c, -1, code, message);
}

static void test_bad_frames(struct client *c)
{
	struct client other;
	struct proc *busy;
	uint8_t f[64];

	client_open(&other, vmd.port);
	busy = spawn(&other, "\"command\":\"sh\",\"args\":[\"-c\","
		     "\"for i in 1 2 3 4 5; do echo $i; sleep 0.1; done\"]");

	bad_frame(c, "\x01\x00\x00", 3, PROTO_E_FRAME,
		  "a frame needs at least 5 bytes (type and length) but this one has 3.");
	case_end("a 3-byte frame gets -32600");
	bad_frame(c, "", 0, PROTO_E_FRAME,
		  "a frame needs at least 5 bytes (type and length) but this one has 0.");
	case_end("an empty message gets -32600");

	memcpy(f, "\xF0\x05\x00\x00\x00{}", 7);
	bad_frame(c, f, 7, PROTO_E_FRAME, "the frame's length field says 5 bytes but 2 follow.");
	memcpy(f, "\xF0\x01\x00\x00\x00{}", 7);
	bad_frame(c, f, 7, PROTO_E_FRAME, "the frame's length field says 1 bytes but 2 follow.");
	case_end("a length field that disagrees with the message gets -32600");

	memcpy(f, "\xF0\x01\x00\x00\x01", 5);
	bad_frame(c, f, 5, PROTO_E_FRAME,
		  "the frame's payload length 16777217 is over the limit of 16777216 bytes.");
	case_end("a length over 16 MiB gets -32600");

	/* 24 MiB really sent, claiming 16 MiB + 1: refused, and never kept */
	size_t big = 24u << 20;
	uint8_t *huge = calloc(1, big);
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/proc/%d/clear_refs", vmd.pid);
	fd = open(path, O_WRONLY);
	(void)!write(fd, "5", 1);	/* reset the peak RSS */
	close(fd);
	long before = status_kib(vmd.pid, "VmHWM:");

	memcpy(huge, "\xF0\x01\x00\x00\x01", 5);
	ws_send(&c->w, WS_BINARY, huge, big, 1u << 20);
	expect_error(c, -1, PROTO_E_FRAME,
		     "the frame's payload length 16777217 is over the limit of 16777216 bytes.");
	long after = status_kib(vmd.pid, "VmHWM:");

	CHECK(before > 0 && after - before < 4096, "vmd's peak RSS grew by %ld KiB",
	      after - before);
	/* 16 MiB of payload claimed as 100 bytes: refused when it overflows */
	memcpy(huge, "\xF0\x64\x00\x00\x00", 5);
	ws_send(&c->w, WS_BINARY, huge, 16u << 20, 1u << 20);
	expect_error(c, -1, PROTO_E_FRAME,
		     "the frame's length field says 100 bytes but 16777211 follow.");
	after = status_kib(vmd.pid, "VmHWM:");
	CHECK(after - before < 4096, "vmd's peak RSS grew by %ld KiB", after - before);
	free(huge);
	case_end("oversized messages are refused without being buffered (peak RSS < 4 MiB more)");

	ws_send(&c->w, WS_TEXT, "{\"id\":1}", 8, 0);
	expect_error(c, -1, PROTO_E_FRAME,
		     "text messages are not accepted; send each frame as one binary message.");
	case_end("a text message gets -32600");

	ws_send_frame(&c->w, PROTO_PING, "{\"id\":1");
	expect_error(c, -1, PROTO_E_JSON, "the payload is not valid JSON (at byte 6).");
	ws_send_frame(&c->w, PROTO_PING, "{\"id\":1} {}");
	expect_error(c, -1, PROTO_E_JSON, "the payload is not valid JSON (at byte 9).");
	ws_send(&c->w, WS_BINARY, "\xF0\x02\x00\x00\x00\xC3\x28", 7, 0);
	expect_error(c, -1, PROTO_E_JSON, "the payload is not valid UTF-8.");
	case_end("invalid JSON or UTF-8 gets -32700");

	ws_send_frame(&c->w, PROTO_PING, "[1]");
	expect_error(c, -1, PROTO_E_FRAME, "the payload is an array, not a JSON object.");
	case_end("a payload that is not an object gets -32600");

	ws_send_frame(&c->w, 0x42, "{\"id\":5}");
	expect_error(c, 5, PROTO_E_TYPE, "unknown message type 0x42.");
	ws_send_frame(&c->w, 0x14, "{\"id\":6}");
	expect_error(c, 6, PROTO_E_TYPE, "unknown message type 0x14.");
	ws_send_frame(&c->w, PROTO_EXIT, "{\"id\":7}");
	expect_error(c, 7, PROTO_E_TYPE, "message type 0x84 (exit) is a reply, not a request.");
	case_end("unknown and reply types get -32601 with the id");

	/* vmd here has a secret file, not an identity in fw_cfg */
	ws_send_frame(&c->w, PROTO_RELOAD_IDENTITY, "{\"id\":11}");
	expect_error(c, 11, PROTO_E_INTERNAL, "reload_identity: vmd was started without "
		     "--identity, so there is none to reload.");
	ws_send_frame(&c->w, PROTO_PING, "{\"id\":12}");
	{
		struct proto_reply r;

		if (ws_recv_reply(&c->w, &r, 5000, &(struct proto_error){ 0 }) > 0) {
			CHECK(r.type == PROTO_PONG && cJSON_IsNumber(r.id) && r.id->valueint == 12,
			      "after reload_identity: type 0x%02X, not the pong of id 12", r.type);
			proto_reply_free(&r);
		} else {
			note("no pong after reload_identity");
		}
	}
	case_end("reload_identity without --identity gets -32000 and the connection is still served");

	ws_send_frame(&c->w, PROTO_SPAWN, "{\"id\":8}");
	expect_error(c, 8, PROTO_E_PARAMS, "spawn needs the field \"command\".");
	ws_send_frame(&c->w, PROTO_SPAWN, "{\"id\":9,\"command\":\"true\",\"args\":\"x\"}");
	expect_error(c, 9, PROTO_E_PARAMS,
		     "spawn: the field \"args\" must be an array of strings.");
	ws_send_frame(&c->w, PROTO_SPAWN, "{\"command\":\"true\"}");
	expect_error(c, -1, PROTO_E_PARAMS, "spawn needs the field \"id\".");
	ws_send_frame(&c->w, PROTO_SPAWN, "{\"id\":[1],\"command\":\"true\"}");
	expect_error(c, -1, PROTO_E_PARAMS, "the field \"id\" must be a number or a string.");
	ws_send_frame(&c->w, PROTO_KILL, "{\"id\":10,\"handle\":\"x\",\"signal\":0}");
	expect_error(c, 10, PROTO_E_PARAMS,
		     "kill: the field \"signal\" must be an integer from 1 to 64.");
	ws_send_frame(&c->w, PROTO_STDIN, "{\"id\":11,\"handle\":\"x\",\"data\":\"a\"}");
	expect_error(c, 11, PROTO_E_PARAMS, "stdin: the field \"data\" is not valid base64.");
	ws_send_frame(&c->w, PROTO_IS_RUNNING, "{\"id\":12,\"handle\":7}");
	expect_error(c, 12, PROTO_E_PARAMS, "is_running: the field \"handle\" must be a string.");
	case_end("missing or wrong-typed fields get -32602");

	ws_send_frame(&c->w, PROTO_IS_RUNNING, "{\"id\":13,\"handle\":\"00\"}");
	expect_error(c, 13, PROTO_E_HANDLE, "no process with handle \"00\" on this connection.");
	case_end("an unknown handle gets -32001");

	/* a request split over several WebSocket frames is one message */
	size_t len;
	uint8_t *ping = proto_frame_build(PROTO_PING, "{\"id\":\"frag\"}", 13, 0, &len);
	struct proto_reply r;

	ws_send(&c->w, WS_BINARY, ping, len, 3);
	free(ping);
	if (ws_recv_reply(&c->w, &r, 5000, &(struct proto_error){ 0 }) > 0) {
		CHECK(r.type == PROTO_PONG && cJSON_IsString(r.id) &&
		      !strcmp(r.id->valuestring, "frag"), "type 0x%02X", r.type);
		proto_reply_free(&r);
	} else {
		note("no pong to a fragmented ping");
	}
	case_end("a message in several WebSocket fragments is one frame");

	wait_exits(&other, 10000);
	CHECK(busy->out.p && !strcmp((char *)busy->out.p, "1\n2\n3\n4\n5\n") && busy->code == 0,
	      "the other client got \"%s\"", busy->out.p ? (char *)busy->out.p : "");
	case_end("another client kept working meanwhile");
	client_close(&other);
}

static bool gone(long pid)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%ld", pid);
	return access(path, F_OK) < 0;
}

static void test_disconnect(int base_fds)
{
	struct client c;
	struct proc *a, *b;
	long long end;

	client_open(&c, vmd.port);
	a = spawn(&c, "\"command\":\"sleep\",\"args\":[\"1000\"]");
	b = spawn(&c, "\"command\":\"sh\",\"args\":[\"-c\",\"sleep 1000 & wait\"]");
	spawn(&c, "\"command\":\"cat\",\"pty\":{\"rows\":5,\"cols\":5}");
	long pa = a->pid, pb = b->pid;

	CHECK(!gone(pa) && !gone(pb), "not running");
	client_close(&c);
	end = now_ms() + 3000;
	while ((!gone(pa) || !gone(pb) || count_children(vmd.pid)) && now_ms() < end)
		sleep_ms(20);
	CHECK(gone(pa) && gone(pb), "still there after the client left");
	CHECK(count_children(vmd.pid) == 0, "vmd has %d children left", count_children(vmd.pid));
	case_end("a disconnect kills and reaps the client's processes and their children");

	end = now_ms() + 3000;
	while (count_fds(vmd.pid) != base_fds && now_ms() < end)
		sleep_ms(20);
	CHECK(count_fds(vmd.pid) == base_fds, "vmd holds %d descriptors, %d at start",
	      count_fds(vmd.pid), base_fds);
	case_end("no descriptor leaked after all the clients left");
}

static void test_sandbox_args(void)
{
	struct daemon d;
	struct client c;
	struct proc *p;
	char want[1024], home[128];

	snprintf(home, sizeof home, "%s/sandbox", home_root);
	snprintf(want, sizeof want, "[--uid]\n[1000]\n[--gid]\n[100]\n[--network]\n"
		 "[--bind]\n[%s:%s]\n[--bind]\n[%s:%s]\n[--cwd]\n[/tmp]\n[--]\n[echo]\n"
		 "[a b]\n[c]\na b c\n", home, home, share_root, share_root);

	if (start_vmd(&d, fake_sandbox) < 0) {
		note("vmd with the fake sandbox did not start");
		case_end("a sandboxed spawn runs the helper with the right arguments");
		return;
	}
	client_open(&c, d.port);
	p = spawn(&c, "\"command\":\"echo\",\"args\":[\"a b\",\"c\"],\"uid\":1000,\"gid\":100,"
		  "\"network\":true,\"cwd\":\"/tmp\"");
	wait_exits(&c, 5000);
	CHECK(p->out.p && !strcmp((char *)p->out.p, want), "got:\n%s",
	      p->out.p ? (char *)p->out.p : p->error);
	case_end("a sandboxed spawn runs the helper with the right arguments");
	p = spawn(&c, "\"command\":\"echo\",\"args\":[\"x\"]");
	wait_exits(&c, 5000);
	snprintf(want, sizeof want, "[--bind]\n[%s:%s]\n[--bind]\n[%s:%s]\n[--cwd]\n[%s]\n"
		 "[--]\n[echo]\n[x]\nx\n", home, home, share_root, share_root, home);
	CHECK(p->out.p && !strcmp((char *)p->out.p, want), "got:\n%s",
	      p->out.p ? (char *)p->out.p : p->error);
	p = spawn(&c, "\"command\":\"echo\",\"args\":[\"x\"],\"raw\":true");
	wait_exits(&c, 5000);
	CHECK(p->out.p && !strcmp((char *)p->out.p, "x\n"), "raw got:\n%s",
	      p->out.p ? (char *)p->out.p : p->error);
	case_end("by default the sandbox user's home is bound and entered; raw bypasses the "
		 "helper");
	client_close(&c);
	stop_vmd(&d);
}

static void test_sigterm(void)
{
	struct client c;
	struct proc *p;
	int status;
	long long end;

	client_open(&c, vmd.port);
	p = spawn(&c, "\"command\":\"sleep\",\"args\":[\"1000\"]");
	long pid = p->pid;

	status = stop_vmd(&vmd);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "vmd: status 0x%x", status);
	end = now_ms() + 2000;
	while (!gone(pid) && now_ms() < end)
		sleep_ms(20);
	CHECK(gone(pid), "its process outlived it");
	client_close(&c);
	case_end("SIGTERM stops vmd cleanly, killing its processes");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* --- part 2: users, files, installs, mounts ----------------------------------------------- */

/* Send {"id":N,<fields>} as type; returns N. */
__attribute__((format(printf, 3, 4)))
static int send_req(struct client *c, uint8_t type, const char *fmt, ...)
{
	static char json[1 << 16];
	char fields[1 << 15];
	int id = c->next_id++;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fields, sizeof fields, fmt, ap);
	va_end(ap);
	snprintf(json, sizeof json, "{\"id\":%d%s%s}", id, fields[0] ? "," : "", fields);
	ws_send_frame(&c->w, type, json);
	return id;
}

/* Wait for the final reply to id; fills *r (free it) or returns -1. */
static int reply_to(struct client *c, int id, struct proto_reply *r)
{
	if (wait_reply(c, id, r, 10000) < 0)
		return -1;
	return 0;
}

static mode_t mode_of(const char *path, uid_t *uid)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return (mode_t)-1;
	if (uid)
		*uid = st.st_uid;
	return st.st_mode;
}

/* Entries of a folder whose name starts with ".vmd-": temporary files left over. */
static int temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, ".vmd-", 5);
	if (d)
		closedir(d);
	return n;
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	*n = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	*n = fread(buf, 1, (size_t)len, f);
	fclose(f);
	return buf;
}

static void reset_peak_rss(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/proc/%d/clear_refs", pid);
	fd = open(path, O_WRONLY);
	(void)!write(fd, "5", 1);
	close(fd);
}

static void test_is_running_after_exit(struct client *c)
{
	struct proto_reply r;
	struct proc *p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\",\"exit 7\"]");
	int id;

	wait_exits(c, 5000);
	id = request(c, PROTO_IS_RUNNING, p, "%s", "");
	if (reply_to(c, id, &r) == 0) {
		CHECK(r.type == PROTO_RUNNING_STATUS && !r.running && r.has_code &&
		      r.code == 7 && r.signal == 0 && r.pid == -1,
		      "running %d code %d signal %d pid %ld", r.running, r.code, r.signal,
		      r.pid);
		proto_reply_free(&r);
	}
	p = spawn(c, "\"command\":\"sleep\",\"args\":[\"100\"]");
	expect_ok(c, request(c, PROTO_KILL, p, "\"signal\":9"));
	wait_exits(c, 5000);
	id = request(c, PROTO_IS_RUNNING, p, "%s", "");
	if (reply_to(c, id, &r) == 0) {
		CHECK(r.type == PROTO_RUNNING_STATUS && !r.running && r.code == 137 &&
		      r.signal == 9, "running %d code %d signal %d", r.running, r.code,
		      r.signal);
		proto_reply_free(&r);
	}
	case_end("is_running of an ended process: running false with its code and signal");
}

static void test_binary_install(struct client *c)
{
	static const char script[] = "#!/bin/sh\necho installed\n";
	char b64[128], path[128], want[512];
	struct proto_reply r;
	struct proc *p;
	int id;

	b64[proto_b64_encode(script, sizeof script - 1, b64)] = '\0';
	snprintf(path, sizeof path, "%s/hello", bin_dir);
	id = send_req(c, PROTO_BINARY_INSTALL, "\"name\":\"hello\",\"data\":\"%s\"", b64);
	if (reply_to(c, id, &r) == 0) {
		CHECK(r.type == PROTO_OK && r.path && !strcmp(r.path, path), "reply 0x%02X %s",
		      r.type, r.type == PROTO_ERROR ? r.message : r.path ? r.path : "");
		proto_reply_free(&r);
	}
	CHECK((mode_of(path, NULL) & 07777) == 0755, "mode %o", mode_of(path, NULL));
	snprintf(want, sizeof want, "\"command\":\"hello\",\"env\":{\"PATH\":\"%s:/bin\"}",
		 bin_dir);
	p = spawn(c, want);
	wait_exits(c, 5000);
	CHECK(p->out.p && !strcmp((char *)p->out.p, "installed\n"), "ran: %s",
	      p->out.p ? (char *)p->out.p : p->error);
	id = send_req(c, PROTO_BINARY_INSTALL, "\"name\":\"hello\",\"data\":\"aGk=\","
		      "\"executable\":false");
	expect_ok(c, id);
	size_t n;
	uint8_t *got = slurp(path, &n);

	CHECK(got && n == 2 && !memcmp(got, "hi", 2), "replaced content wrong");
	free(got);
	CHECK((mode_of(path, NULL) & 07777) == 0644, "mode %o", mode_of(path, NULL));
	CHECK(temp_files(bin_dir) == 0, "temporary files left in %s", bin_dir);
	case_end("binary_install writes the program whole, 0755 (0644 when not executable)");

	id = send_req(c, PROTO_BINARY_INSTALL, "\"name\":\"../evil\",\"data\":\"\"");
	expect_error(c, id, PROTO_E_PARAMS,
		     "binary_install: the name \"../evil\" must not contain '/'.");
	id = send_req(c, PROTO_BINARY_INSTALL, "\"name\":\"..\",\"data\":\"\"");
	expect_error(c, id, PROTO_E_PARAMS, "binary_install: \"..\" is not a file name.");
	id = send_req(c, PROTO_BINARY_INSTALL, "\"name\":\"ls\\u0000x\",\"data\":\"\"");
	expect_error(c, id, PROTO_E_PARAMS, "binary_install: a string holds a NUL character "
		     "(\\u0000), which no name, path or argument can contain.");
	snprintf(path, sizeof path, "%s/adir", bin_dir);
	mkdir(path, 0755);
	id = send_req(c, PROTO_BINARY_INSTALL, "\"name\":\"adir\",\"data\":\"\"");
	snprintf(want, sizeof want, "binary_install: cannot write %s: Is a directory.", path);
	expect_error(c, id, PROTO_E_INTERNAL, want);
	CHECK(temp_files(bin_dir) == 0, "temporary files left in %s", bin_dir);
	case_end("binary_install refuses bad names (-32602) and reports write failures "
		 "(-32000) leaving nothing behind");
}

static void test_sessions(struct client *c)
{
	char home[128], want[512];
	struct proto_reply r;
	struct client other;
	struct proc *p, *q;
	uid_t owner;
	int id;

	snprintf(home, sizeof home, "%s/sandbox", home_root);
	CHECK((mode_of(home, &owner) & 07777) == 0700 && owner == 1000,
	      "the default home is %o owned by %u", mode_of(home, NULL), owner);
	case_end("vmd makes the default user's home at start, 0700, 1000:1000");

	snprintf(home, sizeof home, "%s/ann", home_root);
	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1001,\"username\":\"ann\"");
	if (reply_to(c, id, &r) == 0) {
		CHECK(r.type == PROTO_OK && r.uid == 1001 && r.username &&
		      !strcmp(r.username, "ann") && r.home && !strcmp(r.home, home),
		      "reply 0x%02X %s", r.type, r.type == PROTO_ERROR ? r.message : "");
		proto_reply_free(&r);
	}
	CHECK(S_ISDIR(mode_of(home, &owner)) && (mode_of(home, NULL) & 07777) == 0700 &&
	      owner == 1001, "home mode %o owner %u", mode_of(home, NULL), owner);
	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1002");
	if (reply_to(c, id, &r) == 0) {
		CHECK(r.type == PROTO_OK && r.username && !strcmp(r.username, "u1002"),
		      "default username %s", r.username ? r.username : "");
		proto_reply_free(&r);
	}
	case_end("session_create makes the home 0700 uid:uid and answers uid, username, home");

	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1001,\"username\":\"bob\"");
	expect_error(c, id, PROTO_E_PARAMS, "session_create: uid 1001 already has a session.");
	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1005,\"username\":\"ann\"");
	expect_error(c, id, PROTO_E_PARAMS,
		     "session_create: the username \"ann\" is already taken by uid 1001.");
	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1005,\"username\":\"sandbox\"");
	expect_error(c, id, PROTO_E_PARAMS, "session_create: the username \"sandbox\" is "
		     "reserved for the default sandbox user.");
	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":0");
	expect_error(c, id, PROTO_E_PARAMS,
		     "session_create: the field \"uid\" must be an integer from 1000 to 60000.");
	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1005,\"username\":\"../x\"");
	expect_error(c, id, PROTO_E_PARAMS, "session_create: the username \"../x\" must be "
		     "1 to 32 of a-z, 0-9, _ and -, starting with a letter or _.");
	id = send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1999");
	expect_error(c, id, PROTO_E_PARAMS, "session_destroy: uid 1999 has no session.");
	case_end("session_create and session_destroy refuse taken, reserved, bad and "
		 "unknown users with -32602");

	p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\",\"echo $HOME; pwd\"],\"uid\":1001");
	wait_exits(c, 5000);
	snprintf(want, sizeof want, "%s\n%s\n", home, home);
	CHECK(p->out.p && !strcmp((char *)p->out.p, want), "got: %s",
	      p->out.p ? (char *)p->out.p : p->error);
	case_end("a spawn as a session's uid gets its home as HOME and directory");

	/* a process of the user on another connection, and one of another user */
	client_open(&other, vmd.port);
	q = spawn(&other, "\"command\":\"sh\",\"args\":[\"-c\",\"echo x > f; sleep 100\"],"
		  "\"uid\":1001");
	p = spawn(&other, "\"command\":\"sleep\",\"args\":[\"100\"],\"uid\":1002");
	sleep_ms(200);
	id = send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1001,\"delete_home\":true");
	expect_ok(c, id);
	for (long long end = now_ms() + 3000; !q->exited && now_ms() < end;) {
		struct proto_error e;

		if (ws_recv_reply(&other.w, &r, 100, &e) > 0) {
			route(&other, &r);
			proto_reply_free(&r);
		}
	}
	CHECK(q->exited && q->sig == 9, "the user's process: exited %d signal %d", q->exited,
	      q->sig);
	CHECK(!p->exited && !gone(p->pid), "another user's process was killed");
	CHECK(mode_of(home, NULL) == (mode_t)-1, "the home %s is still there", home);
	id = send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1002");
	expect_ok(c, id);
	snprintf(home, sizeof home, "%s/u1002", home_root);
	CHECK(S_ISDIR(mode_of(home, NULL)), "the home was removed without delete_home");
	client_close(&other);
	case_end("session_destroy kills the uid's processes on every connection and removes "
		 "the home when asked");

	/* The answer comes once the processes are reaped; the asker may be gone by then. */
	expect_ok(c, send_req(c, PROTO_SESSION_CREATE, "\"uid\":1004"));
	q = spawn(c, "\"command\":\"sleep\",\"args\":[\"100\"],\"uid\":1004");
	sleep_ms(200);
	client_open(&other, vmd.port);
	send_req(&other, PROTO_SESSION_DESTROY, "\"uid\":1004");
	client_close(&other);
	for (long long end = now_ms() + 3000; !q->exited && now_ms() < end;) {
		struct proto_error e;

		if (ws_recv_reply(&c->w, &r, 100, &e) > 0) {
			route(c, &r);
			proto_reply_free(&r);
		}
	}
	CHECK(q->exited && q->sig == 9, "the user's process: exited %d signal %d", q->exited,
	      q->sig);
	bool created = false;

	for (long long end = now_ms() + 3000; !created && now_ms() < end; sleep_ms(20)) {
		id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1004");
		if (reply_to(c, id, &r) == 0) {
			created = r.type == PROTO_OK;
			proto_reply_free(&r);
		}
	}
	CHECK(created, "uid 1004's session was never destroyed");
	expect_ok(c, send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1004,\"delete_home\":true"));
	case_end("a session_destroy whose asker disconnects goes on: the processes die and "
		 "the uid is free again");
}

/* fs_read or load_state: collect the data replies to id into *out. */
static bool read_download(struct client *c, int id, struct buf *out, long long *size,
			  int *code, char *message, size_t mlen)
{
	struct proto_reply r;

	*size = -1;
	*code = 0;
	for (;;) {
		if (wait_reply(c, id, &r, 20000) < 0)
			return false;
		if (r.type == PROTO_DATA) {
			buf_add(out, r.data, r.data_len);
			proto_reply_free(&r);
			continue;
		}
		if (r.type == PROTO_OK)
			*size = r.size;
		if (r.type == PROTO_ERROR) {
			*code = r.code;
			snprintf(message, mlen, "%s", r.message);
		}
		proto_reply_free(&r);
		return *code == 0;
	}
}

/* file_put + file_data in pieces + file_end; returns the ok's size, or -1. */
static long long upload(struct client *c, const char *put_fields, const uint8_t *data,
			size_t n, size_t piece)
{
	struct proto_reply r;
	char handle[64] = "";
	char *b64 = malloc(proto_b64_len(piece) + 1);
	long long size = -1;
	int id = send_req(c, PROTO_FILE_PUT, "%s", put_fields);

	if (reply_to(c, id, &r) < 0)
		goto out;
	if (r.type != PROTO_OK || !r.handle) {
		note("file_put: %s", r.type == PROTO_ERROR ? r.message : "no handle");
		proto_reply_free(&r);
		goto out;
	}
	snprintf(handle, sizeof handle, "%s", r.handle);
	proto_reply_free(&r);
	for (size_t off = 0; off < n; off += piece) {
		size_t k = n - off < piece ? n - off : piece;
		char *json = malloc(proto_b64_len(k) + 128);

		b64[proto_b64_encode(data + off, k, b64)] = '\0';
		sprintf(json, "{\"id\":%d,\"handle\":\"%s\",\"data\":\"%s\"}", c->next_id++,
			handle, b64);
		ws_send_frame(&c->w, PROTO_FILE_DATA, json);
		free(json);
	}
	id = send_req(c, PROTO_FILE_END, "\"handle\":\"%s\"", handle);
	if (reply_to(c, id, &r) == 0) {
		if (r.type == PROTO_OK)
			size = r.size;
		else
			note("file_end: %s", r.type == PROTO_ERROR ? r.message : "?");
		proto_reply_free(&r);
	}
out:
	free(b64);
	return size;
}

static void test_files(struct client *c)
{
	const size_t big = 100u << 20;
	char home[128], path[256], msg[512];
	struct buf got = { 0 };
	long long size;
	uint8_t *data;
	uid_t owner;
	int id, code;

	snprintf(home, sizeof home, "%s/sandbox", home_root);
	snprintf(path, sizeof path, "%s/big.bin", home);
	data = random_file("/tmp/test_vmd-big", big);
	unlink("/tmp/test_vmd-big");
	reset_peak_rss(vmd.pid);
	long before = status_kib(vmd.pid, "VmHWM:");

	size = upload(c, "\"path\":\"big.bin\"", data, big, 1u << 20);
	long after = status_kib(vmd.pid, "VmHWM:");
	size_t n;
	uint8_t *disk = slurp(path, &n);

	CHECK(size == (long long)big, "file_end size %lld", size);
	CHECK(disk && n == big && !memcmp(disk, data, big), "the file differs (%zu bytes)", n);
	CHECK((mode_of(path, &owner) & 07777) == 0644 && owner == 1000, "mode %o owner %u",
	      mode_of(path, NULL), owner);
	CHECK(after - before < 32768, "vmd's peak RSS grew by %ld KiB", after - before);
	printf("# upload: vmd's peak RSS grew by %ld KiB, to %ld KiB\n", after - before,
	       after);
	CHECK(temp_files(home) == 0, "temporary files left in %s", home);
	free(disk);
	case_end("a 100 MiB upload lands byte for byte, 0644, the user's, with vmd's peak "
		 "RSS < 32 MiB more");

	reset_peak_rss(vmd.pid);
	before = status_kib(vmd.pid, "VmHWM:");
	id = send_req(c, PROTO_FS_READ, "\"path\":\"%s\"", path);
	sleep_ms(1000);		/* not reading: vmd must not read ahead */
	read_download(c, id, &got, &size, &code, msg, sizeof msg);
	after = status_kib(vmd.pid, "VmHWM:");
	CHECK(size == (long long)big && got.len == big && !memcmp(got.p, data, big),
	      "fs_read: %zu bytes, size %lld, %s", got.len, size, code ? msg : "");
	CHECK(after - before < 32768, "vmd's peak RSS grew by %ld KiB", after - before);
	printf("# fs_read: vmd's peak RSS grew by %ld KiB, to %ld KiB\n", after - before,
	       after);
	free(got.p);
	free(data);
	case_end("a 100 MiB fs_read comes back byte for byte with vmd's peak RSS < 32 MiB "
		 "more");

	static const uint8_t small[] = "state\n";

	id = send_req(c, PROTO_FILE_PUT, "\"path\":\"notes/x\"");
	expect_error(c, id, PROTO_E_PARAMS, "file_put: \"notes\" does not exist.");
	snprintf(path, sizeof path, "%s/sub", home);
	mkdir(path, 0700);
	size = upload(c, "\"path\":\"sub/x\",\"mode\":384", small, 6, 4);
	snprintf(path, sizeof path, "%s/sub/x", home);
	CHECK(size == 6 && (mode_of(path, NULL) & 07777) == 0600, "size %lld mode %o", size,
	      mode_of(path, NULL));
	case_end("file_put takes the mode and needs the folder to exist");

	id = send_req(c, PROTO_FS_READ, "\"path\":\"../../etc/passwd\"");
	snprintf(msg, sizeof msg, "fs_read: the path \"../../etc/passwd\" escapes %s.", home);
	expect_error(c, id, PROTO_E_PARAMS, msg);
	id = send_req(c, PROTO_FS_READ, "\"path\":\"/etc/passwd\"");
	snprintf(msg, sizeof msg, "fs_read: the path \"/etc/passwd\" escapes %s.", home);
	expect_error(c, id, PROTO_E_PARAMS, msg);
	snprintf(path, sizeof path, "%s/link", home);
	(void)!symlink("/etc/passwd", path);
	id = send_req(c, PROTO_FS_READ, "\"path\":\"link\"");
	snprintf(msg, sizeof msg, "fs_read: the path \"link\" escapes %s.", home);
	expect_error(c, id, PROTO_E_PARAMS, msg);
	snprintf(path, sizeof path, "%s/proclink", home);
	(void)!symlink("/proc/self/root/etc/passwd", path);
	id = send_req(c, PROTO_FS_READ, "\"path\":\"proclink\"");
	snprintf(msg, sizeof msg, "fs_read: the path \"proclink\" escapes %s.", home);
	expect_error(c, id, PROTO_E_PARAMS, msg);
	id = send_req(c, PROTO_FILE_PUT, "\"path\":\"link/../../x\"");
	snprintf(msg, sizeof msg, "file_put: the path \"link/../..\" escapes %s.", home);
	expect_error(c, id, PROTO_E_PARAMS, msg);
	case_end("paths that leave the home (.., absolute, links, /proc) get -32602");

	id = send_req(c, PROTO_FS_READ, "\"path\":\"missing\"");
	expect_error(c, id, PROTO_E_PARAMS, "fs_read: \"missing\" does not exist.");
	id = send_req(c, PROTO_FS_READ, "\"path\":\"sub\"");
	expect_error(c, id, PROTO_E_PARAMS, "fs_read: \"sub\" is not a regular file.");
	id = send_req(c, PROTO_FS_READ, "\"path\":\"x\",\"uid\":4242");
	expect_error(c, id, PROTO_E_PARAMS, "fs_read: uid 4242 has no session.");
	id = send_req(c, PROTO_FILE_DATA, "\"handle\":\"nope\",\"data\":\"\"");
	expect_error(c, id, PROTO_E_HANDLE, "no upload with handle \"nope\" on this "
		     "connection.");
	id = send_req(c, PROTO_FILE_END, "\"handle\":\"nope\"");
	expect_error(c, id, PROTO_E_HANDLE, "no upload with handle \"nope\" on this "
		     "connection.");
	id = send_req(c, PROTO_FILE_PUT, "\"path\":\"sub/\"");
	expect_error(c, id, PROTO_E_PARAMS, "file_put: \"sub/\" does not name a file.");
	id = send_req(c, PROTO_FILE_DATA, "\"handle\":\"nope\",\"data\":\"*\"");
	expect_error(c, id, PROTO_E_PARAMS, "file_data: the field \"data\" is not valid "
		     "base64.");
	case_end("missing files, folders, unknown uids and handles get their errors");

	/* an upload left open when its connection closes */
	struct client other;
	struct proto_reply r;

	client_open(&other, vmd.port);
	id = send_req(&other, PROTO_FILE_PUT, "\"path\":\"half\"");
	if (reply_to(&other, id, &r) == 0)
		proto_reply_free(&r);
	CHECK(temp_files(home) == 1, "%d temporary files during the upload", temp_files(home));
	client_close(&other);
	for (long long end = now_ms() + 2000; temp_files(home) && now_ms() < end;)
		sleep_ms(20);
	CHECK(temp_files(home) == 0, "the temporary file outlived its connection");
	snprintf(path, sizeof path, "%s/half", home);
	CHECK(mode_of(path, NULL) == (mode_t)-1, "the target appeared");
	case_end("a connection that closes mid-upload leaves no file behind");

	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1003,\"username\":\"cat\"");
	expect_ok(c, id);
	size = upload(c, "\"path\":\"state.json\",\"uid\":1003", small, 6, 6);
	snprintf(path, sizeof path, "%s/cat/state.json", home_root);
	CHECK(size == 6 && mode_of(path, &owner) != (mode_t)-1 && owner == 1003,
	      "upload to the session: size %lld owner %u", size, owner);
	memset(&got, 0, sizeof got);
	id = send_req(c, PROTO_LOAD_STATE, "\"session_id\":1003,\"state_path\":\"%s\"", path);
	read_download(c, id, &got, &size, &code, msg, sizeof msg);
	CHECK(size == 6 && got.len == 6 && !memcmp(got.p, small, 6), "load_state: %s",
	      code ? msg : "wrong data");
	free(got.p);
	id = send_req(c, PROTO_LOAD_STATE, "\"session_id\":1500,\"state_path\":\"s\"");
	expect_error(c, id, PROTO_E_PARAMS, "load_state: uid 1500 has no session.");
	id = send_req(c, PROTO_LOAD_STATE, "\"session_id\":1003,\"state_path\":\"%s/sandbox/"
		      "sub/x\"", home_root);
	snprintf(msg, sizeof msg, "load_state: the path \"%s/sandbox/sub/x\" escapes %s/cat.",
		 home_root, home_root);
	expect_error(c, id, PROTO_E_PARAMS, msg);
	expect_ok(c, send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1003,\"delete_home\":true"));
	case_end("file_put and load_state work in a session's home and nowhere else");
}

static void test_mounts(struct client *c)
{
	char mp[128], want[512];
	int id;

	snprintf(mp, sizeof mp, "\"tag\":\"nosuch\",\"mount_point\":\"%s/x\"", share_root);
	id = send_req(c, PROTO_MOUNT, mp);
	expect_error(c, id, PROTO_E_PARAMS, "mount: no share with tag \"nosuch\".");
	snprintf(mp, sizeof mp, "%s/x", share_root);
	CHECK(access(mp, F_OK) < 0, "%s was created for an unknown tag", mp);
	id = send_req(c, PROTO_MOUNT, "\"tag\":\"a\",\"mount_point\":\"/etc\"");
	snprintf(want, sizeof want, "mount: the mount point \"/etc\" must be a path under %s "
		 "without \".\" or \"..\".", share_root);
	expect_error(c, id, PROTO_E_PARAMS, want);
	snprintf(mp, sizeof mp, "\"tag\":\"a\",\"mount_point\":\"%s/../etc\"", share_root);
	id = send_req(c, PROTO_MOUNT, mp);
	snprintf(want, sizeof want, "mount: the mount point \"%s/../etc\" must be a path under "
		 "%s without \".\" or \"..\".", share_root, share_root);
	expect_error(c, id, PROTO_E_PARAMS, want);
	snprintf(mp, sizeof mp, "\"mount_point\":\"%s\"", share_root);
	id = send_req(c, PROTO_UNMOUNT, mp);
	snprintf(want, sizeof want, "unmount: the mount point \"%s\" must be a path under %s "
		 "without \".\" or \"..\".", share_root, share_root);
	expect_error(c, id, PROTO_E_PARAMS, want);
	snprintf(mp, sizeof mp, "\"mount_point\":\"%sx/y\"", share_root);
	id = send_req(c, PROTO_UNMOUNT, mp);
	snprintf(want, sizeof want, "unmount: the mount point \"%sx/y\" must be a path under "
		 "%s without \".\" or \"..\".", share_root, share_root);
	expect_error(c, id, PROTO_E_PARAMS, want);
	snprintf(mp, sizeof mp, "\"mount_point\":\"%s/not-mounted\"", share_root);
	id = send_req(c, PROTO_UNMOUNT, mp);
	snprintf(want, sizeof want, "unmount: %s/not-mounted is not a mount point.", share_root);
	expect_error(c, id, PROTO_E_PARAMS, want);
	case_end("mount and unmount refuse unknown tags, paths outside the share root and "
		 "non-mounts");
}

/* --- attacks on vmd's inputs (issue 11) ----------------------------------------------- */

/* Send payload (len bytes, NULs and all) as one frame of type. */
static void send_raw_payload(struct client *c, uint8_t type, const char *payload, size_t len)
{
	size_t flen;
	uint8_t *f = proto_frame_build(type, payload, len, 0, &flen);

	ws_send(&c->w, WS_BINARY, f, flen, 0);
	free(f);
}

#define RAW(c, type, lit) send_raw_payload(c, type, lit, sizeof lit - 1)

static void test_control_chars(struct client *c)
{
	char path[256];
	struct proc *p;
	int id;

	/* cJSON copies a raw NUL into the string, where C cuts it: this upload was taken
	 * as one of "notes.txt" */
	RAW(c, PROTO_FILE_PUT, "{\"id\":20,\"path\":\"notes.txt\0/../..\"}");
	expect_error(c, -1, PROTO_E_JSON, "the payload has the raw control byte 0x00 in a "
		     "string (at byte 26); JSON allows control characters only escaped.");
	RAW(c, PROTO_FS_READ, "{\"id\":21,\"path\":\"big.bin\0\"}");
	expect_error(c, -1, PROTO_E_JSON, "the payload has the raw control byte 0x00 in a "
		     "string (at byte 24); JSON allows control characters only escaped.");
	snprintf(path, sizeof path, "%s/sandbox/notes.txt", home_root);
	CHECK(mode_of(path, NULL) == (mode_t)-1, "%s was made", path);
	CHECK(temp_files(path) <= 0, "a temporary file was left");
	case_end("8a a raw NUL in a JSON string is refused (-32700), not cut: file_put "
		 "\"notes.txt\\0/../..\" makes no file");

	RAW(c, PROTO_SPAWN, "{\"id\":22,\"command\":\"echo\",\"args\":[\"\x1b]0;owned\x07\"]}");
	expect_error(c, -1, PROTO_E_JSON, "the payload has the raw control byte 0x1B in a "
		     "string (at byte 35); JSON allows control characters only escaped.");
	RAW(c, PROTO_PING, "{\"id\":\"a\tb\"}");
	expect_error(c, -1, PROTO_E_JSON, "the payload has the raw control byte 0x09 in a "
		     "string (at byte 8); JSON allows control characters only escaped.");
	RAW(c, PROTO_PING, "\0{\"id\":23}");
	expect_error(c, -1, PROTO_E_JSON, "the payload is not valid JSON (at byte 0).");
	RAW(c, PROTO_PING, "{\"id\":24}\0");
	expect_error(c, -1, PROTO_E_JSON, "the payload is not valid JSON (at byte 9).");
	/* the four blanks JSON allows between tokens still pass, and an escaped quote
	 * or backslash does not end a string early */
	RAW(c, PROTO_PING, "{\r\n\t\"id\" : \"q\\\"\\\\\"\n}");
	{
		struct proto_reply r;

		if (ws_recv_reply(&c->w, &r, 5000, &(struct proto_error){ 0 }) > 0) {
			CHECK(r.type == PROTO_PONG && cJSON_IsString(r.id) &&
			      !strcmp(r.id->valuestring, "q\"\\"), "reply 0x%02X (%s)", r.type,
			      r.type == PROTO_ERROR ? r.message : "");
			proto_reply_free(&r);
		} else {
			note("no pong to a ping with blanks between its tokens");
		}
	}
	case_end("8b raw control bytes in a string or between tokens are refused (-32700); "
		 "blanks between tokens are not");

	id = send_req(c, PROTO_FILE_PUT, "\"path\":\"notes.txt\\u0000/../..\"");
	expect_error(c, id, PROTO_E_PARAMS, "file_put: a string holds a NUL character "
		     "(\\u0000), which no name, path or argument can contain.");
	id = send_req(c, PROTO_FILE_PUT, "\"path\":\"a\\u001b[2Jb\"");
	expect_error(c, id, PROTO_E_PARAMS, "file_put: the field \"path\" holds the control "
		     "character 0x1B, which no name or path may contain.");
	id = send_req(c, PROTO_FS_READ, "\"path\":\"x\\ny\"");
	expect_error(c, id, PROTO_E_PARAMS, "fs_read: the field \"path\" holds the control "
		     "character 0x0A, which no name or path may contain.");
	id = send_req(c, PROTO_LOAD_STATE, "\"session_id\":1000,\"state_path\":\"s\\r\"");
	expect_error(c, id, PROTO_E_PARAMS, "load_state: the field \"state_path\" holds the "
		     "control character 0x0D, which no name or path may contain.");
	id = send_req(c, PROTO_BINARY_INSTALL, "\"name\":\"ls\\u007f\",\"data\":\"\"");
	expect_error(c, id, PROTO_E_PARAMS, "binary_install: the field \"name\" holds the "
		     "control character 0x7F, which no name or path may contain.");
	id = send_req(c, PROTO_SPAWN, "\"command\":\"echo\\t\"");
	expect_error(c, id, PROTO_E_PARAMS, "spawn: the field \"command\" holds the control "
		     "character 0x09, which no name or path may contain.");
	id = send_req(c, PROTO_SPAWN, "\"command\":\"true\",\"cwd\":\"/tmp\\u0008\"");
	expect_error(c, id, PROTO_E_PARAMS, "spawn: the field \"cwd\" holds the control "
		     "character 0x08, which no name or path may contain.");
	id = send_req(c, PROTO_SPAWN, "\"command\":\"true\",\"env\":{\"A\\u0001\":\"x\"}");
	expect_error(c, id, PROTO_E_PARAMS, "spawn: the field \"env\" holds the control "
		     "character 0x01, which no name or path may contain.");
	id = send_req(c, PROTO_MOUNT, "\"tag\":\"a\\u0007\",\"mount_point\":\"%s/a\"", share_root);
	expect_error(c, id, PROTO_E_PARAMS, "mount: the field \"tag\" holds the control "
		     "character 0x07, which no name or path may contain.");
	id = send_req(c, PROTO_UNMOUNT, "\"mount_point\":\"%s/\\u001b\"", share_root);
	expect_error(c, id, PROTO_E_PARAMS, "unmount: the field \"mount_point\" holds the "
		     "control character 0x1B, which no name or path may contain.");
	/* an argument or a variable's value is the command's business */
	p = spawn(c, "\"command\":\"sh\",\"args\":[\"-c\",\"echo \\\"$1$V\\\"\",\"-\",\"a\\nb\"],"
		  "\"env\":{\"V\":\"\\t\"}");
	wait_exits(c, 5000);
	CHECK(p->out.p && !strcmp((char *)p->out.p, "a\nb\t\n") && p->code == 0,
	      "got \"%s\" (%s), code %d", p->out.p ? (char *)p->out.p : "", p->error, p->code);
	case_end("8c names and paths holding escaped control characters get -32602; "
		 "arguments and values may hold them");
}

/* A tmpfs on path (made), for the cases that need a mount; false when it failed. */
static bool mount_tmpfs(const char *path)
{
	mkdir(path, 0755);
	if (mount("test", path, "tmpfs", 0, "size=64k") == 0)
		return true;
	note("cannot mount a tmpfs on %s: %s (this suite runs as root)", path, strerror(errno));
	return false;
}

static bool is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mp[4096];
	bool found = false;

	while (f && !found && fgets(line, sizeof line, f))
		found = sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && !strcmp(mp, path);
	if (f)
		fclose(f);
	return found;
}

static void test_unmount_links(struct client *c)
{
	char outside[64] = "/tmp/test_vmd-outside-XXXXXX", victim[128], link[128], want[512];
	int id;

	if (!mkdtemp(outside)) {
		note("mkdtemp: %s", strerror(errno));
		case_end("4e an unmount through a link in the share root leaves a tmpfs outside "
			 "it mounted");
		return;
	}
	snprintf(victim, sizeof victim, "%s/m", outside);
	if (mount_tmpfs(victim)) {
		/* the folder holding the mount, and the mount itself, as links */
		snprintf(link, sizeof link, "%s/dir", share_root);
		(void)!symlink(outside, link);
		snprintf(link, sizeof link, "%s/mnt", share_root);
		(void)!symlink(victim, link);
		id = send_req(c, PROTO_UNMOUNT, "\"mount_point\":\"%s/dir/m\"", share_root);
		snprintf(want, sizeof want, "unmount: %s/dir is a symbolic link; vmd follows no "
			 "link in a mount point.", share_root);
		expect_error(c, id, PROTO_E_PARAMS, want);
		id = send_req(c, PROTO_UNMOUNT, "\"mount_point\":\"%s/mnt\"", share_root);
		snprintf(want, sizeof want, "unmount: %s/mnt is a symbolic link; vmd follows no "
			 "link in a mount point.", share_root);
		expect_error(c, id, PROTO_E_PARAMS, want);
		CHECK(is_mounted(victim), "the tmpfs on %s was unmounted", victim);
		umount2(victim, MNT_DETACH);
	}
	rmdir(victim);
	rmdir(outside);
	case_end("4e an unmount through a link in the share root leaves a tmpfs outside it "
		 "mounted");

	snprintf(victim, sizeof victim, "%s/tmpfs", share_root);
	if (mount_tmpfs(victim)) {
		id = send_req(c, PROTO_UNMOUNT, "\"mount_point\":\"%s\"", victim);
		snprintf(want, sizeof want, "unmount: %s is not a share; vmd unmounts only shares.",
			 victim);
		expect_error(c, id, PROTO_E_PARAMS, want);
		CHECK(is_mounted(victim), "the tmpfs on %s was unmounted", victim);
		umount2(victim, MNT_DETACH);
	}
	rmdir(victim);
	case_end("4f unmount refuses a mount under the share root that is not a share");
}

static void test_home_owner(struct client *c)
{
	char home[128], path[256], outside[64] = "/tmp/test_vmd-victim-XXXXXX", want[512];
	uid_t owner;
	int id;

	snprintf(home, sizeof home, "%s/dora", home_root);
	expect_ok(c, send_req(c, PROTO_SESSION_CREATE, "\"uid\":1010,\"username\":\"dora\""));
	snprintf(path, sizeof path, "%s/diary", home);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	(void)!chown(path, 1010, 1010);
	expect_ok(c, send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1010"));
	id = send_req(c, PROTO_SESSION_CREATE, "\"uid\":1011,\"username\":\"dora\"");
	snprintf(want, sizeof want, "session_create: the home %s belongs to uid 1010; choose "
		 "another username, or remove it by creating uid 1010's session again and "
		 "destroying it with delete_home.", home);
	expect_error(c, id, PROTO_E_PARAMS, want);
	CHECK((mode_of(home, &owner) & 07777) == 0700 && owner == 1010,
	      "the home is %o owned by %u", mode_of(home, NULL), owner);
	CHECK(mode_of(path, &owner) != (mode_t)-1 && owner == 1010, "the diary is gone or "
	      "owned by %u", owner);
	expect_ok(c, send_req(c, PROTO_SESSION_CREATE, "\"uid\":1010,\"username\":\"dora\""));
	CHECK(mode_of(path, NULL) != (mode_t)-1, "uid 1010 lost its diary");
	case_end("11a a new uid under an old username is refused; the home stays its owner's "
		 "and the owner gets it back");

	/* links in the home, to a folder outside that must keep its files */
	if (!mkdtemp(outside)) {
		note("mkdtemp: %s", strerror(errno));
	} else {
		char keep[128], sub[256];

		snprintf(keep, sizeof keep, "%s/keep", outside);
		close(open(keep, O_WRONLY | O_CREAT, 0644));
		snprintf(path, sizeof path, "%s/out", home);
		(void)!symlink(outside, path);
		snprintf(sub, sizeof sub, "%s/d", home);
		mkdir(sub, 0700);
		snprintf(path, sizeof path, "%s/d/out", home);
		(void)!symlink(outside, path);
		snprintf(path, sizeof path, "%s/d/keep", home);
		(void)!symlink(keep, path);
		/* a mount inside the home is not entered: the destroy stops, and says so */
		snprintf(path, sizeof path, "%s/d/m", home);
		if (mount_tmpfs(path)) {
			char inside[300];

			snprintf(inside, sizeof inside, "%s/kept", path);
			close(open(inside, O_WRONLY | O_CREAT, 0644));
			id = send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1010,\"delete_home\":true");
			snprintf(want, sizeof want, "session_destroy: cannot remove the home %s: "
				 "Device or resource busy; the session is kept.", home);
			expect_error(c, id, PROTO_E_INTERNAL, want);
			CHECK(mode_of(inside, NULL) != (mode_t)-1, "a file on the mount in the "
			      "home was removed");
			umount2(path, MNT_DETACH);
		}
		expect_ok(c, send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1010,\"delete_home\":true"));
		CHECK(mode_of(home, NULL) == (mode_t)-1, "the home is still there");
		CHECK(mode_of(keep, NULL) != (mode_t)-1, "%s was removed through a link", keep);
	}
	case_end("11b delete_home removes links in the home and follows none, nor enters a "
		 "mount");

	/* The home itself swapped for a link (root can do it in the guest; in a race it
	 * would be the moment between a check and the removal): nothing is removed. */
	expect_ok(c, send_req(c, PROTO_SESSION_CREATE, "\"uid\":1010,\"username\":\"dora\""));
	rmdir(home);
	(void)!symlink(outside, home);
	id = send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1010,\"delete_home\":true");
	snprintf(want, sizeof want, "session_destroy: cannot remove the home %s: Not a "
		 "directory; the session is kept.", home);
	expect_error(c, id, PROTO_E_INTERNAL, want);
	snprintf(path, sizeof path, "%s/keep", outside);
	CHECK(mode_of(path, NULL) != (mode_t)-1, "%s was removed through the link", path);
	unlink(home);
	expect_ok(c, send_req(c, PROTO_SESSION_DESTROY, "\"uid\":1010,\"delete_home\":true"));
	unlink(path);
	rmdir(outside);
	case_end("11c a home swapped for a link is not removed through it");
}

/* Remove the temporary files; show vmd's stderr when something failed. */
static int finish(void)
{
	unlink(secret_file);
	nftw(home_root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(bin_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(share_root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	if (nfailed) {
		FILE *f = fopen(log_file, "r");
		char line[512];

		printf("# vmd's stderr:\n");
		while (f && fgets(line, sizeof line, f))
			printf("#   %s", line);
		if (f)
			fclose(f);
	}
	unlink(log_file);
	return nfailed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct client c;
	int fd, base_fds;
	uint8_t raw[32];

	if (argc > 1)
		vmd_path = argv[1];
	if (argc > 2)
		fake_sandbox = argv[2];
	signal(SIGPIPE, SIG_IGN);
	fd = open("/dev/urandom", O_RDONLY);
	(void)!read(fd, raw, sizeof raw);
	close(fd);
	for (int i = 0; i < 32; i++)
		snprintf(secret + 2 * i, 3, "%02x", raw[i]);
	snprintf(secret_file, sizeof secret_file, "/tmp/test_vmd-secret-XXXXXX");
	fd = mkstemp(secret_file);
	dprintf(fd, "%s\n", secret);
	close(fd);
	snprintf(log_file, sizeof log_file, "/tmp/test_vmd-log-XXXXXX");
	close(mkstemp(log_file));
	snprintf(home_root, sizeof home_root, "/tmp/test_vmd-home-XXXXXX");
	snprintf(bin_dir, sizeof bin_dir, "/tmp/test_vmd-bin-XXXXXX");
	snprintf(share_root, sizeof share_root, "/tmp/test_vmd-mnt-XXXXXX");
	if (!mkdtemp(home_root) || !mkdtemp(bin_dir) || !mkdtemp(share_root)) {
		printf("Bail out! cannot make temporary folders\n");
		return 1;
	}
	/* as /home is: users must be able to reach their own home inside it */
	chmod(home_root, 0755);

	printf("1..73\n");
	if (start_vmd(&vmd, "none") < 0) {
		printf("# %s did not start\n", vmd_path);
		nfailed++;
		return finish();
	}
	sleep_ms(300);	/* the readiness probe's connection closes */
	base_fds = count_fds(vmd.pid);
	test_refused();
	if (client_open(&c, vmd.port) < 0) {
		printf("# cannot connect with the secret\n");
		stop_vmd(&vmd);
		nfailed++;
		return finish();
	}
	test_ping(&c);
	test_exit_codes(&c);
	test_streams(&c);
	test_stdin(&c);
	test_binary(&c);
	test_concurrent(&c);
	test_kill_running(&c);
	test_pty(&c);
	test_spawn_failures(&c);
	test_bad_frames(&c);
	test_is_running_after_exit(&c);
	test_binary_install(&c);
	test_sessions(&c);
	test_files(&c);
	test_mounts(&c);
	test_control_chars(&c);
	test_unmount_links(&c);
	test_home_owner(&c);
	client_close(&c);
	test_disconnect(base_fds);
	test_sandbox_args();
	test_sigterm();
	return finish();
}
