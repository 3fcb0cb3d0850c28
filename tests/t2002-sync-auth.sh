#!/bin/bash
# kusync's cluster client against devcluster over HTTPS: certificate
# authorities from files (relative to the kubeconfig) and inline data,
# tls-server-name, client certificates, token files, exec credential
# plugins, insecure-skip-tls-verify, and a $KUBECONFIG list merged across
# folders.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
if ! command -v openssl >/dev/null 2>&1; then
	echo "skipped: no openssl"
	ks_done
	exit 0
fi
WS=$KS_SOURCE_DIR/examples/workspace.yaml
STACK=$KS_SOURCE_DIR/examples/demo/prod
pki=$ks_tmp/pki
mkdir -p "$pki" "$ks_tmp/a" "$ks_tmp/b/sub"
(
	cd "$pki" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
		-subj /CN=kusync-test-ca -days 2 2>/dev/null
	# The server certificate names only "kubernetes": reaching it by
	# 127.0.0.1 works only when tls-server-name is honoured.
	openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
		-subj /CN=kubernetes 2>/dev/null
	printf 'subjectAltName=DNS:kubernetes\n' >san.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
		-CAcreateserial -out server.crt -days 2 -extfile san.ext 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout alice.key -out alice.csr \
		-subj "/CN=alice/O=system:masters" 2>/dev/null
	openssl x509 -req -in alice.csr -CA ca.crt -CAkey ca.key \
		-CAcreateserial -out alice.crt -days 2 2>/dev/null
) || { ks_fail "making certificates"; ks_done; exit 1; }
printf 'sekret-token,admin,1\n' >"$ks_tmp/tokens"
dc_start -q --tls-cert "$pki/server.crt" --tls-key "$pki/server.key" \
	--client-ca "$pki/ca.crt" --token-file "$ks_tmp/tokens" ||
	{ ks_fail "start"; ks_done; exit 1; }
port=${DC_URL##*:}
server="https://127.0.0.1:$port"
b64() { base64 -w0 "$1"; }

# A preview that reached the cluster says what it would create (exit 1).
reached() { t_exit_all "$1" 1 '^plan: [0-9]+ to create' "$KUSYNC" preview -w "$WS" "$STACK"; }

# kubeconfig NAME CLUSTER-YAML USER-YAML: writes $ks_tmp/a/NAME.
kubeconfig() {
	cat >"$ks_tmp/a/$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: dc
  cluster:
$2
users:
- name: u
  user:
$3
contexts:
- name: ctx
  context: {cluster: dc, user: u, namespace: demo}
current-context: ctx
YAML
	export KUBECONFIG=$ks_tmp/a/$1
}

cp "$pki/ca.crt" "$ks_tmp/a/ca.crt"
printf 'sekret-token\n' >"$ks_tmp/a/token"
kubeconfig relative.yaml "    server: $server
    certificate-authority: ca.crt
    tls-server-name: kubernetes" "    tokenFile: token"
reached "relative CA file, tls-server-name, token file"

kubeconfig nosni.yaml "    server: $server
    certificate-authority: ca.crt" "    tokenFile: token"
t_exit_all "without tls-server-name the name does not match: exit 3" 3 \
	'^kusync: .*SSL peer certificate.*127\.0\.0\.1' "$KUSYNC" preview -w "$WS" "$STACK"

kubeconfig certs.yaml "    server: $server
    certificate-authority-data: $(b64 "$pki/ca.crt")
    tls-server-name: kubernetes" "    client-certificate-data: $(b64 "$pki/alice.crt")
    client-key-data: $(b64 "$pki/alice.key")"
reached "inline CA and client certificate"

kubeconfig badtoken.yaml "    server: $server
    insecure-skip-tls-verify: true" "    token: wrong"
t_exit_all "a refused token: exit 3 with the server's message" 3 \
	'Unauthorized \(401 Unauthorized\)' "$KUSYNC" preview -w "$WS" "$STACK"

kubeconfig insecure.yaml "    server: $server
    insecure-skip-tls-verify: true" "    token: sekret-token"
reached "insecure-skip-tls-verify"

cat >"$ks_tmp/a/cred.sh" <<'SH'
#!/bin/sh
echo run >>"$(dirname "$0")/runs"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}\n' "$TOKEN"
SH
chmod +x "$ks_tmp/a/cred.sh"
kubeconfig exec.yaml "    server: $server
    certificate-authority: ca.crt
    tls-server-name: kubernetes" "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./cred.sh
      env: [{name: TOKEN, value: sekret-token}]
      interactiveMode: Never"
reached "exec credential plugin"
runs=$(wc -l <"$ks_tmp/a/runs")
if [ "$runs" -eq 1 ]; then ks_pass; else ks_fail "the plugin ran $runs times for one command, want 1 (cached)"; fi

# $KUBECONFIG as a list: users and the current context in one folder,
# the cluster (with a CA path relative to its own folder) in another.
cp "$pki/ca.crt" "$ks_tmp/b/sub/ca.crt"
cat >"$ks_tmp/a/users.yaml" <<YAML
apiVersion: v1
kind: Config
current-context: merged
users: [{name: u, user: {token: sekret-token}}]
contexts: [{name: merged, context: {cluster: dc, user: u}}]
YAML
cat >"$ks_tmp/b/clusters.yaml" <<YAML
apiVersion: v1
kind: Config
current-context: ignored-because-the-first-file-has-one
clusters:
- name: dc
  cluster: {server: "$server", certificate-authority: sub/ca.crt, tls-server-name: kubernetes}
YAML
export KUBECONFIG=$ks_tmp/a/users.yaml:$ks_tmp/nonexistent.yaml:$ks_tmp/b/clusters.yaml
reached "a merged \$KUBECONFIG list"
t_exit_all "--context names a context of the merged list" 3 'context "ignored-because-the-first-file-has-one" not found' \
	"$KUSYNC" preview --context ignored-because-the-first-file-has-one -w "$WS" "$STACK"

# Every example over HTTPS with this kubeconfig: apply, then nothing to do
# and no drift.
for st in demo/prod demo/dev platform/prod; do
	t_exit_all "apply $st over TLS" 0 '^apply: [0-9]+ created' \
		"$KUSYNC" apply --wait --timeout 60s -w "$WS" "$KS_SOURCE_DIR/examples/$st"
	t_exit_all "preview $st over TLS after apply" 0 '^no changes' \
		"$KUSYNC" preview -w "$WS" "$KS_SOURCE_DIR/examples/$st"
	t_exit_all "drift $st over TLS after apply" 0 '^no drift$' \
		"$KUSYNC" drift -w "$WS" "$KS_SOURCE_DIR/examples/$st"
done
ks_done
