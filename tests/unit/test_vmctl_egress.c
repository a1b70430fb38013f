/* test_vmctl_egress.c - the sandbox's way out: which addresses vmctl egress refuses,
 * how --allow matches, and what the proxy answers. The ranges a VM suite may not aim
 * at (private, link-local, anything off this machine) are covered here, where nothing
 * connects anywhere; the one relay test talks to a server it starts on 127.0.0.1. */
#include "egress.h"

#include "cli.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static enum egress_class class_of(const char *text, const struct egress_own *own)
{
	unsigned char a[16];
	int family = strchr(text, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, text, a), 1);
	return egress_classify(family, a, own);
}

static void test_ipv4_ranges_are_classified(void **state)
{
	static const struct {
		const char *addr;
		enum egress_class c;
	} cases[] = {
		{ "127.0.0.1", EGRESS_LOOPBACK }, { "127.255.255.254", EGRESS_LOOPBACK },
		{ "10.0.2.2", EGRESS_HOST }, { "10.0.2.3", EGRESS_HOST },
		{ "10.0.2.15", EGRESS_PRIVATE }, { "10.255.255.255", EGRESS_PRIVATE },
		{ "172.16.0.1", EGRESS_PRIVATE }, { "172.31.255.255", EGRESS_PRIVATE },
		{ "172.32.0.1", EGRESS_PUBLIC }, { "172.15.255.255", EGRESS_PUBLIC },
		{ "192.168.0.1", EGRESS_PRIVATE }, { "100.64.0.1", EGRESS_PRIVATE },
		{ "100.127.255.255", EGRESS_PRIVATE }, { "100.128.0.1", EGRESS_PUBLIC },
		{ "169.254.169.254", EGRESS_LINK_LOCAL }, { "0.0.0.0", EGRESS_UNSPECIFIED },
		{ "0.1.2.3", EGRESS_UNSPECIFIED }, { "224.0.0.1", EGRESS_MULTICAST },
		{ "239.255.255.250", EGRESS_MULTICAST }, { "240.0.0.1", EGRESS_RESERVED },
		{ "255.255.255.255", EGRESS_RESERVED }, { "192.0.0.8", EGRESS_RESERVED },
		{ "192.0.2.1", EGRESS_RESERVED }, { "198.18.0.1", EGRESS_RESERVED },
		{ "198.19.255.255", EGRESS_RESERVED }, { "198.51.100.1", EGRESS_RESERVED },
		{ "203.0.113.1", EGRESS_RESERVED }, { "192.88.99.1", EGRESS_RESERVED },
		{ "8.8.8.8", EGRESS_PUBLIC }, { "1.1.1.1", EGRESS_PUBLIC },
		{ "11.0.0.1", EGRESS_PUBLIC }, { "126.255.255.255", EGRESS_PUBLIC },
		{ "128.0.0.1", EGRESS_PUBLIC },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (class_of(cases[i].addr, NULL) != cases[i].c)
			fail_msg("%s is %s, expected %s", cases[i].addr,
				 egress_class_text(class_of(cases[i].addr, NULL)),
				 egress_class_text(cases[i].c));
	}
}

static void test_ipv6_ranges_and_ipv4_inside_them_are_classified(void **state)
{
	static const struct {
		const char *addr;
		enum egress_class c;
	} cases[] = {
		{ "::1", EGRESS_LOOPBACK }, { "::", EGRESS_UNSPECIFIED },
		{ "::ffff:127.0.0.1", EGRESS_LOOPBACK }, { "::ffff:10.0.2.2", EGRESS_HOST },
		{ "::ffff:192.168.1.1", EGRESS_PRIVATE }, { "::ffff:169.254.169.254", EGRESS_LINK_LOCAL },
		{ "::ffff:8.8.8.8", EGRESS_PUBLIC }, { "64:ff9b::7f00:1", EGRESS_LOOPBACK },
		{ "64:ff9b::a00:1", EGRESS_PRIVATE }, { "64:ff9b::808:808", EGRESS_PUBLIC },
		{ "2002:c0a8:101::1", EGRESS_PRIVATE }, { "2002:7f00:1::", EGRESS_LOOPBACK },
		{ "2002:808:808::1", EGRESS_PUBLIC }, { "::127.0.0.1", EGRESS_RESERVED },
		{ "fe80::1", EGRESS_LINK_LOCAL }, { "febf::1", EGRESS_LINK_LOCAL },
		{ "fc00::1", EGRESS_PRIVATE }, { "fd00::2", EGRESS_PRIVATE },
		{ "fec0::2", EGRESS_PRIVATE }, { "ff02::1", EGRESS_MULTICAST },
		{ "2001:db8::1", EGRESS_RESERVED }, { "2001::1", EGRESS_RESERVED },
		{ "3fff::1", EGRESS_RESERVED }, { "4000::1", EGRESS_RESERVED },
		{ "100::1", EGRESS_RESERVED }, { "2606:4700:4700::1111", EGRESS_PUBLIC },
		{ "2a00:1450::1", EGRESS_PUBLIC },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (class_of(cases[i].addr, NULL) != cases[i].c)
			fail_msg("%s is %s, expected %s", cases[i].addr,
				 egress_class_text(class_of(cases[i].addr, NULL)),
				 egress_class_text(cases[i].c));
	}
}

static void test_the_hosts_own_addresses_are_the_host_itself(void **state)
{
	struct egress_own own = { .n = 2, .family = { AF_INET, AF_INET6 } };

	(void)state;
	inet_pton(AF_INET, "8.8.4.4", own.addr[0]);
	inet_pton(AF_INET6, "2a00:1450::77", own.addr[1]);
	assert_int_equal(class_of("8.8.4.4", &own), EGRESS_HOST);
	assert_int_equal(class_of("::ffff:8.8.4.4", &own), EGRESS_HOST);
	assert_int_equal(class_of("2a00:1450::77", &own), EGRESS_HOST);
	assert_int_equal(class_of("8.8.4.5", &own), EGRESS_PUBLIC);
	/* loopback is named as loopback even when an interface lists it */
	own.family[0] = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", own.addr[0]);
	assert_int_equal(class_of("127.0.0.1", &own), EGRESS_LOOPBACK);
	/* this machine's list has at least loopback */
	egress_own_addresses(&own);
	assert_true(own.n >= 1);
}

static void test_allow_takes_names_wildcards_and_addresses_with_or_without_a_port(void **state)
{
	struct egress_allow e;
	struct msg m = { "" };

	(void)state;
	assert_int_equal(egress_allow_parse("Example.COM.:443", &e, &m), 0);
	assert_string_equal(e.host, "example.com");
	assert_int_equal(e.port, 443);
	assert_int_equal(e.family, 0);
	assert_false(e.wildcard);
	assert_int_equal(egress_allow_parse("*.pypi.org", &e, &m), 0);
	assert_string_equal(e.host, "pypi.org");
	assert_true(e.wildcard);
	assert_int_equal(e.port, 0);
	assert_int_equal(egress_allow_parse("127.0.0.1:8080", &e, &m), 0);
	assert_int_equal(e.family, AF_INET);
	assert_string_equal(e.host, "127.0.0.1");
	assert_int_equal(e.port, 8080);
	assert_int_equal(egress_allow_parse("[::1]:65535", &e, &m), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.port, 65535);
	assert_int_equal(egress_allow_parse("2001:db8::5", &e, &m), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.port, 0);
}

static void test_allow_refuses_what_is_no_host_or_port(void **state)
{
	static const char *const bad[] = {
		"", ":80", "a b", "x:0", "x:65536", "x:", "x:8o", "[::1", "[::1]x", "[1.2.3.4]:80",
		"*.", "*", "a..b", ".a", "http://x", "x:80:90", "a/b", "a\033[31m",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};
	struct egress_allow e;
	struct msg m = { "" };

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (egress_allow_parse(bad[i], &e, &m) != -1)
			fail_msg("--allow \"%s\" was taken", bad[i]);
	assert_int_equal(egress_allow_parse("x:0", &e, &m), -1);
	assert_string_equal(m.text, "--allow wants HOST[:PORT] (a host name, *.DOMAIN, an IPv4 "
			    "address or [IPv6]) with a PORT from 1 to 65535, not \"x:0\".");
}

static struct egress_policy policy(const char *const *allow, int n)
{
	struct egress_policy p = { .nallow = n };
	struct msg m;

	for (int i = 0; i < n; i++)
		assert_int_equal(egress_allow_parse(allow[i], &p.allow[i], &m), 0);
	return p;
}

static void test_the_allow_list_matches_host_and_port_as_the_request_names_them(void **state)
{
	const char *const allow[] = { "127.0.0.1:8080", "example.com", "*.pypi.org:443", "[::1]:80" };
	struct egress_policy p = policy(allow, 4);
	struct msg m = { "" };
	bool literal;

	(void)state;
	assert_int_equal(egress_permits(&p, "127.0.0.1", 8080, &literal, &m), 1);
	assert_true(literal);
	assert_int_equal(egress_permits(&p, "::1", 80, &literal, &m), 1);
	assert_true(literal);
	assert_int_equal(egress_permits(&p, "example.com", 22, &literal, &m), 1);
	assert_false(literal);
	assert_int_equal(egress_permits(&p, "files.pypi.org", 443, &literal, &m), 1);
	assert_int_equal(egress_permits(&p, "a.b.pypi.org", 443, &literal, &m), 1);
	assert_false(literal);

	assert_int_equal(egress_permits(&p, "127.0.0.1", 8081, &literal, &m), 0);
	assert_string_equal(m.text, "vmctl egress: 127.0.0.1:8081 is not on this sandbox's "
			    "allow-list (vmctl start --allow).");
	/* a name that resolves to an allowed address is not that address */
	assert_int_equal(egress_permits(&p, "localhost", 8080, &literal, &m), 0);
	assert_int_equal(egress_permits(&p, "pypi.org", 443, &literal, &m), 0);
	assert_int_equal(egress_permits(&p, "evilpypi.org", 443, &literal, &m), 0);
	assert_int_equal(egress_permits(&p, "files.pypi.org", 80, &literal, &m), 0);
	assert_int_equal(egress_permits(&p, "www.example.com", 80, &literal, &m), 0);
	assert_int_equal(egress_permits(&p, "::1", 81, &literal, &m), 0);
	assert_string_equal(m.text, "vmctl egress: [::1]:81 is not on this sandbox's "
			    "allow-list (vmctl start --allow).");

	p = (struct egress_policy){ .internet = true };
	assert_int_equal(egress_permits(&p, "10.0.2.2", 80, &literal, &m), 1);
	assert_false(literal);	/* permitted to ask; the address check still refuses it */
}

static void test_the_command_for_qemu_quotes_every_word(void **state)
{
	const char *const allow[] = { "a.example:1", "[::1]:2" };
	char out[512];
	struct msg m = { "" };

	(void)state;
	assert_int_equal(egress_command("/opt/my vm'ctl", 4100, false, allow, 2, out, sizeof out,
					&m), 0);
	assert_string_equal(out, "'/opt/my vm'\\''ctl' 'egress' '4100' '--allow' 'a.example:1' "
			    "'--allow' '[::1]:2'");
	assert_int_equal(egress_command("/v", 1, true, NULL, 0, out, sizeof out, &m), 0);
	assert_string_equal(out, "'/v' 'egress' '1' '--internet'");
	assert_int_equal(egress_command("/v", 1, true, NULL, 0, out, 24, &m), -1);
	assert_string_equal(m.text, "the egress command for QEMU is longer than 23 bytes.");
}

static void test_a_vm_holds_at_most_the_connection_limit_at_once(void **state)
{
	int fds[EGRESS_MAX_CONNECTIONS], other;

	(void)state;
	for (int i = 0; i < EGRESS_MAX_CONNECTIONS; i++)
		assert_int_not_equal(fds[i] = egress_take_slot(65535), -1);
	assert_int_equal(egress_take_slot(65535), -1);
	/* another VM's places are its own */
	assert_int_not_equal(other = egress_take_slot(65534), -1);
	close(other);
	/* a connection that ends gives its place back */
	close(fds[7]);
	assert_int_not_equal(fds[7] = egress_take_slot(65535), -1);
	for (int i = 0; i < EGRESS_MAX_CONNECTIONS; i++)
		close(fds[i]);
}

/* The proxy's answer to request, with the policy, read from a pipe. */
static char *serve(const struct egress_policy *p, const char *request, size_t len, int *rc)
{
	static char answer[4096];
	int in[2], out[2];
	ssize_t n;
	size_t got = 0;

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(write(in[1], request, len), (ssize_t)len);
	close(in[1]);
	*rc = egress_serve(p, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	while ((n = read(out[0], answer + got, sizeof answer - 1 - got)) > 0)
		got += (size_t)n;
	close(out[0]);
	answer[got] = '\0';
	return answer;
}

static void expect_refusal(const struct egress_policy *p, const char *request, const char *status,
			   const char *sentence)
{
	char want[1024];
	int rc;
	const char *got = serve(p, request, strlen(request), &rc);

	snprintf(want, sizeof want, "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu"
		 "\r\nConnection: close\r\n\r\n%s\n", status, strlen(sentence) + 1, sentence);
	assert_int_equal(rc, -1);
	assert_string_equal(got, want);
}

static void test_the_proxy_refuses_bad_requests_with_a_sentence(void **state)
{
	struct egress_policy internet = { .internet = true };
	static char big[20000];

	(void)state;
	expect_refusal(&internet, "CONNECT 127.0.0.1:9 HTTP/1.1\r\n\r\n", "403 Forbidden",
		       "vmctl egress: 127.0.0.1 is the host's loopback; the sandbox may not reach it.");
	expect_refusal(&internet, "CONNECT [::ffff:127.0.0.1]:9 HTTP/1.1\r\n\r\n", "403 Forbidden",
		       "vmctl egress: ::ffff:127.0.0.1 is the host's loopback; the sandbox may not "
		       "reach it.");
	expect_refusal(&internet, "CONNECT 10.0.2.2:22 HTTP/1.1\r\n\r\n", "403 Forbidden",
		       "vmctl egress: 10.0.2.2 is the host itself; the sandbox may not reach it.");
	expect_refusal(&internet, "GET http://192.168.1.1/ HTTP/1.1\r\n\r\n", "403 Forbidden",
		       "vmctl egress: 192.168.1.1 is a private address; the sandbox may not reach it.");
	expect_refusal(&internet, "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n\r\n",
		       "403 Forbidden",
		       "vmctl egress: 169.254.169.254 is a link-local address; the sandbox may not "
		       "reach it.");
	expect_refusal(&internet, "CONNECT [fd00::1]:443 HTTP/1.1\r\n\r\n", "403 Forbidden",
		       "vmctl egress: fd00::1 is a private address; the sandbox may not reach it.");
	expect_refusal(&internet, "GET http://localhost:9/ HTTP/1.0\n\n", "403 Forbidden",
		       "vmctl egress: localhost resolves to 127.0.0.1, the host's loopback; the "
		       "sandbox may not reach it.");
	expect_refusal(&internet, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "400 Bad Request",
		       "vmctl egress: this is a proxy: ask it for an absolute http:// URL, or "
		       "CONNECT HOST:PORT for anything else.");
	expect_refusal(&internet, "GET ftp://x/ HTTP/1.1\r\n\r\n", "400 Bad Request",
		       "vmctl egress: only http:// URLs and CONNECT go through.");
	expect_refusal(&internet, "CONNECT example.com HTTP/1.1\r\n\r\n", "400 Bad Request",
		       "vmctl egress: CONNECT wants HOST:PORT, not \"example.com\".");
	expect_refusal(&internet, "GET http://user@x/ HTTP/1.1\r\n\r\n", "400 Bad Request",
		       "vmctl egress: the URL's host \"user@x\" is not a host name or address.");
	expect_refusal(&internet, "GET http://a%2fb/ HTTP/1.1\r\n\r\n", "400 Bad Request",
		       "vmctl egress: \"a%2fb\" is not a host name or address.");
	expect_refusal(&internet, "GET http://a\033]0;x\007/ HTTP/1.1\r\n\r\n", "400 Bad Request",
		       "vmctl egress: the request has a control character in it.");
	expect_refusal(&internet, "hello\r\n\r\n", "400 Bad Request",
		       "vmctl egress: the request line is not METHOD TARGET HTTP/1.x.");
	memset(big, 'a', sizeof big - 1);
	memcpy(big, "GET http://x/", 13);
	expect_refusal(&internet, big, "431 Request Header Fields Too Large",
		       "vmctl egress: the request's head is longer than 16384 bytes.");
}

static void test_a_nul_inside_the_head_is_refused(void **state)
{
	struct egress_policy internet = { .internet = true };
	static const char req[] = "GET http://x/ HTTP/1.1\r\nA: b\0c\r\n\r\n";
	int rc;
	const char *got = serve(&internet, req, sizeof req - 1, &rc);

	(void)state;
	assert_int_equal(rc, -1);
	assert_non_null(strstr(got, "\r\n\r\nvmctl egress: the request has a control character in it.\n"));
}

static void test_the_allow_list_refuses_before_any_lookup(void **state)
{
	const char *const allow[] = { "127.0.0.1:1" };
	struct egress_policy p = policy(allow, 1);

	(void)state;
	expect_refusal(&p, "CONNECT no-such-name.invalid:443 HTTP/1.1\r\n\r\n", "403 Forbidden",
		       "vmctl egress: no-such-name.invalid:443 is not on this sandbox's allow-list "
		       "(vmctl start --allow).");
}

/* A server on 127.0.0.1 that answers one request with what it received. */
static pid_t echo_server(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	pid = fork();
	if (pid == 0) {
		char buf[4096], head[256];
		size_t got = 0;
		ssize_t n;
		int c = accept(fd, NULL, NULL);

		while ((n = read(c, buf + got, sizeof buf - 1 - got)) > 0)
			got += (size_t)n;	/* until the proxy passes the client's EOF on */
		snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n", got);
		if (write(c, head, strlen(head)) < 0 || write(c, buf, got) < 0)
			_exit(1);
		_exit(0);
	}
	close(fd);
	return pid;
}

static void test_an_allowed_literal_address_is_relayed_with_the_head_rewritten(void **state)
{
	char allow[32], req[256], want[512];
	const char *const list[] = { allow };
	struct egress_policy p;
	unsigned port;
	pid_t pid = echo_server(&port);
	int rc, status;
	const char *got;
	static const char sent[] = "GET /page?q=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n"
				   "Connection: close\r\n\r\nbody";

	(void)state;
	snprintf(allow, sizeof allow, "127.0.0.1:%u", port);
	p = policy(list, 1);
	snprintf(req, sizeof req, "GET http://127.0.0.1:%u/page?q=1 HTTP/1.1\r\nHost: x\r\n"
		 "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\n"
		 "Accept: */*\r\nConnection: keep-alive\r\n\r\nbody", port);
	got = serve(&p, req, strlen(req), &rc);
	snprintf(want, sizeof want, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
		 sizeof sent - 1, sent);
	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
}

#define ARGV(...) ((char *[]){ "vmctl", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "vmctl", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(a, m, ...) vmctl_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), a, m)

static void test_start_takes_internet_or_allows_and_egress_the_vms_port(void **state)
{
	struct vmctl_args a;
	struct msg m = { "" };
	char *many[4 + 2 * EGRESS_MAX_ALLOW + 1] = { "vmctl", "start" };

	(void)state;
	assert_int_equal(PARSE(&a, &m, "start", "--allow", "a.example:1", "--allow", "[::1]"), 0);
	assert_int_equal(a.nallow, 2);
	assert_string_equal(a.allow[1], "[::1]");
	assert_false(a.internet);
	assert_int_equal(PARSE(&a, &m, "start", "--internet"), 0);
	assert_true(a.internet);
	assert_int_equal(PARSE(&a, &m, "egress", "4100", "--allow", "x:2"), 0);
	assert_int_equal(a.port, 4100);
	assert_int_equal(a.nallow, 1);

	assert_int_equal(PARSE(&a, &m, "egress", "--internet"), -1);
	assert_string_equal(m.text, "egress needs the PORT that vmctl start printed.");
	assert_int_equal(PARSE(&a, &m, "egress", "4100"), -1);
	assert_string_equal(m.text, "egress needs --internet or --allow HOST[:PORT].");
	assert_int_equal(PARSE(&a, &m, "egress", "4100", "--internet", "x"), -1);
	assert_string_equal(m.text, "egress takes no operand \"x\".");
	assert_int_equal(PARSE(&a, &m, "start", "--allow", "x", "--internet"), -1);
	assert_string_equal(m.text, "--internet and --allow do not go together: --internet opens "
			    "every public address, --allow only those it names.");
	for (int i = 0; i < EGRESS_MAX_ALLOW + 1; i++) {
		many[2 + 2 * i] = "--allow";
		many[3 + 2 * i] = "h.example";
	}
	assert_int_equal(vmctl_parse(2 + 2 * EGRESS_MAX_ALLOW, many, &a, &m), 0);
	assert_int_equal(a.nallow, EGRESS_MAX_ALLOW);
	assert_int_equal(vmctl_parse(4 + 2 * EGRESS_MAX_ALLOW, many, &a, &m), -1);
	assert_string_equal(m.text, "--allow: at most 32 hosts.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_ranges_are_classified),
		cmocka_unit_test(test_ipv6_ranges_and_ipv4_inside_them_are_classified),
		cmocka_unit_test(test_the_hosts_own_addresses_are_the_host_itself),
		cmocka_unit_test(test_allow_takes_names_wildcards_and_addresses_with_or_without_a_port),
		cmocka_unit_test(test_allow_refuses_what_is_no_host_or_port),
		cmocka_unit_test(test_the_allow_list_matches_host_and_port_as_the_request_names_them),
		cmocka_unit_test(test_the_command_for_qemu_quotes_every_word),
		cmocka_unit_test(test_a_vm_holds_at_most_the_connection_limit_at_once),
		cmocka_unit_test(test_the_proxy_refuses_bad_requests_with_a_sentence),
		cmocka_unit_test(test_a_nul_inside_the_head_is_refused),
		cmocka_unit_test(test_the_allow_list_refuses_before_any_lookup),
		cmocka_unit_test(test_an_allowed_literal_address_is_relayed_with_the_head_rewritten),
		cmocka_unit_test(test_start_takes_internet_or_allows_and_egress_the_vms_port),
	};

	return cmocka_run_group_tests_name("vmctl egress", tests, NULL, NULL);
}
