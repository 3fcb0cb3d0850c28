/* The in-process devcluster the agent's unit tests share answers real
 * requests through a real client. */
#include "ks_test.h"

#include <setjmp.h>
#include <string.h>

#include "dc_thread.h"

static void dc_thread_serves_a_client(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	ks_kube_req req = {.method = "GET", .path = "/api/v1/namespaces"};
	ks_kube_resp resp;
	ks_error err;
	assert_int_equal(ks_kube_request(t.client, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(
		json_string_value(json_object_get(resp.json, "kind")),
		"NamespaceList");
	ks_kube_resp_release(&resp);
	ks_dc_thread_stop(&t);
}

static jmp_buf abandon_jb;
static ks_kube_client *abandoned_client;
static char abandoned_url[128];

/* Starts a devcluster in this frame and leaves it the way a failed
 * assertion does: by a longjmp past its stop. */
static void start_and_abandon(void)
{
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	abandoned_client = t.client;
	snprintf(abandoned_url, sizeof(abandoned_url), "%s", t.url);
	longjmp(abandon_jb, 1);
}

/* Overwrites the stack below the caller, where the abandoned frame was. */
static void __attribute__((noinline)) scribble(void)
{
	volatile char junk[16384];
	memset((char *)junk, 0xa5, sizeof(junk));
}

static long get_status(ks_kube_client *c, int *rc)
{
	ks_kube_req req = {.method = "GET", .path = "/api/v1/namespaces"};
	ks_kube_resp resp;
	ks_error err;
	*rc = ks_kube_request(c, &req, &resp, &err);
	if (*rc)
		return 0;
	long status = resp.status;
	ks_kube_resp_release(&resp);
	return status;
}

/* A test that fails before ks_dc_thread_stop leaves its server running;
 * the next test's server on the same stack still works (the loop is not
 * in the frame that was left), and the teardown stops the leftover. */
static void abandoned_thread_is_reaped(void **state)
{
	(void)state;
	if (!setjmp(abandon_jb))
		start_and_abandon();
	scribble();
	int rc;
	assert_int_equal(get_status(abandoned_client, &rc), 200);
	for (int i = 0; i < 3; i++) {
		ks_dc_thread t;
		ks_dc_thread_start(&t, NULL);
		for (int j = 0; j < 10; j++)
			assert_int_equal(get_status(t.client, &rc), 200);
		ks_dc_thread_stop(&t);
		scribble();
	}
	assert_int_equal(get_status(abandoned_client, &rc), 200);
	assert_int_equal(ks_dc_thread_teardown(NULL), 0);
	/* gone: its port refuses */
	get_status(abandoned_client, &rc);
	assert_int_not_equal(rc, 0);
	ks_kube_client_free(abandoned_client);
	/* nothing left to reap */
	assert_int_equal(ks_dc_thread_teardown(NULL), 0);
}

static int dc_thread_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dc_thread_serves_a_client),
		cmocka_unit_test_teardown(abandoned_thread_is_reaped,
					  ks_dc_thread_teardown),
	};
	return cmocka_run_group_tests_name("agent/dc_thread", tests, NULL,
					   NULL);
}
KS_TEST_GROUP(dc_thread_tests)
