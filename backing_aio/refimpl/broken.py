"""Deliberately broken copies of the seed helpers: the mistakes a refactor makes.

Each is a copy of the seed's code with one edit (marked ``BROKEN``), the same edit as one
of the model's mutants (model/mutants.py), whose stable name is the class's ``name``. So
each can be checked two ways: the runtime checks must catch it (the finding's property),
and its runs must be runs of that mutant (backing_aio.crosscheck.conformance with the mutant's
variant). The read path carries the edit (the mutants edit one procedure); ``SeedNoFput`` edits the
put both paths share.
"""

from __future__ import annotations

from typing import ClassVar

from backing_aio.refimpl.helpers import (
    ODIRECT_UNSUPPORTED,
    ZERO_LENGTH,
    BackingAioReq,
    Cleanup,
    Helpers,
    Seed,
    odirect_unsupported,
)
from backing_aio.refimpl.sched import step
from backing_aio.refimpl.vfs import (
    EINVAL,
    EIOCBQUEUED,
    ENOMEM,
    File,
    IovIter,
    Kiocb,
    get_file,
    iov_iter_count,
    is_sync_kiocb,
    kiocb_clone,
    kmem_cache_free,
    kmem_cache_zalloc,
    vfs_iocb_iter_read,
    vfs_iter_read,
)
from backing_aio.vocab import PropertyId, env_answer


class SeedNoPutAfterSubmit(Seed):
    """The submitter forgets its put after submit: the wrapper and its file reference
    outlive the request (LEAK)."""

    name = "seed:delete:backing_file_read_iter#13(call)"
    expect: ClassVar[str] = PropertyId.LEAK

    def backing_file_read_iter(self, file: File, iter: IovIter, iocb: Kiocb, flags: int,
                               cleanup: Cleanup | None) -> int:
        step("if_goto", env_answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("if_goto", env_answer(ODIRECT_UNSUPPORTED, odirect_unsupported(iocb, file)))
        if odirect_unsupported(iocb, file):
            step("return_")
            return -EINVAL
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("vfs_iter")
            ret = vfs_iter_read(file, iter, iocb, flags)
            step("callback")
            if cleanup:
                cleanup(iocb, ret)
            step("return_")
            return ret
        step("kmem_cache_zalloc")
        aio_req = kmem_cache_zalloc(self.backing_aio_req_cachep)
        if not aio_req:
            step("return_")
            return -ENOMEM
        step("init_orig_iocb")
        aio_req.orig_iocb = iocb
        step("init_callback")
        aio_req.cleanup = cleanup
        step("kiocb_clone")
        kiocb_clone(aio_req.iocb, iocb, get_file(file))
        step("set_ki_complete")
        aio_req.iocb.ki_complete = self.backing_aio_rw_complete
        step("refcount_set")
        aio_req.ref.set(2)
        step("vfs_iocb_iter")
        ret = vfs_iocb_iter_read(file, aio_req.iocb, iter)
        # BROKEN: backing_aio_put(aio_req) is gone
        step("if_goto")
        if ret != -EIOCBQUEUED:
            step("call")
            self.backing_aio_cleanup(aio_req, ret)
        step("return_")
        return ret


class SeedRef1(Seed):
    """The count starts at 1: whoever puts first frees the wrapper under the other (UAF)."""

    name = "seed:ref1:backing_file_read_iter#11(refcount_set)"
    expect: ClassVar[str] = PropertyId.UAF

    def backing_file_read_iter(self, file: File, iter: IovIter, iocb: Kiocb, flags: int,
                               cleanup: Cleanup | None) -> int:
        step("if_goto", env_answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("if_goto", env_answer(ODIRECT_UNSUPPORTED, odirect_unsupported(iocb, file)))
        if odirect_unsupported(iocb, file):
            step("return_")
            return -EINVAL
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("vfs_iter")
            ret = vfs_iter_read(file, iter, iocb, flags)
            step("callback")
            if cleanup:
                cleanup(iocb, ret)
            step("return_")
            return ret
        step("kmem_cache_zalloc")
        aio_req = kmem_cache_zalloc(self.backing_aio_req_cachep)
        if not aio_req:
            step("return_")
            return -ENOMEM
        step("init_orig_iocb")
        aio_req.orig_iocb = iocb
        step("init_callback")
        aio_req.cleanup = cleanup
        step("kiocb_clone")
        kiocb_clone(aio_req.iocb, iocb, get_file(file))
        step("set_ki_complete")
        aio_req.iocb.ki_complete = self.backing_aio_rw_complete
        step("refcount_set")
        aio_req.ref.set(1)  # BROKEN: was 2
        step("vfs_iocb_iter")
        ret = vfs_iocb_iter_read(file, aio_req.iocb, iter)
        step("call")
        self.backing_aio_put(aio_req)
        step("if_goto")
        if ret != -EIOCBQUEUED:
            step("call")
            self.backing_aio_cleanup(aio_req, ret)
        step("return_")
        return ret


class SeedCleanupAlsoQueued(Seed):
    """The submitter cleans up even when the IO was queued: the completion cleans up too
    (the callback runs twice, the count is put three times, ...)."""

    name = "seed:delete:backing_file_read_iter#14(if_goto)"
    expect: ClassVar[str] = PropertyId.CLEANUP_ONCE

    def backing_file_read_iter(self, file: File, iter: IovIter, iocb: Kiocb, flags: int,
                               cleanup: Cleanup | None) -> int:
        step("if_goto", env_answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("if_goto", env_answer(ODIRECT_UNSUPPORTED, odirect_unsupported(iocb, file)))
        if odirect_unsupported(iocb, file):
            step("return_")
            return -EINVAL
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("vfs_iter")
            ret = vfs_iter_read(file, iter, iocb, flags)
            step("callback")
            if cleanup:
                cleanup(iocb, ret)
            step("return_")
            return ret
        step("kmem_cache_zalloc")
        aio_req = kmem_cache_zalloc(self.backing_aio_req_cachep)
        if not aio_req:
            step("return_")
            return -ENOMEM
        step("init_orig_iocb")
        aio_req.orig_iocb = iocb
        step("init_callback")
        aio_req.cleanup = cleanup
        step("kiocb_clone")
        kiocb_clone(aio_req.iocb, iocb, get_file(file))
        step("set_ki_complete")
        aio_req.iocb.ki_complete = self.backing_aio_rw_complete
        step("refcount_set")
        aio_req.ref.set(2)
        step("vfs_iocb_iter")
        ret = vfs_iocb_iter_read(file, aio_req.iocb, iter)
        step("call")
        self.backing_aio_put(aio_req)
        # BROKEN: "if (ret != -EIOCBQUEUED)" is gone
        step("call")
        self.backing_aio_cleanup(aio_req, ret)
        step("return_")
        return ret


class SeedNoFput(Seed):
    """The last put frees the wrapper but forgets the clone's file reference (LEAK)."""

    name = "seed:delete:backing_aio_put#1(fput_clone)"
    expect: ClassVar[str] = PropertyId.LEAK

    def backing_aio_put(self, aio_req: BackingAioReq) -> None:
        step("refcount_dec_and_test")
        if aio_req.ref.dec_and_test():
            # BROKEN: fput(aio_req->iocb.ki_filp) is gone
            step("kmem_cache_free")
            kmem_cache_free(self.backing_aio_req_cachep, aio_req)


BROKEN: dict[str, type[Helpers]] = {
    c.name: c for c in (SeedNoPutAfterSubmit, SeedRef1, SeedCleanupAlsoQueued, SeedNoFput)
}
