"""Shared by the bench scripts: `rekey sim` on a free loopback port, and its profiles.toml.

`rekey sim` writes exactly a profiles.toml on stdout and flushes it before it prints its
banner ("... listening on URL") on stderr, then keeps running; so once the banner is there the
whole file is in the pipe.
"""
import contextlib
import os
import socket
import subprocess
import threading


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def simulator(rekey, args=()):
    """Yields (port, profiles.toml text) of a running `rekey sim [ARGS]` (e.g.
    `("--fleet", "100")`); stops it afterwards."""
    port = free_port()
    sim = subprocess.Popen([rekey, "sim", "--listen", f"127.0.0.1:{port}", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # A fleet's profiles.toml is larger than a pipe holds: read stdout on a thread while the
    # banner is awaited on stderr.
    chunks = []

    def read_stdout():
        try:
            while chunk := os.read(sim.stdout.fileno(), 65536):
                chunks.append(chunk)
        except BlockingIOError:
            pass  # all of it read (see below)

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    try:
        for line in sim.stderr:
            if b"listening on" in line:
                break
        else:
            raise RuntimeError("rekey sim ended before it listened")
        # The file is flushed before the banner; what is in the pipe now is all of it.
        os.set_blocking(sim.stdout.fileno(), False)
        reader.join(timeout=5)
        yield port, b"".join(chunks).decode()
    finally:
        sim.terminate()
        sim.wait()
