#!/bin/sh
# Headless Chromium for the status page's browser tests (tests/ui/test_browser.py), from
# Debian's own `chromium` package: installed only when missing and the machine allows it
# (root with apt-get). Otherwise it says why and the browser tests skip with that reason.
set -eu
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no chromium, and not root with apt-get: the browser tests will skip" >&2
    exit 0
fi
echo "install-chromium: installing Debian's chromium for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends chromium >/dev/null; then
    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null \
        || echo "install-chromium: apt-get could not install chromium: the browser tests will skip" >&2
fi
