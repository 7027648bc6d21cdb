#!/bin/sh
# Installs the generic device plugin on one tractor (docs/operations.md, "Provision a tractor").
#   deploy/node/install-device-plugin.sh REGISTRY/generic-device-plugin@sha256:DIGEST
# The image must be pinned by digest (mirror it into the fleet registry first): a node component that runs
# privileged is never pulled by a moving tag.
set -eu
image=${1:?usage: install-device-plugin.sh IMAGE@sha256:DIGEST}
case "$image" in
  *@sha256:*) ;;
  *) echo "install-device-plugin: '$image' is not pinned by digest (IMAGE@sha256:...)" >&2; exit 2 ;;
esac
digest=${image##*@sha256:}
[ "${#digest}" -eq 64 ] && [ -z "$(printf '%s' "$digest" | tr -d '0-9a-f')" ] || { echo "install-device-plugin: '$digest' is not a sha256 digest" >&2; exit 2; }
sed "s|\${DEVICE_PLUGIN_IMAGE}|$image|" "$(dirname "$0")/generic-device-plugin.yaml" | kubectl apply -f -
kubectl -n kube-system rollout status daemonset/generic-device-plugin --timeout=120s
echo "install-device-plugin: node resources now:"
kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}: video={.status.allocatable.squat\.ai/video} serial={.status.allocatable.squat\.ai/serial}{"\n"}{end}'
