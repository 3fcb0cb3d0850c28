#include "core/http.h"

#include <ctype.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/banned.h"

#define READ_BUF_SIZE 65536

struct hdr {
	ks_buf name;
	ks_buf value;
};

struct conn;

struct ks_http_exchange {
	struct conn *c; /* NULL once the connection is gone */
	ks_http_request req;
	char *method, *target, *path, *query, *body, *client_cn, *client_orgs;
	ks_http_header *headers;
	size_t nheaders;
	void (*close_cb)(void *ud);
	void *close_ud;
	bool streaming;
	bool keep_alive;
	bool head;
	bool want_close;
	bool body_unread;
};

struct conn {
	ks_http_server *srv;
	uv_tcp_t tcp;
	uv_timer_t timer;
	int open_handles;
	struct conn *prev, *next;
	http_parser parser;
	char peer[64];

	/* The request being parsed. */
	ks_buf url;
	struct hdr *hdrs;
	size_t nhdrs, hdrs_alloc;
	bool last_was_value;
	size_t header_bytes;
	ks_buf body;
	bool in_message;
	bool deadline_armed;
	int error_status;

	ks_buf pending; /* received, not yet parsed */
	ks_http_exchange *ex;
	bool processing;
	bool reading;
	bool closing;
	bool close_after_write;
	size_t write_queued;

	SSL *ssl;
	char *client_cn, *client_orgs;
};

struct ks_http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	bool listener_open;
	bool closing;
	ks_http_limits lim;
	ks_http_handler handler;
	void *ud;
	struct conn *conns;
	size_t nconns;
	int port;
	SSL_CTX *tls;
	void (*done)(void *ud);
	void *done_ud;
	char readbuf[READ_BUF_SIZE];
};

struct write_req {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char data[];
};

static void conn_close(struct conn *c);
static void conn_process(struct conn *c);
static void conn_send(struct conn *c, const void *p, size_t n);

void ks_http_limits_default(ks_http_limits *l)
{
	l->max_header_bytes = 16 * 1024;
	l->max_headers = 100;
	l->max_body_bytes = 8u << 20;
	l->request_timeout_ms = 30000;
	l->idle_timeout_ms = 60000;
	l->max_connections = 1024;
	l->max_write_queue = 16u << 20;
}

const char *ks_http_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 411:
		return "Length Required";
	case 413:
		return "Request Entity Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

/* ---- small helpers ---- */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

char *ks_http_unescape(const char *s, size_t n, bool plus)
{
	char *out = ks_xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (plus && s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

char *ks_http_query_get(const char *query, const char *name)
{
	size_t nl = strlen(name);
	const char *p = query;
	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t kl = eq ? (size_t)(eq - p) : len;
		char *key = ks_http_unescape(p, kl, true);
		bool match = strlen(key) == nl && !memcmp(key, name, nl);
		free(key);
		if (match) {
			if (!eq)
				return ks_xstrdup("");
			return ks_http_unescape(eq + 1, len - kl - 1, true);
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

const char *ks_http_request_header(const ks_http_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

/* ---- request parsing ---- */

static void request_reset(struct conn *c)
{
	ks_buf_release(&c->url);
	ks_buf_init(&c->url, 0);
	for (size_t i = 0; i < c->nhdrs; i++) {
		ks_buf_release(&c->hdrs[i].name);
		ks_buf_release(&c->hdrs[i].value);
	}
	c->nhdrs = 0;
	c->last_was_value = false;
	c->header_bytes = 0;
	ks_buf_release(&c->body);
	ks_buf_init(&c->body, c->srv->lim.max_body_bytes);
	c->error_status = 0;
}

static int count_header_bytes(struct conn *c, size_t n)
{
	c->header_bytes += n;
	if (c->header_bytes > c->srv->lim.max_header_bytes) {
		c->error_status = 431;
		return -1;
	}
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct conn *c = p->data;
	request_reset(c);
	c->in_message = true;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct conn *c = p->data;
	if (count_header_bytes(c, n))
		return -1;
	ks_buf_append(&c->url, at, n);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct conn *c = p->data;
	if (count_header_bytes(c, n + 4))
		return -1;
	if (c->nhdrs == 0 || c->last_was_value) {
		if (c->nhdrs >= c->srv->lim.max_headers) {
			c->error_status = 431;
			return -1;
		}
		if (c->nhdrs == c->hdrs_alloc) {
			c->hdrs_alloc = c->hdrs_alloc ? c->hdrs_alloc * 2 : 16;
			c->hdrs = ks_xrealloc(c->hdrs,
					      c->hdrs_alloc * sizeof(*c->hdrs));
		}
		ks_buf_init(&c->hdrs[c->nhdrs].name, 0);
		ks_buf_init(&c->hdrs[c->nhdrs].value, 0);
		c->nhdrs++;
		c->last_was_value = false;
	}
	ks_buf_append(&c->hdrs[c->nhdrs - 1].name, at, n);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct conn *c = p->data;
	if (count_header_bytes(c, n))
		return -1;
	if (c->nhdrs == 0)
		return -1;
	c->last_was_value = true;
	ks_buf_append(&c->hdrs[c->nhdrs - 1].value, at, n);
	return 0;
}

static const char *parsed_header(struct conn *c, const char *name)
{
	for (size_t i = 0; i < c->nhdrs; i++)
		if (c->hdrs[i].name.data &&
		    !strcasecmp(c->hdrs[i].name.data, name))
			return c->hdrs[i].value.data ? c->hdrs[i].value.data
						     : "";
	return NULL;
}

static int on_headers_complete(http_parser *p)
{
	struct conn *c = p->data;
	if (p->http_major != 1) {
		c->error_status = 505;
		return -1;
	}
	if ((p->flags & F_CONTENTLENGTH) &&
	    p->content_length > c->srv->lim.max_body_bytes) {
		c->error_status = 413;
		return -1;
	}
	const char *expect = parsed_header(c, "Expect");
	if (expect && !strcasecmp(expect, "100-continue") &&
	    p->http_minor >= 1) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		conn_send(c, cont, sizeof(cont) - 1);
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct conn *c = p->data;
	if (ks_buf_append(&c->body, at, n)) {
		c->error_status = 413;
		return -1;
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct conn *c = p->data;
	c->in_message = false;
	c->deadline_armed = false;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = w->c;
	c->write_queued -= w->len;
	free(w);
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->close_after_write && c->write_queued == 0)
		conn_close(c);
}

static void raw_write(struct conn *c, const void *p, size_t n)
{
	if (c->closing || n == 0)
		return;
	struct write_req *w = ks_xmalloc(sizeof(*w) + n);
	w->c = c;
	w->len = n;
	memcpy(w->data, p, n);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
	c->write_queued += n;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
		c->write_queued -= n;
		free(w);
		conn_close(c);
	}
}

static void tls_flush(struct conn *c)
{
	char buf[16384];
	BIO *wbio = SSL_get_wbio(c->ssl);
	while (BIO_pending(wbio) > 0) {
		int n = BIO_read(wbio, buf, sizeof(buf));
		if (n <= 0)
			break;
		raw_write(c, buf, (size_t)n);
	}
}

static void conn_send(struct conn *c, const void *p, size_t n)
{
	if (c->closing)
		return;
	if (!c->ssl) {
		raw_write(c, p, n);
		return;
	}
	const char *s = p;
	while (n > 0) {
		int chunk = n > (1 << 30) ? (1 << 30) : (int)n;
		int w = SSL_write(c->ssl, s, chunk);
		if (w <= 0) {
			conn_close(c);
			return;
		}
		s += w;
		n -= (size_t)w;
	}
	tls_flush(c);
}

/* ---- exchanges ---- */

static void exchange_free(ks_http_exchange *ex)
{
	free(ex->method);
	free(ex->target);
	free(ex->path);
	free(ex->query);
	free(ex->body);
	free(ex->client_cn);
	free(ex->client_orgs);
	for (size_t i = 0; i < ex->nheaders; i++) {
		free((char *)ex->headers[i].name);
		free((char *)ex->headers[i].value);
	}
	free(ex->headers);
	free(ex);
}

/* Detaches EX from its connection and frees it; the connection goes on with
 * its next request or closes. */
static void exchange_finish(ks_http_exchange *ex, bool close)
{
	struct conn *c = ex->c;
	bool keep = ex->keep_alive && !ex->want_close && !close;
	exchange_free(ex);
	if (!c)
		return;
	c->ex = NULL;
	if (!keep) {
		c->close_after_write = true;
		if (c->write_queued == 0)
			conn_close(c);
		return;
	}
	if (!c->processing)
		conn_process(c);
}

static void append_headers(ks_buf *b, int status, const ks_http_header *hdrs,
			   size_t nhdrs, bool close)
{
	ks_buf_printf(b, "HTTP/1.1 %d %s\r\n", status, ks_http_reason(status));
	for (size_t i = 0; i < nhdrs; i++)
		ks_buf_printf(b, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
	if (close)
		ks_buf_puts(b, "Connection: close\r\n");
}

void ks_http_set_close(ks_http_exchange *ex)
{
	ex->want_close = true;
}

void ks_http_respond(ks_http_exchange *ex, int status,
		     const ks_http_header *hdrs, size_t nhdrs, const void *body,
		     size_t len)
{
	struct conn *c = ex->c;
	if (!c) {
		exchange_free(ex);
		return;
	}
	bool close = !ex->keep_alive || ex->want_close;
	ks_buf b;
	ks_buf_init(&b, 0);
	append_headers(&b, status, hdrs, nhdrs, close);
	ks_buf_printf(&b, "Content-Length: %zu\r\n\r\n", len);
	if (!ex->head && len)
		ks_buf_append(&b, body, len);
	conn_send(c, b.data, b.len);
	ks_buf_release(&b);
	exchange_finish(ex, false);
}

int ks_http_stream_begin(ks_http_exchange *ex, int status,
			 const ks_http_header *hdrs, size_t nhdrs)
{
	struct conn *c = ex->c;
	if (!c)
		return KS_EIO;
	ks_buf b;
	ks_buf_init(&b, 0);
	append_headers(&b, status, hdrs, nhdrs, false);
	ks_buf_puts(&b, "Transfer-Encoding: chunked\r\n\r\n");
	conn_send(c, b.data, b.len);
	ks_buf_release(&b);
	ex->streaming = true;
	return 0;
}

int ks_http_stream_write(ks_http_exchange *ex, const void *p, size_t n)
{
	struct conn *c = ex->c;
	if (!c || c->closing)
		return KS_EIO;
	if (c->write_queued + n > c->srv->lim.max_write_queue)
		return KS_ELIMIT;
	if (n == 0)
		return 0;
	char head[32];
	int hl = snprintf(head, sizeof(head), "%zx\r\n", n);
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_append(&b, head, (size_t)hl);
	ks_buf_append(&b, p, n);
	ks_buf_append(&b, "\r\n", 2);
	conn_send(c, b.data, b.len);
	ks_buf_release(&b);
	return 0;
}

void ks_http_stream_end(ks_http_exchange *ex)
{
	if (ex->c && ex->streaming)
		conn_send(ex->c, "0\r\n\r\n", 5);
	exchange_finish(ex, false);
}

void ks_http_drop(ks_http_exchange *ex)
{
	struct conn *c = ex->c;
	exchange_free(ex);
	if (c) {
		c->ex = NULL;
		conn_close(c);
	}
}

void ks_http_on_close(ks_http_exchange *ex, void (*cb)(void *ud), void *ud)
{
	ex->close_cb = cb;
	ex->close_ud = ud;
}

bool ks_http_alive(const ks_http_exchange *ex)
{
	return ex->c && !ex->c->closing;
}

/* Sends an error answer for a request that could not be read and closes. */
static void send_error(struct conn *c, int status)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
			 "charset=utf-8\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\n%d %s\n",
			 status, ks_http_reason(status),
			 strlen(ks_http_reason(status)) + 5, status,
			 ks_http_reason(status));
	conn_send(c, msg, (size_t)n);
	c->close_after_write = true;
	if (c->write_queued == 0)
		conn_close(c);
}

static void dispatch(struct conn *c)
{
	ks_http_exchange *ex = ks_xcalloc(1, sizeof(*ex));
	http_parser *p = &c->parser;
	ex->c = c;
	ex->method = ks_xstrdup(http_method_str((enum http_method)p->method));
	ex->head = p->method == HTTP_HEAD;
	ex->keep_alive = http_should_keep_alive(p) != 0;
	size_t ulen;
	ex->target = ks_buf_detach(&c->url, &ulen);
	const char *q = memchr(ex->target, '?', ulen);
	size_t plen = q ? (size_t)(q - ex->target) : ulen;
	ex->path = ks_http_unescape(ex->target, plen, false);
	ex->query = ks_xstrdup(q ? q + 1 : "");
	ex->headers = ks_xcalloc(c->nhdrs ? c->nhdrs : 1, sizeof(*ex->headers));
	for (size_t i = 0; i < c->nhdrs; i++) {
		ex->headers[i].name = ks_buf_detach(&c->hdrs[i].name, NULL);
		ex->headers[i].value = ks_buf_detach(&c->hdrs[i].value, NULL);
	}
	ex->nheaders = c->nhdrs;
	size_t blen;
	ex->body = ks_buf_detach(&c->body, &blen);
	if (c->client_cn)
		ex->client_cn = ks_xstrdup(c->client_cn);
	if (c->client_orgs)
		ex->client_orgs = ks_xstrdup(c->client_orgs);

	ks_http_request *r = &ex->req;
	r->method = ex->method;
	r->target = ex->target;
	r->path = ex->path;
	r->query = ex->query;
	r->headers = ex->headers;
	r->nheaders = ex->nheaders;
	r->body = ex->body;
	r->body_len = blen;
	r->peer = c->peer;
	r->client_cn = ex->client_cn;
	r->client_orgs = ex->client_orgs;

	c->ex = ex;
	request_reset(c);
	c->srv->handler(c->srv->ud, r, ex);
}

/* ---- the connection loop ---- */

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	if (c->ex)
		return;
	if (c->in_message)
		send_error(c, 408);
	else
		conn_close(c);
}

static void arm_timer(struct conn *c)
{
	if (c->closing)
		return;
	if (c->ex) {
		uv_timer_stop(&c->timer);
		c->deadline_armed = false;
	} else if (c->in_message) {
		if (!c->deadline_armed) {
			uv_timer_start(&c->timer, on_timer,
				       c->srv->lim.request_timeout_ms, 0);
			c->deadline_armed = true;
		}
	} else {
		uv_timer_start(&c->timer, on_timer, c->srv->lim.idle_timeout_ms,
			       0);
	}
}

static size_t pending_cap(const struct conn *c)
{
	return c->srv->lim.max_header_bytes + c->srv->lim.max_body_bytes +
	       READ_BUF_SIZE;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	(void)suggested;
	*buf = uv_buf_init(c->srv->readbuf, READ_BUF_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void set_reading(struct conn *c, bool on)
{
	if (c->closing || c->reading == on)
		return;
	if (on)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = on;
}

static void conn_process(struct conn *c)
{
	if (c->processing)
		return;
	c->processing = true;
	while (!c->ex && !c->closing && !c->close_after_write &&
	       c->pending.len > 0) {
		size_t n = http_parser_execute(&c->parser, &parser_settings,
					       c->pending.data, c->pending.len);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		memmove(c->pending.data, c->pending.data + n,
			c->pending.len - n);
		c->pending.len -= n;
		c->pending.data[c->pending.len] = '\0';
		if (c->error_status) {
			send_error(c, c->error_status);
			break;
		}
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			dispatch(c);
			continue;
		}
		if (e != HPE_OK) {
			send_error(c, e == HPE_HEADER_OVERFLOW ? 431 : 400);
			break;
		}
	}
	c->processing = false;
	if (c->closing)
		return;
	set_reading(c, c->pending.len < pending_cap(c));
	arm_timer(c);
}

static void conn_input(struct conn *c, const char *p, size_t n)
{
	if (c->close_after_write)
		return; /* an error answer is on its way; discard */
	ks_buf_append(&c->pending, p, n);
	conn_process(c);
}

static void tls_peer_identity(struct conn *c)
{
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	if (!cert)
		return;
	if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
		X509_free(cert);
		return;
	}
	X509_NAME *subj = X509_get_subject_name(cert);
	char buf[256];
	if (X509_NAME_get_text_by_NID(subj, NID_commonName, buf, sizeof(buf)) >
	    0)
		c->client_cn = ks_xstrdup(buf);
	ks_buf orgs;
	ks_buf_init(&orgs, 4096);
	int idx = -1;
	while ((idx = X509_NAME_get_index_by_NID(subj, NID_organizationName,
						 idx)) >= 0) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, idx);
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
		if (orgs.len)
			ks_buf_puts(&orgs, ",");
		ks_buf_append(&orgs, ASN1_STRING_get0_data(d),
			      (size_t)ASN1_STRING_length(d));
	}
	if (orgs.len)
		c->client_orgs = ks_buf_detach(&orgs, NULL);
	ks_buf_release(&orgs);
	X509_free(cert);
}

static void tls_input(struct conn *c, const char *p, size_t n)
{
	BIO_write(SSL_get_rbio(c->ssl), p, (int)n);
	char buf[16384];
	for (;;) {
		bool was_init = SSL_is_init_finished(c->ssl);
		int r = SSL_read(c->ssl, buf, sizeof(buf));
		if (!was_init && SSL_is_init_finished(c->ssl))
			tls_peer_identity(c);
		if (r > 0) {
			conn_input(c, buf, (size_t)r);
			if (c->closing)
				return;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		tls_flush(c);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return;
		ERR_clear_error();
		conn_close(c);
		return;
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (n < 0) {
		conn_close(c);
		return;
	}
	if (n == 0)
		return;
	if (c->ssl)
		tls_input(c, buf->base, (size_t)n);
	else
		conn_input(c, buf->base, (size_t)n);
}

static void server_maybe_done(ks_http_server *s)
{
	if (!s->closing || s->listener_open || s->conns)
		return;
	void (*done)(void *) = s->done;
	void *ud = s->done_ud;
	if (s->tls)
		SSL_CTX_free(s->tls);
	free(s);
	if (done)
		done(ud);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	ks_http_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	request_reset(c);
	ks_buf_release(&c->url);
	ks_buf_release(&c->body);
	ks_buf_release(&c->pending);
	free(c->hdrs);
	if (c->ssl)
		SSL_free(c->ssl);
	free(c->client_cn);
	free(c->client_orgs);
	free(c);
	server_maybe_done(s);
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	ks_http_exchange *ex = c->ex;
	c->ex = NULL;
	if (ex) {
		ex->c = NULL;
		if (ex->close_cb)
			ex->close_cb(ex->close_ud);
	}
	uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_connection(uv_stream_t *l, int status)
{
	ks_http_server *s = l->data;
	if (status < 0 || s->closing)
		return;
	struct conn *c = ks_xcalloc(1, sizeof(*c));
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	ks_buf_init(&c->url, 0);
	ks_buf_init(&c->body, s->lim.max_body_bytes);
	ks_buf_init(&c->pending, 0);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0 ||
	    s->nconns > s->lim.max_connections) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			uv_ip6_name(a, host, sizeof(host));
			port = ntohs(a->sin6_port);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			uv_ip4_name(a, host, sizeof(host));
			port = ntohs(a->sin_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	if (s->tls) {
		c->ssl = SSL_new(s->tls);
		SSL_set_bio(c->ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
		SSL_set_accept_state(c->ssl);
	}
	set_reading(c, true);
	arm_timer(c);
}

/* ---- the server ---- */

ks_http_server *ks_http_server_new(uv_loop_t *loop,
				   const ks_http_limits *limits,
				   ks_http_handler handler, void *ud)
{
	ks_http_server *s = ks_xcalloc(1, sizeof(*s));
	s->loop = loop;
	if (limits)
		s->lim = *limits;
	else
		ks_http_limits_default(&s->lim);
	s->handler = handler;
	s->ud = ud;
	return s;
}

int ks_http_server_set_tls(ks_http_server *s, const char *cert, const char *key,
			   const char *client_ca, ks_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return ks_error_set(err, KS_EENV,
				    "cannot create a tls context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return ks_error_set(err, KS_EINVAL,
				    "cannot load certificate \"%s\"", cert);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return ks_error_set(err, KS_EINVAL,
				    "cannot load private key \"%s\"", key);
	}
	if (client_ca) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
		if (!names ||
		    SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
			if (names)
				sk_X509_NAME_pop_free(names, X509_NAME_free);
			SSL_CTX_free(ctx);
			ERR_clear_error();
			return ks_error_set(err, KS_EINVAL,
					    "cannot load client ca \"%s\"",
					    client_ca);
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		/* With client certificates verified, OpenSSL refuses to resume
		 * a session unless a session id context is set ("session id
		 * context uninitialized"), and clients that share sessions
		 * across connections (curl, Go) then fail their handshake. */
		static const unsigned char sid_ctx[] = "kusync";
		SSL_CTX_set_session_id_context(ctx, sid_ctx,
					       sizeof(sid_ctx) - 1);
	}
	if (s->tls)
		SSL_CTX_free(s->tls);
	s->tls = ctx;
	return 0;
}

static int parse_addr(const char *addr, struct sockaddr_storage *ss)
{
	const char *colon = strrchr(addr, ':');
	if (!colon || !colon[1])
		return KS_EINVAL;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return KS_EINVAL;
	size_t hl = (size_t)(colon - addr);
	char host[INET6_ADDRSTRLEN + 2];
	if (hl >= sizeof(host))
		return KS_EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (uv_ip6_addr(host + 1, (int)port,
				(struct sockaddr_in6 *)ss) < 0)
			return KS_EINVAL;
		return 0;
	}
	if (hl == 0 || !strcmp(host, "localhost"))
		memcpy(host, "127.0.0.1", 10);
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) < 0)
		return KS_EINVAL;
	return 0;
}

int ks_http_server_listen(ks_http_server *s, const char *addr, ks_error *err)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (parse_addr(addr, &ss))
		return ks_error_set(err, KS_EINVAL,
				    "invalid listen address \"%s\": want "
				    "HOST:PORT",
				    addr);
	if (!s->listener_open) {
		uv_tcp_init(s->loop, &s->listener);
		s->listener.data = s;
		s->listener_open = true;
	}
	int r = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
	if (r < 0)
		return ks_error_set(err, KS_EENV, "cannot listen on %s: %s",
				    addr, uv_strerror(r));
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len) ==
	    0) {
		if (bound.ss_family == AF_INET6)
			s->port = ntohs(
				((struct sockaddr_in6 *)&bound)->sin6_port);
		else
			s->port =
				ntohs(((struct sockaddr_in *)&bound)->sin_port);
	}
	return 0;
}

int ks_http_server_port(const ks_http_server *s)
{
	return s->port;
}

size_t ks_http_server_connections(const ks_http_server *s)
{
	return s->nconns;
}

static void on_listener_closed(uv_handle_t *h)
{
	ks_http_server *s = h->data;
	s->listener_open = false;
	server_maybe_done(s);
}

void ks_http_server_close(ks_http_server *s, void (*done)(void *ud), void *ud)
{
	if (!s)
		return;
	s->closing = true;
	s->done = done;
	s->done_ud = ud;
	for (struct conn *c = s->conns; c; c = c->next)
		conn_close(c);
	if (s->listener_open)
		uv_close((uv_handle_t *)&s->listener, on_listener_closed);
	else
		server_maybe_done(s);
}
