#!/usr/bin/env bash
# Debian's headless Chromium and its WebDriver, for the summary page's browser tests and the demo's screenshot.
# Idempotent: does nothing when both are installed. Needs root (apt-get), as on the project's machines and CI.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
echo "setup: installing chromium and chromium-driver (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
# A lock guards concurrent installs from parallel set-ups on one machine.
exec 9>/tmp/ddpui-setup-chromium.lock
flock 9
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
