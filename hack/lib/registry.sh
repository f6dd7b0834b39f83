#!/usr/bin/env bash
# Starts and stops Debian's docker-registry (distribution 2.8) on 127.0.0.1 for tests, never as a system
# service and never with /etc/docker/registry: the config, storage, certificates and logs live in DIR.
# The config is the one test/support/registry.cc writes (filesystem storage with delete enabled, upload
# purging off, access log off, a random http secret).
#
#   registry.sh start DIR [--port N] [--tls] [--htpasswd USER:PASS]...   prints HOST:PORT
#   registry.sh stop DIR [--keep-storage]
#   registry.sh status DIR                                               exit 0 when it answers
#
# start writes DIR/registry.addr (127.0.0.1:PORT), DIR/registry.pid, DIR/config.yml, DIR/registry.log,
# storage in DIR/storage; with --tls a test CA (EC P-256, made with the openssl CLI) and
# DIR/certs.d/127.0.0.1:PORT/ca.crt (a containers-certs.d root); with --htpasswd, DIR/htpasswd (bcrypt,
# apache2-utils). Without --port a free port is chosen. Starting a DIR whose registry still answers
# prints its address and does nothing else. stop kills that pid (after checking it is this DIR's
# docker-registry) and removes everything start made (storage too unless --keep-storage; DIR itself
# when start created it).
set -euo pipefail

REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
PYTHON=/usr/bin/python3

die() {
  echo "registry.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '6,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# probe DIR: 0 when GET /v2/ answers 200 or 401 (auth required) at DIR's address.
probe() {
  local dir=$1 addr scheme=http ca=()
  addr=$(cat "$dir/registry.addr" 2>/dev/null) || return 1
  if [ -f "$dir/ca/ca.crt" ]; then
    scheme=https
    ca=(--cacert "$dir/ca/ca.crt")
  fi
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${ca[@]}" "$scheme://$addr/v2/" 2>/dev/null) || true
  [ "$code" = 200 ] || [ "$code" = 401 ]
}

# is_ours DIR PID: the process is docker-registry serving DIR's config.
is_ours() {
  local dir=$1 pid=$2
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$REGISTRY_BIN serve $dir/config.yml"
}

make_tls() {
  local dir=$1 cadir=$1/ca
  mkdir -p "$cadir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$cadir/ca.key" \
    -out "$cadir/ca.crt" -days 30 -subj /CN=cricket-test-ca -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign >>"$cadir/openssl.log" 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
    >"$cadir/server.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$cadir/server.key" \
    -out "$cadir/server.csr" -subj /CN=server >>"$cadir/openssl.log" 2>&1
  openssl x509 -req -in "$cadir/server.csr" -CA "$cadir/ca.crt" -CAkey "$cadir/ca.key" -CAcreateserial \
    -CAserial "$cadir/ca.srl" -out "$cadir/server.crt" -days 30 -extfile "$cadir/server.ext" >>"$cadir/openssl.log" 2>&1
}

cmd_start() {
  local dir="" port="" tls=0 users=()
  while [ $# -gt 0 ]; do
    case $1 in
      --port) port=${2:?--port needs a number}; shift 2 ;;
      --tls) tls=1; shift ;;
      --htpasswd) users+=("${2:?--htpasswd needs USER:PASS}"); shift 2 ;;
      -*) die "unknown option $1" ;;
      *) [ -z "$dir" ] || usage; dir=$1; shift ;;
    esac
  done
  [ -n "$dir" ] || usage
  [ -x "$REGISTRY_BIN" ] || die "$REGISTRY_BIN not found (Debian package docker-registry)"
  command -v curl >/dev/null || die "curl not found"
  if [ -n "$port" ] && ! [[ $port =~ ^[0-9]+$ && $port -gt 0 && $port -lt 65536 ]]; then
    die "bad --port '$port'"
  fi
  mkdir -p "$dir" 2>/dev/null || die "cannot create $dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/registry.pid" ] && is_ours "$dir" "$(cat "$dir/registry.pid")" && probe "$dir"; then
    cat "$dir/registry.addr"
    return 0
  fi
  [ -e "$dir/.registry-made-dir" ] || [ -n "$(ls -A "$dir")" ] || touch "$dir/.registry-made-dir"
  mkdir -p "$dir/storage"
  local extra="" auth=""
  if [ $tls = 1 ]; then
    [ -f "$dir/ca/server.crt" ] || make_tls "$dir" || die "openssl failed: $(cat "$dir/ca/openssl.log")"
    extra=$(printf '  tls:\n    certificate: %s\n    key: %s\n' "$dir/ca/server.crt" "$dir/ca/server.key")
  fi
  if [ ${#users[@]} -gt 0 ]; then
    command -v htpasswd >/dev/null || die "htpasswd not found (Debian package apache2-utils)"
    rm -f "$dir/htpasswd"
    local u first=-c
    for u in "${users[@]}"; do
      [[ $u == *:* ]] || die "--htpasswd wants USER:PASS"
      htpasswd -B -b $first "$dir/htpasswd" "${u%%:*}" "${u#*:}" 2>>"$dir/htpasswd.log" >&2 ||
        die "htpasswd failed: $(cat "$dir/htpasswd.log")"
      first=""
    done
    auth=$(printf 'auth:\n  htpasswd:\n    realm: cricket-test\n    path: %s\n' "$dir/htpasswd")
  fi
  local p pid
  for _ in 1 2 3; do
    p=${port:-$(free_port)}
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$p
  secret: $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
$extra
$auth
EOF
    echo "127.0.0.1:$p" >"$dir/registry.addr"
    # setsid: the registry must not share the caller's session (a terminal's ^C or the end of a test
    # harness's process group); it is stopped only by `registry.sh stop`.
    # The pid is written by the process that then execs the registry, so it is right whether or not
    # setsid had to fork.
    rm -f "$dir/registry.pid"
    # shellcheck disable=SC2016 # $$ and $1.. belong to the inner shell
    setsid /bin/sh -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && exec "$2" serve "$3"' sh \
      "$dir/registry.pid" "$REGISTRY_BIN" "$dir/config.yml" </dev/null >>"$dir/registry.log" 2>&1 &
    for _ in $(seq 1 100); do
      [ -s "$dir/registry.pid" ] && break
      sleep 0.02
    done
    pid=$(cat "$dir/registry.pid" 2>/dev/null) || die "docker-registry did not start: $(tail -5 "$dir/registry.log")"
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      if probe "$dir"; then
        if [ $tls = 1 ]; then
          mkdir -p "$dir/certs.d/127.0.0.1:$p"
          cp "$dir/ca/ca.crt" "$dir/certs.d/127.0.0.1:$p/ca.crt"
        fi
        echo "127.0.0.1:$p"
        return 0
      fi
      sleep 0.05
    done
    if is_ours "$dir" "$pid"; then kill "$pid" 2>/dev/null || true; fi
    rm -f "$dir/registry.pid" "$dir/registry.addr"
    [ -z "$port" ] || break
  done
  die "docker-registry did not start in $dir: $(tail -5 "$dir/registry.log" 2>/dev/null)"
}

cmd_stop() {
  local dir="" keep=0
  while [ $# -gt 0 ]; do
    case $1 in
      --keep-storage) keep=1; shift ;;
      -*) die "unknown option $1" ;;
      *) [ -z "$dir" ] || usage; dir=$1; shift ;;
    esac
  done
  [ -n "$dir" ] || usage
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/registry.pid" ]; then
    local pid
    pid=$(cat "$dir/registry.pid")
    if is_ours "$dir" "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do
        is_ours "$dir" "$pid" || break
        sleep 0.05
      done
      if is_ours "$dir" "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
  fi
  rm -rf "$dir/registry.pid" "$dir/registry.addr" "$dir/config.yml" "$dir/registry.log" "$dir/ca" \
    "$dir/certs.d" "$dir/htpasswd" "$dir/htpasswd.log"
  [ $keep = 1 ] || rm -rf "$dir/storage"
  if [ -e "$dir/.registry-made-dir" ] && [ $keep = 0 ]; then
    rm -f "$dir/.registry-made-dir"
    rmdir "$dir" 2>/dev/null || true
  fi
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; [ -n "${1:-}" ] || usage; probe "$(cd "$1" 2>/dev/null && pwd || echo "$1")" ;;
  *) usage ;;
esac
