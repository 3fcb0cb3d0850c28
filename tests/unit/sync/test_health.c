/*
 * sync/health: the rules of spec/agent.md § Health, and generated
 * passwords.
 */
#include "ks_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "sync/sync.h"

static json_t *js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (!v)
		fail_msg("bad test JSON: %s", je.text);
	return v;
}

static ks_health health_of(const char *text, char *why, size_t n)
{
	json_t *o = js(text);
	ks_health h = ks_sync_health(o, why, n);
	json_decref(o);
	return h;
}

#define DEP(gen, spec, status)                                                 \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"   \
	"\"generation\":" gen "},\"spec\":" spec ",\"status\":" status "}"

static void deployment_rules(void **state)
{
	(void)state;
	char why[256];
	/* just created: status empty, generation not observed */
	assert_int_equal(
		health_of(DEP("1", "{\"replicas\":3}", "{}"), why, sizeof(why)),
		KS_PROGRESSING);
	assert_string_equal(why, "waiting for the spec update to be observed");
	assert_int_equal(
		health_of(DEP("2", "{\"replicas\":3}",
			      "{\"observedGeneration\":2,\"replicas\":3,"
			      "\"updatedReplicas\":3,\"availableReplicas\":2}"),
			  why, sizeof(why)),
		KS_PROGRESSING);
	assert_string_equal(why, "2 of 3 updated replicas are available");
	assert_int_equal(
		health_of(DEP("2", "{\"replicas\":3}",
			      "{\"observedGeneration\":2,\"replicas\":4,"
			      "\"updatedReplicas\":3,\"availableReplicas\":3}"),
			  why, sizeof(why)),
		KS_PROGRESSING);
	assert_string_equal(why, "1 old replicas are pending termination");
	assert_int_equal(
		health_of(DEP("2", "{\"replicas\":3}",
			      "{\"observedGeneration\":2,\"replicas\":3,"
			      "\"updatedReplicas\":1,\"availableReplicas\":1}"),
			  why, sizeof(why)),
		KS_PROGRESSING);
	assert_string_equal(why, "1 out of 3 new replicas have been updated");
	assert_int_equal(
		health_of(DEP("2", "{\"replicas\":3}",
			      "{\"observedGeneration\":3,\"replicas\":3,"
			      "\"updatedReplicas\":3,\"availableReplicas\":3}"),
			  why, sizeof(why)),
		KS_HEALTHY);
	assert_string_equal(why, "");
	/* replicas left out means 1 */
	assert_int_equal(
		health_of(DEP("1", "{}",
			      "{\"observedGeneration\":1,\"replicas\":1,"
			      "\"updatedReplicas\":1,\"availableReplicas\":1}"),
			  NULL, 0),
		KS_HEALTHY);
	/* scaled to zero with an empty status */
	assert_int_equal(health_of(DEP("4", "{\"replicas\":0}",
				       "{\"observedGeneration\":4}"),
				   NULL, 0),
			 KS_HEALTHY);
	assert_int_equal(
		health_of(DEP("1", "{\"replicas\":1}",
			      "{\"observedGeneration\":1,\"conditions\":[{"
			      "\"type\":\"Available\",\"status\":\"False\"},{"
			      "\"type\":\"Progressing\",\"status\":\"False\","
			      "\"reason\":\"ProgressDeadlineExceeded\"}]}"),
			  why, sizeof(why)),
		KS_DEGRADED);
	assert_string_equal(why, "deployment exceeded its progress deadline");
	/* Progressing=True is not degraded */
	assert_int_equal(
		health_of(DEP("1", "{\"replicas\":1}",
			      "{\"observedGeneration\":1,\"conditions\":[{"
			      "\"type\":\"Progressing\",\"status\":\"True\","
			      "\"reason\":\"ReplicaSetUpdated\"}]}"),
			  NULL, 0),
		KS_PROGRESSING);
}

static void other_kinds(void **state)
{
	(void)state;
	char why[256];
	assert_int_equal(ks_sync_health(NULL, why, sizeof(why)), KS_MISSING);
	assert_int_equal(
		health_of(
			"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\","
			"\"metadata\":{\"generation\":1},\"spec\":{"
			"\"replicas\":2},\"status\":{\"observedGeneration\":"
			"1,\"readyReplicas\":2,\"updatedReplicas\":1}}",
			why, sizeof(why)),
		KS_PROGRESSING);
	assert_int_equal(
		health_of(
			"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\","
			"\"metadata\":{\"generation\":1},\"spec\":{"
			"\"replicas\":2},\"status\":{\"observedGeneration\":"
			"1,\"readyReplicas\":2,\"updatedReplicas\":2}}",
			NULL, 0),
		KS_HEALTHY);
#define CS(op)                                                                 \
	"{\"apiVersion\":\"apps.kusionstack.io/v1alpha1\",\"kind\":"           \
	"\"CollaSet\",\"metadata\":{\"generation\":2},\"spec\":{"              \
	"\"replicas\":2},\"status\":{\"observedGeneration\":2,\"replicas\":"   \
	"2,\"updatedAvailableReplicas\":2,\"operatingReplicas\":" op "}}"
	assert_int_equal(health_of(CS("1"), NULL, 0), KS_PROGRESSING);
	assert_int_equal(health_of(CS("0"), NULL, 0), KS_HEALTHY);
#undef CS
	assert_int_equal(
		health_of("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\","
			  "\"status\":{\"conditions\":[{\"type\":\"Complete\","
			  "\"status\":\"True\"}]}}",
			  NULL, 0),
		KS_HEALTHY);
	assert_int_equal(
		health_of("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\","
			  "\"status\":{\"conditions\":[{\"type\":\"Failed\","
			  "\"status\":\"True\",\"message\":\"BackoffLimit"
			  "Exceeded\"}]}}",
			  why, sizeof(why)),
		KS_DEGRADED);
	assert_string_equal(why, "job failed: BackoffLimitExceeded");
	assert_int_equal(health_of("{\"apiVersion\":\"batch/v1\",\"kind\":"
				   "\"Job\",\"status\":{}}",
				   NULL, 0),
			 KS_PROGRESSING);
	assert_int_equal(
		health_of("{\"apiVersion\":\"v1\",\"kind\":\"Service\","
			  "\"spec\":{\"type\":\"LoadBalancer\"},"
			  "\"status\":{\"loadBalancer\":{}}}",
			  NULL, 0),
		KS_PROGRESSING);
	assert_int_equal(
		health_of("{\"apiVersion\":\"v1\",\"kind\":\"Service\","
			  "\"spec\":{\"type\":\"LoadBalancer\"},"
			  "\"status\":{\"loadBalancer\":{\"ingress\":"
			  "[{\"ip\":\"10.0.0.9\"}]}}}",
			  NULL, 0),
		KS_HEALTHY);
	assert_int_equal(
		health_of("{\"apiVersion\":\"v1\",\"kind\":\"Service\","
			  "\"spec\":{\"type\":\"ClusterIP\"}}",
			  NULL, 0),
		KS_HEALTHY);
	assert_int_equal(health_of("{\"apiVersion\":\"v1\",\"kind\":"
				   "\"ConfigMap\"}",
				   NULL, 0),
			 KS_HEALTHY);
}

static void passwords_are_random_and_alphanumeric(void **state)
{
	(void)state;
	char *a = ks_sync_password(24), *b = ks_sync_password(24);
	assert_int_equal(strlen(a), 24);
	assert_string_not_equal(a, b);
	for (const char *p = a; *p; p++)
		assert_true((*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9'));
	free(a);
	free(b);
	/* every character of the alphabet turns up in a long one */
	char *big = ks_sync_password(20000);
	int seen[128] = {0};
	for (const char *p = big; *p; p++)
		seen[(unsigned char)*p]++;
	int distinct = 0;
	for (int i = 0; i < 128; i++)
		distinct += seen[i] > 0;
	assert_int_equal(distinct, 62);
	free(big);
}

static int health_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deployment_rules),
		cmocka_unit_test(other_kinds),
		cmocka_unit_test(passwords_are_random_and_alphanumeric),
	};
	return cmocka_run_group_tests_name("sync/health", tests, NULL, NULL);
}

KS_TEST_GROUP(health_tests)
