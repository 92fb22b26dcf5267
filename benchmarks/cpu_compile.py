"""Does ``torch.compile`` pay for victim training on this CPU? (a script, not a test)

    python benchmarks/cpu_compile.py [--profiles ci quick] [--epochs 0 1] [--victims 2]

For each profile, trains ``--victims`` of its natural victims one after another in one
process, first eager (``CGAN_COMPILE=0``, what every chapter runs) and then compiled
(``CGAN_COMPILE=1``), each way in a fresh process, so the compiled run pays its compile
time once, as a chapter would: the first victim compiles, later ones reuse the graph.
``--epochs`` per profile (0: the profile's victim epochs). Caches nothing. Reports each
victim's training seconds, their clean test accuracy (the two ways must learn alike), and
``compile_speedup``: eager seconds over compiled seconds for all victims together (above 1:
compile pays for that many victims on this machine).

Writes ``benchmarks/results/cpu_compile-<machine>.json`` and prints one line per profile; the
rows of profiles not measured in this run are kept from that file, each with its date.
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


def victims(profile: str, epochs: int, n: int) -> list[dict]:
    """Train ``n`` victims (seeds 0..n-1, no cache); their seconds and accuracies."""
    from _victim import natural_victim
    return [natural_victim(profile, epochs, seed) for seed in range(n)]


def kept_rows(old: dict, measured) -> dict:
    """The rows of an earlier results file for the profiles not in ``measured``, each with
    its own date and, where the file had one, its provenance."""
    kept = {}
    for prof, row in old.get("profiles", {}).items():
        if prof not in measured:
            kept[prof] = {**row, "written": row.get("written", old.get("written"))}
            if "provenance" in old and "provenance" not in row:
                kept[prof]["provenance"] = old["provenance"]
    return kept


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", nargs="+", default=["ci", "quick"])
    ap.add_argument("--epochs", nargs="+", type=int, default=[0, 1],
                    help="victim epochs per profile (0: the profile's)")
    ap.add_argument("--victims", type=int, default=2)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)   # profile epochs n
    args = ap.parse_args(argv)
    if args.child:
        prof, ep, n = args.child
        print(json.dumps(victims(prof, int(ep), int(n))))
        return
    from cgan_lib.artifacts import atomic_write_text
    from cgan_lib.device import machine_info, machine_tag
    if len(args.epochs) != len(args.profiles):
        ap.error("give one --epochs value per profile")
    out = OUT / f"cpu_compile-{machine_tag()}.json"
    res = {**machine_info(), "written": time.strftime("%Y-%m-%d %H:%M:%S"), "profiles": {}}
    if out.exists():   # keep the rows of profiles not measured now, each with its date
        res["profiles"].update(kept_rows(json.loads(out.read_text()), args.profiles))
    for prof, ep in zip(args.profiles, args.epochs):
        row = {}
        for mode in ("eager", "compile"):
            env = {**os.environ, "CGAN_COMPILE": "1" if mode == "compile" else "0"}
            r = subprocess.run([sys.executable, __file__, "--child", prof, str(ep),
                                str(args.victims)], capture_output=True, text=True, env=env)
            if r.returncode:
                row[mode] = {"error": r.stderr.strip().splitlines()[-1] if r.stderr else "failed"}
                continue
            row[mode] = json.loads(r.stdout.strip().splitlines()[-1])
        if all("error" not in row[m] for m in row):
            tot = {m: sum(v["seconds"] for v in row[m]) for m in row}
            row["compile_speedup"] = round(tot["eager"] / tot["compile"], 2)
            row["compile_speedup_after_first"] = round(
                sum(v["seconds"] for v in row["eager"][1:])
                / max(1e-9, sum(v["seconds"] for v in row["compile"][1:])), 2) if args.victims > 1 else None
        row["written"] = res["written"]
        res["profiles"][prof] = row
        print(f"{prof}: eager {[v.get('seconds') for v in row['eager']] if 'error' not in row['eager'] else row['eager']} s, "
              f"compiled {[v.get('seconds') for v in row['compile']] if 'error' not in row['compile'] else row['compile']} s, "
              f"compile_speedup {row.get('compile_speedup')}", flush=True)
    atomic_write_text(json.dumps(res, indent=1), out)


if __name__ == "__main__":
    main()
