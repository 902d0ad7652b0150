"""Reading params.yaml, and every other YAML file or value ferpipe reads, into plain data, as DVC reads it;
`ferpipe.core.settings` checks it.

DVC reads params with ruamel.yaml in YAML 1.2 (`dvc.utils.serialize.parse_yaml`), PyYAML and most other
tools in YAML 1.1, and the two disagree on some plain values: `010` is 10 to one and 8 to the other, `yes`
the string "yes" or true, `1:30` a string or 90, `1e3` a float or a string. So ferpipe reads with DVC's
loader, and refuses a plain value that a YAML 1.1 reader reads otherwise, naming its key: what DVC records
(`dvc params diff`, `dvc exp show`) is then what ran, whatever tool reads the file.

Only plain data is read: a value that is a set, an ordered map, binary or a date, and a key that is a
list or mapping (`? [a, b] : 1`), is an error naming its key. A key given twice in one mapping is an error
(YAML loaders keep the last silently), and nesting is measured on the parser's events, which need no
recursion, before the recursive composer builds the document.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml as yaml11
from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import ScalarNode

from ferpipe.core.errors import SHOWN, FerpipeError, shown
from ferpipe.core.records import nesting_depth
from ferpipe.core.textfile import read_text

MAX_DEPTH = 64
YAML_LIMIT = 16 << 20
_FAST_1_1 = getattr(yaml11, "CSafeLoader", yaml11.SafeLoader)  # the same reading, in C where libyaml is there
_PLAIN = (str, int, float, bool, type(None))
_KINDS = {"ordereddict": "an ordered map (!!omap)", "set": "a set (!!set)", "bytes": "binary data (!!binary)",
          "date": "a date", "datetime": "a time stamp", "tuple": "a pair list (!!pairs)"}


class _Constructor(SafeConstructor):
    def check_mapping_key(self, node, key_node, mapping, key, value) -> bool:
        if not isinstance(key_node, ScalarNode):
            raise ConstructorError(None, None, "a key that is a list or mapping (`? ...`); keys are plain names",
                                   key_node.start_mark)
        if key in mapping:
            raise ConstructorError(None, None, f"key {shown(key)} given twice", key_node.start_mark)
        return True


def _loader() -> YAML:
    loader = YAML(typ="safe", pure=True)  # DVC's `YAML(typ="safe")`; pure, as no C extension is installed
    loader.Constructor = _Constructor
    return loader


def _depth(text: str) -> int:
    """How deeply `text`'s collections nest, on parser events (libyaml's where installed: they agree on
    structure, and it is ten times as fast)."""
    depth = deepest = 0
    try:
        events = list(yaml11.parse(text, Loader=_FAST_1_1))
    except yaml11.YAMLError:
        events = list(YAML(typ="safe", pure=True).parse(text))
    for event in events:
        if isinstance(event, (CollectionStartEvent, yaml11.CollectionStartEvent)):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, (CollectionEndEvent, yaml11.CollectionEndEvent)):
            depth -= 1
    return deepest


def _key(path: list) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path)) \
        or "the document"


def _not_plain(value: Any, path: list, seen: set[int]) -> tuple[str, Any] | None:
    """(key, value) of the first value under `value` that is not plain data; aliases are walked once."""
    if type(value) in (dict, list):  # exactly: an ordered map is a dict too
        if id(value) in seen:
            return None
        seen.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            found = _not_plain(item, [*path, key], seen)
            if found:
                return found
        return None
    return None if isinstance(value, _PLAIN) else (_key(path), value)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _disagreement(a: Any, b: Any, path: list, seen: set[tuple[int, int]]) -> tuple[str, Any, Any] | None:
    """(key, YAML 1.2's value, YAML 1.1's value) where the two readings `a` and `b` first differ."""
    if isinstance(a, dict) and isinstance(b, dict) or isinstance(a, list) and isinstance(b, list):
        if (id(a), id(b)) in seen:
            return None
        seen.add((id(a), id(b)))
        pairs = zip(a.items(), b.items()) if isinstance(a, dict) else \
            (((i, x), (i, y)) for i, (x, y) in enumerate(zip(a, b)))
        for (key_a, item_a), (key_b, item_b) in pairs:
            if not _same(key_a, key_b):
                return _key([*path, key_a]) + " (the key itself)", key_a, key_b
            found = _disagreement(item_a, item_b, [*path, key_a], seen)
            if found:
                return found
        return None if len(a) == len(b) else (_key(path), a, b)
    return None if _same(a, b) else (_key(path), a, b)


def _written(value: Any) -> str:
    """A plain value as YAML that both dialects read alike (a string quoted)."""
    if isinstance(value, str):
        return shown(value).replace('"', "'") if "'" not in value else shown(value)
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return shown(value)


def _yaml11(text: str) -> Any:
    """`text` as a YAML 1.1 reader (PyYAML) reads it; a document it cannot read is no disagreement: None."""
    try:
        return yaml11.load(text, Loader=_FAST_1_1)
    except (yaml11.YAMLError, TypeError, ValueError):
        return None


def parse_yaml(text: str, where: str) -> Any:
    """The YAML document `text` as DVC reads it; bad YAML, a key given twice, a value that is not plain
    data or that YAML 1.1 reads otherwise, or nesting deeper than MAX_DEPTH is an error naming `where`
    (and the line or key). Deep flow collections are counted on the text first: the scanner takes time
    quadratic in their depth."""
    try:
        if nesting_depth(text) > MAX_DEPTH or _depth(text) > MAX_DEPTH:
            raise FerpipeError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        doc = _loader().load(text)
    except YAMLError as exc:
        mark = exc.problem_mark if isinstance(exc, MarkedYAMLError) else None
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = (getattr(exc, "problem", None) or str(exc).strip().splitlines()[0])[:200]
        raise FerpipeError(f"{where}: not valid YAML{at}: {problem}") from exc
    odd = _not_plain(doc, [], set())
    if odd:
        kind = _KINDS.get(type(odd[1]).__name__, type(odd[1]).__name__)
        raise FerpipeError(f"{where}: {odd[0]}: {kind} where only plain values are read (strings, numbers, "
                           "true/false, null, lists and mappings)")
    found = _disagreement(doc, _yaml11(text), [], set())
    if found:
        key, v12, v11 = found
        hint = (f"write {_written(v12)}" + (f" or {_written(v11)}" if isinstance(v11, _PLAIN) else "")
                if len(repr(v12)) <= SHOWN and len(repr(v11)) <= SHOWN else "quote it if a string is meant")
        raise FerpipeError(f"{where}: {key}: DVC (YAML 1.2) reads {shown(v12)} but YAML 1.1 readers {shown(v11)}; "
                           f"{hint}, which both read alike")
    return doc


# The YAML files read while a stage writes its outputs, with their text then, one list per stage block
# (`watched`): its outputs are moved into place only while every file it read still holds that text.
_WATCHED: list[list[tuple[Path, str]]] = []


def read_yaml(path: str | Path, not_found: str, where: str | None = None) -> Any:
    """The YAML document at `path`; a missing file is the error `not_found`, bad YAML an error naming its
    line, and `where` (default: the path)."""
    path = Path(path)
    if not path.exists():
        raise FerpipeError(not_found)
    text = read_text(path, YAML_LIMIT)
    for reads in _WATCHED:
        reads.append((path.absolute(), text))
    return parse_yaml(text, where or str(path))


@contextlib.contextmanager
def watched() -> Iterator[Callable[[], None]]:
    """Note the YAML files read inside the block; the function it yields raises FerpipeError where one of them
    has changed since: a params file changed meanwhile (`dvc exp run -S` by another command while `dvc repro`
    runs this stage) would have DVC record values this run did not use."""
    reads: list[tuple[Path, str]] = []
    _WATCHED.append(reads)

    def check() -> None:
        for path, text in dict(reads).items():
            try:
                now = read_text(path, YAML_LIMIT)
            except FerpipeError:
                now = None
            if now != text:
                raise FerpipeError(f"{path}: changed while this command ran (another command, such as "
                                   "`dvc exp run -S`, wrote it?); its outputs would be recorded with values it "
                                   "did not use: rerun it")
    try:
        yield check
    finally:
        _WATCHED.remove(reads)


def load_params(path: str | Path = "params.yaml", where: str | None = None) -> dict[str, Any]:
    where = where or str(path)
    params = read_yaml(path, f"params file not found: {path}", where)
    if not isinstance(params, dict):
        raise FerpipeError(f"{where}: expected a mapping of parameters at the top level")
    return params
