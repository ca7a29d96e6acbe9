"""The settings a job offers, read off the declarations on its config fields (``settings.setting``): each
one's dotted field path, flag, help and this job's default. The parser, the field-to-flag table and the job
built from the flags all come from here."""

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterator

from fungi_hb.settings import FLAG, NESTED, Flag


@dataclass(frozen=True)
class Declared:
    """One setting as a job offers it."""

    path: str  # dotted field path in the job: "index.num_neighbors"
    flag: Flag
    default: Any  # the job's default (its default instance's value)
    help: str  # the flag's help, or the job's own for it


def declared(job_type: type) -> list[Declared]:
    """Every setting ``job_type`` offers, in field order."""
    return list(_walk(job_type(), "", {}, ()))


def _walk(config: Any, prefix: str, helps: dict[str, str], hidden: tuple[str, ...]) -> Iterator[Declared]:
    for field in dataclasses.fields(config):
        if field.name in hidden:
            continue
        value = getattr(config, field.name)
        if NESTED in field.metadata:
            inner = field.metadata[NESTED]
            yield from _walk(value, f"{prefix}{field.name}.", inner.help, inner.hidden)
        elif FLAG in field.metadata:
            flag = field.metadata[FLAG]
            yield Declared(f"{prefix}{field.name}", flag, value, helps.get(field.name, flag.help))


def flag_table(*job_types: type) -> dict[str, str]:
    """Dotted field path -> flag name, over the given jobs."""
    return {item.path: item.flag.name for job_type in job_types for item in declared(job_type)}


def with_values(config: Any, values: dict[str, Any]) -> Any:
    """``config`` with the dotted paths of ``values`` set (nested configs replaced, not mutated)."""
    direct = {key: value for key, value in values.items() if "." not in key}
    inner: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if "." in key:
            head, rest = key.split(".", 1)
            inner.setdefault(head, {})[rest] = value
    for head, rest in inner.items():
        direct[head] = with_values(getattr(config, head), rest)
    return dataclasses.replace(config, **direct)
