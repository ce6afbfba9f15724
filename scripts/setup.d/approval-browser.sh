#!/usr/bin/env bash
# The approval page's browser test needs Debian's chromium and playwright-core (npm,
# pinned by tests/browser/package-lock.json). Idempotent: each step is skipped when done.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends chromium
fi

cd "$root/tests/browser"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.lock.sha 2>/dev/null)" != "$want" ]; then
  # playwright-core never downloads a browser by itself; we point it at /usr/bin/chromium.
  npm ci --no-audit --no-fund
  echo "$want" > node_modules/.lock.sha
fi
echo "approval-browser: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), playwright-core $(node -p 'require("./node_modules/playwright-core/package.json").version')"
