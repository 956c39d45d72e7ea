"""Training in a process of its own, apart from the web server.

Why: in the server's process a live run shares Python's GIL with Gradio, the previews and every other
request. A small model's step is mostly Python dispatching short tensor operations, each of which
gives the GIL up and waits to take it back, so any busy server thread slows training down: measured,
a run watched through the app trained at 0.56-0.75 of the bare loop's speed (docs/BENCHMARKS.md),
even with the drawing made cheap. A process of its own has its own GIL.

How: the RunManager keeps each run's Trainer in the server for everything but free-running (single
steps, step descriptions, saving, loading). When a run starts or resumes, its state (weights,
optimizers, counters, clusters, the data stream's position) is written to a folder with
``ganlab.checkpoints.run.save_run`` and a worker process continues it with ``load_run``; the worker streams each
step's numbers back, sends fresh weights when a preview asks for them, and writes its state back to
the folder when it is stopped or its time is up. Workers are kept and reused (starting Python and
torch takes seconds). A worker is ``python -m ganlab.live.worker`` talking over a loopback socket: unlike
multiprocessing's spawn, it does not import the server's main script (and Gradio) again. Messages
are JSON, weights are safetensors bytes: nothing is unpickled.

Threads and cores: a training alone uses what is fastest for it (``threads_alone``); while several train
at once, each uses one torch thread on a core of its own (``plan_threads``), told again whenever a
training starts or ends. Several many-thread trainings on a few cores would spin-wait for each other.
"""

from __future__ import annotations

import atexit
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import torch

EVENTS_EVERY_S = 0.05  # how often a worker sends its steps' numbers (and reads its messages)
START_TIMEOUT_S = 120.0  # a new worker must call back within this (it imports torch first on a slow machine)


# -- the messages: a JSON header, then safetensors bytes when the header says so -------------------------
def send(connection: Connection, header: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
    from safetensors.torch import save

    connection.send_bytes(json.dumps({**header, "tensors": tensors is not None}).encode())
    if tensors is not None:
        connection.send_bytes(save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def receive(connection: Connection) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    from safetensors.torch import load

    header = json.loads(connection.recv_bytes())
    tensors = load(connection.recv_bytes()) if header.pop("tensors") else None
    return header, tensors


def _players(trainer: Any) -> dict[str, Any]:
    return {"g": trainer.generator, "d": trainer.discriminator, "ema": trainer.ema_generator}


def players_tensors(trainer: Any, which: list[str]) -> dict[str, torch.Tensor]:
    """The named models' weights and buffers, keyed "g.", "d.", "ema." (what a preview needs)."""
    modules = _players(trainer)
    return {
        f"{name}.{key}": value
        for name in which
        if modules.get(name) is not None
        for key, value in modules[name].state_dict().items()
    }


def load_players(trainer: Any, tensors: dict[str, torch.Tensor]) -> None:
    """Put weights sent by ``players_tensors`` into ``trainer``'s models (call under its lock)."""
    for name, module in _players(trainer).items():
        state = {key[len(name) + 1 :]: value for key, value in tensors.items() if key.startswith(name + ".")}
        if state and module is not None:
            module.load_state_dict(state)


# -- the worker's side ------------------------------------------------------------------------------------
def worker_main(connection: Connection, threads: int) -> None:
    """A worker process: train the runs it is given, one at a time, until told to exit."""
    torch.set_num_threads(threads)
    datasets: dict[str, Any] = {}  # bundled data by name, loaded once per worker
    while True:
        try:
            header, _ = receive(connection)
        except (EOFError, OSError):
            return  # the server is gone
        if header.get("do") == "train":
            _train(connection, header, datasets)
        elif header.get("do") == "place":
            place(header["threads"], header.get("core"))
        elif header.get("do") == "exit":
            return
        # Anything else is a late message for a run that has already ended: nothing to do.


def place(threads: int, core: int | None) -> dict[str, Any]:
    """Train with ``threads`` torch threads, kept on ``core`` (None: on any); returns what this process now
    has, as the worker reports it to the server."""
    torch.set_num_threads(threads)
    pin_to_core(core)
    return placement()


def placement() -> dict[str, Any]:
    """This process's torch threads and the cores it may run on."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return {"threads": torch.get_num_threads(), "cores": cores}


def _train(connection: Connection, order: dict[str, Any], datasets: dict[str, Any]) -> None:
    from ganlab.checkpoints.run import DATA_FILE, load_own_data, load_run, save_run
    from ganlab.data import load_training_data

    folder = Path(order["folder"])
    try:
        if (folder / DATA_FILE).is_file():
            data = load_own_data(folder)
        else:
            name = order["dataset"]
            if name not in datasets:
                datasets[name] = load_training_data(name)
            data = datasets[name]
        trainer = load_run(folder, data)
    except Exception as error:  # noqa: BLE001 - said to the server, which tells the person
        send(connection, {"event": "failed", "error": f"{type(error).__name__}: {error}"})
        return
    send(connection, {"event": "started", **placement()})
    keep_state = True
    pending: list[dict[str, Any]] = []
    last_sent = time.monotonic()

    def handle_messages() -> None:
        nonlocal keep_state
        while connection.poll():
            message, _ = receive(connection)
            if message.get("do") == "place":  # the trainings running at once changed (WorkerPool)
                send(connection, {"event": "placed", **place(message["threads"], message.get("core"))})
                continue
            if message.get("run") != order["run"]:
                continue  # meant for an earlier run of this worker
            if message.get("do") == "stop":
                keep_state = keep_state and message.get("keep", True)
                trainer.stop()
            elif message.get("do") == "update":
                try:
                    trainer.update(**message["changes"])
                except ValueError:
                    pass  # the server checked the same change on its own copy before sending it
            elif message.get("do") == "players":
                send(
                    connection,
                    {"event": "players", "ask": message["ask"], "step": trainer.step_count},
                    players_tensors(trainer, message["which"]),
                )
            elif message.get("do") == "save":  # the person saves the run while it trains
                try:
                    save_run(trainer, Path(message["folder"]), with_own_data=False)  # the server adds it
                    send(connection, {"event": "saved", "ask": message["ask"]})
                except OSError as error:
                    send(connection, {"event": "saved", "ask": message["ask"], "error": str(error)})

    try:
        for event in trainer.run(max_seconds=order.get("max_seconds")):
            pending.append(event.as_dict())
            now = time.monotonic()
            if now - last_sent >= EVENTS_EVERY_S or event.status != "running":
                send(connection, {"event": "steps", "steps": pending})
                pending, last_sent = [], now
                handle_messages()
        if pending:
            send(connection, {"event": "steps", "steps": pending})
        if keep_state:
            save_run(trainer, folder, with_own_data=False)  # the own data handed over is still there
        send(connection, {"event": "done", "status": trainer.status, "message": trainer.message, "saved": keep_state})
    except (EOFError, OSError, BrokenPipeError):
        raise SystemExit(0) from None  # the server is gone
    except Exception as error:  # noqa: BLE001
        send(connection, {"event": "failed", "error": f"{type(error).__name__}: {error}"})


def pin_to_core(core: int | None) -> None:
    """Keep this process on one CPU core (None: on any). A one-thread training that the scheduler
    moves between cores loses its warm caches at every move: pinned, the app's 2D run trained
    ~25% faster on the 2-core test VM (docs/BENCHMARKS.md). Linux only; elsewhere a no-op."""
    if not hasattr(os, "sched_setaffinity"):
        return
    try:
        os.sched_setaffinity(0, {core} if core is not None else _ALL_CORES)
    except OSError:
        pass  # a core taken away from this process since: stay where the scheduler puts us


_ALL_CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def free_core(taken: set[int], threads: int) -> int | None:
    """A core for a new one-thread training, from the last one down, none of them ``taken``; None when
    pinning would not help (several threads, a single core) or every core is taken."""
    if threads != 1 or len(_ALL_CORES) < 2:
        return None
    return next((core for core in reversed(_ALL_CORES) if core not in taken), None)


def threads_alone(kind: str) -> int:
    """The torch threads that train a run of this kind ("2d" or "images") fastest when it trains alone: the
    machine's for an image model (two threads make the conditional DCGAN 1.3x faster than one), one for a 2D
    MLP (too small to split: 304 steps/s with one thread, 180 with two; docs/BENCHMARKS.md)."""
    return 1 if kind == "2d" else torch.get_num_threads()


def plan_threads(alone: list[int], current_cores: list[int | None] | None = None) -> list[tuple[int, int | None]]:
    """(torch threads, core or None) for each of the trainings running at once, in the order they started.

    ``alone`` is what each would use alone (``threads_alone``). One training alone keeps it. Several at once
    use one thread each: OpenMP threads spin-wait for each other, so two 2-thread trainings on 2 cores ran
    at 9-10 steps/s each, against ~290 with one thread each (docs/BENCHMARKS.md, Classroom). A one-thread
    training is kept on a core of its own (``free_core``); it keeps the core it has (``current_cores``)
    where it can, so that a training that starts or ends does not move the others. More trainings than
    cores: the extra ones are not pinned, and the scheduler shares the cores."""
    threads = alone[:1] if len(alone) == 1 else [1] * len(alone)
    current = list(current_cores or []) + [None] * (len(alone) - len(current_cores or []))
    cores: list[int | None] = [None] * len(alone)
    taken: set[int] = set()
    for i, core in enumerate(current):  # first those that stay where they are ...
        if threads[i] == 1 and len(_ALL_CORES) >= 2 and core in _ALL_CORES and core not in taken:
            cores[i] = core
            taken.add(core)
    for i, core in enumerate(cores):  # ... then the others, on the cores left
        if core is None:
            cores[i] = free_core(taken, threads[i])
            if cores[i] is not None:
                taken.add(cores[i])
    return list(zip(threads, cores, strict=True))


# -- the server's side -----------------------------------------------------------------------------------
class Worker:
    """One training process and the server's end of its socket."""

    def __init__(self, threads: int) -> None:
        self.threads = threads  # torch threads it trains with (see plan_threads)
        self.core: int | None = None  # the CPU core its current training is kept on (see pin_to_core)
        self.alone = threads  # the threads its current training would use alone (threads_alone)
        self.reported: dict[str, Any] | None = None  # its threads and cores, as it last said (the relay reads them)
        token = secrets.token_hex(16)  # only the process started here may call back
        root = str(Path(__file__).resolve().parents[1])  # ganlab importable even when not installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        with socket.create_server(("127.0.0.1", 0)) as server:
            server.settimeout(START_TIMEOUT_S)
            self.process = subprocess.Popen([sys.executable, "-m", "ganlab.live.worker"], stdin=subprocess.PIPE, env=env)
            try:
                self.process.stdin.write(
                    json.dumps({"port": server.getsockname()[1], "token": token, "threads": threads}).encode() + b"\n"
                )
                self.process.stdin.close()
                sock, _ = server.accept()
            except (OSError, TimeoutError) as error:
                self.process.kill()
                raise OSError(f"the training process did not start: {error}") from None
        sock.settimeout(None)
        self.connection = Connection(sock.detach())
        if not (self.connection.poll(START_TIMEOUT_S) and hmac.compare_digest(self.connection.recv_bytes(64), token.encode())):
            self.close()
            raise OSError("the training process did not identify itself")
        self._send_lock = threading.Lock()  # the relay thread and the readers both send

    def send(self, header: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
        with self._send_lock:
            send(self.connection, header, tensors)

    def place(self, threads: int, core: int | None) -> None:
        """Tell the process how many threads to train with and where (it applies it between two steps)."""
        self.threads, self.core = threads, core
        try:
            self.send({"do": "place", "threads": threads, "core": core})
        except (OSError, ValueError):
            pass  # the process is gone: its relay finds out and tells the person

    def receive(self, timeout: float | None = None) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
        """The next message; raises EOFError when the process is gone (or ``timeout`` passes)."""
        while not self.connection.poll(1.0 if timeout is None else timeout):
            if timeout is not None or not self.alive:
                raise EOFError("the training process ended unexpectedly")
        return receive(self.connection)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        try:
            send(self.connection, {"do": "exit"})
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=2)
        self.connection.close()


class WorkerPool:
    """Idle workers kept for the next run (a fresh one takes a few seconds to import torch), and the busy
    ones' threads and cores, planned again whenever a training starts or ends (``plan_threads``)."""

    def __init__(self) -> None:
        self._idle: list[Worker] = []
        self._busy: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self, threads: int) -> Worker:
        """A worker for one training that would use ``threads`` alone (``threads_alone``), already told how
        many threads to use and where, given the trainings running beside it."""
        worker = None
        with self._lock:
            while self._idle and worker is None:
                candidate = self._idle.pop()
                if candidate.alive:
                    worker = candidate
                else:
                    candidate.close()
        if worker is None:
            worker = Worker(threads)
        with self._lock:
            worker.alone, worker.core = threads, None
            self._busy.append(worker)
            self._replan(new=worker)
        return worker

    def release(self, worker: Worker) -> None:
        with self._lock:
            if worker in self._busy:
                self._busy.remove(worker)
                self._replan()
            worker.core = None
            if worker.alive and not self._closed and len(self._idle) < 4:
                self._idle.append(worker)
                return
        worker.close()

    def _replan(self, new: Worker | None = None) -> None:
        """Tell each busy worker whose threads or core change (and a new one in any case); under the lock,
        so that two plans never cross on the wire."""
        plan = plan_threads([worker.alone for worker in self._busy], [worker.core for worker in self._busy])
        for worker, (threads, core) in zip(self._busy, plan, strict=True):
            if worker is new or (threads, core) != (worker.threads, worker.core):
                worker.place(threads, core)

    def prewarm(self, threads: int) -> None:
        """Start a worker in the background, so that the first Start does not wait for it."""

        def start() -> None:
            with self._lock:
                if self._idle or self._closed:
                    return
            self.release(Worker(threads))

        threading.Thread(target=start, daemon=True, name="ganlab-worker-prewarm").start()

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


WORKERS = WorkerPool()
atexit.register(WORKERS.shutdown)


def main() -> None:
    """``python -m ganlab.live.worker``, started by :class:`Worker`: call the server back, then work."""
    settings = json.loads(sys.stdin.readline())
    connection = Connection(socket.create_connection(("127.0.0.1", settings["port"])).detach())
    connection.send_bytes(settings["token"].encode())
    worker_main(connection, settings["threads"])


if __name__ == "__main__":
    main()
