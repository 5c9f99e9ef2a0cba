#!/usr/bin/env bash
# The GPU benchmark, run on a machine with an NVIDIA GPU and PyTorch (CUDA), from the bundle that
# bench/gpu-pack.sh made: no Node, npm or network needed there.
#   bash bench/gpu.sh [BUNDLE]      (default .gpu-bench/bundle.tar.xz)
# Measures the webgpu backend (Dawn on the GPU's Vulkan driver) against PyTorch CUDA in the same
# invocation: float32 matMul TFLOP/s, a training step and KV-cached greedy generation of the
# built-in model's size and of a GPT-2-small-sized config, and prints the ratios. Rows go to
# $OUT/gpu-bench.json when OUT is set, else to ./gpu-bench.json. QUICK=1 runs a short subset.
set -euo pipefail
BUNDLE="${1:-.gpu-bench/bundle.tar.xz}"
WORK="${CAI_GPU_WORK:-/tmp/cai-gpu-bench}"
[ -f "$BUNDLE" ] || { echo "gpu.sh: no bundle at $BUNDLE (make it with bash bench/gpu-pack.sh on a machine with npm)" >&2; exit 2; }
command -v python3 >/dev/null || [ -n "${CAI_PYTHON:-}" ] || { echo "gpu.sh: no python3 with PyTorch on this machine (set CAI_PYTHON)" >&2; exit 2; }
rm -rf "$WORK" && mkdir -p "$WORK"
tar -xJf "$BUNDLE" -C "$WORK"

# The Vulkan loader: the machine's, or the carried one.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  deb="$(ls "$WORK"/vulkan/libvulkan1_*.deb 2>/dev/null | head -1 || true)"
  [ -n "$deb" ] || { echo "gpu.sh: no Vulkan loader on this machine and none in the bundle" >&2; exit 1; }
  dpkg -x "$deb" "$WORK/vulkan/root"
  export LD_LIBRARY_PATH="$WORK/vulkan/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "gpu.sh: using the carried Vulkan loader ($(basename "$deb"))"
fi
# NVIDIA's Vulkan driver manifest, where the container keeps it outside the standard folders.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; echo "gpu.sh: Vulkan driver $icd"; break; fi
  done
fi

export CAI_PYTHON="${CAI_PYTHON:-$(command -v python3)}"
"$WORK/node" --version >/dev/null
echo "gpu.sh: Node $("$WORK/node" --version), PyTorch from $CAI_PYTHON"
exec "$WORK/node" "$WORK/app/bench/gpu.mjs" "$WORK/app/dist/cli.js" "${OUT:-.}/gpu-bench.json"
