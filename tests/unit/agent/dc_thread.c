#include "dc_thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ks_test.h"

#include "core/error.h"

static void on_stop(uv_async_t *a)
{
	ks_dc_thread *t = a->data;
	ks_devcluster_stop(t->dc);
	uv_close((uv_handle_t *)&t->stop, NULL);
}

static void *run(void *arg)
{
	ks_dc_thread *t = arg;
	uv_run(&t->loop, UV_RUN_DEFAULT);
	return NULL;
}

void ks_dc_thread_start(ks_dc_thread *t, const ks_devcluster_opts *opts)
{
	ks_devcluster_opts def = {.listen = "127.0.0.1:0", .quiet = true};
	ks_error err;
	memset(t, 0, sizeof(*t));
	assert_int_equal(uv_loop_init(&t->loop), 0);
	assert_int_equal(uv_async_init(&t->loop, &t->stop, on_stop), 0);
	t->stop.data = t;
	if (ks_devcluster_start(&t->dc, &t->loop, opts ? opts : &def, &err)) {
		fprintf(stderr, "devcluster: %s\n", err.msg);
		fail();
	}
	snprintf(t->url, sizeof(t->url), "%s", ks_devcluster_url(t->dc));
	const char *tmp = getenv("TMPDIR");
	snprintf(t->kubeconfig, sizeof(t->kubeconfig),
		 "%s/ks-dc-kubeconfig-%ld-%p", tmp ? tmp : "/tmp",
		 (long)getpid(), (void *)t);
	assert_int_equal(
		ks_devcluster_write_kubeconfig(t->dc, t->kubeconfig, &err), 0);
	assert_int_equal(pthread_create(&t->thread, NULL, run, t), 0);

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
	uv_async_send(&t->stop);
	pthread_join(t->thread, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	unlink(t->kubeconfig);
}
