/*
 * A scripted HTTP server for the sync tests: core/http on its own libuv
 * loop in a thread, listening on a free loopback port, so the blocking
 * Kubernetes client can talk to it from the test thread.
 */
#ifndef KS_TEST_LOOP_SERVER_H
#define KS_TEST_LOOP_SERVER_H

#include <pthread.h>
#include <uv.h>

#include "core/http.h"

typedef struct ks_loop_server {
	uv_loop_t loop;
	uv_async_t stop;
	ks_http_server *http;
	pthread_t thread;
	int port; /* set by ks_loop_server_start */
} ks_loop_server;

/* Starts serving HANDLER (called on the server thread with UD). */
void ks_loop_server_start(ks_loop_server *s, ks_http_handler handler, void *ud);
/* Closes the server, joins the thread and asserts the loop closed. */
void ks_loop_server_stop(ks_loop_server *s);

#endif
