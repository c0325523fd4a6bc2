"""The reference implementation spells the names it shares with the model (properties,
subjects, actors, request kinds, contracts, environment choices) only through
backing_aio.vocab, and imports nothing else from outside its own package: it stays an
independent implementation of the helpers, but cannot drift from the model in spelling.

Two halves: what refimpl's code may not write as a literal (a scan of its source), and what
its tables hold (each option a model choice or a refinement naming the choice it refines).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from backing_aio import kapi, vocab
from backing_aio.refimpl import kasan, sched
from backing_aio.refimpl.env import (
    ALL_OPTIONS,
    MODEL_OPTIONS,
    NO_FAULTS,
    REFINES,
    STRESS_WEIGHTS,
    Env,
    Refinement,
    model_choice,
)
from backing_aio.refimpl.helpers import IMPLEMENTATIONS

REFIMPL = Path(kasan.__file__).parent

# Every spelling vocab owns: a literal equal to one of these in refimpl's code is a copy.
SHARED: frozenset[str] = frozenset(
    {str(m) for names in (vocab.PropertyId, vocab.Subject, vocab.Actor, vocab.Kind,
                          vocab.RequestType, vocab.Outcome, vocab.Freeze, vocab.EnvCondition,
                          vocab.Choice) for m in names} | vocab.CHOICES) - {""}

# Where refimpl spells a shared name: (callee, index of the argument that is the name).
# A literal there is a spelling of refimpl's own, right or wrong; a name from vocab fails
# at import (or in mypy) when misspelt.
SITES: dict[str, tuple[int, ...]] = {
    "Finding": (0, 2),  # the property, the subject
    "choose": (0,),  # the environment's choice of the step under way
    "step": (1,),  # an instrumented point's choice
    "Actor": (2,),  # the actor a thread acts as
    "env_answer": (0,),  # an environment condition
    "KmemCache": (1,),  # the subject a cache's objects are
    "open_backing": (0,),  # the subject a backing file is
}


def _docstrings(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef) and n.body:
            first = n.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _is_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value != "")


def spellings(source: str, where: str = "<source>") -> list[str]:
    """What ``source`` spells itself that vocab owns: shared names written as literals,
    literals at a site where a shared name goes, and literals compared with an environment
    decision (``env.decide(...) == "..."``)."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    out: list[str] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            if n.value in SHARED:
                out.append(f"{where}:{n.lineno}: {n.value!r} is vocab's")
        elif isinstance(n, ast.Call):
            for i in SITES.get(_callee(n), ()):
                args = [*n.args, *(k.value for k in n.keywords if k.arg == "subject")]
                if i < len(args) and _is_literal(args[i]):
                    out.append(f"{where}:{n.lineno}: {_callee(n)} is given a literal "
                               f"{ast.unparse(args[i])}")
        elif isinstance(n, ast.Compare):
            sides = [n.left, *n.comparators]
            if any(isinstance(s, ast.Call) and _callee(s) == "decide" for s in sides):
                out += [f"{where}:{n.lineno}: a decision compared with {ast.unparse(s)}"
                        for s in sides if _is_literal(s)]
    return out


def test_refimpl_spells_no_shared_name_itself() -> None:
    found = [hit for p in sorted(REFIMPL.glob("*.py"))
             for hit in spellings(p.read_text(), p.name)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("source", [
    'raise Finding("UAFF", "a misspelt property")',
    'raise Finding(PropertyId.UAF, "x", "wraper")',
    'choose("alloc fials")',
    'step(COMPLETE_FIRES, "res RES")',
    'become(Actor(k, req, "workr"))',
    'if k.env.decide("alloc", req) == "alloc fails": pass',
    'callbacks = {"read": {"submitted": 1}}',
    'step("kiocb_clone", "caller_comp: yes")',
])
def test_the_scan_finds_a_spelling_of_its_own(source: str) -> None:
    assert spellings(source)


def test_the_scan_lets_names_from_vocab_pass() -> None:
    assert not spellings('"""Docs may say "alloc ok" and UAF."""\n'
                         'raise Finding(PropertyId.UAF, f"{x}: freed", Subject.WRAPPER)\n'
                         'choose(Choice.ALLOC_OK)\n'
                         'if k.env.decide("alloc", req) == Choice.ALLOC_FAILS: pass\n'
                         'raise Finding(DATA, "the bytes differ")\n')


def test_refimpl_imports_only_vocab_and_kapi_from_the_rest_of_the_package() -> None:
    """Not the model: the reference implementation is the independent side. It shares
    the names (vocab) and the facts about the kernel (kapi), not what they mean."""
    outside: list[str] = []
    for p in sorted(REFIMPL.glob("*.py")):
        for n in ast.walk(ast.parse(p.read_text())):
            names = ([a.name for a in n.names] if isinstance(n, ast.Import) else
                     # ``from backing_aio import kapi`` imports backing_aio.kapi
                     [f"{n.module}.{a.name}" for a in n.names] if isinstance(
                         n, ast.ImportFrom) and n.module == "backing_aio" else
                     [n.module or ""] if isinstance(n, ast.ImportFrom) else [])
            outside += [f"{p.name}: {m}" for m in names if m.startswith("backing_aio")
                        and not m.startswith("backing_aio.refimpl")
                        and m not in ("backing_aio.vocab", "backing_aio.kapi")]
    assert not outside, outside


def test_finding_ids_are_vocabs_plus_data() -> None:
    assert (*vocab.PROPERTY_IDS, kasan.DATA) == kasan.FINDING_IDS
    assert kasan.DATA not in vocab.PROPERTY_IDS
    with pytest.raises(AssertionError):
        kasan.Finding("UAFF", "a property vocab does not know")


def test_actors_are_vocabs() -> None:
    assert set(sched.ACTORS) == set(vocab.ACTORS)
    assert all(isinstance(a, vocab.Actor) for a in sched.ACTORS)


def test_contracts_are_spelt_in_vocab_or_kapi() -> None:
    """The callback contract in vocab's names; the kernel and the caller are kapi's."""
    for cls in IMPLEMENTATIONS.values():
        assert isinstance(cls.freeze(), vocab.Freeze)
        assert kapi.OLDEST <= cls.release() <= kapi.NEWEST
        assert cls.caller in kapi.CALLERS
        assert all(isinstance(k, vocab.Kind) and all(isinstance(o, vocab.Outcome) for o in v)
                   for k, v in cls.callbacks.items())


def test_the_callbacks_name_what_kapi_knows() -> None:
    """Each callback of the upper layer names a slot of its caller or a kernel function
    kapi has, so CONTEXT is judged from the table (a misspelt name would fail only when
    a completion runs it)."""
    from backing_aio.refimpl import upper

    names = {upper.END_WRITE, upper.ACCESSED}
    for cls in IMPLEMENTATIONS.values():
        if cls.shape == vocab.Shape.STACKED:  # a block driver or a bio user has no callbacks
            assert names <= set(kapi.caller(cls.caller).slots)
        else:
            assert not cls.callbacks and not kapi.caller(cls.caller).slots
    source = Path(upper.__file__).read_text()
    called = set(re.findall(r'self\._callback\("[^"]+", "([a-z_]+)"\)', source))
    assert called == {"ovl_file_accessed", "ovl_copyattr"}
    # a callback written out calls kernel functions by name (the model's kcall)
    kcalls = set(re.findall(r'self\._context\("[^"]+", "([a-z_]+)"\)', source))
    assert kcalls == {"ovl_file_accessed", "ovl_copyattr"}
    for fn in called | kcalls:
        kapi.function(fn)


def test_every_option_is_a_model_choice_or_refines_one() -> None:
    """MODEL_OPTIONS and NO_FAULTS hold model choices only (a Choice, or the answer to
    the environment condition the decision is named after); every refinement names the
    model choice it refines, one the same decision offers."""
    answers = {what: {vocab.env_answer(what, t) for t in (True, False)}
               for what in MODEL_OPTIONS if what in vocab.ENV_CONDITIONS}
    assert answers == {"caller_comp": {"caller_comp: yes", "caller_comp: no"},
                       "not_backing": {"not_backing: yes", "not_backing: no"}}
    for table in (MODEL_OPTIONS, NO_FAULTS):
        for what, opts in table.items():
            assert all(isinstance(o, vocab.Choice) or o in answers.get(what, ())
                       for o in opts), what
    assert set(MODEL_OPTIONS["caller_comp"]) == answers["caller_comp"]
    assert set(REFINES) == set(Refinement)
    for what, opts in ALL_OPTIONS.items():
        assert set(MODEL_OPTIONS[what]) <= set(opts)
        for o in opts:
            assert model_choice(o) in MODEL_OPTIONS[what], (what, o)
            assert (isinstance(o, vocab.Choice) or o in answers.get(what, ())
                    or REFINES[Refinement(o)] == model_choice(o))
    assert set(STRESS_WEIGHTS) == {o for opts in ALL_OPTIONS.values() for o in opts}
    with pytest.raises(ValueError):
        model_choice("queues (inlined)")


def test_a_misspelt_option_is_refused() -> None:
    """Not taken for a full, successful IO (what an unknown plan used to do)."""
    with pytest.raises(ValueError, match=re.escape("no option 'returns RES (shrot)'")):
        Env(options={**NO_FAULTS, "submit": ("returns RES (shrot)",)})
    with pytest.raises(ValueError, match="the 'alloc' decision has no option 'queues'"):
        Env(options={**NO_FAULTS, "alloc": (vocab.Choice.QUEUES,)})
    assert Env(options=ALL_OPTIONS).options == ALL_OPTIONS
