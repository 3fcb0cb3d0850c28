/*
 * Webhook deliveries (spec/agent.md § Sources and webhooks): authenticating
 * a request for a source's provider, parsing the event it carries, and the
 * replay cache of delivery ids.
 *
 * Providers and how they authenticate:
 *   github   X-Hub-Signature-256: sha256=<hex>  HMAC-SHA256 of the raw body
 *   gitea    X-Gitea-Signature: <hex>           HMAC-SHA256 of the raw body
 *   gitlab   X-Gitlab-Token: <secret>           the secret itself
 *   generic  X-Signature: sha256=<hex>          HMAC-SHA256 of the raw body
 * Every comparison is constant-time; hex digits are accepted in either
 * case. Nothing here keeps state besides the replay cache, and nothing here
 * is tied to the loop: ks_hook_verify is a pure function of its inputs.
 */
#ifndef KS_AGENT_WEBHOOK_H
#define KS_AGENT_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "core/http.h"

/* The largest body a webhook may carry (the spec's 1 MiB). */
#define KS_HOOK_MAX_BODY ((size_t)1 << 20)

typedef enum ks_hook_result {
	KS_HOOK_ACCEPTED,
	KS_HOOK_IGNORED,
	KS_HOOK_DUPLICATE,
	KS_HOOK_UNAUTHORIZED,
	KS_HOOK_TOO_LARGE,
	KS_HOOK_BAD_REQUEST,
} ks_hook_result;

/* The metric label of R: "accepted", "ignored", "duplicate",
 * "unauthorized", "too_large", "bad_request". Static storage. */
const char *ks_hook_result_name(ks_hook_result r);

typedef enum ks_hook_kind {
	KS_HOOK_PUSH,
	KS_HOOK_MR_APPROVED,
	KS_HOOK_MR_MERGED,
	KS_HOOK_OTHER,
} ks_hook_kind;

/*
 * An authenticated event. Every string is the event's own (heap, freed by
 * ks_hook_event_release) or NULL when it does not apply.
 */
typedef struct ks_hook_event {
	ks_hook_kind kind;
	char *delivery;	    /* delivery id or NULL */
	char *ref;	    /* push: full ref "refs/heads/main" */
	char *after;	    /* push: new commit id (40 hex) */
	char *mr;	    /* MR identity "<repo>!<number>" */
	char *login;	    /* MR_APPROVED: the reviewer's login */
	char *merge_commit; /* MR_MERGED: merge_commit_sha (may be NULL) */
} ks_hook_event;

/*
 * Authenticates REQ (its headers and raw body) for provider P with the
 * SECRET of SECRET_LEN bytes, then parses the event it carries into *EV
 * (which the caller releases with ks_hook_event_release whatever the
 * result; on anything but ACCEPTED it is left zeroed).
 *
 * Order of checks: a body over KS_HOOK_MAX_BODY -> TOO_LARGE (before any
 * HMAC); a missing, malformed, wrong or SHA-1-only signature (or token),
 * or an empty secret -> UNAUTHORIZED; a delivery id over 256 bytes ->
 * BAD_REQUEST. Then only the events that matter have their body parsed
 * (github: push, pull_request, pull_request_review; gitea: push,
 * pull_request, pull_request_approved, pull_request_review_approved;
 * gitlab: Push Hook, Tag Push Hook, Merge Request Hook; generic: every
 * delivery is a push); any other event, or none, is ACCEPTED as OTHER
 * whatever its body. A parsed body that is not a JSON object (duplicate
 * keys refused), a push without a non-empty string "ref" and an "after"
 * of 40 or 64 hex digits, an approval without a login or an MR event
 * without repository and number -> BAD_REQUEST; otherwise ACCEPTED.
 * Kinds: PUSH (any ref; the caller decides IGNORED for refs it does not
 * follow; "after" lower-cased), MR_APPROVED, MR_MERGED, and OTHER for
 * everything else (ping, comments, a closed-unmerged PR, a branch
 * deletion: a push whose "after" is all zeros, with ref and after set).
 * The delivery id comes from the provider's delivery header (ACCEPTED
 * events only; NULL when absent or empty). ks_hook_verify never returns
 * IGNORED or DUPLICATE: the caller decides those (replay cache below).
 *
 * WHY (may be NULL) gets a short human reason for anything but ACCEPTED
 * ("signature mismatch", "body is not JSON: ..."); it never contains the
 * secret nor the expected signature.
 */
ks_hook_result ks_hook_verify(ks_webhook_provider p, const char *secret,
			      size_t secret_len, const ks_http_request *req,
			      ks_hook_event *ev, char *why, size_t whylen);

/* Frees EV's strings and zeroes it. Accepts NULL and a zeroed event. */
void ks_hook_event_release(ks_hook_event *ev);

/*
 * The delivery ids accepted in the last TTL_MS milliseconds, at most MAX
 * of them (past MAX, the oldest is forgotten first). Times are the
 * caller's monotonic milliseconds (uv_now). Not thread-safe: the loop owns
 * it.
 */
typedef struct ks_hook_replay ks_hook_replay;

ks_hook_replay *ks_hook_replay_new(int64_t ttl_ms, size_t max);
/* Whether ID was remembered less than TTL_MS before NOW_MS. */
bool ks_hook_replay_seen(ks_hook_replay *r, const char *id, int64_t now_ms);
/* Remembers ID as accepted at NOW_MS (refreshing it if present). */
void ks_hook_replay_remember(ks_hook_replay *r, const char *id, int64_t now_ms);
/* Ids currently held (expired ones may still count until the next call
 * that prunes): for tests and metrics. */
size_t ks_hook_replay_size(const ks_hook_replay *r);
void ks_hook_replay_free(ks_hook_replay *r);

#endif
