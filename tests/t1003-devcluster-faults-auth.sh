#!/bin/bash
# devcluster's fault injection (flags and /_devcluster/faults), bearer
# tokens, HTTPS and client certificates.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir

code() { curl -sS -m 10 -o "$ks_tmp/body" -w '%{http_code}' "$@"; }

# ---- faults ----
dc_start -q --fault 'verb=get,resource=configmaps,error=429,retry-after=2' ||
	{ ks_fail "start"; ks_done; exit 1; }
curl -sS -D "$ks_tmp/h" -o "$ks_tmp/body" "$DC_URL/api/v1/namespaces/default/configmaps/x" >/dev/null 2>&1
t_out "429 fault from a flag" '^HTTP/1.1 429' head -1 "$ks_tmp/h"
t_out "429 carries Retry-After" '^Retry-After: 2' tr -d '\r' <"$ks_tmp/h"
t_out "429 is a Status TooManyRequests" '"reason":"TooManyRequests".*"retryAfterSeconds":2' cat "$ks_tmp/body"
t_out "other verbs unaffected" '^200$' code "$DC_URL/api/v1/namespaces/default/configmaps"
t_out "set faults at run time" '"error":500' curl -sS -X PUT --data-binary 'verb=list,resource=secrets,error=500,count=1;resource=services,drop=1;verb=list,resource=pods,latency=400ms' "$DC_URL/_devcluster/faults"
t_out "500 once (count=1)" '^500$' code "$DC_URL/api/v1/namespaces/default/secrets"
t_out "then served again" '^200$' code "$DC_URL/api/v1/namespaces/default/secrets"
curl -sS -m 5 "$DC_URL/api/v1/namespaces/default/services" >"$ks_tmp/drop.out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then ks_pass; else ks_fail "dropped connection: curl succeeded: $(cat "$ks_tmp/drop.out")"; fi
t_out "latency delays the answer" '^0\.[4-9]|^[1-9]' curl -sS -o /dev/null -w '%{time_total}\n' "$DC_URL/api/v1/namespaces/default/pods"
t_out "the 429 rule from the flag was replaced" '^404$' code "$DC_URL/api/v1/namespaces/default/configmaps/x"
t_out "bad fault rule: 400" '^400$' code -X PUT --data-binary 'frob=1' "$DC_URL/_devcluster/faults"
t_out "bad fault rule: the message" 'unknown key' cat "$ks_tmp/body"
t_out "clear faults" '"faults":\[\]' curl -sS -X DELETE "$DC_URL/_devcluster/faults"
t_out "services served again" '^200$' code "$DC_URL/api/v1/namespaces/default/services"
dc_stop

# ---- bearer tokens ----
printf 'sekret-token,admin,1\n' >"$ks_tmp/tokens"
dc_start -q --token-file "$ks_tmp/tokens" || { ks_fail "start with tokens"; ks_done; exit 1; }
t_out "no token: 401" '^401$' code "$DC_URL/api/v1/namespaces"
t_out "401 is a Status Unauthorized" '"reason":"Unauthorized".*"code":401' cat "$ks_tmp/body"
t_out "wrong token: 401" '^401$' code -H 'Authorization: Bearer nope' "$DC_URL/api/v1/namespaces"
t_out "right token: 200" '^200$' code -H 'Authorization: Bearer sekret-token' "$DC_URL/api/v1/namespaces"
t_out "kubeconfig carries the token" 'token: sekret-token' cat "$ks_tmp/kubeconfig"
# (kubectl sends bearer tokens only over https: see the TLS part)
dc_stop

# ---- TLS and client certificates ----
if ! command -v openssl >/dev/null 2>&1; then
	ks_done
	exit $?
fi
cd "$ks_tmp" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout server.key -out server.crt -days 2 \
	-subj /CN=devcluster -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj '/CN=alice/O=system:masters' >/dev/null 2>&1
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj /CN=mallory >/dev/null 2>&1
dc_start -q --tls-cert server.crt --tls-key server.key --client-ca ca.crt --token-file tokens ||
	{ ks_fail "start with tls"; ks_done; exit 1; }
t_out "https URL" '^https://127\.0\.0\.1:' echo "$DC_URL"
t_out "kubeconfig carries the CA" 'certificate-authority-data: ' cat kubeconfig
t_out "https with the CA and a token" '^200$' code --cacert server.crt -H 'Authorization: Bearer sekret-token' "$DC_URL/api/v1/namespaces"
t_out "https without credentials: 401" '^401$' code --cacert server.crt "$DC_URL/api/v1/namespaces"
t_out "a client certificate from the CA authenticates" '^200$' code --cacert server.crt --cert client.crt --key client.key "$DC_URL/api/v1/namespaces"
if code --cacert server.crt --cert other.crt --key other.key "$DC_URL/api/v1/namespaces" >"$ks_tmp/o" 2>&1 && grep -q '^200$' "$ks_tmp/o"; then
	ks_fail "a certificate from another CA was accepted"
else
	ks_pass
fi
t_fail "plain HTTP to the TLS port fails" '.' curl -sSf -m 5 "http://${DC_URL#https://}/api/v1/namespaces"
if command -v kubectl >/dev/null 2>&1; then
	t_out "kubectl over https" '^default ' kubectl get ns
fi
t "clean shutdown (no leaks under ASan)" dc_stop
ks_done
