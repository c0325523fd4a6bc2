"""The statement language rejects malformed variants early, with one-line messages."""

from __future__ import annotations

import pytest

from backing_aio.model.lang import Variant, VariantError, stmt


def _variant(read: tuple[object, ...], **extra: object) -> Variant:
    procs = {"read": read, "write": (stmt("return_", "return 0;", value="0"),)}
    procs.update(extra.pop("procs", {}))  # type: ignore[arg-type]
    return Variant(name="t", summary="", procs=procs,  # type: ignore[arg-type]
                   entry={"read": "read", "write": "write"}, freeze="caller",
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
