#!/bin/sh
# Creates the central site's Secrets (deploy/central references them; none is in git), from a machine whose kubectl
# talks to the central cluster. Passwords are generated here, at random (32 letters and digits from /dev/urandom); they
# pass only through a private folder in memory (/dev/shm, removed on exit) and pipes, never a command line or git.
#   deploy/central/create-central-secrets.sh --definitions FILE [--namespace treescout-central] [--rotate]
#       [--console-accounts FILE] [--tls-cert FILE --tls-key FILE] [--dry-run]
# FILE: the central broker's definitions, `treescout deploy central-definitions --tractors t1,t2 --out FILE` (users
# and permissions, no passwords). Written:
#   treescout-central-credentials  one password per broker user of FILE: key `ingest` (treescout-central-ingest, read by
#                                  the ingest worker) and `tractor-<id>` per tractor (hand each its URI, see below)
#   treescout-central-definitions  definitions.json: FILE with those users and passwords (render-definitions.sh), the
#                                  file the central broker boots from
#   treescout-central-postgis      owner (the ingest worker's, POSTGRES_PASSWORD) and console (the read-only login
#                                  treescout_console): created once, never replaced (PostgreSQL keeps the passwords it
#                                  was initialised with; change them there first)
#   treescout-central-console-accounts  accounts: FILE of `treescout console hash-password` lines (with --console-accounts)
#   treescout-central-amqps-tls    the site's certificate and key for AMQPS (with --tls-cert and --tls-key)
# Re-running keeps every broker password and gives new tractors of FILE theirs (tractors no longer in FILE lose
# theirs); --rotate replaces them all. Restart the central broker afterwards to load the definitions. --dry-run prints
# the Secrets as YAML (kubectl --dry-run=client) and reads nor writes anything in a cluster.
set -eu

namespace=treescout-central
rotate=false
dry_run=false
definitions=""
accounts=""
cert=""
key=""
usage() {
  echo "usage: $0 --definitions FILE [--namespace NAME] [--rotate] [--console-accounts FILE] [--tls-cert FILE --tls-key FILE] [--dry-run]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --definitions) definitions=${2:?--definitions needs a file}; shift 2 ;;
    --namespace) namespace=${2:?--namespace needs a value}; shift 2 ;;
    --rotate) rotate=true; shift ;;
    --console-accounts) accounts=${2:?--console-accounts needs a file}; shift 2 ;;
    --tls-cert) cert=${2:?--tls-cert needs a file}; shift 2 ;;
    --tls-key) key=${2:?--tls-key needs a file}; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    *) usage ;;
  esac
done

fail() {
  echo "create-central-secrets: $*" >&2
  exit 1
}

[ -n "$definitions" ] || usage
[ -r "$definitions" ] || fail "cannot read $definitions (render it with: treescout deploy central-definitions --tractors ... --out FILE)"
[ -z "$accounts" ] || [ -r "$accounts" ] || fail "cannot read the console accounts file $accounts"
{ [ -z "$cert" ] && [ -z "$key" ]; } || { [ -r "$cert" ] && [ -r "$key" ]; } || fail "--tls-cert and --tls-key go together and must be readable files"
render="$(dirname "$0")/../k3s/base/rabbitmq/render-definitions.sh"
[ -r "$render" ] || fail "$render not found (run from a checkout of the repository)"
command -v kubectl >/dev/null || fail "kubectl not found"

umask 077
work=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/central-secrets.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/broker" "$work/postgis"

# 32 letters and digits from the kernel's CSPRNG: safe in AMQP URIs, connection strings and the definitions JSON.
password() {
  LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

exists() {
  [ "$dry_run" = false ] && kubectl get secret "$1" -n "$namespace" >/dev/null 2>&1
}

# The Secret's key as a file (nothing when the Secret or the key is missing); through a pipe, never an argument.
existing_key() {
  kubectl get secret "$1" -n "$namespace" -o go-template="{{ with index .data \"$2\" }}{{ . }}{{ end }}" 2>/dev/null | base64 -d
}

# Prints the Secret $1 as YAML, made offline by kubectl: `kubectl create secret TYPE $1 ARGS...` with the rest as TYPE ARGS.
manifest() {
  name=$1
  shift
  type=$1
  shift
  kubectl create secret "$type" "$name" -n "$namespace" "$@" --dry-run=client -o yaml |
    kubectl label --local -f - app.kubernetes.io/part-of=treescout -o yaml
}

# Creates or replaces it (no `apply`: its last-applied annotation would keep a copy of every password); --dry-run prints it.
write() {
  name=$1
  shift
  if [ "$dry_run" = true ]; then
    echo "---"
    manifest "$name" "$@"
  elif exists "$name"; then
    manifest "$name" "$@" | kubectl replace -f - >/dev/null
  else
    manifest "$name" "$@" | kubectl create -f - >/dev/null
  fi
}

# The broker users the definitions grant permissions to, and their keys as render-definitions.sh reads them.
users=$(sed -n 's/^ *"user": "\([^"]*\)",$/\1/p' "$definitions" | sort -u)
[ -n "$users" ] || fail "$definitions grants no user any permission (not from treescout deploy central-definitions?)"
keep=false
if [ "$rotate" = false ] && exists treescout-central-credentials; then
  keep=true
fi
new=""
for user in $users; do
  case "$user" in
    tractor-*) k=$user ;;
    *) k=${user##*-} ;;
  esac
  [ "$keep" = false ] || existing_key treescout-central-credentials "$k" > "$work/broker/$k"
  if [ ! -s "$work/broker/$k" ]; then
    password > "$work/broker/$k"
    new="$new $k"
  fi
done

sh "$render" "$definitions" "$work/broker" "$work/definitions.json" >/dev/null

[ "$dry_run" = true ] || kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace" >/dev/null
write treescout-central-credentials generic --from-file="$work/broker"
write treescout-central-definitions generic --from-file=definitions.json="$work/definitions.json"
if exists treescout-central-postgis; then
  echo "create-central-secrets: $namespace/treescout-central-postgis exists; left unchanged" >&2
else
  password > "$work/postgis/owner"
  password > "$work/postgis/console"
  write treescout-central-postgis generic --from-file="$work/postgis"
fi
[ -z "$accounts" ] || write treescout-central-console-accounts generic --from-file=accounts="$accounts"
[ -z "$cert" ] || write treescout-central-amqps-tls tls --cert="$cert" --key="$key"

[ "$dry_run" = true ] && exit 0
echo "create-central-secrets: $namespace: broker users $(echo $users), new passwords for:${new:- none}; restart the broker to load them:" >&2
echo "  kubectl -n $namespace rollout restart statefulset/treescout-central-rabbitmq" >&2
echo "A tractor's uplink URI (hand it over a safe channel; on the tractor: deploy/k3s/create-broker-secret.sh --uplink-tractor ID):" >&2
echo "  printf 'amqps://tractor-ID:%s@HOST:5671/treescout-central\\n' \"\$(kubectl -n $namespace get secret treescout-central-credentials -o go-template='{{ index .data \"tractor-ID\" | base64decode }}')\"" >&2
