#!/usr/bin/env bash
# Installs what the training scripts under training/ need, from Debian's packages (idempotent).
# The scripts must be run with /usr/bin/python3 (Debian's Python), not another python3 on PATH.
set -euo pipefail
pkgs=(python3-torch python3-torchvision python3-onnx python3-numpy python3-pil python3-opencv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
# The .NET SDK (see global.json) is needed to fetch the pretrained ResNet18 from NuGet and for
# training/stage/ort_eval.sh (ONNX Runtime + OpenCvSharp evaluation/benchmark).
command -v dotnet >/dev/null || echo "warning: dotnet not found; install the .NET SDK pinned in global.json" >&2
/usr/bin/python3 -c "import torch, torchvision, onnx, numpy, PIL, cv2; print('training deps ok: torch', torch.__version__, 'cv2', cv2.__version__)"
