#!/usr/bin/env bash
# Checks the Debian package the way a user meets it: builds it with cargo-deb (or takes DEB),
# checks the binary is stripped, installs it with dpkg -i (no running systemd needed), runs
# `newswatch check` on the installed configuration as the service's own user with the example's
# secrets, verifies the installed unit, reinstalls over an edited config, then removes and
# purges the package and checks what is left.
# Usage (as root, on a machine where newswatch is not installed): packaging/check-deb.sh [DEB]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

fail() {
    echo "check-deb: $*" >&2
    exit 1
}
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i)"
# Unknown to dpkg, or known only as "not-installed" (what a failed or purged install leaves),
# is safe; anything else (installed, half-installed, conffiles left after a remove) would be
# purged by this check. `grep installed` matched "not-installed" too.
status="$(dpkg-query -W -f '${Status}' newswatch 2>/dev/null || true)"
case "$status" in
    "" | *" not-installed") ;;
    *) fail "newswatch is installed here ($status); this check would purge it" ;;
esac

tmp="$(mktemp -d)"
installed=no
made_run_dir=no
cleanup() {
    if [ "$made_run_dir" = yes ]; then
        rmdir /run/systemd/system 2>/dev/null || true
    fi
    if [ "$installed" = yes ]; then
        dpkg --purge newswatch >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ $# -ge 1 ]; then
    deb="$(realpath "$1")"
else
    # --fast: quicker compression; the contents are what is checked.
    cargo deb --locked --quiet --fast --output "$tmp/debs" -- --quiet >/dev/null
    deb="$(ls "$tmp"/debs/newswatch_*.deb)"
    # The symbols left the binary for the separate debug package.
    dpkg-deb -c "$(ls "$tmp"/debs/newswatch-dbgsym_*.ddeb)" | grep -q '/usr/lib/debug/.build-id/.*\.debug$' ||
        fail "newswatch-dbgsym holds no debug file"
fi
echo "package: $(basename "$deb")"

# --- What is in the package -----------------------------------------------------------------
mkdir "$tmp/root"
dpkg-deb -x "$deb" "$tmp/root"
bin="$tmp/root/usr/bin/newswatch"
[ -x "$bin" ] || fail "no /usr/bin/newswatch in the package"
# Debug info and the symbol table belong in newswatch-dbgsym. (.debug_gdb_scripts is not debug
# info: a few loaded bytes naming Rust's pretty-printers, which strip keeps.)
sections="$(readelf -S -W "$bin" | grep -oE '\.(debug_[a-z_]+|symtab)' | grep -v '^\.debug_gdb_scripts$' | sort -u || true)"
[ -z "$sections" ] || fail "/usr/bin/newswatch is not stripped: $(echo $sections)"
installed_size_kib="$(dpkg-deb -f "$deb" Installed-Size)"
echo "installed size: ${installed_size_kib} KiB; stripped binary: $(stat -c %s "$bin") bytes; .deb: $(stat -c %s "$deb") bytes"
[ "$installed_size_kib" -lt 51200 ] || fail "installed size ${installed_size_kib} KiB is over 50 MiB"
# The maintainer scripts: the generated snippets for newswatch.service, and our own for the
# template's instances (which the generated ones skip) and for TLS roots.
dpkg-deb -e "$deb" "$tmp/control"
grep -q "systemctl stop 'newswatch@\*.service'" "$tmp/control/prerm" ||
    fail "prerm does not stop newswatch@ instances"
grep -q "deb-systemd-invoke\|systemctl.*newswatch.service" "$tmp/control/prerm" ||
    fail "prerm lost the generated stop of newswatch.service"
# An upgrade restarts no daemon without the new release's check first (a generated restart
# would bypass it).
! grep -q "deb-systemd-invoke.*restart" "$tmp/control/postinst" ||
    fail "the generated postinst restarts newswatch.service unchecked"
grep -q "'newswatch@\*.service'" "$tmp/control/postinst" ||
    fail "postinst does not restart newswatch@ instances on upgrade"
dpkg-deb -f "$deb" Depends | grep -q 'ca-certificates' || fail "Depends lacks ca-certificates"

# --- Install, as on a machine where systemd may not be PID 1 --------------------------------
installed=yes
dpkg -i "$deb" >"$tmp/dpkg-i.log" 2>&1 || { cat "$tmp/dpkg-i.log"; fail "dpkg -i failed"; }
getent passwd newswatch >/dev/null || fail "no newswatch user after install"
# The user survives a purge (as Debian's system users do), so on a machine that ran this check
# before, getent passes whatever this package did: the postinst must create it itself.
grep -q 'systemd-sysusers.*newswatch' "$tmp/control/postinst" ||
    fail "the postinst does not create the newswatch user (systemd-sysusers)"
[ "$(stat -c '%U:%G %a' /etc/newswatch/newswatch.toml)" = "root:newswatch 640" ] ||
    fail "/etc/newswatch/newswatch.toml is $(stat -c '%U:%G %a' /etc/newswatch/newswatch.toml), want root:newswatch 640"
[ "$(stat -c '%U:%G %a' /etc/newswatch/newswatch.env)" = "root:root 600" ] ||
    fail "/etc/newswatch/newswatch.env is $(stat -c '%U:%G %a' /etc/newswatch/newswatch.env), want root:root 600"
unit="$(dpkg -L newswatch | grep '/systemd/system/newswatch.service$')"
[ -L /etc/systemd/system/multi-user.target.wants/newswatch.service ] || fail "the unit is not enabled"
[ -f /usr/lib/sysusers.d/newswatch.conf ] || fail "no sysusers file"

# --- check, as the service runs it: user newswatch, no other groups -------------------------
as_service() {
    setpriv --reuid=newswatch --regid=newswatch --clear-groups -- "$@"
}
creds="$tmp/credentials"
mkdir "$creds"
echo "syt_example_token" >"$creds/matrix-token"
chown -R newswatch: "$creds"
chmod 711 "$tmp"
out="$(as_service env SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T000/B000/XXXX \
    CREDENTIALS_DIRECTORY="$creds" newswatch check -c /etc/newswatch/newswatch.toml 2>&1)" ||
    fail "check of the installed config as newswatch failed: $out"
echo "check as newswatch: $out"
# Unconfigured (no secrets yet), it refuses with one line per sink that lacks its secret.
if out="$(as_service env -u SLACK_WEBHOOK_URL -u CREDENTIALS_DIRECTORY \
    newswatch check -c /etc/newswatch/newswatch.toml 2>&1)"; then
    fail "check without the secrets passed: $out"
fi
grep -q 'newswatch.toml:[0-9]*:[0-9]*: sink `newsroom`: `url`: environment variable `SLACK_WEBHOOK_URL` is not set' <<<"$out" ||
    fail "check without the secrets did not name SLACK_WEBHOOK_URL: $out"
! grep -q 'unknown sink' <<<"$out" || fail "check without the secrets called a sink unknown: $out"
[ "$(grep -c ': sink `' <<<"$out")" -eq 2 ] || fail "want one error per sink: $out"
# Any other user cannot read the configuration.
if out="$(setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
    newswatch check -c /etc/newswatch/newswatch.toml 2>&1)"; then
    fail "user nobody could read the configuration"
fi
grep -q 'Permission denied' <<<"$out" || fail "nobody: $out"

# --- The installed unit -----------------------------------------------------------------------
verify="$(systemd-analyze verify "$unit" 2>&1 || true)"
[ -z "$verify" ] || fail "systemd-analyze verify $unit: $verify"
bash systemd/check-unit.sh /usr/bin/newswatch "$unit"
# The template for several instances on one PostgreSQL database ships beside it, not enabled.
template="$(dirname "$unit")/newswatch@.service"
[ -f "$template" ] || fail "the package does not install newswatch@.service"
bash systemd/check-unit.sh /usr/bin/newswatch "$template"

# --- The upgrade's restarts, with a stand-in systemctl ----------------------------------------
# The postinst restarts a running daemon only after `systemctl reload` (the new release's
# check, in the unit's context) passed: here newswatch.service passes, newswatch@2 does not.
stub="$tmp/stub"
mkdir "$stub"
cat >"$stub/systemctl" <<'STUB'
#!/bin/sh
echo "$*" >>"$STUB_LOG"
case "$1" in
    list-units) printf '%s\n' 'newswatch.service loaded active running x' \
        'newswatch@2.service loaded active running x' ;;
    reload) [ "$2" != newswatch@2.service ] || exit 1 ;;
esac
exit 0
STUB
for tool in deb-systemd-helper deb-systemd-invoke systemd-sysusers dpkg-statoverride; do
    printf '#!/bin/sh\nexit 0\n' >"$stub/$tool"
done
chmod +x "$stub"/*
if [ ! -d /run/systemd/system ]; then
    [ -d /run/systemd ] || fail "no /run/systemd to stand in a running systemd under"
    mkdir /run/systemd/system
    made_run_dir=yes
fi
STUB_LOG="$tmp/systemctl.log" PATH="$stub:$PATH" sh "$tmp/control/postinst" configure 0.0.9 \
    2>"$tmp/postinst.err" || { cat "$tmp/postinst.err"; fail "postinst (upgrade) failed"; }
if [ "$made_run_dir" = yes ]; then
    rmdir /run/systemd/system
    made_run_dir=no
fi
calls="$({ grep -E '^(--system daemon-reload|reload|restart|try-restart)' "$tmp/systemctl.log" || true; } | tr '\n' ';')"
[ "$calls" = "--system daemon-reload;reload newswatch.service;restart newswatch.service;reload newswatch@2.service;" ] ||
    fail "upgrade restarts: $calls"
grep -q 'refuses the configuration of newswatch@2.service' "$tmp/postinst.err" ||
    fail "the upgrade did not say newswatch@2 kept the previous release: $(cat "$tmp/postinst.err")"

# --- Reinstall (the upgrade path) over an edited config and existing state ------------------
echo "# edited by the admin" >>/etc/newswatch/newswatch.toml
install -d -o newswatch -g newswatch -m 750 /var/lib/newswatch
as_service touch /var/lib/newswatch/newswatch.db
dpkg -i "$deb" >"$tmp/dpkg-i2.log" 2>&1 || { cat "$tmp/dpkg-i2.log"; fail "reinstall failed"; }
grep -q '^# edited by the admin$' /etc/newswatch/newswatch.toml || fail "reinstall lost the admin's edit"
[ "$(stat -c '%U:%G %a' /etc/newswatch/newswatch.toml)" = "root:newswatch 640" ] ||
    fail "after reinstall the config is $(stat -c '%U:%G %a' /etc/newswatch/newswatch.toml)"
[ -f /var/lib/newswatch/newswatch.db ] || fail "reinstall removed the state"

# --- Remove: program gone, configuration and state kept ---------------------------------------
dpkg -r newswatch >"$tmp/dpkg-r.log" 2>&1 || { cat "$tmp/dpkg-r.log"; fail "dpkg -r failed"; }
[ ! -e /usr/bin/newswatch ] || fail "remove left /usr/bin/newswatch"
[ ! -e "$unit" ] || fail "remove left $unit"
[ -f /etc/newswatch/newswatch.toml ] || fail "remove deleted the configuration"
[ -f /var/lib/newswatch/newswatch.db ] || fail "remove deleted the state"

# --- Purge: nothing of newswatch is left but its system user ---------------------------------
dpkg --purge newswatch >"$tmp/dpkg-p.log" 2>&1 || { cat "$tmp/dpkg-p.log"; fail "dpkg --purge failed"; }
installed=no
! dpkg-statoverride --list /etc/newswatch/newswatch.toml >/dev/null || fail "purge left the statoverride"
left="$(find /etc /var /usr /lib /run -xdev \( -path "$repo" -o -path "${CARGO_TARGET_DIR:-$repo/target}" \) -prune \
    -o -name '*newswatch*' -print 2>/dev/null || true)"
[ -z "$left" ] || fail "purge left: $left"
echo "Debian package: install, check as newswatch, unit, reinstall, remove, purge: ok"
