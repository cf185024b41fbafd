"""Interventions: a registry from config names to classes (README, interventions).

Each intervention is a small class with ``start_day`` (and optionally ``end_day``) whose
``fire`` runs at the dawn of its start day. The concrete interventions (takedown, blocking,
bans, ...) register themselves in :data:`REGISTRY`; a scenario naming anything else is refused
before the run starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.errors import ConfigError

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel

#: config name -> intervention class (filled at the end of this module)
REGISTRY: dict[str, Any] = {}  # name -> Intervention subclass


def check_names(interventions) -> None:
    """Refuse unknown intervention names, listing the known ones."""
    for i, iv in enumerate(interventions):
        if iv.name not in REGISTRY:
            known = sorted(REGISTRY) or ["(none registered yet)"]
            raise ConfigError(f"scenario.interventions[{i}].name={iv.name!r}: unknown intervention; allowed: {known}")


def build_interventions(model: CryptoMarketModel, interventions) -> list:
    """Instantiate the scenario's interventions for ``model``."""
    check_names(interventions)
    return [REGISTRY[iv.name](model, iv, i) for i, iv in enumerate(interventions)]


def check_scenario(cfg) -> None:
    """Check the scenario's interventions against the registry and the substance table (ConfigError)."""
    names = {s.name for s in cfg.substances}
    for i, iv in enumerate(cfg.scenario.interventions):
        for key in ("substance", "substances"):
            wanted = iv.params.get(key) if iv.params else None
            listed = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(wanted, list) else []
            for s in listed:
                if s not in names and s != "nps":  # "nps" = every substance of class nps
                    raise ConfigError(
                        f"scenario.interventions[{i}].params.{key}: unknown substance {s!r}; the table has {sorted(names)}"
                    )
    check_names(cfg.scenario.interventions)
    check_params(cfg.scenario.interventions)
    wanted = cfg.report.intervention
    if wanted and wanted not in REGISTRY:
        raise ConfigError(
            f"report.intervention={wanted!r}: unknown intervention; allowed: {sorted(REGISTRY)} or empty (the first)"
        )


def check_params(interventions) -> None:
    """Check parameters and targets of every intervention without a model (ConfigError)."""
    from sim.interventions.base import check_target_syntax

    for i, iv in enumerate(interventions):
        cls = REGISTRY[iv.name]
        where = f"scenario.interventions[{i}] ({iv.name})"
        cls.parse_params(dict(iv.params or {}), where)
        if iv.end_day is not None and not cls.revertible:
            raise ConfigError(f"{where}: end_day is not allowed; a {iv.name} cannot be undone")
        if cls.uses_target:
            check_target_syntax("largest" if iv.target is None else str(iv.target), where)
        elif iv.target is not None:
            raise ConfigError(f"{where}.target={iv.target!r}: a {iv.name} acts on the whole system and takes no target")


def _register() -> None:
    from sim.interventions.exit_scam import ExitScam
    from sim.interventions.harm_reduction import DrugChecking, RedAlert
    from sim.interventions.honeypot import Honeypot
    from sim.interventions.parcel_interdiction import ParcelInterdiction
    from sim.interventions.payment import PaymentIntervention
    from sim.interventions.prevention import PreventionCampaign
    from sim.interventions.price_change import PriceChange
    from sim.interventions.site_blocking import SiteBlocking
    from sim.interventions.substance_ban import SubstanceBan
    from sim.interventions.takedown import Takedown

    for cls in (
        Takedown,
        SiteBlocking,
        SubstanceBan,
        ParcelInterdiction,
        PaymentIntervention,
        Honeypot,
        RedAlert,
        DrugChecking,
        ExitScam,
        PriceChange,
        PreventionCampaign,
    ):
        REGISTRY[cls.name] = cls


_register()
