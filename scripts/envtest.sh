#!/usr/bin/env bash
# A real Kubernetes API server on 127.0.0.1, for the integration tier and the benches.
#
#   scripts/envtest.sh build        build kube-apiserver and etcd once (cached by version)
#   scripts/envtest.sh start DIR    start them; the last line printed is an admin kubeconfig
#   scripts/envtest.sh stop DIR     stop everything `start DIR` started
#
# What runs: etcd (go.etcd.io/etcd/server/v3), the real kube-apiserver
# (k8s.io/kubernetes/cmd/kube-apiserver, every staging module pinned to the same
# release in scripts/envtest/kube-apiserver/go.mod) with a generated service-account
# signing key (TokenRequest and TokenReview work), --authorization-mode=Node,RBAC and a
# static admin token. No kubelet, controller-manager or scheduler runs: tests create the
# ServiceAccounts their pods name, set spec.nodeName, and write pod status as a kubelet
# would (the status subresource); pods/log needs a kubelet, so tests of logs stay on the
# emulator (tests/support/emulator.py).
#
# The binaries live in ${KUBELENS_ENVTEST_CACHE:-~/.cache/kubelens/envtest}/<name>-<version>/,
# so a warm machine builds nothing. A cold build needs Go and the Go module proxy and takes
# several minutes on two cores. KUBELENS_ENVTEST_TIMEOUT bounds the wait for readiness.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULES="$HERE/envtest"
CACHE="${KUBELENS_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubelens/envtest}"
ADMIN_TOKEN_FILE=admin.token
SA_ISSUER="https://kubernetes.default.svc.cluster.local"

log() { echo "envtest: $*" >&2; }
die() { log "$*"; exit 1; }

# The version a wrapper module pins for its main dependency, read from its go.mod.
module_version() {  # <component dir> <module path>
  awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' \
    "$MODULES/$1/go.mod"
}

# component: name, Go package, version
components() {
  echo "kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver $(module_version kube-apiserver k8s.io/kubernetes)"
  echo "etcd . $(module_version etcd go.etcd.io/etcd/server/v3)"
}

binary() {  # <name>: the cached binary's path
  local name version
  name="$1"
  version="$(components | awk -v n="$name" '$1 == n { print $3 }')"
  echo "$CACHE/$name-$version/$name"
}

# What `kubectl version` and helm's kubeVersion checks read (a plain build says v0.0.0).
version_flags() {  # <name> <version>
  [[ "$1" == kube-apiserver ]] || return 0
  local minor pkg
  minor="$(echo "$2" | cut -d. -f2)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$pkg" "$2" "$pkg" "$pkg" "$minor" "$pkg"
  done
}

build() {

  local name package version target
  while read -r name package version; do
    target="$CACHE/$name-$version/$name"
    if [[ -x "$target" ]]; then
      log "$name $version: cached ($target)"
      continue
    fi
    command -v go >/dev/null || die "building $name needs Go (https://go.dev/dl/) and the Go module proxy"
    log "$name $version: building (a cold build takes minutes)…"
    mkdir -p "$(dirname "$target")"
    (cd "$MODULES/$name" && go build -trimpath -ldflags="-s $(version_flags "$name" "$version")" \
      -o "$target.partial" "$package")
    mv "$target.partial" "$target"
    log "$name $version: built ($target)"
  done < <(components)
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {  # <what> <seconds> <command…>
  local what="$1" seconds="$2"
  shift 2
  for _ in $(seq $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

launch() {  # <dir> <name> <command…>: run in the background, its pid in DIR/<name>.pid
  local dir="$1" name="$2"
  shift 2
  setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

generate_keys() {  # <dir>: a CA, the serving certificate it signs, the service-account key
  local dir="$1"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kubelens-envtest-ca" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$dir/serving.key" -out "$dir/serving.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >"$dir/san.ext"
  openssl x509 -req -in "$dir/serving.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/san.ext" -out "$dir/serving.crt" 2>/dev/null
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  python3 -c 'import secrets; print(secrets.token_hex(24))' >"$dir/$ADMIN_TOKEN_FILE"
  echo "$(cat "$dir/$ADMIN_TOKEN_FILE"),kubelens-envtest-admin,kubelens-envtest-admin,system:masters" \
    >"$dir/tokens.csv"
  chmod 600 "$dir"/*.key "$dir/$ADMIN_TOKEN_FILE" "$dir/tokens.csv"
}

write_kubeconfig() {  # <dir> <url>
  local dir="$1" url="$2"
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: $url
    certificate-authority-data: $(base64 -w0 "$dir/ca.crt")
users:
- name: admin
  user:
    token: $(cat "$dir/$ADMIN_TOKEN_FILE")
contexts:
- name: envtest
  context: {cluster: envtest, user: admin, namespace: default}
current-context: envtest
EOF
  chmod 600 "$dir/kubeconfig"
}

start_etcd() {  # <dir>: prints the client URL
  local dir="$1" client peer
  client="$(free_port)"
  peer="$(free_port)"
  launch "$dir" etcd "$(binary etcd)" --name=envtest --data-dir="$dir/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$client" --advertise-client-urls="http://127.0.0.1:$client" \
    --listen-peer-urls="http://127.0.0.1:$peer" --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
    --initial-cluster="envtest=http://127.0.0.1:$peer" --unsafe-no-fsync --log-level=warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$client/health" \
    || die "etcd did not become healthy; see $dir/etcd.log: $(tail -3 "$dir/etcd.log")"
  echo "http://127.0.0.1:$client"
}

start_apiserver() {  # <dir> <etcd url>: prints the server URL
  local dir="$1" etcd="$2" port
  port="$(free_port)"
  launch "$dir" kube-apiserver "$(binary kube-apiserver)" \
    --etcd-servers="$etcd" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$port" --cert-dir="$dir" \
    --tls-cert-file="$dir/serving.crt" --tls-private-key-file="$dir/serving.key" \
    --client-ca-file="$dir/ca.crt" --token-auth-file="$dir/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --service-account-key-file="$dir/sa.pub" --service-account-signing-key-file="$dir/sa.key" \
    --service-account-issuer="$SA_ISSUER" --api-audiences="$SA_ISSUER" \
    --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true --profiling=false \
    --enable-priority-and-fairness=false
  local url="https://127.0.0.1:$port"
  wait_for kube-apiserver "${KUBELENS_ENVTEST_TIMEOUT:-90}" curl -fsS --cacert "$dir/ca.crt" \
    -H "Authorization: Bearer $(cat "$dir/$ADMIN_TOKEN_FILE")" "$url/readyz" \
    || die "kube-apiserver did not become ready; see $dir/kube-apiserver.log: $(tail -3 "$dir/kube-apiserver.log")"
  echo "$url"
}

start() {
  local dir="${1:?usage: envtest.sh start DIR}" etcd url
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [[ -f "$dir/kube-apiserver.pid" ]] && kill -0 "$(cat "$dir/kube-apiserver.pid")" 2>/dev/null \
    && die "already running in $dir (scripts/envtest.sh stop $dir)"
  build
  generate_keys "$dir"
  etcd="$(start_etcd "$dir")"
  url="$(start_apiserver "$dir" "$etcd")"
  write_kubeconfig "$dir" "$url"
  log "kube-apiserver $url (etcd $etcd); stop with: scripts/envtest.sh stop $dir"
  echo "$dir/kubeconfig"
}

stop() {
  local dir="${1:?usage: envtest.sh stop DIR}" name pid
  for name in kube-apiserver etcd; do
    [[ -f "$dir/$name.pid" ]] || continue
    pid="$(cat "$dir/$name.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$dir/$name.pid"
  done
  rm -rf "$dir/etcd-data"
}

case "${1:-}" in
  build) build ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 build | start DIR | stop DIR" >&2; exit 2 ;;
esac
