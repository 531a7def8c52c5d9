"""Command-line interface ``ibl``.

::

    ibl list                               registered experiments and figures
    ibl show NAME                          an experiment's settings, constraints, figures, commands
    ibl run NAME [--quick] [--set k=v ...] [--jobs N] [--scheduler local|local:N|tcp://H:P] [--force]
    ibl figures [NAME ...] [--outdir DIR]  redraw figures from stored results, then the gallery DIR/README.md
    ibl status                             what is stored, what is missing
    ibl claims [--from-store|--from-measurements] [--outdir DIR] [--readme README.md]
                                           measure every claim, write paper/generated/claims/*
    ibl paper [--paper-dir paper]          the manuscript's generated numbers and its claims table
    ibl all [--quick] [--jobs N]           every experiment, every figure, the claims, the paper's numbers

Only git-ignored files are written by default (``results/``, ``paper/figures/``,
``paper/numbers/``, ``paper/generated/``). The committed claims tables ``paper/claims/*`` and
the README's claims block change only when asked for: ``ibl claims --store DIR --outdir
paper/claims --readme README.md`` (``make claims STORE=DIR``, the maintainer's command, on a
store of full-mode runs).

``--store DIR`` (or ``$IBL_STORE``) picks the result store, default ``./results``; it may be
given before or after the subcommand.

Every failure is one line on stderr naming the cause, with a non-zero exit status:
2 for bad arguments, 1 for a failure (store, scheduler, damaged files), 130 after
Ctrl-C and 143 after SIGTERM (finished runs are kept; the line says how to resume).
An unexpected internal error is also one line unless ``--debug`` (or
``IBL_DEBUG=1``) asks for the traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from sims.store import CorruptResult, ResultStore

DEBUG_ENV = "IBL_DEBUG"
#: Default folder of ``ibl claims`` (git-ignored; ``sims.claims.GENERATED_DIR``, spelled here to keep --help light).
GENERATED_CLAIMS = Path("paper") / "generated" / "claims"


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that ``finally`` blocks stop the workers."""


def _store(args) -> ResultStore:
    store = ResultStore(args.store) if args.store else ResultStore()
    _check_store_path(store.root)
    return store


def _check_store_path(root: Path) -> None:
    """Refuse a store path that is, or lies under, a regular file (one clear line, not a traceback)."""
    for p in (root, *root.parents):
        if p.exists():
            if not p.is_dir():
                where = "is" if p == root else f"lies under {p}, which is"
                raise NotADirectoryError(f"store {root} {where} a regular file, not a directory; pick another --store")
            return


def _parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"ibl: --set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def cmd_list(args) -> int:
    from figures import FIGURES
    from sims.experiment import list_experiments

    print("Experiments (ibl run NAME [--quick]):")
    for exp in list_experiments():
        print(f"  {exp.name:<22} {exp.description}")
    print("\nFigures (ibl figures [NAME]):")
    for name, fig in FIGURES.items():
        print(f"  {name:<22} {fig.description}  [from: {', '.join(fig.experiments)}]")
    return 0


def cmd_show(args) -> int:
    from sims.experiment import describe

    print(describe(args.name))
    return 0


def cmd_run(args) -> int:
    from sims.sweep import run_experiment

    report = run_experiment(
        args.name,
        quick=args.quick,
        overrides=_parse_sets(args.set),
        store=_store(args),
        jobs=args.jobs,
        scheduler=args.scheduler,
        force=args.force,
        progress=not args.no_progress,
    )
    print(
        f"{report.experiment}: {report.total} runs, {report.cached} already stored, "
        f"{report.computed} computed ({report.corrupt} corrupt replaced)"
        + (f", {report.collected} computed by another process" if report.collected else "")
        + f" in {report.wall_time_s:.1f} s [sweep {report.sweep_key}]"
    )
    return 0


def cmd_figures(args) -> int:
    from figures import FIGURES, make_figure, write_gallery
    from sims.paper import figure_state, stamp_figure_numbers

    names = args.names or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {', '.join(map(repr, unknown))}; known figures: {', '.join(FIGURES)}")
    checked: dict[str, bool] = {}
    problems: dict[str, str] = {}
    store = _store(args)
    for name in names:
        usable = [_check_figure_input(store, exp, checked) for exp in FIGURES[name].experiments]
        if not all(usable):
            problems[name] = "its stored results are damaged"
            print(f"{name}: skipped ({problems[name]}; see above)", file=sys.stderr)
            continue
        try:
            state = figure_state(name, store)  # before drawing: see sims.paper.stamp_figure_numbers
            paths = make_figure(name, store=store, outdir=Path(args.outdir))
        except LookupError as exc:
            problems[name] = _one_line(exc)
            print(f"{name}: {exc}", file=sys.stderr)
            continue
        except CorruptResult as exc:
            problems[name] = f"damaged result: {_one_line(exc)}"
            print(f"{name}: skipped: {exc}; recompute it with ibl run", file=sys.stderr)
            continue
        for p in paths:
            print(f"{name}: wrote {p}")
        numbers_dir = Path(args.outdir).parent / "numbers"
        if numbers_dir.is_dir():  # lets ibl paper reuse the numbers while they are current
            stamp_figure_numbers(state, numbers_dir)
    print(f"gallery: wrote {write_gallery(Path(args.outdir), store, problems)}")
    return 1 if problems else 0


def _check_figure_input(store: ResultStore, experiment: str, checked: dict[str, bool]) -> bool:
    """Warn (once per experiment, one line each) about stale or damaged runs a figure would read.

    Returns ``False`` when the latest complete sweep has damaged or missing runs.
    """
    if experiment in checked:
        return checked[experiment]
    from sims.experiment import get_experiment
    from sims.sweep import latest_sweep, sweep_health

    try:
        exp = get_experiment(experiment)
    except ValueError:
        checked[experiment] = True
        return True
    problems: list[str] = []
    manifest = latest_sweep(store, experiment, problems)
    for problem in problems:
        print(f"warning: {experiment}: damaged sweep manifest ignored: {problem}", file=sys.stderr)
    ok = True
    if manifest is not None:
        h = sweep_health(store, exp, manifest)
        recompute = h.command.removesuffix(" --force")
        for problem in h.damaged:
            print(f"{experiment}: damaged run: {problem}; recompute: {recompute}", file=sys.stderr)
        if h.missing:
            print(f"{experiment}: {len(h.missing)} runs of sweep {manifest['sweep_key']} are missing; "
                  f"recompute: {recompute}", file=sys.stderr)
        ok = h.usable
        if ok and h.stale:
            print(f"warning: {experiment}: {len(h.stale)} of {len(manifest['keys'])} runs were computed by code that "
                  f"has changed since ({', '.join(h.changed_files) or 'unknown files'}); refresh: {h.command}",
                  file=sys.stderr)
    checked[experiment] = ok
    return ok


def cmd_status(args) -> int:
    from sims.experiment import list_experiments
    from sims.sweep import latest_sweep, sweep_status

    store = _store(args)
    print(f"store: {store.root.resolve()}")
    for exp in list_experiments():
        parts = []
        for quick in (True, False):
            st = sweep_status(store, exp, quick)
            bad = f", {st['corrupt']} corrupt" if st["corrupt"] else ""
            parts.append(f"{'quick' if quick else 'full'} {st['ok']}/{st['total']}{bad}")
        latest = latest_sweep(store, exp.name)
        tail = f"; latest complete sweep {latest['sweep_key']} ({'quick' if latest['quick'] else 'custom/full'})" if latest else ""
        print(f"  {exp.name:<22} {'; '.join(parts)}{tail}")
    problems = _status_problems(store)
    if problems:
        print("needs attention:")
        for line in problems:
            print(f"  {line}")
    return 0


def _status_problems(store: ResultStore) -> list[str]:
    """One line per stored sweep with stale or damaged runs, and per damaged manifest."""
    from sims.experiment import list_experiments
    from sims.sweep import sweep_health

    lines = []
    for exp in list_experiments():
        bad_manifests: list[str] = []
        for manifest in store.iter_sweeps(exp.name, bad_manifests):
            if not manifest.get("complete"):
                continue
            h = sweep_health(store, exp, manifest)
            label = f"{exp.name} sweep {manifest['sweep_key']}"
            if h.stale:
                lines.append(
                    f"{label}: {len(h.stale)} of {len(manifest['keys'])} runs computed by code that has changed since "
                    f"({', '.join(h.changed_files) or 'unknown files'}); refresh: {h.command}"
                )
            if h.undigested:
                lines.append(f"{label}: {len(h.undigested)} runs stored without a code digest (older version); "
                             f"refresh: {h.command}")
            for problem in h.damaged:
                lines.append(f"{label}: damaged: {problem}; recompute: {h.command.removesuffix(' --force')}")
            if h.missing:
                lines.append(f"{label}: {len(h.missing)} runs missing; recompute: {h.command.removesuffix(' --force')}")
        for problem in bad_manifests:
            lines.append(f"{exp.name}: damaged sweep manifest: {problem}")
        for p in store.stray_temp_files(exp.name):
            lines.append(f"{exp.name}: stray temporary file {p} (left by a killed writer; ignored, removed by the next run)")
    return lines


def cmd_all(args) -> int:
    from sims.experiment import list_experiments
    from sims.sweep import run_experiment

    t0 = time.perf_counter()
    for exp in list_experiments():
        report = run_experiment(
            exp, quick=args.quick, store=_store(args), jobs=args.jobs, scheduler=args.scheduler,
            progress=not args.no_progress,
        )
        print(f"{report.experiment}: {report.computed} computed, {report.cached} cached ({report.wall_time_s:.1f} s)")
    args.names = []
    rc = cmd_figures(args)
    # claims and numbers go to PAPER_DIR/generated/ (git-ignored), never to the committed paper/claims/ or README:
    # the main command leaves a clone clean, and the manuscript's claims table comes from the same store as its numbers
    claims_dir = Path(args.paper_dir) / "generated" / "claims"
    claims_args = argparse.Namespace(store=args.store, outdir=str(claims_dir), from_measurements=False, readme=None)
    rc = cmd_claims(claims_args) or rc
    # the manuscript's numbers, from the same store and the measurements just written (not the PDF: make paper)
    if (Path(args.paper_dir) / "main.tex").is_file():
        paper_args = argparse.Namespace(store=args.store, paper_dir=args.paper_dir, outdir=str(claims_dir),
                                        from_measurements=True, readme=None)
        rc = cmd_paper(paper_args) or rc
    else:  # e.g. an installed package run outside the repository
        print(f"paper: skipped (no main.tex in {args.paper_dir}; give --paper-dir)")
    print(f"main job finished in {time.perf_counter() - t0:.1f} s")
    return rc


def _is_committed_claims_dir(outdir: Path) -> bool:
    """Whether ``outdir`` is the committed ``paper/claims`` (of the working directory or of this package's checkout)."""
    from sims.claims import COMMITTED_DIR

    here = outdir.resolve()
    return here in {(Path.cwd() / COMMITTED_DIR).resolve(), (Path(__file__).resolve().parents[1] / COMMITTED_DIR)}


def cmd_claims(args) -> int:
    """Measure every claim (``--from-store``, default) or re-render from measurements.json; write the tables."""
    from sims.claims import CLAIMS, committed_measurements, evaluate, load_measurements, measure_all, \
        render_markdown, update_readme, write_outputs

    outdir = Path(args.outdir)
    measurements = (load_measurements(outdir / "measurements.json") if args.from_measurements
                    else measure_all(CLAIMS, _store(args)))
    if _is_committed_claims_dir(outdir):  # the committed tables name no store path of the maintainer's machine
        measurements = committed_measurements(measurements)
    for p in write_outputs(CLAIMS, measurements, outdir):
        print(f"claims: wrote {p}")
    rows = evaluate(CLAIMS, measurements)
    if args.readme:
        update_readme(Path(args.readme), render_markdown(rows, measurements))
        print(f"claims: updated {args.readme}")
        if "store" in measurements:
            print(f"claims: note: the claims block of {args.readme} now shows the measurements of {outdir}, not the "
                  "committed paper/claims (tests/sims/test_claims.py checks that they agree)", file=sys.stderr)
    for r in rows:
        print(f"  {r.claim.id:<34} {r.status}")
    return 0


def cmd_paper(args) -> int:
    """Write the claims tables and ``PAPER_DIR/generated/*`` (the numbers the manuscript prints) from the store."""
    from sims.claims import load_measurements
    from sims.paper import generate, read_numbers, used_keys

    paper_dir = Path(args.paper_dir)
    if not (paper_dir / "main.tex").is_file():
        raise ValueError(f"--paper-dir {paper_dir}: no main.tex there; give the folder of the manuscript")
    store = _store(args)
    included = paper_dir / "generated" / "claims"  # the table main.tex includes (sections/claims.tex)
    outdir = Path(args.outdir) if args.outdir else included
    if outdir.resolve() != included.resolve():
        print(f"paper: note: the manuscript includes the claims table of {included}, not {outdir}")
    if args.from_measurements:
        measurements = load_measurements(outdir / "measurements.json")
        measured_from = measurements.get("store")
        if measured_from is None or Path(measured_from).resolve() != store.root.resolve():
            print(f"paper: warning: the claims in {outdir / 'measurements.json'} were measured from "
                  f"{measured_from or 'an unrecorded store (the committed measurements)'}, the numbers come from "
                  f"{store.root}; rerun without --from-measurements to measure both from one store", file=sys.stderr)
    else:
        claims_args = argparse.Namespace(store=args.store, outdir=str(outdir), from_measurements=False,
                                         readme=args.readme)
        cmd_claims(claims_args)
        measurements = load_measurements(outdir / "measurements.json")
    reused: list[str] = []
    figure_numbers = paper_dir / "numbers" if (paper_dir / "numbers").is_dir() else None  # what ibl figures wrote
    for p in generate(store, paper_dir, measurements, figure_numbers=figure_numbers, reused=reused):
        print(f"paper: wrote {p}")
    if reused:
        print(f"paper: reused the numbers of {len(reused)} figure(s) that `ibl figures` wrote for this store "
              f"({', '.join(reused)}); the others were drawn again")
    numbers = read_numbers(paper_dir / "generated")
    used = used_keys(paper_dir)
    unknown = [k for k in used if k not in numbers]
    missing = [k for k in used if k in numbers and numbers[k]["missing"]]
    print(f"paper: {len(numbers)} numbers from {store.root}; the manuscript uses {len(used)}, "
          f"{len(missing)} of them not computed from this store")
    for k in missing[:10]:
        print(f"  {k}: {numbers[k]['missing']}")
    if len(missing) > 10:
        print(f"  ... and {len(missing) - 10} more (see {paper_dir / 'generated' / 'numbers.json'})")
    if unknown:
        print(f"ibl paper: the manuscript uses numbers no spec produces: {', '.join(unknown)} "
              "(add them to sims/paper/_numbers.py)", file=sys.stderr)
        return 1
    print("paper: build the PDF with: make paper")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ibl", description="implicit-bias-lab: experiments, sweeps and figures")
    p.add_argument("--store", default=None, help="result store directory (default $IBL_STORE or ./results)")
    p.add_argument("--debug", action="store_true", help=f"show tracebacks of internal errors (or set {DEBUG_ENV}=1)")
    # --store is accepted after the subcommand too (SUPPRESS: absent there, the global value stays)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default=argparse.SUPPRESS, help="result store directory")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="registered experiments and figures", parents=[common]).set_defaults(func=cmd_list)

    sh = sub.add_parser("show", help="an experiment's settings (types, defaults, quick values, constraints)",
                        parents=[common])
    sh.add_argument("name")
    sh.set_defaults(func=cmd_show)

    def sweep_opts(sp):
        sp.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="local worker processes")
        sp.add_argument("--scheduler", default="local", help="local | local:N | tcp://HOST:PORT (dask)")
        sp.add_argument("--no-progress", action="store_true", help="hide progress bars")

    r = sub.add_parser("run", help="run (or resume) one experiment's sweep", parents=[common])
    r.add_argument("name")
    r.add_argument("--quick", action="store_true", help="quick (smoke-scale) settings")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    r.add_argument("--force", action="store_true", help="recompute stored runs")
    sweep_opts(r)
    r.set_defaults(func=cmd_run)

    f = sub.add_parser(
        "figures", parents=[common], help="redraw figures from stored results, and the gallery",
        description="Redraw figures (PNG and PDF) from the latest complete sweep of each experiment they read, "
                    "write their fitted numbers to OUTDIR/../numbers/, and write the gallery OUTDIR/README.md "
                    "(every image with its caption and the commands that regenerate it). A figure whose results "
                    "are missing is skipped with the `ibl run` command to use (exit status 1).")
    f.add_argument("names", nargs="*", metavar="NAME", help="figures to draw (default: all; see `ibl list`)")
    f.add_argument("--outdir", default="paper/figures", help="folder of the images and the gallery "
                                                            "(default paper/figures)")
    f.set_defaults(func=cmd_figures)

    sub.add_parser("status", help="what is stored and what is missing", parents=[common]).set_defaults(
        func=cmd_status)

    c = sub.add_parser(
        "claims", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="measure every claim and write the claims tables",
        description="Measure every claim of the registry (sims.claims) from the store and write measurements.json,\n"
                    "claims.md, claims.tex and claims.json into OUTDIR (default paper/generated/claims, git-ignored).\n"
                    "Tables written anywhere but the committed paper/claims name the store in their caption.",
        epilog="The committed tables and the README's claims block are the maintainer's, from full-mode runs:\n"
               "  ibl claims --store DIR --outdir paper/claims --readme README.md   # = make claims STORE=DIR\n"
               "  ibl claims --from-measurements --outdir paper/claims --readme README.md  # re-render only")
    src = c.add_mutually_exclusive_group()
    src.add_argument("--from-store", dest="from_measurements", action="store_false",
                     help="re-measure from the store (default)")
    src.add_argument("--from-measurements", dest="from_measurements", action="store_true",
                     help="re-render from OUTDIR/measurements.json (no store)")
    c.add_argument("--outdir", dest="outdir", default=str(GENERATED_CLAIMS),
                   help=f"folder of the tables (default {GENERATED_CLAIMS}; the committed ones: paper/claims)")
    c.add_argument("--readme", default=None, help="also replace the claims block of this README")
    c.set_defaults(func=cmd_claims, from_measurements=False)

    pp = sub.add_parser(
        "paper", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="write the manuscript's generated numbers and claims table (paper/generated/) from the store",
        description="Measure every claim into PAPER_DIR/generated/claims/ (the table the manuscript includes) and\n"
                    "write PAPER_DIR/generated/numbers.tex, provenance.tex and numbers.json: every number the\n"
                    "manuscript prints as \\IBL{key}, read from the store (typed runs, the figures' fitted numbers,\n"
                    "the claims' measurements), each with its experiment, sweep, runs, code digest and quick/full\n"
                    "mode; claims and numbers come from the one store. Numbers of experiments missing from the store\n"
                    "print as n/a and are listed with the command that computes them. A figure's fitted numbers are\n"
                    "read from PAPER_DIR/numbers/<figure>.json when `ibl figures` wrote them for the same store,\n"
                    "sweeps and code (its stamp says so); otherwise the figure is drawn again to compute them.\n"
                    "Only PAPER_DIR/generated/ (git-ignored) is written, unless --outdir or --readme say otherwise.",
        epilog="The PDF is not built here: `make paper` runs latexmk (needs TeX Live, see the README).\n"
               "Examples:\n  ibl paper                          # from ./results (what `make main` wrote)\n"
               "  ibl paper --store /path/to/fullstore  # full-mode runs")
    pp.add_argument("--paper-dir", default="paper", help="folder of main.tex (default: paper)")
    pp.add_argument("--outdir", default=None,
                    help="where the claims tables go (default: PAPER_DIR/generated/claims, the one the manuscript "
                         "includes)")
    pp.add_argument("--from-measurements", action="store_true",
                    help="take the claims from OUTDIR/measurements.json instead of measuring them from the store "
                         "(warns when they were measured from another store)")
    pp.add_argument("--readme", default=None, help="also replace the claims block of this README")
    pp.set_defaults(func=cmd_paper)

    a = sub.add_parser(
        "all", parents=[common], help="run every experiment, draw every figure, then the claims and the paper's numbers",
        description="Run every experiment into the store, draw every figure (OUTDIR), then measure the claims into "
                    "PAPER_DIR/generated/claims/ and write the manuscript's numbers into PAPER_DIR/generated/, all "
                    "from that one store. Only git-ignored files are written: the committed claims tables "
                    "(paper/claims/) and the README's claims block are left alone (maintainer: make claims STORE=DIR).")
    a.add_argument("--quick", action="store_true", help="quick (smoke-scale) settings")
    a.add_argument("--outdir", default="paper/figures", help="folder of the figures (default paper/figures)")
    a.add_argument("--paper-dir", default="paper",
                   help="folder of main.tex; its generated/ receives the claims and the numbers (default paper)")
    sweep_opts(a)
    a.set_defaults(func=cmd_all)
    return p


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        return _dispatch(args, debug)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args, debug: bool) -> int:
    from sims.sweep import StoreWriteError, SweepInterrupted

    def fail(message: str, code: int) -> int:
        print(f"ibl: {_one_line(message)}", file=sys.stderr)
        return code

    try:
        return args.func(args)
    except SweepInterrupted as exc:
        code = 143 if isinstance(exc.__context__, _Terminated) else 130
        return fail(f"{'terminated' if code == 143 else 'interrupted'} ({exc})", code)
    except KeyboardInterrupt as exc:
        return fail("terminated" if isinstance(exc, _Terminated) else "interrupted", 143 if isinstance(exc, _Terminated) else 130)
    except (ValueError, TypeError) as exc:
        if debug and not isinstance(exc, ValueError):
            raise
        return fail(f"error: {exc}", 2)
    except StoreWriteError as exc:
        return fail(f"error: {exc.strerror or exc}", 1)
    except (CorruptResult, LookupError, ConnectionError, ImportError) as exc:
        return fail(f"error: {exc}", 1)
    except OSError as exc:
        what = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        return fail(f"error: {what}", 1)
    except Exception as exc:
        if debug:
            raise
        return fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug or {DEBUG_ENV}=1 "
                    "for the traceback)", 1)


if __name__ == "__main__":
    sys.exit(main())
