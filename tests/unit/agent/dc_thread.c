#include "dc_thread.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ks_test.h"

#include "core/error.h"
#include "core/mem.h"

struct ks_dc_thread_rt {
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t thread;
	bool running;
	ks_devcluster *dc;
	char kubeconfig[256];
	struct ks_dc_thread_rt *next; /* the running ones */
};

/* Tests run on the main thread only; this list is not locked. */
static struct ks_dc_thread_rt *live;

static void on_stop(uv_async_t *a)
{
	struct ks_dc_thread_rt *rt = a->data;
	ks_devcluster_stop(rt->dc);
	rt->dc = NULL;
	uv_close((uv_handle_t *)&rt->stop, NULL);
}

static void *run(void *arg)
{
	struct ks_dc_thread_rt *rt = arg;
	uv_run(&rt->loop, UV_RUN_DEFAULT);
	return NULL;
}

static void unlist(struct ks_dc_thread_rt *rt)
{
	for (struct ks_dc_thread_rt **p = &live; *p; p = &(*p)->next)
		if (*p == rt) {
			*p = rt->next;
			return;
		}
}

/* Stops the loop thread, closes the loop and frees RT; 0 or -1 when the
 * loop still had handles. */
static int rt_stop(struct ks_dc_thread_rt *rt)
{
	unlist(rt);
	if (rt->running) {
		uv_async_send(&rt->stop);
		pthread_join(rt->thread, NULL);
	} else {
		/* never started: stop and close on this thread */
		ks_devcluster_stop(rt->dc);
		uv_close((uv_handle_t *)&rt->stop, NULL);
	}
	/* the thread ran the loop until its last handle closed: nothing is
	 * left but what a failed start may have opened */
	uv_run(&rt->loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&rt->loop) ? -1 : 0;
	unlink(rt->kubeconfig);
	if (rc == 0)
		free(rt);
	return rc;
}

void ks_dc_thread_start(ks_dc_thread *t, const ks_devcluster_opts *opts)
{
	ks_devcluster_opts def = {.listen = "127.0.0.1:0", .quiet = true};
	ks_error err;
	memset(t, 0, sizeof(*t));
	struct ks_dc_thread_rt *rt = ks_xcalloc(1, sizeof(*rt));
	assert_int_equal(uv_loop_init(&rt->loop), 0);
	assert_int_equal(uv_async_init(&rt->loop, &rt->stop, on_stop), 0);
	rt->stop.data = rt;
	if (ks_devcluster_start(&rt->dc, &rt->loop, opts ? opts : &def, &err)) {
		fprintf(stderr, "devcluster: %s\n", err.msg);
		uv_close((uv_handle_t *)&rt->stop, NULL);
		uv_run(&rt->loop, UV_RUN_DEFAULT);
		uv_loop_close(&rt->loop);
		free(rt);
		fail();
	}
	rt->next = live;
	live = rt;
	t->rt = rt;
	snprintf(t->url, sizeof(t->url), "%s", ks_devcluster_url(rt->dc));
	const char *tmp = getenv("TMPDIR");
	snprintf(t->kubeconfig, sizeof(t->kubeconfig),
		 "%s/ks-dc-kubeconfig-%ld-%p", tmp ? tmp : "/tmp",
		 (long)getpid(), (void *)rt);
	memcpy(rt->kubeconfig, t->kubeconfig, sizeof(rt->kubeconfig));
	assert_int_equal(
		ks_devcluster_write_kubeconfig(rt->dc, t->kubeconfig, &err), 0);
	assert_int_equal(pthread_create(&rt->thread, NULL, run, rt), 0);
	rt->running = true;

	ks_kube_config *cfg = NULL;
	if (ks_kube_config_load(&cfg, t->kubeconfig, NULL, &err)) {
		fprintf(stderr, "kubeconfig: %s\n", err.msg);
		fail();
	}
	assert_int_equal(ks_kube_client_new(&t->client, cfg, NULL, &err), 0);
	ks_kube_config_free(cfg);
}

void ks_dc_thread_stop(ks_dc_thread *t)
{
	ks_kube_client_free(t->client);
	t->client = NULL;
	struct ks_dc_thread_rt *rt = t->rt;
	t->rt = NULL;
	if (rt)
		assert_int_equal(rt_stop(rt), 0);
}

int ks_dc_thread_teardown(void **state)
{
	(void)state;
	int rc = 0;
	while (live)
		if (rt_stop(live))
			rc = -1;
	return rc;
}
