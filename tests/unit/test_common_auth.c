/* test_common_auth.c - SHA-256 and HMAC-SHA256 against their published vectors
 * (FIPS 180-4's examples, RFC 4231), and the handshake's proofs built on them. */
#include "auth.h"
#include "sha256.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void assert_sha256(const void *data, size_t len, const char *want)
{
	uint8_t d[SHA256_SIZE];
	char got[2 * SHA256_SIZE + 1];

	sha256(data, len, d);
	hex(d, sizeof d, got);
	assert_string_equal(got, want);
}

static void test_sha256_of_the_fips_180_4_examples(void **state)
{
	(void)state;
	assert_sha256("abc", 3,
		      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* two blocks: the padding does not fit after 56 bytes */
	assert_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_of_a_million_a_fed_in_uneven_pieces(void **state)
{
	struct sha256 c;
	uint8_t d[SHA256_SIZE], chunk[997];
	char got[2 * SHA256_SIZE + 1];
	size_t left = 1000000;

	(void)state;
	memset(chunk, 'a', sizeof chunk);
	sha256_init(&c);
	while (left) {
		size_t n = left < sizeof chunk ? left : sizeof chunk;

		sha256_update(&c, chunk, n);
		left -= n;
	}
	sha256_final(&c, d);
	hex(d, sizeof d, got);
	assert_string_equal(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void assert_hmac(const uint8_t *key, size_t key_len, const void *data, size_t len,
			const char *want)
{
	uint8_t mac[SHA256_SIZE];
	char got[2 * SHA256_SIZE + 1];
	const void *parts[] = { data };
	const size_t lens[] = { len };

	hmac_sha256(key, key_len, parts, lens, 1, mac);
	hex(mac, sizeof mac, got);
	got[strlen(want)] = '\0';	/* case 5 compares a truncated MAC */
	assert_string_equal(got, want);
}

static void test_hmac_sha256_of_the_rfc_4231_cases(void **state)
{
	uint8_t k[131], d[50];

	(void)state;
	memset(k, 0x0b, 20);
	assert_hmac(k, 20, "Hi There", 8,
		    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_hmac((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
		    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(k, 0xaa, 20);
	memset(d, 0xdd, 50);
	assert_hmac(k, 20, d, 50,
		    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	for (int i = 0; i < 25; i++)
		k[i] = (uint8_t)(i + 1);
	memset(d, 0xcd, 50);
	assert_hmac(k, 25, d, 50,
		    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
	memset(k, 0x0c, 20);
	assert_hmac(k, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b");
	/* keys longer than a block are hashed first */
	memset(k, 0xaa, 131);
	assert_hmac(k, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
		    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	assert_hmac(k, 131, "This is a test using a larger than block-size key and a larger "
		    "than block-size data. The key needs to be hashed before being used by the "
		    "HMAC algorithm.", 152,
		    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_hmac_of_parts_is_the_hmac_of_their_concatenation(void **state)
{
	const void *parts[] = { "what do ya ", "", "want for nothing?" };
	const size_t lens[] = { 11, 0, 17 };
	uint8_t mac[SHA256_SIZE];
	char got[2 * SHA256_SIZE + 1];

	(void)state;
	hmac_sha256("Jefe", 4, parts, lens, 3, mac);
	hex(mac, sizeof mac, got);
	assert_string_equal(got, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static const char secret[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char nc[] = "1111111111111111111111111111111111111111111111111111111111111111";
static const char ns[] = "2222222222222222222222222222222222222222222222222222222222222222";

static void test_a_proof_is_the_hmac_of_label_and_both_nonces_under_the_secret(void **state)
{
	char proof[AUTH_HEX + 1];

	(void)state;
	auth_proof(secret, AUTH_SERVER, nc, ns, proof);
	/* openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f on
	 * "vmd server" + 64 '1' + 64 '2' */
	assert_string_equal(proof,
			    "6578c3c3973877864c529e35f73ac2d922afa5c6de7303d5ca539b26df492190");
	auth_proof(secret, AUTH_CLIENT, nc, ns, proof);
	assert_string_equal(proof,
			    "530a1db7472cdd1133779e94aa7ddaf069eaf8fdf4f1eedca75f805a48320761");
}

static void test_a_proof_holds_for_one_side_one_pair_of_nonces_and_one_secret(void **state)
{
	char a[AUTH_HEX + 1], b[AUTH_HEX + 1];
	char other[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1e";

	(void)state;
	auth_proof(secret, AUTH_SERVER, nc, ns, a);
	auth_proof(secret, AUTH_SERVER, nc, ns, b);
	assert_true(auth_equal(a, b));
	auth_proof(secret, AUTH_CLIENT, nc, ns, b);
	assert_false(auth_equal(a, b));
	auth_proof(secret, AUTH_SERVER, ns, nc, b);	/* the nonces swapped */
	assert_false(auth_equal(a, b));
	auth_proof(other, AUTH_SERVER, nc, ns, b);
	assert_false(auth_equal(a, b));
}

static void test_only_64_lowercase_hex_digits_are_a_nonce(void **state)
{
	char n[AUTH_HEX + 1], m[AUTH_HEX + 1];

	(void)state;
	assert_true(auth_hex_valid(nc, 64));
	assert_false(auth_hex_valid(nc, 63));
	assert_false(auth_hex_valid(NULL, 64));
	assert_false(auth_hex_valid("111111111111111111111111111111111111111111111111111111111111111A",
				    64));
	assert_false(auth_hex_valid("11111111111111111111111111111111111111111111111111111111111111 1",
				    64));
	assert_int_equal(auth_nonce(n), 0);
	assert_int_equal(auth_nonce(m), 0);
	assert_true(auth_hex_valid(n, strlen(n)));
	assert_false(auth_equal(n, m));
	assert_int_equal(auth_nonce_unwaited(m), 0);
	assert_true(auth_hex_valid(m, strlen(m)));
	assert_false(auth_equal(n, m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_of_the_fips_180_4_examples),
		cmocka_unit_test(test_sha256_of_a_million_a_fed_in_uneven_pieces),
		cmocka_unit_test(test_hmac_sha256_of_the_rfc_4231_cases),
		cmocka_unit_test(test_hmac_of_parts_is_the_hmac_of_their_concatenation),
		cmocka_unit_test(test_a_proof_is_the_hmac_of_label_and_both_nonces_under_the_secret),
		cmocka_unit_test(test_a_proof_holds_for_one_side_one_pair_of_nonces_and_one_secret),
		cmocka_unit_test(test_only_64_lowercase_hex_digits_are_a_nonce),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
