#!/bin/sh
# Publishes every TreeScout process into one folder per process, the way the container image holds them
# (/app/<name>), then replaces files the processes share byte for byte with links to the CLI's copy: the CLI
# references every worker, so its folder holds them all once (OpenCV's native library alone is ~110 MB).
# Used by the Dockerfile's build stage and by tests/TreeScout.Deploy.Tests (the same command, so the test checks what
# the image contains).
#   deploy/image/publish.sh OUT_DIR [VERSION]        (run from the repository root)
# ORT_FLAVOUR=Gpu publishes with ONNX Runtime's CUDA build (the GPU image, docs/adr/0064-detector-on-an-nvidia-gpu.md).
set -eu

out=${1:?usage: deploy/image/publish.sh OUT_DIR [VERSION]}
version=${2:-0.1.0}
flavour=${ORT_FLAVOUR:-Cpu}
rid=linux-x64

[ -f TreeScout.sln ] || { echo "publish.sh: run from the repository root" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"

publish() {
  dotnet publish "src/$1" -c Release -r "$rid" --self-contained false -p:Version="$version" \
    -p:OnnxRuntimeFlavour="$flavour" -p:DebugType=portable -nologo -v quiet -o "$out/$2"
}
publish TreeScout.Cli cli
publish TreeScout.Capture capture
publish TreeScout.Detection detection
publish TreeScout.Fusion fusion
publish TreeScout.MapWriter mapwriter
publish TreeScout.Console console
publish TreeScout.Central central-ingest

# Microsoft.ML.OnnxRuntime's build props copy the Windows onnxruntime*.dll whatever the runtime identifier.
find "$out" -name 'onnxruntime*.dll' -delete

for worker in capture detection fusion mapwriter console central-ingest; do
  # The worker's own files (TreeScout.Capture.dll, .pdb, ...) stay files: the host takes the app's base directory,
  # and so its content root and appsettings.json, from the main assembly's real path.
  app=$(basename "$(ls "$out/$worker"/*.runtimeconfig.json)" .runtimeconfig.json)
  for file in "$out/$worker"/*; do
    name=${file##*/}
    shared="$out/cli/$name"
    case "$name" in "$app" | "$app".*) continue ;; esac
    if [ -f "$file" ] && [ ! -L "$file" ] && [ -f "$shared" ] && cmp -s "$file" "$shared"; then
      ln -sf "../cli/$name" "$file"
    fi
  done
done
echo "publish.sh: $(du -sh "$out" | cut -f1) in $out (cli capture detection fusion mapwriter console central-ingest; ONNX Runtime $flavour)"
