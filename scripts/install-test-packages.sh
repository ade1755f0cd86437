#!/usr/bin/env bash
# The Debian packages the tests run for real (one list: add a package on its own line), installed
# when missing; the first step of the README's test command and of .ci/run. Never a downloaded
# browser, server or library, only Debian's.
set -euo pipefail

need_packages=(
  chromium     # examples/browser's tests drive Debian's Chromium
  redis-server # @concord/distributed's tests start a real redis-server
  g++             # @concord/backend-native's addon build
  libopenblas-dev # @concord/backend-native's addon build (sgemm)
)
missing=()
for package in "${need_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
# With CI=true the distributed tests fail (instead of skipping) when redis-server is missing.
command -v redis-server >/dev/null 2>&1 || { echo "redis-server is missing after apt-get install" >&2; exit 1; }
