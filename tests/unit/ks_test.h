/*
 * Unit test plumbing: each file of tests/unit/<module>/ defines one or more
 * cmocka groups and registers them with KS_TEST_GROUP; the module's test
 * binary (test_<module>) runs every registered group. An argument filters
 * groups by substring.
 */
#ifndef KS_TEST_H
#define KS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

typedef int (*ks_test_group_fn)(void);

void ks_test_register(const char *name, ks_test_group_fn fn);

/* The source tree (for fixtures): $KS_SOURCE_DIR, else ".". */
const char *ks_test_source_dir(void);

#define KS_TEST_GROUP(fn)                                                      \
	static void __attribute__((constructor)) ks_test_reg_##fn(void)        \
	{                                                                      \
		ks_test_register(#fn, fn);                                     \
	}

#endif
