"""Reading a spec file (bounded, UTF-8, duplicate keys refused, every key's line kept) and turning validation errors
into one line that names the file, each field, its line and, for an unknown key, the closest valid one."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from cnibench.errors import SpecError
from cnibench.spec.base import FieldError, FieldErrors
from cnibench.spec.model import Spec
from cnibench.spec.variant import VARIANT_TAG


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


#: YAML's merge key ``<<`` (``<<: *defaults``): SafeLoader's ``construct_mapping`` merges it; a key given next to it
#: overrides the merged one, so only the keys written in the mapping itself must be unique.
MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


#: A spec is a page of YAML; anything larger is not one (and is refused before it is parsed).
MAX_SPEC_BYTES = 1 << 20  # 1 MiB
#: Where each key of a spec file is: ``("scenarios", "egress", "duration")`` -> its line (1-based).
KeyLines = dict[tuple[str | int, ...], int]


def _format_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(loc: tuple[str | int, ...], lines: KeyLines) -> int | None:
    """The line of ``loc`` in the file, or of its closest enclosing key (a missing key: where it belongs)."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The spec section (a model class) at ``loc``, e.g. ``("scenarios", "ingress")`` -> its settings model."""
    from cnibench.spec.registered import spec_model

    model: type[BaseModel] = spec_model()
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        found = next(
            (
                arg
                for arg in (field.annotation, *typing.get_args(field.annotation))
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ),
            None,
        )
        if found is None:
            return None
        model = found
    return model


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    """``unknown key 'gatway'; did you mean 'gateway'?`` (or the valid keys when none is close)."""
    key = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown key {key!r}"
    valid = list(model.model_fields)
    # difflib for typos ("gatway"); a shared start for shortened names ("scrape" for "scrape_interval")
    close = difflib.get_close_matches(key, valid, n=1) or [v for v in valid if v.startswith(key) or key.startswith(v)]
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; valid: {', '.join(valid)}"


#: Where a value that did not come from the file came from: ``("scenarios", "egress", "repetitions")`` ->
#: ``"--repeat 99999999"`` (a command-line override is never blamed on a line of the spec).
Origins = dict[tuple[str | int, ...], str]


def _origin(loc: tuple[str | int, ...], origins: Origins) -> str | None:
    return next((flag for where, flag in origins.items() if loc[: len(where)] == where), None)


def _format_errors(
    source: str, exc: ValidationError, lines: KeyLines | None = None, origins: Origins | None = None
) -> str:
    parts: list[tuple[int, str]] = []

    def add(loc: tuple[str | int, ...], msg: str) -> None:
        flag = _origin(loc, origins or {})
        line = None if flag else _line_of(loc, lines or {})
        where = f" (from {flag})" if flag else f" (line {line})" if line else ""
        parts.append((line or 0, f"{_format_loc(loc)}{where}: {msg}"))

    for err in exc.errors(include_url=False):
        loc: tuple[str | int, ...] = tuple(
            p for p in err["loc"] if not str(p).startswith("function-after") and p != VARIANT_TAG
        )
        msg = err["msg"]
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, FieldErrors):  # several independent checks failed: each is its own error
            for each in ctx_error.errors:
                add(loc + each.loc, str(each))
            continue
        if isinstance(ctx_error, FieldError):
            loc = loc + ctx_error.loc
            msg = str(ctx_error)
        elif err["type"] == "extra_forbidden":
            msg = _unknown_key(loc)
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        add(loc, msg)
    parts.sort(key=lambda part: part[0])  # in the order of the file (stable: pydantic's order otherwise)
    return f"{source}: " + "; ".join(text for _, text in parts)


def parse_spec(
    data: Any, source: str = "<spec>", lines: KeyLines | None = None, origins: Origins | None = None
) -> Spec:
    """Validate a mapping into a spec resolved with its platform's defaults; every error becomes part of one
    :class:`SpecError` line naming ``source``, each field with its line in the file when ``lines`` (from
    :func:`load_spec_document`) has it, or the command-line option it came from (``origins``)."""
    from cnibench.spec.registered import spec_model

    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: the spec must be a YAML mapping, got {type(data).__name__}")
    try:
        spec = spec_model().model_validate(dict(data))
    except ValidationError as exc:
        raise SpecError(_format_errors(source, exc, lines, origins)) from None
    return spec.platform_class.resolve(spec)


def read_spec_text(path: Path) -> str:
    """The text of a spec file. Raises :class:`SpecError` (one line naming the file) for a file that is missing,
    a directory, unreadable, larger than :data:`MAX_SPEC_BYTES` or not UTF-8."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_SPEC_BYTES + 1)  # a bounded read: /dev/zero or a huge file cannot fill memory
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a spec file") from None
    except FileNotFoundError:
        raise SpecError(f"{path}: cannot read spec: no such file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec: {exc.strerror or exc}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES // (1 << 20)} MiB, the limit for a spec file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            f"{path}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line} (save the spec as UTF-8)"
        ) from None


def _key_lines(root: yaml.Node | None) -> KeyLines:
    """Every key and list item of a composed YAML document -> its line. Each node is walked once, so aliases
    (``*anchor``) cost nothing however often they are used."""
    lines: KeyLines = {}
    walked: set[int] = set()

    def walk(node: yaml.Node, loc: tuple[str | int, ...]) -> None:
        if id(node) in walked:
            return
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            merged: list[yaml.Node] = []
            for key_node, value_node in node.value:
                if key_node.tag == MERGE_TAG:
                    merged += value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                elif isinstance(key_node, yaml.ScalarNode):
                    lines.setdefault((*loc, key_node.value), key_node.start_mark.line + 1)
                    walk(value_node, (*loc, key_node.value))
            for source in merged:  # a merged key's line: where the merged mapping has it (its own keys only)
                for key_node, _ in source.value if isinstance(source, yaml.MappingNode) else []:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.tag != MERGE_TAG:
                        lines.setdefault((*loc, key_node.value), key_node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines.setdefault((*loc, index), item.start_mark.line + 1)
                walk(item, (*loc, index))

    if root is not None:
        walk(root, ())
    return lines


def load_spec_document(path: Path) -> tuple[dict[str, Any], KeyLines]:
    """Read and parse a spec file: its data and where each key is (for errors that name the line).
    Raises :class:`SpecError`."""
    text = read_spec_text(path)
    loader = _UniqueKeyLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{path}: not valid YAML{where}: {problem}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the spec must be a YAML mapping")
    return data, _key_lines(root)


def load_spec_data(path: Path) -> dict[str, Any]:
    """The data of a spec file (see :func:`load_spec_document`). Raises :class:`SpecError`."""
    return load_spec_document(path)[0]


def default_spec_data() -> dict[str, Any]:
    """The built-in default spec (the same file is shipped as ``examples/local.yaml``)."""
    text = resources.files("cnibench").joinpath("default-spec.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(data, dict)
    return data


def load_spec(
    path: Path | None,
    *,
    repetitions: int | None = None,
    duration: int | None = None,
    rounds: int | None = None,
) -> tuple[Spec, str]:
    """Load, override and validate a spec. Returns the spec and a label of its source for messages."""
    lines: KeyLines = {}
    if path is None:
        data, source = default_spec_data(), "built-in default spec"
    else:
        (data, lines), source = load_spec_document(path), str(path)
    data = apply_overrides(data, repetitions=repetitions, duration=duration, rounds=rounds)
    return parse_spec(data, source, lines, override_origins(data, repetitions, duration, rounds)), source


def override_origins(
    data: dict[str, Any], repetitions: int | None, duration: int | None, rounds: int | None
) -> Origins:
    """Which fields ``--repeat``, ``--duration`` and ``--rounds`` set (see :func:`apply_overrides`), for errors."""
    origins: Origins = {}
    if rounds is not None:
        origins[("rounds",)] = f"--rounds {rounds}"
    scenarios = data.get("scenarios")
    for name in scenarios if isinstance(scenarios, dict) else {}:
        if repetitions is not None:
            origins[("scenarios", name, "repetitions")] = f"--repeat {repetitions}"
        if duration is not None:
            origins[("scenarios", name, "duration")] = f"--duration {duration}"
    return origins


def apply_overrides(
    data: dict[str, Any],
    *,
    repetitions: int | None = None,
    duration: int | None = None,
    rounds: int | None = None,
) -> dict[str, Any]:
    """Return a copy of ``data`` with ``--repeat`` / ``--duration`` applied to every scenario present and
    ``--rounds`` to the spec."""
    if repetitions is None and duration is None and rounds is None:
        return data
    out = dict(data)
    if rounds is not None:
        out["rounds"] = rounds
    scenarios = out.get("scenarios")
    if not isinstance(scenarios, dict):
        return out
    new_scenarios: dict[str, Any] = {}
    for name, settings in scenarios.items():
        settings = dict(settings) if isinstance(settings, dict) else settings
        if isinstance(settings, dict):
            if repetitions is not None:
                settings["repetitions"] = repetitions
            if duration is not None:
                settings["duration"] = duration
        new_scenarios[name] = settings
    out["scenarios"] = new_scenarios
    return out


def spec_to_yaml(spec: Spec) -> str:
    """The resolved spec (defaults filled in) as YAML, as stored in every run directory."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)


#: The dialect pydantic generates (its JSON Schema output follows draft 2020-12: ``$defs``, ``prefixItems``).
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The spec's JSON Schema, with ``$schema`` first so that editors and validators know its dialect."""
    from cnibench.spec.registered import spec_model

    return {"$schema": JSON_SCHEMA_DIALECT, **spec_model().model_json_schema()}
