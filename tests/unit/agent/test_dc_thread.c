/* The in-process devcluster the agent's unit tests share answers real
 * requests through a real client. */
#include "ks_test.h"

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

static int dc_thread_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dc_thread_serves_a_client),
	};
	return cmocka_run_group_tests_name("agent/dc_thread", tests, NULL,
					   NULL);
}
KS_TEST_GROUP(dc_thread_tests)
