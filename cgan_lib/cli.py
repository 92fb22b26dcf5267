"""Command line: ``python -m cgan_lib <command>`` (or ``cgan <command>``)."""
from __future__ import annotations

import argparse
import os
import sys
import time


def _cmd_profiles(args):
    from .profiles import PROFILES
    for p in PROFILES.values():
        print(f"{p.name:6s} {p.description}\n       {p.summary()}")
        for d in p.departures:
            print(f"       - departs from the paper: {d}")


def _cmd_data(args):
    from .data import load_dataset
    d = load_dataset(args.dataset, args.root)
    print(d)
    print("classes:", ", ".join(map(str, d.classes)))


def _cmd_train(args):
    from .experiment import Experiment
    from .gan import save_generator
    exp = Experiment("cli", args.profile, args.dataset, args.root, args.seed)
    print(exp.summary())
    f, acc = exp.classifier()
    print(f"classifier f: clean test accuracy {acc:.3f}")
    G, hist = exp.generator()
    last = hist[-1]
    print(f"generator: {len(hist)} epochs; f's accuracy on the noise alone {last['noise_acc']:.3f}; "
          f"checkpoint {G.checkpoint_path}")
    if args.out:
        save_generator(G, args.out, G.meta, hist)
        print(f"wrote {args.out}")


def _cmd_protect(args):
    from .protect import protect_folder
    from .shipped import shipped_path
    gen = args.generator or shipped_path()
    if not args.generator:
        print(f"generator: the shipped one, {gen} (its model card: {gen.parent / 'README.md'})")
    rep = protect_folder(gen, args.input, args.output, overwrite=args.overwrite,
                         progress=not args.quiet)
    for p, frm, to in rep.converted[:10]:
        print(f"converted {p.name}: {frm} -> {to} (the generator works on {to} images)")
    for p, why in rep.skipped:
        print(f"skipped {p}: {why}", file=sys.stderr)
    print(rep.summary())
    return 0 if rep.written or not rep.skipped else 1


def _cmd_ship(args):
    from .shipped import build, write_card
    if args.card_only:
        print(f"wrote {write_card(args.out)} from its measurements file (nothing trained)")
        return
    d = build(args.profile or "quick", args.seed, tuple(args.victim_seeds), args.root, args.out,
              progress=not args.quiet)
    print(f"wrote {d['name']}.pt ({d['size_bytes'] / 1e6:.1f} MB), {d['name']}.json and README.md; "
          f"victims: {d['victim_test_acc']}")


def parse_stop_at(text: str, now: float | None = None) -> float:
    """``--stop-at``: ``HH:MM`` (the next such time, today or tomorrow) or ``YYYY-MM-DD
    HH:MM``, local time; returns a Unix time. A time already past is refused."""
    import datetime as dt
    now_dt = dt.datetime.fromtimestamp(time.time() if now is None else now)
    try:
        if len(text.strip()) <= 5:
            hm = dt.datetime.strptime(text.strip(), "%H:%M").time()
            at = dt.datetime.combine(now_dt.date(), hm)
            if at <= now_dt:
                at += dt.timedelta(days=1)
        else:
            at = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"--stop-at {text!r}: give HH:MM or 'YYYY-MM-DD HH:MM' (local time)") from None
    if at <= now_dt:
        raise ValueError(f"--stop-at {text!r} has already passed")
    return at.timestamp()


def _cmd_book(args):
    from .book import run_book
    seeds = None
    if args.seeds:
        try:
            seeds = [int(v) for v in args.seeds.split(",") if v.strip()]
        except ValueError:
            raise SystemExit(f"--seeds {args.seeds!r}: give integers separated by commas, "
                             f"e.g. --seeds 0,1") from None
    if args.stop_at:
        from .artifacts import STOP_AT_ENV
        at = parse_stop_at(args.stop_at)
        os.environ[STOP_AT_ENV] = str(at)   # the kernels (and --jobs' processes) inherit it
        print(f"[book] stop time {time.strftime('%Y-%m-%d %H:%M', time.localtime(at))}: no new "
              f"artifact, epoch or round starts after it", flush=True)
    from .artifacts import DeadlineReached
    try:
        return run_book(args.profile, only=args.only, data_root=args.root, build=not args.no_build,
                        timeout=args.timeout, seeds=seeds, jobs=args.jobs)
    except DeadlineReached as e:
        print(f"[book] {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:   # the status file already says what was done; no traceback
        print("[book] stopped; run the same command again to resume from the cache",
              file=sys.stderr)
        return 130


def _cmd_costs(args):
    from .book import costs_table, write_readme_costs
    if args.readme:
        print(f"wrote the cost table into {write_readme_costs()}")
    else:
        print(costs_table())
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cgan_lib",
                                 description="ConfounderGAN reproduction: data, training, "
                                             "protection and the book.")
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("profiles", help="list the profiles (ci, quick, paper) and their sizes")
    s.set_defaults(fn=_cmd_profiles)

    s = sub.add_parser("data", help="load a dataset and print what was found")
    s.add_argument("dataset", help="fashion-mnist, cifar10, svhn, bloodmnist or folder:PATH")
    s.add_argument("--root", help="data root (default: $CGAN_DATA)")
    s.set_defaults(fn=_cmd_data)

    s = sub.add_parser("train", help="train classifier f and generator G (resumable)")
    s.add_argument("--profile", help="ci, quick or paper (default: $CGAN_PROFILE or ci)")
    s.add_argument("--dataset", help="default: the profile's")
    s.add_argument("--root", help="data root (default: $CGAN_DATA)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", help="also export the generator to this .pt file")
    s.set_defaults(fn=_cmd_train)

    s = sub.add_parser("protect", help="protect a folder of images with a trained generator")
    s.add_argument("--generator", help="generator checkpoint (.pt); default: the shipped one "
                                       "(cgan_lib/weights, trained on CIFAR-10: see its model card)")
    s.add_argument("input", help="folder of images (searched recursively)")
    s.add_argument("output", help="folder for the protected PNGs (must differ from input)")
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_cmd_protect)

    s = sub.add_parser("ship", help="train, measure and export the shipped generator with its "
                                    "model card (cgan_lib/weights)")
    s.add_argument("--profile", help="default: quick")
    s.add_argument("--seed", type=int, default=0, help="the generator's seed")
    s.add_argument("--victim-seeds", type=int, nargs="+", default=[0, 1])
    s.add_argument("--root", help="data root (default: $CGAN_DATA)")
    s.add_argument("--out", help="folder (default: cgan_lib/weights)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument("--card-only", action="store_true",
                   help="only render the model card again from the measurements file")
    s.set_defaults(fn=_cmd_ship)

    s = sub.add_parser("book", help="execute the notebooks with papermill and build the HTML book")
    s.add_argument("--profile", help="ci, quick or paper (default: $CGAN_PROFILE or ci)")
    s.add_argument("--only", action="append", help="run only notebooks whose number or name "
                                                   "starts with this (repeatable)")
    s.add_argument("--root", help="data root passed to the notebooks")
    s.add_argument("--no-build", action="store_true", help="execute only, do not build HTML")
    s.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    s.add_argument("--seeds", help="comma-separated seeds for every notebook run (default: each "
                                   "chapter's seeds in the profile); recorded with the results")
    s.add_argument("--jobs", type=int, default=1,
                   help="on a CPU: first fill the cache with one process per seed, JOBS at a "
                        "time, each with threads/JOBS torch threads (2 on a 2-core CPU: 1.09-1.22x "
                        "the victims per hour, benchmarks/seed_jobs.py); then run the notebook "
                        "as usual")
    s.add_argument("--stop-at", help="HH:MM or 'YYYY-MM-DD HH:MM' (local time): start no new "
                                     "artifact, GAN epoch or EMN round after it; the run stops "
                                     "as interrupted with everything finished cached (exit 3), "
                                     "and the same command resumes it")
    s.set_defaults(fn=_cmd_book)

    s = sub.add_parser("costs", help="print what each chapter cost per profile (from "
                                     "results/<profile>/_status.json)")
    s.add_argument("--readme", action="store_true", help="write the table into README.md's "
                                                         "cost block instead of printing it")
    s.set_defaults(fn=_cmd_costs)

    args = ap.parse_args(argv)
    try:
        rc = args.fn(args)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
