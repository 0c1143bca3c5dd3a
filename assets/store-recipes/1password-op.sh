#!/bin/sh
# rekey `command` store for 1Password CLI v2 (`op`) — UNTESTED here (needs a 1Password account).
#   store = { backend = "command", command = ["/path/1password-op.sh"], entry = "ITEM" }
# ITEM (REKEY_ENTRY) is an item title or ID in $OP_VAULT. Slots are fields of that one item:
# current = the built-in `password` field; pending/previous = concealed fields
# `rekey-pending`/`rekey-previous` (1Password keeps the item's history).
# The secret never goes on a command line: edits pipe the item's JSON to `op item edit`
# (field=value assignments would be visible to other processes). Needs op, jq, and a signed-in
# session (OP_SERVICE_ACCOUNT_TOKEN or the desktop app).
set -eu
action=$1 slot=$2
item=${REKEY_ENTRY:?} vault=${OP_VAULT:?set OP_VAULT}
case $slot in current) field=password ;; pending) field=rekey-pending ;; *) field=rekey-previous ;; esac
json=$(op item get "$item" --vault "$vault" --format json </dev/null)
case $action in
get)
    printf '%s' "$json" | jq -e -j --arg f "$field" \
        '.fields[] | select(.id == $f and (.value // "") != "") | .value' || exit 3
    ;;
put) # the new password arrives on stdin; jq reads it from fd 3 (never argv)
    exec 3<&0
    printf '%s' "$json" | jq --arg f "$field" --rawfile pw /dev/fd/3 '
        if any(.fields[]; .id == $f) then (.fields[] | select(.id == $f) | .value) = $pw
        else .fields += [{id: $f, label: $f, type: "CONCEALED", value: $pw}] end' |
        op item edit "$item" --vault "$vault" >/dev/null
    ;;
delete)
    if [ "$field" = password ]; then
        echo "1password-op.sh: refusing to delete the item's password" >&2
        exit 1
    fi
    printf '%s' "$json" | jq --arg f "$field" 'del(.fields[] | select(.id == $f))' |
        op item edit "$item" --vault "$vault" >/dev/null
    ;;
esac
