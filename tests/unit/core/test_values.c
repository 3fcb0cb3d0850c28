#include "ks_test.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/values.h"

/* Expected values below were worked out by hand from the Kubernetes rules
 * (resource.Quantity, time.ParseDuration, robfig/cron v3), not printed by
 * the code under test. */

struct qty_case {
	const char *in;
	const char *canonical;
};

static const struct qty_case qty_canonical_table[] = {
	{"0", "0"},
	{"0m", "0"},
	{"-0", "0"},
	{"0Mi", "0"},
	{"0e5", "0"},
	{"1", "1"},
	{"+5", "5"},
	{"1000m", "1"},
	{"1500m", "1500m"},
	{"1.5", "1500m"},
	{"0.1", "100m"},
	{".5", "500m"},
	{"5.", "5"},
	{"100m", "100m"},
	{"10", "10"},
	{"100", "100"},
	{"1000", "1k"},
	{"2000", "2k"},
	{"12300", "12300"},
	{"12345", "12345"},
	{"1500M", "1500M"},
	{"1.5G", "1500M"},
	{"1.G", "1G"},
	{"1000k", "1M"},
	{"1E", "1E"},
	{"1n", "1n"},
	{"1000u", "1m"},
	{"0.001m", "1u"},
	{"0.0000000001", "1n"},
	{"-0.0000000001", "-1n"},
	{"1.0000000001", "1000000001n"},
	{"-1.5", "-1500m"},
	{"1e3", "1e3"},
	{"1E3", "1e3"},
	{"1e+3", "1e3"},
	{"1e0", "1"},
	{"1.5e3", "1500"},
	{"1e-3", "1e-3"},
	{"1e-1", "100e-3"},
	{"1Ki", "1Ki"},
	{"1024", "1024"},
	{"1024Ki", "1Mi"},
	{"100Ki", "100Ki"},
	{"1025Ki", "1025Ki"},
	{"4096Mi", "4Gi"},
	{"1536Mi", "1536Mi"},
	{"1.5Gi", "1536Mi"},
	{"0.5Gi", "512Mi"},
	{"0.5Ki", "512"},
	{"1.5Ki", "1536"},
	{"0.1Ki", "102400m"},
	{"-1Ki", "-1Ki"},
	{"-0.5Ki", "-512"},
	{"7Ei", "7Ei"},
	{"9223372036854775807", "9223372036854775807"},
	{"0.000000001Ki", "1024n"},
	{"0.000000000001Ki", "2n"},
};

static void quantity_canonical_forms(void **state)
{
	(void)state;
	size_t n = sizeof(qty_canonical_table) / sizeof(qty_canonical_table[0]);
	for (size_t i = 0; i < n; i++) {
		char out[64] = "";
		int rc = ks_quantity_canonical(qty_canonical_table[i].in, out,
					       sizeof(out));
		if (rc != 0 ||
		    strcmp(out, qty_canonical_table[i].canonical) != 0)
			fail_msg("%s: got rc=%d \"%s\", want \"%s\"",
				 qty_canonical_table[i].in, rc, out,
				 qty_canonical_table[i].canonical);
	}
}

static void quantity_refuses_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"+",
		"-",
		".",
		"-.",
		"1.1.M",
		"1.5.3",
		"1i",
		"1Ki1",
		"1 ",
		" 1",
		"1e",
		"1e+",
		"1e1.5",
		"1K",
		"1KI",
		"1mi",
		"0.1mi",
		"abc",
		"2x",
		"--1",
		"1Mi5",
		"1 Gi",
		"e3",
		"Ki",
		/* too large for an int64 count of units */
		"9223372036854775808",
		"8Ei",
		"10000000000G",
		"1e19",
		"99999999999999999999999999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ks_quantity q;
		if (ks_quantity_parse(bad[i], &q) != KS_EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
}

static void quantity_parse_keeps_exact_value(void **state)
{
	(void)state;
	ks_quantity q;
	assert_int_equal(ks_quantity_parse("500m", &q), 0);
	assert_int_equal(q.value, 5);
	assert_int_equal(q.scale, -1);
	assert_int_equal(q.format, KS_QTY_DECIMAL_SI);
	assert_int_equal(ks_quantity_parse("1.5Gi", &q), 0);
	assert_int_equal(q.value, 1610612736);
	assert_int_equal(q.scale, 0);
	assert_int_equal(q.format, KS_QTY_BINARY_SI);
	assert_int_equal(ks_quantity_parse("1e3", &q), 0);
	assert_int_equal(q.value, 1);
	assert_int_equal(q.scale, 3);
	assert_int_equal(q.format, KS_QTY_DECIMAL_EXP);
	/* A failed parse leaves the output alone. */
	q.value = 42;
	assert_int_equal(ks_quantity_parse("2x", &q), KS_EINVAL);
	assert_int_equal(q.value, 42);
}

static int qcmp(const char *a, const char *b)
{
	ks_quantity qa, qb;
	assert_int_equal(ks_quantity_parse(a, &qa), 0);
	assert_int_equal(ks_quantity_parse(b, &qb), 0);
	int c = ks_quantity_cmp(&qa, &qb);
	return (c > 0) - (c < 0);
}

static void quantity_compares_by_value(void **state)
{
	(void)state;
	assert_int_equal(qcmp("1000m", "1"), 0);
	assert_int_equal(qcmp("1Gi", "1024Mi"), 0);
	assert_int_equal(qcmp("1G", "1Gi"), -1);
	assert_int_equal(qcmp("1Gi", "1G"), 1);
	assert_int_equal(qcmp("500m", "1"), -1);
	assert_int_equal(qcmp("1e3", "1k"), 0);
	assert_int_equal(qcmp("-1", "0"), -1);
	assert_int_equal(qcmp("-2", "-3"), 1);
	assert_int_equal(qcmp("1n", "0"), 1);
	assert_int_equal(qcmp("1E", "1Pi"), 1);
	assert_int_equal(qcmp("0", "-0"), 0);
	assert_int_equal(qcmp("0.5Ki", "512"), 0);
	/* Hand-made quantities with the same value in different scales. */
	ks_quantity a = {1000, -3, KS_QTY_DECIMAL_SI};
	ks_quantity b = {1, 0, KS_QTY_DECIMAL_SI};
	assert_int_equal(ks_quantity_cmp(&a, &b), 0);
}

static void quantity_format_checks_room(void **state)
{
	(void)state;
	ks_quantity q;
	char out[4];
	assert_int_equal(ks_quantity_parse("1536Mi", &q), 0);
	assert_int_equal(ks_quantity_format(&q, out, sizeof(out)), KS_ELIMIT);
	char big[8];
	assert_int_equal(ks_quantity_format(&q, big, sizeof(big)), 0);
	assert_string_equal(big, "1536Mi");
	ks_quantity bad = {1, -12, KS_QTY_DECIMAL_SI};
	assert_int_equal(ks_quantity_format(&bad, big, sizeof(big)), KS_EINVAL);
	assert_int_equal(ks_quantity_canonical("2x", big, sizeof(big)),
			 KS_EINVAL);
}

static void quantity_server_text_keeps_canonical_spellings(void **state)
{
	(void)state;
	static const struct qty_case cases[] = {
		/* kept: the fast path finds them canonical */
		{"0", "0"},
		{"+5", "+5"},
		{"05", "05"},
		{"1.500", "1.500"},
		{"1E3", "1E3"},
		{"1e+3", "1e+3"},
		{"1e03", "1e03"},
		{"500m", "500m"},
		{"1500M", "1500M"},
		{"3Gi", "3Gi"},
		{"+3Gi", "+3Gi"},
		{"09Gi", "09Gi"},
		{"1025Ki", "1025Ki"},
		{"12345", "12345"},
		/* rewritten */
		{"-0", "0"},
		{"00", "0"},
		{"0.5", "500m"},
		{"1.5", "1500m"},
		{"1.50", "1500m"},
		{"1000m", "1"},
		{"2000", "2k"},
		{"4096Mi", "4Gi"},
		{"08Gi", "8Gi"},
		{"1536Mi", "1536Mi"},
		{"1.5Gi", "1536Mi"},
		{"1e-1", "100e-3"},
		{"1.0000000001", "1000000001n"},
		/* 100Ti is past the fast path's precision: canonical */
		{"100Ti", "100Ti"},
		{"3Pi", "3Pi"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64] = "";
		int rc = ks_quantity_server_text(cases[i].in, out, sizeof(out));
		if (rc != 0 || strcmp(out, cases[i].canonical) != 0)
			fail_msg("%s: got rc=%d \"%s\", want \"%s\"",
				 cases[i].in, rc, out, cases[i].canonical);
	}
	char out[4];
	assert_int_equal(ks_quantity_server_text("2x", out, sizeof(out)),
			 KS_EINVAL);
	assert_int_equal(ks_quantity_server_text("1.500", out, sizeof(out)),
			 KS_ELIMIT);
}

static void quantity_scaled_rounds_up(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int32_t scale;
		int64_t want;
	} cases[] = {
		{"1.5", -3, 1500},
		{"1", -3, 1000},
		{"1n", -3, 1},
		{"-1n", -3, -1},
		{"100m", 0, 1},
		{"1Ki", 0, 1024},
		{"1Ki", 3, 2},
		{"1Gi", -9, 1073741824000000000LL},
		{"250m", -3, 250},
		{"0", 0, 0},
		{"1500M", 9, 2},
		{"1E", 0, 1000000000000000000LL},
		{"1E", 30, 1},
		{"7Ei", 0, 8070450532247928832LL},
		{"1", -18, 1000000000000000000LL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ks_quantity q;
		int64_t v = -99;
		assert_int_equal(ks_quantity_parse(cases[i].in, &q), 0);
		int rc = ks_quantity_scaled(&q, cases[i].scale, &v);
		if (rc != 0 || v != cases[i].want)
			fail_msg("%s at 10^%d: got rc=%d %lld, want %lld",
				 cases[i].in, cases[i].scale, rc, (long long)v,
				 (long long)cases[i].want);
	}
	ks_quantity q;
	int64_t v = 5;
	assert_int_equal(ks_quantity_parse("10", &q), 0);
	assert_int_equal(ks_quantity_scaled(&q, -18, &v), KS_ELIMIT);
	assert_int_equal(ks_quantity_parse("1G", &q), 0);
	assert_int_equal(ks_quantity_scaled(&q, -9, &v), 0);
	assert_int_equal(ks_quantity_parse("10G", &q), 0);
	assert_int_equal(ks_quantity_scaled(&q, -9, &v), KS_ELIMIT);
}

/* A small deterministic generator, so that failures reproduce. */
static uint64_t rng_next(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return *st;
}

static void random_quantity(uint64_t *st, char *buf, size_t len)
{
	static const char *const sufs[] = {
		"",   "n",  "u",   "m",	  "k",	 "M",	"G",	"T",
		"P",  "E",  "Ki",  "Mi",  "Gi",	 "Ti",	"Pi",	"Ei",
		"e0", "e3", "e-3", "e-2", "E+5", "e-9", "e-12", "e17",
	};
	size_t n = 0;
	uint64_t r = rng_next(st);
	if (r % 4 == 0)
		buf[n++] = r % 8 == 0 ? '-' : '+';
	int ints = (int)(rng_next(st) % 8), fracs = (int)(rng_next(st) % 12);
	for (int i = 0; i < ints; i++)
		buf[n++] = (char)('0' + rng_next(st) % 10);
	if (fracs > 0 || ints == 0) {
		buf[n++] = '.';
		for (int i = 0; i < fracs || (ints == 0 && i == 0); i++)
			buf[n++] = (char)('0' + rng_next(st) % 10);
	}
	snprintf(buf + n, len - n, "%s",
		 sufs[rng_next(st) % (sizeof(sufs) / sizeof(sufs[0]))]);
}

static void quantity_canonical_is_stable(void **state)
{
	(void)state;
	uint64_t st = 0x9e3779b97f4a7c15ULL;
	int parsed = 0;
	for (int i = 0; i < 20000; i++) {
		char in[64], c1[64], c2[64], sv[64];
		random_quantity(&st, in, sizeof(in));
		ks_quantity q, q1, qs;
		if (ks_quantity_parse(in, &q) < 0)
			continue;
		parsed++;
		assert_int_equal(ks_quantity_format(&q, c1, sizeof(c1)), 0);
		if (ks_quantity_parse(c1, &q1) < 0 ||
		    ks_quantity_cmp(&q, &q1) != 0)
			fail_msg("%s -> %s changes the value", in, c1);
		assert_int_equal(ks_quantity_canonical(c1, c2, sizeof(c2)), 0);
		if (strcmp(c1, c2) != 0)
			fail_msg("%s -> %s -> %s is not stable", in, c1, c2);
		assert_int_equal(ks_quantity_server_text(in, sv, sizeof(sv)),
				 0);
		if (ks_quantity_parse(sv, &qs) < 0 ||
		    ks_quantity_cmp(&q, &qs) != 0)
			fail_msg("%s -> server text %s changes the value", in,
				 sv);
	}
	/* The generator must mostly produce quantities we accept. */
	assert_true(parsed > 12000);
}

struct dur_case {
	const char *in;
	int64_t ms;
};

static void duration_parses(void **state)
{
	(void)state;
	static const struct dur_case ok[] = {
		{"0", 0},
		{"0s", 0},
		{"+5s", 5000},
		{"90s", 90000},
		{"10m", 600000},
		{"1h", 3600000},
		{"1h30m", 5400000},
		{"250ms", 250},
		{"1.5h", 5400000},
		{".5s", 500},
		{"1.s", 1000},
		{"2h45m30.5s", 9930500},
		{"1ms", 1},
		{"1000us", 1},
		{"1500us", 1},
		{"1000\xc2\xb5s", 1},
		{"1000\xce\xbcs", 1},
		{"1000000ns", 1},
		{"1m1m", 120000},
		{"999999h", 3599996400000LL},
		{"0.0015s", 1},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ms = -1;
		int rc = ks_duration_parse(ok[i].in, &ms);
		if (rc != 0 || ms != ok[i].ms)
			fail_msg("%s: got rc=%d %lld, want %lld", ok[i].in, rc,
				 (long long)ms, (long long)ok[i].ms);
	}
}

static void duration_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"-5s",
		"-0",
		"10",
		"1.5",
		"1x",
		"s",
		".s",
		"1h-5m",
		"1 h",
		" 1h",
		"1h ",
		"h1",
		"1us",
		"999ns",
		"1hh",
		"1H",
		"3000000h",
		"9223372036854775808ns",
		"5m.",
		"+",
		"1e3s",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 77;
		if (ks_duration_parse(bad[i], &ms) != KS_EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(ms, 77);
	}
}

static void duration_formats(void **state)
{
	(void)state;
	static const struct {
		int64_t ms;
		const char *text;
	} fmt[] = {
		{0, "0s"},	     {250, "250ms"},	 {1000, "1s"},
		{1500, "1.5s"},	     {1001, "1.001s"},	 {90000, "1m30s"},
		{600000, "10m"},     {3600000, "1h"},	 {5400000, "1h30m"},
		{3661000, "1h1m1s"}, {3605000, "1h5s"},	 {86400000, "24h"},
		{-1000, "-1s"},	     {61250, "1m1.25s"},
	};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char out[64];
		ks_duration_format(fmt[i].ms, out, sizeof(out));
		if (strcmp(out, fmt[i].text) != 0)
			fail_msg("%lld: got \"%s\", want \"%s\"",
				 (long long)fmt[i].ms, out, fmt[i].text);
		int64_t back = -1;
		if (fmt[i].ms >= 0) {
			assert_int_equal(ks_duration_parse(out, &back), 0);
			assert_int_equal(back, fmt[i].ms);
		}
	}
	char small[4];
	ks_duration_format(5400000, small, sizeof(small));
	assert_string_equal(small, "1h3");
	char buf[64];
	ks_duration_format(INT64_MIN, buf, sizeof(buf));
	assert_true(buf[0] == '-');
}

static void duration_format_round_trips(void **state)
{
	(void)state;
	uint64_t st = 12345;
	for (int i = 0; i < 20000; i++) {
		/* Go's limit, 2^63-1 ns, caps what parses. */
		uint64_t r = rng_next(&st) >> (rng_next(&st) % 64);
		int64_t ms = (int64_t)(r % (uint64_t)(INT64_MAX / 1000000 + 1));
		char out[32];
		int64_t back = -1;
		ks_duration_format(ms, out, sizeof(out));
		if (ks_duration_parse(out, &back) != 0 || back != ms)
			fail_msg("%lld -> \"%s\" -> %lld", (long long)ms, out,
				 (long long)back);
	}
}

static void cron_accepts(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"* * * * *",	     "*/5 * * * *",
		"0 0 * * *",	     "0 9-17 * * MON-FRI",
		"0 0 1 JAN *",	     "0 0 1 jan,Jul *",
		"0 0 * * sun",	     "15,45 */2 1-10/3 * 0",
		"0 0 ? * SUN",	     "59 23 31 12 6",
		"0 0 1 1 0",	     "5/15 * * * *",
		"0 0 * JAN/2 *",     "05 07 * * *",
		" 0 0 * * * ",	     "0\t0  * *\t*",
		"*/60 * * * *",	     "*/1000 * * * *",
		"0 0 */2 */3 MON/2", "? ? ? ? ?",
		"@hourly",	     "@daily",
		"@midnight",	     "@weekly",
		"@monthly",	     "@yearly",
		"@annually",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char why[160] = "";
		if (ks_cron_check(ok[i], why, sizeof(why)) != 0)
			fail_msg("\"%s\" refused: %s", ok[i], why);
	}
}

struct cron_bad {
	const char *expr;
	const char *why; /* exact, or a substring when it ends in '*' */
};

static void cron_refuses(void **state)
{
	(void)state;
	static const struct cron_bad bad[] = {
		{"0 25 * * *", "field 2 (hour): 25 is out of range 0-23"},
		{"60 * * * *", "field 1 (minute): 60 is out of range 0-59"},
		{"0 0 0 * *", "field 3 (day of month): 0 is out of range 1-31"},
		{"0 0 32 * *",
		 "field 3 (day of month): 32 is out of range 1-31"},
		{"0 0 * 13 *", "field 4 (month): 13 is out of range 1-12"},
		{"0 0 * 0 *", "field 4 (month): 0 is out of range 1-12"},
		{"0 0 * * 7", "field 5 (day of week): 7 is out of range 0-6 "
			      "(Sunday is 0)"},
		{"0 0 * * 1-7", "field 5 (day of week): 7 is out of range 0-6 "
				"(Sunday is 0)"},
		{"5-1 * * * *",
		 "field 1 (minute): range \"5-1\" starts after it ends"},
		{"0 0 * * FRI-MON",
		 "field 5 (day of week): range \"FRI-MON\" starts after it "
		 "ends"},
		{"*/0 * * * *",
		 "field 1 (minute): step in \"*/0\" must be positive"},
		{"*/00 * * * *",
		 "field 1 (minute): step in \"*/00\" must be positive"},
		{"1-10/0 * * * *",
		 "field 1 (minute): step in \"1-10/0\" must be positive"},
		{"* * * *", "expected 5 fields (minute hour day-of-month month "
			    "day-of-week), found 4"},
		{"0 * * * * *", "expected 5 fields (minute hour day-of-month "
				"month day-of-week), found 6"},
		{"0 0 * * * * *", "expected 5 fields (minute hour "
				  "day-of-month month day-of-week), found 7"},
		{"", "empty schedule"},
		{"   ", "expected 5 fields (minute hour day-of-month month "
			"day-of-week), found 0"},
		{"TZ=UTC 0 * * * *", "TZ= and CRON_TZ= are not allowed*"},
		{"0 0 * * * TZ=UTC", "TZ= and CRON_TZ= are not allowed*"},
		{"CRON_TZ=Europe/Berlin 0 * * * *",
		 "TZ= and CRON_TZ= are not allowed*"},
		{"@every 1h", "unknown macro \"@every 1h\"*"},
		{"@daily ", "unknown macro*"},
		{"@Daily", "unknown macro*"},
		{"1,,2 * * * *", "field 1 (minute): empty item in list"},
		{"1, * * * *", "field 1 (minute): empty item in list"},
		{"a * * * *", "field 1 (minute): \"a\" is not a number"},
		{"0 0 * FOO *",
		 "field 4 (month): \"FOO\" is not a number or a name"},
		{"0 0 * * MON-", "field 5 (day of week): a value is missing"},
		{"-1 * * * *", "field 1 (minute): a value is missing"},
		{"1-2-3 * * * *",
		 "field 1 (minute): \"1-2-3\" has more than one '-'"},
		{"*/x * * * *", "field 1 (minute): step \"x\" is not a number"},
		{"*/5/2 * * * *",
		 "field 1 (minute): \"*/5/2\" has more than one '/'"},
		{"*/ * * * *",
		 "field 1 (minute): \"*/\" has no step after '/'"},
		{"0 0 * * MONDAY",
		 "field 5 (day of week): \"MONDAY\" is not a number or a "
		 "name"},
		{"0 0 JAN * *",
		 "field 3 (day of month): \"JAN\" is not a number"},
		{"0 0 * * 99999999999",
		 "field 5 (day of week): 99999999999 is out of range 0-6"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char why[200] = "";
		if (ks_cron_check(bad[i].expr, why, sizeof(why)) != KS_EINVAL)
			fail_msg("\"%s\" was accepted", bad[i].expr);
		size_t wl = strlen(bad[i].why);
		bool prefix = wl && bad[i].why[wl - 1] == '*';
		bool match = prefix ? strncmp(why, bad[i].why, wl - 1) == 0
				    : strcmp(why, bad[i].why) == 0;
		if (!match)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].expr,
				 why, bad[i].why);
	}
	/* WHY may be NULL or tiny. */
	assert_int_equal(ks_cron_check("0 25 * * *", NULL, 0), KS_EINVAL);
	char tiny[6];
	assert_int_equal(ks_cron_check("0 25 * * *", tiny, sizeof(tiny)),
			 KS_EINVAL);
	assert_string_equal(tiny, "field");
}

/* A string of N copies of C, in a static buffer (n < 300). */
static const char *rep(char c, size_t n)
{
	static char buf[2][300];
	static int which;
	which ^= 1;
	memset(buf[which], c, n);
	buf[which][n] = '\0';
	return buf[which];
}

static void names_dns(void **state)
{
	(void)state;
	assert_true(ks_is_dns1123_label("a"));
	assert_true(ks_is_dns1123_label("0"));
	assert_true(ks_is_dns1123_label("my-app-1"));
	assert_true(ks_is_dns1123_label("1abc"));
	assert_true(ks_is_dns1123_label(rep('a', 63)));
	assert_false(ks_is_dns1123_label(rep('a', 64)));
	assert_false(ks_is_dns1123_label(""));
	assert_false(ks_is_dns1123_label("-a"));
	assert_false(ks_is_dns1123_label("a-"));
	assert_false(ks_is_dns1123_label("My-app"));
	assert_false(ks_is_dns1123_label("a.b"));
	assert_false(ks_is_dns1123_label("a_b"));

	assert_true(ks_is_dns1123_subdomain("a"));
	assert_true(ks_is_dns1123_subdomain("example.com"));
	assert_true(ks_is_dns1123_subdomain("a-b.c-d.e"));
	assert_true(ks_is_dns1123_subdomain("1.2.3"));
	assert_false(ks_is_dns1123_subdomain(""));
	assert_false(ks_is_dns1123_subdomain("a..b"));
	assert_false(ks_is_dns1123_subdomain(".a"));
	assert_false(ks_is_dns1123_subdomain("a."));
	assert_false(ks_is_dns1123_subdomain("a.-b"));
	assert_false(ks_is_dns1123_subdomain("a-.b"));
	assert_false(ks_is_dns1123_subdomain("Example.com"));
	assert_false(ks_is_dns1123_subdomain("a_b.com"));
	assert_true(ks_is_dns1123_subdomain(rep('a', 253)));
	assert_false(ks_is_dns1123_subdomain(rep('a', 254)));
	/* Kubernetes limits the total only, not each label. */
	assert_true(ks_is_dns1123_subdomain(rep('a', 100)));

	assert_true(ks_is_dns1035_label("a"));
	assert_true(ks_is_dns1035_label("web-1"));
	assert_true(ks_is_dns1035_label(rep('z', 63)));
	assert_false(ks_is_dns1035_label(rep('z', 64)));
	assert_false(ks_is_dns1035_label("1web"));
	assert_false(ks_is_dns1035_label("-web"));
	assert_false(ks_is_dns1035_label("web-"));
	assert_false(ks_is_dns1035_label("Web"));
	assert_false(ks_is_dns1035_label(""));
}

static const char chars_problem[] =
	"must consist of alphanumeric characters, '-', '_' or '.', and must "
	"start and end with an alphanumeric character";

static void names_label_keys(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"app",
		"App.Name_1-x",
		"a",
		"Z9",
		"example.com/name",
		"app.kubernetes.io/managed-by",
		"k8s.io/A_b.c",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ks_label_key_problem(ok[i]))
			fail_msg("\"%s\": %s", ok[i],
				 ks_label_key_problem(ok[i]));
	assert_null(ks_label_key_problem(rep('k', 63)));
	assert_string_equal(ks_label_key_problem(rep('k', 64)),
			    "must be 63 characters or less");
	assert_string_equal(ks_label_key_problem(""), "must not be empty");
	assert_string_equal(ks_label_key_problem("-app"), chars_problem);
	assert_string_equal(ks_label_key_problem("app_"), chars_problem);
	assert_string_equal(ks_label_key_problem("a b"), chars_problem);
	assert_string_equal(ks_label_key_problem("example.com/"),
			    "name after '/' must not be empty");
	assert_string_equal(ks_label_key_problem("/name"),
			    "prefix before '/' must not be empty");
	assert_non_null(ks_label_key_problem("a/b/c"));
	assert_non_null(strstr(ks_label_key_problem("Example.com/x"),
			       "prefix before '/' must be a DNS subdomain"));
	assert_non_null(ks_label_key_problem("ex_ample.com/x"));
	assert_string_equal(ks_label_key_problem("example.com/-x"),
			    chars_problem);

	char key[400];
	snprintf(key, sizeof(key), "%s/%s", rep('p', 253), "n");
	assert_null(ks_label_key_problem(key));
	snprintf(key, sizeof(key), "%s/%s", rep('p', 254), "n");
	assert_string_equal(ks_label_key_problem(key),
			    "prefix before '/' must be 253 characters or less");
	snprintf(key, sizeof(key), "p/%s", rep('n', 63));
	assert_null(ks_label_key_problem(key));
	snprintf(key, sizeof(key), "p/%s", rep('n', 64));
	assert_string_equal(ks_label_key_problem(key),
			    "name after '/' must be 63 characters or less");
}

static void names_annotation_keys(void **state)
{
	(void)state;
	assert_null(ks_annotation_key_problem("Example.COM/Key"));
	assert_null(ks_annotation_key_problem("kusync.io/last-applied"));
	assert_non_null(ks_label_key_problem("Example.COM/Key"));
	assert_string_equal(ks_annotation_key_problem(rep('K', 64)),
			    "must be 63 characters or less");
	assert_string_equal(ks_annotation_key_problem("a_b.com/x"),
			    "prefix before '/' must be a DNS subdomain: "
			    "lowercase alphanumeric characters, '-' or '.', "
			    "starting and ending with an alphanumeric "
			    "character");
	assert_string_equal(ks_annotation_key_problem("x/"),
			    "name after '/' must not be empty");
	char key[700];
	snprintf(key, sizeof(key), "%s/%s", rep('P', 253), rep('n', 63));
	assert_null(ks_annotation_key_problem(key));
	snprintf(key, sizeof(key), "%s/%s", rep('P', 254), "n");
	assert_non_null(ks_annotation_key_problem(key));
}

static void names_label_values(void **state)
{
	(void)state;
	assert_null(ks_label_value_problem(""));
	assert_null(ks_label_value_problem("v1"));
	assert_null(ks_label_value_problem("My_Value.2-x"));
	assert_null(ks_label_value_problem("a"));
	assert_null(ks_label_value_problem(rep('v', 63)));
	assert_string_equal(ks_label_value_problem(rep('v', 64)),
			    "must be 63 characters or less");
	assert_string_equal(ks_label_value_problem("-v"), chars_problem);
	assert_string_equal(ks_label_value_problem("v."), chars_problem);
	assert_string_equal(ks_label_value_problem("a/b"), chars_problem);
	assert_string_equal(ks_label_value_problem("a b"), chars_problem);
	assert_string_equal(ks_label_value_problem("_"), chars_problem);
}

static void names_env(void **state)
{
	(void)state;
	assert_true(ks_is_env_name("PATH"));
	assert_true(ks_is_env_name("_x"));
	assert_true(ks_is_env_name("my.var-1"));
	assert_true(ks_is_env_name("-a"));
	assert_true(ks_is_env_name("."));
	assert_true(ks_is_env_name("a9"));
	assert_false(ks_is_env_name(""));
	assert_false(ks_is_env_name("1A"));
	assert_false(ks_is_env_name("A B"));
	assert_false(ks_is_env_name("A=B"));
	assert_false(ks_is_env_name("A$"));
}

static void did_you_mean_picks_close_words(void **state)
{
	(void)state;
	static const char *const keys[] = {"replicas", "resources", "image",
					   "ports",    "env",	    "envFrom"};
	size_t n = sizeof(keys) / sizeof(keys[0]);
	assert_string_equal(ks_did_you_mean("replcas", keys, n), "replicas");
	assert_string_equal(ks_did_you_mean("Replicas", keys, n), "replicas");
	assert_string_equal(ks_did_you_mean("imgae", keys, n), "image");
	assert_string_equal(ks_did_you_mean("porst", keys, n), "ports");
	assert_string_equal(ks_did_you_mean("ENV", keys, n), "env");
	assert_string_equal(ks_did_you_mean("evn", keys, n), "env");
	assert_string_equal(ks_did_you_mean("envfrom", keys, n), "envFrom");
	assert_string_equal(ks_did_you_mean("resorces", keys, n), "resources");
	assert_string_equal(ks_did_you_mean("rsources", keys, n), "resources");
	assert_null(ks_did_you_mean("xyz", keys, n));
	assert_null(ks_did_you_mean("im", keys, n));
	assert_null(ks_did_you_mean("reXXXcas", keys, n));
	/* Three letters allow one edit only. */
	assert_null(ks_did_you_mean("eXX", keys, n));
	assert_null(ks_did_you_mean("replicas", keys, 0));
	static const char *const tie[] = {"abcd", "abce"};
	assert_string_equal(ks_did_you_mean("abcf", tie, 2), "abcd");
	/* A case-insensitive match beats an earlier near miss. */
	static const char *const cs[] = {"Imagex", "IMAGE"};
	assert_string_equal(ks_did_you_mean("image", cs, 2), "IMAGE");
}

static int values_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quantity_canonical_forms),
		cmocka_unit_test(quantity_refuses_malformed),
		cmocka_unit_test(quantity_parse_keeps_exact_value),
		cmocka_unit_test(quantity_compares_by_value),
		cmocka_unit_test(quantity_format_checks_room),
		cmocka_unit_test(
			quantity_server_text_keeps_canonical_spellings),
		cmocka_unit_test(quantity_scaled_rounds_up),
		cmocka_unit_test(quantity_canonical_is_stable),
		cmocka_unit_test(duration_parses),
		cmocka_unit_test(duration_refuses),
		cmocka_unit_test(duration_formats),
		cmocka_unit_test(duration_format_round_trips),
		cmocka_unit_test(cron_accepts),
		cmocka_unit_test(cron_refuses),
		cmocka_unit_test(names_dns),
		cmocka_unit_test(names_label_keys),
		cmocka_unit_test(names_annotation_keys),
		cmocka_unit_test(names_label_values),
		cmocka_unit_test(names_env),
		cmocka_unit_test(did_you_mean_picks_close_words),
	};
	return cmocka_run_group_tests_name("core/values", tests, NULL, NULL);
}
KS_TEST_GROUP(values_tests)
