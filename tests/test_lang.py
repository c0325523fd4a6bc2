"""The statement language rejects malformed variants early, with one-line messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from backing_aio.model.lang import (
    OPS,
    STATEMENTS,
    Goto,
    IfGoto,
    RefcountSet,
    Variant,
    VariantError,
    stmt,
)


def _variant(read: tuple[object, ...], **extra: object) -> Variant:
    procs = {"read": read, "write": (stmt("return_", "return 0;", value="0"),)}
    procs.update(extra.pop("procs", {}))  # type: ignore[arg-type]
    return Variant(name="t", summary="", procs=procs,  # type: ignore[arg-type]
                   entry={"read": "read", "write": "write"}, kernel="6.12", caller="overlayfs",
                   callbacks={}, **extra)  # type: ignore[arg-type]


def _one_line(e: pytest.ExceptionInfo[VariantError]) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_unknown_statement() -> None:
    with pytest.raises(VariantError) as e:
        stmt("kfree_rcu", "kfree_rcu(aio);")
    assert "unknown statement 'kfree_rcu'" in _one_line(e)


def test_missing_argument() -> None:
    with pytest.raises(VariantError) as e:
        stmt("refcount_set", "refcount_set(&aio->ref, 2);")
    assert "missing argument 'n'" in _one_line(e)


def test_wrong_argument_type() -> None:
    with pytest.raises(VariantError) as e:
        stmt("refcount_set", "refcount_set(&aio->ref, 2);", n="2")
    assert "must be an integer" in _one_line(e)
    with pytest.raises(VariantError) as e:
        stmt("kiocb_clone", "kiocb_clone(...)", get_file="yes")
    assert "True or False" in _one_line(e)


def test_unexpected_argument_and_unknown_condition() -> None:
    with pytest.raises(VariantError) as e:
        stmt("kmem_cache_free", "kmem_cache_free(aio);", gfp="GFP_KERNEL")
    assert "unexpected argument 'gfp'" in _one_line(e)
    with pytest.raises(VariantError) as e:
        stmt("if_goto", "if (x)", cond="nowait", target="out")
    assert "unknown condition 'nowait'" in _one_line(e)


def test_jump_to_nowhere() -> None:
    with pytest.raises(VariantError) as e:
        _variant((stmt("goto", "goto out;", target="out"),
                  stmt("return_", "return 0;", value="0")))
    assert "jumps to 'out', which is nowhere" in _one_line(e)


def test_call_to_unknown_procedure() -> None:
    with pytest.raises(VariantError) as e:
        _variant((stmt("call", "put(aio);", proc="put"), stmt("return_", "return 0;", value="0")))
    assert "names procedure 'put', which does not exist" in _one_line(e)


def test_entry_must_return() -> None:
    with pytest.raises(VariantError) as e:
        _variant((stmt("assign", "ret = 0;", value="0"),))
    assert "must end with return or goto" in _one_line(e)


def test_unknown_expected_property() -> None:
    with pytest.raises(VariantError) as e:
        _variant((stmt("return_", "return 0;", value="0"),), expect=frozenset({"UAF2"}))
    assert "unknown property 'UAF2'" in _one_line(e)


def test_well_formed_variant_is_accepted() -> None:
    v = _variant((stmt("return_", "return 0;", value="0"),))
    assert v.entry == {"read": "read", "write": "write"}


def test_stmt_builds_the_operation_s_class() -> None:
    s = stmt("refcount_set", "refcount_set(&aio->ref, 2);", tag="set", n=2)
    assert isinstance(s, RefcountSet) and s.n == 2 and s.tag == "set"
    assert s.render() == "refcount_set(n=2)"
    assert s == RefcountSet("refcount_set(&aio->ref, 2);", "set", n=2)
    b = stmt("if_goto", "if (!x)", cond="!zero_length", target="out")
    assert isinstance(b, IfGoto) and b.condition == "zero_length" and b.negated
    assert b.jump_targets() == ("out",) and b.callee() is None
    assert stmt("call", "put(aio);", proc="put").callee() == "put"
    assert stmt("callback", "cb();", fn="end_write", via="direct").render() == (
        "callback(fn=end_write, via=direct, reads_pos=False, passes_result=False)")


def test_every_operation_has_a_class_and_semantics() -> None:
    from backing_aio.model import semantics

    assert sorted(OPS) == sorted(cls.op for cls in STATEMENTS)
    assert len(set(OPS)) == len(STATEMENTS)
    for cls in STATEMENTS:
        assert cls in semantics._RUN, cls.op  # registered by @_semantics


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(VariantError) as e:
        RefcountSet("refcount_set(&aio->ref, 9);", n=9)
    assert "must be an integer 0..8, got 9" in _one_line(e)
    with pytest.raises(VariantError) as e:
        Goto("", target="out")
    assert "needs a non-empty label" in _one_line(e)


def test_missing_is_reported_before_a_later_bad_value() -> None:
    with pytest.raises(VariantError) as e:
        stmt("if_goto", "if (x)", target=3)
    assert "missing argument 'cond'" in _one_line(e)


# ---- the README's reference of the language -------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def _reference(text: str) -> str:
    start = text.index("## The statement language\n")
    return text[start:text.index("\n## ", start + 1)]


def undocumented(section: str) -> list[str]:
    """What the README's reference of the language leaves out: an operation without its
    row, an argument missing from its operation's row, a condition or a value."""
    from dataclasses import fields

    from backing_aio.model.lang import CONDITIONS, STATEMENTS, VALUE_SPELLING, Stmt

    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            for op in first.replace("`", "").split(","):
                rows[op.strip()] = line
    head = {f.name for f in fields(Stmt)}
    missing = []
    for cls in STATEMENTS:
        row = rows.get(cls.op)
        if row is None:
            missing.append(f"operation {cls.op}")
            continue
        missing.extend(f"argument {f.name} of {cls.op}" for f in fields(cls)
                       if f.name not in head and f"`{f.name}`" not in row.split("|")[2])
    prose = section.split("\n| operation |")[0] + section.rsplit("|\n", 1)[-1]
    missing.extend(f"condition {c}" for c in CONDITIONS if f"`{c}`" not in prose)
    missing.extend(f"value {v}" for v in ("ret", *VALUE_SPELLING) if f"`{v}`" not in prose)
    return missing


def test_the_readme_documents_every_operation_argument_condition_and_value() -> None:
    assert undocumented(_reference(README.read_text())) == []


def test_a_gap_in_the_reference_is_found() -> None:
    section = _reference(README.read_text())
    row = next(line for line in section.splitlines() if line.startswith("| `queue_work`"))
    assert undocumented(section.replace(row + "\n", "")) == ["operation queue_work"]
    assert undocumented(section.replace("| `on_fail` (tag) | `ret = backing_aio_init_wq",
                                        "| | `ret = backing_aio_init_wq")) == [
        "argument on_fail of init_wq"]
    assert undocumented(section.replace("`zero_length`", "zero_length")) == [
        "condition zero_length"]
