"""Worker processes for the embedded model (SEEDSCOPE_LOCAL_WORKERS > 1).

Why it is built this way:
- Processes, not threads: a llama.cpp context is not thread-safe and generation holds a core;
  N processes, each with its own load, generate on N cores at once.
- Spawned, never forked: a forked child would inherit the locks of the parent's threads
  (Streamlit, torch, llama.cpp) in whatever state they were. Each worker is a fresh
  `python -c` that imports only what it needs. Not multiprocessing's "spawn" method: that
  re-runs the parent's `__main__` file in every child, and Streamlit installs the page script
  as `__main__`, so every worker would run the whole app.
- Each worker loads with `load_llama` and calls `generate_completion`, exactly as the in-process
  path does, and every call starts from a reset context: which worker runs a request does not
  change its text. Each worker stamps its completions with the fingerprint of its own load.
- One socket pair per worker (multiprocessing.connection over it), no shared queue: a worker
  killed while writing could corrupt a shared queue for everyone. Only the worker holds the
  other end, so its death ends the caller's wait at once: that one call becomes a failed run
  saying how the process ended, and the slot starts a fresh process for its next call. Other
  calls are unaffected.
- Lazy and reused: a slot's process starts with its first call and then serves every call.
  `close()` stops them (also at interpreter exit); a later call starts them again.
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from seedscope.providers.base import Completion, CompletionRequest, failed_completion, utc_now
from seedscope.providers.local import (
    PROVIDER_NAME,
    LocalModelError,
    generate_completion,
    load_fingerprint,
    load_llama,
)

STOP_TIMEOUT_S = 5.0  # a worker asked to stop gets this long to exit before it is killed
_READY = "ready"
_LOAD_FAILED = "load failed"
_WORKER_COMMAND = (
    "import sys; from seedscope.providers.local_workers import serve; serve(int(sys.argv[1]))"
)


@dataclass(frozen=True)
class WorkerLoad:
    """What every worker loads: the same file with the same settings."""

    model_path: str
    n_ctx: int
    n_batch: int
    n_threads: int
    model: str  # the model name completions carry


class LocalWorkerError(RuntimeError):
    """A worker process could not run a call; the message says what happened to it."""


def serve(fd: int) -> None:
    """A worker process: receive the WorkerLoad, load the model once, then answer one
    (request, seed) per message. None, or the parent's end closing, ends the process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn = Connection(fd)
    load: WorkerLoad = conn.recv()
    path = Path(load.model_path)
    try:
        llm = load_llama(path, load.n_ctx, load.n_batch, load.n_threads)
        fingerprint = load_fingerprint(llm, path, load.n_ctx, load.n_batch, load.n_threads)
    except (LocalModelError, OSError) as exc:
        conn.send((_LOAD_FAILED, str(exc)))
        return
    conn.send((_READY, fingerprint))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        request, seed = message
        conn.send(
            generate_completion(llm, request, seed, model=load.model, fingerprint=fingerprint)
        )


class _Worker:
    """One slot of the pool: at most one process, used by one caller at a time."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self.in_call = False
        self.stopped_by_close = False

    def ensure_started(self, load: WorkerLoad) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.discard()  # a process that died between calls had no call to lose
        self.stopped_by_close = False
        ours, theirs = socket.socketpair()
        with ours, theirs:
            # pass_fds: the child inherits its end and nothing else (no sibling's end), so the
            # child's death closes the pair and ends our wait.
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_COMMAND, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
            self.conn = Connection(ours.detach())
        try:
            self.conn.send(load)
        except OSError:
            raise LocalWorkerError(self._death("before it started")) from None
        status, detail = self._receive("while loading the model")
        if status == _LOAD_FAILED:
            raise LocalWorkerError(
                f"the embedded model's worker could not load the model: {detail}"
            )

    def call(self, request: CompletionRequest, seed: int) -> Completion:
        assert self.conn is not None
        try:
            self.conn.send((request, seed))
        except OSError:  # BrokenPipeError: it died just now
            raise LocalWorkerError(self._death("before the call reached it")) from None
        self.in_call = True
        try:
            return self._receive("during the call")
        finally:
            self.in_call = False

    def _receive(self, when: str) -> Any:  # the ready message, or a call's Completion
        assert self.conn is not None
        try:
            return self.conn.recv()  # ends with EOF when the process ends
        except (EOFError, OSError):
            raise LocalWorkerError(self._death(when)) from None

    def _death(self, when: str) -> str:
        assert self.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2.0)
        if self.stopped_by_close:
            return f"the embedded model's workers were shut down {when}; run it again"
        code = self.process.returncode
        if code is None:
            how = "closed its connection"
        elif code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        return (
            f"the embedded model's worker process (pid {self.process.pid}) {how} {when}; "
            "a fresh worker starts for the next call"
        )

    def kill(self) -> None:
        process = self.process  # read once: the caller's thread may be discarding it
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()

    def ask_to_stop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):  # already gone
                self.conn.send(None)

    def discard(self, timeout: float = 0.0) -> None:
        """Forget the process, killing it if it has not exited within `timeout` seconds."""
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None


class LocalWorkerPool:
    """`size` worker processes for one model load; one call per worker at a time."""

    def __init__(self, load: WorkerLoad, size: int) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {size}")
        self.load = load
        self.size = size
        self._workers = [_Worker(index) for index in range(size)]
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        for worker in self._workers:
            self._idle.put(worker)
        self._close_lock = threading.Lock()
        # The callers' own threads, so `size` calls can wait on their workers at once whatever
        # else uses asyncio's default executor.
        self.callers = ThreadPoolExecutor(max_workers=size, thread_name_prefix="seedscope-local")
        atexit.register(self.close)

    def generate(self, request: CompletionRequest, seed: int) -> Completion:
        """One call on the next free worker (waiting for one); never raises for a failed call."""
        worker = self._idle.get()
        started_at = utc_now()
        start = time.perf_counter()
        try:
            worker.ensure_started(self.load)
            return worker.call(request, seed)
        except LocalWorkerError as exc:
            worker.discard()
            return failed_completion(
                request,
                provider=PROVIDER_NAME,
                model=self.load.model,
                started_at=started_at,
                latency_s=time.perf_counter() - start,
                error_type=type(exc).__name__,
                error_message=str(exc),
                effective_seed=seed,
            )
        finally:
            self._idle.put(worker)

    def pids(self) -> list[int]:
        """Process ids of the running workers."""
        return [w.process.pid for w in self._workers if w.process and w.process.pid]

    def calling_pids(self) -> list[int]:
        """Process ids of the workers with a call in flight."""
        return [w.process.pid for w in self._workers if w.in_call and w.process and w.process.pid]

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are killed (their calls
        become failed runs). A later call starts fresh workers."""
        with self._close_lock:
            idle: list[_Worker] = []
            while True:
                try:
                    idle.append(self._idle.get_nowait())
                except queue.Empty:
                    break
            for worker in self._workers:
                if worker not in idle:
                    worker.stopped_by_close = True
                    worker.kill()
            for worker in idle:
                worker.ask_to_stop()
            for worker in idle:
                worker.discard(timeout=STOP_TIMEOUT_S)
                self._idle.put(worker)
