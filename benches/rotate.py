#!/usr/bin/env python3
"""Fleet rotation cost: `rekey rotate --all` over 100 and 1,000 simulator profiles.

For each size, starts `rekey sim --fleet N --unlimited` (N accounts across the four kinds, each
profile with a store: the simulator's built-in `demo-store`, seeded with the current passwords;
no Tencent 5/s limit) and runs

    REKEY_ROTATE_UNLIMITED=1 rekey rotate --all --yes --json --concurrency C

(`REKEY_ROTATE_UNLIMITED=1` lifts rekey's own pacing, so the run measures rekey rather than the
rate limits). Every profile must come back `saved`. It prints profiles/s, the CPU time of the
rekey process itself per profile (utime+stime from /proc/PID/stat, sampled until it exits;
store commands excluded) and of rekey plus its store commands (getrusage RUSAGE_CHILDREN). The
per-profile CPU staying flat from 100 to 1,000 shows the cost grows linearly.
Run after `cargo build --release` (or point REKEY_BIN at another build):

    python3 benches/rotate.py [SIZES...] [--concurrency C]
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

from simulator import simulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REKEY = os.environ.get("REKEY_BIN", os.path.join(ROOT, "target/release/rekey"))
TICK = os.sysconf("SC_CLK_TCK")


def own_cpu(pid, box, done):
    """Samples utime+stime of `pid` (seconds, its children excluded) until `done` is set."""
    path = f"/proc/{pid}/stat"
    while not done.is_set():
        try:
            with open(path) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            box[0] = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.005)


def run(n, concurrency):
    with simulator(REKEY, ("--fleet", str(n), "--unlimited")) as (_port, toml), \
            tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "profiles.toml")
        with open(config, "w") as f:
            f.write(toml)
        env = dict(os.environ, REKEY_CONFIG=config, REKEY_DATA_DIR=os.path.join(tmp, "data"),
                   REKEY_ROTATE_UNLIMITED="1")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen([REKEY, "rotate", "--all", "--yes", "--json",
                                 "--concurrency", str(concurrency)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        box, done = [0.0], threading.Event()
        sampler = threading.Thread(target=own_cpu, args=(proc.pid, box, done))
        sampler.start()
        out, err = proc.communicate()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = [json.loads(l) for l in out.decode().splitlines()]
        summary = lines[-1]
        if proc.returncode != 0 or summary.get("saved") != n:
            raise SystemExit(f"rotation of {n} failed ({proc.returncode}): {summary}\n{err.decode()}")
        total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, box[0], total


def main():
    args = sys.argv[1:]
    concurrency = 16
    if "--concurrency" in args:
        i = args.index("--concurrency")
        concurrency = int(args[i + 1])
        del args[i:i + 2]
    sizes = [int(a) for a in args] or [100, 1000]
    print(f"rekey: {REKEY}; concurrency {concurrency}; pacing lifted (REKEY_ROTATE_UNLIMITED=1)")
    print(f"{'profiles':>8} {'wall s':>8} {'profiles/s':>10} {'rekey CPU ms/profile':>21} "
          f"{'+ store cmds ms/profile':>24}")
    for n in sizes:
        wall, own, total = run(n, concurrency)
        print(f"{n:>8} {wall:>8.2f} {n / wall:>10.1f} {own * 1000 / n:>21.2f} "
              f"{total * 1000 / n:>24.2f}")


if __name__ == "__main__":
    main()
