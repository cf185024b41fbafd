"""The intervention base class: start and end day, targets, parameters, save-and-revert.

Like Covasim's interventions: each concrete intervention is one small class with a ``Params``
dataclass (documented defaults), ``apply`` (at the dawn of ``start_day``) and, where it changes
state that can be restored, ``revert`` (at the dawn of ``end_day``). It saves what it changes in
``self.saved``. At its dawn it starts following the buyers it touches (:mod:`sim.interventions.cohort`),
as the counterfactual run does on the same day, so effects are measured as differences.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

__all__ = ["Intervention", "InterventionTargetError", "check_target_syntax"]

import numpy as np

from sim.agents.marketplace import Marketplace
from sim.domain import Channel
from sim.errors import ConfigError, InterventionTargetError
from sim.interventions.cohort import CohortProbe
from sim.market.records import Purchases
from sim.params import check_ranges

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel

KINDS = {"cryptomarket": Channel.CRYPTOMARKET, "decentralised": Channel.DECENTRALISED, "webshop": Channel.WEBSHOP}


class Intervention:
    """Base class. Subclasses set ``name``, ``Params`` and override ``apply`` (and ``revert``).

    Args:
        model: the model it acts on (it keeps the intervention referenced via LawEnforcement).
        cfg: an :class:`sim.config.InterventionConfig`.
        index: position in the scenario list (for messages).
    """

    name: ClassVar[str] = ""
    #: whether ``target`` selects markets (False: the intervention acts on the whole system)
    uses_target: ClassVar[bool] = True
    #: whether an ``end_day`` makes sense (the intervention can be reverted)
    revertible: ClassVar[bool] = True

    @dataclass
    class Params:
        """The intervention's parameters, each with its declared range (none here)."""

        pass

    def __init__(self, model: CryptoMarketModel, cfg, index: int = 0) -> None:
        self.model = model
        self.index = index
        self.where = f"scenario.interventions[{index}] ({self.name})"
        self.start_day = int(cfg.start_day)
        self.end_day = None if cfg.end_day is None else int(cfg.end_day)
        #: where it applies; "largest" when the scenario names no target
        self.target: str = "largest" if cfg.target is None else str(cfg.target)
        self.params = self.parse_params(dict(cfg.params or {}), self.where)
        self.saved: dict[str, Any] = {}
        #: whether it has started (its dawn has come); only fired interventions are reported
        self.fired = False
        #: callbacks scheduled with Mesa, kept referenced here (Mesa holds them weakly)
        self.keep_alive: list = []
        self.targets: list[Marketplace] = []
        #: the buyers it touches, followed identically in the counterfactual run (sim/interventions/cohort.py)
        self.cohort: CohortProbe | None = None
        self.record: dict[str, Any] = {
            "name": self.name,
            "index": index,
            "start_day": self.start_day,
            "end_day": self.end_day,
            "target": self.target if self.uses_target else None,
        }
        if self.end_day is not None and not self.revertible:
            raise ConfigError(f"{self.where}: end_day is not allowed; a {self.name} cannot be undone")
        if self.uses_target:
            check_target_syntax(self.target, self.where)

    # ------------------------------------------------------------------ parameters
    @classmethod
    def parse_params(cls, given: dict, where: str):
        """Merge ``given`` into the defaults of ``Params``, typed and range-checked.

        Raises:
            ConfigError: for an unknown key, a value of the wrong type or outside its declared range.
        """
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        allowed = {f.name for f in fields(cls.Params)}
        unknown = set(given) - allowed
        if unknown:
            raise ConfigError(f"{where}.params: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        given = cls.normalise(dict(given))
        try:
            params = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls.Params), given))
        except OmegaConfBaseException as err:
            key = err.key if err.key in allowed else next(iter(given), "?")
            types = {f.name: getattr(f.type, "__name__", str(f.type)) for f in fields(cls.Params)}
            raise ConfigError(f"{where}.params.{key}={given.get(key)!r}: must be of type {types.get(key, '?')}") from None
        check_ranges(params, f"{where}.params")
        cls.check(params, where)
        return params

    @classmethod
    def normalise(cls, given: dict) -> dict:
        """Accept a shorthand before typing (e.g. one name for a list of names); subclasses override."""
        return given

    @classmethod
    def check(cls, params, where: str) -> None:
        """Extra checks of a subclass (raise ConfigError)."""

    # ------------------------------------------------------------------ lifecycle
    def fire(self) -> None:
        """Dawn of ``start_day``: resolve targets, start following the cohort, apply."""
        model = self.model
        self.fired = True
        if self.uses_target:
            self.targets = self.resolve_targets()
            self.record["targets"] = [m.name for m in self.targets]
        # chosen before anything changes, as the counterfactual run chooses it
        self.cohort = CohortProbe(model, self.index, [m.idx for m in self.targets])
        model.probes.append(self.cohort)
        self.apply()
        model.log_event(f"intervention_{self.name}", self.event_target(), self.describe())
        if self.end_day is not None:
            model.schedule_event(self.finish, at=model.mesa_time_of_dawn(self.end_day))

    def finish(self) -> None:
        """Dawn of ``end_day``: undo what ``apply`` changed."""
        self.revert()
        self.model.log_event(f"intervention_{self.name}_end", self.event_target(), "reverted")

    def event_target(self) -> str:
        """What events.parquet names as the target: the markets, or ``system`` for whole-system interventions."""
        return ",".join(m.name for m in self.targets) or (self.target if self.uses_target else None) or "system"

    def apply(self) -> None:  # pragma: no cover - abstract
        """Dawn of ``start_day``: make the change (subclasses), saving what ``revert`` restores."""
        raise NotImplementedError

    def revert(self) -> None:
        """Restore what ``apply`` saved (subclasses with state to restore override this)."""

    def describe(self) -> str:
        """The parameters as ``name=value`` text (for the events table)."""
        return ", ".join(f"{f.name}={getattr(self.params, f.name)}" for f in fields(self.params))

    def restrict_access(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray | None:
        """Which of ``buyers`` (rows) can reach ``markets`` (columns) today; None: no restriction.

        Called in the purchase phase; site blocking overrides it.
        """
        return None

    def observe(self, log: Purchases) -> None:
        """Called at the end of every day with the day's purchases (subclasses that watch them override)."""

    # ------------------------------------------------------------------ targets
    def resolve_targets(self) -> list[Marketplace]:
        """Markets selected by ``target`` among those open on the start day."""
        model = self.model
        spec = self.target
        head, _, kind_name = spec.partition(":")
        open_markets = [m for m in model.markets if m.active]
        if head in ("largest", "second", "random", "all"):
            kind = KINDS[kind_name or "cryptomarket"]
            pool = [m for m in open_markets if m.kind == kind]
            if not pool:
                raise InterventionTargetError(f"{self.where}: target {spec!r}: no open {kind.name.lower()} on day {model.day}")
            if head == "all":
                return pool
            ranked = sorted(pool, key=lambda m: (-model.market_table.sales30[m.idx], m.idx))
            if head == "largest":
                return ranked[:1]
            if head == "second":
                if len(ranked) < 2:
                    raise InterventionTargetError(
                        f"{self.where}: target {spec!r}: only one open {kind.name.lower()} on day {model.day}"
                    )
                return ranked[1:2]
            return [pool[int(model.streams["interventions"].integers(len(pool)))]]
        names = spec.split(",")
        by_name = {m.name: m for m in open_markets}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise InterventionTargetError(
                f"{self.where}: target {missing} is not an open market on day {model.day}; open markets: {sorted(by_name, key=_natural)}"
            )
        return [by_name[n] for n in names]

    # ------------------------------------------------------------------ helpers
    def schedule_daily(self, fn) -> None:
        """Run ``fn`` every day from tomorrow (kept referenced by this intervention)."""
        from mesa.time import Schedule

        self._daily_fn = fn  # keep a strong reference: Mesa holds callbacks weakly
        self._daily = self.model.schedule_recurring(fn, Schedule(interval=1.0, start=self.model.time + 1.0))

    def stop_daily(self) -> None:
        """Stop the daily callback started by :meth:`schedule_daily`."""
        gen = getattr(self, "_daily", None)
        if gen is not None:
            gen.stop()


def _natural(name: str) -> tuple:
    """Sort key putting crypto_2 before crypto_10."""
    prefix, _, num = name.rpartition("_")
    return (prefix, int(num)) if num.isdigit() else (name, 0)


def check_target_syntax(target: str, where: str) -> None:
    """``largest``, ``second``, ``random`` or ``all`` (optionally ``:kind``), or market names separated by commas."""
    head, sep, kind = target.partition(":")
    if head in ("largest", "second", "random", "all"):
        if sep and kind not in KINDS:
            raise ConfigError(f"{where}.target={target!r}: unknown kind {kind!r}; allowed: {sorted(KINDS)}")
        return
    for name in target.split(","):
        prefix, _, num = name.rpartition("_")
        if prefix not in ("crypto", "dec", "shop") or not num.isdigit():
            raise ConfigError(
                f"{where}.target={target!r}: allowed are largest, second, random, all (optionally ':cryptomarket', ':webshop', "
                "':decentralised') or market names like crypto_1, dec_1, shop_3"
            )
