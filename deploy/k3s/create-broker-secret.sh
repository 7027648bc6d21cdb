#!/bin/sh
# Creates the broker credentials Secret on one tractor (run once at provisioning, from a machine whose kubectl talks
# to that tractor's k3s, or on the tractor itself with `k3s kubectl`). Passwords are generated here, at random, per
# tractor; they are never written to a file, a command line or git. Workers and the broker read them from the Secret.
#   deploy/k3s/create-broker-secret.sh [--namespace treescout] [--rotate] [--uplink-tractor ID]
# Without --rotate an existing Secret is left alone (re-running provisioning is safe). With --rotate every password is
# replaced: restart the broker and the workers afterwards (docs/operations.md, "Rotate broker passwords").
# --uplink-tractor ID reads the central broker's URI for this tractor from standard input
# (amqps://tractor-ID:PASSWORD@HOST:PORT/treescout-central, from the central site) and stores it with the tractor id
# (keys uplink-uri, uplink-tractor) for the uplink's shovel (docs/adr/0057); the other keys stay as they are.
# The keys are the roles that deploy/k3s/base/rabbitmq/definitions.json grants permissions to (generated from code).
set -eu

namespace=treescout
rotate=false
tractor=""
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) namespace=${2:?--namespace needs a value}; shift 2 ;;
    --rotate) rotate=true; shift ;;
    --uplink-tractor) tractor=${2:?--uplink-tractor needs the tractor id}; shift 2 ;;
    *) echo "usage: $0 [--namespace NAME] [--rotate] [--uplink-tractor ID]" >&2; exit 2 ;;
  esac
done

secret=treescout-broker-credentials
definitions="$(dirname "$0")/base/rabbitmq/definitions.json"
[ -r "$definitions" ] || { echo "create-broker-secret: $definitions not found (run from a checkout of the repository)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "create-broker-secret: kubectl not found (on a k3s node: alias kubectl='k3s kubectl')" >&2; exit 1; }

# The uplink's keys, added to the Secret (created below if needed) without touching its passwords. The URI holds the
# tractor's central password: it comes on standard input and goes to kubectl through a pipe.
add_uplink() {
  case "$tractor" in
    "" | -* | *[!a-z0-9-]*) echo "create-broker-secret: --uplink-tractor must be 1-32 lower-case letters, digits or '-'" >&2; exit 2 ;;
  esac
  echo "create-broker-secret: paste the central broker URI for tractor $tractor (amqps://tractor-$tractor:PASSWORD@HOST:PORT/treescout-central), then Enter:" >&2
  IFS= read -r uri || true
  case "$uri" in
    amqp://tractor-"$tractor":?*@?* | amqps://tractor-"$tractor":?*@?*) ;;
    *) echo "create-broker-secret: the URI must be amqp(s)://tractor-$tractor:PASSWORD@HOST:PORT/VHOST" >&2; exit 1 ;;
  esac
  printf '{"data":{"uplink-tractor":"%s","uplink-uri":"%s"}}' "$(printf '%s' "$tractor" | base64 | tr -d '\n')" "$(printf '%s' "$uri" | base64 | tr -d '\n')" |
    kubectl patch secret "$secret" -n "$namespace" --type merge --patch-file /dev/stdin >/dev/null
  echo "create-broker-secret: $namespace/$secret forwards runs as tractor $tractor; restart the broker to load it"
}

if kubectl get secret "$secret" -n "$namespace" >/dev/null 2>&1 && [ "$rotate" = false ]; then
  echo "create-broker-secret: $namespace/$secret exists; left unchanged (use --rotate to replace every password)"
  [ -z "$tractor" ] || add_uplink
  exit 0
fi

kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace"

# 32 letters and digits from the kernel's CSPRNG: safe inside an AMQP URI and the definitions JSON without escaping.
password() {
  LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

users=$(sed -n 's/^ *"user": "\([^"]*\)",$/\1/p' "$definitions" | sort -u)
[ -n "$users" ] || { echo "create-broker-secret: $definitions grants no user any permission" >&2; exit 1; }

# The manifest goes through a pipe: no password in a file, in a process argument or in a last-applied annotation.
manifest() {
  printf 'apiVersion: v1\nkind: Secret\ntype: Opaque\nmetadata:\n  name: %s\n  namespace: %s\n' "$secret" "$namespace"
  printf '  labels:\n    app.kubernetes.io/part-of: treescout\ndata:\n'
  for user in $users; do
    printf '  %s: %s\n' "${user##*-}" "$(password | base64 | tr -d '\n')"
  done
}

if kubectl get secret "$secret" -n "$namespace" >/dev/null 2>&1; then
  manifest | kubectl replace -f - >/dev/null
else
  manifest | kubectl create -f - >/dev/null
fi
echo "create-broker-secret: $namespace/$secret written with keys: $(for u in $users; do printf '%s ' "${u##*-}"; done)"
[ -z "$tractor" ] || add_uplink
