"""Hypothesis strategies for the generated messages: any instance of any generated class."""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mmplugin.proto import wkt
from mmplugin.wire.schema import FieldPlan, plan_message

JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=40),
    "bytes": st.binary(max_size=300),
    "bool": st.booleans(),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "uint32": st.integers(0, 2**32 - 1),
    "uint64": st.integers(0, 2**64 - 1),
    "double": st.floats(allow_nan=False),
    "float": st.floats(allow_nan=False, width=32),
}
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@functools.cache
def messages(cls: type, depth: int = 0) -> st.SearchStrategy[Any]:
    """Any instance of a generated message class, nested at most three levels deep."""
    if cls is wkt.Struct:
        return st.dictionaries(st.text(max_size=6), JSON, max_size=4).map(wkt.Struct.from_dict)
    if cls is wkt.Value:
        return JSON.map(wkt.Value.from_dict)
    if cls is wkt.ListValue:
        return st.lists(JSON, max_size=3).map(wkt.ListValue.from_dict)
    optional: dict[str, st.SearchStrategy[Any]] = {}
    oneofs: dict[str, list[st.SearchStrategy[dict[str, Any]]]] = {}
    for field in plan_message(cls).fields:
        values = field_values(field, depth)
        if field.oneof:
            oneofs.setdefault(field.oneof, [st.just({})]).append(values.map(lambda v, n=field.name: {n: v}))
        else:
            optional[field.name] = values
    parts = [st.fixed_dictionaries({}, optional=optional)]
    parts += [st.one_of(members) for members in oneofs.values()]
    return st.tuples(*parts).map(lambda dicts: cls(**{k: v for d in dicts for k, v in d.items()}))


def field_values(field: FieldPlan, depth: int) -> st.SearchStrategy[Any]:
    if field.entry is not None:
        key_field, value_field = field.entry.fields
        return st.dictionaries(one_value(key_field, depth), one_value(value_field, depth), max_size=3)
    if field.repeated:
        return st.lists(one_value(field, depth), max_size=3)
    if field.presence:
        return st.none() | one_value(field, depth)
    return one_value(field, depth)


def one_value(field: FieldPlan, depth: int) -> st.SearchStrategy[Any]:
    cls = field.python_type
    if field.unwrap:
        assert cls is not None
        return one_value(plan_message(cls).fields[0], depth)
    if field.proto_type == "enum":
        return st.sampled_from(list(cls))  # type: ignore[arg-type]
    if field.proto_type == "message":
        assert cls is not None
        return messages(cls, depth + 1) if depth < 3 else st.builds(cls)
    return SCALARS[field.proto_type]
