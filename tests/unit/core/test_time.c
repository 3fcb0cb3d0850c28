/* RFC 3339 times as the API server (MicroTime, Time) and Git hosts write
 * them; expected values worked out by hand (`date -u -d ... +%s`). */
#include "ks_test.h"

#include "core/values.h"

static void times_parse_to_microseconds(void **state)
{
	(void)state;
	/* 2026-11-25T08:00:00Z = 1795593600 */
	assert_int_equal(ks_time_parse_us("2026-11-25T08:00:00Z"),
			 1795593600LL * 1000000);
	assert_int_equal(ks_time_parse_us("1970-01-01T00:00:00Z"), 0);
	/* MicroTime, as in a Lease's renewTime */
	assert_int_equal(ks_time_parse_us("2026-11-25T08:00:00.123456Z"),
			 1795593600LL * 1000000 + 123456);
	/* a short fraction is tenths, extra digits are ignored */
	assert_int_equal(ks_time_parse_us("2026-11-25T08:00:00.5Z"),
			 1795593600LL * 1000000 + 500000);
	assert_int_equal(ks_time_parse_us("2026-11-25T08:00:00.1234567Z"),
			 1795593600LL * 1000000 + 123456);
	/* offsets: 10:30+02:00 is 08:30Z */
	assert_int_equal(ks_time_parse_us("2026-11-25T10:30:00+02:00"),
			 (1795593600LL + 1800) * 1000000);
	assert_int_equal(ks_time_parse_us("2026-11-25 08:00:00z"),
			 1795593600LL * 1000000);
	/* leap day, 2024-02-29T00:00:00Z = 1709164800 */
	assert_int_equal(ks_time_parse_us("2024-02-29T00:00:00Z"),
			 1709164800LL * 1000000);
}

static void malformed_times_are_refused(void **state)
{
	(void)state;
	const char *bad[] = {
		NULL,
		"",
		"2026-11-25",
		"2026-11-25T08:00:00",
		"2026-13-01T00:00:00Z",
		"2026-11-25T24:00:00Z",
		"2026-11-25T08:60:00Z",
		"2026-11-25T08:00:00+0200",
		"2026-11-25T08:00:00Zjunk",
		"26-11-25T08:00:00Z",
		"1969-12-31T23:59:59Z",
		"2026-11-25X08:00:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ks_time_parse_us(bad[i]), -1);
}

static int time_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(times_parse_to_microseconds),
		cmocka_unit_test(malformed_times_are_refused),
	};
	return cmocka_run_group_tests_name("core/time", tests, NULL, NULL);
}
KS_TEST_GROUP(time_tests)
