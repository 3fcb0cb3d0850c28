/*
 * An in-process devcluster on its own loop thread, for the agent's unit
 * tests: the blocking code under test talks to it through a real
 * ks_kube_client over loopback HTTP.
 *
 * The loop and the server live on the heap, not in the ks_dc_thread: a test
 * whose assertion fails longjmps past its ks_dc_thread_stop, and the loop
 * thread it leaves running must not share memory with the next test's
 * stack (two threads on one uv_loop_t abort in libuv). Such leftovers are
 * stopped by ks_dc_thread_teardown.
 */
#ifndef KS_TEST_DC_THREAD_H
#define KS_TEST_DC_THREAD_H

#include <pthread.h>
#include <uv.h>

#include "devcluster/devcluster.h"
#include "sync/kube.h"

struct ks_dc_thread_rt;

typedef struct ks_dc_thread {
	struct ks_dc_thread_rt *rt; /* the loop thread's own state */
	char kubeconfig[256];	    /* a kubeconfig file for the server */
	char url[128];
	ks_kube_client *client; /* a client for it (default options) */
} ks_dc_thread;

/*
 * Starts a devcluster with OPTS (NULL: defaults, quiet, listening on a
 * free loopback port) and makes a client for it; asserts on failure.
 */
void ks_dc_thread_start(ks_dc_thread *t, const ks_devcluster_opts *opts);

/* Frees the client, stops the server, joins the thread. */
void ks_dc_thread_stop(ks_dc_thread *t);

/*
 * A cmocka teardown: stops every devcluster thread still running (those of
 * a test that failed before its ks_dc_thread_stop) and returns 0. Their
 * clients are not freed (they belong to the failed test's frame).
 */
int ks_dc_thread_teardown(void **state);

#endif
