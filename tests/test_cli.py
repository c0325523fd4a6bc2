"""The command line: exit codes 0/1/2, one-line errors, user files, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backing_aio.cli.main import main
from backing_aio.model.catalogue import catalogue

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "my_variants.py"


def run(*args: str) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-m", "backing_aio", *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [v["name"] for v in doc["variants"]] == [
        "seed", "seed-fixed", "ovl-5.6", "ovl-5.16", "ovl-6.1", "mainline", "ovl-6.12",
        "fuse-6.12", "loop", "erofs"]
    assert {p["id"] for p in doc["properties"]} >= {"UAF", "LEAK", "TERMINATES"}


def test_check_builtin_as_expected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "seed", "ovl-5.6", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert ("seed: fails RESULT_PROPAGATED,CONTEXT (expected fails RESULT_PROPAGATED,"
            "CONTEXT) [ok]") in out
    assert "ovl-5.6: fails UAF (expected fails UAF) [ok]" in out


def test_check_json_has_explained_counterexamples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "ovl-5.6", "-n", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    res = doc["results"][0]
    assert res["failed"] == ["UAF"] and res["as_expected"]
    cx = {c["subject"]: c for c in res["counterexamples"]}["wrapper"]
    assert cx["explanation"][-1]["violation"]["property"] == "UAF"


def test_user_file_is_checked_without_editing_the_package() -> None:
    code, out, err = run("check", str(EXAMPLE), "-n", "2")
    assert code == 0, err
    assert "sync-only: holds" in out
    assert "mainline-no-punt: fails CONTEXT (expected fails CONTEXT) [ok]" in out


def test_unsafe_user_variant_is_a_finding(tmp_path: Path) -> None:
    f = tmp_path / "mine.py"
    f.write_text(
        "from backing_aio.model.catalogue import catalogue\n"
        "from backing_aio.model.mutants import mutants\n"
        "v = catalogue()['seed-fixed']\n"
        "VARIANTS = [m.variant for m in mutants(v)\n"
        "            if m.name == 'seed-fixed:ref1:backing_file_read_iter#11(refcount_set)']\n"
    )
    code, out, _ = run("check", str(f), "-n", "1")
    assert code == 1
    assert "UNEXPECTED" in out and "!! UAF" in out


def test_explain_and_replay(tmp_path: Path) -> None:
    code, out, _ = run("explain", "ovl-5.6", "-p", "UAF", "--subject", "wrapper")
    assert code == 1 and "still inside submit" in out
    code, _, _ = run("check", "ovl-5.6", "-n", "1", "--save", str(tmp_path))
    assert code == 0
    saved = tmp_path / "ovl-5.6-UAF-wrapper.json"
    code, out, _ = run("replay", str(saved))
    assert code == 1 and "reproduces UAF" in out
    data = json.loads(saved.read_text())
    data["variant"] = "ovl-5.16"  # the fix: the same steps no longer break anything
    saved.write_text(json.dumps(data))
    code, out, _ = run("replay", str(saved))
    assert code == 0 and "no longer reproduces" in out


BAD_FILES = {
    "syntax.py": ("def (:\n", "syntax error"),
    "missing_arg.py": ("from backing_aio.model.lang import stmt\n"
                       "stmt('refcount_set', 'refcount_set(r);')\n",
                       "missing argument 'n'"),
    "nowhere.py": (
        "from backing_aio.model.lang import Variant, stmt as S\n"
        "v = Variant(name='x', summary='', kernel='6.12', caller='overlayfs', callbacks={},\n"
        "    entry={'read': 'r', 'write': 'r'},\n"
        "    procs={'r': (S('goto', 'goto out;', target='out'),)})\n",
        "jumps to 'out', which is nowhere"),
    "empty.py": ("x = 1\n", "defines no variants"),
    "raises.py": ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_variant_files_exit_2_with_one_line(tmp_path: Path, name: str) -> None:
    content, expected = BAD_FILES[name]
    f = tmp_path / name
    f.write_text(content)
    code, out, err = run("check", str(f))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


@pytest.mark.parametrize(("args", "expected"), [
    (["check", "no-such-variant"], "unknown variant 'no-such-variant'"),
    (["check", "seed", "-n", "0"], "--requests must be between 1 and 8"),
    (["check", "seed", "-n", "x"], "invalid int value"),
    (["check", "seed", "-n", "2", "--types", "read,append"], "unknown request type 'append'"),
    (["explain", "seed", "-p", "UAF2"], "unknown property 'UAF2'"),
    (["replay", "/nonexistent.json"], "cannot read"),
    (["check", "missing.py"], "no such file"),
    (["frobnicate"], "invalid choice"),
    ([], "a command is needed"),
])
def test_usage_errors_exit_2_with_one_line(args: list[str], expected: str) -> None:
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_prove_with_bmc_replays_the_counterexample(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    assert main(["prove", "ovl-5.6", "--types", "read", "--bmc", "--json",
                 "--save", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (r,) = doc["results"]
    assert r["failed"] == ["UAF"] and r["bmc"]["failed"] == ["UAF"]
    cx = r["bmc"]["counterexamples"]["UAF"]
    assert cx["replayed"] and cx["steps"] == 19
    # the saved counterexample replays in the explorer's own replay (exit 1: reproduces)
    assert main(["replay", cx["saved"]]) == 1
    assert "reproduces UAF" in capsys.readouterr().out


@pytest.mark.parametrize("limit", [["--rlimit", "1"], ["--timeout", "1"]])
def test_prove_says_when_z3_cannot_decide(capsys: pytest.CaptureFixture[str],
                                          limit: list[str]) -> None:
    # one unit of z3's work per query (deterministic), or one millisecond (the wall-clock
    # limit a user may add on top)
    assert main(["prove", "seed", "--types", "read", *limit]) == 1
    out = capsys.readouterr().out
    assert "NOT DECIDED" in out and "prove: FAILED" in out


# 5000 units decide each question of deriving the rules (a few thousand at most), but not
# the bounded search's first query (tens of thousands, millions for asynchronous IO); with
# 1 unit the derivation would give up too and fork both ways everywhere: slower. Only the
# deterministic limit: a wall-clock one would make the verdict depend on the machine.
@pytest.mark.slow
@pytest.mark.z3
@pytest.mark.parametrize("limit", [["--rlimit", "5000"]])
def test_the_gate_fails_when_z3_cannot_decide(capsys: pytest.CaptureFixture[str],
                                              limit: list[str]) -> None:
    # z3 answers unknown, which the gate must never count as a proof (the explorer's rows
    # still pass, so only the z3 section fails it)
    assert main(["gate", "--no-mutants", "--max-requests", "1", *limit]) == 1
    out = capsys.readouterr().out
    z3_section = out.split("z3 (bmc and proof")[1]
    assert z3_section.count("NOT DECIDED") == len(catalogue())
    assert "holds for all N" not in z3_section
    assert "gate: FAILED" in out


def test_no_wall_clock_limit_unless_asked() -> None:
    # a verdict must not depend on the machine's load: by default every z3 query is
    # bounded by the resource count alone, from the command line down to each engine
    import inspect

    from backing_aio.cli.main import _parser
    from backing_aio.verify.agree import decide, decide_all
    from backing_aio.verify.bmc import bmc
    from backing_aio.verify.gate import check_z3
    from backing_aio.verify.prove import prove
    from backing_aio.verify.symbolic import RLIMIT, build

    for argv in (["prove", "seed"], ["gate"]):
        args = _parser().parse_args(argv)
        assert args.timeout is None and args.rlimit is None, argv
    for fn in (build, prove, bmc, decide, decide_all, check_z3):
        params = inspect.signature(fn).parameters
        assert params["timeout_ms"].default is None, fn.__name__
        assert params["rlimit"].default in (RLIMIT, None), fn.__name__


@pytest.mark.parametrize("command", [["prove", "seed"], ["gate", "--no-mutants"]])
@pytest.mark.parametrize(("option", "value"), [("--rlimit", "0"), ("--rlimit", "4294967296"),
                                               ("--timeout", "0"), ("--timeout", "-5")])
def test_z3_limits_must_be_positive_and_fit(command: list[str], option: str,
                                            value: str) -> None:
    # 2**32 would wrap round to no limit at all inside z3: refused, like 0
    code, out, err = run(*command, option, value)
    assert code == 2 and out == "" and err.count("\n") == 1 and option in err
