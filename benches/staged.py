#!/usr/bin/env python3
"""Staging cost: a staged change (SPEC §10.2, `command` store) against the same change unstaged.

Starts `rekey sim` on a free loopback port and times N runs each of
  - `rekey change --profile bm-vpn --json` with the new password on stdin (no store), and
  - `rekey change --profile bm-vpn-staged --generate --json`: the same Tencent API 3.0 change,
    staged through a trivial `command` store (a shell script keeping slots as files): pending
    checked empty, written and read back, journal `staged` and `promoted` (fsynced; both
    changes journal begin/sending/outcome/done), the promotion (previous, current, both read
    back), pending deleted.
Both succeed every time. It then measures what staging adds that is not rekey's own work:
one run of the store script (times the number of store calls one staged change makes, counted
from the script's log) and one fsync in the data dir (times the journal records), and prints
what is left: rekey's own staging cost. Run after `cargo build --release`:

    python3 benches/staged.py [N]
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from simulator import simulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REKEY = os.path.join(ROOT, "target/release/rekey")

STORE = """#!/bin/sh
# A trivial store for rekey's command backend: one file per slot.
f="$STORE_DIR/$REKEY_PROFILE.$2"
[ -n "${STORE_LOG:-}" ] && echo "$1 $2" >>"$STORE_LOG"
case $1 in
get) [ -f "$f" ] || exit 3; cat "$f" ;;
put) cat >"$f" ;;
delete) rm -f "$f" ;;
esac
"""



def median_ms(times):
    return statistics.median(times) * 1000


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with simulator(REKEY) as (port, toml):
        block = re.search(r'\[\[profile\]\]\nname = "bm-vpn"\n.*?(?=\n\[\[profile\]\]|\Z)', toml, re.S).group(0)
        with tempfile.TemporaryDirectory() as d:
            store_dir = os.path.join(d, "store")
            os.mkdir(store_dir)
            script = os.path.join(d, "store.sh")
            with open(script, "w") as f:
                f.write(STORE)
            staged = block.replace('name = "bm-vpn"', 'name = "bm-vpn-staged"\n'
                                   f'store = {{ backend = "command", command = ["sh", "{script}"], entry = "vpn" }}')
            cfg = os.path.join(d, "profiles.toml")
            with open(cfg, "w") as f:
                f.write(toml + "\n" + staged + "\n")
            data = os.path.join(d, "data")
            log = os.path.join(d, "store.log")
            env = dict(os.environ, REKEY_CONFIG=cfg, REKEY_DATA_DIR=data, STORE_DIR=store_dir)

            def timed(cmd, stdin="", extra=None):
                t = time.perf_counter()
                out = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                                     env=dict(env, **(extra or {})))
                elapsed = time.perf_counter() - t
                assert '"outcome":"changed"' in out.stdout, out.stdout + out.stderr
                return elapsed

            plain_cmd = [REKEY, "change", "--profile", "bm-vpn", "--json"]
            staged_cmd = [REKEY, "change", "--profile", "bm-vpn-staged", "--generate", "--json"]
            # Warm up (the first staged change fills `current`), then count the store calls of
            # one staged change that has a `previous` to keep.
            timed(plain_cmd, "Bench#Pass2025a\n")
            timed(staged_cmd)
            timed(staged_cmd, extra={"STORE_LOG": log})
            with open(log) as f:
                calls = len(f.readlines())
            plain, staged_t = [], []
            for i in range(n):  # interleaved, so drift hits both alike
                plain.append(timed(plain_cmd, f"Bench#Pass{i:04d}a\n"))
                staged_t.append(timed(staged_cmd))
            # One store call on its own.
            script_t = []
            for _ in range(n):
                t = time.perf_counter()
                subprocess.run(["sh", script, "get", "current"], capture_output=True,
                               env=dict(env, REKEY_PROFILE="bm-vpn-staged"))
                script_t.append(time.perf_counter() - t)
            # One fsynced append in the data dir.
            fsync_t = []
            path = os.path.join(data, "bench-fsync")
            for _ in range(n):
                t = time.perf_counter()
                with open(path, "a") as f:
                    f.write("x\n")
                    f.flush()
                    os.fsync(f.fileno())
                fsync_t.append(time.perf_counter() - t)
            # Both changes journal begin, sending, outcome and done; staging adds two records.
            records = 2  # staged, promoted
            p, s = median_ms(plain), median_ms(staged_t)
            st, fs = median_ms(script_t), median_ms(fsync_t)
            print(f"unstaged change      median {p:7.2f} ms (n={n})")
            print(f"staged change        median {s:7.2f} ms (n={n})")
            print(f"staged / unstaged    {s / p:.2f}")
            print(f"store calls          {calls} x {st:.2f} ms = {calls * st:.2f} ms")
            print(f"journal fsyncs       {records} x {fs:.3f} ms = {records * fs:.2f} ms")
            print(f"rekey's own staging  {s - p - calls * st - records * fs:+.2f} ms")


if __name__ == "__main__":
    main()
