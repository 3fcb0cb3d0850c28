#include "ks_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/error.h"

/* The test vectors of RFC 4648 section 10. */
static const char *const vectors[][2] = {
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

static void rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		char *enc =
			ks_base64_encode(vectors[i][0], strlen(vectors[i][0]));
		assert_string_equal(enc, vectors[i][1]);
		free(enc);
		char *dec = NULL;
		size_t len = 0;
		assert_int_equal(ks_base64_decode(vectors[i][1], &dec, &len),
				 0);
		assert_int_equal(len, strlen(vectors[i][0]));
		assert_memory_equal(dec, vectors[i][0], len);
		free(dec);
	}
}

static void decode_accepts_url_alphabet_and_white_space(void **state)
{
	(void)state;
	char *dec = NULL;
	size_t len = 0;
	/* 0xfb 0xff in both alphabets, with a line break and no padding */
	assert_int_equal(ks_base64_decode("-_8\n", &dec, &len), 0);
	assert_int_equal(len, 2);
	assert_int_equal((unsigned char)dec[0], 0xfb);
	assert_int_equal((unsigned char)dec[1], 0xff);
	free(dec);
	assert_int_equal(ks_base64_decode("+/8=", &dec, &len), 0);
	assert_int_equal((unsigned char)dec[0], 0xfb);
	free(dec);
}

static void decode_refuses_foreign_characters(void **state)
{
	(void)state;
	char *dec = NULL;
	size_t len = 0;
	assert_int_equal(ks_base64_decode("Zm9v!", &dec, &len), KS_EINVAL);
	assert_null(dec);
}

static void binary_round_trip(void **state)
{
	(void)state;
	unsigned char bytes[256];
	for (int i = 0; i < 256; i++)
		bytes[i] = (unsigned char)(255 - i);
	char *enc = ks_base64_encode(bytes, sizeof(bytes));
	char *dec = NULL;
	size_t len = 0;
	assert_int_equal(ks_base64_decode(enc, &dec, &len), 0);
	assert_int_equal(len, sizeof(bytes));
	assert_memory_equal(dec, bytes, len);
	free(enc);
	free(dec);
}

static int base64_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4648_vectors),
		cmocka_unit_test(decode_accepts_url_alphabet_and_white_space),
		cmocka_unit_test(decode_refuses_foreign_characters),
		cmocka_unit_test(binary_round_trip),
	};
	return cmocka_run_group_tests_name("core/base64", tests, NULL, NULL);
}
KS_TEST_GROUP(base64_tests)
