"""Benchmark: wall time and peak memory of one run, repeated, in fresh processes.

    python benchmarks/bench_run.py                       # default run (20,000 buyers, 730 days)
    python benchmarks/bench_run.py --repeat 3 model.n_buyers=100000
    python benchmarks/bench_run.py --baseline REV        # the same, side by side with git revision REV
    python benchmarks/bench_run.py --revision A --baseline B   # two revisions side by side

Each repetition runs ``sim.runner.simulate_pair`` (the run and, for a scenario with
interventions and ``run.counterfactual=true``, its counterfactual; ``simulate`` in revisions
before it existed) in a new interpreter (imports included in neither figure), so numbers compare
like with like; the median is reported. The cost of the counterfactual:
``python benchmarks/bench_run.py scenario=takedown`` against the same with ``run.counterfactual=false``. With ``--baseline`` the same
measurement runs on a temporary worktree of REV, so a speed claim comes with its baseline.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The child runs with -S (no site processing), so that an editable install of another checkout
# cannot shadow the code under test; site-packages are added without their .pth hooks.
CHILD = """
import json, resource, site, sys, time
sys.path.insert(0, {root!r})
sys.path.extend(site.getsitepackages())
import sim
assert sim.__path__[0].startswith({root!r}), f"imported sim from {{list(sim.__path__)}}, not {root!r}"
import sim.runner as runner
cfg = runner.compose({overrides!r})
# a scenario with interventions also runs its counterfactual where the code has one (simulate_pair)
run = getattr(runner, "simulate_pair", runner.simulate)
t = time.perf_counter()
run(cfg)
wall = time.perf_counter() - t
print(json.dumps({{"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(root: Path, overrides: list[str], repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        code = CHILD.format(root=str(root), overrides=["run.progress=false", "run.figures=false", *overrides])
        out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=root)
        if out.returncode != 0:
            # the run's own message (a refused override, say) is its last line of stderr
            lines = out.stderr.strip().splitlines()
            last = re.sub(r"^[\w.]+(Error|Exception): ", "", lines[-1]) if lines else f"exit {out.returncode}"
            raise BenchError(f"the run failed ({root}): {last}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "wall_s_median": statistics.median(r["wall_s"] for r in runs),
        "wall_s_runs": [round(r["wall_s"], 3) for r in runs],
        "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
    }


class BenchError(Exception):
    """A measurement could not be made (bad revision, refused settings): the message says why."""


def measure_revision(rev: str, overrides: list[str], repeat: int) -> dict:
    """Measure git revision ``rev`` in a temporary worktree (removed afterwards)."""
    with tempfile.TemporaryDirectory() as tmp:
        wt = Path(tmp) / "rev"
        made = subprocess.run(["git", "worktree", "add", "--detach", str(wt), rev], cwd=ROOT, capture_output=True, text=True)
        if made.returncode != 0:
            raise BenchError(
                f"--baseline/--revision {rev}: not a git revision of {ROOT} ({made.stderr.strip().splitlines()[-1]})"
            )
        try:
            return measure(wt, overrides, repeat)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT, check=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model.n_buyers=100000")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--baseline", help="git revision to measure side by side")
    p.add_argument("--revision", help="measure this git revision instead of the working tree")
    a = p.parse_args()
    if a.repeat < 1:
        p.error(f"--repeat {a.repeat}: use 1 or more")
    result = {"overrides": a.overrides}
    try:
        for label, rev in (("current", a.revision), ("baseline", a.baseline)):
            if label == "current" and rev is None:
                result["current"] = {"revision": "working tree", **measure(ROOT, a.overrides, a.repeat)}
            elif rev is not None:
                result[label] = {"revision": rev, **measure_revision(rev, a.overrides, a.repeat)}
    except BenchError as err:
        print(f"bench_run.py: error: {err}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
