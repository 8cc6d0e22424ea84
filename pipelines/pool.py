"""A small process pool for CPU-bound work, fed from asyncio.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: when one of its
workers dies every pending future fails, so an innocent page queued behind a
crashing one would lose its result; and its ``max_tasks_per_child`` hung a
run on Python 3.11 (FIELD-NOTES). Here each worker process is owned by one
thread of the parent and handles one task at a time, so a death is blamed on
exactly the task it was running, a runaway task can be killed on a timeout,
and workers are recycled without racing anything.

Workers are started with ``python -c`` (not ``multiprocessing``), so they do
not re-import the parent's ``__main__`` (the Scrapy command line) and carry
only what the task function needs. Tasks and results travel as pickles over a
socket pair.

Nothing here knows about Scrapy.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import json
import logging
import os
import pickle
import queue
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

_STOP = b""  # an empty message asks a worker to exit; a pickle is never empty
_READY = b"ready"  # a worker's first message: its imports are done
_START_TIMEOUT = 300.0  # seconds a worker may take to import its code
# Seconds a slot thread waits for an answer before it looks for a task to send
# the worker meanwhile (only while the worker has room for one more).
_FEED_SLICE = 0.01
# The contention monitor samples every _CONTENTION_INTERVAL seconds and decides
# on the mean of _CONTENTION_SAMPLES samples (runnable counts jump from one instant
# to the next).
_CONTENTION_INTERVAL = 0.5
_CONTENTION_SAMPLES = 4
_TREE_EVERY = 10  # samples between two walks of /proc for this process's descendants


class PoolError(Exception):
    """Base of the errors :meth:`ProcessPool.run` raises besides the task's own."""


class WorkerDied(PoolError):
    """The worker process exited while running the task (every allowed attempt)."""


class TaskTimeout(PoolError):
    """The task ran longer than the pool's ``task_timeout``; its worker was killed."""


class TaskTooLarge(PoolError):
    """The task passed the worker's memory cap (``max_memory_mb``); the worker was replaced."""


class TaskFailed(PoolError):
    """The task could not be sent, raised in the worker, or its result could not be sent back.

    The message names the original exception type; the caller may retry in-process.
    """


class PoolClosed(PoolError):
    """The pool was closed before the task ran."""


class _Closing(Exception):
    """Inside a slot thread: the pool closed while the thread replaced its worker."""


def resolve(path: str) -> Callable[[Any], Any]:
    """Import ``package.module.function`` and return the function."""
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ValueError(f"not a dotted path to a function: {path!r}")
    func = getattr(importlib.import_module(module_name), attr)
    if not callable(func):
        raise TypeError(f"{path} is not callable")
    return func  # type: ignore[no-any-return]


def limit_memory(max_memory_mb: int) -> None:
    """Cap this process's address space (``RLIMIT_AS``) at ``max_memory_mb``; 0: no cap.

    Past it an allocation fails (``MemoryError`` in Python code) instead of
    the machine swapping or the kernel's OOM killer picking a process.
    """
    if max_memory_mb <= 0:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = max_memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc's malloc.h)


def set_mmap_threshold(nbytes: int) -> bool:
    """Give every allocation of at least ``nbytes`` its own memory map (glibc ``mallopt``).

    Such a block goes back to the kernel as soon as it is freed. Without a
    fixed threshold glibc raises its own (up to 32 MB) each time a mapped block
    is freed, so that after a few large page bodies the next ones are carved
    out of the heap, where they fragment it and stay resident. Returns whether
    the threshold was set (False: ``nbytes`` is 0, out of glibc's range, or
    the C library is not glibc).
    """
    if nbytes <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, nbytes))


def heap_trimmer() -> Callable[[], object] | None:
    """A call that hands the C heap's free pages back to the kernel (glibc only; else None).

    A large page makes the parser allocate tens of megabytes that are freed
    afterwards but stay in the process's heap (scattered among live blocks,
    so the heap's top cannot shrink): ``malloc_trim(0)`` releases the free
    pages wherever they lie. It costs about a millisecond, so the pool calls
    it only after large tasks.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


def worker_main(
    fd: int,
    func_path: str,
    preload: Sequence[str],
    max_memory_mb: int = 0,
    *,
    initializer: str = "",
    trim_after_bytes: int = 0,
    mmap_threshold: int = 0,
) -> None:
    """Body of a worker process: run ``func`` on each task received on ``fd`` until told to stop.

    ``initializer`` (a dotted path, or empty) is called before the
    ``preload`` imports; after a task of at least ``trim_after_bytes``
    bytes (0: never) the worker returns its free heap to the kernel;
    ``mmap_threshold`` (0: glibc's default) is :func:`set_mmap_threshold`'s.
    """
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_mmap_threshold(mmap_threshold)
    conn = Connection(fd)
    if initializer:
        initialize: Any = resolve(initializer)  # called with no argument, unlike a task
        initialize()
    trim = heap_trimmer() if trim_after_bytes > 0 else None
    for name in preload:
        importlib.import_module(name)
    func = resolve(func_path)
    # A thread reads the tasks as they arrive, so that the parent's send of the
    # next task (sent while this one runs: see ProcessPool) never waits for the
    # task to finish, and a large result and a large task never block each other.
    inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    threading.stack_size(256 * 1024)  # under the address-space cap below, it counts
    threading.Thread(target=_read_tasks, args=(conn, inbox), daemon=True).start()
    # After the imports: the cap is for what one page makes a worker allocate.
    limit_memory(max_memory_mb)
    conn.send_bytes(_READY)
    while True:
        data = inbox.get()
        if data == _STOP:
            return  # told to, or the parent is gone
        try:
            payload = pickle.dumps(("ok", func(pickle.loads(data))), pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            # Say so and exit: what the failed task left behind (fragmented
            # heap, half-built trees) is not worth keeping; the parent replaces us.
            payload = pickle.dumps(("memory", f"the page passed the {max_memory_mb} MB cap"))
            with contextlib.suppress(OSError):
                conn.send_bytes(payload)
            return
        except Exception as exc:
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        size = len(data)
        del data  # the body: not kept while the next task waits
        conn.send_bytes(payload)
        if trim is not None and size >= trim_after_bytes:
            del payload  # (the result too, before the heap is trimmed)
            trim()


def _read_tasks(conn: Connection, inbox: queue.SimpleQueue[bytes]) -> None:
    """Move the tasks from the parent's socket to ``inbox`` (a worker's reader thread)."""
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            data = _STOP  # the parent is gone
        inbox.put(data)
        if data == _STOP:
            return


# The worker's command line: the parent's sys.path first, so that the worker
# imports the same code whether the project is installed or run from a checkout.
_BOOTSTRAP = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from pipelines.pool import worker_main; "
    "worker_main(int(sys.argv[2]), sys.argv[3], sys.argv[5:], **json.loads(sys.argv[4]))"
)


class _Worker:
    """One worker process and the parent's end of its socket."""

    def __init__(
        self,
        func_path: str,
        preload: Sequence[str],
        max_memory_mb: int = 0,
        *,
        initializer: str = "",
        trim_after_bytes: int = 0,
        mmap_threshold: int = 0,
    ) -> None:
        parent, child = socket.socketpair()
        options = {
            "max_memory_mb": max_memory_mb,
            "initializer": initializer,
            "trim_after_bytes": trim_after_bytes,
            "mmap_threshold": mmap_threshold,
        }
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _BOOTSTRAP,
                    json.dumps(sys.path),
                    str(child.fileno()),
                    func_path,
                    json.dumps(options),
                    *preload,
                ],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.conn = Connection(parent.detach())
        self.tasks = 0
        self.ready = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, data: bytes) -> None:
        """Send one pickled task (the worker reads it while it runs the one before).

        Raises ``TimeoutError`` when the worker never finished its imports,
        ``EOFError`` or ``OSError`` when it died.
        """
        if not self.ready:
            # Start-up (imports) does not count against the task's timeout.
            if not self.conn.poll(_START_TIMEOUT):
                raise TimeoutError
            if self.conn.recv_bytes() != _READY:
                raise OSError("unexpected first message from a worker")
            self.ready = True
        self.tasks += 1
        self.conn.send_bytes(data)

    def answered(self, timeout: float | None) -> bool:
        """Whether an answer is there within ``timeout`` seconds (None: wait for it)."""
        return self.conn.poll(timeout)

    def receive(self) -> bytes:
        """The pickled answer to the oldest task sent; ``EOFError``/``OSError`` when it died."""
        return self.conn.recv_bytes()

    def stop(self, grace: float) -> None:
        """Ask the worker to exit; kill it if it has not within ``grace`` seconds."""
        with contextlib.suppress(OSError):  # already gone
            self.conn.send_bytes(_STOP)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()
        self.conn.close()

    def kill(self) -> None:
        """End the worker now."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.conn.close()


class _Pause:
    """A slot's signal to stop its worker until :meth:`ProcessPool.resume` (see ``pause``)."""

    __slots__ = ("generation",)

    def __init__(self, generation: int) -> None:
        self.generation = generation


class _Task:
    """One task: its pickle, the future its caller awaits, that future's loop, its tries."""

    __slots__ = ("data", "future", "loop", "tries")

    def __init__(
        self, data: bytes, future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.data = data
        self.future = future
        self.loop = loop
        self.tries = 0  # deaths of a worker while it ran this task


class ProcessPool:
    """Run ``func_path`` (a picklable-argument, picklable-result function) in worker processes.

    ``workers`` processes, each served by one thread; at most ``max_pending``
    (default 4 per worker, spares included) tasks queued or running (``run``
    waits for room, which is the back pressure a fast producer needs). Each
    worker holds up to ``prefetch`` tasks (default 1; with 2, the one it runs
    and the next, so that it never waits for the parent between tasks: in the
    busy benchmark that did not pay, see bench/README.md). A task whose worker dies is
    retried once in a fresh worker (the death may not be its fault), then
    fails with :class:`WorkerDied`; a task running longer than
    ``task_timeout`` seconds fails with :class:`TaskTimeout`. A worker is
    replaced after ``max_tasks_per_worker`` tasks (0: never), which bounds any
    slow leak in the libraries it runs. ``max_memory_mb`` (0: none) caps each
    worker's address space: a task that passes it fails with
    :class:`TaskTooLarge` (not retried: it would pass it again) and its worker
    is replaced. Up to ``spare_workers`` more workers run while other
    processes compete for the cores (see :meth:`_watch_contention`).
    ``initializer`` (a dotted path) runs in each worker before its
    ``preload`` imports; a worker returns its free heap to the kernel after
    each task of at least ``trim_after_bytes`` bytes (0: never; see
    :func:`heap_trimmer`); ``mmap_threshold`` (0: glibc's default) is
    :func:`set_mmap_threshold`'s in each worker.
    """

    def __init__(
        self,
        func_path: str,
        workers: int,
        *,
        max_pending: int | None = None,
        task_timeout: float | None = None,
        max_tasks_per_worker: int = 0,
        preload: Sequence[str] = (),
        max_memory_mb: int = 0,
        prefetch: int = 1,
        spare_workers: int = 0,
        initializer: str = "",
        trim_after_bytes: int = 0,
        mmap_threshold: int = 0,
    ) -> None:
        if workers < 1:
            raise ValueError("a process pool needs at least one worker")
        resolve(func_path)  # fail at start-up, in the parent, on a wrong path
        if initializer:
            resolve(initializer)  # (only imported here: it runs in the workers)
        self.initializer = initializer
        self.trim_after_bytes = max(0, trim_after_bytes)
        self.mmap_threshold = max(0, mmap_threshold)
        self.func_path = func_path
        self.workers = workers
        self.task_timeout = task_timeout or None
        self.max_tasks_per_worker = max_tasks_per_worker
        self.preload = tuple(preload)
        self.max_memory_mb = max_memory_mb
        self.prefetch = max(1, prefetch)
        self.spare_workers = max(0, spare_workers)
        self.spares_wanted = 0  # spare slots the contention monitor wants running
        self.spares_peak = 0
        # Room for every worker, spares included, to hold its next task and have
        # two more queued: a settled task frees its room only when the caller's
        # loop runs, and on a busy machine that loop runs late.
        self.max_pending = max_pending or 4 * (workers + self.spare_workers)
        self.too_large = 0
        self.started_workers = 0
        self.deaths = 0
        self.timeouts = 0
        self._tasks: queue.SimpleQueue[_Task | _Pause | None] = queue.SimpleQueue()
        self._room: asyncio.Semaphore | None = None
        self._threads: list[threading.Thread] = []
        self._live: dict[int, _Worker] = {}  # slot → its current worker, for close()
        self._lock = threading.Lock()
        self._closed = False
        self._waiting = 0  # run() calls waiting for room (read by occupancy())
        self._held = 0  # tasks a slot thread has taken and not settled yet
        # pause(): the pause in force (its generation; 0: none), set when the workers may run
        self._pause_generation = 0
        self._generations = 0
        self._resumed = threading.Event()
        self._resumed.set()
        self.pauses = 0  # times the workers were stopped by pause()

    def start(self) -> None:
        """Start the workers (they import their code while the caller carries on)."""
        for slot in range(self.workers):
            self._start_slot(slot)
        if self.spare_workers and _procs_running() is not None:
            threading.Thread(
                target=self._watch_contention, name="pool-monitor", daemon=True
            ).start()

    def _start_slot(self, slot: int) -> None:
        worker = self._new_worker(slot)
        thread = threading.Thread(
            target=self._serve, args=(slot, worker), name=f"pool-slot-{slot}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _watch_contention(self) -> None:
        """Run spare workers while other processes compete for the cores and pages wait.

        The kernel shares a contested core among runnable threads alike, so
        with two outside processes each of our two workers gets the share of
        one of them, and pages wait for the pool. A spare worker is one more
        share for the same work; it is started only while outside processes
        that share our workers' share are runnable (those of our own session
        when the kernel's autogroups are on, else ``/proc/loadavg`` less our
        own runnable threads) and pages are queued for a worker, and retired
        when the competition ends, so an idle machine never pays its memory.
        """
        recent: deque[int] = deque(maxlen=_CONTENTION_SAMPLES)
        running = set(range(self.workers))
        tree: set[int] = set()
        peers: set[int] | None = None
        ticks = 0
        while not self._closed:
            time.sleep(_CONTENTION_INTERVAL)
            total = _procs_running()
            if total is None:
                return
            if ticks % _TREE_EVERY == 0:
                # Our other children (a browser that renders pages) are not
                # competition: walking /proc for them costs more, so now and then.
                tree = _descendants(os.getpid())
                peers = _autogroup_peers(os.getpid(), tree)
            ticks += 1
            if peers is None:
                others = total - self._own_running(tree)
            else:
                # With autogroups the kernel first shares the cores among sessions:
                # only our own session's processes take from our workers' share.
                workers = set(self.worker_pids())  # a spare started since the last walk
                others = sum(_runnable_threads(pid) for pid in peers - workers)
            recent.append(max(0, others))
            if len(recent) < recent.maxlen:  # type: ignore[operator]
                continue
            competing = sum(recent) / len(recent)
            if competing >= 1 and self._tasks.qsize() > 0:
                # One at a time: each new worker changes the picture.
                self.spares_wanted = min(
                    self.spare_workers, self.spares_wanted + 1, round(competing)
                )
            elif competing < 0.5:
                self.spares_wanted = max(0, self.spares_wanted - 1)
            else:
                continue
            recent.clear()
            self.spares_peak = max(self.spares_peak, self.spares_wanted)
            for slot in range(self.workers, self.workers + self.spares_wanted):
                with self._lock:
                    alive = slot in self._live
                if not alive and slot not in running and not self._closed:
                    running.add(slot)
                    self._start_slot(slot)
            running = {s for s in running if s < self.workers or s in self._live}

    def _own_running(self, tree: set[int]) -> int:
        """Runnable threads of this process, its workers and the rest of ``tree``."""
        pids = {os.getpid(), *self.worker_pids(), *tree}
        return sum(_runnable_threads(pid) for pid in pids)

    def _takes_more(self, slot: int, worker: _Worker) -> bool:
        """Whether the slot's worker may be sent another task.

        Not when it has had its share (``max_tasks_per_worker``: it is
        recycled once its tasks in flight are answered), nor when it is a
        spare the monitor no longer wants (or the pool is closing).
        """
        if self.max_tasks_per_worker and worker.tasks >= self.max_tasks_per_worker:
            return False
        return slot < self.workers or (
            not self._closed and slot < self.workers + self.spares_wanted
        )

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers."""
        with self._lock:
            return [w.pid for w in self._live.values()]

    def occupancy(self) -> tuple[int, int, int]:
        """Tasks waiting for room, queued for a worker, and held by a worker (for benchmarks)."""
        return self._waiting, self._tasks.qsize(), self._held

    async def run(self, arg: Any) -> Any:
        """Run the function on ``arg`` in a worker and return its result."""
        if self._closed:
            raise PoolClosed("the pool is closed")
        if self._room is None:
            self._room = asyncio.Semaphore(self.max_pending)
        self._waiting += 1
        try:
            await self._room.acquire()
        finally:
            self._waiting -= 1
        if self._closed:  # closed while this call waited for room: nobody would take it
            self._room.release()
            raise PoolClosed("the pool is closed")
        try:
            # Pickled only once there is room: a copy of every waiting body
            # would double the memory a slow pool makes the caller hold.
            try:
                data = pickle.dumps(arg, pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                raise TaskFailed(f"cannot send the task: {type(exc).__name__}: {exc}") from exc
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Any] = loop.create_future()
            self._tasks.put(_Task(data, future, loop))
            return await future
        finally:
            self._room.release()

    def pause(self) -> None:
        """Stop the workers once the tasks they hold are answered, until :meth:`resume`.

        For a caller about to start something memory-hungry (the render stage's
        browser) while no task is expected: the workers' memory is given back
        instead of adding to the other's. Tasks sent meanwhile wait in the queue;
        :meth:`resume` starts fresh workers (each imports its code again). One
        marker per slot goes to the back of the queue, so tasks queued before the
        pause are still run first.
        """
        with self._lock:
            if self._closed or self._pause_generation:
                return
            self._generations += 1
            self._pause_generation = self._generations
            self._resumed.clear()
            slots = sum(thread.is_alive() for thread in self._threads)
        for _ in range(slots):
            self._tasks.put(_Pause(self._pause_generation))

    def resume(self) -> None:
        """Let the workers stopped by :meth:`pause` be started again (no-op when not paused)."""
        with self._lock:
            self._pause_generation = 0
        self._resumed.set()

    @property
    def paused(self) -> bool:
        """Whether a :meth:`pause` is in force."""
        return bool(self._pause_generation)

    def _park(self, slot: int, worker: _Worker) -> _Worker:
        """Stop the slot's worker, wait for resume() (or close()), start a new one."""
        worker.stop(grace=5.0)
        with self._lock:
            self._live.pop(slot, None)
            self.pauses += 1
        self._resumed.wait()
        worker, _ = self._replace(slot, deque())  # raises _Closing when the pool closed
        return worker

    def close(self, grace: float = 5.0) -> None:
        """Stop every worker and thread; tasks still queued fail with :class:`PoolClosed`.

        Tasks a worker already holds are answered if it finishes them within
        ``grace`` seconds (else it is killed and they fail too); tasks still
        queued are not started: closing is a stop, and a caller that wants
        every result awaits its tasks before closing.
        """
        if self._closed:
            return
        self._closed = True
        self._resumed.set()  # paused slot threads wake up to exit
        # Fail what is queued before the threads are told to stop: the stop
        # markers go to the back of the same queue, so a thread would otherwise
        # take (and run) every queued task before it reached its marker.
        self._fail_queued()
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._tasks.put(None)
        for thread in threads:
            thread.join(grace + 1)
        with self._lock:
            leftovers = list(self._live.values())
            self._live.clear()
        for worker in leftovers:  # a thread stuck past its grace: do not leave orphans
            worker.kill()
        self._fail_queued()  # (and the stop markers no thread took)

    def _fail_queued(self) -> None:
        """Settle every task still in the queue with :class:`PoolClosed` (drops stop markers)."""
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if isinstance(task, _Task):
                _settle(task, PoolClosed("the pool was closed"))

    # --- inside the slot threads -------------------------------------------------

    def _new_worker(self, slot: int) -> _Worker:
        worker = _Worker(
            self.func_path,
            self.preload,
            self.max_memory_mb,
            initializer=self.initializer,
            trim_after_bytes=self.trim_after_bytes,
            mmap_threshold=self.mmap_threshold,
        )
        with self._lock:
            self._live[slot] = worker
            self.started_workers += 1
        return worker

    def _serve(self, slot: int, worker: _Worker) -> None:
        """Feed one worker: up to ``prefetch`` tasks in its hands, answers read in order.

        The worker runs its tasks one after the other, so the oldest task not
        answered yet is the one it is running: a death or a timeout is blamed
        on that task alone, and the tasks sent behind it (not started) go to
        the replacement as they are.
        """
        inflight: deque[_Task] = deque()
        started = time.monotonic()  # when the worker began the oldest task in flight
        closing = False
        pausing = False  # a pause marker was taken: no new task until the worker is stopped
        try:
            while True:
                while not closing and not pausing and len(inflight) < self.prefetch:
                    if not self._takes_more(slot, worker):
                        if not inflight and slot >= self.workers:
                            closing = True  # a spare no longer wanted
                        break  # (a worker past its share is recycled below)
                    try:
                        if inflight:
                            task = self._tasks.get_nowait()
                        elif slot >= self.workers:  # a spare: looks up now and then
                            task = self._tasks.get(timeout=_CONTENTION_INTERVAL)
                        else:
                            task = self._tasks.get()
                    except queue.Empty:
                        break
                    if task is None:
                        closing = True
                        break
                    if isinstance(task, _Pause):
                        # a marker of a pause since lifted is dropped
                        pausing = task.generation == self._pause_generation
                        if pausing:
                            break
                        continue
                    if task.future.cancelled():
                        continue
                    first = not inflight
                    inflight.append(task)
                    with self._lock:
                        self._held += 1
                    sent = self._send(worker, task)  # a new worker's imports are waited for here
                    if first:
                        started = time.monotonic()
                    if not sent:
                        break  # the worker is gone: noticed below, where the answer is read
                if not inflight:
                    if closing:
                        break
                    if pausing:
                        pausing = False
                        worker = self._park(slot, worker)
                        started = time.monotonic()
                        continue
                    if self.max_tasks_per_worker and worker.tasks >= self.max_tasks_per_worker:
                        # Its share of tasks done: replace it before the next task.
                        worker.stop(grace=5.0)
                        worker, started = self._replace(slot, inflight)
                    continue  # (a spare found nothing queued: it looks again)
                room = (
                    not closing
                    and not pausing
                    and len(inflight) < self.prefetch
                    and self._takes_more(slot, worker)
                )
                worker, started = self._answer(slot, worker, inflight, started, room)
        except _Closing:
            pass  # the tasks in flight fail below
        finally:
            worker.stop(grace=5.0)
            with self._lock:
                self._live.pop(slot, None)
                self._held -= len(inflight)
            for task in inflight:
                _settle(task, PoolClosed("the pool was closed"))

    def _send(self, worker: _Worker, task: _Task) -> bool:
        """Send ``task`` to ``worker``; False when the worker is gone (or never started)."""
        try:
            worker.send(task.data)
        except (TimeoutError, EOFError, OSError):
            return False
        return True

    def _answer(
        self,
        slot: int,
        worker: _Worker,
        inflight: deque[_Task],
        started: float,
        room: bool,
    ) -> tuple[_Worker, float]:
        """Wait for the oldest task's answer (or the worker's end) and settle what it decides.

        While the worker has room for another task, wait in short slices, so
        that a task queued meanwhile is sent before this answer comes: the
        worker then starts it without waiting for this thread.
        """
        while True:
            wait: float | None = None
            if self.task_timeout is not None:
                wait = max(0.0, started + self.task_timeout - time.monotonic())
            if room:
                wait = _FEED_SLICE if wait is None else min(wait, _FEED_SLICE)
            try:
                if worker.answered(wait):
                    break
            except (EOFError, OSError):
                break  # closed under us (close() past its grace): the read below says so
            if self.task_timeout is not None and time.monotonic() >= started + self.task_timeout:
                self.timeouts += 1
                logger.warning("extraction worker %d timed out; killing it", worker.pid)
                worker.kill()
                self._finish(
                    inflight.popleft(), TaskTimeout(f"no result within {self.task_timeout:g} s")
                )
                return self._replace(slot, inflight)
            if room and not self._tasks.empty():
                return worker, started  # back to the caller, which sends it
        head = inflight[0]
        try:
            answer = worker.receive()
        except (EOFError, OSError):
            self.deaths += 1
            worker.kill()
            code = worker.process.returncode
            head.tries += 1
            logger.warning(
                "worker %d died (exit code %s) on attempt %d", worker.pid, code, head.tries
            )
            if head.tries >= 2:
                inflight.popleft()
                self._finish(head, WorkerDied(f"the worker process died twice (exit code {code})"))
            return self._replace(slot, inflight)
        inflight.popleft()
        now = time.monotonic()
        try:
            status, value = pickle.loads(answer)
        except Exception as exc:
            self._finish(head, TaskFailed(f"cannot read the result: {type(exc).__name__}: {exc}"))
            return worker, now
        if status == "ok":
            self._finish(head, value)
            return worker, now
        if status == "memory":
            self.too_large += 1
            logger.warning("extraction worker %d passed its memory cap; replacing it", worker.pid)
            self._finish(head, TaskTooLarge(str(value)))
            worker.stop(grace=5.0)  # it exits by itself after saying so
            return self._replace(slot, inflight)
        self._finish(head, TaskFailed(str(value)))
        return worker, now

    def _replace(self, slot: int, inflight: deque[_Task]) -> tuple[_Worker, float]:
        """Start a new worker for ``slot`` and hand it the tasks still in flight, in order."""
        if self._closed:
            raise _Closing  # close() kills what it finds: a worker started now would be left
        worker = self._new_worker(slot)
        for task in inflight:
            if not self._send(worker, task):
                break
        return worker, time.monotonic()

    def _finish(self, task: _Task, outcome: Any) -> None:
        with self._lock:
            self._held -= 1
        _settle(task, outcome)


def _settle(task: _Task, outcome: Any) -> None:
    """Resolve the task's future on its own loop (futures are not thread-safe)."""
    future, loop = task.future, task.loop

    def settle() -> None:
        if future.done():  # cancelled while it ran
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(settle)


def _procs_running() -> int | None:
    """Runnable threads on the machine, from ``/proc/loadavg`` (None: not on Linux)."""
    try:
        with open("/proc/loadavg", "rb") as f:
            return int(f.read().split()[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        return None


def _runnable_threads(pid: int) -> int:
    """Threads of ``pid`` that are running or waiting for a core (state ``R``)."""
    count = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: the state follows the last ")"
        if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"R":
            count += 1
    return count


def _descendants(root: int) -> set[int]:
    """Process ids of every descendant of ``root`` (from ``/proc``; empty when unreadable)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            parent = int(stat[stat.rfind(b")") + 2 :].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _autogroup_peers(me: int, ours: set[int]) -> set[int] | None:
    """The other processes of ``me``'s scheduler autogroup (None: autogroups are off).

    With ``kernel.sched_autogroup_enabled`` the kernel shares the cores fairly
    among autogroups (one per session) before the threads within one: a
    process of another session does not take from our workers' share, and
    more workers would not win any of its share back.
    """
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled", "rb") as f:
            if f.read().strip() != b"1":
                return None
        with open(f"/proc/{me}/autogroup", "rb") as f:
            mine = f.read().split()[0]
        entries = os.listdir("/proc")
    except (OSError, IndexError):
        return None
    peers: set[int] = set()
    for entry in entries:
        if not entry.isdigit() or int(entry) == me or int(entry) in ours:
            continue
        try:
            with open(f"/proc/{entry}/autogroup", "rb") as f:
                group = f.read().split()[0]
        except (OSError, IndexError):
            continue
        if group == mine:
            peers.add(int(entry))
    return peers


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
