"""Run the mutation check and print the table and the kill rate.

Usage::

    python -m tests.mutation.run                 # every mutation
    python -m tests.mutation.run --only ID ...   # some of them
    python -m tests.mutation.run --list          # the list, without running
    python -m tests.mutation.run --no-baseline   # skip the unmutated run of the same tests

The kill rate counts killed / (killed + survived + error); skipped mutations (snippet not in
the current source, e.g. a rewritten engine file) are listed but not counted.
"""

from __future__ import annotations

import argparse
import sys

from pathlib import Path

from tests.mutation.harness import REPO, run_baseline, run_mutation
from tests.mutation.mutations import MUTATIONS, by_id


def kill_rate(outcomes) -> tuple[int, int]:
    """(killed, counted) over outcomes that are not ``skipped``."""
    counted = [o for o in outcomes if o.status != "skipped"]
    return sum(o.status == "killed" for o in counted), len(counted)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.mutation.run", description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these mutation ids")
    p.add_argument("--list", action="store_true", help="print the mutations and exit")
    p.add_argument("--no-baseline", action="store_true", help="do not run the tests on the unmutated copy")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per mutation run (default 900)")
    p.add_argument("--root", type=Path, default=REPO,
                   help="package checkout to copy (default: this repository); e.g. a snapshot taken before a test change")
    p.add_argument("-v", "--verbose", action="store_true", help="print pytest's last lines for each run")
    args = p.parse_args(argv)
    try:
        muts = by_id(args.only) if args.only else MUTATIONS
    except ValueError as exc:
        p.error(str(exc))
    if args.list:
        for m in muts:
            print(f"{m.id:36s} {m.file:30s} {m.bug}")
        return 0
    if not args.no_baseline:
        base = run_baseline(tuple(t for m in muts for t in m.tests), root=args.root)
        print(f"baseline (unmutated copy): {'pass' if base.status == 'survived' else 'FAIL'} in {base.seconds:.0f} s",
              flush=True)
        if base.status != "survived":
            print(base.detail)
            return 2
    outcomes = []
    for m in muts:
        o = run_mutation(m, root=args.root, timeout=args.timeout)
        outcomes.append(o)
        print(f"{o.id:36s} {o.status:8s} {o.seconds:7.1f} s", flush=True)
        if o.status == "skipped" or (args.verbose and o.status != "killed") or o.status == "error":
            print("    " + o.detail.replace("\n", "\n    "), flush=True)
    killed, counted = kill_rate(outcomes)
    skipped = [o.id for o in outcomes if o.status == "skipped"]
    rate = killed / counted if counted else float("nan")
    print(f"kill rate: {killed}/{counted} = {rate:.0%}" + (f"; skipped {len(skipped)}: {skipped}" if skipped else ""))
    return 0 if killed == counted else 1


if __name__ == "__main__":
    sys.exit(main())
