"""Two variants of one's own, checked without editing the package:

    backing-aio check examples/my_variants.py
    backing-aio check examples/my_variants.py:mainline-no-punt -n 1

A file defines variants with the statement language (backing_aio.model.lang) and lists them in
VARIANTS (or leaves them as module-level Variant objects). Each statement is one atomic
step of the C code; the label is the C line, for every output.
"""

from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import SetKiComplete, Variant
from backing_aio.model.lang import stmt as S

# 1. Written from scratch: serve every request synchronously, no wrapper at all. Legal
#    (an async kiocb may be completed before returning), so every property holds.
sync_only = Variant(
    name="sync-only",
    summary="serve every kiocb synchronously: no wrapper, no completion",
    procs={
        "read_iter": (
            S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="zero"),
            S("vfs_iter", "ret = vfs_iter_read(file, iter, &iocb->ki_pos, 0);"),
            S("callback", "ctx->accessed(iocb->ki_filp);", fn="accessed", via="direct",
              reads_pos=True, passes_result=True),
            S("return_", "return ret;", value="ret"),
            S("return_", "return 0;", tag="zero", value="0"),
        ),
        "write_iter": (
            S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="zero"),
            S("file_start_write", "file_start_write(file);"),
            S("vfs_iter", "ret = vfs_iter_write(file, iter, &iocb->ki_pos, 0);"),
            S("file_end_write", "file_end_write(file);"),
            S("callback", "ctx->end_write(iocb, ret);", fn="end_write", via="direct",
              reads_pos=True, passes_result=True),
            S("return_", "return ret;", value="ret"),
            S("return_", "return 0;", tag="zero", value="0"),
        ),
    },
    entry={"read": "read_iter", "write": "write_iter"},
    kernel="6.7",  # before v6.8 the caller owns freeze protection of a write
    caller="overlayfs",
    callbacks={"read": {"submitted": 1}, "write": {"submitted": 1}},
)

# 2. Derived from the catalogue: a refactor proposing to drop the workqueue punt and
#    complete writes directly. The caller's end_write then runs in irq context: CONTEXT.
_mainline = catalogue()["mainline"]
_write = tuple(
    S("set_ki_complete", "aio->iocb.ki_complete = backing_aio_rw_complete;",
      proc="backing_aio_rw_complete")
    if isinstance(s, SetKiComplete) else s
    for s in _mainline.procs["backing_file_write_iter"]
)
no_punt = _mainline.with_procs(
    {**_mainline.procs, "backing_file_write_iter": _write},
    name="mainline-no-punt",
    summary="mainline with write completions called directly, not punted to a workqueue",
    expect=frozenset({"CONTEXT"}),
)

VARIANTS = [sync_only, no_punt]
