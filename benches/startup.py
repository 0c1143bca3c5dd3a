#!/usr/bin/env python3
"""Start-up budget: time from process start to the first full frame.

Runs `rekey demo` and the bare ratatui baseline (examples/bare_frame.rs) in a pseudo-terminal
of 120x40, N times each, and reports the median time until the frame's last marker has been
written. Budget: rekey within 30% of the baseline.

    cargo build --release --bin rekey --example bare_frame
    python3 benches/startup.py [N]
"""
import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import termios
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REKEY = [os.path.join(ROOT, "target/release/rekey"), "demo"]
BARE = [os.path.join(ROOT, "target/release/examples/bare_frame")]


def first_frame_seconds(argv, marker):
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        # Size the terminal before exec, so the first frame is drawn at 120x40.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.environ["TERM"] = "xterm-256color"
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
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    # Marker: ratatui hides the cursor once a frame is complete ("\x1b[?25l" after the last
    # cell); neither app writes it before its first frame is done.
    results = {}
    apps = [("bare ratatui", BARE), ("rekey demo", REKEY)]
    for _, argv in apps:
        first_frame_seconds(argv, b"\x1b[?25l")  # warm the page cache
    times = {name: [] for name, _ in apps}
    # Interleaved, so both see the same machine state.
    for _ in range(n):
        for name, argv in apps:
            times[name].append(first_frame_seconds(argv, b"\x1b[?25l"))
    for name, _ in apps:
        results[name] = statistics.median(times[name])
        print(f"{name:14} median {results[name] * 1000:7.2f} ms  (min {min(times[name]) * 1000:.2f}, n={n})")
    ratio = results["rekey demo"] / results["bare ratatui"]
    print(f"rekey / bare = {ratio:.2f} (budget: <= 1.30)")
    return 0 if ratio <= 1.30 else 1


if __name__ == "__main__":
    sys.exit(main())
