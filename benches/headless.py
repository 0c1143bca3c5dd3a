#!/usr/bin/env python3
"""Headless budget: `rekey change` should cost little more than curl making the same request.

Starts `rekey sim` on a free loopback port, then times N runs each of
  - `rekey change --profile portal-token --json` (one POST /change_user_password with a stored
    bearer token; the answer is `reused_password` every time, so the state never drifts), and
  - `curl` sending the same POST with the same headers and body,
and prints the medians. With `--tls` both go over HTTPS to `rekey sim --tls`, trusting its
throwaway CA (`ca_file` / `--cacert`): the production path, TLS handshake included. Run after
`cargo build --release`:

    python3 benches/headless.py [N] [--tls]
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from simulator import simulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REKEY = os.environ.get("REKEY_BIN", os.path.join(ROOT, "target/release/rekey"))


def main():
    args = [a for a in sys.argv[1:] if a != "--tls"]
    tls = "--tls" in sys.argv[1:]
    n = int(args[0]) if args else 50
    ca_dir = tempfile.TemporaryDirectory(prefix="rekey-bench-ca-")
    ca = os.path.join(ca_dir.name, "ca.pem")
    sim_args = ("--tls", "--ca-out", ca) if tls else ()
    scheme = "https" if tls else "http"
    with ca_dir, simulator(REKEY, sim_args) as (port, toml):
        token = re.search(r'name = "portal-token".*?access_token = \{ value = "([^"]+)" \}', toml, re.S).group(1)
        password = re.search(r'name = "portal-token".*?written: ([^ ]+)\. ', toml, re.S).group(1)
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "profiles.toml")
            with open(cfg, "w") as f:
                f.write(toml)
            stdin = f"{password}\n{password}\n"
            body = json.dumps({"old_password": password, "new_password": password})
            rekey_cmd = [REKEY, "change", "--profile", "portal-token", "--json", "--force"]
            curl_cmd = ["curl", "-s", "-o", "/dev/null", "-X", "POST",
                        "-H", "Content-Type: application/json",
                        "-H", f"Authorization: Bearer {token}",
                        "--data-binary", "@-", f"{scheme}://127.0.0.1:{port}/change_user_password"]
            if tls:
                curl_cmd[1:1] = ["--cacert", ca]
            env = dict(os.environ, REKEY_CONFIG=cfg, REKEY_DATA_DIR=os.path.join(d, "data"))

            def timed(cmd, data):
                t = time.perf_counter()
                out = subprocess.run(cmd, input=data, capture_output=True, text=True, env=env)
                return time.perf_counter() - t, out

            _, out = timed(rekey_cmd, stdin)
            assert '"outcome":"reused_password"' in out.stdout, out.stdout + out.stderr
            results = {}
            for name, cmd, data in [("curl", curl_cmd, body), ("rekey change", rekey_cmd, stdin)]:
                times = [timed(cmd, data)[0] for _ in range(n)]
                results[name] = statistics.median(times)
                print(f"{name:13} median {results[name] * 1000:6.2f} ms  (min {min(times) * 1000:.2f}, n={n})")
            print(f"rekey / curl = {results['rekey change'] / results['curl']:.2f} ({scheme})")


if __name__ == "__main__":
    main()
