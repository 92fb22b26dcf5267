"""Is one process per seed faster than one process with every thread? (a script, not a test)

    python benchmarks/seed_jobs.py [--profile quick] [--epochs 1] [--jobs 2]

Trains the profile's victim on its natural training set for ``--epochs`` epochs, first
``--jobs`` seeds one after another in one process with all of torch's threads, then the
same seeds at once in ``--jobs`` processes with ``threads // jobs`` threads each (what
``python -m cgan_lib book --jobs N`` does). Caches nothing. Reports victims per hour both
ways and their ratio (``seed_jobs_speedup``; above 1: ``--jobs`` pays on this machine).

Writes ``benchmarks/results/seed_jobs-<profile>-<machine>.json`` and prints one line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def one(profile: str, epochs: int, seed: int) -> float:
    """Train one victim (no cache); return its training seconds."""
    from _victim import natural_victim
    return natural_victim(profile, epochs, seed)["seconds"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)   # one seed, in a child
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps({"seconds": one(args.profile, args.epochs, args.child)}))
        return
    import torch
    from cgan_lib.artifacts import atomic_write_text
    from cgan_lib.device import machine_info, machine_tag
    threads = torch.get_num_threads()
    seeds = list(range(args.jobs))

    def child(seed, n_threads):
        return subprocess.Popen([sys.executable, __file__, "--profile", args.profile,
                                 "--epochs", str(args.epochs), "--child", str(seed)],
                                stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "CGAN_THREADS": str(n_threads)})

    t = time.time()
    serial = []
    for s in seeds:
        p = child(s, threads)
        serial.append(json.loads(p.communicate()[0].strip().splitlines()[-1])["seconds"])
    t_serial = time.time() - t
    t = time.time()
    procs = [child(s, max(1, threads // args.jobs)) for s in seeds]
    parallel = [json.loads(p.communicate()[0].strip().splitlines()[-1])["seconds"] for p in procs]
    t_parallel = time.time() - t
    # training seconds only (each child also starts Python and loads the data)
    speedup = sum(serial) / max(parallel)
    row = {**machine_info(), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
           "profile": args.profile, "epochs": args.epochs, "jobs": args.jobs, "threads": threads,
           "serial_train_seconds": [round(v, 1) for v in serial],
           "parallel_train_seconds": [round(v, 1) for v in parallel],
           "serial_wall_seconds": round(t_serial, 1), "parallel_wall_seconds": round(t_parallel, 1),
           "seed_jobs_speedup": round(speedup, 2)}
    path = OUT / f"seed_jobs-{args.profile}-{machine_tag()}.json"
    atomic_write_text(json.dumps(row, indent=1), path)
    print(f"{args.jobs} victims ({args.profile}, {args.epochs} epoch(s)): one after another with "
          f"{threads} threads {sum(serial):.0f} s, at once with {max(1, threads // args.jobs)} "
          f"each {max(parallel):.0f} s: --jobs {args.jobs} trains {speedup:.2f}x the victims per "
          f"hour. Wrote {path}")


if __name__ == "__main__":
    main()
