"""Named base setups: each official recipe and the shared proxy written once, in `claims/setups.yaml`.

A claim's profile names one (`base: trm-att-maze`) and writes only what differs from it:
    smoke:
      base: proxy-arc
      description: "CPU proxy as arc-agi-1/trm-att's, with n=6."
      model: {mixer: attention, pos_encodings: rope, l_cycles: 6}

Resolution, at load time and nowhere else: a setup may itself name a base, at most two setups in a
chain; the `model`, `data` and `train` sections merge key by key (the nearer setting wins), every
other key (`comparable`, `description`, `deviations`, ...) is replaced whole. Keys left out of the
whole chain take the `trm/config.py` defaults, which are the official TRM recipe. There is no
interpolation and no lookup of anything but a setup by its name.

The setups file sits next to the claims files (`<dir>/setups.yaml`), so a single claims file given on
the command line finds it; it is never read as a claims file itself.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from audit.errors import InputError
from audit.yamlio import read_yaml
from trm.schema import ConfigError

SETUPS_FILE = "setups.yaml"
BASE_KEY = "base"
MAX_CHAIN = 2  # setups behind one profile: a base and the base's base
CLAIM = "claim"  # origin of a value written in the claim's own profile
SETUP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Setups:
    """The named partial profiles of one setups file (empty when a directory has none)."""

    file: str
    bodies: Mapping[str, dict]


@dataclass(frozen=True)
class Resolved:
    """A profile body with its bases merged in.

    body: the complete body to validate (no `base` key). bases: the setups used, nearest first.
    origins: dotted key ('comparable', 'train.lr') -> the setup that set it, or CLAIM; keys absent
    here are the trm/config.py defaults. replaced: dotted key -> (origin, value) that a nearer
    setting overrode, e.g. {'train.ema_rate': ('proxy', 0.98)} when the claim writes its own.
    """

    body: dict
    bases: tuple[str, ...]
    origins: dict[str, str]
    replaced: dict[str, tuple[str, Any]]
    setups_file: str = ""


def sections(profile_type: type) -> dict[str, type]:
    """The profile fields that are config sections (merged key by key): name -> their dataclass."""
    hints = typing.get_type_hints(profile_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(profile_type) if dataclasses.is_dataclass(hints[f.name])}


def load_setups(directory: Path, profile_type: type) -> Setups:
    """Read `directory/setups.yaml` (none: no setups) and check every setup's keys and base chain.

    profile_type is the dataclass a resolved body becomes (audit.registry.Profile); its fields are the
    keys a setup may write. Raises InputError naming the file, the setup and the field.
    """
    path = Path(directory) / SETUPS_FILE
    if not path.is_file():
        return Setups("", {})
    data = read_yaml(path)
    if not isinstance(data, dict) or set(data) != {"setups"} or not isinstance(data["setups"], dict):
        raise InputError(f"{path}: expected one key 'setups' holding a mapping of setup name to partial profile")
    bodies = data["setups"]
    for name, body in bodies.items():
        if not isinstance(name, str) or not SETUP_NAME.match(name):
            raise InputError(f"{path}: setups.{name}: expected a setup name of lower-case letters, digits and '-'")
        try:
            check_keys(body, profile_type)
            _chain(name, bodies)
        except ConfigError as err:
            raise InputError(f"{path}: {err.prefixed(f'setups.{name}')}") from None
    return Setups(str(path), bodies)


def check_keys(body: Any, profile_type: type) -> None:
    """Every key of a partial profile must be a profile field (or `base`); raises ConfigError at it."""
    if not isinstance(body, dict):
        raise ConfigError("", f"expected a mapping, got {body!r}")
    section_types = sections(profile_type)
    known = {f.name for f in dataclasses.fields(profile_type) if not f.metadata.get("internal")} | {BASE_KEY}
    for key, value in body.items():
        if key not in known:
            raise ConfigError(str(key), f"unknown key (known keys: {', '.join(sorted(known))})")
        if key in section_types:
            if not isinstance(value, dict):
                raise ConfigError(key, f"expected a mapping, got {value!r}")
            fields = {f.name for f in dataclasses.fields(section_types[key])}
            for sub in value:
                if sub not in fields:
                    raise ConfigError(f"{key}.{sub}", f"unknown key (known keys: {', '.join(sorted(fields))})")


def _chain(start: str, bodies: Mapping[str, dict]) -> list[str]:
    """The setups behind `start`, `start` first; raises ConfigError('base', ...) when unknown, cyclic or too long."""
    chain = [start]
    while BASE_KEY in bodies[chain[-1]]:
        name = bodies[chain[-1]][BASE_KEY]
        if name not in bodies:
            raise ConfigError(BASE_KEY, f"unknown setup {name!r} (known: {', '.join(bodies)})")
        if name in chain:
            raise ConfigError(BASE_KEY, "cycle " + " -> ".join([*chain, name]))
        chain.append(name)
        if len(chain) > MAX_CHAIN:
            raise ConfigError(BASE_KEY, f"chain {' -> '.join(chain)} is longer than {MAX_CHAIN} setups "
                              "(a base's base may not name another base)")
    return chain


def resolve(body: Any, setups: Setups, profile_type: type) -> Resolved:
    """Merge a claim profile's body onto its base chain; a body without `base` comes back as it is.

    Raises ConfigError at the profile's field: `base` (unknown setup, no setups file) or an unknown key.
    """
    check_keys(body, profile_type)
    if BASE_KEY not in body:
        return Resolved(dict(body), (), {key: CLAIM for key in dotted_keys(body)}, {})
    name = body[BASE_KEY]
    if not setups.bodies:
        raise ConfigError(BASE_KEY, f"names setup {name!r} but there is no {SETUPS_FILE} next to the claims file")
    if not isinstance(name, str) or name not in setups.bodies:
        raise ConfigError(BASE_KEY, f"unknown setup {name!r} (known: {', '.join(setups.bodies)}; in {setups.file})")
    bases = tuple(_chain(name, setups.bodies))
    merged: dict = {}
    origins: dict[str, str] = {}
    replaced: dict[str, tuple[str, Any]] = {}
    section_names = sections(profile_type)
    for origin, layer in [*((b, setups.bodies[b]) for b in reversed(bases)), (CLAIM, body)]:
        for key in dotted_keys(layer):
            if key in origins:
                replaced[key] = (origins[key], value_at(merged, key))
            origins[key] = origin
        for key, value in layer.items():
            if key in section_names:
                merged[key] = {**merged.get(key, {}), **value}
            elif key != BASE_KEY:
                merged[key] = value
    return Resolved(merged, bases, origins, replaced, setups.file)


def value_at(body: Mapping, dotted: str) -> Any:
    """body['train']['lr'] for 'train.lr', body['comparable'] for 'comparable'."""
    section, _, key = dotted.partition(".")
    return body[section][key] if key else body[section]


def dotted_keys(body: Mapping) -> list[str]:
    """The keys a partial profile sets, sections spelled out: ['comparable', 'train.lr', ...]."""
    keys = []
    for key, value in body.items():
        if isinstance(value, dict):
            keys.extend(f"{key}.{sub}" for sub in value)
        elif key != BASE_KEY:
            keys.append(key)
    return keys
