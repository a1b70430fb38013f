/* test_vmctl_client.c - vmctl's connection to vmd when vmd is not (yet) there.
 *
 * While a VM boots, QEMU accepts connections on the host before anything listens in
 * the guest: the upgrade request then waits for an answer that never comes. The
 * connection must give up at its deadline, promptly, with one sentence; so must a
 * ping when the port refuses or closes at once.
 *
 * And the handshake (handshake.h), against a stand-in for vmd in a child process: one
 * that cannot prove the secret is told apart and sent nothing at all; one that can
 * gets the client's proof as the very first frame.
 */
#include "client.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "auth.h"
#include "proto.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define SECRET "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A socket listening on 127.0.0.1; *port gets its number. backlog > 0: the kernel
 * completes connections that nobody ever accepts or answers. */
static int listener(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_a_port_that_never_answers_fails_at_the_deadline(void **state)
{
	struct msg m = { "" };
	char want[256];
	unsigned port;
	int fd = listener(&port);
	double t0 = now_ms(), took;
	struct client *c = client_open(port, SECRET, 300, NULL, &m);

	took = now_ms() - t0;
	(void)state;
	assert_null(c);
	snprintf(want, sizeof want, "cannot reach the sandbox on port %u: it did not answer in "
		 "time (vmctl list shows the running ones).", port);
	assert_string_equal(m.text, want);
	/* the deadline, not lws's own 20-30 s timeouts */
	assert_true(took >= 250 && took < 2000);
	close(fd);
}

static void test_a_ping_to_a_closed_port_fails_at_once(void **state)
{
	struct msg m = { "" };
	unsigned port;
	int fd = listener(&port);
	double t0;

	(void)state;
	close(fd);	/* nobody listens there now: the connection is refused */
	t0 = now_ms();
	assert_int_equal(client_ping(port, SECRET, 5000, &m), -1);
	assert_true(now_ms() - t0 < 1000);
	assert_non_null(strstr(m.text, "cannot reach the sandbox on port"));
}

static void test_a_ping_to_a_port_that_hangs_up_fails_at_once(void **state)
{
	struct msg m = { "" };
	unsigned port;
	int fd = listener(&port);
	double t0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {		/* accept and hang up, as QEMU does when the guest refuses */
		int s = accept(fd, NULL, NULL);

		if (s >= 0)
			close(s);
		_exit(0);
	}
	t0 = now_ms();
	assert_int_equal(client_ping(port, SECRET, 5000, &m), -1);
	assert_true(now_ms() - t0 < 1000);
	assert_non_null(strstr(m.text, "cannot reach the sandbox on port"));
	close(fd);
}

/* The stand-in's side: answer the upgrade on fd as vmd would, with a proof made with
 * proof_secret; then report on out what the client sent: "bytes N" when it closed,
 * or, for a client that sent frames, "first TYPE PROOF_OK" and a pong to its ping. */
static void stand_in(int fd, const char *proof_secret, int out)
{
	char head[4096], key[64] = "", nc[AUTH_HEX + 1] = "", ns[AUTH_HEX + 1], proof[AUTH_HEX + 1];
	char want[AUTH_HEX + 1], accept_in[128], ws_accept[64], answer[1024], report[128];
	unsigned char sha[20], buf[4096];
	size_t n = 0, got = 0;
	ssize_t r;
	int s = accept(fd, NULL, NULL);
	char *p;

	while (s >= 0 && n < sizeof head - 1 && !strstr(head, "\r\n\r\n")) {
		r = read(s, head + n, sizeof head - 1 - n);
		if (r <= 0)
			_exit(1);
		n += (size_t)r;
		head[n] = '\0';
	}
	if ((p = strcasestr(head, "sec-websocket-key: ")))
		sscanf(p + 19, "%63[^\r]", key);
	if ((p = strcasestr(head, AUTH_NONCE_HEADER " ")))
		sscanf(p + sizeof AUTH_NONCE_HEADER, "%64[0-9a-f]", nc);
	snprintf(accept_in, sizeof accept_in, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
	lws_SHA1((const unsigned char *)accept_in, strlen(accept_in), sha);
	lws_b64_encode_string((const char *)sha, 20, ws_accept, sizeof ws_accept);
	auth_nonce(ns);
	auth_proof(proof_secret, AUTH_SERVER, nc, ns, proof);
	n = (size_t)snprintf(answer, sizeof answer, "HTTP/1.1 101 Switching Protocols\r\n"
			     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
			     "%s\r\nX-Vmd-Nonce: %s\r\nX-Vmd-Proof: %s\r\n\r\n", ws_accept, ns, proof);
	if (write(s, answer, n) != (ssize_t)n)
		_exit(1);
	/* a whole first frame: 2 header bytes, 4 of mask, payload under 126 bytes */
	while (got < 6 || got < 6 + (size_t)(buf[1] & 0x7f)) {
		r = read(s, buf + got, sizeof buf - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < 6 || got < 6 + (size_t)(buf[1] & 0x7f)) {
		n = (size_t)snprintf(report, sizeof report, "bytes %zu", got);
	} else {
		size_t len = buf[1] & 0x7f;
		char json[128] = "";
		static const uint8_t pong[] = { 0x82, 13, PROTO_PONG, 8, 0, 0, 0,
						'{', '"', 'i', 'd', '"', ':', '0', '}' };

		for (size_t i = 0; i < len; i++)
			buf[6 + i] ^= buf[2 + (i & 3)];
		auth_proof(proof_secret, AUTH_CLIENT, nc, ns, want);
		if (len > PROTO_HEADER_SIZE && len - PROTO_HEADER_SIZE < sizeof json)
			memcpy(json, buf + 6 + PROTO_HEADER_SIZE, len - PROTO_HEADER_SIZE);
		n = (size_t)snprintf(report, sizeof report, "first 0x%02X %s", buf[6],
				     strstr(json, want) ? "proof ok" : "proof wrong");
		if (write(s, pong, sizeof pong) != (ssize_t)sizeof pong)
			_exit(1);
		usleep(200 * 1000);
	}
	if (write(out, report, n) != (ssize_t)n)
		_exit(1);
	_exit(0);
}

/* Run client_ping against a stand-in proving with proof_secret; its report in rep. */
static int ping_stand_in(const char *proof_secret, unsigned *port, struct msg *m,
			 char *rep, size_t size)
{
	int fd = listener(port), pipefd[2], rc;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		stand_in(fd, proof_secret, pipefd[1]);
	}
	close(pipefd[1]);
	rc = client_ping(*port, SECRET, 5000, m);
	n = read(pipefd[0], rep, size - 1);
	rep[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	close(fd);
	waitpid(pid, NULL, 0);
	return rc;
}

static void test_a_stand_in_without_the_secret_is_told_apart_and_sent_nothing(void **state)
{
	struct msg m = { "" };
	char rep[128], want[256];
	unsigned port;

	(void)state;
	assert_int_equal(ping_stand_in("f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				       &port, &m, rep, sizeof rep), CLIENT_NOT_THIS_VM);
	snprintf(want, sizeof want, "the service on 127.0.0.1:%u did not prove it holds this "
		 "VM's secret; it is not this VM.", port);
	assert_string_equal(m.text, want);
	assert_string_equal(rep, "bytes 0");
}

static void test_a_vmd_that_proves_the_secret_gets_the_clients_proof_first(void **state)
{
	struct msg m = { "" };
	char rep[128];
	unsigned port;

	(void)state;
	assert_int_equal(ping_stand_in(SECRET, &port, &m, rep, sizeof rep), 0);
	assert_string_equal(rep, "first 0x0E proof ok");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_port_that_never_answers_fails_at_the_deadline),
		cmocka_unit_test(test_a_ping_to_a_closed_port_fails_at_once),
		cmocka_unit_test(test_a_ping_to_a_port_that_hangs_up_fails_at_once),
		cmocka_unit_test(test_a_stand_in_without_the_secret_is_told_apart_and_sent_nothing),
		cmocka_unit_test(test_a_vmd_that_proves_the_secret_gets_the_clients_proof_first),
	};

	return cmocka_run_group_tests_name("vmctl client", tests, NULL, NULL);
}
