#!/usr/bin/env bash
# Checks a unit (systemd/newswatch.service, or the template newswatch@.service as instance
# newswatch@1.service): `systemd-analyze verify` must print nothing (it exits 0 even
# on unknown keys, so its stderr is what counts) and the offline security exposure must be
# 1.5 or less. Usage: systemd/check-unit.sh PATH-TO-NEWSWATCH-BINARY [UNIT-FILE]
# (UNIT-FILE defaults to systemd/newswatch.service; the package check passes the installed one.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(realpath "$1")"
unit="${2:-$here/newswatch.service}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# A template is checked as one of its instances.
name="$(basename "$unit")"
name="${name/@.service/@1.service}"
# Point the unit at the built binary so verify can check the ExecStart= paths.
sed "s|/usr/bin/newswatch|$bin|g" "$unit" > "$tmp/$name"
verify="$(systemd-analyze verify "$tmp/$name" 2>&1 || true)"
if [ -n "$verify" ]; then
    echo "systemd-analyze verify complained:"
    echo "$verify"
    exit 1
fi
exposure="$(systemd-analyze security --offline=yes "$tmp/$name" 2>&1 | sed -n "s/.*Overall exposure level for ${name}: \([0-9.]*\).*/\1/p")"
echo "systemd unit $unit: verify clean, exposure $exposure"
if [ -z "$exposure" ] || ! awk -v e="$exposure" 'BEGIN { exit !(e <= 1.5) }'; then
    echo "exposure ${exposure:-unknown} is above 1.5"
    exit 1
fi
