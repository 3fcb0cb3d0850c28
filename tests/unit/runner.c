#include "ks_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 256

static struct {
	const char *name;
	ks_test_group_fn fn;
} groups[MAX_GROUPS];
static size_t ngroups;

void ks_test_register(const char *name, ks_test_group_fn fn)
{
	if (ngroups == MAX_GROUPS)
		abort();
	groups[ngroups].name = name;
	groups[ngroups].fn = fn;
	ngroups++;
}

const char *ks_test_source_dir(void)
{
	const char *d = getenv("KS_SOURCE_DIR");
	return d && *d ? d : ".";
}

int main(int argc, char **argv)
{
	int failed = 0;
	size_t ran = 0;
	for (size_t i = 0; i < ngroups; i++) {
		if (argc > 1 && !strstr(groups[i].name, argv[1]))
			continue;
		ran++;
		if (groups[i].fn() != 0)
			failed++;
	}
	if (!ran) {
		fprintf(stderr, "no test group matched\n");
		return 1;
	}
	return failed ? 1 : 0;
}
