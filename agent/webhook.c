/*
 * Webhook authentication and event parsing. The request is authenticated
 * before its body is looked at; the body is parsed with jansson, which
 * bounds nesting itself (JSON_PARSER_MAX_DEPTH, 2048 in jansson 2.14), so a
 * deeply nested body is an ordinary parse error, never a deep stack.
 */
#include "agent/webhook.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/mem.h"
#include "core/banned.h"

#define SHA256_LEN 32
/* Longer delivery ids are refused: real ones are UUIDs or small numbers. */
#define MAX_DELIVERY 256

const char *ks_hook_result_name(ks_hook_result r)
{
	switch (r) {
	case KS_HOOK_ACCEPTED:
		return "accepted";
	case KS_HOOK_IGNORED:
		return "ignored";
	case KS_HOOK_DUPLICATE:
		return "duplicate";
	case KS_HOOK_UNAUTHORIZED:
		return "unauthorized";
	case KS_HOOK_TOO_LARGE:
		return "too_large";
	case KS_HOOK_BAD_REQUEST:
		return "bad_request";
	}
	return "unknown";
}

void ks_hook_event_release(ks_hook_event *ev)
{
	if (!ev)
		return;
	free(ev->delivery);
	free(ev->ref);
	free(ev->after);
	free(ev->mr);
	free(ev->login);
	free(ev->merge_commit);
	memset(ev, 0, sizeof(*ev));
}

static ks_hook_result fail(ks_hook_result r, char *why, size_t whylen,
			   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static ks_hook_result fail(ks_hook_result r, char *why, size_t whylen,
			   const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* The provider's header names. */
typedef struct provider_info {
	const char *sig;      /* signature or token header */
	const char *prefix;   /* "sha256=" or "" (hex) or NULL (token) */
	const char *event;    /* event header or NULL */
	const char *delivery; /* delivery id header */
} provider_info;

static const provider_info *provider(ks_webhook_provider p)
{
	static const provider_info github = {"X-Hub-Signature-256",
					     "sha256=", "X-GitHub-Event",
					     "X-GitHub-Delivery"};
	static const provider_info gitea = {
		"X-Gitea-Signature", "", "X-Gitea-Event", "X-Gitea-Delivery"};
	static const provider_info gitlab = {"X-Gitlab-Token", NULL,
					     "X-Gitlab-Event",
					     "X-Gitlab-Event-UUID"};
	static const provider_info generic = {"X-Signature", "sha256=", NULL,
					      "X-Delivery-Id"};
	switch (p) {
	case KS_WEBHOOK_GITHUB:
		return &github;
	case KS_WEBHOOK_GITEA:
		return &gitea;
	case KS_WEBHOOK_GITLAB:
		return &gitlab;
	case KS_WEBHOOK_GENERIC:
		return &generic;
	case KS_WEBHOOK_NONE:
		break;
	}
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly 2*N hex digits of S into OUT; false on anything else. */
static bool unhex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 * i]);
		int lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static bool sha256(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
	unsigned int len = 0;
	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 &&
	       len == SHA256_LEN;
}

/*
 * The signature header GIVEN ("<prefix><64 hex>") against the HMAC-SHA256
 * of the body. The comparison of the digests is constant-time; what leaks
 * through timing is only whether the header was well-formed.
 */
static ks_hook_result check_hmac(const provider_info *pi, const char *secret,
				 size_t secret_len, const ks_http_request *req,
				 const char *given, char *why, size_t whylen)
{
	size_t plen = strlen(pi->prefix);
	if (plen && strncmp(given, pi->prefix, plen) != 0)
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "%s is not \"%s<hex>\"", pi->sig, pi->prefix);
	unsigned char want[SHA256_LEN], got[SHA256_LEN];
	if (!unhex(given + plen, got, sizeof(got)))
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "%s is not a SHA-256 hex digest", pi->sig);
	unsigned int wlen = 0;
	if (!HMAC(EVP_sha256(), secret, (int)secret_len,
		  (const unsigned char *)req->body, req->body_len, want,
		  &wlen) ||
	    wlen != SHA256_LEN)
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "cannot compute the HMAC");
	int diff = CRYPTO_memcmp(want, got, SHA256_LEN);
	OPENSSL_cleanse(want, sizeof(want));
	if (diff != 0)
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "signature mismatch");
	return KS_HOOK_ACCEPTED;
}

/*
 * GitLab's token is the secret itself. Both are hashed first so that the
 * comparison takes the same time whatever the lengths (SHA-256 digests of
 * different strings differ).
 */
static ks_hook_result check_token(const char *secret, size_t secret_len,
				  const char *given, char *why, size_t whylen)
{
	unsigned char a[SHA256_LEN], b[SHA256_LEN];
	if (!sha256(secret, secret_len, a) || !sha256(given, strlen(given), b))
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "cannot hash the token");
	int diff = CRYPTO_memcmp(a, b, SHA256_LEN);
	OPENSSL_cleanse(a, sizeof(a));
	if (diff != 0)
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "X-Gitlab-Token mismatch");
	return KS_HOOK_ACCEPTED;
}

static ks_hook_result authenticate(ks_webhook_provider p, const char *secret,
				   size_t secret_len,
				   const ks_http_request *req, char *why,
				   size_t whylen)
{
	const provider_info *pi = provider(p);
	if (!pi)
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "no webhook provider for this source");
	if (!secret || secret_len == 0)
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "no webhook secret configured");
	const char *given = ks_http_request_header(req, pi->sig);
	if (!given) {
		if (p == KS_WEBHOOK_GITHUB &&
		    ks_http_request_header(req, "X-Hub-Signature"))
			return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
				    "only a SHA-1 signature "
				    "(X-Hub-Signature): "
				    "X-Hub-Signature-256 is required");
		return fail(KS_HOOK_UNAUTHORIZED, why, whylen,
			    "missing %s header", pi->sig);
	}
	if (!pi->prefix)
		return check_token(secret, secret_len, given, why, whylen);
	return check_hmac(pi, secret, secret_len, req, given, why, whylen);
}

/* ---- payloads ---- */

static const char *str_at(const json_t *o, const char *k1, const char *k2)
{
	const json_t *v = json_object_get(o, k1);
	if (k2)
		v = json_object_get(v, k2);
	return json_string_value(v);
}

static char *xdup(const char *s)
{
	return s ? ks_xstrdup(s) : NULL;
}

/* "<repo>!<number>", NULL when either part is missing. NUMBER may be an
 * integer or a string (some providers quote it). */
static char *mr_id(const char *repo, const json_t *number)
{
	if (!repo || !*repo)
		return NULL;
	char buf[64];
	if (json_is_integer(number))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(number));
	else if (json_is_string(number) && json_string_length(number) &&
		 json_string_length(number) < sizeof(buf))
		snprintf(buf, sizeof(buf), "%s", json_string_value(number));
	else
		return NULL;
	size_t n = strlen(repo) + strlen(buf) + 2;
	char *s = ks_xmalloc(n);
	snprintf(s, n, "%s!%s", repo, buf);
	return s;
}

static bool is_commit_id(const char *s)
{
	size_t n = strlen(s);
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (hexval((unsigned char)s[i]) < 0)
			return false;
	return true;
}

static bool all_zeros(const char *s)
{
	for (; *s; s++)
		if (*s != '0')
			return false;
	return true;
}

static ks_hook_result parse_push(const json_t *body, ks_hook_event *ev,
				 char *why, size_t whylen)
{
	const char *ref = str_at(body, "ref", NULL);
	const char *after = str_at(body, "after", NULL);
	if (!ref || !*ref || !after)
		return fail(KS_HOOK_BAD_REQUEST, why, whylen,
			    "push without string \"ref\" and \"after\"");
	if (!is_commit_id(after))
		return fail(KS_HOOK_BAD_REQUEST, why, whylen,
			    "push \"after\" is not a commit id");
	ev->kind = all_zeros(after) ? KS_HOOK_OTHER : KS_HOOK_PUSH;
	ev->ref = ks_xstrdup(ref);
	ev->after = ks_xstrdup(after);
	for (char *c = ev->after; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return KS_HOOK_ACCEPTED;
}

static ks_hook_result need_mr(ks_hook_event *ev, char *why, size_t whylen)
{
	if (!ev->mr)
		return fail(KS_HOOK_BAD_REQUEST, why, whylen,
			    "merge request without repository or number");
	if (ev->kind == KS_HOOK_MR_APPROVED && (!ev->login || !*ev->login))
		return fail(KS_HOOK_BAD_REQUEST, why, whylen,
			    "approval without the reviewer's login");
	return KS_HOOK_ACCEPTED;
}

/* GitHub and Gitea share the pull_request shape: a closed, merged pull
 * request with merge_commit_sha. */
static ks_hook_result pr_closed(const json_t *body, ks_hook_event *ev,
				char *why, size_t whylen)
{
	const json_t *pr = json_object_get(body, "pull_request");
	const char *action = str_at(body, "action", NULL);
	if (!action || strcmp(action, "closed") != 0 ||
	    !json_is_true(json_object_get(pr, "merged")))
		return KS_HOOK_ACCEPTED; /* OTHER */
	ev->kind = KS_HOOK_MR_MERGED;
	ev->mr = mr_id(str_at(body, "repository", "full_name"),
		       json_object_get(pr, "number"));
	ev->merge_commit = xdup(str_at(pr, "merge_commit_sha", NULL));
	return need_mr(ev, why, whylen);
}

static ks_hook_result github_event(const char *event, const json_t *body,
				   ks_hook_event *ev, char *why, size_t whylen)
{
	if (strcmp(event, "push") == 0)
		return parse_push(body, ev, why, whylen);
	if (strcmp(event, "pull_request") == 0)
		return pr_closed(body, ev, why, whylen);
	if (strcmp(event, "pull_request_review") != 0)
		return KS_HOOK_ACCEPTED;
	const char *action = str_at(body, "action", NULL);
	const char *state = str_at(body, "review", "state");
	if (!action || strcmp(action, "submitted") != 0 || !state ||
	    strcasecmp(state, "approved") != 0)
		return KS_HOOK_ACCEPTED;
	ev->kind = KS_HOOK_MR_APPROVED;
	const json_t *review = json_object_get(body, "review");
	ev->login = xdup(str_at(review, "user", "login"));
	ev->mr = mr_id(str_at(body, "repository", "full_name"),
		       json_object_get(json_object_get(body, "pull_request"),
				       "number"));
	return need_mr(ev, why, whylen);
}

static ks_hook_result gitea_event(const char *event, const json_t *body,
				  ks_hook_event *ev, char *why, size_t whylen)
{
	if (strcmp(event, "push") == 0)
		return parse_push(body, ev, why, whylen);
	if (strcmp(event, "pull_request") == 0)
		return pr_closed(body, ev, why, whylen);
	if (strcmp(event, "pull_request_approved") != 0 &&
	    strcmp(event, "pull_request_review_approved") != 0)
		return KS_HOOK_ACCEPTED;
	/* Gitea's review payload names the reviewer only as the sender. */
	ev->kind = KS_HOOK_MR_APPROVED;
	ev->login = xdup(str_at(body, "sender", "login"));
	ev->mr = mr_id(str_at(body, "repository", "full_name"),
		       json_object_get(json_object_get(body, "pull_request"),
				       "number"));
	return need_mr(ev, why, whylen);
}

static ks_hook_result gitlab_event(const char *event, const json_t *body,
				   ks_hook_event *ev, char *why, size_t whylen)
{
	if (strcmp(event, "Merge Request Hook") != 0)
		return parse_push(body, ev, why, whylen);
	const json_t *attrs = json_object_get(body, "object_attributes");
	const char *action = str_at(attrs, "action", NULL);
	if (!action)
		return KS_HOOK_ACCEPTED;
	/* "approval" is one approver's approval, "approved" the one that
	 * completed the required set: either names its author in "user". */
	if (strcmp(action, "approved") == 0 ||
	    strcmp(action, "approval") == 0) {
		ev->kind = KS_HOOK_MR_APPROVED;
		ev->login = xdup(str_at(body, "user", "username"));
	} else if (strcmp(action, "merge") == 0) {
		ev->kind = KS_HOOK_MR_MERGED;
		ev->merge_commit =
			xdup(str_at(attrs, "merge_commit_sha", NULL));
	} else {
		return KS_HOOK_ACCEPTED;
	}
	ev->mr = mr_id(str_at(body, "project", "path_with_namespace"),
		       json_object_get(attrs, "iid"));
	return need_mr(ev, why, whylen);
}

/* Whether the provider's event EVENT (NULL: no event header) is one whose
 * body matters; bodies of other events (GitHub's ping, comments, ...) are
 * not parsed at all: they are accepted as OTHER. */
static bool wants_body(ks_webhook_provider p, const char *event)
{
	static const char *const github[] = {"push", "pull_request",
					     "pull_request_review", NULL};
	static const char *const gitea[] = {
		"push", "pull_request", "pull_request_approved",
		"pull_request_review_approved", NULL};
	static const char *const gitlab[] = {"Push Hook", "Tag Push Hook",
					     "Merge Request Hook", NULL};
	const char *const *names = NULL;
	if (p == KS_WEBHOOK_GENERIC)
		return true;
	if (!event)
		return false;
	if (p == KS_WEBHOOK_GITHUB)
		names = github;
	else if (p == KS_WEBHOOK_GITEA)
		names = gitea;
	else
		names = gitlab;
	for (; *names; names++)
		if (strcmp(*names, event) == 0)
			return true;
	return false;
}

static ks_hook_result parse_event(ks_webhook_provider p,
				  const ks_http_request *req, ks_hook_event *ev,
				  char *why, size_t whylen)
{
	const provider_info *pi = provider(p);
	const char *event =
		pi->event ? ks_http_request_header(req, pi->event) : NULL;
	ev->kind = KS_HOOK_OTHER;
	if (!wants_body(p, event))
		return KS_HOOK_ACCEPTED;
	json_error_t jerr;
	/* Duplicate keys are refused: two readers of one signed body must
	 * not disagree about what it says. */
	json_t *body = json_loadb(req->body, req->body_len,
				  JSON_REJECT_DUPLICATES, &jerr);
	if (!body)
		return fail(KS_HOOK_BAD_REQUEST, why, whylen,
			    "body is not JSON: %s", jerr.text);
	ks_hook_result r;
	if (!json_is_object(body))
		r = fail(KS_HOOK_BAD_REQUEST, why, whylen,
			 "body is not a JSON object");
	else if (p == KS_WEBHOOK_GENERIC)
		r = parse_push(body, ev, why, whylen);
	else if (p == KS_WEBHOOK_GITLAB)
		r = gitlab_event(event, body, ev, why, whylen);
	else if (p == KS_WEBHOOK_GITHUB)
		r = github_event(event, body, ev, why, whylen);
	else
		r = gitea_event(event, body, ev, why, whylen);
	json_decref(body);
	return r;
}

ks_hook_result ks_hook_verify(ks_webhook_provider p, const char *secret,
			      size_t secret_len, const ks_http_request *req,
			      ks_hook_event *ev, char *why, size_t whylen)
{
	memset(ev, 0, sizeof(*ev));
	if (why && whylen)
		why[0] = '\0';
	if (req->body_len > KS_HOOK_MAX_BODY)
		return fail(KS_HOOK_TOO_LARGE, why, whylen,
			    "body of %zu bytes is over the 1 MiB limit",
			    req->body_len);
	ks_hook_result r =
		authenticate(p, secret, secret_len, req, why, whylen);
	if (r != KS_HOOK_ACCEPTED)
		return r;
	const char *delivery =
		ks_http_request_header(req, provider(p)->delivery);
	if (delivery && strlen(delivery) > MAX_DELIVERY)
		return fail(KS_HOOK_BAD_REQUEST, why, whylen,
			    "delivery id longer than %d bytes", MAX_DELIVERY);
	r = parse_event(p, req, ev, why, whylen);
	if (r != KS_HOOK_ACCEPTED) {
		ks_hook_event_release(ev);
		return r;
	}
	ev->delivery = delivery && *delivery ? ks_xstrdup(delivery) : NULL;
	return r;
}

/* ---- replay cache ---- */

/*
 * A chained hash table of ids, plus a list of the same entries in the
 * order they were remembered: since the TTL is one for all, the list's
 * head is always the next to expire (and the first to evict past MAX).
 */
typedef struct replay_entry {
	struct replay_entry *next_hash;
	struct replay_entry *prev, *next; /* age list, oldest first */
	int64_t at;
	uint64_t hash;
	char id[];
} replay_entry;

struct ks_hook_replay {
	int64_t ttl_ms;
	size_t max;
	size_t count;
	size_t nbuckets; /* power of two */
	replay_entry **buckets;
	replay_entry *oldest, *newest;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

ks_hook_replay *ks_hook_replay_new(int64_t ttl_ms, size_t max)
{
	ks_hook_replay *r = ks_xcalloc(1, sizeof(*r));
	r->ttl_ms = ttl_ms;
	r->max = max ? max : 1;
	r->nbuckets = 16;
	while (r->nbuckets < r->max && r->nbuckets < ((size_t)1 << 20))
		r->nbuckets <<= 1;
	r->buckets = ks_xcalloc(r->nbuckets, sizeof(*r->buckets));
	return r;
}

static replay_entry **find_slot(ks_hook_replay *r, const char *id, uint64_t h)
{
	replay_entry **pp = &r->buckets[h & (r->nbuckets - 1)];
	while (*pp && ((*pp)->hash != h || strcmp((*pp)->id, id) != 0))
		pp = &(*pp)->next_hash;
	return pp;
}

static void list_unlink(ks_hook_replay *r, replay_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		r->oldest = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		r->newest = e->prev;
	e->prev = e->next = NULL;
}

static void list_append(ks_hook_replay *r, replay_entry *e)
{
	e->prev = r->newest;
	e->next = NULL;
	if (r->newest)
		r->newest->next = e;
	else
		r->oldest = e;
	r->newest = e;
}

static void drop(ks_hook_replay *r, replay_entry *e)
{
	replay_entry **pp = find_slot(r, e->id, e->hash);
	*pp = e->next_hash;
	list_unlink(r, e);
	free(e);
	r->count--;
}

static void prune(ks_hook_replay *r, int64_t now_ms)
{
	while (r->oldest && now_ms - r->oldest->at >= r->ttl_ms)
		drop(r, r->oldest);
}

bool ks_hook_replay_seen(ks_hook_replay *r, const char *id, int64_t now_ms)
{
	prune(r, now_ms);
	if (!id)
		return false;
	return *find_slot(r, id, fnv1a(id)) != NULL;
}

void ks_hook_replay_remember(ks_hook_replay *r, const char *id, int64_t now_ms)
{
	prune(r, now_ms);
	if (!id)
		return;
	uint64_t h = fnv1a(id);
	replay_entry *e = *find_slot(r, id, h);
	if (e) {
		e->at = now_ms;
		list_unlink(r, e);
		list_append(r, e);
		return;
	}
	while (r->count >= r->max)
		drop(r, r->oldest);
	size_t n = strlen(id) + 1;
	e = ks_xcalloc(1, sizeof(*e) + n);
	memcpy(e->id, id, n);
	e->hash = h;
	e->at = now_ms;
	replay_entry **slot = &r->buckets[h & (r->nbuckets - 1)];
	e->next_hash = *slot;
	*slot = e;
	list_append(r, e);
	r->count++;
}

size_t ks_hook_replay_size(const ks_hook_replay *r)
{
	return r->count;
}

void ks_hook_replay_free(ks_hook_replay *r)
{
	if (!r)
		return;
	replay_entry *e = r->oldest;
	while (e) {
		replay_entry *next = e->next;
		free(e);
		e = next;
	}
	free(r->buckets);
	free(r);
}
