"""Checks that run before anything is simulated or written: the command line, config files, memory.

* :func:`check_command_line` refuses an override whose key the schema does not have, listing the
  keys allowed at that level, and checks the experiment, scenario and substance files it selects.
* :func:`check_config_file` treats experiment, scenario and substance files as data: researchers
  exchange them, so they may not name Python objects (``_target_``), add Hydra callbacks, or put
  outputs outside the working folder. YAML errors and unknown keys are reported with file and line.
* :func:`check_memory` estimates what a run needs and refuses one the machine cannot hold.

Every check raises :class:`sim.errors.ConfigError` with a one-line message.
"""

from __future__ import annotations

import os
import re
import resource
from dataclasses import fields, is_dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from sim.config import EXPERIMENTS_DIR, Config, check_folder_name
from sim.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "configs"
#: Hydra's instantiation keys: a file holding any of them would name Python code to run
CODE_KEYS = ("_target_", "_partial_", "_args_", "_recursive_", "_convert_")
#: the only classes a config file may name: the project's own Hydra callbacks
OWN_CALLBACKS = frozenset({"sim.callbacks.GuardRuns", "sim.report.CollectRuns"})
#: Hydra settings an experiment file may hold (everything else under ``hydra`` is refused)
EXPERIMENT_HYDRA_KEYS = ("sweep.dir", "sweeper.params", "launcher.n_jobs")
#: config groups (folders of configs/) and the package each file must have
GROUPS = ("scenario", "substances")
#: the config group of design points: parameter values that calibration, sensitivity analysis and
#: scenario discovery (sim/design.py) write as files into a folder they put on ``hydra.searchpath``
POINT_GROUP = "point"
#: settings that do not change a run's results (left out of result fingerprints)
PRESENTATION_KEYS = ("run.progress", "run.figures", "run.check_memory", "report")


# ----------------------------------------------------------------------------- command line
#: Hydra's command-line flags that take the next argument as their value
VALUE_FLAGS = {
    "-cp",
    "--config-path",
    "-cn",
    "--config-name",
    "-cd",
    "--config-dir",
    "-p",
    "--package",
    "-c",
    "--cfg",
    "--experimental-rerun",
}
INFO_VALUES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def override_args(args: list[str]) -> list[str]:
    """The overrides among command-line arguments (not flags or their values).

    Raises:
        ConfigError: an argument that is neither a flag nor ``key=value``.
    """
    out = []
    for i, arg in enumerate(args):
        prev = args[i - 1] if i else ""
        if arg.startswith("-") or prev in VALUE_FLAGS or (prev in ("-i", "--info") and arg in INFO_VALUES):
            continue
        if "=" not in arg and not arg.startswith("~"):
            raise ConfigError(f"{arg!r}: not an override; write key=value (python run.py --help lists the keys)")
        out.append(arg)
    return out


def check_command_line(args: list[str], multirun: bool | None = None) -> None:
    """Check the override arguments of ``run.py`` (or :func:`sim.runner.compose`) before Hydra runs.

    Args:
        args: the command-line arguments (flags are recognised and skipped).
        multirun: whether sweeps are allowed; None: read ``-m``/``--multirun`` from ``args``.

    Raises:
        ConfigError: an unknown key (with the keys allowed there), an unknown or unsafe option of a
            config group, a sweep without ``-m``, a deleted key, or a config file that is
            malformed or names code.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    modes = {
        "-m": "-m",
        "--multirun": "-m",
        "-c": "--cfg",
        "--cfg": "--cfg",
        "-i": "--info",
        "--info": "--info",
        "-sc": "--shell-completion",
        "--shell-completion": "--shell-completion",
    }
    chosen = sorted({modes[a.split("=")[0]] for a in args if a.split("=")[0] in modes})
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(chosen)}: give only one of -m, --cfg, --info and --shell-completion")
    if multirun is None:
        multirun = "-m" in args or "--multirun" in args
    _check_shared_intervention_override(args)
    parser = OverridesParser.create()
    for arg in override_args(args):
        try:
            (override,) = parser.parse_overrides([arg])
        except OverrideParseException as err:
            raise ConfigError(f"{arg}: cannot be read as key=value: {str(err).splitlines()[0]}") from None
        key = override.key_or_group
        if override.is_sweep_override() and not multirun:
            raise ConfigError(f"{arg}: sweeps several values; run a sweep with -m (python run.py -m {arg} ...)")
        if override.is_delete():
            raise ConfigError(f"{arg}: deleting a key is not supported; set it to a value instead")
        if key.startswith("hydra/"):
            check_hydra_group(key, _override_values(override))
            continue
        if key == "hydra.launcher.n_jobs":
            for v in _override_values(override):
                if not v.lstrip("-").isdigit() or int(v) == 0:
                    raise ConfigError(f"{arg}: must be a whole number of parallel jobs, not 0 (negative: all cores but n-1)")
        if key.startswith("hydra"):
            continue  # checked on the composed configuration (sim.hydra_guard)
        values = _override_values(override)
        if not values and override.is_sweep_override():
            raise ConfigError(f"{arg}: sweeps no value (an empty range?)")
        # config group options are looked up by Hydra on its search path; the files it chooses are
        # checked as data on the composed configuration (sim.hydra_guard.check_task)
        if key in GROUPS:
            for v in values:
                check_folder_name(key, v)
            continue
        if key == POINT_GROUP:
            if not arg.lstrip().startswith("+"):
                raise ConfigError(f"{arg}: select a design point with +{POINT_GROUP}=NAME")
            for v in values:
                check_folder_name(POINT_GROUP, v)
            continue
        if key == "experiment":
            if not arg.lstrip().startswith("+"):
                raise ConfigError(f"{arg}: select an experiment with +experiment=NAME; allowed: {experiment_names()}")
            for v in values:
                check_folder_name("experiment", v)
            continue
        check_key(key)
    if multirun:
        check_launcher_settings(args)


#: launcher keys that must be positive numbers (Submitit: minutes, CPUs, GB, tasks, jobs at once)
POSITIVE_LAUNCHER_KEYS = (
    "timeout_min",
    "cpus_per_task",
    "gpus_per_node",
    "mem_gb",
    "nodes",
    "tasks_per_node",
    "array_parallelism",
)


def check_launcher_settings(args: list[str]) -> None:
    """Refuse ``hydra.launcher.KEY=VALUE`` settings the chosen launcher does not have or cannot take.

    Keys are checked against the launcher's composed config (``+hydra.launcher.KEY`` adds a key and
    is left to the launcher); sizes and limits must be positive; a SLURM partition must be one
    that ``sinfo`` lists, where ``sinfo`` is installed (sbatch would refuse it after the sweep
    folder was made).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    launcher, settings = "basic", []
    for arg in override_args(args):
        (o,) = parser.parse_overrides([arg])
        if o.key_or_group == "hydra/launcher":
            launcher = str(o.get_value_element_as_str())
        elif o.key_or_group == "experiment" and not o.is_sweep_override():
            # an experiment file may choose the launcher in its defaults list
            exp = EXPERIMENTS_DIR / f"{o.get_value_element_as_str()}.yaml"
            data = yaml.safe_load(exp.read_text()) if exp.is_file() else None
            for d in (data or {}).get("defaults", []) if isinstance(data, dict) else []:
                for k, v in d.items() if isinstance(d, dict) else ():
                    if str(k).split()[-1] == "hydra/launcher" and launcher == "basic":
                        launcher = str(v)
        elif o.key_or_group.startswith("hydra.launcher.") and not arg.lstrip().startswith("+"):
            settings.append((arg, o.key_or_group.removeprefix("hydra.launcher."), _override_values(o)))
    if not settings:
        return
    allowed = _launcher_keys(launcher)
    for arg, key, values in settings:
        top = key.split(".")[0]
        if top not in allowed:
            raise ConfigError(
                f"{arg}: the {launcher!r} launcher has no key {top!r}"
                + ("" if launcher != "basic" else " (no hydra/launcher=... chosen: the basic launcher runs jobs one by one here)")
                + f"; its keys: {sorted(allowed)}"
                + (f"; to add a key under {top}, write +{arg.lstrip()}" if "." in key else "")
            )
        if "." in key and isinstance(allowed[top], dict) and not allowed[top]:
            raise ConfigError(f"{arg}: {top} is empty in this launcher's config; add its entries with +{arg.lstrip()}")
        if key in POSITIVE_LAUNCHER_KEYS:
            for v in values:
                try:
                    ok = float(v) > 0
                except ValueError:
                    ok = False
                if not ok:
                    raise ConfigError(f"{arg}: must be a positive number")
        if key == "partition" and launcher != "submitit_local":
            _check_partition(arg, values)


def _launcher_keys(launcher: str) -> dict:
    """The top-level keys of launcher ``launcher``'s composed config, with their values."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from sim.config import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
            out = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    finally:
        GlobalHydra.instance().clear()
    return out if isinstance(out, dict) else {}


def _check_partition(arg: str, values: list[str]) -> None:
    """A SLURM partition must be one that ``sinfo`` lists (checked only where SLURM's tools are installed)."""
    import shutil
    import subprocess

    if shutil.which("sinfo") is None:
        return
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return
    if out.returncode != 0:
        return  # SLURM not reachable from here: sbatch will say so
    partitions = sorted({p.strip().rstrip("*") for p in out.stdout.split() if p.strip()})
    for v in values:
        if v not in ("null", "None") and partitions and v not in partitions:
            raise ConfigError(f"{arg}: no such SLURM partition here; sinfo lists: {partitions}")


def trial_overrides(args: list[str]) -> list[str] | None:
    """The overrides of one job of the command line (the first value of each sweep), or None.

    None where the command line asks Hydra for help or the composed config (nothing runs).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if any(
        a.split("=")[0]
        in ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc", "--version")
        for a in args
    ):
        return None
    out = []
    parser = OverridesParser.create()
    for arg in override_args(args):
        (o,) = parser.parse_overrides([arg])
        if o.key_or_group == "hydra.searchpath":  # design points live there (+point=NAME)
            out.append(arg)
            continue
        if o.key_or_group.startswith("hydra"):
            continue
        if o.is_sweep_override():
            values = _override_values(o)
            if not values:
                continue
            prefix = arg[: len(arg) - len(arg.lstrip("+~"))]
            arg = f"{prefix}{o.key_or_group}={values[0]}"
        out.append(arg)
    return out


def _check_shared_intervention_override(args: list[str]) -> None:
    """Refuse ``scenario.interventions.N.KEY=...`` in a sweep over several scenarios.

    Hydra composes the default scenario first, where such an override cannot apply.
    """
    swept = [a for a in args if a.startswith("scenario=") and "," in a]
    shared = [a.split("=")[0] for a in args if a.lstrip("+~").startswith("scenario.interventions.") and "=" in a]
    if swept and shared:
        raise ConfigError(
            f"{shared[0]}: cannot be shared by the scenarios of {swept[0]} (each has its own interventions, and "
            "a sweep composes the default scenario first); give each scenario its settings in an experiment file, "
            "or sweep one scenario at a time"
        )


def composition_error(err: Exception) -> ConfigError:
    """A one-line :class:`ConfigError` from Hydra's composition error (naming key and value)."""
    cause = err.__cause__ or err
    key = getattr(cause, "full_key", None)
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    detail = str(cause).splitlines()[0] if cause is not err else ""
    text = first.removeprefix("Error merging override ")
    detail += allowed_type(detail)
    if "is not a subclass of InterventionConfig" in detail:
        # an override of scenario.interventions.N.* where the scenario has fewer interventions
        m = re.search(r"scenario\.interventions\.(\d+)\.[\w.]+", text)
        where = m.group(0) if m else "scenario.interventions.N.KEY"
        n = m.group(1) if m else "N"
        return ConfigError(
            f"{where}: the scenario has no intervention {n} (a scenario without interventions is the baseline). "
            "A sweep over several scenarios composes the default scenario first, so an override of one "
            "scenario's intervention cannot be shared: give each scenario its settings in an experiment file"
        )
    if "is not in struct" in detail:
        dotted = str(key or "KEY").replace("[", ".").replace("]", "")  # as an override is written
        detail += f"; to add a key the config file does not set, write it with a leading +: +{dotted}=VALUE"
    if key and detail:
        return ConfigError(f"{text}: {detail} (key {key})")
    return ConfigError(f"{text}{': ' + detail if detail else ''}")


#: what a value of each type may look like, for messages about a value of the wrong type
ALLOWED_BY_TYPE = {
    "not a valid bool": "true or false",
    "converted to Integer": "a whole number",
    "converted to Float": "a number",
}


def allowed_type(detail: str) -> str:
    """``; allowed: ...`` for OmegaConf's message about a value of the wrong type (else empty)."""
    for phrase, allowed in ALLOWED_BY_TYPE.items():
        if phrase in detail:
            return f"; allowed: {allowed}"
    return ""


def check_hydra_group(group: str, options: list[str], loader: Any = None) -> None:
    """Refuse an unknown option of one of Hydra's own config groups (``hydra/launcher=...``).

    The options are those of the project's own search path (configs/, Hydra and its installed
    plugins), never of a folder the user adds. ``loader``: the config loader of a Hydra instance
    already set up with that search path (else one is made here).
    """
    if loader is not None:
        allowed = sorted(loader.get_group_options(group))
    else:
        from hydra import initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        from sim.config import register_configs

        register_configs()
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
                allowed = sorted(GlobalHydra.instance().config_loader().get_group_options(group))
        finally:
            GlobalHydra.instance().clear()
    if not allowed:
        raise ConfigError(f"{group}: no such Hydra config group")
    for option in options:
        if option not in allowed:
            hint = " (install its extra, see the README's launchers table)" if group == "hydra/launcher" else ""
            raise ConfigError(f"{group}={option}: no such option{hint}; allowed: {allowed}")
        # the repository's own launcher files (slurm_cluster, ray_cluster) build on a plugin's launcher
        own = CONFIG_DIR / group / f"{option}.yaml"
        if own.is_file():
            defaults = (yaml.safe_load(own.read_text()) or {}).get("defaults", [])
            for parent in (d for d in defaults if isinstance(d, str) and d != "_self_"):
                if parent not in allowed:
                    raise ConfigError(
                        f"{group}={option} builds on the {parent!r} launcher, which is not installed here "
                        "(install its extra, see the README's launchers table)"
                    )


def _override_values(override) -> list[str]:
    from hydra.core.override_parser.types import ValueType

    if override.is_sweep_override():
        if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
            raise ConfigError(f"{override.input_line}: glob() sweeps are not supported; list the values (a,b,c)")
        if override.is_discrete_sweep():
            try:
                return [str(v) for v in override.sweep_string_iterator()]
            except Exception as err:  # noqa: BLE001 - Hydra's range() with a zero step, and the like
                raise ConfigError(f"{override.input_line}: cannot be expanded: {str(err).splitlines()[0]}") from None
        return []
    return [str(override.get_value_element_as_str())]


def check_key(key: str) -> None:
    """Refuse a dotted key the schema does not have, listing what is allowed at that level.

    Keys below a list or a free mapping (substances, interventions, params) are checked after
    composition, where the values are known.
    """
    node: Any = Config()
    done: list[str] = []
    for part in key.split("."):
        if not is_dataclass(node):
            return
        names = [f.name for f in fields(node)]
        if part not in names:
            where = ".".join(done) or "the top level"
            raise ConfigError(f"{key}: unknown key {part!r} in {where}; allowed: {sorted(names)}")
        node = getattr(node, part)
        done.append(part)


def _group_file(group: str, option: str) -> Path:
    check_folder_name(group, option)
    path = CONFIG_DIR / group / f"{option}.yaml"
    if not path.is_file():
        allowed = sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))
        raise ConfigError(f"{group}={option}: no such {group}; allowed: {allowed}")
    return path


def searchpath_dirs(args: list[str]) -> list[Path]:
    """The local folders that ``hydra.searchpath=[file://...]`` on the command line adds."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    dirs: list[Path] = []
    for arg in override_args(args):
        if not arg.startswith("hydra.searchpath="):
            continue
        (o,) = OverridesParser.create().parse_overrides([arg])
        value = o.value()
        for entry in value if isinstance(value, list) else [value]:
            text = str(entry)
            if not text.startswith("file://"):
                raise ConfigError(f"{arg}: {text!r}: only local folders (file://PATH) may be added to the search path")
            dirs.append(Path(text.removeprefix("file://")))
    return dirs


def point_file(name: str, dirs: list[Path]) -> Path:
    """The file of design point ``name`` (``<dir>/point/<name>.yaml`` in a search-path folder)."""
    check_folder_name(POINT_GROUP, name)
    for d in dirs:
        path = d / POINT_GROUP / f"{name}.yaml"
        if path.is_file():
            return path
    where = ", ".join(str(d) for d in dirs) or "no folder (add one with hydra.searchpath=[file://PATH])"
    raise ConfigError(f"+{POINT_GROUP}={name}: no such design point in the search path: {where}")


def experiment_names() -> list[str]:
    """Names of the experiment files in ``experiments/``."""
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def check_experiment_file(name: str) -> None:
    """Check ``experiments/<name>.yaml`` as data and against the schema (see module docstring)."""
    check_folder_name("experiment", name)
    path = EXPERIMENTS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"+experiment={name}: no such experiment; allowed: {experiment_names()}")
    check_config_file(path, "experiment")


# ----------------------------------------------------------------------------- files as data
def check_config_file(path: Path, kind: str) -> None:
    """Refuse a config file that is not valid YAML, names code, or holds keys it may not hold.

    Args:
        path: the YAML file.
        kind: ``experiment``, ``scenario``, ``substances`` or ``point`` (a design point).

    Raises:
        ConfigError: naming the file, the line and the key.
    """
    from sim.yamlfiles import read_limited

    where = _display(path)
    data, tree = read_limited(path, where)
    text = path.read_text()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping of config keys, found a {type(data).__name__}")
    package = _package_header(text)
    wanted = "_global_" if kind in ("experiment", "substances", POINT_GROUP) else None
    if package not in (wanted, kind):
        raise ConfigError(
            f"{where}: '# @package {package}' is not allowed; "
            + (f"{kind} files start with '# @package _global_'" if wanted else f"{kind} files have no package line")
        )

    def at(parts: list) -> str:
        line = _line_of(tree, parts)
        return f"{where}{f', line {line}' if line else ''}: {'.'.join(str(p) for p in parts)}"

    for parts, value in _walk(data, []):
        if parts and parts[-1] in CODE_KEYS and not (parts[-1] == "_target_" and value in OWN_CALLBACKS):
            raise ConfigError(f"{at(parts)}: config files are data and cannot name Python code ({parts[-1]})")
    if kind == "experiment":
        _check_experiment_data(data, at)
    else:
        _check_group_data(data, kind, at)


def _check_experiment_data(data: dict, at) -> None:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    for entry in data.get("defaults") or []:
        if "${" in str(entry):
            raise ConfigError(f"{at(['defaults'])}: {str(entry)[:60]!r}: a defaults list names its options, not interpolations")
        text = str(next(iter(entry)) if isinstance(entry, dict) else entry)
        group = text.replace("override", "").strip().lstrip("/")
        if group not in (*GROUPS, "hydra/launcher", "_self_"):
            raise ConfigError(
                f"{at(['defaults'])}: {text!r}: an experiment may select only scenario, substances or hydra/launcher"
            )
    hydra_part = data.get("hydra") or {}
    for parts, _value in _walk(hydra_part, []):
        dotted = ".".join(str(p) for p in parts)
        if not any(dotted == k or dotted.startswith(k + ".") or k.startswith(dotted + ".") for k in EXPERIMENT_HYDRA_KEYS):
            raise ConfigError(
                f"{at(['hydra', *parts])}: experiment files may set only hydra.{', hydra.'.join(EXPERIMENT_HYDRA_KEYS)}"
            )
    sweep_dir = (hydra_part.get("sweep") or {}).get("dir")
    if sweep_dir is not None:
        p = PurePosixPath(str(sweep_dir))
        if p.is_absolute() or ".." in p.parts:
            raise ConfigError(f"{at(['hydra', 'sweep', 'dir'])}={sweep_dir!r}: must be a relative folder without '..'")
    body = {k: v for k, v in data.items() if k not in ("hydra", "defaults")}
    try:
        OmegaConf.merge(OmegaConf.structured(Config), body)
    except OmegaConfBaseException as err:
        parts = str(err.full_key or "").split(".") if err.full_key else []
        raise ConfigError(f"{at(parts)}: {_first_line(err)}{_allowed_at(parts)}") from None
    params = (hydra_part.get("sweeper") or {}).get("params") or {}
    for key, spec in params.items():
        _check_sweep_param(str(key), spec, at(["hydra", "sweeper", "params", key]))


def _check_sweep_param(key: str, spec: Any, where: str) -> None:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    key = key.lstrip("+")
    text = str(spec).strip()
    values = [] if text.startswith(("range(", "glob(", "interval(", "choice(")) else [v.strip() for v in text.split(",")]
    if key in GROUPS:
        # options are looked up on Hydra's search path when the sweep's jobs are composed
        for v in values:
            try:
                check_folder_name(key, v)
            except ConfigError as err:
                raise ConfigError(f"{where}: {err}") from None
        return
    try:
        check_key(key)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    for v in values:
        try:
            OmegaConf.merge(OmegaConf.structured(Config), OmegaConf.from_dotlist([f"{key}={v}"]))
        except OmegaConfBaseException as err:
            raise ConfigError(f"{where}: value {v!r}: {_first_line(err)}") from None


def _check_group_data(data: dict, kind: str, at) -> None:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if "defaults" in data or "hydra" in data:
        key = "defaults" if "defaults" in data else "hydra"
        raise ConfigError(f"{at([key])}: a {kind} file holds only its own values")
    if kind == POINT_GROUP and set(data) - {"model"}:
        raise ConfigError(f"{at([sorted(set(data) - {'model'})[0]])}: a design point holds only 'model' parameters")
    if kind == "substances" and set(data) - {"substances"}:
        raise ConfigError(f"{at([sorted(set(data) - {'substances'})[0]])}: a substances file holds only 'substances'")
    body, skip = ({"scenario": data}, 1) if kind == "scenario" else (data, 0)
    try:
        OmegaConf.merge(OmegaConf.structured(Config), body)
    except OmegaConfBaseException as err:
        parts = str(err.full_key or "").split(".")[skip:]
        raise ConfigError(f"{at(parts)}: {_first_line(err)}") from None


def _allowed_at(parts: list[str]) -> str:
    try:
        check_key(".".join(parts))
    except ConfigError as err:
        return "; " + str(err).split("; ", 1)[-1]
    return ""


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _package_header(text: str) -> str | None:
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("# @package"):
            return s.removeprefix("# @package").strip()
        if s and not s.startswith("#"):
            return None
    return None


def _walk(obj: Any, parts: list):
    """(path parts, value) of every key in nested mappings and lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield [*parts, k], v
            yield from _walk(v, [*parts, k])
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, [*parts, i])


def _line_of(node, parts: list) -> int | None:
    """1-based line of the key at ``parts`` in a composed YAML node tree (None if not found)."""
    line = None
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(k.value) == str(part):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


# ----------------------------------------------------------------------------- memory
#: measured peak memory of a two-year run (benchmarks/bench_run.py): about 250 MB at 20,000 buyers,
#: 470 MB at 200,000 and 1.5 GB at 1,000,000, i.e. a base plus about 1.3 KB per buyer; the
#: estimate adds a margin
BASE_BYTES = 300e6
BYTES_PER_BUYER = 1500.0
ESTIMATE_DAYS = 790


def memory_estimate(cfg) -> float:
    """Estimated peak memory of a run, bytes.

    Buyers (measured per buyer, growing with the horizon beyond two years through orders), plus the
    terms that grow with other settings: buyers' trust, awareness and purchase flags per market
    column (6 bytes each), and vendors' rows (prices, purity, 30-day ring, feedback per market).
    """
    mc = cfg.model
    horizon = cfg.run.days + cfg.run.burn_in_days
    years = horizon / 365.0
    markets = (
        mc.markets.initial_cryptomarkets
        + mc.markets.initial_decentralised
        + mc.markets.initial_webshops
        + years
        * (mc.markets.new_cryptomarkets_per_year + mc.markets.new_decentralised_per_year + mc.markets.new_webshops_per_year)
    )
    market_columns = max(32.0, 2.0 * markets)  # capacity doubles
    tech_buyers = mc.n_buyers * mc.buyers.tech_skill_share
    vendors = max(3.0, mc.vendors.vendors_per_1000_online_buyers * tech_buyers / 1000.0) * (1.0 + years)
    vendor_bytes = vendors * 8.0 * (3 * len(cfg.substances) + 30 + 2 * market_columns)
    # the population holds the users and the people at risk; per person: a row of per-market state
    # (trust 4 bytes, awareness and bought 1 each) and one byte per substance (distrust)
    people = mc.n_buyers * (1.0 + mc.demand.potential_users_per_user)
    buyer_market_bytes = people * (market_columns * 6.0 + len(cfg.substances))
    return BASE_BYTES + people * BYTES_PER_BUYER * max(1.0, horizon / ESTIMATE_DAYS) + vendor_bytes + buyer_market_bytes


def memory_available() -> tuple[float, str]:
    """Memory this process may still use, bytes, and where the limit comes from."""
    limits: list[tuple[float, str]] = []
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        limits.append((float(info["MemAvailable"].split()[0]) * 1024, "available memory of the machine"))
    except (OSError, KeyError, ValueError):
        pass
    try:
        cg = Path("/sys/fs/cgroup")
        top = (cg / "memory.max").read_text().strip()
        if top != "max":
            used = float((cg / "memory.current").read_text())
            limits.append((float(top) - used, "the memory limit of this container"))
    except (OSError, ValueError):
        pass
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            vm = Path(f"/proc/{os.getpid()}/status").read_text()
            size = next(float(line.split()[1]) * 1024 for line in vm.splitlines() if line.startswith("VmSize:"))
        except (OSError, StopIteration, ValueError):
            size = 0.0
        limits.append((soft - size, "the address-space limit (ulimit -v)"))
    return min(limits) if limits else (float("inf"), "no known limit")


#: settings the memory estimate grows with, in the order a message names them when they tie
MEMORY_KEYS = (
    "model.n_buyers",
    "model.demand.potential_users_per_user",
    "run.days",
    "run.burn_in_days",
    "model.markets.initial_cryptomarkets",
    "model.markets.initial_decentralised",
    "model.markets.initial_webshops",
    "model.markets.new_cryptomarkets_per_year",
    "model.markets.new_decentralised_per_year",
    "model.markets.new_webshops_per_year",
    "model.buyers.tech_skill_share",
    "model.vendors.vendors_per_1000_online_buyers",
)


def memory_culprit(cfg) -> tuple[str, Any]:
    """The setting (key, value) whose return to its default lowers the memory estimate most.

    ``model.n_buyers`` when no setting's default lowers it (the population is what is large).
    """
    import copy

    need, default = memory_estimate(cfg), Config()
    best, best_gain = "model.n_buyers", 0.0
    for key in MEMORY_KEYS:
        *path, leaf = key.split(".")
        trial: Any = copy.deepcopy(cfg)
        obj, ref = trial, default
        for part in path:
            obj, ref = getattr(obj, part), getattr(ref, part)
        setattr(obj, leaf, getattr(ref, leaf))
        gain = need - memory_estimate(trial)
        if gain > best_gain:
            best, best_gain = key, gain
    value: Any = cfg
    for part in best.split("."):
        value = getattr(value, part)
    return best, value


def check_memory(cfg) -> None:
    """Refuse a run whose estimated memory exceeds what this process may use.

    Raises:
        ConfigError: naming the setting that weighs most (:func:`memory_culprit`), the estimate and the limit.
    """
    if not cfg.run.check_memory:
        return
    need = memory_estimate(cfg)
    have, source = memory_available()
    if need > have:
        key, value = memory_culprit(cfg)
        others = ", ".join(k for k in ("model.n_buyers", "run.days") if k != key) + ", the number of markets or vendors"
        raise ConfigError(
            f"{key}={value}: a run of {cfg.run.days} days with these settings needs about "
            f"{need / 1e9:.1f} GB of memory, more than {max(have, 0) / 1e9:.1f} GB ({source}); lower {key} "
            f"(or {others}), or set run.check_memory=false if you know better"
        )
