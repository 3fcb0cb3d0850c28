/*
 * Internals of agent/gitsrc.c exposed for its unit tests.
 */
#ifndef KS_AGENT_GITSRC_INTERNAL_H
#define KS_AGENT_GITSRC_INTERNAL_H

#include <git2.h>
#include <stddef.h>

/*
 * Checks the SSH host key HK (raw, or its SHA-256 when libssh2 gives no
 * raw key) of HOST:PORT against the OpenSSH known_hosts file FILE: plain
 * and hashed (|1|salt|hash) host patterns, "[host]:port" for ports other
 * than 22, wildcards and "!" negations, "@revoked" lines. 0 when a line
 * for the host has the key; else KS_EENV with the reason in WHY (unknown
 * host, changed key, revoked key, unreadable file). No trust on first use.
 */
int ks_git_check_host_key(const char *file, const char *host, int port,
			  const git_cert_hostkey *hk, char *why, size_t whylen);

/* The pid of the warm fetch helper, or 0 when there is none. */
int ks_git_warm_pid(void);

/* How many fetches a warm helper did (rather than one started for them). */
unsigned long ks_git_warm_hits(void);

#endif
