"""A minimal FUSE passthrough server speaking the raw /dev/fuse protocol, in a process.

FUSE passthrough is the second user of the backing-file helpers: a read or write on a
passthrough file goes to fuse_passthrough_read_iter/write_iter and from there to
backing_file_read_iter/write_iter on the backing file, with no round trip to the server.
No Python FUSE library supports passthrough (it needs the FUSE_DEV_IOC_BACKING_OPEN ioctl
and the backing id in the OPEN reply), so this module speaks the protocol itself:

- INIT: answered with FUSE_INIT_EXT and, in flags2, FUSE_PASSTHROUGH (max_stack_depth 1),
  if the kernel offers it;
- LOOKUP/GETATTR: one directory (node 1) holding one regular file per entry of ``files``
  (attributes from the backing file, short validity);
- OPEN: the backing file is registered with FUSE_DEV_IOC_BACKING_OPEN and the reply
  carries FOPEN_PASSTHROUGH and the backing id; RELEASE closes the backing id
  (FUSE_DEV_IOC_BACKING_CLOSE);
- FLUSH/FSYNC/RELEASEDIR/DESTROY get a plain success, OPENDIR a handle; FORGET gets no
  reply (the protocol has none for it); anything else, READDIR and STATFS included, gets
  -ENOSYS.

The mount is made with mount(2) (``fd=N,rootmode=40000,user_id=0,group_id=0``) and always
undone; unmounting aborts the connection, which ends the server's read loop.

The server runs in a child process (``python -m backing_aio.kernelcheck.fuse``), not on a thread: a
driver that waited in the kernel holding Python's global lock would starve a server thread
(io_uring asks a FUSE file's poll method, a FUSE_POLL request, before issuing a read), and
a process of its own answers whatever the driver does. The child holds the connection's
only descriptor: if it dies, the connection is aborted and every pending request fails
instead of hanging.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.kernelcheck.mounts import MS_NODEV, MS_NOSUID, mount, unmount_all
from backing_aio.kernelcheck.overlay import require_root

# opcodes (include/uapi/linux/fuse.h)
LOOKUP, FORGET, GETATTR, SETATTR = 1, 2, 3, 4
OPEN, READ, WRITE, STATFS, RELEASE, FSYNC, FLUSH, INIT = 14, 15, 16, 17, 18, 20, 25, 26
OPENDIR, READDIR, RELEASEDIR, ACCESS, INTERRUPT, DESTROY = 27, 28, 29, 34, 36, 38
BATCH_FORGET: Final = 42
NO_REPLY: Final = frozenset({FORGET, BATCH_FORGET, INTERRUPT})

FUSE_INIT_EXT: Final = 1 << 30
FUSE_PASSTHROUGH_FLAGS2: Final = 1 << (37 - 32)  # FUSE_PASSTHROUGH is bit 37 of flags|flags2
FOPEN_PASSTHROUGH: Final = 1 << 7
FUSE_DEV_IOC_BACKING_OPEN: Final = 0x4010E501  # _IOW(229, 1, struct fuse_backing_map)
FUSE_DEV_IOC_BACKING_CLOSE: Final = 0x4004E502  # _IOW(229, 2, uint32_t)

IN_HEADER = struct.Struct("<IIQQIIIHH")  # len opcode unique nodeid uid gid pid extlen pad
OUT_HEADER = struct.Struct("<IiQ")  # len error unique
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")  # fuse_attr (88 bytes)
ROOT: Final = 1
S_IFDIR, S_IFREG = 0o040000, 0o100000
BUFSIZE: Final = (1 << 20) + 4096


def _attr(ino: int, st: os.stat_result | None) -> bytes:
    if st is None:  # the root directory
        return ATTR.pack(ino, 0, 0, 0, 0, 0, 0, 0, 0, S_IFDIR | 0o755, 2, 0, 0, 0, 4096, 0)
    return ATTR.pack(ino, st.st_size, st.st_blocks, int(st.st_atime), int(st.st_mtime),
                     int(st.st_ctime), 0, 0, 0, S_IFREG | 0o644, 1, 0, 0, 0, 4096, 0)


class PassthroughServer:
    """Serves ``files`` (name -> backing path) from the FUSE connection ``devfd``."""

    def __init__(self, devfd: int, files: dict[str, Path]) -> None:
        self.devfd = devfd
        self.files = files
        self.names = list(files)
        self.node_of = {name: i + 2 for i, name in enumerate(self.names)}
        self.opened: dict[int, int] = {}  # fh -> node
        self.backing: dict[int, tuple[int, int]] = {}  # node -> (backing id, opens)
        self.next_fh = 1
        self.passthrough: bool | None = None  # known after INIT
        self.on_init: Callable[[], object] = lambda: None
        self.error: BaseException | None = None
        self.requests: dict[int, int] = {}  # opcode -> count
        self._closed = False

    def _reply(self, unique: int, err: int = 0, payload: bytes = b"") -> None:
        msg = OUT_HEADER.pack(OUT_HEADER.size + len(payload), -err, unique) + payload
        try:
            os.write(self.devfd, msg)
        except OSError as e:
            if e.errno != errno.ENOENT:  # the request was interrupted meanwhile
                raise

    def run(self) -> None:
        try:
            while True:
                try:
                    req = os.read(self.devfd, BUFSIZE)
                except OSError as e:
                    if e.errno == errno.EINTR or e.errno == errno.EAGAIN:
                        continue
                    if e.errno == errno.ENODEV:  # unmounted: the connection is gone
                        return
                    raise
                self._handle(req)
        except BaseException as e:
            self.error = e
            # A request this server read but can no longer answer would block its caller
            # in an uninterruptible wait: closing the connection's last descriptor (in
            # run's finally) aborts the connection and fails every pending request.
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection's descriptor (once): aborts the connection if it is the
        last one."""
        if not self._closed:
            self._closed = True
            os.close(self.devfd)

    def _handle(self, req: bytes) -> None:
        _len, opcode, unique, nodeid, *_ = IN_HEADER.unpack_from(req)
        body = req[IN_HEADER.size:]
        self.requests[opcode] = self.requests.get(opcode, 0) + 1
        if opcode in NO_REPLY:
            return
        handler: Callable[[int, int, bytes], None] | None = {
            INIT: self._init, LOOKUP: self._lookup, GETATTR: self._getattr,
            OPEN: self._open, RELEASE: self._release, FLUSH: self._ok, FSYNC: self._ok,
            OPENDIR: self._opendir, RELEASEDIR: self._ok, DESTROY: self._ok,
        }.get(opcode)
        if handler is None:
            self._reply(unique, errno.ENOSYS)  # e.g. POLL: the kernel then stops asking
            return
        try:
            handler(unique, nodeid, body)
        except OSError as e:  # answer the request with the error rather than hang it
            self._reply(unique, e.errno or errno.EIO)

    def _ok(self, unique: int, nodeid: int, body: bytes) -> None:
        self._reply(unique)

    def _init(self, unique: int, nodeid: int, body: bytes) -> None:
        _major, minor, max_readahead, flags = struct.unpack_from("<IIII", body)
        flags2 = struct.unpack_from("<I", body, 16)[0] if flags & FUSE_INIT_EXT else 0
        self.passthrough = bool(flags2 & FUSE_PASSTHROUGH_FLAGS2)
        out_flags2 = FUSE_PASSTHROUGH_FLAGS2 if self.passthrough else 0
        out = struct.pack("<IIIIHHIIHHIIH22x", 7, minor, max_readahead, FUSE_INIT_EXT,
                          16, 12, 128 * 1024, 1, 32, 0, out_flags2, 1, 0)
        self._reply(unique, 0, out)
        self.on_init()

    def _stat(self, nodeid: int) -> os.stat_result | None:
        if nodeid == ROOT:
            return None
        return os.stat(self.files[self.names[nodeid - 2]])

    def _lookup(self, unique: int, nodeid: int, body: bytes) -> None:
        name = body.split(b"\0", 1)[0].decode()
        node = self.node_of.get(name)
        if nodeid != ROOT or node is None:
            self._reply(unique, errno.ENOENT)
            return
        # entry and attributes valid for 1 s: the workload's own IO keeps the size right
        out = struct.pack("<QQQQII", node, 0, 1, 1, 0, 0) + _attr(node, self._stat(node))
        self._reply(unique, 0, out)

    def _getattr(self, unique: int, nodeid: int, body: bytes) -> None:
        if nodeid != ROOT and not 2 <= nodeid < 2 + len(self.names):
            self._reply(unique, errno.ENOENT)
            return
        out = struct.pack("<QII", 1, 0, 0) + _attr(nodeid, self._stat(nodeid))
        self._reply(unique, 0, out)

    def _opendir(self, unique: int, nodeid: int, body: bytes) -> None:
        self._reply(unique, 0, struct.pack("<QIi", 0, 0, 0))

    def _open(self, unique: int, nodeid: int, body: bytes) -> None:
        if not 2 <= nodeid < 2 + len(self.names):
            self._reply(unique, errno.EISDIR if nodeid == ROOT else errno.ENOENT)
            return
        if not self.passthrough:
            self._reply(unique, errno.EOPNOTSUPP)
            return
        # Every open of an inode must name the same backing file (the kernel refuses a
        # second one with EBUSY): one backing id per node, closed with its last open.
        backing_id, users = self.backing.get(nodeid, (0, 0))
        if not users:
            fd = os.open(self.files[self.names[nodeid - 2]], os.O_RDWR)
            try:
                arg = ctypes.create_string_buffer(struct.pack("<iIQ", fd, 0, 0), 16)
                backing_id = fcntl.ioctl(self.devfd, FUSE_DEV_IOC_BACKING_OPEN, arg)
            except OSError as e:
                self._reply(unique, e.errno or errno.EIO)
                return
            finally:
                os.close(fd)  # the connection holds its own reference to the file now
        self.backing[nodeid] = (backing_id, users + 1)
        fh = self.next_fh
        self.next_fh += 1
        self.opened[fh] = nodeid
        self._reply(unique, 0, struct.pack("<QIi", fh, FOPEN_PASSTHROUGH, backing_id))

    def _release(self, unique: int, nodeid: int, body: bytes) -> None:
        fh = struct.unpack_from("<Q", body)[0]
        node = self.opened.pop(fh, None)
        if node is not None:
            backing_id, users = self.backing.pop(node)
            if users > 1:
                self.backing[node] = (backing_id, users - 1)
            else:
                # an error means it went with the connection: nothing left to release
                with contextlib.suppress(OSError):
                    fcntl.ioctl(self.devfd, FUSE_DEV_IOC_BACKING_CLOSE,
                                struct.pack("<I", backing_id))
        self._reply(unique)


def serve(devfd: int, files: dict[str, Path], ready_fd: int) -> int:
    """The child's main: serve until the connection goes away. Writes one line to
    ``ready_fd`` once INIT is answered: "passthrough" or "no passthrough"."""
    server = PassthroughServer(devfd, files)
    with os.fdopen(ready_fd, "w") as ready:
        def announce() -> None:
            ready.write("passthrough\n" if server.passthrough else "no passthrough\n")
            ready.flush()

        server.on_init = announce
        server.run()
    if server.error is not None:
        print(f"backing_aio.kernelcheck.fuse: the server failed: {server.error!r}", file=sys.stderr)
        return 1
    return 0


@contextmanager
def passthrough_mount(files: dict[str, bytes], parent: str | Path | None = None,
                      timeout: float = 10.0) -> Iterator[tuple[Path, Path]]:
    """Backing files with ``files``' contents in a temporary directory, served through a
    FUSE passthrough mount by a child process: yields (mount point, backing directory)."""
    require_root()
    if not Path("/dev/fuse").exists():
        raise Unavailable("no /dev/fuse")
    root = Path(tempfile.mkdtemp(prefix="kernelcheck-fuse-", dir=parent))
    mnt, back = root / "mnt", root / "backing"
    mnt.mkdir()
    back.mkdir()
    for name, data in files.items():
        (back / name).write_bytes(data)
    devfd = -1
    mounted = False
    child: subprocess.Popen[bytes] | None = None
    try:
        try:
            devfd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            raise Unavailable(f"cannot open /dev/fuse: {e.strerror}") from None
        opts = f"fd={devfd},rootmode=40000,user_id=0,group_id=0"
        try:
            mount("kernelcheck", mnt, "fuse", MS_NOSUID | MS_NODEV, opts)
        except OSError as e:
            raise Unavailable(f"cannot mount FUSE: {e.strerror}") from None
        mounted = True
        ready_r, ready_w = os.pipe()
        try:
            args = [sys.executable, "-m", "backing_aio.kernelcheck.fuse", str(devfd), str(ready_w)]
            args += [f"{n}={back / n}" for n in files]
            child = subprocess.Popen(args, pass_fds=(devfd, ready_w))
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        os.close(devfd)  # the child's is now the connection's only descriptor
        devfd = -1
        with os.fdopen(ready_r) as ready:
            # no deadline: the child holds the other end, so its death is an end of file
            # (a loaded machine must not turn a slow start into a skip)
            line = ready.readline().strip()
        if line != "passthrough":
            if line == "no passthrough":
                raise Unavailable("the kernel does not offer FUSE passthrough "
                                  "(CONFIG_FUSE_PASSTHROUGH)")
            raise Unavailable(f"the FUSE server did not start (exit status "
                              f"{child.poll()})")
        yield mnt, back
    finally:
        if devfd >= 0:
            os.close(devfd)
        if mounted:
            unmount_all(mnt)
        if child is not None:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fuse_file(data: bytes) -> Iterator[tuple[Path, Callable[[], list[Path]]]]:
    """One passthrough file holding ``data``: (its path on the mount, a function giving
    the backing file's path), the shape backing_aio.kernelcheck.xcheck wants of a filesystem."""
    with passthrough_mount({"data": data}) as (mnt, back):
        yield mnt / "data", lambda: [back / "data"]


def main(argv: list[str]) -> int:
    """``python -m backing_aio.kernelcheck.fuse DEVFD READYFD NAME=PATH...``: the server process."""
    devfd, ready_fd = int(argv[0]), int(argv[1])
    files = {}
    for arg in argv[2:]:
        name, _, path = arg.partition("=")
        files[name] = Path(path)
    return serve(devfd, files, ready_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
