"""Reading configuration files as bounded data: size, node count, depth and duplicate keys.

Researchers exchange scenario, experiment and substance files, so a file is untrusted input. YAML
aliases make a small file describe an exponentially large tree (a "billion laughs" file), which
OmegaConf expands when Hydra loads it; a duplicate key silently keeps one of two values. Every
file that Hydra may load is read here first, within these limits, and refused with a one-line
message naming the file (and line) otherwise. Counting the expanded size needs no expansion: the
size of each node is memoised, so the count is linear in the file.
"""

from __future__ import annotations

from pathlib import Path
from stat import S_ISREG
from typing import Any

import yaml

from sim.errors import ConfigError

#: largest config file read, bytes: the biggest shipped file is a few KB; a scenario of hundreds of
#: interventions still fits
MAX_BYTES = 256 * 1024
#: most nodes of a file's tree with every alias expanded (what OmegaConf would build)
MAX_NODES = 20_000
#: deepest nesting of mappings and lists (the schema is five levels deep)
MAX_DEPTH = 24

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_limited(path: Path, where: str | None = None) -> tuple[Any, yaml.Node | None]:
    """Parse ``path`` within the limits; return ``(data, node tree)``.

    Args:
        path: the YAML file.
        where: how messages name the file (default: the path).

    Raises:
        ConfigError: the file cannot be read, is too large, is not valid YAML, expands to too many
            nodes or too deep a tree, or repeats a key in a mapping (naming the line).
    """
    where = where or str(path)
    try:
        stat = path.stat()
        if not S_ISREG(stat.st_mode):  # a FIFO or device would block the read or never end
            raise ConfigError(f"{where}: not a regular file")
        if stat.st_size > MAX_BYTES:
            raise ConfigError(f"{where}: {stat.st_size:,} bytes; config files may hold at most {MAX_BYTES:,} bytes")
        key = (str(path), stat.st_mtime_ns, stat.st_size, where)
        if key in _READ:
            return _READ[key]
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{where}: cannot be read: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{where}: not UTF-8 text (byte {err.start})") from None
    _READ[key] = parse_limited(text, where)
    return _READ[key]


#: files read in this process, by path, modification time, size and name in messages: the same
#: files are read for every job of a sweep
_READ: dict[tuple[str, int, int, str], tuple[Any, yaml.Node | None]] = {}


def parse_limited(text: str, where: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML ``text`` within the limits (see :func:`read_limited`)."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ConfigError(f"{where}: config text may hold at most {MAX_BYTES:,} bytes")
    try:
        tree = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}{_line(err)}: not valid YAML: {_problem(err)}") from None
    if tree is not None:
        check_tree(tree, where)
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}{_line(err)}: not valid YAML: {_problem(err)}") from None
    return data, tree


def check_tree(tree: yaml.Node, where: str) -> None:
    """Refuse a node tree that expands too far, nests too deep, or repeats a mapping key.

    Raises:
        ConfigError: naming the file and, for a repeated key, its line.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    # iterative post-order walk: a deep file must not exhaust Python's recursion limit here
    stack: list[tuple[yaml.Node, bool]] = [(tree, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = _children(node)
            sizes[key] = 1 + sum(sizes[id(k)] for k in kids)
            depths[key] = 1 + max((depths[id(k)] for k in kids), default=0)
            if sizes[key] > MAX_NODES:
                raise ConfigError(
                    f"{where}: expands to more than {MAX_NODES:,} values (YAML aliases repeat parts of the file); "
                    "write the values out or split the file"
                )
            if depths[key] > MAX_DEPTH:
                raise ConfigError(f"{where}: nests deeper than {MAX_DEPTH} levels")
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ConfigError(f"{where}: an alias refers to a node that contains it (a recursive structure)")
        on_path.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for k, _v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen and k.value != "<<":
                        raise ConfigError(
                            f"{where}, line {k.start_mark.line + 1}: key {k.value!r} appears twice in one mapping "
                            f"(first on line {seen[k.value]}); keep one"
                        )
                    seen[k.value] = k.start_mark.line + 1
        stack.extend((k, False) for k in _children(node) if id(k) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _line(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    return f", line {mark.line + 1}" if mark is not None else ""


def _problem(err: yaml.YAMLError) -> str:
    return str(getattr(err, "problem", None) or str(err).splitlines()[0])
