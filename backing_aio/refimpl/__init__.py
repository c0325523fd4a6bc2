"""An executable reference implementation of the backing-file helpers, doing real file IO
with real asynchronous completions on other threads, instrumented so that every run emits
a trace in the model's vocabulary (see backing_aio.crosscheck.conformance).

Modules: kasan (checking allocator, findings), sched (actors, points, schedulers), env
(fault plans), vfs (kernel objects and VFS calls), lower (the lower filesystem: preadv and
pwritev, queued or not; the thread backend), uring (the io_uring backend), helpers (the
helpers in four versions), upper (the upper layer and caller, with their checks), kernel
(one run's state), run (programs and stress runs).
"""
