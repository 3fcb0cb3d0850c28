/* Webhook authentication per provider, event parsing and the replay cache.
 * Signatures are computed independently of agent/webhook.c: GitHub's
 * documented example vector, and `openssl dgst -hmac` for the others. */
#include "ks_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/webhook.h"
#include "core/mem.h"

#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY "Hello, World!"
#define GH_SIG                                                                 \
	"sha256="                                                              \
	"757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e"       \
	"17"
#define C1 "0123456789abcdef0123456789abcdef01234567"
#define C2 "89abcdef0123456789abcdef0123456789abcdef"
#define ZEROS "0000000000000000000000000000000000000000"

/* A request with up to 8 headers given as name, value pairs. */
typedef struct hreq {
	ks_http_header h[8];
	ks_http_request r;
} hreq;

static void mkreq(hreq *q, const char *body, size_t len, const char *h1,
		  const char *v1, const char *h2, const char *v2,
		  const char *h3, const char *v3)
{
	memset(q, 0, sizeof(*q));
	const char *names[] = {h1, h2, h3};
	const char *values[] = {v1, v2, v3};
	size_t n = 0;
	for (size_t i = 0; i < 3; i++) {
		if (!names[i])
			continue;
		q->h[n].name = names[i];
		q->h[n].value = values[i];
		n++;
	}
	q->r.method = "POST";
	q->r.target = q->r.path = "/hooks/demo";
	q->r.query = "";
	q->r.headers = q->h;
	q->r.nheaders = n;
	q->r.body = body;
	q->r.body_len = len;
	q->r.peer = "127.0.0.1:1";
}

/* HEX of HMAC-SHA256(SECRET, BODY) computed by the openssl command (the
 * secret must not contain a single quote). */
static void openssl_hmac(const char *secret, const char *body, size_t len,
			 char hex[65])
{
	char path[] = "/tmp/ks-hook-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, len), (ssize_t)len);
	close(fd);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -hmac '%s' -r '%s'",
		 secret, path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[256] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	unlink(path);
	memcpy(hex, line, 64);
	hex[64] = '\0';
	for (size_t i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", hex[i]));
}

/* "sha256=" + the openssl HMAC of BODY under SECRET, in a static buffer. */
static const char *sig256(const char *secret, const char *body)
{
	static char buf[80];
	char hex[65];
	openssl_hmac(secret, body, strlen(body), hex);
	snprintf(buf, sizeof(buf), "sha256=%s", hex);
	return buf;
}

static ks_hook_result verify(ks_webhook_provider p, const char *secret,
			     const hreq *q, ks_hook_event *ev)
{
	char why[256];
	ks_hook_result r = ks_hook_verify(p, secret, strlen(secret), &q->r, ev,
					  why, sizeof(why));
	if (r != KS_HOOK_ACCEPTED) {
		assert_true(why[0] != '\0'); /* every refusal says why */
		if (*secret)
			assert_null(strstr(why, secret));
	}
	return r;
}

/* GitHub request: EVENT (NULL: none) with BODY signed under SECRET. */
static ks_hook_result github(const char *event, const char *body,
			     ks_hook_event *ev)
{
	hreq q;
	char sig[80];
	snprintf(sig, sizeof(sig), "%s", sig256("gh-secret", body));
	mkreq(&q, body, strlen(body), "X-Hub-Signature-256", sig,
	      event ? "X-GitHub-Event" : NULL, event, "X-GitHub-Delivery",
	      "d-1");
	return verify(KS_WEBHOOK_GITHUB, "gh-secret", &q, ev);
}

static void github_documented_vector(void **state)
{
	(void)state;
	hreq q;
	ks_hook_event ev;
	mkreq(&q, GH_BODY, strlen(GH_BODY), "X-Hub-Signature-256", GH_SIG, NULL,
	      NULL, NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GITHUB, GH_SECRET, &q, &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	assert_null(ev.delivery);
	ks_hook_event_release(&ev);

	mkreq(&q, GH_BODY, strlen(GH_BODY), "x-hub-signature-256", GH_SIG,
	      "X-GitHub-Event", "ping", "X-GITHUB-DELIVERY", "72d3162e");
	assert_int_equal(verify(KS_WEBHOOK_GITHUB, GH_SECRET, &q, &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	assert_string_equal(ev.delivery, "72d3162e");
	ks_hook_event_release(&ev);
	assert_null(ev.delivery);

	/* The openssl helper agrees with the documented vector. */
	char hex[65];
	openssl_hmac("gh-secret", GH_BODY, strlen(GH_BODY), hex);
	assert_string_not_equal(hex, &GH_SIG[7]);
}

static void github_upper_case_hex(void **state)
{
	(void)state;
	char sig[80];
	snprintf(sig, sizeof(sig), "%s", GH_SIG);
	for (char *c = sig + 7; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	hreq q;
	ks_hook_event ev;
	mkreq(&q, GH_BODY, strlen(GH_BODY), "X-Hub-Signature-256", sig, NULL,
	      NULL, NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GITHUB, GH_SECRET, &q, &ev),
			 KS_HOOK_ACCEPTED);
	ks_hook_event_release(&ev);
}

static void expect_unauthorized(const char *hname, const char *sig,
				const char *secret)
{
	hreq q;
	ks_hook_event ev;
	mkreq(&q, GH_BODY, strlen(GH_BODY), hname, sig, "X-GitHub-Event",
	      "push", NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GITHUB, secret, &q, &ev),
			 KS_HOOK_UNAUTHORIZED);
	assert_int_equal(ev.kind, 0);
	assert_null(ev.ref);
	ks_hook_event_release(&ev);
}

static void github_refusals(void **state)
{
	(void)state;
	char sig[80];
	/* one digit wrong */
	snprintf(sig, sizeof(sig), "%s", GH_SIG);
	sig[20] = sig[20] == '0' ? '1' : '0';
	expect_unauthorized("X-Hub-Signature-256", sig, GH_SECRET);
	/* right signature, wrong secret */
	expect_unauthorized("X-Hub-Signature-256", GH_SIG, "another secret");
	/* missing */
	expect_unauthorized("X-Other", GH_SIG, GH_SECRET);
	/* truncated: 63 and 62 digits, and none */
	snprintf(sig, sizeof(sig), "%s", GH_SIG);
	sig[strlen(sig) - 1] = '\0';
	expect_unauthorized("X-Hub-Signature-256", sig, GH_SECRET);
	sig[strlen(sig) - 1] = '\0';
	expect_unauthorized("X-Hub-Signature-256", sig, GH_SECRET);
	expect_unauthorized("X-Hub-Signature-256", "sha256=", GH_SECRET);
	/* longer, non-hex, without the prefix, with another algorithm */
	snprintf(sig, sizeof(sig), "%s00", GH_SIG);
	expect_unauthorized("X-Hub-Signature-256", sig, GH_SECRET);
	snprintf(sig, sizeof(sig), "%s", GH_SIG);
	sig[10] = 'g';
	expect_unauthorized("X-Hub-Signature-256", sig, GH_SECRET);
	expect_unauthorized("X-Hub-Signature-256", &GH_SIG[7], GH_SECRET);
	snprintf(sig, sizeof(sig), "sha512=%s", &GH_SIG[7]);
	expect_unauthorized("X-Hub-Signature-256", sig, GH_SECRET);
	/* an empty secret never authenticates */
	expect_unauthorized("X-Hub-Signature-256", GH_SIG, "");

	/* SHA-1 only: refused, and the reason says so */
	hreq q;
	ks_hook_event ev;
	char why[256];
	mkreq(&q, GH_BODY, strlen(GH_BODY), "X-Hub-Signature",
	      "sha1=01dc10d0c83e72ed246219cdd91669867fc3cb1a", NULL, NULL, NULL,
	      NULL);
	assert_int_equal(ks_hook_verify(KS_WEBHOOK_GITHUB, GH_SECRET,
					strlen(GH_SECRET), &q.r, &ev, why,
					sizeof(why)),
			 KS_HOOK_UNAUTHORIZED);
	assert_non_null(strstr(why, "SHA-1"));
	/* a provider of NONE never authenticates */
	mkreq(&q, GH_BODY, strlen(GH_BODY), "X-Hub-Signature-256", GH_SIG, NULL,
	      NULL, NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_NONE, GH_SECRET, &q, &ev),
			 KS_HOOK_UNAUTHORIZED);
}

static void gitea_signature(void **state)
{
	(void)state;
	const char *body = "{\"ref\":\"refs/heads/main\",\"before\":\"" C1
			   "\",\"after\":\"" C2 "\"}";
	char hex[65];
	openssl_hmac("gitea-s3cret", body, strlen(body), hex);
	hreq q;
	ks_hook_event ev;
	mkreq(&q, body, strlen(body), "X-Gitea-Signature", hex, "X-Gitea-Event",
	      "push", "X-Gitea-Delivery", "g-7");
	assert_int_equal(verify(KS_WEBHOOK_GITEA, "gitea-s3cret", &q, &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_PUSH);
	assert_string_equal(ev.ref, "refs/heads/main");
	assert_string_equal(ev.after, C2);
	assert_string_equal(ev.delivery, "g-7");
	ks_hook_event_release(&ev);

	/* Gitea's header is bare hex: the GitHub form is refused, and so is
	 * GitHub's header for a gitea source. */
	char pref[80];
	snprintf(pref, sizeof(pref), "sha256=%s", hex);
	mkreq(&q, body, strlen(body), "X-Gitea-Signature", pref,
	      "X-Gitea-Event", "push", NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GITEA, "gitea-s3cret", &q, &ev),
			 KS_HOOK_UNAUTHORIZED);
	mkreq(&q, body, strlen(body), "X-Hub-Signature-256", pref,
	      "X-Gitea-Event", "push", NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GITEA, "gitea-s3cret", &q, &ev),
			 KS_HOOK_UNAUTHORIZED);
	/* the body changed after signing */
	mkreq(&q, body, strlen(body) - 1, "X-Gitea-Signature", hex,
	      "X-Gitea-Event", "push", NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GITEA, "gitea-s3cret", &q, &ev),
			 KS_HOOK_UNAUTHORIZED);
}

static ks_hook_result gitlab(const char *token, const char *event,
			     const char *body, ks_hook_event *ev)
{
	hreq q;
	mkreq(&q, body, strlen(body), token ? "X-Gitlab-Token" : NULL, token,
	      "X-Gitlab-Event", event, "X-Gitlab-Event-UUID", "uuid-1");
	return verify(KS_WEBHOOK_GITLAB, "gl-token", &q, ev);
}

static void gitlab_token(void **state)
{
	(void)state;
	const char *body = "{\"object_kind\":\"push\",\"ref\":\"refs/heads/"
			   "main\",\"after\":\"" C1 "\"}";
	ks_hook_event ev;
	assert_int_equal(gitlab("gl-token", "Push Hook", body, &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_PUSH);
	assert_string_equal(ev.ref, "refs/heads/main");
	assert_string_equal(ev.after, C1);
	assert_string_equal(ev.delivery, "uuid-1");
	ks_hook_event_release(&ev);
	const char *bad[] = {"gl-tokeN", "",	     "gl-token ", "gl-tokenx",
			     "gl-toke",	 "GL-TOKEN", NULL};
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(gitlab(bad[i], "Push Hook", body, &ev),
				 KS_HOOK_UNAUTHORIZED);
	assert_int_equal(gitlab(NULL, "Push Hook", body, &ev),
			 KS_HOOK_UNAUTHORIZED);
	char longer[5000];
	memset(longer, 'g', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(gitlab(longer, "Push Hook", body, &ev),
			 KS_HOOK_UNAUTHORIZED);
	/* a token whose prefix is the secret */
	memcpy(longer, "gl-token", 8);
	assert_int_equal(gitlab(longer, "Push Hook", body, &ev),
			 KS_HOOK_UNAUTHORIZED);
	/* an event it does not know: accepted, nothing to do */
	assert_int_equal(gitlab("gl-token", "Note Hook", "not json", &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	ks_hook_event_release(&ev);
}

static void delivery_ids(void **state)
{
	(void)state;
	const char *body = "{\"ref\":\"refs/heads/main\",\"after\":\"" C1 "\"}";
	char sig[80], id[300];
	snprintf(sig, sizeof(sig), "%s", sig256("k", body));
	hreq q;
	ks_hook_event ev;
	memset(id, 'a', 256);
	id[256] = '\0';
	mkreq(&q, body, strlen(body), "X-Signature", sig, "X-Delivery-Id", id,
	      NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GENERIC, "k", &q, &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(strlen(ev.delivery), 256);
	ks_hook_event_release(&ev);
	id[256] = 'a';
	id[257] = '\0';
	assert_int_equal(verify(KS_WEBHOOK_GENERIC, "k", &q, &ev),
			 KS_HOOK_BAD_REQUEST);
	assert_null(ev.delivery);
	/* an empty id is no id */
	mkreq(&q, body, strlen(body), "X-Signature", sig, "X-Delivery-Id", "",
	      NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GENERIC, "k", &q, &ev),
			 KS_HOOK_ACCEPTED);
	assert_null(ev.delivery);
	ks_hook_event_release(&ev);
}

static ks_hook_result generic(const char *body, ks_hook_event *ev)
{
	hreq q;
	char sig[80];
	snprintf(sig, sizeof(sig), "%s", sig256("generic-key", body));
	mkreq(&q, body, strlen(body), "X-Signature", sig, "X-Delivery-Id", "42",
	      NULL, NULL);
	return verify(KS_WEBHOOK_GENERIC, "generic-key", &q, ev);
}

static void generic_push(void **state)
{
	(void)state;
	ks_hook_event ev;
	assert_int_equal(generic("{\"ref\":\"refs/heads/main\",\"after\":\"" C1
				 "\"}",
				 &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_PUSH);
	assert_string_equal(ev.ref, "refs/heads/main");
	assert_string_equal(ev.after, C1);
	assert_string_equal(ev.delivery, "42");
	assert_null(ev.mr);
	ks_hook_event_release(&ev);
	assert_int_equal(generic("{\"after\":\"" C1 "\"}", &ev),
			 KS_HOOK_BAD_REQUEST);
	assert_int_equal(generic("{\"ref\":\"refs/heads/main\"}", &ev),
			 KS_HOOK_BAD_REQUEST);
	assert_int_equal(
		generic("{\"ref\":\"refs/heads/main\",\"after\":42}", &ev),
		KS_HOOK_BAD_REQUEST);
	assert_null(ev.ref);
	/* a generic sender has no event header: every body is a push */
	assert_int_equal(generic("{}", &ev), KS_HOOK_BAD_REQUEST);
	/* the signature covers the body: another key fails */
	hreq q;
	const char *body = "{\"ref\":\"refs/heads/main\",\"after\":\"" C1 "\"}";
	char sig[80];
	snprintf(sig, sizeof(sig), "%s", sig256("other-key", body));
	mkreq(&q, body, strlen(body), "X-Signature", sig, NULL, NULL, NULL,
	      NULL);
	assert_int_equal(verify(KS_WEBHOOK_GENERIC, "generic-key", &q, &ev),
			 KS_HOOK_UNAUTHORIZED);
}

static void push_events(void **state)
{
	(void)state;
	ks_hook_event ev;
	assert_int_equal(github("push",
				"{\"ref\":\"refs/heads/main\",\"before\":\"" C1
				"\",\"after\":\"" C2 "\",\"commits\":[]}",
				&ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_PUSH);
	assert_string_equal(ev.ref, "refs/heads/main");
	assert_string_equal(ev.after, C2);
	assert_string_equal(ev.delivery, "d-1");
	ks_hook_event_release(&ev);

	/* other refs are still pushes: the daemon decides */
	assert_int_equal(github("push",
				"{\"ref\":\"refs/tags/v1.0\",\"after\":"
				"\"" C1 "\"}",
				&ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_PUSH);
	assert_string_equal(ev.ref, "refs/tags/v1.0");
	ks_hook_event_release(&ev);

	/* a branch deletion */
	assert_int_equal(github("push",
				"{\"ref\":\"refs/heads/main\",\"deleted\":true,"
				"\"after\":\"" ZEROS "\"}",
				&ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	ks_hook_event_release(&ev);

	/* upper-case commit ids come back lower-case */
	assert_int_equal(github("push",
				"{\"ref\":\"refs/heads/main\",\"after\":"
				"\"0123456789ABCDEF0123456789ABCDEF01234567\"}",
				&ev),
			 KS_HOOK_ACCEPTED);
	assert_string_equal(ev.after, C1);
	ks_hook_event_release(&ev);

	/* not a commit id */
	assert_int_equal(github("push",
				"{\"ref\":\"refs/heads/main\",\"after\":\"x\"}",
				&ev),
			 KS_HOOK_BAD_REQUEST);
	assert_int_equal(
		github("push", "{\"ref\":\"\",\"after\":\"" C1 "\"}", &ev),
		KS_HOOK_BAD_REQUEST);
}

static void bad_bodies(void **state)
{
	(void)state;
	ks_hook_event ev;
	const char *bad[] = {
		"{\"ref\":",
		"not json",
		"[1,2]",
		"\"str\"",
		"",
		"{\"ref\":\"refs/heads/a\",\"ref\":\"refs/heads/b\",\"after\":"
		"\"" C1 "\"}",
		NULL};
	for (size_t i = 0; bad[i]; i++) {
		assert_int_equal(github("push", bad[i], &ev),
				 KS_HOOK_BAD_REQUEST);
		assert_null(ev.ref);
		assert_null(ev.delivery);
	}
	/* the nesting limit is jansson's: an error, not a crash */
	size_t n = 100000;
	char *deep = ks_xmalloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	assert_int_equal(github("pull_request", deep, &ev),
			 KS_HOOK_BAD_REQUEST);
	free(deep);
}

static void size_limit(void **state)
{
	(void)state;
	size_t n = KS_HOOK_MAX_BODY + 1;
	char *body = ks_xmalloc(n + 1);
	memset(body, ' ', n);
	body[n] = '\0';
	hreq q;
	ks_hook_event ev;
	/* too large comes first, whatever the signature */
	mkreq(&q, body, n, "X-Hub-Signature-256", GH_SIG, "X-GitHub-Event",
	      "push", NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GITHUB, GH_SECRET, &q, &ev),
			 KS_HOOK_TOO_LARGE);
	mkreq(&q, body, n, NULL, NULL, NULL, NULL, NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GITLAB, "x", &q, &ev),
			 KS_HOOK_TOO_LARGE);

	/* exactly 1 MiB is fine */
	const char *push = "{\"ref\":\"refs/heads/main\",\"after\":\"" C1 "\"}";
	n = KS_HOOK_MAX_BODY;
	memcpy(body, push, strlen(push));
	body[n] = '\0';
	char hex[65], sig[80];
	openssl_hmac("big", body, n, hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	mkreq(&q, body, n, "X-Signature", sig, NULL, NULL, NULL, NULL);
	assert_int_equal(verify(KS_WEBHOOK_GENERIC, "big", &q, &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_PUSH);
	ks_hook_event_release(&ev);
	free(body);
}

#define GH_REPO "\"repository\":{\"full_name\":\"acme/deploy\"}"

static void github_merge_requests(void **state)
{
	(void)state;
	ks_hook_event ev;
	const char *states[] = {"approved", "APPROVED", NULL};
	for (size_t i = 0; states[i]; i++) {
		char body[512];
		snprintf(body, sizeof(body),
			 "{\"action\":\"submitted\",\"review\":{\"state\":"
			 "\"%s\",\"user\":{\"login\":\"alice\"}},"
			 "\"pull_request\":{\"number\":17,\"merged\":false},"
			 "\"sender\":{\"login\":\"alice\"}," GH_REPO "}",
			 states[i]);
		assert_int_equal(github("pull_request_review", body, &ev),
				 KS_HOOK_ACCEPTED);
		assert_int_equal(ev.kind, KS_HOOK_MR_APPROVED);
		assert_string_equal(ev.login, "alice");
		assert_string_equal(ev.mr, "acme/deploy!17");
		assert_null(ev.merge_commit);
		ks_hook_event_release(&ev);
	}
	/* a comment, a change request, a dismissal: nothing */
	assert_int_equal(
		github("pull_request_review",
		       "{\"action\":\"submitted\",\"review\":{\"state\":"
		       "\"commented\",\"user\":{\"login\":\"alice\"}},"
		       "\"pull_request\":{\"number\":17}," GH_REPO "}",
		       &ev),
		KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	ks_hook_event_release(&ev);
	assert_int_equal(
		github("pull_request_review",
		       "{\"action\":\"dismissed\",\"review\":{\"state\":"
		       "\"approved\",\"user\":{\"login\":\"alice\"}},"
		       "\"pull_request\":{\"number\":17}," GH_REPO "}",
		       &ev),
		KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	ks_hook_event_release(&ev);
	/* an approval nobody can be credited with */
	assert_int_equal(
		github("pull_request_review",
		       "{\"action\":\"submitted\",\"review\":{\"state\":"
		       "\"approved\"},\"pull_request\":{\"number\":17}," GH_REPO
		       "}",
		       &ev),
		KS_HOOK_BAD_REQUEST);

	/* merged */
	assert_int_equal(
		github("pull_request",
		       "{\"action\":\"closed\",\"number\":17,\"pull_request\":"
		       "{\"number\":17,\"merged\":true,\"merge_commit_sha\":"
		       "\"" C2 "\"}," GH_REPO "}",
		       &ev),
		KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_MR_MERGED);
	assert_string_equal(ev.mr, "acme/deploy!17");
	assert_string_equal(ev.merge_commit, C2);
	assert_null(ev.login);
	ks_hook_event_release(&ev);
	/* closed without merging, opened */
	assert_int_equal(
		github("pull_request",
		       "{\"action\":\"closed\",\"pull_request\":{\"number\":17,"
		       "\"merged\":false,\"merge_commit_sha\":\"" C2
		       "\"}," GH_REPO "}",
		       &ev),
		KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	assert_null(ev.merge_commit);
	ks_hook_event_release(&ev);
	assert_int_equal(
		github("pull_request",
		       "{\"action\":\"opened\",\"pull_request\":{\"number\":17,"
		       "\"merged\":false}," GH_REPO "}",
		       &ev),
		KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	ks_hook_event_release(&ev);
}

#define GL_PROJECT "\"project\":{\"path_with_namespace\":\"grp/deploy\"}"

static void gitlab_merge_requests(void **state)
{
	(void)state;
	ks_hook_event ev;
	assert_int_equal(gitlab("gl-token", "Merge Request Hook",
				"{\"object_kind\":\"merge_request\",\"user\":{"
				"\"username\":\"bob\"}," GL_PROJECT
				",\"object_attributes\":{\"iid\":5,\"action\":"
				"\"approved\",\"merge_commit_sha\":null}}",
				&ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_MR_APPROVED);
	assert_string_equal(ev.login, "bob");
	assert_string_equal(ev.mr, "grp/deploy!5");
	assert_null(ev.merge_commit);
	assert_string_equal(ev.delivery, "uuid-1");
	ks_hook_event_release(&ev);

	assert_int_equal(
		gitlab("gl-token", "Merge Request Hook",
		       "{\"object_kind\":\"merge_request\",\"user\":{"
		       "\"username\":\"carol\"}," GL_PROJECT
		       ",\"object_attributes\":{\"iid\":5,\"action\":\"merge\","
		       "\"merge_commit_sha\":\"" C1 "\"}}",
		       &ev),
		KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_MR_MERGED);
	assert_string_equal(ev.mr, "grp/deploy!5");
	assert_string_equal(ev.merge_commit, C1);
	ks_hook_event_release(&ev);

	assert_int_equal(gitlab("gl-token", "Merge Request Hook",
				"{\"object_kind\":\"merge_request\",\"user\":{"
				"\"username\":\"bob\"}," GL_PROJECT
				",\"object_attributes\":{\"iid\":5,\"action\":"
				"\"update\"}}",
				&ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	ks_hook_event_release(&ev);
	/* no project: no merge-request identity */
	assert_int_equal(gitlab("gl-token", "Merge Request Hook",
				"{\"user\":{\"username\":\"bob\"},"
				"\"object_attributes\":{\"iid\":5,\"action\":"
				"\"approved\"}}",
				&ev),
			 KS_HOOK_BAD_REQUEST);
}

static ks_hook_result gitea(const char *event, const char *body,
			    ks_hook_event *ev)
{
	hreq q;
	char hex[65];
	openssl_hmac("gitea-s3cret", body, strlen(body), hex);
	mkreq(&q, body, strlen(body), "X-Gitea-Signature", hex, "X-Gitea-Event",
	      event, NULL, NULL);
	return verify(KS_WEBHOOK_GITEA, "gitea-s3cret", &q, ev);
}

static void gitea_merge_requests(void **state)
{
	(void)state;
	ks_hook_event ev;
	const char *events[] = {"pull_request_approved",
				"pull_request_review_approved", NULL};
	for (size_t i = 0; events[i]; i++) {
		assert_int_equal(
			gitea(events[i],
			      "{\"action\":\"reviewed\",\"number\":3,"
			      "\"pull_request\":{\"number\":3},"
			      "\"review\":{\"type\":\"pull_request_review_"
			      "approved\",\"content\":\"\"},"
			      "\"sender\":{\"login\":\"dave\"}," GH_REPO "}",
			      &ev),
			KS_HOOK_ACCEPTED);
		assert_int_equal(ev.kind, KS_HOOK_MR_APPROVED);
		assert_string_equal(ev.login, "dave");
		assert_string_equal(ev.mr, "acme/deploy!3");
		ks_hook_event_release(&ev);
	}
	assert_int_equal(
		gitea("pull_request",
		      "{\"action\":\"closed\",\"pull_request\":{\"number\":3,"
		      "\"merged\":true,\"merge_commit_sha\":\"" C1
		      "\"}," GH_REPO "}",
		      &ev),
		KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_MR_MERGED);
	assert_string_equal(ev.merge_commit, C1);
	assert_string_equal(ev.mr, "acme/deploy!3");
	ks_hook_event_release(&ev);
	assert_int_equal(gitea("pull_request_rejected", "{}", &ev),
			 KS_HOOK_ACCEPTED);
	assert_int_equal(ev.kind, KS_HOOK_OTHER);
	ks_hook_event_release(&ev);
}

static void result_names(void **state)
{
	(void)state;
	assert_string_equal(ks_hook_result_name(KS_HOOK_ACCEPTED), "accepted");
	assert_string_equal(ks_hook_result_name(KS_HOOK_IGNORED), "ignored");
	assert_string_equal(ks_hook_result_name(KS_HOOK_DUPLICATE),
			    "duplicate");
	assert_string_equal(ks_hook_result_name(KS_HOOK_UNAUTHORIZED),
			    "unauthorized");
	assert_string_equal(ks_hook_result_name(KS_HOOK_TOO_LARGE),
			    "too_large");
	assert_string_equal(ks_hook_result_name(KS_HOOK_BAD_REQUEST),
			    "bad_request");
}

static void replay_ttl(void **state)
{
	(void)state;
	ks_hook_replay *r = ks_hook_replay_new(3600000, 100);
	assert_false(ks_hook_replay_seen(r, "a", 1000));
	ks_hook_replay_remember(r, "a", 1000);
	assert_true(ks_hook_replay_seen(r, "a", 1000));
	assert_true(ks_hook_replay_seen(r, "a", 1000 + 3599999));
	assert_false(ks_hook_replay_seen(r, "b", 2000));
	assert_false(ks_hook_replay_seen(r, NULL, 2000));
	ks_hook_replay_remember(r, "b", 2000);
	/* "a" expires an hour after it was remembered, "b" a second later */
	assert_false(ks_hook_replay_seen(r, "a", 1000 + 3600000));
	assert_true(ks_hook_replay_seen(r, "b", 1000 + 3600000));
	assert_int_equal(ks_hook_replay_size(r), 1);
	assert_false(ks_hook_replay_seen(r, "b", 2000 + 3600000));
	assert_int_equal(ks_hook_replay_size(r), 0);
	/* remembering again restarts the hour */
	ks_hook_replay_remember(r, "c", 10000);
	ks_hook_replay_remember(r, "c", 20000);
	assert_true(ks_hook_replay_seen(r, "c", 10000 + 3600000));
	assert_false(ks_hook_replay_seen(r, "c", 20000 + 3600000));
	ks_hook_replay_free(r);
	ks_hook_replay_free(NULL);
}

static void replay_bound(void **state)
{
	(void)state;
	ks_hook_replay *r = ks_hook_replay_new(3600000, 50);
	char id[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		ks_hook_replay_remember(r, id, i);
		assert_true(ks_hook_replay_size(r) <= 50);
	}
	assert_int_equal(ks_hook_replay_size(r), 50);
	/* the newest 50 are held, the oldest were evicted first */
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		assert_int_equal(ks_hook_replay_seen(r, id, 1000), i >= 950);
	}
	/* a refreshed id is no longer the oldest */
	ks_hook_replay_remember(r, "id-950", 1001);
	ks_hook_replay_remember(r, "new", 1002);
	assert_true(ks_hook_replay_seen(r, "id-950", 1003));
	assert_false(ks_hook_replay_seen(r, "id-951", 1003));
	ks_hook_replay_free(r);
}

static int webhook_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(github_documented_vector),
		cmocka_unit_test(github_upper_case_hex),
		cmocka_unit_test(github_refusals),
		cmocka_unit_test(gitea_signature),
		cmocka_unit_test(gitlab_token),
		cmocka_unit_test(generic_push),
		cmocka_unit_test(delivery_ids),
		cmocka_unit_test(push_events),
		cmocka_unit_test(bad_bodies),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(github_merge_requests),
		cmocka_unit_test(gitlab_merge_requests),
		cmocka_unit_test(gitea_merge_requests),
		cmocka_unit_test(result_names),
		cmocka_unit_test(replay_ttl),
		cmocka_unit_test(replay_bound),
	};
	return cmocka_run_group_tests_name("agent/webhook", tests, NULL, NULL);
}
KS_TEST_GROUP(webhook_tests)
