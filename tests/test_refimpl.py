"""The reference implementation on its own: the checking allocator, file references,
refcount_t and freeze protection; real IO through every version of the helpers, with the
bytes checked against a shadow copy; fault injection; reproducible controlled runs."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backing_aio import kapi
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant
from backing_aio.refimpl import kasan
from backing_aio.refimpl.env import (
    ALL_OPTIONS,
    CALLER_COMP_YES,
    MODEL_OPTIONS,
    NO_FAULTS,
    STRESS_WEIGHTS,
    Env,
)
from backing_aio.refimpl.helpers import IMPLEMENTATIONS, Helpers
from backing_aio.refimpl.kasan import (
    FINDING_IDS,
    Checked,
    DoubleFree,
    Finding,
    KmemCache,
    UseAfterFree,
)
from backing_aio.refimpl.kernel import Kernel
from backing_aio.refimpl.run import BLOCK, IoSpec, RunResult, Workspace, fd_count, run
from backing_aio.refimpl.sched import COMPLETE_FIRES, LOWER_RETURNS, Controlled, Seeded
from backing_aio.refimpl.vfs import (
    EINVAL,
    EIOCBQUEUED,
    File,
    IovIter,
    Kiocb,
    Refcount,
    SuperBlock,
    fput,
    get_file,
)
from backing_aio.vocab import Shape

# The seed's own faults (CONTEXT on a read's completion, RESULT_PROPAGATED with io_uring's
# writes) have their tests (test_conformance, test_hypothesis_refimpl); seed-fixed stands
# for it here.
VARIANTS = [n for n in IMPLEMENTATIONS if n != "seed"]
# what a stacked filesystem's upper layer does (sync kiocbs, IOCB_DIO_CALLER_COMP)
STACKED = [n for n in VARIANTS if IMPLEMENTATIONS[n].shape == Shape.STACKED]
TYPES = ["read", "write", "sync-read", "sync-write"]


def _kinds(name: str, n: int = 8) -> list[str]:
    """``n`` request types, cycling through those the version serves."""
    kinds = IMPLEMENTATIONS[name].kinds
    return [kinds[i % len(kinds)] for i in range(n)]


@pytest.fixture(scope="module")
def ws() -> Iterator[Workspace]:
    with Workspace() as w:
        yield w


class Thing(Checked):
    field: int

    def __init__(self, shadow: object) -> None:
        super().__init__(shadow)  # type: ignore[arg-type]
        self.field = 1


def _alloc_it(cache: KmemCache[Thing]) -> Thing:
    return cache.alloc(7)


def _free_it(cache: KmemCache[Thing], t: Thing) -> None:
    cache.free(t)


def test_use_after_free_names_the_allocation_and_free_sites() -> None:
    cache: KmemCache[Thing] = KmemCache("thing", "wrapper", Thing)
    t = _alloc_it(cache)
    assert t.field == 1
    _free_it(cache, t)
    with pytest.raises(UseAfterFree) as e:
        _ = t.field
    msg = str(e.value)
    assert e.value.prop == "UAF" and e.value.subject == "wrapper"
    assert "thing#0 (request #7)" in msg
    assert "allocated at _alloc_it (test_refimpl.py" in msg
    assert "freed at _free_it (test_refimpl.py" in msg
    assert "accessed at test_use_after_free_names" in msg
    with pytest.raises(UseAfterFree, match="write of field"):
        t.field = 2


def test_double_free_and_leaks() -> None:
    cache: KmemCache[Thing] = KmemCache("thing", "wrapper", Thing)
    a, b = cache.alloc(0), cache.alloc(1)
    cache.free(a)
    with pytest.raises(DoubleFree) as e:
        cache.free(a)
    assert e.value.prop == "DOUBLE_FREE"
    assert [s.name for s in cache.leaks()] == ["thing#1"]
    cache.free(b)
    assert cache.leaks() == []


def test_refcount_t_semantics() -> None:
    r = Refcount()
    with pytest.raises(Finding) as e:
        r.inc()
    assert e.value.prop == "REF_UNDERFLOW"
    r.set(2)
    assert not r.dec_and_test()
    assert r.dec_and_test()
    with pytest.raises(Finding, match="underflow"):
        r.dec_and_test()


def test_last_fput_closes_the_descriptor(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    f = File("f", "shared file", fd, SuperBlock("sb"))
    get_file(f)
    fput(f)
    os.fstat(fd)  # still open: one reference left
    fput(f)
    with pytest.raises(OSError) as e:
        os.fstat(fd)
    assert e.value.errno == errno.EBADF
    with pytest.raises(Finding) as u:
        get_file(f)
    assert u.value.prop == "UAF" and u.value.subject == "shared file"
    assert "after its last fput" in str(u.value)


def test_freeze_protection_must_balance() -> None:
    sb = SuperBlock("ext4")
    sb.sb_start_write(3, "here", "submitter")
    assert sb.writers() == {3: 1}
    sb.sb_end_write(3, "here", "submitter")
    with pytest.raises(Finding) as e:
        sb.sb_end_write(3, "there", "submitter")
    assert e.value.prop == "FREEZE_BALANCED"


def test_freeze_protection_nests_not_and_has_one_owner() -> None:
    """lockdep's view of sb_writers: no nested start; the task that took it ends it, or it
    is released (__sb_writers_release) and taken over (__sb_writers_acquired)."""
    sb = SuperBlock("ext4")
    sb.sb_start_write(1, "file_start_write", "submitter")
    with pytest.raises(Finding, match="nested"):
        sb.sb_start_write(1, "kiocb_start_write", "submitter")
    with pytest.raises(Finding, match="held by submitter"):
        sb.sb_end_write(1, "kiocb_end_write", None)  # not released: nobody may take it over
    with pytest.raises(Finding, match="does not hold"):
        sb.sb_writers_release(1, "__sb_writers_release", "completion")
    sb.sb_writers_release(1, "__sb_writers_release", "submitter")
    with pytest.raises(Finding, match="held by nobody"):
        sb.sb_end_write(1, "file_end_write", "completion")  # released: file_end_write is wrong
    sb.sb_end_write(1, "kiocb_end_write", None)
    assert sb.writers() == {}


def test_finding_ids_are_the_models_plus_data() -> None:
    from backing_aio.model.properties import PROPERTY_IDS

    assert set(FINDING_IDS) == {*PROPERTY_IDS, "DATA"}


@pytest.mark.parametrize("name", VARIANTS)
def test_contracts_are_the_models(cat: dict[str, Variant], name: str) -> None:
    """The same kernel and caller as the model's variant (so the same environment follows
    from kapi), and the same callback contract."""
    impl, v = IMPLEMENTATIONS[name], cat[name]
    assert impl.kernel == v.kernel and impl.caller == v.caller
    assert impl.shape == v.shape and impl.kinds == v.kinds
    assert impl.release() == kapi.Kernel.parse(v.kernel)
    assert impl.freeze() == kapi.freeze(kapi.Kernel.parse(v.kernel))
    assert impl.callbacks == v.callbacks


def _run(ws: Workspace, name: str | type[Helpers], specs: list[IoSpec], seed: int = 0,
         options: dict[str, tuple[str, ...]] | None = None, can_odirect: bool = True,
         weights: dict[str, float] | None = None) -> RunResult:
    chooser = Seeded(seed, weights)
    return run(name, specs, sched=Controlled(chooser), env=Env(chooser, options or NO_FAULTS),
               workspace=ws, can_odirect=can_odirect)


# ovl-5.6 frees the wrapper under the lower filesystem: only a lucky schedule moves its data
CORRECT = [n for n in VARIANTS if not catalogue()[n].expect]


@pytest.mark.parametrize(("name", "rtype"), [
    (n, t) for n in CORRECT for t in TYPES if t in IMPLEMENTATIONS[n].kinds])
def test_real_io_lands_and_reads_back(ws: Workspace, name: str, rtype: str) -> None:
    specs = [IoSpec(rtype, 0, BLOCK, segments=3), IoSpec(rtype, 3 * BLOCK + 17, 1000),
             IoSpec(rtype, 6 * BLOCK, 2 * BLOCK, segments=2)]
    for seed in range(3):
        r = _run(ws, name, specs, seed)
        assert not r.findings and not r.errors, r.findings or r.errors
        assert r.file_ok
        for req in r.requests:
            res = req.completed if req.returned == -EIOCBQUEUED else req.returned
            assert res == req.length, (req, res)
            assert req.queued == (not req.sync)  # NO_FAULTS: every async IO is queued
        data = ws.read()
        if rtype.endswith("write"):
            for req in r.requests:  # the bytes are on disk, not only in the shadow
                assert data[req.offset:req.offset + req.length] == bytes(req.buf)
        else:
            for req in r.requests:
                assert bytes(req.buf) == ws.initial[req.offset:req.offset + req.length]


def test_controlled_runs_are_reproducible(ws: Workspace) -> None:
    specs = [IoSpec("read", 0), IoSpec("write", 2 * BLOCK), IoSpec("write", 4 * BLOCK)]

    def trace(seed: int) -> list[tuple[int, str, str, str]]:
        r = _run(ws, "mainline", specs, seed, MODEL_OPTIONS)
        return [(e.req, e.actor, e.op, e.choice) for e in r.events]

    assert trace(5) == trace(5)
    assert len({tuple(trace(s)) for s in range(6)}) > 1


def test_completion_may_run_before_the_lower_fs_returns(ws: Workspace) -> None:
    """L2: under the controlled scheduler some runs complete the IO while the submitter
    is still inside submit; the seed helpers survive that (the reference count)."""
    orders = set()
    for seed in range(20):
        r = _run(ws, "seed-fixed", [IoSpec("read", 0), IoSpec("write", 2 * BLOCK)], seed)
        assert not r.findings, r.findings
        for req in (0, 1):
            ops = [e.op for e in r.events if e.req == req and e.op in
                   (LOWER_RETURNS, COMPLETE_FIRES)]
            orders.add(tuple(ops))
    assert (COMPLETE_FIRES, LOWER_RETURNS) in orders
    assert (LOWER_RETURNS, COMPLETE_FIRES) in orders


@pytest.mark.parametrize("name", VARIANTS)
def test_faults_injected_keep_data_and_properties(ws: Workspace, name: str) -> None:
    """EIO, ENOSPC, short counts, allocation and workqueue failure, files opened on the
    fly, inline completions: no finding for the good versions, the file stays exact."""
    seen: set[str] = set()
    specs = [IoSpec(t, 2 * BLOCK * i, BLOCK + i, segments=2) for i, t in enumerate(_kinds(name))]
    options = ALL_OPTIONS
    for seed in range(12):
        r = _run(ws, name, specs, seed, options, weights=dict(STRESS_WEIGHTS))
        if name in ("ovl-5.6", "ovl-6.1") and r.findings:  # their known bugs, and only those
            assert {f.prop for f in r.findings} == {"UAF" if name == "ovl-5.6" else "LEAK"}
            continue
        assert not r.findings and not r.errors, r.findings or r.errors
        assert r.file_ok
        for req in r.requests:
            res = req.completed if req.returned == -EIOCBQUEUED else req.returned
            assert res is not None
            seen.add("error" if res < 0 else "short" if 0 < res < req.length else "full")
            if req.alloc_failed or req.wq_failed:
                seen.add("nomem")
            if req.queued:
                seen.add("queued")
    assert {"error", "short", "full", "queued"} <= seen


@pytest.mark.parametrize("name", ["seed-fixed", "mainline"])
def test_odirect_refused_and_zero_length(ws: Workspace, name: str) -> None:
    specs = [IoSpec("read", 0, BLOCK, direct=True), IoSpec("write", 2 * BLOCK, 0),
             IoSpec("write", 4 * BLOCK, BLOCK, direct=True)]
    r = _run(ws, name, specs, can_odirect=False)
    assert not r.findings and r.file_ok
    assert [q.returned for q in r.requests] == [-EINVAL, 0, -EINVAL]
    assert all(q.submitted == 0 for q in r.requests)


def test_no_descriptor_leaks(ws: Workspace) -> None:
    before = fd_count()
    for name in VARIANTS:
        _run(ws, name, [IoSpec("read", 0), IoSpec("write", 2 * BLOCK)], 1, ALL_OPTIONS)
    assert fd_count() == before


def test_the_v56_bug_shows_on_free_running_threads() -> None:
    """No script, no controlled scheduler: real completion threads racing the submitter
    hit the v5.6 use-after-free, typically within a few hundred queued IOs (the cap is
    far above the longest of 60 measured runs, so the test does not depend on luck)."""
    from backing_aio.refimpl.run import stress

    queue_all = {**ALL_OPTIONS, "alloc": ("alloc ok",), "submit": ("queues",),
                 "complete": ("res RES",)}
    with Workspace(size=256 * BLOCK) as w:
        for seed in range(2):
            r = stress("ovl-5.6", 30000, workspace=w, seed=seed, tasks=4, options=queue_all)
            assert r.findings and r.findings[0].prop == "UAF", (r.requests, r.findings)
            assert "freed at ovl_aio_cleanup_handler" in r.findings[0].message
            assert r.requests < 30000


# ---- the io_uring backend, real O_DIRECT, checking off ---------------------------------

needs_uring = pytest.mark.uring
BACKENDS = ["thread", pytest.param("uring", marks=needs_uring)]


def _run_on(ws: Workspace, name: str, specs: list[IoSpec], backend: str, seed: int = 0,
            options: dict[str, tuple[str, ...]] | None = None) -> RunResult:
    chooser = Seeded(seed)
    return run(name, specs, sched=Controlled(chooser), env=Env(chooser, options or NO_FAULTS),
               workspace=ws, backend=backend)


@needs_uring
@pytest.mark.parametrize("name", STACKED)
def test_uring_real_io_lands_and_reads_back(ws: Workspace, name: str) -> None:
    """Queued IO goes through io_uring and completes from its reaper: the bytes land and
    read back, buffered and (where the filesystem does it) real O_DIRECT."""
    specs = [IoSpec("read", 0, BLOCK, segments=3), IoSpec("write", 2 * BLOCK, 1000),
             IoSpec("read", 4 * BLOCK, 2 * BLOCK, direct=True, segments=2),
             IoSpec("write", 8 * BLOCK, BLOCK, direct=True), IoSpec("sync-write", 10 * BLOCK)]
    for seed in range(4):
        r = _run_on(ws, name, specs, "uring", seed)
        if name in ("ovl-5.6", "ovl-6.1") and r.findings:  # their known bugs, and only those
            assert {f.prop for f in r.findings} == {"UAF" if name == "ovl-5.6" else "LEAK"}
            continue
        assert not r.findings and not r.errors and r.file_ok, (r.findings, r.errors)
        assert [q.completed for q in r.requests[:4]] == [BLOCK, 1000, 2 * BLOCK, BLOCK]
        assert bytes(r.requests[0].buf) == ws.initial[:BLOCK]
        assert bytes(r.requests[2].buf) == ws.initial[4 * BLOCK:6 * BLOCK]
        assert r.async_ios == 4


@needs_uring
@pytest.mark.parametrize("name", ["loop", "erofs"])
def test_uring_real_io_of_another_upper_side(ws: Workspace, name: str) -> None:
    """The loop driver's pdu and erofs's bio wrapper over io_uring: each request ends once,
    with the lower filesystem's result, buffered and real O_DIRECT, and its bytes land."""
    kinds = IMPLEMENTATIONS[name].kinds
    specs = [IoSpec(kinds[i % len(kinds)], 2 * BLOCK * i, BLOCK, direct=i % 2 == 1)
             for i in range(4)]
    for seed in range(4):
        r = _run_on(ws, name, specs, "uring", seed)
        assert not r.findings and not r.errors and r.file_ok, (r.findings, r.errors)
        assert [q.completed for q in r.requests] == [BLOCK] * 4
        assert [q.returned for q in r.requests] == [-EIOCBQUEUED] * 4
        assert r.async_ios == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_misaligned_odirect_gets_einval_from_the_real_kernel(backend: str) -> None:
    """Real O_DIRECT: aligned IO through page-aligned buffers works; misaligned IO (offset
    or length) gets -EINVAL from the kernel, which the lower filesystem reports as its
    result, queued (completion), served at once (return) or sync alike. On the same
    requests without real O_DIRECT the kernel takes them: the -EINVAL is not made up."""
    with Workspace() as w:
        if not w.direct_io:
            pytest.skip(f"no real O_DIRECT in {w.root}: {w.direct_reason}")
        specs = [IoSpec("read", 0, BLOCK, direct=True), IoSpec("read", 2 * BLOCK + 1, BLOCK,
                                                                 direct=True),
                 IoSpec("write", 4 * BLOCK, BLOCK + 1, direct=True),
                 IoSpec("sync-write", 6 * BLOCK + 1, BLOCK, direct=True)]
        for plan in ("queues", "returns RES"):
            opts = {**NO_FAULTS, "submit": (plan,)}
            r = _run_on(w, "mainline", specs, backend, options=opts)
            assert not r.findings and not r.errors and r.file_ok, (r.findings, r.errors)
            res = [q.completed if q.queued else q.returned for q in r.requests]
            assert res == [BLOCK, -EINVAL, -EINVAL, -EINVAL]
            assert [q.lower_res for q in r.requests] == res
            assert all(q.queued == (plan == "queues" and not q.sync) for q in r.requests)
        assert isinstance(r.requests[0].buf, memoryview)  # mmap memory, page aligned
        w.direct_io = False
        r = _run_on(w, "mainline", specs, backend)
        assert [q.completed if q.queued else q.returned for q in r.requests] == [
            BLOCK, BLOCK, BLOCK + 1, BLOCK]


def test_checking_off_keeps_the_slab_bookkeeping() -> None:
    """``checking(False)``: no access check and no site recorded (the benchmark's
    baseline), but live objects are still counted, so a leak is still a leak."""
    cache: KmemCache[Thing] = KmemCache("thing", "wrapper", Thing)
    with kasan.checking(False):
        assert not kasan.enabled()
        t, u = cache.alloc(0), cache.alloc(1)
        cache.free(t)
        assert t.field == 1  # no UAF: checking is off
        assert [s.alloc_site for s in cache.leaks()] == [kasan.NO_SITE]
    assert kasan.enabled()
    with pytest.raises(UseAfterFree):
        _ = t.field
    assert [s.owner for s in cache.leaks()] == [1]
    cache.free(u)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stress_checking_off_keeps_data(backend: str) -> None:
    from backing_aio.refimpl.run import stress

    with Workspace(size=256 * BLOCK) as w:
        r = stress("mainline", None, device_ios=400, workspace=w, seed=2, tasks=4,
                   backend=backend, checking=False)
    assert not r.findings and not r.errors and r.file_ok
    assert r.device_ios >= 400 and not r.checking and r.backend == backend
    assert r.async_ios > r.device_ios  # some were served inside submit or inline
    assert kasan.enabled()


@needs_uring
def test_the_v56_bug_shows_with_uring_on_free_running_threads() -> None:
    """The io_uring reaper completes IO while the submitter, between two steps, is still
    inside submit: the v5.6 use-after-free shows with no scheduler's help. It takes longer
    than with completion threads (60 runs: median about 400 requests, longest 3,400), so
    the cap is 30,000 requests, which a working race detector never reaches."""
    from backing_aio.refimpl.run import stress

    queue_all = {**ALL_OPTIONS, "alloc": ("alloc ok",), "submit": ("queues",),
                 "complete": ("res RES",)}
    with Workspace(size=256 * BLOCK) as w:
        for seed in range(2):
            r = stress("ovl-5.6", 30000, workspace=w, seed=seed, tasks=4, options=queue_all,
                       backend="uring")
            assert r.findings and r.findings[0].prop == "UAF", (r.requests, r.findings)
            assert "freed at ovl_aio_cleanup_handler" in r.findings[0].message
            assert r.requests < 30000


@needs_uring
def test_uring_ring_stops_cleanly() -> None:
    from backing_aio.refimpl.uring import Ring

    before = fd_count()
    ring = Ring(8)
    got: list[int] = []
    ring.nop(got.append)
    ring.close()
    assert got == [0] and not ring.errors
    assert fd_count() == before


def _punch_hole(path: Path, offset: int, length: int) -> None:
    """fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): the file's blocks there go,
    so the file has an extent boundary at ``offset``."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDWR)
    try:
        if libc.fallocate(fd, 3, ctypes.c_long(offset), ctypes.c_long(length)) != 0:
            pytest.skip(f"cannot punch a hole: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def _torn_write_run(w: Workspace, backend: str, plan: str,
                    corrupt: bool = False) -> RunResult:
    """A misaligned O_DIRECT write of two blocks and a byte at 0, with a hole punched at
    block 2: ext4 (iomap) checks the alignment extent by extent, so the first two blocks
    reach the disk before the last byte gets -EINVAL, and the write's result is -EINVAL.
    ``corrupt``: the file gets bytes neither old nor new where the write failed."""
    def on_kernel(k: Kernel) -> None:
        _punch_hole(k.path, 2 * BLOCK, BLOCK)
        assert k.upper is not None
        k.upper.shadow[2 * BLOCK:3 * BLOCK] = bytes(BLOCK)  # a hole reads as zeros
        if corrupt:
            torn = k.lower.torn

            def garbage(req: int) -> None:
                with open(k.path, "r+b") as f:
                    f.seek(BLOCK)
                    f.write(b"\x5a" * 8)
                torn(req)

            k.lower.torn = garbage  # type: ignore[method-assign]

    chooser = Seeded(0)
    # "sync": a sync write, which asks no submit decision
    opts = NO_FAULTS if plan == "sync" else {**NO_FAULTS, "submit": (plan,)}
    return run("mainline", [IoSpec("sync-write" if plan == "sync" else "write", 0,
                                   2 * BLOCK + 1, direct=True)],
               sched=Controlled(chooser), env=Env(chooser, opts), workspace=w,
               backend=backend, on_kernel=on_kernel)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plan", ["queues", "queues (inline)", "returns RES", "sync"])
def test_a_failed_odirect_write_may_land_in_part(backend: str, plan: str) -> None:
    """The real kernel may write part of a write it then fails (here -EINVAL for a
    misaligned O_DIRECT write spanning extents): the shadow copy must take what landed,
    or the next read of those bytes (and the end-of-run comparison) reports a DATA
    failure that is not one. The stress benchmark hit exactly this."""
    with Workspace(size=8 * BLOCK, seed=1) as w:  # not request #0's bytes
        if not w.direct_io:
            pytest.skip(f"no real O_DIRECT in {w.root}: {w.direct_reason}")
        r = _torn_write_run(w, backend, plan)
        q = r.requests[0]
        assert (q.completed if q.queued else q.returned) == -EINVAL
        assert q.torn
        data = w.read()
        if data[:2 * BLOCK] == w.initial[:2 * BLOCK]:
            pytest.skip("this filesystem refuses the misaligned write before any IO")
        assert data[:2 * BLOCK] == bytes(q.buf[:2 * BLOCK])  # landed, despite -EINVAL
        assert not r.findings and not r.errors, (r.findings, r.errors)
        assert r.file_ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_write_must_leave_old_or_new_bytes(backend: str) -> None:
    """The allowance for a failed write is exactly that: each byte is what the file held
    or what was written. Anything else is still a DATA finding."""
    with Workspace(size=8 * BLOCK, seed=1) as w:  # not request #0's bytes
        if not w.direct_io:
            pytest.skip(f"no real O_DIRECT in {w.root}: {w.direct_reason}")
        r = _torn_write_run(w, backend, "queues", corrupt=True)
        assert r.props == ["DATA"], r.findings
        assert "neither what the file held" in str(r.findings[0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rtype", ["read", "sync-read"])
def test_a_read_that_returns_other_bytes_than_the_file_holds_is_caught(
        ws: Workspace, backend: str, rtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read side of the data check can fire: one byte on disk differs from the
    shadow copy, and the read that returns it is a DATA finding (sync, and queued on
    each backend)."""
    original = Workspace.reset

    def reset_then_corrupt(self: Workspace) -> bytearray:
        shadow = original(self)
        with open(self.root / "backing", "r+b") as f:
            f.seek(100)
            f.write(bytes([shadow[100] ^ 0xFF]))
        return shadow

    monkeypatch.setattr(Workspace, "reset", reset_then_corrupt)
    r = _run_on(ws, "mainline", [IoSpec(rtype, 0, BLOCK)], backend,
                options={**NO_FAULTS, "submit": ("queues",)})
    assert [f.prop for f in r.findings] == ["DATA"], r.findings
    assert "read 4096 bytes at 0" in r.findings[0].message


def test_a_free_run_that_stops_stepping_is_a_failure_not_a_hang() -> None:
    import threading

    from backing_aio.refimpl.sched import Free

    sched = Free(stall=1.0)
    release = threading.Event()
    sched.spawn(release.wait, "stuck")  # stuck until the run has given up on it
    try:
        sched.run()
    finally:
        release.set()
    assert [type(e) for e in sched.failures] == [TimeoutError]
    assert "no step for 1s" in str(sched.failures[0])


def test_io_uring_iovecs_pin_no_buffer() -> None:
    """An iovec array reads its buffers' addresses and gives their exports back at once:
    a buffer can be closed once its IO is done (a binding that kept an export of every
    memoryview pinned one O_DIRECT mapping per IO, until mmap failed with ENOMEM)."""
    import mmap

    from backing_aio.refimpl.io_uring import address, iovecs

    m = mmap.mmap(-1, 2 * BLOCK)
    view = memoryview(m)
    segs = [view[:BLOCK], view[BLOCK:]]
    iov = iovecs(segs)
    assert len(iov) == 2 and iov[1].iov_base - iov[0].iov_base == BLOCK
    assert iov[0].iov_base == address(segs[0]) and iov[1].iov_len == BLOCK
    del iov
    for s in segs:
        s.release()
    view.release()
    m.close()  # raises BufferError if anything still holds an export


# ---- the original kiocb's flags ------------------------------------------------------------

@pytest.mark.parametrize("name", STACKED)
def test_a_sync_write_kiocb_carries_no_iocb_write(ws: Workspace, name: str) -> None:
    """init_sync_kiocb sets no IOCB_WRITE: only the upper layer's async write carries it
    (and its clone, which copies ki_flags); the helpers tell a sync write by its missing
    ki_complete, and every version still writes the bytes."""
    from backing_aio.refimpl.vfs import IOCB_WRITE

    seen: dict[str, int] = {}
    impl = IMPLEMENTATIONS[name]

    class Spy(impl):  # type: ignore[valid-type,misc]
        def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
            seen["sync" if iocb.ki_complete is None else "async"] = iocb.ki_flags
            ret: int = super().write_iter(iocb, iter)
            return ret

    r = _run(ws, Spy, [IoSpec("sync-write", 0), IoSpec("write", 2 * BLOCK)])
    assert not r.findings and not r.errors and r.file_ok, (r.findings, r.errors)
    assert not seen["sync"] & IOCB_WRITE
    assert seen["async"] & IOCB_WRITE


CALLER_COMP = {**NO_FAULTS, "caller_comp": (CALLER_COMP_YES,)}


@pytest.mark.parametrize("name", STACKED)
def test_only_an_async_write_on_a_kernel_with_the_flag_carries_caller_comp(
        ws: Workspace, name: str) -> None:
    """The upper layer is asked (and io_uring sets IOCB_DIO_CALLER_COMP) for an async
    write on v6.6..v6.18 only; the step that first copies the original's flags records
    the answer, every other step none."""
    from backing_aio.refimpl.vfs import IOCB_DIO_CALLER_COMP

    impl = IMPLEMENTATIONS[name]
    has = kapi.has_dio_caller_comp(impl.release())
    assert has == (name in ("seed-fixed", "mainline", "ovl-6.12", "fuse-6.12"))
    flags: dict[int, int] = {}

    def on_kernel(k: Kernel) -> None:
        flags.update({i: q.iocb.ki_flags for i, q in k.requests.items() if q.iocb})

    chooser = Seeded(0)
    r = run(name, [IoSpec(t, 2 * BLOCK * i) for i, t in enumerate(TYPES)],
            sched=Controlled(chooser), env=Env(chooser, {**CALLER_COMP, "submit": (
                "returns RES",)}), workspace=ws, on_kernel=on_kernel)
    assert not r.findings and not r.errors and r.file_ok, r.findings
    assert [q.caller_comp for q in r.requests] == [None, True if has else None, None, None]
    assert [bool(f & IOCB_DIO_CALLER_COMP) for f in flags.values()] == [
        False, has, False, False]
    answers = [(e.req, e.op, e.choice) for e in r.events if e.choice.startswith("caller_comp")]
    assert answers == ([(1, "kiocb_clone", CALLER_COMP_YES)] if has else [])


@pytest.mark.parametrize("submit", ["queues", "queues (inline)"])
def test_a_deferred_completion_gives_ki_complete_0(ws: Workspace, submit: str) -> None:
    """The lower filesystem emulates iomap: a queued write whose clone carries
    IOCB_DIO_CALLER_COMP is completed with ki_complete(clone, 0), its real result left in
    the clone's dio_complete. The seed's callback passes the 0 on (RESULT_PROPAGATED, a
    finding of refimpl's own checks); mainline clears the flag, and the caller sees the
    write's real result."""
    opts = {**CALLER_COMP, "submit": (submit,)}
    got: list[int] = []

    def on_kernel(k: Kernel) -> None:
        complete = k.lower._complete

        def spy(req: int, kind: str, iocb: Kiocb, res: int) -> None:
            complete(req, kind, iocb, res)
            if iocb.dio_complete is not None:
                got.append(iocb.dio_complete())

        k.lower._complete = spy  # type: ignore[method-assign]

    chooser = Seeded(0)
    r = run("seed", [IoSpec("write", 0, BLOCK)], sched=Controlled(chooser),
            env=Env(chooser, opts), workspace=ws, on_kernel=on_kernel)
    assert r.props == ["RESULT_PROPAGATED"] and r.raised, r.findings
    assert f"gets 0 for request #0, but the lower filesystem's result is {BLOCK}" in (
        r.findings[0].message)
    assert r.requests[0].deferred and r.requests[0].completed is None
    r = _run(ws, "mainline", [IoSpec("write", 0, BLOCK)], options=opts)
    assert not r.findings and not r.errors and r.file_ok, r.findings
    q = r.requests[0]
    assert q.caller_comp and not q.deferred and q.queued and q.completed == BLOCK
    assert got == []  # mainline's clone carried no flag: nothing was deferred
    assert "clear_ki_flag" in [e.op for e in r.events]


def _punted_not(cls: type[Helpers]) -> type[Helpers]:
    """Mainline whose write completion calls the caller's end_write in the completion
    itself, as before write completions were punted to a workqueue."""
    from tests.broken import Edit, edited

    return edited(cls, Edit("backing_file_write_iter",
                            "aio.iocb.ki_complete = self.backing_aio_queue_completion",
                            "aio.iocb.ki_complete = self.backing_aio_rw_complete"),
                  __qualname__="MainlineNotPunted")


def test_context_follows_from_what_a_callback_calls_on_the_kernel(ws: Workspace) -> None:
    """CONTEXT as kapi says: a callback run in the completion (irq) context is a finding
    when what it calls needs process context on this kernel. ovl_copyattr takes a lock
    that is not irq-safe from v6.7: the v5.16 code that calls it from the completion of a
    queued write holds on v5.16 and breaks on v6.7. Mainline's end_write
    (ovl_file_end_write) reaches ovl_copyattr too: run in the completion instead of the
    workqueue, it is a finding on v6.12."""
    write = [IoSpec("write", 0, BLOCK)]
    assert not _run(ws, "ovl-5.16", write).findings
    later = type("Ovl516On67", (IMPLEMENTATIONS["ovl-5.16"],), {"kernel": "6.7"})
    r = _run(ws, later, write)
    assert r.props == ["CONTEXT"], r.findings
    assert "ovl_copyattr needs process context on v6.7" in r.findings[0].message
    assert not _run(ws, later, [IoSpec("read", 0, BLOCK)]).findings  # in the submitter

    r = _run(ws, _punted_not(IMPLEMENTATIONS["mainline"]), write)
    assert r.props == ["CONTEXT"], r.findings
    assert ("ovl_file_end_write -> ovl_file_modified -> ovl_copyattr needs process context "
            "on v6.12") in r.findings[0].message
    assert not _run(ws, "mainline", write).findings  # the workqueue: process context
