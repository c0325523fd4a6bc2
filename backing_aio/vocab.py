"""The names the model, the reference implementation and the outputs share, and nothing else.

No semantics live here: what a property means is ``model.properties``, what a step does is
``model.semantics``, and refimpl implements the helpers on its own. Both sides import their
spelling from this module, so an independent implementation cannot drift from the model in
the words a trace, a finding or a saved counterexample uses.

The enums are ``StrEnum``: a member is its spelling (``Actor.LOWER == "lower"``), so JSON,
saved counterexamples and user files keep their plain strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class PropertyId(StrEnum):
    """The stable IDs of the properties (DESIGN section 3), in the order outputs list them."""

    UAF = "UAF"
    DOUBLE_FREE = "DOUBLE_FREE"
    REF_UNDERFLOW = "REF_UNDERFLOW"
    LEAK = "LEAK"
    CLEANUP_ONCE = "CLEANUP_ONCE"
    COMPLETE_IFF_QUEUED = "COMPLETE_IFF_QUEUED"
    FREEZE_BALANCED = "FREEZE_BALANCED"
    POS_BEFORE_CALLBACK = "POS_BEFORE_CALLBACK"
    RESULT_PROPAGATED = "RESULT_PROPAGATED"
    CONTEXT = "CONTEXT"
    TERMINATES = "TERMINATES"


PROPERTY_IDS: Final[tuple[str, ...]] = tuple(PropertyId)


class Subject(StrEnum):
    """What a finding can be about: the objects a property can be broken on separately
    (a use after free of the wrapper is another bug than one of the file)."""

    WRAPPER = "wrapper"
    ORIG_KIOCB = "original kiocb"
    KI_FILP = "ki_filp"
    SHARED_FILE = "shared file"
    TMP_FILE = "file opened on the fly"
    S_DIO_DONE_WQ = "s_dio_done_wq"
    CALLER_STACK = "caller's stack (use after return)"


SUBJECTS: Final[tuple[str, ...]] = tuple(Subject)


class Actor(StrEnum):
    """The actors of one request.

    - the *submitter*: the task inside read_iter/write_iter;
    - the *lower* filesystem inside submit, after it queued the clone (contract L2);
    - the *completion*: the clone's ki_complete, in irq context;
    - the *worker*: a workqueue item the completion queued, in process context.
    """

    SUBMITTER = "submitter"
    LOWER = "lower"
    COMPLETION = "completion"
    WORKER = "worker"


ACTORS: Final[tuple[str, ...]] = tuple(Actor)


class Kind(StrEnum):
    """What a request does."""

    READ = "read"
    WRITE = "write"


KINDS: Final[tuple[str, ...]] = tuple(Kind)


class RequestType(StrEnum):
    """The requests the upper layer issues: async (io_uring, Linux AIO) or sync
    (read(2)/write(2): a sync kiocb has no ki_complete)."""

    READ = "read"
    WRITE = "write"
    SYNC_READ = "sync-read"
    SYNC_WRITE = "sync-write"


REQUEST_TYPES: Final[tuple[str, ...]] = tuple(RequestType)


class Shape(StrEnum):
    """Who is above the helpers, hence what the original is and how it must end.

    - ``stacked``: a stacked filesystem's read_iter/write_iter (overlayfs, FUSE
      passthrough). The original is a kiocb: the call returns its result, or
      -EIOCBQUEUED and the original's ki_complete runs once; the original's ki_pos and
      the caller's callbacks are part of the contract.
    - ``block``: a block driver serving a request from a file (the loop driver's
      lo_rw_aio). The wrapper is the request's pdu: it exists before the call and goes
      back to blk-mq with the request when it is completed. The call returns -EIOCBQUEUED
      and the request is completed exactly once, with the lower filesystem's result, by
      whoever drops the last reference.
    - ``bio``: a filesystem reading its own blocks from a file (erofs's file-backed
      mounts). The wrapper holds the bio; the call returns nothing (a void submitter,
      counted as -EIOCBQUEUED: the bio ends only through bio_endio), exactly once.

    No position is handed back and no caller callback runs in the block and bio shapes:
    POS_BEFORE_CALLBACK and CLEANUP_ONCE do not apply to them.
    """

    STACKED = "stacked"
    BLOCK = "block"
    BIO = "bio"


SHAPES: Final[tuple[str, ...]] = tuple(Shape)


class Outcome(StrEnum):
    """How a request ended, as the caller's callback contract distinguishes it."""

    SUBMITTED = "submitted"
    ALLOC_FAILED = "alloc_failed"
    WQ_FAILED = "wq_failed"
    EARLY = "early"


OUTCOMES: Final[tuple[str, ...]] = tuple(Outcome)


class Freeze(StrEnum):
    """Who owns freeze protection of an async write: the helper (``caller``) or
    vfs_iocb_iter_write (``callee``, from v6.8)."""

    CALLER = "caller"
    CALLEE = "callee"


FREEZE_CONTRACTS: Final[tuple[str, ...]] = tuple(Freeze)


class EnvCondition(StrEnum):
    """Facts about a request the environment decides the first time they are asked."""

    SYNC_KIOCB = "sync_kiocb"
    ZERO_LENGTH = "zero_length"
    ODIRECT_UNSUPPORTED = "odirect_unsupported"
    # the upper layer (io_uring) set IOCB_DIO_CALLER_COMP on the original async write
    CALLER_COMP = "caller_comp"
    # the file handed to the helpers is not a backing file (no FMODE_BACKING): the
    # helpers' WARN_ON_ONCE refuses it with -EIO
    NOT_BACKING = "not_backing"


ENV_CONDITIONS: Final[tuple[str, ...]] = tuple(EnvCondition)


class Choice(StrEnum):
    """The environment's choices at a step with several outcomes ("" for a step with one):
    the spelling of a step's choice in traces and saved counterexamples."""

    NONE = ""
    ALLOC_OK = "alloc ok"
    ALLOC_FAILS = "alloc fails"
    FD_BORROWED = "borrowed"
    FD_OPENED = "opened (FDPUT_FPUT)"
    FD_FAILS = "fdget fails"  # ovl_real_fdget returns an error (it left its cached file)
    PRIVS_OK = "privs ok"
    PRIVS_FAILS = "privs fail"  # file_remove_privs returns an error
    RETURNS_RES = "returns RES"
    RETURNS_EIO = "returns -EIO"
    QUEUES = "queues"
    RES_RES = "res RES"
    RES_EIO = "res -EIO"
    WQ_OK = "wq ok"
    WQ_FAILS = "wq fails"


def env_answer(condition: str, truth: bool) -> str:
    """The choice that answers an environment condition: ``"zero_length: yes"``."""
    return f"{condition}: {'yes' if truth else 'no'}"


CHOICES: Final[frozenset[str]] = frozenset({
    *Choice,
    *(env_answer(c, t) for c in EnvCondition for t in (True, False)),
})
