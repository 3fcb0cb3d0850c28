#include "loop_server.h"

#include "ks_test.h"

#include "core/error.h"

static void on_stop(uv_async_t *a)
{
	ks_loop_server *s = a->data;
	ks_http_server_close(s->http, NULL, NULL);
	uv_close((uv_handle_t *)&s->stop, NULL);
}

static void *run(void *arg)
{
	ks_loop_server *s = arg;
	uv_run(&s->loop, UV_RUN_DEFAULT);
	return NULL;
}

void ks_loop_server_start(ks_loop_server *s, ks_http_handler handler, void *ud)
{
	uv_loop_init(&s->loop);
	uv_async_init(&s->loop, &s->stop, on_stop);
	s->stop.data = s;
	s->http = ks_http_server_new(&s->loop, NULL, handler, ud);
	ks_error err;
	assert_int_equal(ks_http_server_listen(s->http, "127.0.0.1:0", &err),
			 0);
	s->port = ks_http_server_port(s->http);
	pthread_create(&s->thread, NULL, run, s);
}

void ks_loop_server_stop(ks_loop_server *s)
{
	uv_async_send(&s->stop);
	pthread_join(s->thread, NULL);
	assert_int_equal(uv_loop_close(&s->loop), 0);
}
