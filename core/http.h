/*
 * A small HTTP/1.1 server on libuv and http-parser, shared by devcluster and
 * the agent's webhook/API server.
 *
 * One handler callback receives each complete request (method, path, query,
 * headers, body already read) together with an exchange, the handle through
 * which it answers: at once (ks_http_respond), later (the exchange stays
 * valid until it is finished), or as a chunked stream (ks_http_stream_*,
 * for watches). Requests on one connection are handled one at a time
 * (pipelined requests wait for the previous answer).
 *
 * Limits (ks_http_limits) bound what a client can make the server hold:
 * header bytes and count (431), body bytes (413), the time to send one
 * request (slow clients: 408 and close), idle keep-alive time, the number of
 * connections (extra ones are closed at once) and the bytes queued towards a
 * client that does not read (a stream write then fails). A malformed request
 * gets 400 and the connection closes; so does any limit violation.
 *
 * Everything runs on the loop's thread; nothing here is thread-safe.
 */
#ifndef KS_CORE_HTTP_H
#define KS_CORE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/error.h"

typedef struct ks_http_limits {
	size_t max_header_bytes; /* request line + headers; default 16 KiB */
	size_t max_headers;	 /* header count; default 100 */
	size_t max_body_bytes;	 /* default 8 MiB */
	unsigned request_timeout_ms; /* first byte to last; default 30 s */
	unsigned idle_timeout_ms;    /* keep-alive wait for a request; 60 s */
	unsigned max_connections;    /* default 1024 */
	size_t max_write_queue;	     /* bytes queued to one client; 16 MiB */
} ks_http_limits;

/* Fills L with the defaults above. */
void ks_http_limits_default(ks_http_limits *l);

typedef struct ks_http_header {
	const char *name;
	const char *value;
} ks_http_header;

/*
 * A request as the handler sees it. Every pointer is borrowed and valid
 * until the exchange is finished.
 */
typedef struct ks_http_request {
	const char *method; /* "GET", "POST", ... */
	const char *target; /* the request target as sent */
	const char *path;   /* the target's path, percent-decoded */
	const char *query;  /* the raw query after '?', "" when none */
	const ks_http_header *headers;
	size_t nheaders;
	const char *body; /* NUL-terminated (the NUL is not counted) */
	size_t body_len;
	const char *peer; /* "127.0.0.1:50412" */
	/* With TLS and a verified client certificate: its subject CN and the
	 * O entries joined by ','; NULL otherwise. */
	const char *client_cn;
	const char *client_orgs;
} ks_http_request;

/* The case-insensitive value of the first header NAME, or NULL. */
const char *ks_http_request_header(const ks_http_request *r, const char *name);

/*
 * The percent-decoded value of the first query parameter NAME ('+' is a
 * space) as a new string the caller frees; NULL when absent. A parameter
 * given without '=' has the value "".
 */
char *ks_http_query_get(const char *query, const char *name);

/* Percent-decodes (S, N) ('+' as space when PLUS) into a new string. */
char *ks_http_unescape(const char *s, size_t n, bool plus);

typedef struct ks_http_exchange ks_http_exchange;

/*
 * Called for each request. The handler must finish EX exactly once, now or
 * later, with ks_http_respond, ks_http_stream_end or ks_http_drop; until then
 * REQ stays valid. If the client goes away first, the close callback (see
 * ks_http_on_close) runs and the handler must still finish EX (which then
 * only frees it).
 */
typedef void (*ks_http_handler)(void *ud, const ks_http_request *req,
				ks_http_exchange *ex);

/* The reason phrase of a status code ("Not Found"). */
const char *ks_http_reason(int status);

/*
 * Sends a complete response and finishes the exchange. Content-Length is
 * added; HDRS must not carry it nor Transfer-Encoding. BODY is copied. After
 * a 4xx/5xx for a request whose body was not fully read, or when the client
 * asked for it, the connection closes after the response.
 */
void ks_http_respond(ks_http_exchange *ex, int status,
		     const ks_http_header *hdrs, size_t nhdrs, const void *body,
		     size_t len);

/* Asks for the connection to close once the response is sent. */
void ks_http_set_close(ks_http_exchange *ex);

/*
 * Starts a chunked response (Transfer-Encoding: chunked). Then
 * ks_http_stream_write sends one chunk per call (data copied), and
 * ks_http_stream_end sends the last chunk and finishes the exchange.
 * stream_write returns KS_EIO when the client is gone, KS_ELIMIT when more
 * than max_write_queue bytes are waiting for the client (the caller should
 * end the stream); nothing is sent then.
 */
int ks_http_stream_begin(ks_http_exchange *ex, int status,
			 const ks_http_header *hdrs, size_t nhdrs);
int ks_http_stream_write(ks_http_exchange *ex, const void *p, size_t n);
void ks_http_stream_end(ks_http_exchange *ex);

/* Closes the connection without (further) response, finishing EX. For
 * fault injection and for giving up on a stream. */
void ks_http_drop(ks_http_exchange *ex);

/*
 * Registers CB, called once if the connection closes before EX is finished
 * (client went away, server shutting down). Replaces an earlier callback.
 */
void ks_http_on_close(ks_http_exchange *ex, void (*cb)(void *ud), void *ud);

/* Whether the connection of EX is still open. */
bool ks_http_alive(const ks_http_exchange *ex);

typedef struct ks_http_server ks_http_server;

/*
 * A server on LOOP calling HANDLER(UD, ...) for each request; LIMITS is
 * copied (NULL: defaults). Free with ks_http_server_close.
 */
ks_http_server *ks_http_server_new(uv_loop_t *loop,
				   const ks_http_limits *limits,
				   ks_http_handler handler, void *ud);

/*
 * Serves HTTPS from now on: CERT and KEY are PEM files; CLIENT_CA (may be
 * NULL) is a PEM bundle used to verify client certificates, which are then
 * requested but not required. Call before ks_http_server_listen.
 */
int ks_http_server_set_tls(ks_http_server *s, const char *cert, const char *key,
			   const char *client_ca, ks_error *err);

/*
 * Listens on ADDR, "HOST:PORT" or "[V6]:PORT" (port 0 picks a free one).
 * KS_EINVAL for a malformed address, KS_EENV when the bind fails.
 */
int ks_http_server_listen(ks_http_server *s, const char *addr, ks_error *err);

/* The bound port after a successful listen, else 0. */
int ks_http_server_port(const ks_http_server *s);

/* Open connections (for tests and metrics). */
size_t ks_http_server_connections(const ks_http_server *s);

/*
 * Stops listening, closes every connection (close callbacks of open
 * exchanges run) and frees the server once all its handles are closed,
 * then calls DONE(UD) if DONE is not NULL. Unfinished exchanges stay the
 * handler's to finish. Accepts NULL.
 */
void ks_http_server_close(ks_http_server *s, void (*done)(void *ud), void *ud);

#endif
