/*
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go's
 * leaderelection does it: one attempt per call, the caller loops (the agent
 * renews every 5 s a Lease of 15 s). Every write carries the
 * resourceVersion read (PUT) or is a create (POST), so of two agents
 * racing, the API server lets exactly one win.
 */
#ifndef KS_AGENT_LEASE_H
#define KS_AGENT_LEASE_H

#include <stdbool.h>

#include "core/error.h"
#include "sync/kube.h"

/* One attempt to acquire or renew Lease NAME in NS for IDENTITY
 * (leaseDurationSeconds DURATION_S): creates it when missing, takes it
 * when expired (renewTime + duration < now), held by nobody, or already
 * ours, else leaves it. *LEADER says whether we hold it now (false when
 * another agent won a race: a 409). Other failures (unreachable server)
 * return a negative code with *LEADER false; a caller that was leader
 * should stop acting once its last successful renewal is older than the
 * duration. */
int ks_lease_try(ks_kube_client *c, const char *ns, const char *name,
		 const char *identity, int duration_s, bool *leader,
		 ks_error *err);

/* Releases the Lease (clears holderIdentity) when IDENTITY holds it: on
 * shutdown, so that another agent takes over at once. Not holding it is
 * not an error. */
int ks_lease_release(ks_kube_client *c, const char *ns, const char *name,
		     const char *identity, ks_error *err);

#endif
