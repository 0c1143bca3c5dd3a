#!/bin/sh
# rekey `command` store for the Bitwarden CLI (`bw`) — UNTESTED here (needs a Bitwarden account).
#   store = { backend = "command", command = ["/path/bitwarden-bw.sh"], entry = "ITEM-ID" }
# ITEM-ID (REKEY_ENTRY) is a login item's ID. current = the login password; pending/previous =
# hidden custom fields `rekey-pending`/`rekey-previous` (Bitwarden keeps the last 5 passwords).
# The secret travels only through pipes: `bw get item` → jq → `bw encode` → `bw edit item`.
# Needs bw, jq and an unlocked session in BW_SESSION.
set -eu
action=$1 slot=$2
item=${REKEY_ENTRY:?}
: "${BW_SESSION:?unlock first: export BW_SESSION=\$(bw unlock --raw)}"
bw sync >/dev/null </dev/null
json=$(bw get item "$item" </dev/null)
case $slot in
current) path='.login.password' ;;
*) path=".fields[]? | select(.name == \"rekey-$slot\") | .value" ;;
esac
case $action in
get)
    printf '%s' "$json" | jq -e -j "$path | select(. != null and . != \"\")" || exit 3
    ;;
put) # jq reads the new password from fd 3 (stdin), never from argv
    exec 3<&0
    if [ "$slot" = current ]; then
        edit='.login.password = $pw'
    else
        edit='.fields = ([.fields[]? | select(.name != $f)] + [{name: $f, value: $pw, type: 1}])'
    fi
    printf '%s' "$json" | jq --arg f "rekey-$slot" --rawfile pw /dev/fd/3 "$edit" |
        bw encode | bw edit item "$item" >/dev/null
    ;;
delete)
    if [ "$slot" = current ]; then
        echo "bitwarden-bw.sh: refusing to delete the login password" >&2
        exit 1
    fi
    printf '%s' "$json" | jq --arg f "rekey-$slot" '.fields = [.fields[]? | select(.name != $f)]' |
        bw encode | bw edit item "$item" >/dev/null
    ;;
esac
