#!/usr/bin/env bash
# The browser test drives Debian's Chromium through Playwright (no browser download).
# Install it when missing, or say clearly why that is not possible.
set -euo pipefail
CHROMIUM="${ATTNLAB_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "chromium: $CHROMIUM is missing and this system has no apt-get; install Chromium and set ATTNLAB_CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "chromium: $CHROMIUM is missing; run 'apt-get install chromium' as root" >&2; exit 1; }
  SUDO="sudo"
fi
echo "chromium: installing Debian's chromium package (needed by the browser test) ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
[ -x "$CHROMIUM" ] || { echo "chromium: installed, but $CHROMIUM does not exist; set ATTNLAB_CHROMIUM" >&2; exit 1; }
