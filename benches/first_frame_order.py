#!/usr/bin/env python3
"""Writes assets/first-frame.order: the functions of the release `rekey` binary that run before
the console's first frame, which the build (src/build.rs) hands to the linker so they sit next to
each other. Start-up then faults in a few pages of code instead of pages spread over all of it.

Each of `rekey --config FILE` (the four-profile file of benches/startup.py), `rekey demo` and
`rekey demo --plain` runs under valgrind's callgrind in a 120x40 pseudo-terminal; at the first
frame the script asks callgrind for a dump (callgrind_control -d) and stops the run. The names
of every function of the binary that ran are written, sorted (mangled, as the linker sees them).

Run it again after a change of dependencies, toolchain or release profile (the names carry a
hash of those); `benches/startup.py` says how many of the file's names the binary still has.
Needs valgrind (`apt-get install valgrind`).

    cargo build --release --bin rekey
    python3 benches/first_frame_order.py
    cargo build --release --bin rekey   # links with the new order
"""
import fcntl
import glob
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time

import startup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REKEY = os.path.join(ROOT, "target/release/rekey")
OUT = os.path.join(ROOT, "assets/first-frame.order")
MARKER = b"\x1b[?25l"  # ratatui hides the cursor once a frame is complete


def functions_before_first_frame(argv, env, work):
    """The mangled names of the binary's functions that ran before `argv`'s first frame."""
    dump = os.path.join(work, "callgrind.out")
    command = [
        shutil.which("valgrind"),
        "--tool=callgrind",
        "--demangle=no",
        "--compress-strings=no",
        f"--callgrind-out-file={dump}",
    ] + argv
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        os.environ.update(env)
        os.execv(command[0], command)
    seen = b""
    deadline = time.monotonic() + 120
    while MARKER not in seen:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise SystemExit(f"{' '.join(argv)}: no frame within 120 s under valgrind")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                raise SystemExit(f"{' '.join(argv)}: ended before its first frame")
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(fd)
    names = set()
    for path in glob.glob(dump + "*"):
        objects = {}
        current = None
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("ob="):
                    current = line[3:].strip()
                elif line.startswith("fn=") and current and os.path.realpath(current) == os.path.realpath(REKEY):
                    name = re.sub(r"'\d+$", "", line[3:].strip())
                    if name.startswith(("_ZN", "_R")) or re.fullmatch(r"[A-Za-z_]\w*", name):
                        names.add(name)
        os.remove(path)
    return names


def main():
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("needs valgrind: apt-get install valgrind")
    if not os.path.exists(REKEY):
        raise SystemExit("build first: cargo build --release --bin rekey")
    work = tempfile.mkdtemp(prefix="rekey-order-")
    config = os.path.join(work, "profiles.toml")
    with open(config, "w") as f:
        f.write(startup.PROFILES)
    env = {
        "HOME": work,
        "XDG_CONFIG_HOME": os.path.join(work, "config"),
        "XDG_DATA_HOME": os.path.join(work, "data"),
        "XDG_STATE_HOME": os.path.join(work, "state"),
        "REKEY_DATA_DIR": os.path.join(work, "rekey-data"),
    }
    names = set()
    for argv in ([REKEY, "--config", config], [REKEY, "demo"], [REKEY, "demo", "--plain"]):
        ran = functions_before_first_frame(argv, env, work)
        print(f"{len(ran):5} functions before the first frame of {' '.join(argv[1:])}")
        names |= ran
    shutil.rmtree(work, ignore_errors=True)
    with open(OUT, "w") as f:
        f.write(
            "# The functions of the release binary that run before the console's first frame,\n"
            "# linked next to each other (src/build.rs). Written by benches/first_frame_order.py.\n"
        )
        f.write("\n".join(sorted(names)) + "\n")
    print(f"{len(names):5} names written to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
