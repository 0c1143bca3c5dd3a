#!/bin/sh
# rekey `command` store for gopass (gopasspw/gopass ≥ 1.12) — UNTESTED here: Debian bookworm's
# `gopass` package (1.5.0) is an older, different program with another command line.
#   store = { backend = "command", command = ["/path/gopass.sh"], entry = "cloud/redis-prod" }
# Slots are entries, as with rekey's `pass` backend: ENTRY (first line = password, the other
# lines are kept), ENTRY.rekey-pending, ENTRY.rekey-previous. Secrets go through pipes only.
set -eu
action=$1 slot=$2
entry=${REKEY_ENTRY:?}
case $slot in current) name=$entry ;; *) name=$entry.rekey-$slot ;; esac
exists() { gopass ls --flat </dev/null | grep -Fxq -- "$name"; }
case $action in
get)
    exists || exit 3
    gopass show -o -f "$name" </dev/null
    ;;
put)
    if [ "$slot" = current ] && exists; then
        # new password (stdin) as line 1, then the entry's other lines
        rest=$(gopass show -f -n "$name" </dev/null | tail -n +2; echo x)
        { cat; printf '\n%s' "${rest%x}"; } | gopass insert -f "$name" >/dev/null
    else
        gopass insert -f "$name" >/dev/null
    fi
    ;;
delete)
    exists || exit 0
    gopass rm -f "$name" </dev/null >/dev/null
    ;;
esac
