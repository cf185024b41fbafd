"""Scale benchmark: wall time, memory and answers of one run, from 20,000 to 10,000,000 buyers.

    python benchmarks/scale.py                        # the full benchmark (about 40 minutes on 2 cores)
    python benchmarks/scale.py --sizes 20000 200000   # chosen sizes
    python benchmarks/scale.py --smoke                # seconds: tiny sizes, for the tests
    python benchmarks/scale.py --sizes 20000 200000 2000000 --large-seeds 3 --no-floor
                                                      # size invariance with 3 seeds at every size

Each run is the takedown scenario (``scenario=takedown``, the largest cryptomarket seized on day
365) over ``--days`` days after the 60-day burn-in, one simulation in a fresh interpreter
(``run.counterfactual=false``: with its counterfactual a run costs twice as much). Right after
each, in another fresh interpreter, the floor model (``benchmarks/floor.py``: a bare Mesa model
with the same buyers, vendors and markets whose purchase events only draw one random number) runs
the same days with the same size and seed: each ratio to the floor compares a pair timed under the
same conditions.

Written to ``--out`` (a new folder):

- ``scale.csv``: one row per size and seed: buyers, buyer rows (users and people at risk),
  vendors and markets, days, wall seconds, purchase occasions, purchases, purchases per second,
  microseconds per purchase and its ratio to the smallest size, peak resident memory, the floor's
  wall seconds and events, the ratio of wall time to the floor's (``ratio_to_floor``) and of time
  per occasion to time per floor event (``ratio_to_floor_per_event``), and the outputs per 1,000
  buyers below.
- ``invariance.csv``: each output's mean per size, and whether it agrees with the largest size
  within seed noise.
- ``scale.png`` / ``scale.pdf``: wall time against buyers, log-log, with the linear reference.
- ``scale.json``: the settings, the git revision, versions and the machine.

Outputs per 1,000 buyers (``out_*``), so that sizes compare: purchases and online and hidden-market
(cryptomarket and decentralised) purchases per day before the takedown (days 0-364, the baseline:
common random numbers make it the baseline run's), users active in the last 30 days on day 364,
hidden-market purchases per day in the 90 days after the takedown, and the drop of hidden-market
purchases in the 30 days after it against the 30 days before (a share, not per 1,000).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
FULL_SIZES = (20_000, 200_000, 1_000_000, 2_000_000, 10_000_000)
SMOKE_SIZES = (1_000, 3_000)
TAKEDOWN_DAY = 365
OUTPUTS = {
    "out_purchases_per_day": "purchases per day per 1,000 buyers, days 0-364",
    "out_online_per_day": "online purchases per day per 1,000 buyers, days 0-364",
    "out_hidden_per_day": "hidden-market purchases per day per 1,000 buyers, days 0-364",
    "out_active_30d": "users active in the last 30 days per 1,000 buyers, day 364",
    "out_hidden_after": "hidden-market purchases per day per 1,000 buyers, days 365-454",
    "out_hidden_drop": "drop of hidden-market purchases, days 365-394 against 335-364 (share)",
}


# ------------------------------------------------------------------------------------------ children
def child_model(buyers: int, days: int, seed: int) -> dict:
    """One run of the model (in this interpreter); its size, cost and outputs."""
    sys.path.insert(0, str(ROOT))
    import sim.runner as runner

    cfg = runner.compose(
        [
            "scenario=takedown",
            f"model.n_buyers={buyers}",
            f"run.days={days}",
            f"seed={seed}",
            "run.progress=false",
            "run.figures=false",
            "run.counterfactual=false",
        ]
    )
    start = time.perf_counter()
    model, tables = runner.simulate(cfg)
    wall = time.perf_counter() - start
    daily = tables["daily"].set_index("day")
    channels = ["sales_offline", "sales_webshop", "sales_cryptomarket", "sales_decentralised"]
    hidden = daily["sales_cryptomarket"] + daily["sales_decentralised"]
    online = daily["sales_webshop"] + hidden
    per_1000 = 1000.0 / buyers
    before = daily.index < min(TAKEDOWN_DAY, days)
    after = (daily.index >= TAKEDOWN_DAY) & (daily.index < TAKEDOWN_DAY + 90)
    drop_after = (daily.index >= TAKEDOWN_DAY) & (daily.index < TAKEDOWN_DAY + 30)
    drop_before = (daily.index >= TAKEDOWN_DAY - 30) & (daily.index < TAKEDOWN_DAY)
    last_before = daily.index[before].max() if before.any() else None
    pre = float(hidden[drop_before].mean()) if drop_before.any() else float("nan")
    return {
        "buyers": buyers,
        "seed": seed,
        "buyer_rows": int(model.buyers.n),
        "vendors": len(model.vendor_agents),
        "markets": len(model.markets),
        "days": days,
        "burn_in_days": int(model.burn_in),
        "wall_s": wall,
        "occasions": int(model.buyers.occasions),
        "purchases": int(daily[channels].to_numpy().sum()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "out_purchases_per_day": float(daily.loc[before, channels].sum(axis=1).mean() * per_1000),
        "out_online_per_day": float(online[before].mean() * per_1000),
        "out_hidden_per_day": float(hidden[before].mean() * per_1000),
        "out_active_30d": float(daily.loc[last_before, "users_active_30d"] * per_1000)
        if last_before is not None
        else float("nan"),
        "out_hidden_after": float(hidden[after].mean() * per_1000) if after.any() else float("nan"),
        "out_hidden_drop": float(1.0 - hidden[drop_after].mean() / pre) if drop_after.any() and pre > 0 else float("nan"),
    }


def child_floor(buyers: int, days: int, burn_in: int, vendors: int, markets: int, seed: int) -> dict:
    """The floor model of the same size (in this interpreter)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    from floor import FloorModel, mean_gaps

    start = time.perf_counter()
    model = FloorModel(mean_gaps(buyers, seed), vendors, markets, seed)
    for _ in range(burn_in + days):
        model.step()
    return {
        "floor_wall_s": time.perf_counter() - start,
        "floor_events": int(model.events),
        "floor_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class ChildFailed(Exception):
    """A measured run ended with an error (its message holds the end of the run's stderr)."""


def in_child(kind: str, **kwargs) -> dict:
    """Run ``child_<kind>`` in a fresh interpreter (its own peak memory; imports not timed)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), f"--child-{kind}", json.dumps(kwargs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        # the end of the traceback, whole lines (the error is on the last)
        tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
        raise ChildFailed(f"{kind} run {kwargs} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: resident memory of one run, measured (benchmarks/scale.py at 1,000,000 buyers: 1.1 GB): a base
#: plus this much per buyer, with a margin; used to refuse sizes this machine cannot hold
MEMORY_BASE_GB = 0.3
MEMORY_PER_BUYER_KB = 1.2


def memory_total_gb() -> float | None:
    """Physical memory of this machine (Linux), GB; None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        return None
    return None


# ------------------------------------------------------------------------------------------ analysis
def summarise(rows: list[dict]):
    """The table with derived columns, and the invariance table."""
    import numpy as np
    import pandas as pd

    table = pd.DataFrame(rows)
    for col in ("floor_wall_s", "floor_events", "floor_peak_rss_mb"):
        if col not in table.columns:
            table[col] = np.nan
    table["purchases_per_s"] = table["purchases"] / table["wall_s"]
    table["us_per_purchase"] = 1e6 * table["wall_s"] / table["purchases"]
    smallest = table.loc[table["buyers"] == table["buyers"].min(), "us_per_purchase"].median()
    table["cost_ratio_to_smallest"] = table["us_per_purchase"] / smallest
    table["ratio_to_floor"] = table["wall_s"] / table["floor_wall_s"]
    table["ratio_to_floor_per_event"] = (table["wall_s"] / table["occasions"]) / (table["floor_wall_s"] / table["floor_events"])
    inv = []
    sizes = sorted(table["buyers"].unique())
    reference = sizes[-1]
    for out, what in OUTPUTS.items():
        stats = {}
        for n in sizes:
            v = table.loc[table["buyers"] == n, out].dropna().to_numpy()
            stats[n] = (v.mean() if len(v) else np.nan, v.std(ddof=1) if len(v) > 1 else np.nan, len(v))
        for n in sizes:
            mean, sd, k = stats[n]
            ref_mean, ref_sd, ref_k = stats[reference]
            # a size run with one seed borrows the spread of the nearest smaller size run with
            # several (seed noise shrinks as the population grows, so this is on the wide side)
            noisy = [stats[m][1] for m in sizes if m <= n and not np.isnan(stats[m][1])]
            sd_n = sd if not np.isnan(sd) else (noisy[-1] if noisy else np.nan)
            noisy_ref = [stats[m][1] for m in sizes if not np.isnan(stats[m][1])]
            sd_ref = ref_sd if not np.isnan(ref_sd) else (noisy_ref[-1] if noisy_ref else np.nan)
            se = float(np.sqrt(sd_n**2 / k + sd_ref**2 / ref_k)) if k and ref_k else np.nan
            diff = mean - ref_mean
            inv.append(
                {
                    "output": out,
                    "what": what,
                    "buyers": n,
                    "seeds": k,
                    "mean": mean,
                    "sd": sd,
                    "reference_buyers": reference,
                    "difference": diff,
                    "difference_95_halfwidth": 1.96 * se,
                    # empty where it cannot be judged: no value, or no seed spread to judge by
                    "agrees": True
                    if n == reference and k
                    else (None if np.isnan(diff) or np.isnan(se) else bool(abs(diff) <= 1.96 * se)),
                }
            )
    return table, pd.DataFrame(inv)


def figure(table, path: Path) -> None:
    """Wall time against buyers, log-log, model and floor, with the linear reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = (
        table.groupby("buyers")
        .agg(wall=("wall_s", "median"), floor=("floor_wall_s", "median"), n=("wall_s", "size"), n_floor=("floor_wall_s", "count"))
        .reset_index()
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.loglog(g["buyers"], g["wall"], "o-", label="cryptomarket-abm (takedown scenario, one run)")
    # hollow squares: where the two meet (10,000,000 buyers) the model's dot shows through
    ax.loglog(g["buyers"], g["floor"], "s--", markerfacecolor="none", label="floor: bare Mesa model, same agents and events")
    x0, y0 = g["buyers"].iloc[0], g["wall"].iloc[0]
    ax.loglog(g["buyers"], y0 * g["buyers"] / x0, ":", color="grey", label="linear in buyers (through the smallest size)")
    for _, r in g.iterrows():  # the model's n left of its markers, the floor's right of its own, each in its colour
        ax.annotate(
            f"n={int(r['n'])}", (r["buyers"], r["wall"]), textcoords="offset points", xytext=(-7, 0), ha="right", va="center",
            fontsize=7, color="C0",
        )  # fmt: skip
        if r["n_floor"]:
            ax.annotate(
                f"n={int(r['n_floor'])}", (r["buyers"], r["floor"]), textcoords="offset points", xytext=(7, 0), ha="left", va="center",
                fontsize=7, color="C1",
            )  # fmt: skip
    days = int(table["days"].iloc[0])
    ax.set_xlabel("buyers (past-year users; people at risk come on top)")
    ax.set_ylabel("wall time, s (one process)")
    ax.set_title(f"Wall time of one run, {days} days after burn-in\n(median over seeds; n = seeds)", fontsize=10)
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xticks(list(g["buyers"]))  # the sizes measured, written out
    ax.set_xlim(g["buyers"].min() / 2.2, g["buyers"].max() * 2.2)  # room for the n= labels
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e6:g}M" if v >= 1e6 else f"{v / 1e3:g}k"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=150)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)


def git_revision() -> str:
    """The checkout's commit, with ``+dirty`` when it has uncommitted changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ------------------------------------------------------------------------------------------ main
def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (errors name the option and what is allowed)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", help=f"buyers per run (default {' '.join(map(str, FULL_SIZES))})")
    p.add_argument(
        "--days", type=int, help="days after burn-in (default 730; at least 366, so that the takedown on day 365 happens)"
    )
    p.add_argument(
        "--seeds", type=int, help="seeds at the sizes compared for invariance up to 200,000 buyers (default 3; --smoke: 2)"
    )
    p.add_argument(
        "--large-seeds",
        type=int,
        help="seeds at the sizes above 200,000 buyers (default 1; each 2,000,000-buyer seed costs about 4 minutes with its floor run; "
        "--smoke runs --seeds seeds at every size)",
    )
    p.add_argument("--no-floor", action="store_true", help="skip the floor model")
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"seconds, not the full benchmark's 40 minutes: sizes {SMOKE_SIZES}, 400 days, 2 seeds",
    )
    p.add_argument("--out", type=Path, help="a new folder for the results (default outputs/benchmarks/scale-<time>)")
    p.add_argument("--child-model", help=argparse.SUPPRESS)
    p.add_argument("--child-floor", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child_model or a.child_floor:
        return a
    # None: not given (0 is given, and refused below)
    if a.smoke:
        a.sizes = a.sizes if a.sizes is not None else list(SMOKE_SIZES)
        a.days = a.days if a.days is not None else 400
        a.seeds = a.seeds if a.seeds is not None else 2
    a.sizes = sorted(set(a.sizes if a.sizes is not None else FULL_SIZES))
    a.days = a.days if a.days is not None else 730
    a.seeds = a.seeds if a.seeds is not None else 3
    a.large_seeds = a.large_seeds if a.large_seeds is not None else 1
    if min(a.sizes) < 100:
        p.error(f"--sizes: {min(a.sizes)} buyers is too few to measure; use 100 or more")
    if a.days <= TAKEDOWN_DAY:
        p.error(f"--days {a.days}: the takedown falls on day {TAKEDOWN_DAY}; use at least {TAKEDOWN_DAY + 1}")
    if a.seeds < 1:
        p.error(f"--seeds {a.seeds}: use 1 or more")
    if a.large_seeds < 1:
        p.error(f"--large-seeds {a.large_seeds}: use 1 or more")
    if a.out is None:
        a.out = ROOT / "outputs" / "benchmarks" / f"scale-{time.strftime('%Y%m%d-%H%M%S')}"
    if a.out.exists() and not a.out.is_dir():
        p.error(f"--out {a.out}: is a file; give a new folder")
    if a.out.exists() and any(a.out.iterdir()):
        p.error(f"--out {a.out}: the folder exists and is not empty; give a new folder")
    in_file = next((q for q in a.out.parents if q.exists() and not q.is_dir()), None)
    if in_file is not None:
        p.error(f"--out {a.out}: {in_file} is a file, not a folder; give a new folder")
    total = memory_total_gb()
    need = MEMORY_BASE_GB + MEMORY_PER_BUYER_KB * max(a.sizes) / 1e6
    if total is not None and need > total:
        p.error(
            f"--sizes {max(a.sizes)}: needs about {need:.1f} GB of memory, this machine has {total:.1f} GB; use smaller sizes"
        )
    return a


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every run finished."""
    a = parse(argv)
    if a.child_model:
        print(json.dumps(child_model(**json.loads(a.child_model))))
        return 0
    if a.child_floor:
        print(json.dumps(child_floor(**json.loads(a.child_floor))))
        return 0
    from tqdm import tqdm

    compared = [n for n in a.sizes if n <= 200_000] if not a.smoke else a.sizes
    plan = [(n, s) for n in a.sizes for s in range(a.seeds if n in compared else a.large_seeds)]
    a.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    failures: list[str] = []
    state = "finished"
    meta = run_record(a, argv)
    bar = tqdm(plan, desc="scale benchmark", unit="run")
    # a job scheduler or `timeout` stops with SIGTERM: record the state as for Ctrl-C
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for n, seed in bar:
            bar.set_postfix_str(f"{n:,} buyers, seed {seed}")
            try:
                row = in_child("model", buyers=n, days=a.days, seed=seed)
                if not a.no_floor:  # right after the model run of the same seed: a pair, timed under the same conditions
                    floor = in_child(
                        "floor",
                        buyers=n,
                        days=a.days,
                        burn_in=row["burn_in_days"],
                        vendors=row["vendors"],
                        markets=row["markets"],
                        seed=seed,
                    )
                    row.update(floor)
            except ChildFailed as err:  # recorded; the other sizes go on
                failures.append(str(err))
                tqdm.write(f"FAILED: {err}")
                continue
            rows.append(row)
            tqdm.write(
                f"{n:>10,} buyers  seed {seed}  wall {row['wall_s']:8.1f} s  peak {row['peak_rss_mb']:8.0f} MB"
                + (f"  floor {row['floor_wall_s']:7.1f} s" if "floor_wall_s" in row else "")
            )
            write_tables(rows, a.out, figures=False)  # what is measured is kept, whatever happens next
    except KeyboardInterrupt:
        state = "interrupted"
    meta.update(state=state, failures=failures, runs_measured=len(rows), runs_planned=len(plan))
    (a.out / "scale.json").write_text(json.dumps(meta, indent=2) + "\n")
    if rows:
        table = write_tables(rows, a.out, figures=True)
        cols = [
            "buyers", "seed", "vendors", "markets", "wall_s", "purchases_per_s", "us_per_purchase",
            "cost_ratio_to_smallest", "peak_rss_mb", "ratio_to_floor", "ratio_to_floor_per_event",
        ]  # fmt: skip
        print(table[cols].to_string(index=False, float_format=lambda x: f"{x:,.2f}"))
    print(f"\n{len(rows)} of {len(plan)} runs measured ({state}; {len(failures)} failed); written to {a.out}", file=sys.stderr)
    if state == "interrupted":
        return 130
    return 1 if failures else 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends the benchmark as Ctrl-C does: what was measured is written, the state is 'interrupted'."""
    raise KeyboardInterrupt


def write_tables(rows: list[dict], out: Path, figures: bool):
    """Write scale.csv and invariance.csv (and the figure) from the runs measured so far."""
    table, inv = summarise(rows)
    table.to_csv(out / "scale.csv", index=False)
    inv.to_csv(out / "invariance.csv", index=False)
    if figures:
        figure(table, out / "scale")
    return table


def run_record(a: argparse.Namespace, argv: list[str] | None) -> dict:
    """The settings, revision, versions and machine of this invocation (scale.json)."""
    import os
    from importlib.metadata import version

    return {
        "command": " ".join(["python", "benchmarks/scale.py", *(argv if argv is not None else sys.argv[1:])]),
        "sizes": a.sizes,
        "days": a.days,
        "seeds": a.seeds,
        "large_seeds": a.large_seeds,
        "floor": not a.no_floor,
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "versions": {pkg: version(pkg) for pkg in ("mesa", "numpy", "pandas")},
        "machine": {"cpus": os.cpu_count(), "memory_gb": memory_total_gb(), "platform": platform.platform()},
    }


if __name__ == "__main__":
    sys.exit(main())
