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
    # Both status bars are the last thing drawn in the first frame.
    results = {}
    for name, argv, marker in [
        ("bare ratatui", BARE, b"quit"),
        ("rekey demo", REKEY, b"quit"),
    ]:
        first_frame_seconds(argv, marker)  # warm the page cache
        times = [first_frame_seconds(argv, marker) for _ in range(n)]
        results[name] = statistics.median(times)
        print(f"{name:14} median {results[name] * 1000:7.2f} ms  (min {min(times) * 1000:.2f}, n={n})")
    ratio = results["rekey demo"] / results["bare ratatui"]
    print(f"rekey / bare = {ratio:.2f} (budget: <= 1.30)")
    return 0 if ratio <= 1.30 else 1


if __name__ == "__main__":
    sys.exit(main())
