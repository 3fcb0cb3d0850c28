/*
 * An in-process devcluster on its own loop thread, for the agent's unit
 * tests: the blocking code under test talks to it through a real
 * ks_kube_client over loopback HTTP.
 */
#ifndef KS_TEST_DC_THREAD_H
#define KS_TEST_DC_THREAD_H

#include <pthread.h>
#include <uv.h>

#include "devcluster/devcluster.h"
#include "sync/kube.h"

typedef struct ks_dc_thread {
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t thread;
	ks_devcluster *dc;
	char kubeconfig[256]; /* a kubeconfig file for the server */
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

#endif
