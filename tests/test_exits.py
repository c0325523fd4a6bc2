"""The exit-code policy (backing_aio.cli.exits) across every command: a finding is 1 whatever
happens to stdout, bad input is 2 with one line naming the problem, an interrupt is 130,
never a traceback; outputs are checked before the work and never land outside their
directory; a user's file cannot take the process over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import backing_aio.cli.main
from backing_aio.cli.exits import EXIT_INTERRUPTED, EXIT_USAGE, run
from backing_aio.model.catalogue import catalogue
from backing_aio.model.userfile import UserFileError, load_variants
from backing_aio.verify.trace import concretise, save

ROOT = Path(__file__).resolve().parent.parent

# Every command is a subcommand of one main; the agree cases carry the z3 marker (it imports
# z3 to run), so where z3 cannot run they skip instead of crashing.
NEEDS_Z3 = {"agree"}
PREFIX = "backing-aio: error: "

UNSAFE = ("from backing_aio.model.catalogue import catalogue\n"
          "from backing_aio.model.mutants import mutants\n"
          "VARIANTS = [m.variant for m in mutants(catalogue()['seed-fixed'])\n"
          "            if m.name == 'seed-fixed:ref1:backing_file_read_iter#11(refcount_set)']\n")
SEED_COPY = "from backing_aio.model.catalogue import catalogue\nVARIANTS = [catalogue()['seed']]\n"
RECURSIVE = """
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import stmt
v = catalogue()["seed"]
procs = dict(v.procs)
procs["backing_aio_cleanup"] = (stmt("call", "backing_aio_cleanup(aio, res);",
                                     proc="backing_aio_cleanup"),
                                *procs["backing_aio_cleanup"])
VARIANTS = [v.with_procs(procs, name="seed-recursive")]
"""
GROWING = """
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import stmt
v = catalogue()["seed"]
procs = dict(v.procs)
procs["backing_aio_cleanup"] = (stmt("get_file", "get_file(file);", tag="again"),
                                stmt("goto", "goto again;", target="again"),
                                *procs["backing_aio_cleanup"])
VARIANTS = [v.with_procs(procs, name="seed-growing")]
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    made: dict[str, Path] = {}

    def put(name: str, text: str | bytes) -> None:
        p = d / name
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
        made[name] = p

    put("notes.txt", "not python\n")
    put("syntax.py", "def (:\n")
    put("exits.py", "import sys\nsys.exit(3)\n")
    put("raises.py", "raise RuntimeError('boom')\n")
    put("empty.py", "x = 1\n")
    put("recursive.py", RECURSIVE)
    put("growing.py", GROWING)
    put("twice.py", "from backing_aio.model.catalogue import catalogue\n"
        "from dataclasses import replace\n"
        "a = catalogue()['seed']\nb = a.with_procs(dict(a.procs))\nVARIANTS = [a, b]\n")
    put("seedcopy.py", SEED_COPY)
    put("binary.json", bytes(range(256)) * 4)
    put("notjson.json", "{ not json\n")
    put("otherformat.json", json.dumps({"format": "something-else/1"}))
    put("existing.txt", "I am a file\n")
    v = catalogue()["ovl-5.6"]
    from backing_aio.verify.explorer import explore

    cx = explore(v, 1, kinds=["read"]).counterexample("UAF")
    good = concretise(v, cx).as_json()

    def trace(name: str, **changes: object) -> None:
        data = {**good, **changes}
        put(name, json.dumps(data))

    steps = good["steps"]
    trace("good.json")
    trace("badindex.json", steps=[{**steps[0], "request": 5}, *steps[1:]])
    trace("badactor.json", steps=[{**steps[0], "actor": "gremlin"}, *steps[1:]])
    trace("badchoice.json", steps=[*steps[:-1], {**steps[-1], "choice": "meteor strike"}])
    trace("nosteps.json", steps=[])
    trace("extrasteps.json", steps=[*steps, steps[-1]])
    trace("otherprop.json", property="NOT_A_PROPERTY")
    trace("badtype.json", requests=["teleport"])
    trace("othervariant.json", variant="seed")
    trace("toolong.json", steps=steps * 600)
    os.mkdir(d / "adir")
    made["adir"] = d / "adir"
    return made


# (arguments, what the one line must mention); {name} is a file from `files`
BAD: list[tuple[list[str], str]] = [
    ([], "command"),
    (["bogus"], "bogus"),
    (["list", "extra"], "extra"),
    (["check"], "VARIANT"),
    (["check", "nope"], "nope"),
    (["check", "seed", "-n", "0"], "--requests"),
    (["check", "seed", "-n", "9"], "--requests"),
    (["check", "seed", "-n", "x"], "x"),
    (["check", "seed", "--types", "read,bogus"], "bogus"),
    (["check", "seed", "-n", "1", "--types", ","], "types"),
    (["check", "seed", "--reduction", "x"], "reduction"),
    (["check", "seed", "--max-states", "0"], "--max-states"),
    (["check", "nowhere.c"], "nowhere.c: no such file"),
    (["lift"], "C"),
    (["lift", "nowhere.patch"], "nowhere.patch: no such file"),
    (["lift", "tests", "--callback", "cleanup"], "NAME=FUNCTION"),
    (["lift", "tests"], "not a kernel tree with the helpers"),
    (["check", "{adir}/missing.py"], "no such file"),
    (["check", "{notes.txt}"], "notes.txt"),
    (["check", "{syntax.py}"], "syntax"),
    (["check", "{exits.py}"], "sys.exit"),
    (["check", "{raises.py}"], "boom"),
    (["check", "{empty.py}"], "no variants"),
    (["check", "{recursive.py}"], "calls itself"),
    (["check", "{growing.py}"], "without bound"),
    (["check", "{twice.py}"], "two variants"),
    (["check", "{seedcopy.py}:nope"], "nope"),
    (["check", "seed", "--save", "{existing.txt}"], "not a directory"),
    (["check", "seed", "--save", "/proc/x"], "/proc"),
    (["explain", "ovl-5.6"], "--property"),
    (["explain", "ovl-5.6", "-p", "NOPE"], "NOPE"),
    (["explain", "ovl-5.6", "-p", "UAF", "--subject", "wrappr"], "wrappr"),
    (["explain", "ovl-5.6", "-p", "UAF", "-n", "0"], "--requests"),
    (["explain", "ovl-5.6", "-p", "UAF", "-n", "9"], "--requests"),
    (["explain", "{seedcopy.py}:nope", "-p", "UAF"], "nope"),
    (["replay"], "file"),
    (["replay", "{adir}/missing.json"], "missing.json"),
    (["replay", "{binary.json}"], "binary.json"),
    (["replay", "{notjson.json}"], "not JSON"),
    (["replay", "{otherformat.json}"], "not a saved counterexample"),
    (["replay", "{adir}"], "adir"),
    (["replay", "{badindex.json}"], "request 5"),
    (["replay", "{badactor.json}"], "gremlin"),
    (["replay", "{badchoice.json}"], "meteor strike"),
    (["replay", "{nosteps.json}"], "no steps"),
    (["replay", "{extrasteps.json}"], "after"),
    (["replay", "{otherprop.json}"], "NOT_A_PROPERTY"),
    (["replay", "{badtype.json}"], "teleport"),
    (["replay", "{othervariant.json}"], "seed"),
    (["replay", "{toolong.json}"], "steps"),
    (["prove", "nope"], "nope"),
    (["prove", "seed", "--types", ","], "types"),
    (["prove", "seed", "--types", "bogus"], "bogus"),
    (["prove", "seed", "--rlimit", "0"], "--rlimit"),
    (["prove", "seed", "--timeout", "0"], "--timeout"),
    (["prove", "seed", "--save", "{adir}"], "--bmc"),
    (["prove", "seed", "--bmc", "--save", "{existing.txt}"], "not a directory"),
    (["gate", "--max-requests", "0"], "--max-requests"),
    (["gate", "--max-requests", "9"], "--max-requests"),
    (["gate", "--rlimit", "-1"], "--rlimit"),
    (["diagrams"], "command"),
    (["diagrams", "bogus"], "bogus"),
    (["diagrams", "lifecycle", "seed-fixed:delete:nowhere#0(call)"], "no mutant"),
    (["diagrams", "lifecycle", "nope"], "nope"),
    (["diagrams", "lifecycle", "seed", "--kind", "x"], "kind"),
    (["diagrams", "lifecycle", "seed", "--out", "{existing.txt}"], "not a directory"),
    (["diagrams", "swimlane", "seed", "-p", "UAF"], "nothing to draw"),
    (["diagrams", "swimlane", "ovl-5.6", "-p", "NOPE"], "NOPE"),
    (["diagrams", "swimlane", "ovl-5.6", "-p", "UAF", "-n", "9"], "--requests"),
    (["diagrams", "swimlane", "ovl-5.6", "-p", "UAF", "--subject", "wrappr"], "wrappr"),
    (["diagrams", "compare", "seed"], "VARIANT"),
    (["report", "--max-requests", "0"], "--max-requests"),
    (["report", "--max-requests", "9"], "--max-requests"),
    (["report", "--out", "/proc/x/report.html"], "/proc"),
    (["report", "--out", "{adir}"], "not a regular file"),
    (["bench", "--variant", "nope"], "nope"),
    (["bench", "--variant", "{seedcopy.py}:nope"], "nope"),
    (["bench", "--repeat", "0"], "--repeat"),
    (["bench", "--out", "/dev/full"], "/dev/full"),
    (["conform"], "command"),
    (["conform", "bogus"], "bogus"),
    (["conform", "bench", "-n", "0"], "-n"),
    (["conform", "bench", "--variant", "nope"], "nope"),
    (["conform", "bench", "--backend", "x"], "backend"),
    (["conform", "bench", "--out", "{adir}"], "not a regular file"),
    (["agree", "bogus"], "bogus"),
    (["agree", "--every", "0"], "--every"),
    (["agree", "all", "--only", "nope"], "--only nope"),
    (["agree", "--out", "{adir}"], "not a regular file"),
    (["gate", "--junit", "{adir}"], "not a regular file"),
    (["gate", "--sarif", "{adir}"], "not a regular file"),
    (["check", "mainline", "--sarif", "{adir}"], "not a regular file"),
    (["diff", "mainline", "nope"], "nope"),
    (["diff", "mainline"], "NEW"),
    (["gate-patch", "--tree", "{adir}", "{adir}/none.patch"], "no such file"),
    (["gate-patch", "p.patch"], "--tree"),
    (["kernel"], "command"),
    (["kernel", "bogus"], "bogus"),
    (["kernel", "table", "-n", "0"], "-n"),
    (["kernel", "programs", "--fs", "ext9"], "ext9"),
    (["kernel", "programs", "--driver", ","], "driver"),
]


def _expand(args: list[str], files: dict[str, Path]) -> list[str]:
    out = []
    for a in args:
        for name, path in files.items():
            a = a.replace("{" + name + "}", str(path))
        out.append(a)
    return out


@pytest.mark.parametrize(("args", "mentions"), [
    pytest.param(a, m, id=" ".join(a) or "(nothing)",
                 marks=[pytest.mark.z3] if a[:1] and a[0] in NEEDS_Z3 else [])
    for a, m in BAD])
def test_bad_input_is_exit_2_in_one_line(args: list[str], mentions: str,
                                         files: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = backing_aio.cli.main.main(_expand(args, files))
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE, (code, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(PREFIX) and mentions in err, err


def test_there_are_at_least_fifty_kinds_of_bad_input_over_every_command() -> None:
    assert len(BAD) >= 50
    assert {a[0] for a, _ in BAD if a} >= set(backing_aio.cli.main.commands())


def test_with_json_an_error_is_json_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert backing_aio.cli.main.main(["check", "nope", "--json"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    doc = json.loads(err)
    assert out == "" and doc["format"] == "backing-aio-error/1" and doc["exit"] == 2
    assert "nope" in doc["error"]


def test_an_unexpected_error_is_one_line_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> int:
        raise TypeError("a bug")

    assert run("x", broken, []) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: TypeError: a bug" in err


# ---- through a real process: pipes, signals -----------------------------------------

def _cli(*args: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backing_aio", *args], cwd=ROOT,
                          text=True,
                          stdout=stdout if stdout is not None else subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False)


def _closed_pipe() -> int:
    """The write end of a pipe whose reader is already gone: every write gets EPIPE
    (what ``| head -1`` gives a writer once head has its line)."""
    r, w = os.pipe()
    os.close(r)
    return w


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_finding_stays_1_when_the_reader_has_gone(tmp_path: Path,
                                                    json_flag: list[str]) -> None:
    f = tmp_path / "unsafe.py"
    f.write_text(UNSAFE)
    w = _closed_pipe()
    try:
        done = _cli("check", str(f), "-n", "1", *json_flag, stdout=w)
    finally:
        os.close(w)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_a_replay_that_still_breaks_stays_1_when_the_reader_has_gone(
        files: dict[str, Path]) -> None:
    w = _closed_pipe()
    try:
        done = _cli("replay", str(files["good.json"]), stdout=w)
    finally:
        os.close(w)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr


def test_an_interrupt_is_130_in_one_line(tmp_path: Path) -> None:
    """A real SIGINT (raised by the variant file while it loads) ends the command with
    130 and one line."""
    f = tmp_path / "interrupts.py"
    # Python's own handler, in case the run was started with SIGINT ignored (a background
    # job of a non-interactive shell is)
    f.write_text("import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
                 "signal.raise_signal(signal.SIGINT)\n")
    done = _cli("check", str(f))
    assert done.returncode == EXIT_INTERRUPTED
    assert done.stderr.count("\n") == 1 and "interrupted" in done.stderr


# ---- outputs ----------------------------------------------------------------------------

def test_a_saved_name_never_leaves_the_save_directory(tmp_path: Path) -> None:
    f = tmp_path / "escape.py"
    f.write_text("from backing_aio.model.catalogue import catalogue\n"
                 "VARIANTS = [catalogue()['ovl-5.6'].with_procs("
                 "dict(catalogue()['ovl-5.6'].procs), name='../../escape/x')]\n")
    save_dir = tmp_path / "deep" / "er" / "saved"
    before = set(tmp_path.rglob("*"))
    done = _cli("check", str(f), "-n", "1", "--save", str(save_dir))
    assert done.returncode == 0, done.stderr
    new = set(tmp_path.rglob("*")) - before
    written = [p for p in new if p.is_file()]
    assert written and all(p.parent == save_dir for p in written), written
    assert not (tmp_path / "escape").exists() and not (tmp_path / "deep" / "escape").exists()


def test_a_device_is_never_replaced() -> None:
    from backing_aio.errors import BadInput
    from backing_aio.outputs import write_text

    with pytest.raises(BadInput, match="not a regular file"):
        write_text(Path("/dev/full"), "x" * 10)
    assert Path("/dev/full").is_char_device()


_FULL_DISK = """
import sys
from pathlib import Path
from backing_aio.errors import BadInput
from backing_aio.outputs import write_text
target = Path(sys.argv[1]) / "out.txt"
write_text(target, "old\\n")
try:
    write_text(target, "x" * (1 << 20))
except BadInput as e:
    print("refused:", e)
print("kept:", target.read_text() == "old\\n")
print("files:", sorted(p.name for p in target.parent.iterdir()))
"""


def test_a_full_disk_keeps_the_old_file_and_leaves_no_partial_one(tmp_path: Path) -> None:
    """On a 64 KiB tmpfs, mounted in a mount namespace of its own (nothing else sees it):
    a write that does not fit fails with one line, the old file is intact and no
    temporary file is left."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    script = (f"mount -t tmpfs -o size=64k tmpfs {mnt} && "
              f"exec {sys.executable} -c '{_FULL_DISK}' {mnt}")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           script], capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0 and "refused" not in done.stdout:
        pytest.skip(f"cannot mount a small tmpfs in a mount namespace: "
                    f"{done.stderr.strip().splitlines()[-1:] or 'not root'}")
    assert "refused: cannot write" in done.stdout and "No space left" in done.stdout
    assert "kept: True" in done.stdout and "files: ['out.txt']" in done.stdout, done.stdout


def test_a_saved_counterexample_is_written_whole(tmp_path: Path) -> None:
    from backing_aio.verify.explorer import explore

    v = catalogue()["ovl-5.6"]
    path = tmp_path / "t.json"
    save(concretise(v, explore(v, 1, kinds=["read"]).counterexample("UAF")), path)
    assert json.loads(path.read_text())["property"] == "UAF"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no temporary left


# ---- the user's file ----------------------------------------------------------------------

def test_a_users_print_cannot_corrupt_json(tmp_path: Path) -> None:
    f = tmp_path / "chatty.py"
    f.write_text("print('hello from the variant file')\n" + SEED_COPY)
    done = _cli("check", str(f), "-n", "1", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] and "hello" not in done.stdout


def test_sys_exit_in_a_users_file_is_bad_input(tmp_path: Path) -> None:
    f = tmp_path / "exits.py"
    f.write_text("import sys\nsys.exit(0)\n")
    with pytest.raises(UserFileError, match=r"sys\.exit\(0\)"):
        load_variants(f)


# ---- progress -----------------------------------------------------------------------------

def test_progress_is_quiet_off_a_terminal_and_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from backing_aio.cli.progress import Progress

    assert not Progress(io.StringIO()).enabled  # not a terminal
    monkeypatch.setenv("CI", "true")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert not Progress(Tty()).enabled


def test_progress_is_cleared_before_the_result() -> None:
    import io

    from backing_aio.cli.progress import DELAY, Progress

    out = io.StringIO()
    line = Progress(out, force=True, threaded=False)  # drawn by the caller: no clock here
    line.update("too early")  # within the first second: nothing
    assert out.getvalue() == ""
    line.started -= 2 * DELAY  # as if the work had gone on for longer
    line.states(12_000, 2.0)
    assert out.getvalue() == "\r12,000 states, 6,000/s"
    line.clear()
    assert out.getvalue().endswith("\r" + " " * len("12,000 states, 6,000/s") + "\r")
