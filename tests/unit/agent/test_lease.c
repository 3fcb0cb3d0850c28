/* Leader election on a Lease: one holder at a time, take-over only after
 * expiry or release, and the API server's concurrency control decides a
 * race. */
#include "ks_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/lease.h"
#include "dc_thread.h"

#define NS "kusync"

static void make_namespace(ks_dc_thread *t)
{
	static const char body[] =
		"{\"apiVersion\":\"v1\",\"kind\":"
		"\"Namespace\",\"metadata\":{\"name\":\"" NS "\"}}";
	ks_kube_req req = {.method = "POST",
			   .path = "/api/v1/namespaces",
			   .body = body,
			   .body_len = strlen(body)};
	ks_kube_resp resp;
	ks_error err;
	assert_int_equal(ks_kube_request(t->client, &req, &resp, &err), 0);
	ks_kube_resp_release(&resp);
}

static json_t *get_lease(ks_dc_thread *t, const char *name)
{
	char path[256];
	snprintf(path, sizeof path,
		 "/apis/coordination.k8s.io/v1/namespaces/" NS "/leases/%s",
		 name);
	ks_kube_req req = {.method = "GET", .path = path};
	ks_kube_resp resp;
	ks_error err;
	assert_int_equal(ks_kube_request(t->client, &req, &resp, &err), 0);
	json_t *spec = json_incref(json_object_get(resp.json, "spec"));
	ks_kube_resp_release(&resp);
	return spec;
}

static bool try_lease(ks_dc_thread *t, const char *name, const char *id,
		      int duration)
{
	bool leader = true;
	ks_error err;
	int rc = ks_lease_try(t->client, NS, name, id, duration, &leader, &err);
	if (rc)
		fprintf(stderr, "lease: %s\n", err.msg);
	assert_int_equal(rc, 0);
	return leader;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void lease_expiry_and_release(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	make_namespace(&t);

	assert_true(try_lease(&t, "kusync-leader", "agent-a", 2));
	json_t *spec = get_lease(&t, "kusync-leader");
	assert_string_equal(
		json_string_value(json_object_get(spec, "holderIdentity")),
		"agent-a");
	assert_int_equal(json_integer_value(
				 json_object_get(spec, "leaseDurationSeconds")),
			 2);
	assert_int_equal(
		json_integer_value(json_object_get(spec, "leaseTransitions")),
		0);
	/* MicroTime: "2006-01-02T15:04:05.000000Z" */
	const char *renew =
		json_string_value(json_object_get(spec, "renewTime"));
	assert_non_null(renew);
	assert_int_equal(strlen(renew), 27);
	assert_int_equal(renew[19], '.');
	assert_int_equal(renew[26], 'Z');
	assert_non_null(
		json_string_value(json_object_get(spec, "acquireTime")));
	char first_renew[40];
	snprintf(first_renew, sizeof first_renew, "%s", renew);
	json_decref(spec);

	assert_false(try_lease(&t, "kusync-leader", "agent-b", 2));
	sleep_ms(20);
	assert_true(try_lease(&t, "kusync-leader", "agent-a", 2)); /* renew */
	spec = get_lease(&t, "kusync-leader");
	assert_string_not_equal(
		json_string_value(json_object_get(spec, "renewTime")),
		first_renew);
	assert_int_equal(
		json_integer_value(json_object_get(spec, "leaseTransitions")),
		0);
	json_decref(spec);

	/* Within the duration of A's last renewal: B still waits. */
	sleep_ms(1000);
	assert_false(try_lease(&t, "kusync-leader", "agent-b", 2));
	/* Past it: B takes over, and A learns it lost. */
	sleep_ms(1300);
	assert_true(try_lease(&t, "kusync-leader", "agent-b", 2));
	assert_false(try_lease(&t, "kusync-leader", "agent-a", 2));
	spec = get_lease(&t, "kusync-leader");
	assert_string_equal(
		json_string_value(json_object_get(spec, "holderIdentity")),
		"agent-b");
	assert_int_equal(
		json_integer_value(json_object_get(spec, "leaseTransitions")),
		1);
	json_decref(spec);

	/* A release by a non-holder changes nothing. */
	ks_error err;
	assert_int_equal(ks_lease_release(t.client, NS, "kusync-leader",
					  "agent-a", &err),
			 0);
	assert_false(try_lease(&t, "kusync-leader", "agent-a", 15));
	/* The holder's release lets A take it at once, long duration or
	 * not. */
	assert_true(try_lease(&t, "kusync-leader", "agent-b", 15));
	assert_int_equal(ks_lease_release(t.client, NS, "kusync-leader",
					  "agent-b", &err),
			 0);
	spec = get_lease(&t, "kusync-leader");
	assert_null(json_string_value(json_object_get(spec, "holderIdentity")));
	json_decref(spec);
	assert_true(try_lease(&t, "kusync-leader", "agent-a", 15));
	assert_false(try_lease(&t, "kusync-leader", "agent-b", 15));
	spec = get_lease(&t, "kusync-leader");
	assert_int_equal(
		json_integer_value(json_object_get(spec, "leaseTransitions")),
		2);
	json_decref(spec);
	/* Releasing a Lease that does not exist is no error. */
	assert_int_equal(
		ks_lease_release(t.client, NS, "nothing", "agent-a", &err), 0);
	ks_dc_thread_stop(&t);
}

typedef struct racer {
	ks_dc_thread *t;
	pthread_barrier_t *start;
	const char *id;
	char name[64];
	bool leader;
	int rc;
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	ks_error err;
	pthread_barrier_wait(r->start);
	r->rc = ks_lease_try(r->t->client, NS, r->name, r->id, 15, &r->leader,
			     &err);
	if (r->rc)
		fprintf(stderr, "%s: %s\n", r->id, err.msg);
	return NULL;
}

static void lease_race_has_one_winner(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	make_namespace(&t);
	int wins_a = 0, wins_b = 0;
	for (int round = 0; round < 20; round++) {
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, 2);
		racer r[2] = {{.t = &t, .start = &start, .id = "agent-a"},
			      {.t = &t, .start = &start, .id = "agent-b"}};
		/* Even rounds race to create a new Lease, odd ones to take
		 * the released one. */
		for (int i = 0; i < 2; i++) {
			if (round % 2)
				snprintf(r[i].name, sizeof r[i].name, "shared");
			else
				snprintf(r[i].name, sizeof r[i].name,
					 "fresh-%d", round);
		}
		pthread_t th[2];
		for (int i = 0; i < 2; i++)
			assert_int_equal(
				pthread_create(&th[i], NULL, race, &r[i]), 0);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&start);
		assert_int_equal(r[0].rc, 0);
		assert_int_equal(r[1].rc, 0);
		/* Exactly one leader, and the Lease names it. */
		assert_true(r[0].leader != r[1].leader);
		racer *w = r[0].leader ? &r[0] : &r[1];
		json_t *spec = get_lease(&t, w->name);
		assert_string_equal(json_string_value(json_object_get(
					    spec, "holderIdentity")),
				    w->id);
		json_decref(spec);
		if (w == &r[0])
			wins_a++;
		else
			wins_b++;
		ks_error err;
		assert_int_equal(
			ks_lease_release(t.client, NS, w->name, w->id, &err),
			0);
		if (round == 0) {
			/* Prepare the shared Lease, released. */
			assert_true(try_lease(&t, "shared", "agent-c", 15));
			assert_int_equal(ks_lease_release(t.client, NS,
							  "shared", "agent-c",
							  &err),
					 0);
		}
	}
	printf("  wins: agent-a %d, agent-b %d\n", wins_a, wins_b);
	assert_int_equal(wins_a + wins_b, 20);
	ks_dc_thread_stop(&t);
}

static int lease_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lease_expiry_and_release),
		cmocka_unit_test(lease_race_has_one_winner),
	};
	return cmocka_run_group_tests_name("agent/lease", tests, NULL, NULL);
}
KS_TEST_GROUP(lease_tests)
