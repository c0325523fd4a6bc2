"""Mutants that behave like the original, each with the reason (one line).

Reviewed by hand against the C. The gate fails if a mutant survives without an entry here,
or if a listed mutant is killed (the entry went stale). Reasons marked "outside the model"
name what the model does not track rather than claim the edit is harmless in the kernel.
"""

from __future__ import annotations

from typing import Final

REASONS: Final[dict[str, str]] = {
    "UNREACHABLE": (
        "unreachable copy: the statement before it always leaves (return or goto)"
    ),
    "RETEST": (
        "the same branch is tested again with the same answer and falls through"
    ),
    "IDEMPOTENT_STORE": (
        "stores the same value into the wrapper twice before anyone reads it"
    ),
    "INDEPENDENT_STORES": (
        "two stores into the fresh wrapper before it is published to the lower filesystem: nobody can observe their order"
    ),
    "NO_KI_COMPLETE": (
        "kiocb_clone zeroes ki_complete, so the clone is a sync kiocb that the lower filesystem finishes before returning: legal, the caller gets the result directly"
    ),
    "ZERO_LENGTH": (
        "a zero-length request that reaches the lower filesystem gets 0 from it: same result, the check only saves work"
    ),
    "ODIRECT": (
        "without the check the lower filesystem refuses the O_DIRECT IO itself and the helper propagates its error"
    ),
    "ODIRECT_ASYNC": (
        "async requests skip the O_DIRECT check: the lower filesystem refuses such IO itself and the helper propagates its error"
    ),
    "ALL_SYNC": (
        "every request takes the synchronous path: an async kiocb served synchronously is legal (not queued, ki_complete never runs)"
    ),
    "EARLY_ORDER": (
        "both early checks refuse the request before any IO; which refusal a request failing both gets is in no contract"
    ),
    "KI_FLAGS": (
        "outside the model: the store changes only ki_flags bits no rule depends on (DSYNC/SYNC masking): IOCB_WRITE and IOCB_DIO_CALLER_COMP are the same in the clone either way"
    ),
    "FLAG_CLEAR_AGAIN": (
        "clears the same flag again in the same local: idempotent"
    ),
    "FLAG_CLEAR_ORDER": (
        "the flag is cleared in the local before anything copies it, on either side of the other statement"
    ),
    "REDUNDANT_CLEAR": (
        "overlayfs clears IOCB_DIO_CALLER_COMP in ovl_write_iter (fs/overlayfs/file.c:322 in v6.12) and the helper clears it again (fs/backing-file.c:237): either clear alone is enough"
    ),
    "HELPER_ZERO_LENGTH": (
        "the helper tests for a zero-length request again and returns 0 before any IO"
    ),
    "POS_ARGUMENT": (
        "the callback gets the clone's ki_pos as its argument, not the original's, so its order with the update of the original's is in no contract"
    ),
    "POS_IN_LAST_PUT": (
        "the put that frees the wrapper runs after the IO on every path, before anyone reads the original's ki_pos, and copies the same final value"
    ),
    "OWN_KIOCB_SYNC": (
        "ki_complete stays NULL (the kiocb is the caller's own, zeroed): a sync kiocb, so the lower filesystem finishes the IO before returning and the submitter completes the request with its result (the loop driver's buffered mode runs this way)"
    ),
    "KI_COMPLETE_LATE": (
        "ki_complete is set only after the IO was issued on what was then a sync kiocb: the lower filesystem finished it before returning, and nothing reads ki_complete afterwards"
    ),
    "BRANCH_ON_OP": (
        "the branch tests the block request's op, which the store beside it does not change: their order is unobservable"
    ),
    "PDU_ARITHMETIC": (
        "blk_mq_rq_from_pdu() and container_of() are pointer arithmetic on the command: computed before or after the decrement, they read nothing"
    ),
    "KCALL_EFFECT": (
        "outside the model: what the kernel function does (the overlay inode's times or size copied from the real one) is not tracked, only the context it runs in, which this edit leaves as it was"
    ),
    "ACCESSED_ORDER": (
        "outside the model: ovl_file_accessed() on the overlay file runs in the submitter, in process context, on either side of the other statement; only which atime it copies could differ"
    ),
    "COPYATTR_READ": (
        "ovl_copyattr() for a read copies attributes nothing changed; before v6.7 it takes no lock, so it may run in the completion"
    ),
    "RELOAD_LOCAL": (
        "reloads a local from a field nobody changes in between"
    ),
    "POS_AGAIN": (
        "copies ki_pos again from the same clone: idempotent"
    ),
    "ASSIGN_AGAIN": (
        "assigns the same constant to ret twice"
    ),
    "CLONE_AGAIN": (
        "clones again without taking a file reference: the second clone has the same contents"
    ),
    "INIT_WQ_AGAIN": (
        "backing_aio_init_wq does nothing once s_dio_done_wq exists"
    ),
    "FD_AGAIN": (
        "copies the caller's struct fd (or clears its flags) twice: idempotent"
    ),
    "FD_LOCAL": (
        "one statement changes the caller's local struct fd, the other the wrapper or the freeze count: independent"
    ),
    "REF_VS_FREEZE": (
        "refcount_set and kiocb_start_write touch different objects before submit"
    ),
    "END_WRITE_VS_CALLBACK": (
        "the caller's callback does not depend on freeze protection: their order is in no contract"
    ),
    "ACCESSED_AFTER_FDPUT": (
        "ovl_file_accessed touches the overlay file, not the real file that fdput may drop"
    ),
    "END_WRITE_IN_WORK": (
        "backing_aio_complete_work runs only for queued writes, so ending freeze protection there ends it in exactly the same cases"
    ),
    "PRIVS": (
        "outside the model: file_remove_privs only clears setuid bits (a security duty, not a lifecycle one); without it, twice, or with its error ignored, the write goes on before any wrapper exists and returns its own result"
    ),
    "WARN_BACKING": (
        "outside the model: WARN_ON_ONCE refuses a file that is not a backing file; without it such a file is read or written like the backing file, which no lifecycle property tells apart"
    ),
    "FDPUT_NOOP": (
        "the caller's struct fd went into the wrapper and real.flags = 0 cleared its FDPUT_FPUT: the fdput(real) the jump skips drops nothing"
    ),
    "SAME_RETURN": (
        "the two returns return the same ret: which of them a path reaches is in no contract"
    ),
    "END_WRITE_IN_IRQ": (
        "ending freeze protection in the irq completion before punting is legal (sb_end_write may run in any context) and still happens once, after the IO"
    ),
}

# mutant name -> reason key
EQUIVALENT: Final[dict[str, str]] = {
    "seed-fixed:duplicate:ovl_read_iter#5(return_)": "UNREACHABLE",
    "seed-fixed:swap:ovl_read_iter#2(call,kcall)": "ACCESSED_ORDER",
    "seed-fixed:delete:ovl_read_iter#3(kcall)": "KCALL_EFFECT",
    "seed-fixed:duplicate:ovl_read_iter#3(kcall)": "KCALL_EFFECT",
    "seed-fixed:swap:ovl_read_iter#3(kcall,fdput)": "ACCESSED_ORDER",
    "seed-fixed:delete:ovl_rw_complete#0(if_goto)": "COPYATTR_READ",
    "seed-fixed:duplicate:ovl_rw_complete#0(if_goto)": "RETEST",
    "seed-fixed:swap:ovl_rw_complete#0(if_goto,kcall)": "COPYATTR_READ",
    "seed-fixed:flip:ovl_rw_complete#0(if_goto)": "KCALL_EFFECT",
    "seed-fixed:delete:ovl_rw_complete#1(kcall)": "KCALL_EFFECT",
    "seed-fixed:duplicate:ovl_rw_complete#1(kcall)": "KCALL_EFFECT",
    "seed-fixed:move>backing_file_read_iter:ovl_read_iter#3(kcall)": "ACCESSED_ORDER",
    "seed-fixed:move>backing_file_write_iter:ovl_read_iter#3(kcall)": "KCALL_EFFECT",
    "seed-fixed:move>backing_file_read_iter:ovl_rw_complete#1(kcall)": "KCALL_EFFECT",
    "seed-fixed:move>backing_file_write_iter:ovl_rw_complete#1(kcall)": "KCALL_EFFECT",
    "seed-fixed:move>backing_aio_put:ovl_rw_complete#1(kcall)": "KCALL_EFFECT",
    "seed-fixed:move>backing_aio_cleanup:ovl_rw_complete#1(kcall)": "KCALL_EFFECT",
    "seed-fixed:move>backing_aio_rw_complete:ovl_rw_complete#1(kcall)": "KCALL_EFFECT",
    "seed-fixed:duplicate:ovl_write_iter#7(return_)": "UNREACHABLE",
    "seed-fixed:delete:backing_file_read_iter#0(if_goto)": "ZERO_LENGTH",
    "seed-fixed:duplicate:backing_file_read_iter#0(if_goto)": "RETEST",
    "seed-fixed:swap:backing_file_read_iter#0(if_goto,if_goto)": "EARLY_ORDER",
    "seed-fixed:delete:backing_file_read_iter#1(if_goto)": "ODIRECT",
    "seed-fixed:duplicate:backing_file_read_iter#1(if_goto)": "RETEST",
    "seed-fixed:swap:backing_file_read_iter#1(if_goto,if_goto)": "ODIRECT_ASYNC",
    "seed-fixed:delete:backing_file_read_iter#2(if_goto)": "ALL_SYNC",
    "seed-fixed:duplicate:backing_file_read_iter#2(if_goto)": "RETEST",
    "seed-fixed:duplicate:backing_file_read_iter#5(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_file_read_iter#7(init_orig_iocb)": "IDEMPOTENT_STORE",
    "seed-fixed:swap:backing_file_read_iter#7(init_orig_iocb,init_callback)": "INDEPENDENT_STORES",
    "seed-fixed:duplicate:backing_file_read_iter#8(init_callback)": "IDEMPOTENT_STORE",
    "seed-fixed:swap:backing_file_read_iter#8(init_callback,kiocb_clone)": "INDEPENDENT_STORES",
    "seed-fixed:swap:backing_file_read_iter#9(kiocb_clone,set_ki_complete)": "NO_KI_COMPLETE",
    "seed-fixed:delete:backing_file_read_iter#10(set_ki_complete)": "NO_KI_COMPLETE",
    "seed-fixed:duplicate:backing_file_read_iter#10(set_ki_complete)": "IDEMPOTENT_STORE",
    "seed-fixed:swap:backing_file_read_iter#10(set_ki_complete,refcount_set)": "INDEPENDENT_STORES",
    "seed-fixed:duplicate:backing_file_read_iter#11(refcount_set)": "IDEMPOTENT_STORE",
    "seed-fixed:duplicate:backing_file_read_iter#14(if_goto)": "RETEST",
    "seed-fixed:duplicate:backing_file_read_iter#16(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_file_read_iter#17(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_file_read_iter#18(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_file_read_iter#19(return_)": "UNREACHABLE",
    "seed-fixed:delete:backing_file_write_iter#0(if_goto)": "ZERO_LENGTH",
    "seed-fixed:duplicate:backing_file_write_iter#0(if_goto)": "RETEST",
    "seed-fixed:swap:backing_file_write_iter#0(if_goto,if_goto)": "EARLY_ORDER",
    "seed-fixed:delete:backing_file_write_iter#1(if_goto)": "ODIRECT",
    "seed-fixed:duplicate:backing_file_write_iter#1(if_goto)": "RETEST",
    "seed-fixed:swap:backing_file_write_iter#1(if_goto,if_goto)": "ODIRECT_ASYNC",
    "seed-fixed:delete:backing_file_write_iter#2(if_goto)": "ALL_SYNC",
    "seed-fixed:duplicate:backing_file_write_iter#2(if_goto)": "RETEST",
    "seed-fixed:swap:backing_file_write_iter#5(file_end_write,callback)": "END_WRITE_VS_CALLBACK",
    "seed-fixed:duplicate:backing_file_write_iter#7(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_file_write_iter#9(init_orig_iocb)": "IDEMPOTENT_STORE",
    "seed-fixed:swap:backing_file_write_iter#9(init_orig_iocb,init_callback)": "INDEPENDENT_STORES",
    "seed-fixed:duplicate:backing_file_write_iter#10(init_callback)": "IDEMPOTENT_STORE",
    "seed-fixed:swap:backing_file_write_iter#10(init_callback,kiocb_clone)": "INDEPENDENT_STORES",
    "seed-fixed:duplicate:backing_file_write_iter#12(set_ki_flags)": "IDEMPOTENT_STORE",
    "seed-fixed:swap:backing_file_write_iter#12(set_ki_flags,set_ki_complete)": "INDEPENDENT_STORES",
    "seed-fixed:delete:backing_file_write_iter#13(set_ki_complete)": "NO_KI_COMPLETE",
    "seed-fixed:duplicate:backing_file_write_iter#13(set_ki_complete)": "IDEMPOTENT_STORE",
    "seed-fixed:swap:backing_file_write_iter#13(set_ki_complete,refcount_set)": "INDEPENDENT_STORES",
    "seed-fixed:duplicate:backing_file_write_iter#14(refcount_set)": "IDEMPOTENT_STORE",
    "seed-fixed:swap:backing_file_write_iter#14(refcount_set,kiocb_start_write)": "REF_VS_FREEZE",
    "seed-fixed:duplicate:backing_file_write_iter#18(if_goto)": "RETEST",
    "seed-fixed:duplicate:backing_file_write_iter#20(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_file_write_iter#21(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_file_write_iter#22(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_file_write_iter#23(return_)": "UNREACHABLE",
    "seed-fixed:duplicate:backing_aio_cleanup#0(if_goto)": "RETEST",
    "seed-fixed:duplicate:backing_aio_cleanup#2(update_pos)": "POS_AGAIN",
    "seed-fixed:duplicate:backing_aio_rw_complete#0(load_orig)": "RELOAD_LOCAL",
    "ovl-5.16:delete:ovl_read_iter#0(if_goto)": "ZERO_LENGTH",
    "ovl-5.16:duplicate:ovl_read_iter#0(if_goto)": "RETEST",
    "ovl-5.16:delete:ovl_read_iter#5(if_goto)": "ALL_SYNC",
    "ovl-5.16:duplicate:ovl_read_iter#5(if_goto)": "RETEST",
    "ovl-5.16:duplicate:ovl_read_iter#7(goto)": "UNREACHABLE",
    "ovl-5.16:duplicate:ovl_read_iter#8(assign)": "ASSIGN_AGAIN",
    "ovl-5.16:duplicate:ovl_read_iter#10(fd_move_to_wrapper)": "FD_AGAIN",
    "ovl-5.16:duplicate:ovl_read_iter#11(fd_clear_flags)": "FD_AGAIN",
    "ovl-5.16:swap:ovl_read_iter#11(fd_clear_flags,init_orig_iocb)": "FD_LOCAL",
    "ovl-5.16:duplicate:ovl_read_iter#12(init_orig_iocb)": "IDEMPOTENT_STORE",
    "ovl-5.16:swap:ovl_read_iter#12(init_orig_iocb,kiocb_clone)": "INDEPENDENT_STORES",
    "ovl-5.16:duplicate:ovl_read_iter#13(kiocb_clone)": "CLONE_AGAIN",
    "ovl-5.16:swap:ovl_read_iter#13(kiocb_clone,set_ki_complete)": "NO_KI_COMPLETE",
    "ovl-5.16:delete:ovl_read_iter#14(set_ki_complete)": "NO_KI_COMPLETE",
    "ovl-5.16:duplicate:ovl_read_iter#14(set_ki_complete)": "IDEMPOTENT_STORE",
    "ovl-5.16:swap:ovl_read_iter#14(set_ki_complete,refcount_set)": "INDEPENDENT_STORES",
    "ovl-5.16:duplicate:ovl_read_iter#15(refcount_set)": "IDEMPOTENT_STORE",
    "ovl-5.16:duplicate:ovl_read_iter#18(if_goto)": "RETEST",
    "ovl-5.16:duplicate:ovl_read_iter#22(return_)": "UNREACHABLE",
    "ovl-5.16:duplicate:ovl_read_iter#23(return_)": "UNREACHABLE",
    "ovl-5.16:delete:ovl_write_iter#0(if_goto)": "ZERO_LENGTH",
    "ovl-5.16:duplicate:ovl_write_iter#0(if_goto)": "RETEST",
    "ovl-5.16:delete:ovl_write_iter#7(if_goto)": "ALL_SYNC",
    "ovl-5.16:duplicate:ovl_write_iter#7(if_goto)": "RETEST",
    "ovl-5.16:swap:ovl_write_iter#10(file_end_write,callback)": "END_WRITE_VS_CALLBACK",
    "ovl-5.16:duplicate:ovl_write_iter#12(goto)": "UNREACHABLE",
    "ovl-5.16:duplicate:ovl_write_iter#13(assign)": "ASSIGN_AGAIN",
    "ovl-5.16:duplicate:ovl_write_iter#17(fd_move_to_wrapper)": "FD_AGAIN",
    "ovl-5.16:duplicate:ovl_write_iter#18(fd_clear_flags)": "FD_AGAIN",
    "ovl-5.16:swap:ovl_write_iter#18(fd_clear_flags,init_orig_iocb)": "FD_LOCAL",
    "ovl-5.16:duplicate:ovl_write_iter#19(init_orig_iocb)": "IDEMPOTENT_STORE",
    "ovl-5.16:swap:ovl_write_iter#19(init_orig_iocb,kiocb_clone)": "INDEPENDENT_STORES",
    "ovl-5.16:duplicate:ovl_write_iter#20(kiocb_clone)": "CLONE_AGAIN",
    "ovl-5.16:swap:ovl_write_iter#20(kiocb_clone,set_ki_flags)": "KI_FLAGS",
    "ovl-5.16:delete:ovl_write_iter#21(set_ki_flags)": "KI_FLAGS",
    "ovl-5.16:duplicate:ovl_write_iter#21(set_ki_flags)": "IDEMPOTENT_STORE",
    "ovl-5.16:swap:ovl_write_iter#21(set_ki_flags,set_ki_complete)": "INDEPENDENT_STORES",
    "ovl-5.16:delete:ovl_write_iter#22(set_ki_complete)": "NO_KI_COMPLETE",
    "ovl-5.16:duplicate:ovl_write_iter#22(set_ki_complete)": "IDEMPOTENT_STORE",
    "ovl-5.16:swap:ovl_write_iter#22(set_ki_complete,refcount_set)": "INDEPENDENT_STORES",
    "ovl-5.16:duplicate:ovl_write_iter#23(refcount_set)": "IDEMPOTENT_STORE",
    "ovl-5.16:duplicate:ovl_write_iter#26(if_goto)": "RETEST",
    "ovl-5.16:duplicate:ovl_write_iter#29(return_)": "UNREACHABLE",
    "ovl-5.16:duplicate:ovl_write_iter#30(return_)": "UNREACHABLE",
    "ovl-5.16:duplicate:ovl_aio_cleanup_handler#0(if_goto)": "RETEST",
    "ovl-5.16:swap:ovl_aio_cleanup_handler#1(kiocb_end_write,callback)": "END_WRITE_VS_CALLBACK",
    "ovl-5.16:duplicate:ovl_aio_cleanup_handler#3(update_pos)": "POS_AGAIN",
    "ovl-5.16:duplicate:ovl_aio_rw_complete#0(load_orig)": "RELOAD_LOCAL",
    "mainline:delete:backing_file_read_iter#1(if_goto)": "ZERO_LENGTH",
    "mainline:duplicate:backing_file_read_iter#1(if_goto)": "RETEST",
    "mainline:swap:backing_file_read_iter#1(if_goto,if_goto)": "EARLY_ORDER",
    "mainline:delete:backing_file_read_iter#2(if_goto)": "ODIRECT",
    "mainline:duplicate:backing_file_read_iter#2(if_goto)": "RETEST",
    "mainline:swap:backing_file_read_iter#2(if_goto,if_goto)": "ODIRECT_ASYNC",
    "mainline:delete:backing_file_read_iter#3(if_goto)": "ALL_SYNC",
    "mainline:duplicate:backing_file_read_iter#3(if_goto)": "RETEST",
    "mainline:duplicate:backing_file_read_iter#5(goto)": "UNREACHABLE",
    "mainline:duplicate:backing_file_read_iter#6(assign)": "ASSIGN_AGAIN",
    "mainline:duplicate:backing_file_read_iter#8(init_orig_iocb)": "IDEMPOTENT_STORE",
    "mainline:swap:backing_file_read_iter#8(init_orig_iocb,kiocb_clone)": "INDEPENDENT_STORES",
    "mainline:swap:backing_file_read_iter#9(kiocb_clone,set_ki_complete)": "NO_KI_COMPLETE",
    "mainline:delete:backing_file_read_iter#10(set_ki_complete)": "NO_KI_COMPLETE",
    "mainline:duplicate:backing_file_read_iter#10(set_ki_complete)": "IDEMPOTENT_STORE",
    "mainline:swap:backing_file_read_iter#10(set_ki_complete,refcount_set)": "INDEPENDENT_STORES",
    "mainline:duplicate:backing_file_read_iter#11(refcount_set)": "IDEMPOTENT_STORE",
    "mainline:duplicate:backing_file_read_iter#14(if_goto)": "RETEST",
    "mainline:duplicate:backing_file_read_iter#17(return_)": "UNREACHABLE",
    "mainline:duplicate:backing_file_read_iter#18(return_)": "UNREACHABLE",
    "mainline:duplicate:backing_file_read_iter#19(return_)": "UNREACHABLE",
    "mainline:delete:backing_file_write_iter#1(if_goto)": "ZERO_LENGTH",
    "mainline:duplicate:backing_file_write_iter#1(if_goto)": "RETEST",
    "mainline:delete:backing_file_write_iter#4(if_goto)": "ODIRECT",
    "mainline:duplicate:backing_file_write_iter#4(if_goto)": "RETEST",
    "mainline:delete:backing_file_write_iter#6(if_goto)": "ALL_SYNC",
    "mainline:duplicate:backing_file_write_iter#6(if_goto)": "RETEST",
    "mainline:duplicate:backing_file_write_iter#9(return_)": "UNREACHABLE",
    "mainline:duplicate:backing_file_write_iter#10(init_wq)": "INIT_WQ_AGAIN",
    "mainline:duplicate:backing_file_write_iter#11(assign)": "ASSIGN_AGAIN",
    "mainline:duplicate:backing_file_write_iter#13(init_orig_iocb)": "IDEMPOTENT_STORE",
    "mainline:swap:backing_file_write_iter#13(init_orig_iocb,init_callback)": "INDEPENDENT_STORES",
    "mainline:duplicate:backing_file_write_iter#14(init_callback)": "IDEMPOTENT_STORE",
    "mainline:swap:backing_file_write_iter#14(init_callback,kiocb_clone)": "INDEPENDENT_STORES",
    "mainline:duplicate:backing_file_write_iter#16(set_ki_flags)": "IDEMPOTENT_STORE",
    "mainline:swap:backing_file_write_iter#16(set_ki_flags,set_ki_complete)": "INDEPENDENT_STORES",
    "mainline:delete:backing_file_write_iter#17(set_ki_complete)": "NO_KI_COMPLETE",
    "mainline:duplicate:backing_file_write_iter#17(set_ki_complete)": "IDEMPOTENT_STORE",
    "mainline:swap:backing_file_write_iter#17(set_ki_complete,refcount_set)": "INDEPENDENT_STORES",
    "mainline:duplicate:backing_file_write_iter#18(refcount_set)": "IDEMPOTENT_STORE",
    "mainline:duplicate:backing_file_write_iter#21(if_goto)": "RETEST",
    "mainline:duplicate:backing_file_write_iter#23(return_)": "UNREACHABLE",
    "mainline:duplicate:backing_file_write_iter#24(return_)": "UNREACHABLE",
    "mainline:duplicate:backing_file_write_iter#25(return_)": "UNREACHABLE",
    "mainline:duplicate:backing_aio_cleanup#1(update_pos)": "POS_AGAIN",
    "mainline:swap:backing_aio_cleanup#0(callback,update_pos)": "POS_ARGUMENT",
    "mainline:move>backing_aio_put:backing_aio_cleanup#1(update_pos)": "POS_IN_LAST_PUT",
    "mainline:duplicate:backing_file_write_iter#5(clear_ki_flag)": "FLAG_CLEAR_AGAIN",
    "mainline:swap:backing_file_write_iter#4(if_goto,clear_ki_flag)": "FLAG_CLEAR_ORDER",
    "seed-fixed:duplicate:ovl_write_iter#4(clear_ki_flag)": "FLAG_CLEAR_AGAIN",
    "ovl-6.12:delete:ovl_read_iter#0(if_goto)": "HELPER_ZERO_LENGTH",
    "ovl-6.12:duplicate:ovl_read_iter#0(if_goto)": "RETEST",
    "ovl-6.12:duplicate:ovl_read_iter#5(return_)": "UNREACHABLE",
    "ovl-6.12:duplicate:ovl_read_iter#6(return_)": "UNREACHABLE",
    "ovl-6.12:delete:ovl_write_iter#0(if_goto)": "HELPER_ZERO_LENGTH",
    "ovl-6.12:duplicate:ovl_write_iter#0(if_goto)": "RETEST",
    "ovl-6.12:delete:ovl_write_iter#3(clear_ki_flag)": "REDUNDANT_CLEAR",
    "ovl-6.12:duplicate:ovl_write_iter#3(clear_ki_flag)": "FLAG_CLEAR_AGAIN",
    "ovl-6.12:swap:ovl_write_iter#3(clear_ki_flag,call)": "REDUNDANT_CLEAR",
    "ovl-6.12:duplicate:ovl_write_iter#6(return_)": "UNREACHABLE",
    "ovl-6.12:duplicate:ovl_write_iter#7(return_)": "UNREACHABLE",
    "ovl-6.12:delete:backing_file_write_iter#5(clear_ki_flag)": "REDUNDANT_CLEAR",
    "ovl-6.12:swap:backing_file_write_iter#5(clear_ki_flag,if_goto)": "REDUNDANT_CLEAR",
    "mainline:duplicate:backing_aio_rw_complete#0(load_orig)": "RELOAD_LOCAL",
    "mainline:duplicate:backing_aio_rw_complete#1(if_goto)": "RETEST",
    "mainline:move>backing_aio_complete_work:backing_aio_rw_complete#2(kiocb_end_write)": "END_WRITE_IN_WORK",
    "mainline:move>backing_aio_queue_completion:backing_aio_rw_complete#2(kiocb_end_write)": "END_WRITE_IN_IRQ",
    "mainline:duplicate:backing_aio_complete_work#0(load_res)": "RELOAD_LOCAL",
    "mainline:duplicate:backing_aio_queue_completion#0(store_res)": "IDEMPOTENT_STORE",
    # v5.15's O_DIRECT check in ovl-5.16's read_iter/write_iter
    "ovl-5.16:duplicate:ovl_read_iter#3(assign)": "ASSIGN_AGAIN",
    "ovl-5.16:delete:ovl_read_iter#4(if_goto)": "ODIRECT",
    "ovl-5.16:duplicate:ovl_read_iter#4(if_goto)": "RETEST",
    "ovl-5.16:swap:ovl_read_iter#4(if_goto,if_goto)": "ODIRECT_ASYNC",
    "ovl-5.16:duplicate:ovl_write_iter#5(assign)": "ASSIGN_AGAIN",
    "ovl-5.16:delete:ovl_write_iter#6(if_goto)": "ODIRECT",
    "ovl-5.16:duplicate:ovl_write_iter#6(if_goto)": "RETEST",
    "ovl-5.16:swap:ovl_write_iter#6(if_goto,if_goto)": "ODIRECT_ASYNC",
    # the loop driver (drivers/block/loop.c v6.12)
    "loop:duplicate:lo_rw_aio#0(refcount_set)": "IDEMPOTENT_STORE",
    "loop:swap:lo_rw_aio#0(refcount_set,init_kiocb)": "INDEPENDENT_STORES",
    "loop:duplicate:lo_rw_aio#1(init_kiocb)": "IDEMPOTENT_STORE",
    "loop:swap:lo_rw_aio#1(init_kiocb,set_ki_complete)": "INDEPENDENT_STORES",
    "loop:delete:lo_rw_aio#2(set_ki_complete)": "OWN_KIOCB_SYNC",
    "loop:duplicate:lo_rw_aio#2(set_ki_complete)": "IDEMPOTENT_STORE",
    "loop:swap:lo_rw_aio#2(set_ki_complete,if_goto)": "BRANCH_ON_OP",
    "loop:duplicate:lo_rw_aio#3(if_goto)": "RETEST",
    "loop:duplicate:lo_rw_aio#6(goto)": "UNREACHABLE",
    "loop:duplicate:lo_rw_aio#9(if_goto)": "RETEST",
    "loop:duplicate:lo_rw_aio#11(return_)": "UNREACHABLE",
    "loop:duplicate:lo_rw_aio_complete#0(store_res)": "IDEMPOTENT_STORE",
    "loop:duplicate:lo_rw_aio_do_completion#0(load_orig)": "RELOAD_LOCAL",
    "loop:swap:lo_rw_aio_do_completion#0(load_orig,refcount_dec_and_test)": "PDU_ARITHMETIC",
    "loop:duplicate:lo_rw_aio_do_completion#2(if_goto)": "RETEST",
    "loop:duplicate:lo_rw_aio_do_completion#4(load_res)": "RELOAD_LOCAL",
    # erofs's file-backed reads (fs/erofs/fileio.c v6.12)
    "erofs:duplicate:erofs_fileio_read#2(return_)": "UNREACHABLE",
    "erofs:duplicate:erofs_fileio_rq_alloc#1(init_orig_iocb)": "IDEMPOTENT_STORE",
    "erofs:swap:erofs_fileio_rq_alloc#1(init_orig_iocb,init_kiocb)": "INDEPENDENT_STORES",
    "erofs:duplicate:erofs_fileio_rq_alloc#2(init_kiocb)": "IDEMPOTENT_STORE",
    "erofs:swap:erofs_fileio_rq_alloc#2(init_kiocb,refcount_set)": "INDEPENDENT_STORES",
    "erofs:duplicate:erofs_fileio_rq_alloc#3(refcount_set)": "IDEMPOTENT_STORE",
    "erofs:delete:erofs_fileio_rq_submit#0(set_ki_complete)": "OWN_KIOCB_SYNC",
    "erofs:duplicate:erofs_fileio_rq_submit#0(set_ki_complete)": "IDEMPOTENT_STORE",
    "erofs:swap:erofs_fileio_rq_submit#0(set_ki_complete,vfs_iocb_iter)": "KI_COMPLETE_LATE",
    "erofs:duplicate:erofs_fileio_rq_submit#2(if_goto)": "RETEST",
    "erofs:duplicate:erofs_fileio_ki_complete#0(load_orig)": "RELOAD_LOCAL",
    "seed-fixed:duplicate:ovl_read_iter#1(if_goto)": "RETEST",
    "seed-fixed:delete:ovl_read_iter#5(return_)": "SAME_RETURN",
    "seed-fixed:swap:ovl_read_iter#5(return_,return_)": "SAME_RETURN",
    "seed-fixed:duplicate:ovl_read_iter#6(return_)": "UNREACHABLE",
    "seed-fixed:delete:ovl_write_iter#0(file_remove_privs)": "PRIVS",
    "seed-fixed:duplicate:ovl_write_iter#0(file_remove_privs)": "PRIVS",
    "seed-fixed:swap:ovl_write_iter#0(file_remove_privs,if_goto)": "PRIVS",
    "seed-fixed:delete:ovl_write_iter#1(if_goto)": "PRIVS",
    "seed-fixed:duplicate:ovl_write_iter#1(if_goto)": "RETEST",
    "seed-fixed:swap:ovl_write_iter#1(if_goto,fdget)": "PRIVS",
    "seed-fixed:duplicate:ovl_write_iter#3(if_goto)": "RETEST",
    "seed-fixed:swap:ovl_write_iter#3(if_goto,clear_ki_flag)": "FLAG_CLEAR_ORDER",
    "ovl-5.16:duplicate:ovl_read_iter#2(if_goto)": "RETEST",
    "ovl-5.16:duplicate:ovl_read_iter#24(return_)": "UNREACHABLE",
    "ovl-5.16:swap:ovl_write_iter#0(if_goto,file_remove_privs)": "PRIVS",
    "ovl-5.16:delete:ovl_write_iter#1(file_remove_privs)": "PRIVS",
    "ovl-5.16:duplicate:ovl_write_iter#1(file_remove_privs)": "PRIVS",
    "ovl-5.16:swap:ovl_write_iter#1(file_remove_privs,if_goto)": "PRIVS",
    "ovl-5.16:delete:ovl_write_iter#2(if_goto)": "PRIVS",
    "ovl-5.16:duplicate:ovl_write_iter#2(if_goto)": "RETEST",
    "ovl-5.16:swap:ovl_write_iter#2(if_goto,fdget)": "PRIVS",
    "ovl-5.16:duplicate:ovl_write_iter#4(if_goto)": "RETEST",
    "ovl-5.16:swap:ovl_write_iter#16(sb_writers_release,fd_move_to_wrapper)": "FD_LOCAL",
    "ovl-5.16:skip-cleanup:ovl_write_iter#26(if_goto)": "FDPUT_NOOP",
    "mainline:delete:backing_file_read_iter#0(if_goto)": "WARN_BACKING",
    "mainline:duplicate:backing_file_read_iter#0(if_goto)": "RETEST",
    "mainline:swap:backing_file_read_iter#0(if_goto,if_goto)": "EARLY_ORDER",
    "mainline:duplicate:backing_file_read_iter#20(return_)": "UNREACHABLE",
    "mainline:delete:backing_file_write_iter#0(if_goto)": "WARN_BACKING",
    "mainline:duplicate:backing_file_write_iter#0(if_goto)": "RETEST",
    "mainline:swap:backing_file_write_iter#0(if_goto,if_goto)": "EARLY_ORDER",
    "mainline:swap:backing_file_write_iter#1(if_goto,file_remove_privs)": "PRIVS",
    "mainline:delete:backing_file_write_iter#2(file_remove_privs)": "PRIVS",
    "mainline:duplicate:backing_file_write_iter#2(file_remove_privs)": "PRIVS",
    "mainline:swap:backing_file_write_iter#2(file_remove_privs,if_goto)": "PRIVS",
    "mainline:delete:backing_file_write_iter#3(if_goto)": "PRIVS",
    "mainline:duplicate:backing_file_write_iter#3(if_goto)": "RETEST",
    "mainline:swap:backing_file_write_iter#3(if_goto,if_goto)": "EARLY_ORDER",
    "mainline:duplicate:backing_file_write_iter#26(return_)": "UNREACHABLE",
    "ovl-6.12:duplicate:ovl_read_iter#2(if_goto)": "RETEST",
    "ovl-6.12:duplicate:ovl_read_iter#7(return_)": "UNREACHABLE",
    "ovl-6.12:duplicate:ovl_write_iter#2(if_goto)": "RETEST",
    "ovl-6.12:swap:ovl_write_iter#2(if_goto,clear_ki_flag)": "FLAG_CLEAR_ORDER",
    # FUSE passthrough's own read_iter/write_iter: its if (!count) return 0; before the
    # helper, which tests for an empty iter again
    "fuse-6.12:delete:fuse_passthrough_read_iter#0(if_goto)": "HELPER_ZERO_LENGTH",
    "fuse-6.12:duplicate:fuse_passthrough_read_iter#0(if_goto)": "RETEST",
    "fuse-6.12:swap:fuse_passthrough_read_iter#0(if_goto,call)": "HELPER_ZERO_LENGTH",
    "fuse-6.12:duplicate:fuse_passthrough_read_iter#2(return_)": "UNREACHABLE",
    "fuse-6.12:duplicate:fuse_passthrough_read_iter#3(return_)": "UNREACHABLE",
    "fuse-6.12:delete:fuse_passthrough_write_iter#0(if_goto)": "HELPER_ZERO_LENGTH",
    "fuse-6.12:duplicate:fuse_passthrough_write_iter#0(if_goto)": "RETEST",
    "fuse-6.12:swap:fuse_passthrough_write_iter#0(if_goto,call)": "HELPER_ZERO_LENGTH",
    "fuse-6.12:duplicate:fuse_passthrough_write_iter#2(return_)": "UNREACHABLE",
    "fuse-6.12:duplicate:fuse_passthrough_write_iter#3(return_)": "UNREACHABLE",
}


# ovl-6.12 runs mainline's helpers unchanged under overlayfs's own read_iter/write_iter: a
# mutant of a helper procedure is the same edit as mainline's, for the same reason. An
# entry that the fdget/fdput caller kills would show up as stale.
_HELPERS_OF_MAINLINE: Final = ("backing_file_read_iter", "backing_file_write_iter",
                               "backing_aio_put", "backing_aio_cleanup",
                               "backing_aio_rw_complete", "backing_aio_complete_work",
                               "backing_aio_queue_completion")
# fuse-6.12 runs them under FUSE passthrough's read_iter/write_iter, likewise.
EQUIVALENT.update({
    variant + ":" + name.removeprefix("mainline:"): reason
    for variant in ("ovl-6.12", "fuse-6.12")
    for name, reason in list(EQUIVALENT.items())
    if name.startswith("mainline:") and name.split(":")[2].split("#")[0] in _HELPERS_OF_MAINLINE
})

