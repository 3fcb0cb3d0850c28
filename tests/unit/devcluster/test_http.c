/*
 * core/http: a server on its own loop in a thread, driven by plain blocking
 * sockets, including hostile clients.
 */
#include "ks_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "core/mem.h"

struct fixture {
	uv_loop_t loop;
	uv_async_t stop;
	ks_http_server *srv;
	pthread_t thread;
	int port;
	int stream_closed; /* set on the loop thread when a stream's client left
			    */
	ks_http_exchange *stream;
	uv_timer_t later;
	ks_http_exchange *later_ex;
};

static void on_stream_closed(void *ud)
{
	struct fixture *f = ud;
	__atomic_store_n(&f->stream_closed, 1, __ATOMIC_SEQ_CST);
	ks_http_stream_end(f->stream);
	f->stream = NULL;
}

static void on_later(uv_timer_t *t)
{
	struct fixture *f = t->data;
	ks_http_respond(f->later_ex, 200, NULL, 0, "later", 5);
	f->later_ex = NULL;
}

static void handler(void *ud, const ks_http_request *r, ks_http_exchange *ex)
{
	struct fixture *f = ud;
	if (!strcmp(r->path, "/stream")) {
		ks_http_header h = {"Content-Type", "application/json"};
		ks_http_stream_begin(ex, 200, &h, 1);
		ks_http_stream_write(ex, "{\"a\":1}\n", 8);
		ks_http_stream_write(ex, "{\"b\":2}\n", 8);
		f->stream = ex;
		ks_http_on_close(ex, on_stream_closed, f);
		return;
	}
	if (!strcmp(r->path, "/later")) {
		f->later_ex = ex;
		uv_timer_start(&f->later, on_later, 50, 0);
		return;
	}
	char *v = ks_http_query_get(r->query, "v");
	const char *ua = ks_http_request_header(r, "x-test");
	char *body = ks_xasprintf("%s %s v=%s x=%s len=%zu body=%s", r->method,
				  r->path, v ? v : "-", ua ? ua : "-",
				  r->body_len, r->body);
	free(v);
	ks_http_header h = {"Content-Type", "text/plain"};
	ks_http_respond(ex, 200, &h, 1, body, strlen(body));
	free(body);
}

static void on_stop(uv_async_t *a)
{
	struct fixture *f = a->data;
	if (f->stream) {
		ks_http_stream_end(f->stream);
		f->stream = NULL;
	}
	ks_http_server_close(f->srv, NULL, NULL);
	uv_close((uv_handle_t *)&f->stop, NULL);
	uv_close((uv_handle_t *)&f->later, NULL);
}

static void *run_loop(void *arg)
{
	struct fixture *f = arg;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int setup_with(void **state, unsigned timeout_scale)
{
	struct fixture *f = ks_xcalloc(1, sizeof(*f));
	uv_loop_init(&f->loop);
	uv_async_init(&f->loop, &f->stop, on_stop);
	uv_timer_init(&f->loop, &f->later);
	f->later.data = f;
	f->stop.data = f;
	ks_http_limits lim;
	ks_http_limits_default(&lim);
	lim.max_header_bytes = 4096;
	lim.max_body_bytes = 1 << 16;
	lim.request_timeout_ms = 400 * timeout_scale;
	lim.idle_timeout_ms = 600 * timeout_scale;
	lim.max_connections = 300;
	f->srv = ks_http_server_new(&f->loop, &lim, handler, f);
	ks_error err;
	assert_int_equal(ks_http_server_listen(f->srv, "127.0.0.1:0", &err), 0);
	f->port = ks_http_server_port(f->srv);
	assert_true(f->port > 0);
	pthread_create(&f->thread, NULL, run_loop, f);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 1);
}

/* Long timeouts, for tests that must not race the idle timer. */
static int setup_slow(void **state)
{
	return setup_with(state, 100);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	uv_async_send(&f->stop);
	pthread_join(f->thread, NULL);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Reads until the peer closes or MIN bytes containing UNTIL arrived. */
static char *recv_until(int fd, const char *until)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	char tmp[4096];
	for (;;) {
		if (until && b.data && strstr(b.data, until))
			break;
		ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
		if (n <= 0)
			break;
		ks_buf_append(&b, tmp, (size_t)n);
	}
	return ks_buf_detach(&b, NULL);
}

/* Whether the server closed FD (EOF) within a few seconds. */
static int closed_by_server(int fd)
{
	char tmp[4096];
	for (;;) {
		ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
		if (n == 0)
			return 1;
		if (n < 0)
			return 0;
	}
}

static void keep_alive_and_pipelining(void **state)
{
	struct fixture *f = *state;
	int fd = dial(f->port);
	const char *req =
		"GET /a?v=x%20y HTTP/1.1\r\nHost: h\r\nX-Test: 1\r\n\r\n"
		"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
		"\r\nabc"
		"GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
	send_all(fd, req, strlen(req));
	char *out = recv_until(fd, "GET /c v=");
	assert_non_null(strstr(out, "GET /a v=x y x=1 len=0"));
	assert_non_null(strstr(out, "POST /b v=- x=- len=3 body=abc"));
	assert_non_null(strstr(out, "Content-Length: "));
	assert_null(strstr(out, "Connection: close"));
	/* the answers come in request order */
	assert_true(strstr(out, "/a v=") < strstr(out, "/b v="));
	assert_true(strstr(out, "/b v=") < strstr(out, "/c v="));
	free(out);
	/* chunked request body */
	const char *ch = "PUT /d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
			 "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
	send_all(fd, ch, strlen(ch));
	out = recv_until(fd, "body=abcde");
	assert_non_null(strstr(out, "PUT /d v=- x=- len=5 body=abcde"));
	free(out);
	close(fd);
}

static void answers_later_and_http10_closes(void **state)
{
	struct fixture *f = *state;
	int fd = dial(f->port);
	const char *req = "GET /later HTTP/1.0\r\n\r\n";
	send_all(fd, req, strlen(req));
	char *out = recv_until(fd, NULL);
	assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(out, "Connection: close"));
	assert_non_null(strstr(out, "\r\n\r\nlater"));
	free(out);
	close(fd);
}

static void expect_hostile(int port, const char *req, size_t len,
			   const char *status)
{
	int fd = dial(port);
	send_all(fd, req, len);
	char *out = recv_until(fd, NULL); /* the server must close */
	if (!strstr(out, status))
		fail_msg("want %s, got %.200s", status, out);
	assert_non_null(strstr(out, "Connection: close"));
	free(out);
	close(fd);
}

static void hostile_requests_get_4xx_and_close(void **state)
{
	struct fixture *f = *state;
	const char *bad = "GARBAGE\r\n\r\n";
	expect_hostile(f->port, bad, strlen(bad), "HTTP/1.1 400 ");
	const char *bad2 = "GET / HTTP/1.1\r\nHost h\r\n\r\n";
	expect_hostile(f->port, bad2, strlen(bad2), "HTTP/1.1 400 ");

	/* headers over 4 KiB */
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "GET / HTTP/1.1\r\nX-Big: ");
	for (int i = 0; i < 5000; i++)
		ks_buf_puts(&b, "a");
	ks_buf_puts(&b, "\r\n\r\n");
	expect_hostile(f->port, b.data, b.len, "HTTP/1.1 431 ");
	ks_buf_release(&b);

	/* too many headers */
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 150; i++)
		ks_buf_printf(&b, "X%d: y\r\n", i);
	ks_buf_puts(&b, "\r\n");
	expect_hostile(f->port, b.data, b.len, "HTTP/1.1 431 ");
	ks_buf_release(&b);

	/* a declared body over the limit is refused before it is sent */
	const char *big =
		"POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n";
	expect_hostile(f->port, big, strlen(big), "HTTP/1.1 413 ");

	/* a chunked body that grows past the limit */
	ks_buf_init(&b, 0);
	ks_buf_puts(&b,
		    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 80; i++) {
		ks_buf_puts(&b, "400\r\n");
		for (int j = 0; j < 1024; j++)
			ks_buf_puts(&b, "z");
		ks_buf_puts(&b, "\r\n");
	}
	expect_hostile(f->port, b.data, b.len, "HTTP/1.1 413 ");
	ks_buf_release(&b);

	/* bad chunk size */
	const char *badchunk = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
			       "\r\n\r\nzz\r\n";
	expect_hostile(f->port, badchunk, strlen(badchunk), "HTTP/1.1 400 ");

	/* a truncated request: the client stops mid-header and waits; the
	 * request deadline answers 408 and closes */
	const char *trunc = "GET / HTTP/1.1\r\nHost: h\r\nX-Partial: ab";
	expect_hostile(f->port, trunc, strlen(trunc), "HTTP/1.1 408 ");

	/* the server still serves */
	int fd = dial(f->port);
	const char *ok = "GET /still HTTP/1.1\r\n\r\n";
	send_all(fd, ok, strlen(ok));
	char *out = recv_until(fd, "GET /still");
	assert_non_null(strstr(out, "200 OK"));
	free(out);
	close(fd);
}

static void slow_client_is_cut_off(void **state)
{
	struct fixture *f = *state;
	int fd = dial(f->port);
	const char *req = "GET /slow HTTP/1.1\r\nHost: h\r\n";
	int got_408 = 0;
	/* one byte every 50 ms: 40 bytes take 2 s, past the 400 ms deadline */
	for (size_t i = 0; i < strlen(req); i++) {
		if (send(fd, req + i, 1, MSG_NOSIGNAL) <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) > 0) {
			char tmp[512];
			ssize_t n = recv(fd, tmp, sizeof(tmp) - 1, 0);
			if (n > 0) {
				tmp[n] = '\0';
				got_408 = strstr(tmp, " 408 ") != NULL;
			}
			break;
		}
	}
	assert_true(got_408);
	close(fd);
}

static void idle_connection_times_out(void **state)
{
	struct fixture *f = *state;
	int fd = dial(f->port);
	assert_true(closed_by_server(fd));
	close(fd);
}

static void stream_and_client_close(void **state)
{
	struct fixture *f = *state;
	int fd = dial(f->port);
	const char *req = "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n";
	send_all(fd, req, strlen(req));
	char *out = recv_until(fd, "{\"b\":2}\n\r\n");
	assert_non_null(strstr(out, "Transfer-Encoding: chunked"));
	assert_non_null(
		strstr(out, "8\r\n{\"a\":1}\n\r\n8\r\n{\"b\":2}\n\r\n"));
	free(out);
	close(fd);
	for (int i = 0; i < 200; i++) {
		if (__atomic_load_n(&f->stream_closed, __ATOMIC_SEQ_CST))
			break;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	assert_int_equal(__atomic_load_n(&f->stream_closed, __ATOMIC_SEQ_CST),
			 1);
}

static void many_idle_connections_do_not_block_others(void **state)
{
	struct fixture *f = *state;
	enum { N = 250 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = dial(f->port);
	/* a half-sent request on some, nothing on others */
	for (int i = 0; i < N; i += 2)
		send_all(fds[i], "GET /", 5);
	int fd = dial(f->port);
	const char *ok = "GET /busy HTTP/1.1\r\n\r\n";
	send_all(fd, ok, strlen(ok));
	char *out = recv_until(fd, "GET /busy");
	assert_non_null(strstr(out, "200 OK"));
	free(out);
	close(fd);
	/* past max_connections (300) new connections are closed at once */
	int extra[60];
	int refused = 0;
	for (int i = 0; i < 60; i++) {
		extra[i] = dial(f->port);
		send_all(extra[i], ok, strlen(ok));
	}
	for (int i = 0; i < 60; i++) {
		char tmp[256];
		ssize_t n = recv(extra[i], tmp, sizeof(tmp), 0);
		if (n <= 0)
			refused++;
		close(extra[i]);
	}
	assert_true(refused >= 10);
	for (int i = 0; i < N; i++)
		close(fds[i]);
}

static void query_and_unescape(void **state)
{
	(void)state;
	char *v = ks_http_query_get("a=1&labelSelector=app%3Dweb%2Ctier+in&b",
				    "labelSelector");
	assert_string_equal(v, "app=web,tier in");
	free(v);
	v = ks_http_query_get("a=1&b", "b");
	assert_string_equal(v, "");
	free(v);
	assert_null(ks_http_query_get("a=1", "c"));
	assert_null(ks_http_query_get("", "c"));
	v = ks_http_unescape("%zz%4", 5, false);
	assert_string_equal(v, "%zz%4");
	free(v);
}

static int http_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(query_and_unescape),
		cmocka_unit_test_setup_teardown(keep_alive_and_pipelining,
						setup, teardown),
		cmocka_unit_test_setup_teardown(answers_later_and_http10_closes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			hostile_requests_get_4xx_and_close, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_client_is_cut_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(idle_connection_times_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(stream_and_client_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			many_idle_connections_do_not_block_others, setup_slow,
			teardown),
	};
	return cmocka_run_group_tests_name("core/http", tests, NULL, NULL);
}
KS_TEST_GROUP(http_tests)
