#!/usr/bin/env bash
# Idempotently installs Debian's chromium (for the report screenshot test). Needs root for apt-get.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "[setup-chromium] $(chromium --version 2>/dev/null | head -1)"
  exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "[setup-chromium] installed $(chromium --version 2>/dev/null | head -1)"
