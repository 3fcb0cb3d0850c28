/*
 * Fuzzes webhook verification: any body and header values, for each
 * provider, either are refused (and leave the event empty) or come back
 * ACCEPTED with an event whose fields fit its kind. Input layout:
 *
 *   byte 0     provider (low two bits: github, gitea, gitlab, generic);
 *              bit 7 set: the harness signs the body correctly (or sends
 *              the right GitLab token) so that parsing is reached
 *   line       the signature/token header value (when bit 7 is clear)
 *   line       the event header value
 *   line       the delivery id
 *   rest       the body
 *
 * Never a crash, a leak, or an accepted delivery without a valid signature.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "agent/webhook.h"
#include "core/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret"

/* The next line of (*P, *N) as a new string (NUL bytes end it early). */
static char *take_line(const uint8_t **p, size_t *n)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	size_t len = nl ? (size_t)(nl - *p) : *n;
	char *s = ks_xstrndup((const char *)*p, len);
	*p += nl ? len + 1 : len;
	*n -= nl ? len + 1 : len;
	return s;
}

static void check_event(const ks_hook_event *ev)
{
	switch (ev->kind) {
	case KS_HOOK_PUSH:
		if (!ev->ref || !*ev->ref || !ev->after)
			abort();
		if (strlen(ev->after) != 40 && strlen(ev->after) != 64)
			abort();
		if (strspn(ev->after, "0123456789abcdef") != strlen(ev->after))
			abort();
		break;
	case KS_HOOK_MR_APPROVED:
		if (!ev->mr || !ev->login || !*ev->login)
			abort();
		break;
	case KS_HOOK_MR_MERGED:
		if (!ev->mr)
			abort();
		break;
	case KS_HOOK_OTHER:
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ks_webhook_provider providers[] = {
		KS_WEBHOOK_GITHUB, KS_WEBHOOK_GITEA, KS_WEBHOOK_GITLAB,
		KS_WEBHOOK_GENERIC};
	static const char *const sig_headers[] = {
		"X-Hub-Signature-256", "X-Gitea-Signature", "X-Gitlab-Token",
		"X-Signature"};
	static const char *const event_headers[] = {
		"X-GitHub-Event", "X-Gitea-Event", "X-Gitlab-Event", "X-Event"};
	static const char *const delivery_headers[] = {
		"X-GitHub-Delivery", "X-Gitea-Delivery", "X-Gitlab-Event-UUID",
		"X-Delivery-Id"};
	if (size < 1)
		return 0;
	unsigned which = data[0] & 3;
	int sign = data[0] & 0x80;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	char *sig = take_line(&p, &n);
	char *event = take_line(&p, &n);
	char *delivery = take_line(&p, &n);
	char *body = ks_xstrndup((const char *)p, n); /* NUL-terminated copy */

	char good[80];
	if (sign) {
		unsigned char mac[32];
		unsigned int len = 0;
		HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
		     (const unsigned char *)body, n, mac, &len);
		size_t off = 0;
		if (which != 1)
			off = (size_t)snprintf(good, sizeof(good), "sha256=");
		for (unsigned i = 0; i < len; i++)
			off += (size_t)snprintf(good + off, sizeof(good) - off,
						"%02x", mac[i]);
		if (which == 2)
			snprintf(good, sizeof(good), "%s", SECRET);
	}
	ks_http_header h[3] = {
		{sig_headers[which], sign ? good : sig},
		{event_headers[which], event},
		{delivery_headers[which], delivery},
	};
	ks_http_request req = {
		.method = "POST",
		.target = "/hooks/fuzz",
		.path = "/hooks/fuzz",
		.query = "",
		.headers = h,
		.nheaders = 3,
		.body = body,
		.body_len = n,
		.peer = "127.0.0.1:1",
	};
	ks_hook_event ev;
	char why[128];
	ks_hook_result r =
		ks_hook_verify(providers[which], SECRET, strlen(SECRET), &req,
			       &ev, why, sizeof(why));
	if (r == KS_HOOK_ACCEPTED) {
		check_event(&ev);
		if (strstr(why, SECRET))
			abort();
		ks_hook_replay *rc = ks_hook_replay_new(1000, 4);
		if (ks_hook_replay_seen(rc, ev.delivery, 0))
			abort();
		ks_hook_replay_remember(rc, ev.delivery, 0);
		if (ev.delivery && !ks_hook_replay_seen(rc, ev.delivery, 999))
			abort();
		if (ks_hook_replay_seen(rc, ev.delivery, 1000))
			abort();
		ks_hook_replay_free(rc);
	} else {
		if (r != KS_HOOK_UNAUTHORIZED && r != KS_HOOK_TOO_LARGE &&
		    r != KS_HOOK_BAD_REQUEST)
			abort();
		if (ev.kind || ev.ref || ev.after || ev.mr || ev.login ||
		    ev.merge_commit || ev.delivery || !why[0])
			abort();
		/* a correctly signed body is never refused as unauthorized */
		if (sign && r == KS_HOOK_UNAUTHORIZED)
			abort();
	}
	ks_hook_event_release(&ev);
	free(sig);
	free(event);
	free(delivery);
	free(body);
	return 0;
}
