/* test_vmctl_client.c - vmctl's connection to vmd when vmd is not (yet) there.
 *
 * While a VM boots, QEMU accepts connections on the host before anything listens in
 * the guest: the upgrade request then waits for an answer that never comes. The
 * connection must give up at its deadline, promptly, with one sentence; so must a
 * ping when the port refuses or closes at once.
 */
#include "client.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_port_that_never_answers_fails_at_the_deadline),
		cmocka_unit_test(test_a_ping_to_a_closed_port_fails_at_once),
		cmocka_unit_test(test_a_ping_to_a_port_that_hangs_up_fails_at_once),
	};

	return cmocka_run_group_tests_name("vmctl client", tests, NULL, NULL);
}
