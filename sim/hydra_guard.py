"""Check what Hydra will compose, before Hydra runs anything: configuration files are data.

Hydra builds a job from many places: the search path (which folder's file wins), defaults lists
(an experiment may select a scenario, a scenario file may carry ``# @package _global_``), sweeper
parameters, interpolations and the command line. Checking files by name or override text misses
all but the last, so :func:`check_invocation` composes every job exactly as Hydra will (Hydra's own
argument parser, search path, config loader and sweeper split), resolves what must be resolved,
and checks the result:

* **The ``hydra`` node** may differ from the project's own (the same launcher, without the user's
  files and overrides) only in :data:`CLI_HYDRA_KEYS` when set on the command line, and only in
  :data:`FILE_HYDRA_KEYS` when set by a file. So no file or override adds a callback, changes
  logging, sets environment variables (``env_set``, ``env_copy``), moves ``.hydra``, or changes
  the sweeper; launcher settings beyond ``n_jobs`` come only from the command line.
* **Folders**: a sweep folder set by a file must resolve to a relative path without ``..``; no run
  or sweep folder may be a file or lie inside another run's or sweep's folder.
* **The task's values** are literal data: no Hydra instantiation keys (``_target_``), no resolver
  (``${oc.env:..}``, ``${now:..}``), so a run's recorded ``config.yaml`` is what ran; the scenario
  name is a literal and, where it is the name of a scenario file, has that file's interventions.
* **Every file Hydra may load** is first read within the limits of :mod:`sim.yamlfiles` (size,
  alias expansion, depth, duplicate keys), and each file Hydra chose for a config group is checked
  as data by :func:`sim.preflight.check_config_file`, for messages that name file and line.

Every refusal is a :class:`sim.errors.ConfigError` with one line; nothing has run or been written.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sim.config import EXPERIMENTS_DIR, check_folder_name, register_configs
from sim.errors import ConfigError
from sim.preflight import CODE_KEYS, CONFIG_DIR, GROUPS, POINT_GROUP, check_config_file, composition_error
from sim.yamlfiles import read_limited

#: ``hydra.*`` keys the command line may set (prefixes): output folders, the launcher's settings,
#: the user's own configuration folders, and which overrides name a job's folder
CLI_HYDRA_KEYS = (
    "hydra.run.dir",
    "hydra.sweep.dir",
    "hydra.launcher",
    "hydra.searchpath",
    "hydra.job.config.override_dirname.exclude_keys",
    "hydra.verbose",
)
#: ``hydra.*`` keys an experiment file may set: its sweep folder, its sweep and its parallelism
FILE_HYDRA_KEYS = ("hydra.sweep.dir", "hydra.sweeper.params", "hydra.launcher.n_jobs")
#: parts of the composed ``hydra`` node that Hydra fills in itself while composing
RUNTIME_HYDRA_KEYS = ("hydra.overrides", "hydra.runtime", "hydra.job.override_dirname", "hydra.mode")
#: Hydra's command-line flags that would take the configuration from elsewhere or load a pickle
REFUSED_FLAGS = {
    "config_path": "--config-path/-cp",
    "config_name": "--config-name/-cn",
    "config_dir": "--config-dir/-cd",
    "experimental_rerun": "--experimental-rerun",
}
#: config groups whose chosen file is checked as data (with file and line in messages)
DATA_GROUPS = (*GROUPS, "experiment", POINT_GROUP)
#: a resolver call inside an interpolation (``${name:...}``) or a reference to Hydra's own node
#: (``${hydra.job.num}``): a value that depends on the environment, the clock or the launcher
RESOLVER = re.compile(r"\$\{\s*(?:[\w.\-]+\s*:|hydra\.)")
#: longest value echoed in a message (an environment value such as PATH must not be printed whole)
ECHO_CHARS = 60
RUN_PY = Path(__file__).resolve().parent.parent / "run.py"


@dataclass
class Invocation:
    """What a checked command line will do."""

    args: argparse.Namespace
    multirun: bool
    #: overrides of every job (one list for a single run)
    jobs: list[list[str]] = field(default_factory=list)
    #: the composed config of every job (Hydra's node included)
    configs: list[DictConfig] = field(default_factory=list)
    #: swept keys (sweeps only)
    swept: list[str] = field(default_factory=list)
    #: whether anything will run (False for --help, --cfg, --info, ...)
    runs: bool = True


#: the composed configuration of every sweep job this process checked, by its overrides: the
#: sweep's guard (sim.callbacks) reuses them instead of composing every job a second time
CHECKED_JOBS: dict[tuple[str, ...], DictConfig] = {}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise ConfigError(f"{message} (python run.py --help lists the options)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Hydra's own command-line parser, with errors as one-line :class:`ConfigError` (``--version`` exits)."""
    from hydra._internal.utils import get_args_parser

    base = get_args_parser()
    parser = _Parser(add_help=False, description=base.description)
    for action in base._actions:
        parser._add_action(action)
    # overrides may stand before and after flags (``run.py seed=1 --cfg job``), as Hydra's users write them
    return parser.parse_intermixed_args(argv)


def check_invocation(argv: list[str], validate: Callable[[DictConfig], Any] | None = None) -> Invocation:
    """Compose every job of ``run.py ARGV`` as Hydra will and check it (see the module docstring).

    Args:
        argv: the command-line arguments of ``run.py``.
        validate: checks one composed job's values against the schema and its rules
            (:func:`sim.runner.to_config`), after the checks here.

    Raises:
        ConfigError: one line naming what is wrong, where, and what is allowed.
    """
    from sim.preflight import check_command_line

    args = parse_args(argv)
    for attr, flag in REFUSED_FLAGS.items():
        if getattr(args, attr, None):
            raise ConfigError(
                f"{flag}: not supported: the configuration is configs/ with experiments/; "
                "add a folder of your own files with hydra.searchpath=[file://PATH]"
            )
    overrides = list(args.overrides)
    multirun = bool(args.multirun)
    if args.hydra_help and overrides:
        raise ConfigError("--hydra-help: shows Hydra's own help and takes no overrides")
    modes = [
        m
        for m, on in (("-m", multirun), ("--cfg", args.cfg), ("--info", args.info), ("--shell-completion", args.shell_completion))
        if on
    ]
    if len(modes) > 1:
        raise ConfigError(f"{' and '.join(modes)}: give only one of -m, --cfg, --info and --shell-completion")
    check_command_line([*(["-m"] if multirun else []), *overrides], multirun=multirun)
    check_hydra_overrides(overrides)
    check_literal(overrides, "on the command line")
    user_dirs = searchpath_folders(overrides)
    named = named_files(overrides, user_dirs)
    runs = not (args.help or args.hydra_help or args.cfg or args.info or args.shell_completion)
    inv = Invocation(args=args, multirun=multirun, runs=runs)
    with hydra_loader() as hydra:
        try:
            master = _compose(hydra, overrides, multirun)
        except ConfigError:
            for path, group in named:  # a file named on the command line explains it with file and line
                check_config_file(path, group)
            raise
        cli_keys = _hydra_override_keys(master)
        check_hydra_node(hydra, master, cli_keys, multirun)
        if multirun:
            raw_params = _raw(master, "hydra.sweeper.params") or {}  # as written: iterating a DictConfig resolves
            params = [f"{k}={v}" for k, v in raw_params.items()]
            check_literal(params, "in hydra.sweeper.params")
            try:
                found = sweep_jobs(master)
            except ConfigError:
                raise
            except Exception as err:  # noqa: BLE001 - Hydra's sweep parsing (a zero range step)
                raise ConfigError(
                    f"the sweep's values cannot be expanded: {str(err).splitlines()[0] if str(err) else err}"
                ) from None
            if found is None:  # refused by check_hydra_node already: another sweeper
                raise ConfigError("hydra.sweeper: only Hydra's basic sweeper is supported")
            inv.jobs, inv.swept = found
            if not inv.jobs:
                raise ConfigError("the sweep has no jobs (an empty range?)")
            loader = hydra.config_loader
            if len(inv.jobs) > 50:
                print(f"[check] composing and checking {len(inv.jobs)} jobs before any runs", file=sys.stderr, flush=True)
            for job in inv.jobs:
                try:
                    job_cfg = loader.load_sweep_config(master, list(job))
                except Exception as err:  # noqa: BLE001 - Hydra's composition errors, as one line
                    raise ConfigError(f"job {' '.join(job)}: {_composition_message(err, job)}") from None
                try:
                    if _raw(job_cfg, "hydra.sweep.dir") != _raw(master, "hydra.sweep.dir"):
                        raise ConfigError("a job may not change hydra.sweep.dir (a file it selects sets another)")
                    check_hydra_node(hydra, job_cfg, cli_keys, multirun=False)
                    check_task(job_cfg, validate)
                except ConfigError as err:
                    raise ConfigError(f"job {' '.join(job) or '(no overrides)'}: {err}") from None
                inv.configs.append(job_cfg)
                CHECKED_JOBS[tuple(job)] = job_cfg
            check_folder(master, "hydra.sweep.dir", cli_keys)
            n_jobs = OmegaConf.select(master, "hydra.launcher.n_jobs", default=None)
            if n_jobs is not None and (
                not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0 or abs(n_jobs) > 4096
            ):
                raise ConfigError(
                    f"hydra.launcher.n_jobs={_short(n_jobs)}: a whole number of parallel jobs, not 0, at most 4096 "
                    "(negative: all cores but n-1)"
                )
        else:
            check_task(master, validate if runs else None)
            inv.jobs, inv.configs = [overrides], [master]
            if runs:
                check_folder(master, "hydra.run.dir", cli_keys)
    return inv


# ----------------------------------------------------------------------------- composing
@contextmanager
def hydra_loader() -> Iterator[Any]:
    """A Hydra instance with run.py's search path (configs/, Hydra's and its plugins' own)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    install_bounded_file_source()
    GlobalHydra.instance().clear()
    try:
        # Hydra warns (several lines) about a user file named like a stored config; what matters
        # about such a file is checked on the composition
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name=RUN_PY.stem):
                yield GlobalHydra.instance().hydra
    finally:
        GlobalHydra.instance().clear()


def _compose(hydra: Any, overrides: list[str], multirun: bool) -> DictConfig:
    from hydra.types import RunMode

    try:
        return hydra.compose_config(
            "config", list(overrides), run_mode=RunMode.MULTIRUN if multirun else RunMode.RUN, with_log_configuration=False
        )
    except Exception as err:  # noqa: BLE001 - Hydra's composition errors, as one line
        raise ConfigError(_composition_message(err, overrides)) from None


def _composition_message(err: Exception, overrides: list[str]) -> str:
    """One line for Hydra's composition error; a missing group option lists the options there are."""
    from hydra.errors import MissingConfigException

    cause: BaseException | None = err
    while cause is not None:  # a file refused by the bounded reader, wrapped by Hydra
        if isinstance(cause, ConfigError):
            return str(cause)
        cause = cause.__cause__ or cause.__context__
    first = str(err).splitlines()[0] if str(err) else ""
    lines = str(err).splitlines()
    if first.endswith("raised while composing config:") and len(lines) > 1:
        inner = err.__cause__ or err.__context__
        key = getattr(inner, "full_key", None)
        return f"{first.split(':')[0]}: {f'{key}: ' if key else ''}{lines[1].strip()}"
    if isinstance(err, MissingConfigException):
        text = str(err).splitlines()[0]
        m = re.search(r"Could not find '([\w/]+)/([^']+)'", text)
        if m:
            group, option = m.group(1), m.group(2)
            stored = EXPERIMENTS_DIR / f"{option}.yaml"
            if group == "experiment" and stored.is_file():  # left out of the store: say why
                check_config_file(stored, "experiment")
            options = getattr(err, "options", None) or []
            return f"{group}={option}: no such {group}; allowed: {sorted(options)}"
        return text
    return str(composition_error(err))


def _hydra_override_keys(cfg: DictConfig) -> list[str]:
    """Keys (dotted; groups with '/') that the command line sets under ``hydra``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    lines = list(cfg.hydra.overrides.hydra)
    return [o.key_or_group for o in OverridesParser.create().parse_overrides(lines)]


def _raw(cfg: DictConfig, key: str) -> Any:
    """The value at ``key`` as written, interpolations unresolved."""
    *path, leaf = key.split(".")
    node = OmegaConf.select(cfg, ".".join(path))
    data = OmegaConf.to_container(node, resolve=False) if node is not None else None
    return data.get(leaf) if isinstance(data, dict) else None


def sweep_jobs(config: DictConfig) -> tuple[list[list[str]], list[str]] | None:
    """The override lists of every job of a sweep run by Hydra's basic sweeper, and the swept keys.

    The jobs are split as :class:`BasicSweeper` splits them (its parameters, then the command
    line's overrides). None for another sweeper.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if "BasicSweeper" not in str(config.hydra.sweeper.get("_target_", "")):
        return None
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    for text in [*params, *config.hydra.overrides.task]:
        if "=glob(" in text.replace(" ", ""):
            raise ConfigError(f"{_short(text)}: glob() sweeps are not supported; list the values (a,b,c)")
    overrides = OverridesParser.create().parse_overrides([*params, *config.hydra.overrides.task])
    swept = sorted({o.key_or_group.lstrip("+~") for o in overrides if o.is_sweep_override()})
    batches = BasicSweeper.split_arguments(overrides, None)
    return [job for batch in batches for job in batch], swept


# ----------------------------------------------------------------------------- the hydra node
def check_literal(overrides: list[str], where: str) -> None:
    """Refuse an override whose value holds an interpolation (``${...}``).

    Hydra names a sweep job's folder after the override's text but composes its resolved value,
    so an interpolated value could name a folder outside the sweep; and a value from a resolver
    (the environment, the clock) is not recorded: values are written out.
    """
    for arg in overrides:
        key, _, value = arg.partition("=")
        if "${" in value and not key.lstrip("+~").startswith("hydra."):
            raise ConfigError(
                f"{_short(arg)}: values {where} are written out, not interpolated (${{...}}); write the value itself"
            )


def named_files(overrides: list[str], user_dirs: list[Path]) -> list[tuple[Path, str]]:
    """The files that the command line's group options name, where Hydra would find them.

    The user's folders come first, as on Hydra's search path; then ``configs/`` and
    ``experiments/``. A design point must be in a user's folder (the design commands write them
    there).

    Raises:
        ConfigError: ``+point=NAME`` that no folder on the search path holds.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from sim.preflight import _override_values, point_file

    found: list[tuple[Path, str]] = []
    for arg in overrides:
        (o,) = OverridesParser.create().parse_overrides([arg])
        group = o.key_or_group
        if group not in DATA_GROUPS:
            continue
        for option in _override_values(o):
            check_folder_name(group, option)
            if group == POINT_GROUP:
                found.append((point_file(option, user_dirs), group))
                continue
            shipped = EXPERIMENTS_DIR if group == "experiment" else CONFIG_DIR / group
            mine = [d / group / f"{option}.yaml" for d in user_dirs if (d / group / f"{option}.yaml").is_file()]
            if mine and (shipped / f"{option}.yaml").is_file():
                raise ConfigError(
                    f"{group}={option}: both {mine[0]} and the shipped {_short(shipped.name)}/{option}.yaml exist, and only "
                    "one would be used; give your file another name"
                )
            for folder in [*(d / group for d in user_dirs), shipped]:
                if (folder / f"{option}.yaml").is_file():
                    found.append((folder / f"{option}.yaml", group))
                    break
    return found


def check_hydra_overrides(overrides: list[str]) -> None:
    """Refuse a command-line override under ``hydra`` outside :data:`CLI_HYDRA_KEYS` (one line)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for arg in overrides:
        (o,) = parser.parse_overrides([arg])
        key = o.key_or_group
        if key.startswith("hydra/"):
            if key != "hydra/launcher":
                raise ConfigError(f"{arg}: only the launcher may be chosen among Hydra's config groups (hydra/launcher=...)")
            continue
        if not key.startswith("hydra.") and key != "hydra":
            continue
        if not any(key == k or key.startswith(k + ".") for k in CLI_HYDRA_KEYS):
            raise ConfigError(
                f"{_short(arg)}: this Hydra setting cannot be changed; allowed under hydra: {', '.join(CLI_HYDRA_KEYS)} "
                "and hydra/launcher=NAME"
            )
        if set(key.split(".")) & set(CODE_KEYS):
            raise ConfigError(f"{_short(arg)}: settings may not name Python code ({'/'.join(CODE_KEYS)})")


def searchpath_folders(overrides: list[str]) -> list[Path]:
    """The folders ``hydra.searchpath=[file://...]`` adds; each must be an existing local folder.

    Raises:
        ConfigError: another kind of entry (``pkg://`` imports Python packages), or no such folder.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    dirs: list[Path] = []
    for arg in overrides:
        (o,) = OverridesParser.create().parse_overrides([arg])
        if o.key_or_group != "hydra.searchpath":
            continue
        if o.is_sweep_override():
            raise ConfigError(f"{_short(arg)}: the search path cannot be swept")
        value = o.value()
        for entry in value if isinstance(value, list) else [value]:
            text = str(entry)
            if not text.startswith("file://"):
                raise ConfigError(
                    f"{_short(arg)}: {_short(text)!r}: only local folders of configuration files (file://PATH) may be added"
                )
            folder = Path(text.removeprefix("file://"))
            if not folder.is_dir():
                raise ConfigError(f"{_short(arg)}: {folder}: no such folder")
            dirs.append(folder)
    return dirs


def install_bounded_file_source() -> None:
    """Make Hydra read every configuration file through :func:`sim.yamlfiles.read_limited` first.

    Hydra loads a file only when a defaults list, an override or a sweep chooses it; checking it
    there, rather than scanning folders, checks exactly the files Hydra loads (in the guard's
    composition and in Hydra's own), and a broken file breaks only the commands that use it.
    Hydra keeps one source class per scheme; this one replaces its ``file://`` source.
    """
    from hydra._internal.sources_registry import SourcesRegistry
    from hydra.core.plugins import Plugins

    Plugins.instance()  # registers Hydra's own sources (its plugin scan loads their modules anew)
    registry = SourcesRegistry.instance()
    hydra_source = registry.types["file"]
    if getattr(hydra_source, "bounded", False):
        return

    class FileConfigSource(hydra_source):  # type: ignore[valid-type,misc]  # the same name: Hydra's registry keeps it
        bounded = True

        def load_config(self, config_path: str) -> Any:
            full = os.path.realpath(os.path.join(self.path, self._normalize_file_name(config_path)))
            if os.path.isfile(full):
                from sim.preflight import _display

                read_limited(Path(full), _display(Path(full)))
            return super().load_config(config_path)

    registry.types["file"] = FileConfigSource


_REFERENCE: dict[tuple[bool, str], dict[str, Any]] = {}


def reference_hydra(hydra: Any, multirun: bool, launcher: str) -> dict[str, Any]:
    """The project's own ``hydra`` node with ``launcher``, flattened (unresolved values)."""
    key = (multirun, launcher)
    if key not in _REFERENCE:
        overrides = [] if launcher == "basic" else [f"hydra/launcher={launcher}"]
        cfg = _compose(hydra, overrides, multirun)
        _REFERENCE[key] = _flat(OmegaConf.to_container(cfg.hydra, resolve=False), "hydra")
    return _REFERENCE[key]


def check_hydra_node(hydra: Any, cfg: DictConfig, cli_keys: list[str], multirun: bool) -> None:
    """Refuse a composed ``hydra`` node that differs from the project's beyond the allow-lists.

    The launcher choice is checked among the launchers the project ships or has installed (not a
    user folder's); the reference is composed with the same launcher, so its settings compare.
    """
    from sim.preflight import check_hydra_group

    launcher = str(cfg.hydra.runtime.choices.get("hydra/launcher", "basic"))
    check_hydra_group("hydra/launcher", [launcher], loader=hydra.config_loader)
    ref = reference_hydra(hydra, multirun, launcher)
    now = _flat(OmegaConf.to_container(cfg.hydra, resolve=False), "hydra")
    # keys present now first: a message names what was added rather than the empty node it replaced
    for key in sorted(set(ref) | set(now), key=lambda k: (k not in now, k)):
        if key.startswith(RUNTIME_HYDRA_KEYS) or ref.get(key, _UNSET) == now.get(key, _UNSET):
            continue
        from_cli = any(key == k or key.startswith(k + ".") for k in cli_keys)
        allowed = CLI_HYDRA_KEYS if from_cli else FILE_HYDRA_KEYS
        where = "on the command line" if from_cli else "by a configuration file"
        if not any(key == k or key.startswith(k + ".") for k in allowed):
            origin = "" if from_cli else setting_file(cfg, key)
            raise ConfigError(
                f"{origin}{key}={_short(now.get(key, '(removed)'))}: may not be set {where}; "
                f"{'a file' if not from_cli else 'the command line'} may set only {', '.join(allowed)}"
            )
        if set(key.split(".")) & set(CODE_KEYS):
            raise ConfigError(f"{key}: settings may not name Python code ({'/'.join(CODE_KEYS)})")
    check_hydra_classes(cfg)


_UNSET = object()


def check_hydra_classes(cfg: DictConfig) -> None:
    """The classes Hydra will instantiate are the project's callbacks, the basic sweeper and an installed launcher.

    This holds even where the project's own config files were changed: the comparison with the
    project's composition cannot see a change made to the project itself.
    """
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher

    from sim.preflight import OWN_CALLBACKS

    for name, node in (OmegaConf.select(cfg, "hydra.callbacks") or {}).items():
        target = str(OmegaConf.select(node, "_target_", default=""))
        if target not in OWN_CALLBACKS:
            raise ConfigError(f"hydra.callbacks.{name}._target_={_short(target)}: only the project's callbacks may run")
    sweeper = str(OmegaConf.select(cfg, "hydra.sweeper._target_", default=""))
    if sweeper != "hydra._internal.core_plugins.basic_sweeper.BasicSweeper":
        raise ConfigError(f"hydra.sweeper._target_={_short(sweeper)}: only Hydra's basic sweeper is supported")
    launchers = {f"{c.__module__}.{c.__name__}" for c in Plugins.instance().discover(Launcher)}
    target = str(OmegaConf.select(cfg, "hydra.launcher._target_", default=""))
    if target not in launchers:
        raise ConfigError(f"hydra.launcher._target_={_short(target)}: not an installed launcher; installed: {sorted(launchers)}")


def setting_file(cfg: DictConfig, key: str) -> str:
    """``FILE, line N: `` of the chosen config file that sets ``key`` (empty if none is found)."""
    from sim.preflight import _display, _line_of

    choices = dict(cfg.hydra.runtime.choices)
    sources = list(cfg.hydra.runtime.config_sources)
    parts = key.split(".")
    for group in DATA_GROUPS:
        option = choices.get(group)
        path = chosen_file(sources, group, str(option)) if option is not None else None
        if path is None:
            continue
        data, tree = read_limited(path)
        node, found = data, 0
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                break
            node, found = node[part], found + 1
        if found >= 2:  # hydra and at least one key below it
            line = _line_of(tree, parts[:found])
            return f"{_display(path)}{f', line {line}' if line else ''}: "
    return ""


def _flat(obj: Any, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        if not obj:
            out[prefix] = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}.{k}"))
    elif isinstance(obj, list):
        if not obj:
            out[prefix] = []
        for i, v in enumerate(obj):
            out.update(_flat(v, f"{prefix}.{i}"))
    else:
        out[prefix] = obj
    return out


# ----------------------------------------------------------------------------- folders
def check_folder(cfg: DictConfig, key: str, cli_keys: list[str]) -> Path:
    """Resolve the run or sweep folder and refuse one that is unsafe (see the module docstring).

    Returns:
        The folder, absolute.
    """
    from omegaconf.errors import OmegaConfBaseException

    raw = OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
    try:
        text = str(OmegaConf.select(cfg, key))
    except OmegaConfBaseException as err:
        raise ConfigError(f"{key}: cannot be resolved: {str(err).splitlines()[0]}") from None
    from_cli = key in cli_keys
    if not from_cli:
        p = PurePosixPath(text)
        if p.is_absolute() or ".." in p.parts or not text.strip():
            raise ConfigError(
                f"{key}={_short(text)!r}: a folder set by a configuration file must be relative to the working folder, "
                "without '..'" + (f" (from {_short(raw)})" if raw != text else "")
            )
    folder = Path(os.path.abspath(text))
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{key}={folder}: is a file, not a folder")
    package = RUN_PY.parent / "sim"
    if folder == package or package in folder.parents:
        raise ConfigError(f"{key}={folder}: lies inside the model's code ({package}), whose files fingerprint the code")
    check_not_nested(folder, key)
    return folder


def check_not_nested(folder: Path, key: str) -> None:
    """Refuse a folder inside another run's or sweep's folder (their collections would mix them).

    Raises:
        ConfigError: naming the run or sweep folder above.
    """
    from sim.rundir import STATUS_FILE, SWEEP_FILE

    for parent in folder.parents:
        for marker, kind in ((SWEEP_FILE, "sweep"), (STATUS_FILE, "run"), (".hydra", "run")):
            if (parent / marker).exists():
                raise ConfigError(f"{key}={folder}: lies inside the {kind} folder {parent}; choose a folder outside it")


# ----------------------------------------------------------------------------- the task
def check_task(cfg: DictConfig, validate: Callable[[DictConfig], Any] | None = None) -> None:
    """Check a composed job's own values and the files chosen for its config groups.

    ``validate`` (the schema's checks) runs after the data checks and before the scenario's label
    is compared with its file, so a bad value is named before a mismatched name.

    Raises:
        ConfigError: a chosen file that is not clean data (with file and line), an instantiation
            key, a resolver, a scenario name that is not literal or not its file's, a bad value.
    """
    choices = dict(cfg.hydra.runtime.choices)
    sources = list(cfg.hydra.runtime.config_sources)
    for group in DATA_GROUPS:
        option = choices.get(group)
        if option is None:
            continue
        check_folder_name(group, str(option))
        path = chosen_file(sources, group, str(option))
        if path is not None:
            check_config_file(path, group)
    task = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(task, dict)
    task.pop("hydra", None)
    for key, value in _flat(task, "").items():
        parts = key.strip(".").split(".")
        if set(parts) & set(CODE_KEYS):
            raise ConfigError(f"{key.strip('.')}: configuration values are data and cannot name Python code ({parts[-1]})")
        if isinstance(value, str) and RESOLVER.search(value):
            raise ConfigError(
                f"{key.strip('.')}={_short(value)}: values may not come from resolvers (the environment, the clock, ...): "
                "a run must be reproducible from its recorded config; write the value itself"
            )
    name = OmegaConf.select(cfg, "scenario.name", throw_on_resolution_failure=False)
    raw_name = task.get("scenario", {}).get("name") if isinstance(task.get("scenario"), dict) else None
    if isinstance(raw_name, str) and "${" in raw_name:
        raise ConfigError(f"scenario.name={_short(raw_name)}: a scenario's name must be written out, not interpolated")
    if validate is not None:
        validate(cfg)
    check_scenario_label(cfg, sources, str(name))


def chosen_file(sources: list[Any], group: str, option: str) -> Path | None:
    """The file Hydra loads for ``group=option``: the first search-path source that has it."""
    from hydra.core.config_store import ConfigStore

    for src in sources:
        schema, path = str(src.schema), str(src.path)
        if schema == "file":
            candidate = Path(path) / group / f"{option}.yaml"
            if candidate.is_file():
                return candidate
        elif schema == "structured":
            try:
                ConfigStore.instance().load(f"{group}/{option}.yaml")
            except Exception:  # noqa: BLE001 - not in the store
                continue
            candidate = EXPERIMENTS_DIR / f"{option}.yaml"
            return candidate if group == "experiment" and candidate.is_file() else None
    return None


def check_scenario_label(cfg: DictConfig, sources: list[Any], name: str) -> None:
    """Refuse a scenario named after a scenario file whose interventions it does not have.

    A run labelled ``takedown`` must be a takedown: sweeps, tables and figures group runs by name.
    """
    path = chosen_file(sources, "scenario", name)
    if path is None:
        return
    data, _tree = read_limited(path)
    file_kinds = [str(iv.get("name")) for iv in (data or {}).get("interventions") or [] if isinstance(iv, dict)]
    kinds = [str(iv.name) for iv in cfg.scenario.interventions]
    if kinds != file_kinds:
        raise ConfigError(
            f"scenario.name={name}: the name of the scenario file {path.name}, whose interventions are {file_kinds or 'none'}, "
            f"but this run's are {kinds or 'none'}; give the run a name of its own (scenario.name=...)"
        )


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 3] + "..."
