#!/bin/sh
# store-script.sh: a tiny password store for rekey's `command` backend (SPEC §10.1), used by
# tests/stores.rs, crash tests and the demo. POSIX sh, no dependencies.
#
#   store-script.sh get|put|delete current|pending|previous
#
# Slots are files: $REKEY_TEST_STORE_DIR/$REKEY_PROFILE.$SLOT (REKEY_PROFILE set by rekey;
# "default" when unset). `put` stores stdin byte for byte; `get` prints the file as stored
# (exit 3 when the slot is empty); `delete` removes it (exit 0 when already empty).
#
# Fault hooks. Each takes a shell pattern matched against "ACTION:SLOT", e.g. "put:pending",
# "get:*" or "*"; unset means never:
#   REKEY_TEST_STORE_FAIL=PATTERN    exit 1, printing $REKEY_TEST_STORE_STDERR (or a default
#                                    line) on stderr
#   REKEY_TEST_STORE_HANG=PATTERN    sleep for an hour (rekey's timeout must stop it)
#   REKEY_TEST_STORE_EMPTY=PATTERN   `get` prints nothing and exits 0
#   REKEY_TEST_STORE_WRONG=PATTERN   `get` prints "not-what-was-written" and exits 0
#   REKEY_TEST_STORE_NOT_UTF8=PATTERN `get` prints bytes that are not UTF-8
# REKEY_TEST_STORE_LOG=FILE appends one line per call: "ACTION SLOT PROFILE ENTRY" (no secret).
set -u
umask 077
action=${1:-}
slot=${2:-}
dir=${REKEY_TEST_STORE_DIR:?store-script.sh: set REKEY_TEST_STORE_DIR to the store directory}
case $slot in
current | pending | previous) ;;
*)
    echo "store-script.sh: unknown slot '$slot' (current, pending or previous)" >&2
    exit 2
    ;;
esac
file="$dir/${REKEY_PROFILE:-default}.$slot"

if [ -n "${REKEY_TEST_STORE_LOG:-}" ]; then
    printf '%s %s %s %s\n' "$action" "$slot" "${REKEY_PROFILE:-}" "${REKEY_ENTRY:-}" >>"$REKEY_TEST_STORE_LOG"
fi

# hook NAME: true when the hook variable NAME holds a pattern matching "ACTION:SLOT".
hook() {
    eval "pattern=\${$1:-}"
    [ -n "$pattern" ] || return 1
    # shellcheck disable=SC2254 # the pattern is meant to glob
    case "$action:$slot" in
    $pattern) return 0 ;;
    esac
    return 1
}

if hook REKEY_TEST_STORE_FAIL; then
    printf '%s\n' "${REKEY_TEST_STORE_STDERR:-store-script.sh: injected failure of $action $slot}" >&2
    exit 1
fi
if hook REKEY_TEST_STORE_HANG; then
    exec sleep 3600
fi

case $action in
get)
    if hook REKEY_TEST_STORE_EMPTY; then exit 0; fi
    if hook REKEY_TEST_STORE_WRONG; then
        echo not-what-was-written
        exit 0
    fi
    if hook REKEY_TEST_STORE_NOT_UTF8; then
        printf '\377\376\n'
        exit 0
    fi
    [ -f "$file" ] || exit 3
    cat "$file"
    ;;
put)
    mkdir -p "$dir" || exit 1
    cat >"$file.tmp.$$" && mv -f "$file.tmp.$$" "$file"
    ;;
delete)
    rm -f "$file"
    ;;
*)
    echo "store-script.sh: unknown action '$action' (get, put or delete)" >&2
    exit 2
    ;;
esac
