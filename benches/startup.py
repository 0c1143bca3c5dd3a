#!/usr/bin/env python3
"""Start-up budget: time from process start to the first full frame, and idle memory.

Runs `rekey demo` (its simulator over TLS: the certificates are made when first needed, after
the first frame), `rekey demo --plain` (plain HTTP), `rekey --config FILE` (a four-profile
profiles.toml, one profile per kind, fixed loopback endpoints; XDG dirs and REKEY_DATA_DIR in a
temp dir) and the bare ratatui baseline (examples/bare_frame.rs) in a pseudo-terminal of 120x40,
N times each (default 60), interleaved in a shuffled order, and reports the median time until
the frame's last marker has been written. Budget: rekey within 30% of the baseline.

Memory: the resident set (VmRSS, /proc/PID/status) of each right after its first frame and
once idle (1 s later: the strength estimator's dictionaries are built after the first frame).

    cargo build --release --example bare_frame && cargo build --release --bin rekey
    python3 benches/startup.py [N]

(In that order: building an example rebuilds the binary with the dev-dependencies' features,
whose function names no longer match assets/first-frame.order; the script says how many of
that file's names the binary it times has.)
"""
import fcntl
import os
import pty
import random
import select
import statistics
import subprocess
import struct
import sys
import tempfile
import termios
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# REKEY_BIN: another build to time (e.g. one from before a change), instead of this tree's.
REKEY = [os.environ.get("REKEY_BIN", os.path.join(ROOT, "target/release/rekey")), "demo"]
BARE = [os.path.join(ROOT, "target/release/examples/bare_frame")]

# One profile per kind; nothing listens on these ports (no request is made before a send).
PROFILES = """
[[profile]]
name = "bm-vpn"
kind = "tencent-bm-vpn"
region = "ap-guangzhou"
endpoint = "http://127.0.0.1:9"
secret_id = { value = "AKIDbenchbenchbenchbench" }
secret_key = { value = "benchbenchbenchbenchbench" }

[[profile]]
name = "redis-prod"
kind = "huawei-dcs"
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
instance_id = "11111111-2222-3333-4444-555555555555"
endpoint = "http://127.0.0.1:9"
production = true
auth = { method = "aksk", access_key = { value = "BENCHAK" }, secret_key = { value = "benchsk" } }

[[profile]]
name = "iam-alice"
kind = "huawei-iam"
iam_endpoint = "http://127.0.0.1:9"
domain = "my-account"
user = "alice"

[[profile]]
name = "portal"
kind = "tencent-ciam"
endpoint = "http://127.0.0.1:9"
client_id = "app-client-id"
auth_source_id = "auth-source-id"
username = "bob"
"""


def order_coverage(binary):
    """How many of assets/first-frame.order's names `binary` has, as "found/total" (None
    without binutils' nm)."""
    with open(os.path.join(ROOT, "assets/first-frame.order")) as f:
        names = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    try:
        out = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    have = {line.split()[-1] for line in out.splitlines() if line.strip()}
    return f"{len(names & have)}/{len(names)}"


def rss_kib(pid):
    """VmRSS of `pid` in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def first_frame_seconds(argv, marker, env=None, memory=None):
    """Seconds to the first frame; with `memory` (a dict), also its VmRSS (KiB) at the first
    frame ("frame") and after 1 s idle ("idle")."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        # Size the terminal before exec, so the first frame is drawn at 120x40.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        os.environ.update(env or {})
        os.execv(argv[0], argv)
    seen = b""
    elapsed = None
    deadline = start + 10
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        seen += chunk
        if marker in seen:
            elapsed = time.perf_counter() - start
            break
    if memory is not None and elapsed is not None:
        memory["frame"] = rss_kib(pid)
        end = time.perf_counter() + 1
        while time.perf_counter() < end:  # keep the pty drained while it idles
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    os.read(fd, 65536)
                except OSError:
                    break
        memory["idle"] = rss_kib(pid)
    os.write(fd, b"\x03")  # Ctrl-C quits both
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready or not os.read(fd, 65536):
                break
    except OSError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    if elapsed is None:
        raise SystemExit(f"{argv[0]}: no frame within 10 s")
    return elapsed


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    home = tempfile.mkdtemp(prefix="rekey-startup-")
    config = os.path.join(home, "profiles.toml")
    with open(config, "w") as f:
        f.write(PROFILES)
    env = {
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, "config"),
        "XDG_DATA_HOME": os.path.join(home, "data"),
        "XDG_STATE_HOME": os.path.join(home, "state"),
        "REKEY_DATA_DIR": os.path.join(home, "rekey-data"),
    }
    # Marker: ratatui hides the cursor once a frame is complete ("\x1b[?25l" after the last
    # cell); no app writes it before its first frame is done.
    marker = b"\x1b[?25l"
    apps = [
        ("bare ratatui", BARE, None),
        ("rekey demo", REKEY, env),
        ("demo --plain", REKEY + ["--plain"], env),
        ("rekey --config", [REKEY[0], "--config", config], env),
    ]
    memory = {}
    for name, argv, e in apps:
        memory[name] = {}
        first_frame_seconds(argv, marker, e, memory[name])  # also warms the page cache
    times = {name: [] for name, _, _ in apps}
    # Interleaved, so all see the same machine state, in a shuffled order each round: a run
    # leaves the CPU caches and the kernel's free lists to the next one (a demo, which touches
    # more memory, slows the next process by up to 0.2 ms), so a fixed order would always
    # charge that to the same app.
    shuffle = random.Random(1).shuffle
    for _ in range(n):
        order = list(apps)
        shuffle(order)
        for name, argv, e in order:
            times[name].append(first_frame_seconds(argv, marker, e))
    results = {}
    for name, _, _ in apps:
        results[name] = statistics.median(times[name])
        print(
            f"{name:15} median {results[name] * 1000:7.2f} ms  (min {min(times[name]) * 1000:.2f}, n={n})"
            f"  VmRSS {memory[name]['frame'] / 1024:5.1f} MiB at the first frame,"
            f" {memory[name]['idle'] / 1024:5.1f} MiB idle"
        )
    coverage = order_coverage(REKEY[0])
    if coverage is not None:
        print(f"assets/first-frame.order: {coverage} of its functions found in {REKEY[0]}"
              " (few: run benches/first_frame_order.py, see its header)")
    ok = True
    for name in ("rekey demo", "demo --plain", "rekey --config"):
        ratio = results[name] / results["bare ratatui"]
        print(f"{name} / bare = {ratio:.2f} (budget: <= 1.30)")
        ok = ok and ratio <= 1.30
    idle = memory["rekey --config"]["idle"] / 1024
    print(f"rekey --config idle VmRSS {idle:.1f} MiB (budget: < 10)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
