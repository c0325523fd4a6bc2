"""The built-in catalogue: versions of the helpers across the kernel's history.

Each variant is the C code written one statement per atomic step in the statement
language; labels quote the C line a statement stands for. Lines that cannot change a
property (override_creds/revert_creds, inode locking, rw flag conversion) are left out.

- ``seed``: fs/backing_file.c as introduced by the 2023 refactor (the seed patch), with
  overlayfs's ovl_read_iter/ovl_write_iter around it (struct fd, fdput).
- ``ovl-5.6``: overlayfs's first async IO (v5.6): the wrapper owns the caller's struct fd,
  no reference count, the cleanup frees. Known use-after-free through L2.
- ``ovl-5.16``: the reference-count fix (count 2, the submitter puts after submit); the
  wrapper still owns the caller's struct fd.
- ``loop``, ``erofs``: other users of the count of 2: the loop driver's lo_rw_aio (a
  block request) and erofs's file-backed reads (a bio), each in its own shape.
- ``mainline``: today's fs/backing-file.c: write completions punted to a workqueue,
  vfs_iocb_iter_write starts freeze protection and ends it unless the IO was queued, the
  helper ends it only in the queued completion; the caller's file is borrowed.
"""

from __future__ import annotations

from backing_aio.model.lang import Stmt, Variant, stmt

S = stmt  # short alias: the tables below are easier to read against the C


def _seed_completion() -> dict[str, tuple[Stmt, ...]]:
    """The put, the cleanup and the clone's ki_complete."""
    put = (
        S("refcount_dec_and_test", "if (refcount_dec_and_test(&aio_req->ref)) {",
          else_goto="END"),
        S("fput_clone", "fput(aio_req->iocb.ki_filp);"),
        S("kmem_cache_free", "kmem_cache_free(backing_aio_req_cachep, aio_req);"),
    )
    cleanup = (
        S("if_goto", "if (iocb->ki_flags & IOCB_WRITE)", cond="!write", target="pos"),
        S("kiocb_end_write", "kiocb_end_write(iocb);"),
        S("update_pos", "orig_iocb->ki_pos = iocb->ki_pos;", tag="pos"),
        S("callback", "if (aio_req->cleanup) aio_req->cleanup(orig_iocb, res);",
          fn="ovl_rw_complete", via="wrapper", reads_pos=True, passes_result=True),
        S("call", "backing_aio_put(aio_req);", proc="backing_aio_put"),
    )
    complete = (
        S("load_orig", "struct kiocb *orig_iocb = aio_req->orig_iocb;"),
        S("call", "backing_aio_cleanup(aio_req, res);", proc="backing_aio_cleanup"),
        S("ki_complete", "orig_iocb->ki_complete(orig_iocb, res);"),
    )
    return {"backing_aio_put": put, "backing_aio_cleanup": cleanup,
            "backing_aio_rw_complete": complete}


def _seed_read() -> tuple[Stmt, ...]:
    return (
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        S("if_goto", "if (iocb->ki_flags & IOCB_DIRECT && !(file->f_mode & FMODE_CAN_ODIRECT))",
          cond="odirect_unsupported", target="einval"),
        S("if_goto", "if (is_sync_kiocb(iocb)) {", cond="!sync_kiocb", target="async"),
        S("vfs_iter", "ret = vfs_iter_read(file, iter, &iocb->ki_pos, rwf);"),
        S("callback", "if (cleanup) cleanup(iocb, ret);", fn="ovl_rw_complete", via="direct",
          reads_pos=True, passes_result=True),
        S("return_", "return ret;", value="ret"),
        S("kmem_cache_zalloc", "aio_req = kmem_cache_zalloc(...); if (!aio_req)",
          tag="async", on_fail="enomem"),
        S("init_orig_iocb", "aio_req->orig_iocb = iocb;"),
        S("init_callback", "aio_req->cleanup = cleanup;"),
        S("kiocb_clone", "kiocb_clone(&aio_req->iocb, iocb, get_file(file));", get_file=True),
        S("set_ki_complete", "aio_req->iocb.ki_complete = backing_aio_rw_complete;",
          proc="backing_aio_rw_complete"),
        S("refcount_set", "refcount_set(&aio_req->ref, 2);", n=2),
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_read(file, &aio_req->iocb, iter);"),
        S("call", "backing_aio_put(aio_req);", proc="backing_aio_put"),
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "backing_aio_cleanup(aio_req, ret);", proc="backing_aio_cleanup"),
        S("return_", "return ret;", tag="out", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
        S("return_", "return -EINVAL;", tag="einval", value="-EINVAL"),
        S("return_", "return -ENOMEM;", tag="enomem", value="-ENOMEM"),
    )


def _seed_write() -> tuple[Stmt, ...]:
    return (
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        S("if_goto", "if (iocb->ki_flags & IOCB_DIRECT && !(file->f_mode & FMODE_CAN_ODIRECT))",
          cond="odirect_unsupported", target="einval"),
        S("if_goto", "if (is_sync_kiocb(iocb)) {", cond="!sync_kiocb", target="async"),
        S("file_start_write", "file_start_write(file);"),
        S("vfs_iter", "ret = vfs_iter_write(file, iter, &iocb->ki_pos, rwf);"),
        S("file_end_write", "file_end_write(file);"),
        S("callback", "if (cleanup) cleanup(iocb, ret);", fn="ovl_rw_complete", via="direct",
          reads_pos=True, passes_result=True),
        S("return_", "return ret;", value="ret"),
        S("kmem_cache_zalloc", "aio_req = kmem_cache_zalloc(...); if (!aio_req)",
          tag="async", on_fail="enomem"),
        S("init_orig_iocb", "aio_req->orig_iocb = iocb;"),
        S("init_callback", "aio_req->cleanup = cleanup;"),
        S("kiocb_clone", "kiocb_clone(&aio_req->iocb, iocb, get_file(file));", get_file=True),
        S("set_ki_flags", "aio_req->iocb.ki_flags = flags;"),
        S("set_ki_complete", "aio_req->iocb.ki_complete = backing_aio_rw_complete;",
          proc="backing_aio_rw_complete"),
        S("refcount_set", "refcount_set(&aio_req->ref, 2);", n=2),
        S("kiocb_start_write", "kiocb_start_write(&aio_req->iocb);"),
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_write(file, &aio_req->iocb, iter);"),
        S("call", "backing_aio_put(aio_req);", proc="backing_aio_put"),
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "backing_aio_cleanup(aio_req, ret);", proc="backing_aio_cleanup"),
        S("return_", "return ret;", tag="out", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
        S("return_", "return -EINVAL;", tag="einval", value="-EINVAL"),
        S("return_", "return -ENOMEM;", tag="enomem", value="-ENOMEM"),
    )


def _ovl_rw_complete(accessed: bool) -> tuple[Stmt, ...]:
    """overlayfs's callback in the seed's series, ovl_rw_complete(orig_iocb, res). With the
    prep patch "ovl: move ovl_file_accessed() to aio completion" (posted with the seed,
    later dropped) it calls ovl_file_accessed() for what is not a write; without it, only
    the write branch is left (ovl_copyattr(), as overlayfs's own completion did before,
    e.g. v6.1's ovl_aio_cleanup_handler()). Both branch on the *original* kiocb's
    IOCB_WRITE, which init_sync_kiocb never sets."""
    if not accessed:
        return (
            S("if_goto", "if (orig_iocb->ki_flags & IOCB_WRITE)", cond="!orig_write",
              target="END"),
            S("kcall", "ovl_copyattr(file_inode(file));", fn="ovl_copyattr"),
        )
    return (
        S("if_goto", "if (orig_iocb->ki_flags & IOCB_WRITE) {", cond="!orig_write",
          target="read"),
        S("kcall", "ovl_copyattr(file_inode(file));", fn="ovl_copyattr"),
        S("goto", "} else {", target="END"),
        S("kcall", "ovl_file_accessed(file);", tag="read", fn="ovl_file_accessed"),
    )


def _ovl_write_prologue() -> tuple[Stmt, ...]:
    """overlayfs's ovl_write_iter before the IO, from v5.6 to v6.7 (under inode_lock):
    file_remove_privs() and ovl_real_fdget(), each of which may fail to out_unlock."""
    return (
        S("file_remove_privs", "ret = file_remove_privs(file);"),
        S("if_goto", "if (ret) goto out_unlock;", cond="error", target="out_unlock"),
        S("fdget", "ret = ovl_real_fdget(file, &real);"),
        S("if_goto", "if (ret) goto out_unlock;", cond="error", target="out_unlock"),
    )


def _seed() -> Variant:
    ovl_read = (
        S("fdget", "ret = ovl_real_fdget(file, &real);"),
        S("if_goto", "if (ret) return ret;", cond="error", target="fdget_err"),
        S("call", "ret = backing_file_read_iter(real.file, iter, iocb, iocb->ki_flags, "
          "ovl_rw_complete);", proc="backing_file_read_iter"),
        S("fdput", "fdput(real);"),
        S("return_", "return ret;", value="ret"),
        S("return_", "return ret;", tag="fdget_err", value="ret"),
    )
    ovl_write = (
        *_ovl_write_prologue(),
        S("call", "ret = backing_file_write_iter(real.file, iter, iocb, flags, "
          "ovl_rw_complete);", proc="backing_file_write_iter"),
        S("fdput", "fdput(real);"),
        S("return_", "out_unlock: inode_unlock(inode); return ret;", tag="out_unlock",
          value="ret"),
    )
    return Variant(
        name="seed",
        summary="fs/backing_file.c as the 2023 refactor introduced it, under overlayfs",
        origin="the patch 'ovl: factor out some common helpers for backing files io' "
        "(Sept 2023, the series that made fs/backing_file.c)",
        procs={
            "ovl_read_iter": ovl_read,
            "ovl_write_iter": ovl_write,
            "backing_file_read_iter": _seed_read(),
            "backing_file_write_iter": _seed_write(),
            **_seed_completion(),
            "ovl_rw_complete": _ovl_rw_complete(accessed=True),
        },
        entry={"read": "ovl_read_iter", "write": "ovl_write_iter"},
        kernel="6.6",
        caller="overlayfs",
        callbacks={"read": {"submitted": 1}, "write": {"submitted": 1}},
        expect=frozenset({"RESULT_PROPAGATED", "CONTEXT"}),
        notes=("ovl_rw_complete, the callback the seed's async completion calls, runs "
               "ovl_file_accessed() for a read: touch_atime() may sleep, in irq completion "
               "context (the prep patch that moved it there was dropped)",
               "v6.6 has IOCB_DIO_CALLER_COMP (8c052fb3002e iomap: support "
               "IOCB_DIO_CALLER_COMP), which io_uring sets on async writes; the seed copies "
               "the caller's flags into the clone (aio_req->iocb.ki_flags = flags) without "
               "clearing it, so iomap completes a queued write with res 0 and the caller's "
               "callback and ki_complete see 0 for a write that wrote; upstream cleared it "
               "in ovl_write_iter in the same release (2d1b3bbc3dd5 ovl: disable "
               "IOCB_DIO_CALLER_COMP) and the merged helper clears it too "
               "(fs/backing-file.c: flags &= ~IOCB_DIO_CALLER_COMP)",),
    )


def _ovl_completion(refcount: bool) -> dict[str, tuple[Stmt, ...]]:
    """The cleanup handler, the clone's ki_complete and (v5.16) the put."""
    done: tuple[Stmt, ...]
    if refcount:
        done = (S("call", "ovl_aio_put(aio_req);", proc="ovl_aio_put"),)
    else:
        done = (
            S("fdput_wrapper", "fdput(aio_req->fd);"),
            S("kmem_cache_free", "kmem_cache_free(ovl_aio_request_cachep, aio_req);"),
        )
    cleanup = (
        S("if_goto", "if (iocb->ki_flags & IOCB_WRITE) {", cond="!write", target="pos"),
        S("kiocb_end_write", "__sb_writers_acquired(file_inode(iocb->ki_filp)->i_sb, "
          "SB_FREEZE_WRITE); file_end_write(iocb->ki_filp);"),
        S("callback", "ovl_copyattr(ovl_inode_real(inode), inode);", fn="ovl_copyattr",
          via="direct"),
        S("update_pos", "orig_iocb->ki_pos = iocb->ki_pos;", tag="pos"),
        *done,
    )
    put = (
        S("refcount_dec_and_test", "if (refcount_dec_and_test(&aio_req->ref)) {",
          else_goto="END"),
        S("fdput_wrapper", "fdput(aio_req->fd);"),
        S("kmem_cache_free", "kmem_cache_free(ovl_aio_request_cachep, aio_req);"),
    )
    complete = (
        S("load_orig", "struct kiocb *orig_iocb = aio_req->orig_iocb;"),
        S("call", "ovl_aio_cleanup_handler(aio_req);", proc="ovl_aio_cleanup_handler"),
        S("ki_complete", "orig_iocb->ki_complete(orig_iocb, res, res2);"),
    )
    procs = {"ovl_aio_cleanup_handler": cleanup, "ovl_aio_rw_complete": complete}
    if refcount:
        procs["ovl_aio_put"] = put
    return procs


def _ovl_refs(refcount: bool) -> tuple[tuple[Stmt, ...], tuple[Stmt, ...]]:
    """The v5.16 fix in the submit paths: the count set to 2 before submit, a put after."""
    if not refcount:
        return (), ()
    return ((S("refcount_set", "refcount_set(&aio_req->ref, 2);", n=2),),
            (S("call", "ovl_aio_put(aio_req);", proc="ovl_aio_put"),))


def _ovl_odirect(refcount: bool, target: str) -> tuple[Stmt, ...]:
    """v5.15's "ovl: fix IOCB_DIRECT if underlying fs doesn't support direct IO" (Fixes:
    16914e6fc7e1, for stable from v4.19): refuse O_DIRECT the real file cannot do before
    any IO, straight to fdput. In v5.16 (``refcount``), not yet in v5.6."""
    if not refcount:
        return ()
    return (
        S("assign", "ret = -EINVAL;", value="-EINVAL"),
        S("if_goto", "if (iocb->ki_flags & IOCB_DIRECT && (!real.file->f_mapping->a_ops || "
          "!real.file->f_mapping->a_ops->direct_IO))", cond="odirect_unsupported",
          target=target),
    )


def _ovl_read(refcount: bool) -> tuple[Stmt, ...]:
    ref_set, ref_put = _ovl_refs(refcount)
    return (
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        S("fdget", "ret = ovl_real_fdget(file, &real);"),
        S("if_goto", "if (ret) return ret;", cond="error", target="fdget_err"),
        *_ovl_odirect(refcount, "out_fdput"),
        S("if_goto", "if (is_sync_kiocb(iocb)) {", cond="!sync_kiocb", target="async"),
        S("vfs_iter", "ret = vfs_iter_read(real.file, iter, &iocb->ki_pos, ...);"),
        S("goto", "} else {", target="out"),
        S("assign", "ret = -ENOMEM;", tag="async", value="-ENOMEM"),
        S("kmem_cache_zalloc", "aio_req = kmem_cache_zalloc(...); if (!aio_req) goto out;",
          on_fail="out"),
        S("fd_move_to_wrapper", "aio_req->fd = real;"),
        S("fd_clear_flags", "real.flags = 0;"),
        S("init_orig_iocb", "aio_req->orig_iocb = iocb;"),
        S("kiocb_clone", "kiocb_clone(&aio_req->iocb, iocb, real.file);", get_file=False),
        S("set_ki_complete", "aio_req->iocb.ki_complete = ovl_aio_rw_complete;",
          proc="ovl_aio_rw_complete"),
        *ref_set,
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_read(real.file, &aio_req->iocb, iter);"),
        *ref_put,
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "ovl_aio_cleanup_handler(aio_req);", proc="ovl_aio_cleanup_handler"),
        S("callback", "ovl_file_accessed(file);", tag="out", fn="ovl_file_accessed",
          via="direct"),
        S("fdput", "fdput(real);", tag="out_fdput" if refcount else None),
        S("return_", "return ret;", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
        S("return_", "return ret;", tag="fdget_err", value="ret"),
    )


def _ovl_write(refcount: bool) -> tuple[Stmt, ...]:
    ref_set, ref_put = _ovl_refs(refcount)
    return (
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        *_ovl_write_prologue(),
        *_ovl_odirect(refcount, "out"),  # out_fdput: the same line as out here
        S("if_goto", "if (is_sync_kiocb(iocb)) {", cond="!sync_kiocb", target="async"),
        S("file_start_write", "file_start_write(real.file);"),
        S("vfs_iter", "ret = vfs_iter_write(real.file, iter, &iocb->ki_pos, ...);"),
        S("file_end_write", "file_end_write(real.file);"),
        S("callback", "ovl_copyattr(ovl_inode_real(inode), inode);", fn="ovl_copyattr",
          via="direct"),
        S("goto", "} else {", target="out"),
        S("assign", "ret = -ENOMEM;", tag="async", value="-ENOMEM"),
        S("kmem_cache_zalloc", "aio_req = kmem_cache_zalloc(...); if (!aio_req) goto out;",
          on_fail="out"),
        S("file_start_write", "file_start_write(real.file);"),
        S("sb_writers_release", "__sb_writers_release(file_inode(real.file)->i_sb, "
          "SB_FREEZE_WRITE);"),
        S("fd_move_to_wrapper", "aio_req->fd = real;"),
        S("fd_clear_flags", "real.flags = 0;"),
        S("init_orig_iocb", "aio_req->orig_iocb = iocb;"),
        S("kiocb_clone", "kiocb_clone(&aio_req->iocb, iocb, real.file);", get_file=False),
        S("set_ki_flags", "aio_req->iocb.ki_flags = ifl;"),
        S("set_ki_complete", "aio_req->iocb.ki_complete = ovl_aio_rw_complete;",
          proc="ovl_aio_rw_complete"),
        *ref_set,
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_write(real.file, &aio_req->iocb, iter);"),
        *ref_put,
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "ovl_aio_cleanup_handler(aio_req);", proc="ovl_aio_cleanup_handler"),
        S("fdput", "fdput(real);", tag="out"),
        S("return_", "out_unlock: inode_unlock(inode); return ret;", tag="out_unlock",
          value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
    )


def _seed_fixed() -> Variant:
    """The seed with the two changes its release made: overlayfs of v6.6 clears
    IOCB_DIO_CALLER_COMP before passing its flags down (2d1b3bbc3dd5 ovl: disable
    IOCB_DIO_CALLER_COMP), which the seed, posted on an earlier base, lacks; and
    ovl_file_accessed() stays in ovl_read_iter, after the call (the prep patch that moved
    it into the completion was dropped; the merged helpers call ctx->accessed from the
    submitter), so the completion's callback keeps only its write branch."""
    seed = _seed()
    write = seed.procs["ovl_write_iter"]
    fixed = (*write[:4], S("clear_ki_flag", "ifl &= ~IOCB_DIO_CALLER_COMP;",
                           flag="IOCB_DIO_CALLER_COMP", of="flags"), *write[4:])
    read = seed.procs["ovl_read_iter"]
    accessed = (*read[:3], S("kcall", "ovl_file_accessed(file);", fn="ovl_file_accessed"),
                *read[3:])
    return seed.with_procs(
        {**seed.procs, "ovl_write_iter": fixed, "ovl_read_iter": accessed,
         "ovl_rw_complete": _ovl_rw_complete(accessed=False)}, name="seed-fixed",
        summary="the seed with IOCB_DIO_CALLER_COMP cleared in ovl_write_iter, as v6.6 "
        "does (2d1b3bbc3dd5), and ovl_file_accessed() kept in the submitter",
        expect=frozenset(), notes=(),
        origin="the seed patch plus 2d1b3bbc3dd5 ovl: disable IOCB_DIO_CALLER_COMP (v6.6), "
        "without the dropped prep patch 'ovl: move ovl_file_accessed() to aio completion'")


def _ovl(refcount: bool) -> Variant:
    """overlayfs's own async IO before the helpers moved out (v5.6, and v5.16 with the fix)."""
    procs: dict[str, tuple[Stmt, ...]] = {
        "ovl_read_iter": _ovl_read(refcount),
        "ovl_write_iter": _ovl_write(refcount),
        **_ovl_completion(refcount),
    }
    if refcount:
        return Variant(
            name="ovl-5.16",
            summary="overlayfs async IO with the reference-count fix (count 2, put after "
            "submit); the wrapper owns the caller's struct fd",
            origin="v5.16: ovl: fix use after free in struct ovl_aio_req (Fixes: 2406a307ac7d)",
            procs=procs,
            entry={"read": "ovl_read_iter", "write": "ovl_write_iter"},
            kernel="5.16",
            caller="overlayfs",
            callbacks={"read": {"submitted": 1, "alloc_failed": 1}, "write": {"submitted": 1}},
        )
    return Variant(
        name="ovl-5.6",
        summary="overlayfs's first async IO: no reference count, the cleanup frees the wrapper",
        origin="v5.6: 2406a307ac7d ovl: implement async IO routines",
        procs=procs,
        entry={"read": "ovl_read_iter", "write": "ovl_write_iter"},
        kernel="5.6",
        caller="overlayfs",
        callbacks={"read": {"submitted": 1, "alloc_failed": 1}, "write": {"submitted": 1}},
        expect=frozenset({"UAF"}),
        notes=("the completion may free the wrapper while the lower filesystem, still inside "
               "submit, touches the clone (found under KASAN in 2021)",),
    )


def _ovl_61_read() -> tuple[Stmt, ...]:
    return (
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        S("fdget", "ret = ovl_real_fdget(file, &real);"),
        S("if_goto", "if (ret) return ret;", cond="error", target="fdget_err"),
        S("assign", "ret = -EINVAL;", value="-EINVAL"),
        S("if_goto", "if (iocb->ki_flags & IOCB_DIRECT && !(real.file->f_mode & "
          "FMODE_CAN_ODIRECT)) goto out_fdput;", cond="odirect_unsupported",
          target="out_fdput"),
        S("if_goto", "if (is_sync_kiocb(iocb)) {", cond="!sync_kiocb", target="async"),
        S("vfs_iter", "ret = vfs_iter_read(real.file, iter, &iocb->ki_pos, ...);"),
        S("goto", "} else {", target="out"),
        S("assign", "ret = -ENOMEM;", tag="async", value="-ENOMEM"),
        S("kmem_cache_zalloc", "aio_req = kmem_cache_zalloc(...); if (!aio_req) goto out;",
          on_fail="out"),
        S("fd_clear_flags", "real.flags = 0;"),
        S("init_orig_iocb", "aio_req->orig_iocb = iocb;"),
        S("kiocb_clone", "kiocb_clone(&aio_req->iocb, iocb, get_file(real.file));",
          get_file=True),
        S("set_ki_complete", "aio_req->iocb.ki_complete = ovl_aio_rw_complete;",
          proc="ovl_aio_rw_complete"),
        S("refcount_set", "refcount_set(&aio_req->ref, 2);", n=2),
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_read(real.file, &aio_req->iocb, iter);"),
        S("call", "ovl_aio_put(aio_req);", proc="ovl_aio_put"),
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "ovl_aio_cleanup_handler(aio_req);", proc="ovl_aio_cleanup_handler"),
        S("callback", "ovl_file_accessed(file);", tag="out", fn="ovl_file_accessed",
          via="direct"),
        S("fdput", "fdput(real);", tag="out_fdput"),
        S("return_", "return ret;", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
        S("return_", "return ret;", tag="fdget_err", value="ret"),
    )


def _ovl_61_write() -> tuple[Stmt, ...]:
    return (
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        # "Update mode", under inode_lock before any IO: the submitter's own call
        S("kcall", "ovl_copyattr(inode);", fn="ovl_copyattr"),
        *_ovl_write_prologue(),
        S("assign", "ret = -EINVAL;", value="-EINVAL"),
        S("if_goto", "if (iocb->ki_flags & IOCB_DIRECT && !(real.file->f_mode & "
          "FMODE_CAN_ODIRECT)) goto out_fdput;", cond="odirect_unsupported", target="out"),
        S("if_goto", "if (is_sync_kiocb(iocb)) {", cond="!sync_kiocb", target="async"),
        S("file_start_write", "file_start_write(real.file);"),
        S("vfs_iter", "ret = vfs_iter_write(real.file, iter, &iocb->ki_pos, ...);"),
        S("file_end_write", "file_end_write(real.file);"),
        S("callback", "ovl_copyattr(inode);", fn="ovl_copyattr", via="direct"),
        S("goto", "} else {", target="out"),
        S("assign", "ret = -ENOMEM;", tag="async", value="-ENOMEM"),
        S("kmem_cache_zalloc", "aio_req = kmem_cache_zalloc(...); if (!aio_req) goto out;",
          on_fail="out"),
        S("file_start_write", "file_start_write(real.file);"),
        S("sb_writers_release", "__sb_writers_release(file_inode(real.file)->i_sb, "
          "SB_FREEZE_WRITE);"),
        S("fd_clear_flags", "real.flags = 0;"),
        S("init_orig_iocb", "aio_req->orig_iocb = iocb;"),
        S("kiocb_clone", "kiocb_clone(&aio_req->iocb, iocb, get_file(real.file));",
          get_file=True),
        S("set_ki_flags", "aio_req->iocb.ki_flags = ifl;"),
        S("set_ki_complete", "aio_req->iocb.ki_complete = ovl_aio_rw_complete;",
          proc="ovl_aio_rw_complete"),
        S("refcount_set", "refcount_set(&aio_req->ref, 2);", n=2),
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_write(real.file, &aio_req->iocb, iter);"),
        S("call", "ovl_aio_put(aio_req);", proc="ovl_aio_put"),
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "ovl_aio_cleanup_handler(aio_req);", proc="ovl_aio_cleanup_handler"),
        S("fdput", "out_fdput: fdput(real);", tag="out"),
        S("return_", "out_unlock: inode_unlock(inode); return ret;", tag="out_unlock",
          value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
    )


def _ovl_61_completion() -> dict[str, tuple[Stmt, ...]]:
    """6.1's cleanup handler, its clone's ki_complete and the put, which drops the clone's
    own file reference (fput) instead of a struct fd in the wrapper."""
    cleanup = (
        S("if_goto", "if (iocb->ki_flags & IOCB_WRITE) {", cond="!write", target="pos"),
        S("kiocb_end_write", "__sb_writers_acquired(file_inode(iocb->ki_filp)->i_sb, "
          "SB_FREEZE_WRITE); file_end_write(iocb->ki_filp);"),
        S("callback", "ovl_copyattr(inode);", fn="ovl_copyattr", via="direct"),
        S("update_pos", "orig_iocb->ki_pos = iocb->ki_pos;", tag="pos"),
        S("call", "ovl_aio_put(aio_req);", proc="ovl_aio_put"),
    )
    put = (
        S("refcount_dec_and_test", "if (refcount_dec_and_test(&aio_req->ref)) {",
          else_goto="END"),
        S("fput_clone", "fput(aio_req->iocb.ki_filp);"),
        S("kmem_cache_free", "kmem_cache_free(ovl_aio_request_cachep, aio_req);"),
    )
    complete = (
        S("load_orig", "struct kiocb *orig_iocb = aio_req->orig_iocb;"),
        S("call", "ovl_aio_cleanup_handler(aio_req);", proc="ovl_aio_cleanup_handler"),
        S("ki_complete", "orig_iocb->ki_complete(orig_iocb, res);"),
    )
    return {"ovl_aio_cleanup_handler": cleanup, "ovl_aio_rw_complete": complete,
            "ovl_aio_put": put}


def _ovl_61() -> Variant:
    """overlayfs's own async IO as Debian's linux-source-6.1 (6.1.176) ships it: v5.16's
    count of 2, plus the stable backport of 724768a39374 "ovl: fix incorrect fdput() on aio
    completion" (the clone takes its own reference with get_file, the put drops it with
    fput, the wrapper no longer holds a struct fd), but not the fix of that fix: the
    submitter still clears ``real.flags``."""
    return Variant(
        name="ovl-6.1",
        summary="overlayfs async IO of Debian's 6.1.176: the clone holds its own file "
        "reference, yet the submitter still clears real.flags, so a real file opened on the "
        "fly is never dropped",
        origin="fs/overlayfs/file.c of Debian's linux-source-6.1 (6.1.176) ovl_read_iter(), "
        "ovl_write_iter(), ovl_aio_cleanup_handler(), ovl_aio_rw_complete(), ovl_aio_put(); "
        "724768a39374 (v6.6-rc2, backported to 6.1) without its fix 'ovl: fix file "
        "reference leak when submitting aio' (v6.6-rc5, <20231002115517.880433-1-"
        "amir73il@gmail.com>)",
        procs={"ovl_read_iter": _ovl_61_read(), "ovl_write_iter": _ovl_61_write(),
               **_ovl_61_completion()},
        entry={"read": "ovl_read_iter", "write": "ovl_write_iter"},
        kernel="6.1",
        caller="overlayfs",
        callbacks={"read": {"submitted": 1, "alloc_failed": 1}, "write": {"submitted": 1}},
        expect=frozenset({"LEAK"}),
        notes=("ovl_real_fdget() opens the real file on the fly (FDPUT_FPUT) when the "
               "overlay file was opened before copy-up; the submitter clears real.flags, so "
               "its fdput() no longer drops that open's reference, and the clone's get_file() "
               "reference is the only one the put drops: one file reference leaks per async "
               "request (the upstream fix removes both 'real.flags = 0;' lines)",),
    )


def _mainline_completion() -> dict[str, tuple[Stmt, ...]]:
    """The put, the cleanup, the clone's ki_complete, the write completion's punt to the
    superblock's workqueue and the work item."""
    put = (
        S("refcount_dec_and_test", "if (refcount_dec_and_test(&aio->ref)) {", else_goto="END"),
        S("fput_clone", "fput(aio->iocb.ki_filp);"),
        S("kmem_cache_free", "kmem_cache_free(backing_aio_cachep, aio);"),
    )
    cleanup = (
        # the callback gets the clone's ki_pos (final), before the original's is updated
        S("callback", "if (aio->end_write) aio->end_write(orig_iocb->ki_filp, iocb->ki_pos, "
          "res);", fn="end_write", via="wrapper", passes_result=True),
        S("update_pos", "orig_iocb->ki_pos = iocb->ki_pos;"),
        S("call", "backing_aio_put(aio);", proc="backing_aio_put"),
    )
    complete = (
        S("load_orig", "struct kiocb *orig_iocb = aio->orig_iocb;"),
        S("if_goto", "if (iocb->ki_flags & IOCB_WRITE)", cond="!write", target="cleanup"),
        S("kiocb_end_write", "kiocb_end_write(iocb);"),
        S("call", "backing_aio_cleanup(aio, res);", tag="cleanup", proc="backing_aio_cleanup"),
        S("ki_complete", "orig_iocb->ki_complete(orig_iocb, res);"),
    )
    work = (
        S("load_res", "backing_aio_rw_complete(&aio->iocb, aio->res); /* aio->res */"),
        S("call", "backing_aio_rw_complete(&aio->iocb, aio->res);",
          proc="backing_aio_rw_complete"),
    )
    queue = (
        S("store_res", "aio->res = res;"),
        S("queue_work", "INIT_WORK(&aio->work, ...); queue_work(...->s_dio_done_wq, &aio->work);",
          proc="backing_aio_complete_work"),
    )
    return {"backing_aio_put": put, "backing_aio_cleanup": cleanup,
            "backing_aio_rw_complete": complete, "backing_aio_complete_work": work,
            "backing_aio_queue_completion": queue}


def _not_backing() -> Stmt:
    return S("if_goto", "if (WARN_ON_ONCE(!(file->f_mode & FMODE_BACKING)))",
             cond="not_backing", target="eio")


def _mainline_read() -> tuple[Stmt, ...]:
    return (
        _not_backing(),
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        S("if_goto", "if (iocb->ki_flags & IOCB_DIRECT && !(file->f_mode & FMODE_CAN_ODIRECT))",
          cond="odirect_unsupported", target="einval"),
        S("if_goto", "if (is_sync_kiocb(iocb)) {", cond="!sync_kiocb", target="async"),
        S("vfs_iter", "ret = vfs_iter_read(file, iter, &iocb->ki_pos, rwf);"),
        S("goto", "} else {", target="out"),
        S("assign", "ret = -ENOMEM;", tag="async", value="-ENOMEM"),
        S("kmem_cache_zalloc", "aio = kmem_cache_zalloc(...); if (!aio) goto out;",
          on_fail="out"),
        S("init_orig_iocb", "aio->orig_iocb = iocb;"),
        S("kiocb_clone", "kiocb_clone(&aio->iocb, iocb, get_file(file));", get_file=True),
        S("set_ki_complete", "aio->iocb.ki_complete = backing_aio_rw_complete;",
          proc="backing_aio_rw_complete"),
        S("refcount_set", "refcount_set(&aio->ref, 2);", n=2),
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_read(file, &aio->iocb, iter);"),
        S("call", "backing_aio_put(aio);", proc="backing_aio_put"),
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "backing_aio_cleanup(aio, ret);", proc="backing_aio_cleanup"),
        S("callback", "if (ctx->accessed) ctx->accessed(ctx->user_file);", tag="out",
          fn="accessed", via="ctx"),
        S("return_", "return ret;", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
        S("return_", "return -EINVAL;", tag="einval", value="-EINVAL"),
        S("return_", "return -EIO;", tag="eio", value="-EIO"),
    )


def _mainline_write() -> tuple[Stmt, ...]:
    return (
        _not_backing(),
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        S("file_remove_privs", "ret = file_remove_privs(ctx->user_file);"),
        S("if_goto", "if (ret) return ret;", cond="error", target="out"),
        S("if_goto", "if (iocb->ki_flags & IOCB_DIRECT && !(file->f_mode & FMODE_CAN_ODIRECT))",
          cond="odirect_unsupported", target="einval"),
        S("clear_ki_flag", "flags &= ~IOCB_DIO_CALLER_COMP;", flag="IOCB_DIO_CALLER_COMP",
          of="flags"),
        S("if_goto", "if (is_sync_kiocb(iocb)) {", cond="!sync_kiocb", target="async"),
        S("vfs_iter", "ret = vfs_iter_write(file, iter, &iocb->ki_pos, rwf);"),
        S("callback", "if (ctx->end_write) ctx->end_write(ctx->user_file, iocb->ki_pos, ret);",
          fn="end_write", via="ctx", reads_pos=True, passes_result=True),
        S("return_", "return ret;", value="ret"),
        S("init_wq", "ret = backing_aio_init_wq(iocb); if (ret) goto out;", tag="async",
          on_fail="out"),
        S("assign", "ret = -ENOMEM;", value="-ENOMEM"),
        S("kmem_cache_zalloc", "aio = kmem_cache_zalloc(...); if (!aio) goto out;",
          on_fail="out"),
        S("init_orig_iocb", "aio->orig_iocb = iocb;"),
        S("init_callback", "aio->end_write = ctx->end_write;"),
        S("kiocb_clone", "kiocb_clone(&aio->iocb, iocb, get_file(file));", get_file=True),
        S("set_ki_flags", "aio->iocb.ki_flags = flags;"),
        S("set_ki_complete", "aio->iocb.ki_complete = backing_aio_queue_completion;",
          proc="backing_aio_queue_completion"),
        S("refcount_set", "refcount_set(&aio->ref, 2);", n=2),
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_write(file, &aio->iocb, iter);"),
        S("call", "backing_aio_put(aio);", proc="backing_aio_put"),
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "backing_aio_cleanup(aio, ret);", proc="backing_aio_cleanup"),
        S("return_", "return ret;", tag="out", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
        S("return_", "return -EINVAL;", tag="einval", value="-EINVAL"),
        S("return_", "return -EIO;", tag="eio", value="-EIO"),
    )


def _mainline() -> Variant:
    return Variant(
        name="mainline",
        summary="today's fs/backing-file.c: write completions punted to a workqueue, "
        "vfs_iocb_iter_write owns freeze protection unless the IO is queued",
        origin="fs/backing-file.c (v6.12 and later): backing_file_read_iter/write_iter",
        procs={
            "backing_file_read_iter": _mainline_read(),
            "backing_file_write_iter": _mainline_write(),
            **_mainline_completion(),
        },
        entry={"read": "backing_file_read_iter", "write": "backing_file_write_iter"},
        kernel="6.12",
        caller="overlayfs",
        callbacks={"read": {"submitted": 1, "alloc_failed": 1}, "write": {"submitted": 1}},
    )


def _ovl_612() -> Variant:
    """overlayfs of v6.12 around today's helpers: its struct fd may hold a file it opened
    on the fly (ovl_real_fdget_meta), dropped by fdput right after the helper returns."""
    read = (
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        S("fdget", "ret = ovl_real_fdget(file, &real);"),
        S("if_goto", "if (ret) return ret;", cond="error", target="fdget_err"),
        S("call", "ret = backing_file_read_iter(fd_file(real), iter, iocb, iocb->ki_flags, "
          "&ctx);", proc="backing_file_read_iter"),
        S("fdput", "fdput(real);"),
        S("return_", "return ret;", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
        S("return_", "return ret;", tag="fdget_err", value="ret"),
    )
    write = (
        S("if_goto", "if (!iov_iter_count(iter))", cond="zero_length", target="ret0"),
        S("fdget", "ret = ovl_real_fdget(file, &real);"),
        S("if_goto", "if (ret) goto out_unlock;", cond="error", target="out_unlock"),
        S("clear_ki_flag", "ifl &= ~IOCB_DIO_CALLER_COMP;", flag="IOCB_DIO_CALLER_COMP",
          of="flags"),
        S("call", "ret = backing_file_write_iter(fd_file(real), iter, iocb, ifl, &ctx);",
          proc="backing_file_write_iter"),
        S("fdput", "fdput(real);"),
        S("return_", "out_unlock: inode_unlock(inode); return ret;", tag="out_unlock",
          value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
    )
    helpers = _mainline()
    return Variant(
        name="ovl-6.12",
        summary="overlayfs's ovl_read_iter/ovl_write_iter of v6.12 around today's helpers: "
        "the backing file may be opened on the fly and dropped by fdput after the call",
        origin="fs/overlayfs/file.c (v6.12) ovl_read_iter/ovl_write_iter, "
        "fs/backing-file.c (v6.12)",
        procs={"ovl_read_iter": read, "ovl_write_iter": write, **helpers.procs},
        entry={"read": "ovl_read_iter", "write": "ovl_write_iter"},
        kernel="6.12",
        caller="overlayfs",
        callbacks=helpers.callbacks,
    )


def _fuse_612() -> Variant:
    """FUSE passthrough of v6.12 around today's helpers: the FUSE file holds its backing
    file open for its whole life, so the helpers are handed a borrowed file; its callbacks
    are fuse_file_accessed and fuse_passthrough_end_write, whose fuse_write_update_attr()
    takes a spinlock that is not irq-safe (the helpers run end_write from the workqueue)."""
    read = (
        S("if_goto", "if (!count) return 0;", cond="zero_length", target="ret0"),
        S("call", "ret = backing_file_read_iter(backing_file, iter, iocb, iocb->ki_flags, "
          "&ctx);", proc="backing_file_read_iter"),
        S("return_", "return ret;", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
    )
    write = (
        S("if_goto", "if (!count) return 0;", cond="zero_length", target="ret0"),
        S("call", "inode_lock(inode); ret = backing_file_write_iter(backing_file, iter, iocb, "
          "iocb->ki_flags, &ctx); inode_unlock(inode);", proc="backing_file_write_iter"),
        S("return_", "return ret;", value="ret"),
        S("return_", "return 0;", tag="ret0", value="0"),
    )
    helpers = _mainline()
    return Variant(
        name="fuse-6.12",
        summary="FUSE passthrough's read_iter/write_iter of v6.12 around today's helpers: "
        "a borrowed backing file, the caller's flags passed down as they are",
        origin="fs/fuse/passthrough.c (v6.12: Debian's linux-source-6.12) "
        "fuse_passthrough_read_iter()/fuse_passthrough_write_iter(), fs/backing-file.c (v6.12)",
        procs={"fuse_passthrough_read_iter": read, "fuse_passthrough_write_iter": write,
               **helpers.procs},
        entry={"read": "fuse_passthrough_read_iter", "write": "fuse_passthrough_write_iter"},
        kernel="6.12",
        caller="fuse",
        callbacks=helpers.callbacks,
        notes=("fuse_passthrough_write_iter passes iocb->ki_flags unchanged: the helper's own "
               "flags &= ~IOCB_DIO_CALLER_COMP is the only clear",),
    )


def _loop() -> Variant:
    """The loop driver's direct-IO path (cmd->use_aio): the same count of 2 around a kiocb of
    the driver's own, embedded in the block request's pdu with the request it serves."""
    submit = (
        S("refcount_set", "atomic_set(&cmd->ref, 2);", n=2),
        S("init_kiocb", "cmd->iocb.ki_filp = file; cmd->iocb.ki_flags = IOCB_DIRECT;"),
        S("set_ki_complete", "cmd->iocb.ki_complete = lo_rw_aio_complete;",
          proc="lo_rw_aio_complete"),
        S("if_goto", "if (rw == ITER_SOURCE) {", cond="!req_write", target="read"),
        S("kiocb_start_write", "kiocb_start_write(&cmd->iocb);"),
        S("f_op_iter", "ret = file->f_op->write_iter(&cmd->iocb, &iter);"),
        S("goto", "} else", target="put"),
        S("f_op_iter", "ret = file->f_op->read_iter(&cmd->iocb, &iter);", tag="read"),
        S("call", "lo_rw_aio_do_completion(cmd);", tag="put", proc="lo_rw_aio_do_completion"),
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="out"),
        S("call", "lo_rw_aio_complete(&cmd->iocb, ret);", proc="lo_rw_aio_complete"),
        S("return_", "return -EIOCBQUEUED;", tag="out", value="-EIOCBQUEUED"),
    )
    complete = (
        S("store_res", "cmd->ret = ret;"),
        S("call", "lo_rw_aio_do_completion(cmd);", proc="lo_rw_aio_do_completion"),
    )
    put = (
        S("load_orig", "struct request *rq = blk_mq_rq_from_pdu(cmd);"),
        S("refcount_dec_and_test", "if (!atomic_dec_and_test(&cmd->ref)) return;",
          else_goto="END"),
        S("if_goto", "if (req_op(rq) == REQ_OP_WRITE)", cond="!req_write", target="done"),
        S("kiocb_end_write", "kiocb_end_write(&cmd->iocb);"),
        # lo_complete_rq, which blk_mq_complete_request runs, reads the result from cmd->ret
        S("load_res", "blk_mq_complete_request(rq); /* lo_complete_rq: cmd->ret */",
          tag="done"),
        S("ki_complete", "blk_mq_complete_request(rq);"),
    )
    return Variant(
        name="loop",
        summary="the loop driver's lo_rw_aio: a count of 2 on the command in the request's "
        "pdu, the request completed by whoever drops the last reference",
        origin="drivers/block/loop.c (v6.12: Debian's linux-source-6.12) lo_rw_aio(), "
        "lo_rw_aio_complete(), lo_rw_aio_do_completion()",
        procs={"lo_rw_aio": submit, "lo_rw_aio_complete": complete,
               "lo_rw_aio_do_completion": put},
        entry={"read": "lo_rw_aio", "write": "lo_rw_aio"},
        kernel="6.12",
        caller="loop",
        callbacks={},
        shape="block",
        kinds=("read", "write"),
        notes=("calls f_op->write_iter directly: the driver holds freeze protection from "
               "kiocb_start_write until the last reference's kiocb_end_write",
               "not modelled: the bvec array (kmalloc_array of a multi-bio request, freed "
               "with the last reference) and the buffered mode (ki_complete = NULL)"),
    )


def _erofs() -> Variant:
    """erofs's file-backed mounts read their blocks with a bio in a wrapper of a count of 2
    (1caf50ce4af0 erofs: fix file-backed mounts over FUSE, v6.12)."""
    read = (
        S("call", "rq = erofs_fileio_rq_alloc(&io->dev); /* then the bio is filled */",
          proc="erofs_fileio_rq_alloc"),
        S("call", "erofs_fileio_rq_submit(rq);", proc="erofs_fileio_rq_submit"),
        S("return_", "return; /* void: the bio ends in bio_endio */"),
    )
    alloc = (
        S("kzalloc_nofail", "rq = kzalloc(sizeof(*rq), GFP_KERNEL | __GFP_NOFAIL);"),
        S("init_orig_iocb", "bio_init(&rq->bio, NULL, rq->bvecs, BIO_MAX_VECS, REQ_OP_READ);"),
        S("init_kiocb", "rq->iocb.ki_filp = mdev->m_dif->file;"),
        S("refcount_set", "refcount_set(&rq->ref, 2);", n=2),
    )
    submit = (
        S("set_ki_complete", "rq->iocb.ki_complete = erofs_fileio_ki_complete;",
          proc="erofs_fileio_ki_complete"),
        S("vfs_iocb_iter", "ret = vfs_iocb_iter_read(rq->iocb.ki_filp, &rq->iocb, &iter);"),
        S("if_goto", "if (ret != -EIOCBQUEUED)", cond="queued", target="put"),
        S("call", "erofs_fileio_ki_complete(&rq->iocb, ret);", proc="erofs_fileio_ki_complete"),
        S("refcount_dec_and_test", "if (refcount_dec_and_test(&rq->ref))", tag="put",
          else_goto="END"),
        S("kmem_cache_free", "kfree(rq);"),
    )
    complete = (
        S("load_orig", "struct erofs_fileio_rq *rq = container_of(iocb, ...); /* &rq->bio */"),
        S("ki_complete", "bio_endio(&rq->bio);"),
        S("refcount_dec_and_test", "if (refcount_dec_and_test(&rq->ref))", else_goto="END"),
        S("kmem_cache_free", "kfree(rq);"),
    )
    return Variant(
        name="erofs",
        summary="erofs reading its blocks from a backing file: a bio in a wrapper of a count "
        "of 2 that cannot fail to allocate; the submitter returns nothing",
        origin="fs/erofs/fileio.c (v6.12: Debian's linux-source-6.12) erofs_fileio_rq_alloc(), "
        "erofs_fileio_rq_submit(), erofs_fileio_ki_complete(); the count of 2 since "
        "1caf50ce4af0 (v6.12)",
        procs={"erofs_fileio_read": read, "erofs_fileio_rq_alloc": alloc,
               "erofs_fileio_rq_submit": submit, "erofs_fileio_ki_complete": complete},
        entry={"read": "erofs_fileio_read"},
        kernel="6.12",
        caller="erofs",
        callbacks={},
        shape="bio",
        kinds=("read",),
        notes=("read-only: no freeze protection to balance",
               "not modelled: a short read turned into -EIO and bio_uninit after bio_endio "
               "(the bio lives in the wrapper)"),
    )


def catalogue() -> dict[str, Variant]:
    """The built-in variants by name, in catalogue order."""
    variants = [_seed(), _seed_fixed(), _ovl(refcount=False), _ovl(refcount=True), _ovl_61(),
                _mainline(), _ovl_612(), _fuse_612(), _loop(), _erofs()]
    return {v.name: v for v in variants}
