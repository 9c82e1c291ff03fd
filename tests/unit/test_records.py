from __future__ import annotations

import pytest

from omcm.core.records import Record, RecordError


class Inner(Record):
    name: str
    size: int = 0


class Outer(Record):
    title: str
    ratio: float = 1.0
    flag: bool = False
    tags: list[str] = []
    inner: Inner | None = None
    table: dict[str, Inner] = {}
    note: str | None = None


def test_parse_fills_defaults_and_ignores_unknown_keys() -> None:
    record = Outer.parse({"title": "t", "unknown": 1, "inner": {"name": "n"}}, "x")
    assert record.title == "t"
    assert record.ratio == 1.0
    assert record.tags == []
    assert record.inner == Inner(name="n", size=0)


def test_defaults_are_not_shared_between_instances() -> None:
    a, b = Outer(title="a"), Outer(title="b")
    a.tags.append("x")
    a.table["k"] = Inner(name="k")
    assert b.tags == []
    assert b.table == {}


def test_int_is_accepted_as_float_but_bool_is_not_int() -> None:
    assert Outer.parse({"title": "t", "ratio": 2}, "x").ratio == 2.0
    with pytest.raises(RecordError) as err:
        Inner.parse({"name": "n", "size": True}, "where")
    assert str(err.value) == "where: size: expected an integer, got True (boolean)"


def test_every_problem_is_named_with_its_path() -> None:
    with pytest.raises(RecordError) as err:
        Outer.parse({"tags": ["a", 3], "table": {"k": {"size": "big"}}, "note": 5}, "stdin")
    assert err.value.problems == [
        ("title", "field required"),
        ("tags[1]", "expected a string, got 3 (integer)"),
        ("table.k.name", "field required"),
        ("table.k.size", "expected an integer, got 'big' (string)"),
        ("note", "expected a string, got 5 (integer)"),
    ]


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(RecordError, match=r"stdin: \(top level\): expected an object, got array"):
        Outer.parse([], "stdin")


def test_dump_round_trips() -> None:
    record = Outer(
        title="t", tags=["a"], inner=Inner(name="n", size=2), table={"k": Inner(name="k")}
    )
    assert Outer.parse(record.dump(), "x") == record
    assert record.dump()["table"] == {"k": {"name": "k", "size": 0}}


def test_constructor_rejects_unknown_and_missing_fields() -> None:
    with pytest.raises(TypeError, match="unknown fields"):
        Inner(name="n", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing field 'name'"):
        Inner()  # type: ignore[call-arg]
