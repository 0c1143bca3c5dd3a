#!/bin/sh
# rekey `command` store for HashiCorp Vault KV v2 — UNTESTED here (needs a Vault server).
#   store = { backend = "command", command = ["/path/vault-kv.sh"], entry = "cloud/redis-prod" }
# REKEY_ENTRY is the secret's path in the mount $VAULT_KV_MOUNT (default "secret"). Slots are
# keys of that one secret: `password`, `rekey_pending`, `rekey_previous`; other keys are kept
# (`vault kv patch`, never `kv put`, which replaces them all). Vault versions every write.
# Values go in as JSON on stdin (`-`), never as key=value arguments. Needs vault and jq, with
# VAULT_ADDR and a token in the environment.
set -eu
action=$1 slot=$2
path=${REKEY_ENTRY:?} mount=${VAULT_KV_MOUNT:-secret}
case $slot in current) key=password ;; *) key=rekey_$slot ;; esac
case $action in
get)
    err=$(mktemp)
    trap 'rm -f "$err"' EXIT
    if ! json=$(vault kv get -mount="$mount" -format=json "$path" </dev/null 2>"$err"); then
        grep -q 'No value found' "$err" && exit 3 # no such secret: an empty slot
        cat "$err" >&2
        exit 1
    fi
    printf '%s' "$json" | jq -e -j --arg k "$key" '.data.data[$k] | select(. != null and . != "")' || exit 3
    ;;
put)
    data=$(jq -R -s --arg k "$key" '{($k): .}') # the whole of stdin, exact, as one JSON string
    if vault kv metadata get -mount="$mount" "$path" </dev/null >/dev/null 2>&1; then
        printf '%s' "$data" | vault kv patch -mount="$mount" "$path" - >/dev/null
    else
        printf '%s' "$data" | vault kv put -mount="$mount" "$path" - >/dev/null
    fi
    ;;
delete) # a JSON merge patch with null removes the key
    vault kv metadata get -mount="$mount" "$path" </dev/null >/dev/null 2>&1 || exit 0
    jq -n --arg k "$key" '{($k): null}' | vault kv patch -mount="$mount" "$path" - >/dev/null
    ;;
esac
