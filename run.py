"""Run one simulation, or a sweep with -m: thin Hydra entry point.

python run.py                                   # default baseline, 20,000 buyers, two years
python run.py model.n_buyers=5000 run.days=365 seed=7
python run.py -m scenario=baseline,takedown 'seed=range(10)'
python run.py -m +experiment=takedown_recovery  # a ready-made experiment (experiments/)
python run.py --help                            # Hydra's help: config groups and keys
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sim.config import ConfigError, register_configs
from sim.interventions.base import InterventionTargetError

register_configs()


@hydra.main(version_base="1.3", config_path="configs", config_name="config")
def main(cfg: DictConfig) -> None:
    from sim.runner import fail_bad_input, record_failure, run_job

    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    sweep = hc.mode == RunMode.MULTIRUN
    try:
        summary = run_job(cfg, out_dir, skip_finished=sweep)
    except Exception as err:  # noqa: BLE001 - in a sweep one failed job must not stop the others
        if sweep:
            record_failure(err, out_dir)
            return
        if isinstance(err, (ConfigError, InterventionTargetError)):
            fail_bad_input(err, out_dir)
        raise
    if summary is None:
        print(f"{out_dir}: finished before, skipped")
        return
    h = summary["run"]
    print(
        f"{out_dir}: online volume {h['online_volume_eur_per_day']:.0f} EUR/day, "
        f"online share {h['online_share_of_purchases']['all']:.3f}, "
        f"delivery success {h['delivery_success_rate']:.3f}, markets at end {h['active_markets_end']}"
    )


if __name__ == "__main__":
    main()
