"""A run and its counterfactual stepped side by side, with interventions applied while it runs.

The browser explorer (:mod:`sim.app`, README "Interactive explorer") drives an
:class:`ExplorerModel`; this module has no web code, so tests and notebooks use it directly.

Both runs are the same configuration and seed (common random numbers), the counterfactual without
any intervention, so they are identical until the first intervention's dawn and the difference
between them is the intervention's effect. An intervention applied "now" on day ``d`` is
scheduled for the dawn of day ``d + 1``, exactly as a scenario entry with ``start_day: d + 1``:
:meth:`ExplorerModel.scenario_config` writes the run as such a configuration, and ``run.py`` with
it reproduces the downloaded tables.
"""

from __future__ import annotations

import functools
import io
import json
import shlex
import threading
import zipfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from sim.config import Config, InterventionConfig
from sim.errors import ConfigError, InterventionTargetError
from sim.interventions import REGISTRY, check_params
from sim.interventions.base import KINDS, Intervention
from sim.interventions.cohort import COHORT_RING_DAYS, PlannedProbe
from sim.model import CryptoMarketModel
from sim.output import COUNTERFACTUAL_DIR
from sim.runner import CONFIG_DIR, compose, counterfactual_config, manifest

#: substance tables the explorer offers (configs/substances/*.yaml)
SUBSTANCE_TABLES = tuple(sorted(p.stem for p in (CONFIG_DIR / "substances").glob("*.yaml")))
#: scenarios the explorer offers (configs/scenario/*.yaml)
SCENARIOS = tuple(sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml")))


@dataclass(frozen=True)
class Lever:
    """One intervention the explorer can apply now: its config name, button label and main parameter.

    ``param`` is the parameter the page offers (None: none), with its range for the slider;
    ``fixed`` are parameters the button always sets (e.g. the substances of an NPS ban);
    ``target`` is the fixed target, or None when the user chooses the market.
    """

    name: str
    label: str
    param: str | None = None
    lo: float = 0.0
    hi: float = 1.0
    fixed: tuple[tuple[str, Any], ...] = ()
    target: str | None = None
    chooses_market: bool = False
    #: slider step (the default value lies on it)
    step: float = 0.01


#: the explorer's buttons, in page order (README "Interactive explorer")
LEVERS: tuple[Lever, ...] = (
    Lever("takedown", "Take down", "backend_seizure_prob", chooses_market=True),
    Lever("exit_scam", "Exit scam", None, chooses_market=True),
    Lever("site_blocking", "Block web shops", "block_share", target="all:webshop"),
    Lever("substance_ban", "Ban NPS", "domestic_compliance", fixed=(("substances", ["nps"]),)),
    Lever("parcel_interdiction", "Start parcel interdiction", "inspection_rate"),
    Lever("payment", "Start payment intervention", "friction", hi=3.0, step=0.05),
    Lever("prevention_campaign", "Launch prevention campaign", "reach_online"),
)
LEVERS_BY_NAME = {lever.name: lever for lever in LEVERS}
#: interventions that close the market they target
CLOSING = frozenset({"takedown", "exit_scam"})


def _locked(method):
    """Run ``method`` holding the model's lock (one thread at a time acts on the runs)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


def default_value(lever: Lever) -> float | None:
    """The documented default of a lever's main parameter (the intervention's ``Params``)."""
    if lever.param is None:
        return None
    return float(getattr(REGISTRY[lever.name].Params(), lever.param))


class ExplorerModel(mesa.Model):
    """A treated run and its counterfactual (same config and seed), stepped one recorded day at a time.

    Keyword arguments are the page's controls (they become Hydra overrides of ``configs/``):

    Args:
        n_buyers: buyers in the population (``model.n_buyers``).
        tech_skill_share: share able to use Tor and cryptocurrency at the start (``model.buyers.tech_skill_share``).
        decentralised_markets: decentralised markets at the start (``model.markets.initial_decentralised``).
        substances: substance table, a file of ``configs/substances/``.
        scenario_name: scenario, a file of ``configs/scenario/`` (its interventions run in the treated
            run only). Not ``scenario``: Mesa's models have a ``scenario`` attribute of their own,
            which SolaraViz's Reset would pass in its place.
        seed: the seed of both runs.
        days: recorded days after burn-in (``run.days``).
        counterfactual: whether to run the counterfactual alongside.
        overrides: further Hydra overrides (``key=value``), as on ``run.py``'s command line.
        bad_settings: ``raise`` a ConfigError for settings the configuration refuses, or ``show``
            it: :attr:`error` holds the message and nothing runs (the page, whose Reset cannot
            catch errors, uses ``show``).

    Raises:
        ConfigError: a control outside what the configuration allows (before anything runs).
    """

    def __init__(
        self,
        n_buyers: int = 20_000,
        tech_skill_share: float = 0.0118,
        decentralised_markets: int = 1,
        substances: str = "default",
        scenario_name: str = "baseline",
        seed: int = 0,
        days: int = 730,
        counterfactual: bool = True,
        overrides: tuple[str, ...] | list[str] = (),
        bad_settings: str = "raise",
    ) -> None:
        super().__init__(rng=int(seed))
        self.overrides = [
            f"model.n_buyers={int(n_buyers)}",
            # sliders hand back values like 0.011800000000000001: six decimals are the share as set
            f"model.buyers.tech_skill_share={round(float(tech_skill_share), 6)}",
            f"model.markets.initial_decentralised={int(decentralised_markets)}",
            f"substances={substances}",
            f"scenario={scenario_name}",
            f"seed={int(seed)}",
            f"run.days={int(days)}",
            *overrides,
        ]
        self.substances = substances
        #: interventions applied from the page, as scenario entries (start day = the next day)
        self.applied: list[InterventionConfig] = []
        #: the last refusal or failure, for the page to show (None: all well)
        self.message: str | None = None
        #: the configuration's refusal of the settings (``bad_settings="show"``); nothing runs then
        self.error: str | None = None
        self.lock = threading.RLock()  # the page steps the runs in one thread while buttons and figures act from others
        try:
            self.cfg: Config = compose(self.overrides)
        except ConfigError as err:
            if bad_settings != "show":
                raise
            self.error = f"these settings are refused: {err}"
            self.running = False
            return
        self.treated = CryptoMarketModel(self.cfg)
        self.counterfactual = CryptoMarketModel(counterfactual_config(self.cfg)) if counterfactual else None
        for run in self.runs():
            # every day's purchases are kept for the cohort an intervention may start at any time
            # (a run configured with interventions keeps them too: this draws no random number)
            run.purchase_ring = deque(maxlen=COHORT_RING_DAYS)
        #: probes mirrored into the counterfactual run (intervention indices)
        self._mirrored: set[int] = set()
        self._frames: dict[str, Any] = {}
        for _ in range(self.cfg.run.burn_in_days):
            self._step_runs()
        self.running = self.cfg.run.days > 0

    # ------------------------------------------------------------------ stepping
    def runs(self) -> list[CryptoMarketModel]:
        """The treated run and, when shown, its counterfactual."""
        return [self.treated] + ([self.counterfactual] if self.counterfactual is not None else [])

    @property
    def day(self) -> int:
        """The last day processed (negative during burn-in)."""
        return int(self.treated.day)

    @property
    def days_recorded(self) -> int:
        """Recorded days so far."""
        return len(self.treated.recorder.daily)

    @_locked
    def step(self) -> None:
        """Process one more recorded day in both runs; stop at ``run.days`` or when a run fails."""
        if not self.running:
            return
        try:
            self._step_runs()
        except InterventionTargetError as err:
            self.message = f"{err} (the run stopped; reset to start again)"
            self.running = False
            return
        self._frames = {}
        if self.days_recorded >= self.cfg.run.days:
            self.running = False

    def _step_runs(self) -> None:
        self._number_interventions()
        self.treated.step()
        if self.counterfactual is None:
            return
        # the counterfactual follows the cohort the treated run chose at each intervention's dawn
        for action in self.treated.police.actions:
            if action.fired and id(action) not in self._mirrored:
                self._mirrored.add(id(action))
                probe = PlannedProbe(self.counterfactual, action.index, action.start_day, [m.idx for m in action.targets])
                self.counterfactual.planned_probes.append(probe)
                self.counterfactual.schedule_event(probe.fire, at=self.counterfactual.mesa_time_of_dawn(action.start_day))
        self.counterfactual.step()

    def _number_interventions(self) -> None:
        """Number the interventions not yet fired by (start day, order given): as :meth:`reproduce_overrides` lists them.

        An intervention's number (cohorts.parquet ``intervention``, summary records) is taken when
        it fires. Numbered in start-day order, the interventions that fired within the recorded days
        are the first of the reproduction's list whatever was applied later, so a run of it numbers
        them alike. Fired ones keep their number: anything applied later starts later.
        """
        actions = self.treated.police.actions
        order = sorted(range(len(actions)), key=lambda i: (actions[i].start_day, i))
        for rank, i in enumerate(order):
            action = actions[i]
            if not action.fired:
                action.index = rank
                action.record["index"] = rank
                if isinstance(action, Intervention):  # its messages name it as the reproduction does
                    action.where = f"scenario.interventions[{rank}] ({action.name})"

    # ------------------------------------------------------------------ interventions
    @_locked
    def open_markets(self, kinds: tuple[str, ...] = ("cryptomarket", "decentralised")) -> list[str]:
        """Names of the markets open now, of the given kinds, largest first (30-day sales)."""
        table = self.treated.market_table
        wanted = {KINDS[k] for k in kinds}
        open_ = [m for m in self.treated.markets if m.active and m.kind in wanted]
        return [m.name for m in sorted(open_, key=lambda m: (-table.sales30[m.idx], m.idx))]

    @_locked
    def apply_now(self, name: str, value: float | None = None, target: str | None = None) -> InterventionConfig:
        """Apply intervention ``name`` at the dawn of the next day, in the treated run only.

        Args:
            name: a lever of :data:`LEVERS` (an intervention's config name).
            value: its main parameter (None: the documented default).
            target: for market interventions, ``largest`` or an open market's name (None: largest).

        Returns:
            The scenario entry it became (also kept in :attr:`applied`).

        Raises:
            ConfigError: an unknown lever, a value out of range, a market that is not open, or a run that has ended.
        """
        if name not in LEVERS_BY_NAME:
            raise ConfigError(f"intervention {name!r}: allowed are {sorted(LEVERS_BY_NAME)}")
        if not self.running:
            raise ConfigError("the run has ended: reset to start a new one")
        lever = LEVERS_BY_NAME[name]
        params: dict[str, Any] = dict(lever.fixed)
        if lever.param is not None and value is not None:
            params[lever.param] = float(value)
        chosen = lever.target
        if lever.chooses_market:
            chosen = target or "largest"
            if chosen == "largest":
                if not self.open_markets(("cryptomarket",)):
                    raise ConfigError(f"{lever.label}: no cryptomarket is open on day {self.day}")
            elif chosen not in self.open_markets():
                raise ConfigError(f"{lever.label}: {chosen!r} is not an open hidden market; open: {self.open_markets()}")
            # "largest" is resolved at the dawn, after any earlier closure. A named market must stay
            # open for every closure that names it (a later one would fail), and one of "largest" at
            # the same dawn, given first, may close it
            if chosen != "largest":
                for e in self.pending():
                    if e.name not in CLOSING:
                        continue
                    if e.target == chosen:
                        raise ConfigError(
                            f"{lever.label}: {chosen} is already to be closed by a {e.name} at the dawn of day "
                            f"{e.start_day}; it would not be open then"
                        )
                    named = e.target is not None and e.target.startswith(("crypto_", "dec_", "shop_"))
                    if not named and e.start_day <= self.day + 1:  # resolved at the same dawn, before this one
                        raise ConfigError(
                            f"{lever.label}: a {e.name} of {e.target or 'largest'!r} waits for the dawn of day {e.start_day} "
                            f"and may close {chosen} first; choose {chosen} after that dawn, or choose 'largest'"
                        )
        index = len(self.cfg.scenario.interventions) + len(self.applied)
        entry = InterventionConfig(name=name, start_day=self.day + 1, end_day=None, target=chosen, params=params)
        check_params([entry])
        action = REGISTRY[name](self.treated, entry, index)
        self.treated.police.schedule(action)  # LawEnforcement keeps it referenced (Mesa holds callbacks weakly)
        self.applied.append(entry)
        self.message = None
        return entry

    def reproduce_overrides(self) -> list[str]:
        """The run as ``run.py`` overrides: the page's settings, the days recorded, and every intervention.

        The interventions that started on a recorded day (the scenario's own and those applied from
        the page, in start-day order) become one ``scenario.interventions=[...]`` list, and the
        scenario is renamed ``<name>_explorer``, unless that list is the scenario's own. Those
        waiting for a later day are left out: they changed nothing yet, and ``run.days`` (the days
        recorded) could not hold them. ``run.py`` with these overrides reproduces :meth:`tables`
        byte for byte.
        """
        recorded = max(self.days_recorded, 1)
        out = [o for o in self.overrides if not o.startswith("run.days=")]
        out.append(f"run.days={recorded}")
        own = list(self.cfg.scenario.interventions)
        given = [*own, *self.applied]
        order = sorted(range(len(given)), key=lambda i: (given[i].start_day, i))
        started = [given[i] for i in order if given[i].start_day < recorded]
        if started != own:
            out.append(f"scenario.name={self.cfg.scenario.name}_explorer")
            out.append("scenario.interventions=" + _hydra_value([_entry_dict(e) for e in started]))
        return out

    @_locked
    def intervention_log(self) -> list[dict[str, Any]]:
        """Every intervention of the treated run (scenario and page), in start-day order.

        Each as ``day``, ``name``, ``source`` (scenario or page), ``target`` (as given),
        ``markets`` (those it hit, once started), ``params`` (as given) and ``state``: waiting,
        started, or failed (its market was no longer open; the run stopped).
        """
        given = [*[("scenario", e) for e in self.cfg.scenario.interventions], *[("page", e) for e in self.applied]]
        rows = []
        for (source, entry), action in zip(given, self.treated.police.actions):
            targets = action.record.get("targets")
            failed = action.fired and getattr(action, "uses_target", False) and targets is None
            state = "failed" if failed else "started" if action.fired else "waiting"
            rows.append(
                {
                    "day": entry.start_day,
                    "name": entry.name,
                    "source": source,
                    "target": entry.target,
                    "markets": list(targets or []),
                    "params": dict(entry.params or {}),
                    "state": state,
                }
            )
        return sorted(rows, key=lambda r: r["day"])

    def pending(self) -> list[InterventionConfig]:
        """Interventions given (scenario or page) that wait for a day not yet recorded."""
        return [e for e in [*self.cfg.scenario.interventions, *self.applied] if e.start_day >= self.days_recorded]

    def reproduce_command(self) -> str:
        """The shell command that reruns this run with ``run.py`` (also in the download's manifest)."""
        return "python run.py " + " ".join(shlex.quote(o) for o in self.reproduce_overrides())

    def scenario_config(self) -> Config:
        """The configuration ``run.py`` composes from :meth:`reproduce_overrides`."""
        return compose(self.reproduce_overrides())

    # ------------------------------------------------------------------ tables
    @_locked
    def tables(self) -> dict[str, pd.DataFrame]:
        """The treated run's tables so far, as ``run.py`` writes them (docs/outputs.md)."""
        if "treated" not in self._frames:
            self._frames["treated"] = self.treated.recorder.tables(self.treated)
        return self._frames["treated"]

    @_locked
    def counterfactual_tables(self) -> dict[str, pd.DataFrame] | None:
        """The counterfactual's tables so far (None when it is not run)."""
        if self.counterfactual is None:
            return None
        if "counterfactual" not in self._frames:
            self._frames["counterfactual"] = self.counterfactual.recorder.tables(self.counterfactual)
        return self._frames["counterfactual"]

    def intervention_days(self) -> list[tuple[int, str]]:
        """(day, name) of every intervention that has fired in the treated run."""
        return [(a.start_day, str(a.record["name"])) for a in self.treated.police.actions if a.fired]

    def market_rows(self, window: int = 7) -> pd.DataFrame:
        """One row per market opened so far: name, kind, status, sales in the last ``window`` days, vendors, trust."""
        columns = ["market", "kind", "status", f"sales_last_{window}d", "vendors", "trust", "opened_day"]
        markets = self.tables()["markets"]
        if markets.empty:
            return pd.DataFrame(columns=columns)
        last = int(markets["day"].max())
        recent = markets[markets["day"] > last - window].groupby("market", sort=False)["sales"].sum()
        today = markets[markets["day"] == last].set_index("market")
        out = pd.DataFrame(
            {
                "market": today.index,
                "kind": today["kind"].to_numpy(),
                "status": today["status"].to_numpy(),
                f"sales_last_{window}d": recent.reindex(today.index).fillna(0).astype(int).to_numpy(),
                "vendors": today["vendors"].to_numpy(),
                "trust": today["trust"].round(3).to_numpy(),
                "opened_day": today["opened_day"].to_numpy(),
            }
        )
        return out.sort_values([f"sales_last_{window}d", "market"], ascending=[False, True], kind="stable").reset_index(drop=True)

    @_locked
    def files(self) -> dict[str, bytes]:
        """The run so far as ``run.py`` lays out its tables: path in the folder -> content.

        Parquet tables, ``counterfactual/`` tables, ``config.yaml`` (:meth:`scenario_config`) and
        ``manifest.json`` (seed, versions, git revision, days recorded).
        """
        out = {f"{name}.parquet": _parquet(df) for name, df in self.tables().items()}
        for name, df in (self.counterfactual_tables() or {}).items():
            out[f"{COUNTERFACTUAL_DIR}/{name}.parquet"] = _parquet(df)
        cfg = self.scenario_config()
        out["config.yaml"] = OmegaConf.to_yaml(OmegaConf.structured(cfg)).encode()
        info = {
            **manifest(cfg, 0.0),
            "source": "explorer (python -m sim.explore)",
            "days_recorded": self.days_recorded,
            "reproduce": self.reproduce_command(),
        }
        info.pop("wall_time_s", None)
        out["manifest.json"] = json.dumps(info, indent=2, sort_keys=True).encode()
        return out

    def write(self, folder: Path) -> None:
        """Write :meth:`files` into ``folder``."""
        for name, content in self.files().items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    def download_name(self) -> str:
        """The download's file name: scenario (as reproduced), seed and last day recorded."""
        name = self.cfg.scenario.name
        for override in self.reproduce_overrides():
            if override.startswith("scenario.name="):
                name = override.removeprefix("scenario.name=")
        return f"cmabm-explorer_{name}_s{self.cfg.seed}_day{self.day}.zip"

    def download(self) -> bytes:
        """:meth:`files` as a zip archive in memory (the page's download button)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in self.files().items():
                archive.writestr(name, content)
        return buffer.getvalue()


def _entry_dict(entry) -> dict[str, Any]:
    d = {"name": entry.name, "start_day": int(entry.start_day)}
    if entry.end_day is not None:
        d["end_day"] = int(entry.end_day)
    if entry.target is not None:
        d["target"] = str(entry.target)
    if entry.params:
        d["params"] = dict(entry.params)
    return d


def _hydra_value(value: Any) -> str:
    """``value`` in Hydra's override grammar (strings double-quoted, so ``all:webshop`` stays one string)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def _parquet(df: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def market_shares(markets: pd.DataFrame, top: int = 6, window: int = 7) -> pd.DataFrame:
    """Each hidden market's share of the hidden-market sales of the last ``window`` days, per day.

    The ``top`` largest markets are named, the rest summed as ``other``. Shares are of sums over
    the window (not means of daily shares), so each day's shares add up to 1; a day whose window
    has no hidden-market sale has no shares (NaN).
    """
    if markets.empty:
        return pd.DataFrame()
    hidden = markets[markets["kind"].isin(["cryptomarket", "decentralised"])]
    wide = hidden.pivot_table(index="day", columns="market", values="sales", aggfunc="sum", fill_value=0)
    if wide.empty:
        return wide
    largest = wide.sum().sort_values(ascending=False).index[:top]
    out = wide[list(largest)].copy()
    rest = wide.drop(columns=list(largest)).sum(axis=1)
    if (rest > 0).any():
        out["other"] = rest
    summed = out.rolling(window, min_periods=1).sum()
    total = summed.sum(axis=1).replace(0, np.nan)
    return summed.div(total, axis=0)
