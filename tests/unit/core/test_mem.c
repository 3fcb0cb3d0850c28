#include "ks_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"

static void buf_cap_refuses_and_keeps(void **state)
{
	(void)state;
	ks_buf b;
	ks_buf_init(&b, 8);
	assert_int_equal(ks_buf_puts(&b, "12345"), 0);
	assert_int_equal(ks_buf_puts(&b, "6789"), KS_ELIMIT);
	assert_string_equal(b.data, "12345");
	assert_int_equal(ks_buf_puts(&b, "678"), 0);
	assert_int_equal(b.len, 8);
	ks_buf_release(&b);
}

static void arena_strings_survive_many_blocks(void **state)
{
	(void)state;
	ks_arena *a = ks_arena_new();
	char *first = ks_arena_printf(a, "app-%d", 1);
	for (int i = 0; i < 20000; i++)
		ks_arena_printf(a, "filler-%d", i);
	char *big = ks_arena_alloc(a, 1 << 20);
	big[(1 << 20) - 1] = 'x';
	assert_string_equal(first, "app-1");
	ks_arena_free(a);
}

static void errlist_sorts_by_file_line_col(void **state)
{
	(void)state;
	ks_errlist *l = ks_errlist_new();
	ks_errlist_add(l, "b.yaml", 1, 1, "third");
	ks_errlist_add(l, "a.yaml", 3, 2, "second");
	ks_errlist_add(l, "a.yaml", 3, 1, "first");
	ks_errlist_add(l, "a.yaml", 0, 0, "whole file");
	ks_errlist_sort(l);
	assert_int_equal(ks_errlist_count(l), 4);
	assert_string_equal(ks_errlist_get(l, 0), "a.yaml: whole file");
	assert_string_equal(ks_errlist_get(l, 1), "a.yaml:3:1: first");
	assert_string_equal(ks_errlist_get(l, 2), "a.yaml:3:2: second");
	assert_string_equal(ks_errlist_get(l, 3), "b.yaml:1:1: third");
	ks_errlist_free(l);
}

static void read_file_refuses_large_files(void **state)
{
	(void)state;
	char path[] = "/tmp/ks-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char data[100];
	memset(data, 'a', sizeof(data));
	assert_int_equal(write(fd, data, sizeof(data)), 100);
	close(fd);
	char *out = NULL;
	size_t len = 0;
	ks_error err = {0};
	assert_int_equal(ks_read_file(path, 50, &out, &len, &err), KS_ELIMIT);
	assert_non_null(strstr(err.msg, "too large"));
	assert_int_equal(ks_read_file(path, 100, &out, &len, &err), 0);
	assert_int_equal(len, 100);
	free(out);
	unlink(path);
}

static int mem_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_cap_refuses_and_keeps),
		cmocka_unit_test(arena_strings_survive_many_blocks),
		cmocka_unit_test(errlist_sorts_by_file_line_col),
		cmocka_unit_test(read_file_refuses_large_files),
	};
	return cmocka_run_group_tests_name("core/mem", tests, NULL, NULL);
}
KS_TEST_GROUP(mem_tests)
