"""A class on one server: trainings, Explore sliders, a quiz and a hostile upload, all at once.

Starts the full app on loopback in a subprocess (a fresh data home in a temporary folder), then
simulates a class through the app's HTTP API, speaking Gradio's own protocol (the requests a
browser sends: queued events through ``/gradio_api/queue/join`` and the session's event stream,
Explore's slider handler, which is outside the queue, as one ``POST /gradio_api/run/explore_render``
that brings the new picture inline, or, from an app that answers with a file, then a ``GET`` of it):

* **training students** (``--trainings``, default 6) press Start on the default 2D run (ring8) and
  follow it live (``/train_watch``, downloading every new picture); the server trains at most
  ``--slots`` at once (``GANLAB_MAX_TRAININGS``, default the server's own: the cores, up to 4) and the
  others wait, told their place;
* **Explore students** (``--explorers``, default 20) each open a generator and move a latent slider
  at ``--moves-per-s`` (default 2), one step of the slider per move, waiting for each picture;
* **quiz participants** (``--participants``, default 60) join one quiz and answer with ``--think-s``
  (default 2 s) between seeing a trial and answering, through the lean participant route of
  ``/quiz/<CODE>`` (its JSON API) where the app serves it, else Gradio's events (``--quiz-route``);
* **one hostile student** uploads a zip holding a 40-megapixel PNG, a zip bomb (210 MB of zeros
  in 0.2 MB) and a zip that lies about its sizes, each followed by a Start on it, during the window.

First each part alone (the idle server, one slider, a few quiz participants, the uploads, one
training, then ``--slots`` trainings at once), then the whole class together for ``--seconds``. It
prints a markdown table and a verdict per goal (issue #17): Explore p95 together <= 3x alone; quiz
answer p95 <= 300 ms; each training keeps >= 0.8 of its steps/s alone (per slot: the slots filled,
nothing else running; one training alone is shown too); the others queued with their position;
hostile uploads refused within 2 s; no errors; every acknowledged quiz answer stored exactly once
(counted in the owner's CSV export); the server's memory (RSS, with its worker processes); the CPU
of the server, its workers, this load generator and everything else. The exit status is 1 when a
goal is missed.

The load generator (one asyncio loop with httpx) runs on the same machine as the server: its CPU
share and its event-loop lag are reported, so that its own cost can be told apart. On a machine
shared with other jobs, ``--priority N`` (root) raises this process, the app and its workers N nice
levels and their session's autogroup above the rest (as ``bench_explore_latency.py --priority``).

    python bench/bench_classroom.py --priority 10      # alone phases, then 60 s of the class
    python bench/bench_classroom.py --quick            # a ~20 s class window: does the machinery work?
    python bench/bench_classroom.py --without training # elimination: the class without trainings
    python bench/bench_classroom.py --slots 2 --trainings 4 --server-env OMP_NUM_THREADS=1
                                                       # experiment: 2 slots, one torch thread per worker
    python bench/bench_classroom.py --py-spy prof.txt  # where the server's GIL time goes, in the window
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import random
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ganlab.live import default_max_trainings  # noqa: E402
from ganlab.ui.quiz import PARTICIPANT_VIEW  # noqa: E402  (the order of a participant view's outputs)

COMPONENTS = ("training", "explore", "quiz", "hostile")
GOAL_EXPLORE_RATIO = 3.0
GOAL_QUIZ_P95_MS = 300.0
GOAL_TRAINING_RATIO = 0.8
GOAL_REFUSAL_S = 2.0  # "refused quickly"
CALL_TIMEOUT_S = 300.0  # a queued event with no reply by then counts as an error
CLK_TCK = os.sysconf("SC_CLK_TCK")
FILE_URL = re.compile(r"(?:https?://[^\"\s]+)?/gradio_api/file=[^\"\s]+")


# ---------------------------------------------------------------------------------------------
# The app in a subprocess, and what the machine is doing
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(folder: Path, port: int, slots: int, extra_env: dict[str, str]) -> subprocess.Popen:
    env = {
        **os.environ,
        "GANLAB_HOME": str(folder / "home"),
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
        "TMPDIR": str(folder),
        "GANLAB_MAX_TRAININGS": str(slots),
        "GANLAB_MAX_RUNS_PER_CLIENT": "1000",  # every simulated student comes from 127.0.0.1
        "GANLAB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "NO_PROXY": "localhost,127.0.0.1",
    }
    for old in ("GANLAB_CHECKPOINTS", "GANLAB_QUIZ_DB", "GANLAB_QUIZ_POOLS"):
        env.pop(old, None)  # everything the app writes goes to the temporary data home
    env.update(extra_env)
    command = [sys.executable, "-c", f"from ganlab.ui.app import launch; launch(server_port={port}, quiet=True)"]
    log = (folder / "server.log").open("ab")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the app exited; see {folder / 'server.log'}:\n{(folder / 'server.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("the app did not start within 3 minutes")


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, ValueError, IndexError):
        return None


def proc_status(pid: int, key: str) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def rss_mb(pid: int) -> float:
    value = proc_status(pid, "VmRSS")
    return int(value.split()[0]) / 1024 if value else 0.0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat[0] == pid:
                found.append(int(entry.name))
    return sorted(found)


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


class Monitor:
    """Samples once a second: the server's and its workers' RSS and CPU, this process's CPU, the machine's."""

    def __init__(self, server_pid: int, renice_workers: int = 0) -> None:
        self.server_pid = server_pid
        self.renice_workers = renice_workers
        self.samples: list[dict] = []
        self.lags: list[tuple[float, float]] = []  # (when, event-loop lag of this client process in seconds)

    def sample(self) -> dict:
        workers = children_of(self.server_pid)
        for pid in workers if self.renice_workers else []:  # an experiment: trainings below the web server
            try:
                if os.getpriority(os.PRIO_PROCESS, pid) < os.nice(0) + self.renice_workers:
                    os.setpriority(os.PRIO_PROCESS, pid, os.nice(0) + self.renice_workers)
            except OSError:
                pass
        stat = proc_stat(self.server_pid)
        worker_cpu = {pid: (proc_stat(pid) or (0, 0.0))[1] for pid in workers}
        busy, total = machine_busy()
        return {
            "t": time.perf_counter(),
            "server_rss": rss_mb(self.server_pid),
            "workers_rss": {pid: rss_mb(pid) for pid in workers},
            "server_cpu": stat[1] if stat else 0.0,
            "workers_cpu": worker_cpu,
            "client_cpu": time.process_time(),
            "machine_busy": busy,
            "machine_total": total,
            "load": os.getloadavg()[0],
            "nice": os.getpriority(os.PRIO_PROCESS, 0),
        }

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.samples.append(self.sample())
            await asyncio.sleep(1.0)

    async def loop_lag(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.05)
            self.lags.append((before, max(0.0, time.perf_counter() - before - 0.05)))


def cpu_between(a: dict, b: dict) -> dict[str, float]:
    """Cores used between two samples: server, workers (summed), this client, other processes."""
    wall = b["t"] - a["t"]
    workers = sum(cpu - a["workers_cpu"].get(pid, 0.0) for pid, cpu in b["workers_cpu"].items())
    server = b["server_cpu"] - a["server_cpu"]
    client = b["client_cpu"] - a["client_cpu"]
    machine = b["machine_busy"] - a["machine_busy"]
    return {
        "server": server / wall,
        "workers": workers / wall,
        "client": client / wall,
        "other": max(0.0, machine - server - workers - client) / wall,
        "machine": machine / wall,
    }


# ---------------------------------------------------------------------------------------------
# Gradio's protocol, as a browser speaks it
# ---------------------------------------------------------------------------------------------
class CallFailed(RuntimeError):
    pass


class SessionStream:
    """A session's one event stream (GET /gradio_api/queue/data), as a browser keeps it: the server sends
    every message of the session there, so two events of one session in flight (a live view and a Stop)
    must share it. Open while the session has events pending; each message goes to its event's queue."""

    def __init__(self, app: App, session: str) -> None:
        self.app = app
        self.session = session
        self.queues: dict[str, asyncio.Queue] = {}
        self.early: dict[str, list[dict]] = defaultdict(list)  # messages that beat their join's reply
        self.reader: asyncio.Task | None = None

    def expect(self, event_id: str) -> asyncio.Queue:
        queue = self.queues[event_id] = asyncio.Queue()
        for message in self.early.pop(event_id, []):
            queue.put_nowait(message)
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read())
        return queue

    async def _read(self) -> None:
        try:
            while self.queues:
                async with self.app.http.stream(
                    "GET", f"{self.app.url}/gradio_api/queue/data", params={"session_hash": self.session}, timeout=None
                ) as stream:
                    async for line in stream.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        message = json.loads(line[5:])
                        kind = message.get("msg")
                        if kind == "close_stream":
                            break
                        if kind == "unexpected_error":
                            for queue in self.queues.values():
                                queue.put_nowait(message)
                            self.queues.clear()
                            return
                        event_id = message.get("event_id")
                        if event_id is None:
                            continue  # heartbeats
                        message["raw"] = line
                        queue = self.queues.get(event_id)
                        if queue is None:
                            self.early[event_id].append(message)
                            continue
                        queue.put_nowait(message)
                        if kind == "process_completed":
                            del self.queues[event_id]
        except (httpx.HTTPError, json.JSONDecodeError) as error:
            for queue in self.queues.values():
                queue.put_nowait({"msg": "stream_lost", "message": f"event stream lost: {error!r}"})
            self.queues.clear()


class App:
    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url
        self.http = http
        config = httpx.get(f"{url}/config", timeout=30).json()
        self.deps = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
        self.components = {c["id"]: c for c in config["components"]}
        self.streams: dict[str, SessionStream] = {}

    def defaults(self, api_name: str, **by_elem_id) -> list:
        """What a freshly opened page sends for an event's inputs (gr.State travels as null), with the values
        of the inputs named (by elem_id) in ``by_elem_id`` changed as a person would."""
        values = []
        for i in self.deps[api_name]["inputs"]:
            props = self.components[i].get("props", {})
            value = None if self.components[i]["type"] == "state" else props.get("value")
            values.append(by_elem_id.get(props.get("elem_id"), value))
        return values

    def output_types(self, api_name: str) -> list[str]:
        return [self.components[i]["type"] for i in self.deps[api_name]["outputs"]]

    def _body(self, session: str, api_name: str, data: list) -> dict:
        """What the browser posts for an event, queued or not."""
        return {
            "data": data,
            "event_data": None,
            "fn_index": self.deps[api_name]["id"],
            "trigger_id": None,
            "session_hash": session,
        }

    async def join(self, session: str, api_name: str, data: list) -> asyncio.Queue:
        """Queue an event for ``session``; its messages arrive on the returned asyncio.Queue."""
        try:
            response = await self.http.post(f"{self.url}/gradio_api/queue/join", json=self._body(session, api_name, data))
        except httpx.HTTPError as error:
            raise CallFailed(f"{api_name}: join request failed: {error!r}") from None
        if response.status_code != 200:
            raise CallFailed(f"{api_name}: join HTTP {response.status_code}: {response.text[:200]}")
        return self._stream_of(session).expect(response.json()["event_id"])

    def _stream_of(self, session: str) -> SessionStream:
        stream = self.streams.get(session)
        if stream is None:
            stream = self.streams[session] = SessionStream(self, session)
        return stream

    async def call(self, session: str, api_name: str, data: list) -> list:
        """A queued event: join, then wait for its completion on the session's event stream."""
        messages = await self.join(session, api_name, data)
        while True:
            try:
                message = await asyncio.wait_for(messages.get(), timeout=CALL_TIMEOUT_S)
            except TimeoutError:
                raise CallFailed(f"{api_name}: no reply in {CALL_TIMEOUT_S:g} s") from None
            if message.get("msg") == "process_completed":
                if not message.get("success"):
                    output = message.get("output") or {}
                    raise CallFailed(f"{api_name}: {output.get('error') or output}")
                return message["output"]["data"]
            if message.get("msg") in ("unexpected_error", "stream_lost"):
                raise CallFailed(f"{api_name}: {message.get('message')}")

    async def stream(self, session: str, api_name: str, data: list, on_update) -> None:
        """A streaming (generator) event: each 'process_generating' message goes to on_update (raw JSON)."""
        messages = await self.join(session, api_name, data)
        while True:
            message = await messages.get()
            if message.get("msg") == "process_generating":
                await on_update(message["raw"])
            elif message.get("msg") == "process_completed":
                return
            elif message.get("msg") in ("unexpected_error", "stream_lost"):
                raise CallFailed(f"{api_name}: {message.get('message')}")

    async def direct(self, session: str, api_name: str, data: list) -> list:
        """An event outside the queue (queue=False, gr.api): one POST."""
        try:
            response = await self.http.post(f"{self.url}/gradio_api/run/{api_name}", json=self._body(session, api_name, data))
        except httpx.HTTPError as error:
            raise CallFailed(f"{api_name}: request failed: {error!r}") from None
        if response.status_code != 200:
            raise CallFailed(f"{api_name}: HTTP {response.status_code}: {response.text[:200]}")
        return response.json()["data"]

    async def fetch(self, url: str) -> int:
        if url.startswith("/"):
            url = self.url + url
        try:
            response = await self.http.get(url)
        except httpx.HTTPError as error:
            raise CallFailed(f"GET {url[-40:]}: {error!r}") from None
        if response.status_code != 200:
            raise CallFailed(f"GET {url[-60:]}: HTTP {response.status_code}")
        return len(response.content)

    async def upload(self, path: Path) -> str:
        with open(path, "rb") as file:
            response = await self.http.post(
                f"{self.url}/gradio_api/upload", files=[("files", (path.name, file, "application/zip"))]
            )
        if response.status_code != 200:
            raise CallFailed(f"upload HTTP {response.status_code}: {response.text[:200]}")
        return response.json()[0]


# ---------------------------------------------------------------------------------------------
# The students
# ---------------------------------------------------------------------------------------------
@dataclass
class Record:
    """What one part of the class saw: (time sent, seconds) per request, and the errors."""

    latencies: list[tuple[float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def ms(self, start: float = -1e18, end: float = 1e18) -> np.ndarray:
        return np.array([1000 * s for t, s in self.latencies if start <= t <= end])


async def until(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` comes first; True if stopped."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
        return True
    except TimeoutError:
        return False


class Explorer:
    """One student on the Explore tab, dragging one latent slider a step at a time."""

    def __init__(self, app: App, checkpoint: str, slider: int) -> None:
        self.app = app
        self.session = secrets.token_hex(8)
        self.checkpoint = checkpoint
        self.data = app.defaults("explore_render")
        types = [app.components[i]["type"] for i in app.deps["explore_render"]["inputs"]]
        self.sliders = [i for i, kind in enumerate(types) if kind == "slider"][1:]  # the first is truncation
        self.slider = self.sliders[slider % len(self.sliders)]
        self.radio = types.index("radio") if "radio" in types else None
        self.direction = 1 if slider % 2 == 0 else -1
        props = app.components[app.deps["explore_render"]["inputs"][self.slider]].get("props", {})
        self.low, self.high = props.get("minimum", -4), props.get("maximum", 4)
        self.posts = Record()

    async def open(self) -> None:
        outputs = await self.app.call(self.session, "explore_load", [self.checkpoint, 0])
        types = self.app.output_types("explore_load")
        if self.radio is not None and "radio" in types:
            update = outputs[types.index("radio")]
            self.data[self.radio] = update.get("value") if isinstance(update, dict) else update
        for kind, value, i in zip(types, outputs, self.app.deps["explore_load"]["outputs"], strict=True):
            if kind == "slider" and i in self.app.deps["explore_render"]["inputs"]:
                position = self.app.deps["explore_render"]["inputs"].index(i)
                if isinstance(value, dict) and "value" in value:
                    self.data[position] = value["value"]
                if position == self.slider and isinstance(value, dict) and "minimum" in value:
                    self.low, self.high = value["minimum"], value["maximum"]

    async def move(self, record: Record) -> None:
        value = round(float(self.data[self.slider] or 0) + 0.1 * self.direction, 1)
        if not self.low + 0.5 <= value <= self.high - 0.5:
            self.direction = -self.direction
            value = round(float(self.data[self.slider] or 0) + 0.1 * self.direction, 1)
        self.data[self.slider] = value
        sent = time.perf_counter()
        try:
            outputs = await self.app.direct(self.session, "explore_render", self.data)
            posted = time.perf_counter()
            picture = outputs[0]
            url = picture.get("url") if isinstance(picture, dict) else None
            if not url:
                raise CallFailed(f"explore_render returned no picture: {str(picture)[:100]}")
            if not url.startswith("data:"):  # inside the response since issue 17; before, a file in Gradio's cache
                await self.app.fetch(url)
            record.latencies.append((sent, time.perf_counter() - sent))
            self.posts.latencies.append((sent, posted - sent))
        except (CallFailed, httpx.HTTPError) as error:
            record.errors.append(f"explore: {type(error).__name__}: {error}")

    async def drag(self, record: Record, moves_per_s: float, stop: asyncio.Event) -> None:
        period = 1.0 / moves_per_s
        if await until(stop, random.uniform(0, period)):
            return
        while not stop.is_set():
            began = time.perf_counter()
            await self.move(record)
            if await until(stop, period - (time.perf_counter() - began)):
                return


class Participant:
    """One quiz participant: join, then answer each trial after thinking."""

    def __init__(self, app: App, code: str, nickname: str) -> None:
        self.view_names = PARTICIPANT_VIEW
        self.app = app
        self.code = code
        self.nickname = nickname
        self.session = secrets.token_hex(8)
        self.view: dict = {}
        self.sent: list[tuple[str, int, str]] = []
        self.acknowledged: list[tuple[str, int, str]] = []

    async def join(self, record: Record) -> bool:
        try:
            data = await self.app.call(
                self.session, "quiz_join", [self.code, self.nickname, "", {"code": "", "nickname": "", "token": ""}]
            )
            self.view = dict(zip(self.view_names, data, strict=True))
            return True
        except (CallFailed, httpx.HTTPError) as error:
            record.errors.append(f"quiz join {self.nickname}: {type(error).__name__}: {error}")
            return False

    async def answer_all(self, record: Record, think_s: float, stop: asyncio.Event) -> None:
        if await until(stop, random.uniform(0, think_s)):
            return
        while not stop.is_set() and self.view.get("trial_number") is not None and self.view.get("trial_id"):
            if await until(stop, think_s):
                return
            label = random.choice(["Real", "Fake"])
            number = int(self.view["trial_number"])
            self.sent.append((self.nickname, number, label.lower()))
            sent = time.perf_counter()
            try:
                data = await self.app.call(
                    self.session, "quiz_answer", [label, number, self.view["trial_id"], None, None, self.view["saved"]]
                )
            except (CallFailed, httpx.HTTPError) as error:
                record.errors.append(f"quiz answer {self.nickname} #{number}: {type(error).__name__}: {error}")
                return
            record.latencies.append((sent, time.perf_counter() - sent))
            self.acknowledged.append((self.nickname, number, label.lower()))
            self.view = dict(zip(self.view_names, data, strict=True))


class LeanParticipant:
    """One quiz participant on the lean route the page at ``/quiz/<CODE>`` uses (plain JSON, no Gradio event):
    ``POST /quiz/api/join``, then one ``POST /quiz/api/answer`` per trial, which stores the answer and brings
    the next trial back. The same interface as ``Participant``."""

    def __init__(self, app: App, code: str, nickname: str) -> None:
        self.app = app
        self.code = code
        self.nickname = nickname
        self.token = ""
        self.trial: dict | None = None
        self.sent: list[tuple[str, int, str]] = []
        self.acknowledged: list[tuple[str, int, str]] = []

    async def _post(self, path: str, body: dict) -> dict:
        response = await self.app.http.post(f"{self.app.url}/quiz/api/{path}", json=body)
        if response.status_code != 200:
            raise CallFailed(f"/quiz/api/{path}: HTTP {response.status_code}: {response.text[:200]}")
        return response.json()

    async def join(self, record: Record) -> bool:
        try:
            data = await self._post("join", {"code": self.code, "nickname": self.nickname})
        except (CallFailed, httpx.HTTPError) as error:
            record.errors.append(f"quiz join {self.nickname}: {type(error).__name__}: {error}")
            return False
        self.token, self.trial = data["token"], data["trial"]
        return True

    async def answer_all(self, record: Record, think_s: float, stop: asyncio.Event) -> None:
        if await until(stop, random.uniform(0, think_s)):
            return
        while not stop.is_set() and self.trial is not None:
            if await until(stop, think_s):
                return
            answer, number = random.choice(["real", "fake"]), int(self.trial["number"])
            self.sent.append((self.nickname, number, answer))
            body = {"token": self.token, "trial_id": self.trial["trial_id"], "number": number, "answer": answer}
            sent = time.perf_counter()
            try:
                data = await self._post("answer", body)
            except (CallFailed, httpx.HTTPError) as error:
                record.errors.append(f"quiz answer {self.nickname} #{number}: {type(error).__name__}: {error}")
                return
            record.latencies.append((sent, time.perf_counter() - sent))
            self.acknowledged.append((self.nickname, number, answer))
            self.trial = data["trial"]


async def quiz_route(app: App, choice: str) -> type:
    """The participants' class: the lean route where the app serves it (``--quiz-route auto``), else Gradio's events."""
    if choice == "auto":
        try:
            response = await app.http.post(f"{app.url}/quiz/api/join", json={})
            choice = "lean" if response.status_code in (400, 411, 413, 429) else "gradio"
        except httpx.HTTPError:
            choice = "gradio"
    return LeanParticipant if choice == "lean" else Participant


class Trainee:
    """One student on the Train tab: Start, then the live view (every new picture downloaded)."""

    def __init__(self, app: App, settings: list) -> None:
        self.app = app
        self.session = secrets.token_hex(8)
        self.settings = settings
        self.pictures = 0
        self.updates = 0
        self.seen: set[str] = set()
        self.watch: asyncio.Task | None = None
        self.statuses: list[tuple[float, dict]] = []

    async def start(self, record: Record) -> None:
        sent = time.perf_counter()
        try:
            await self.app.call(self.session, "train_start", self.settings)
            record.latencies.append((sent, time.perf_counter() - sent))
        except (CallFailed, httpx.HTTPError) as error:
            record.errors.append(f"train_start: {type(error).__name__}: {error}")
            return
        self.watch = asyncio.create_task(self._watch(record))

    async def _watch(self, record: Record) -> None:
        async def on_update(line: str) -> None:
            self.updates += 1
            for url in set(FILE_URL.findall(line)) - self.seen:
                self.seen.add(url)
                try:
                    await self.app.fetch(url)
                    self.pictures += 1
                except (CallFailed, httpx.HTTPError) as error:
                    record.errors.append(f"train picture: {type(error).__name__}: {error}")

        try:
            await self.app.stream(self.session, "train_watch", self.app.defaults("train_watch")[:1] + ["", 0], on_update)
        except asyncio.CancelledError:
            raise
        except (CallFailed, httpx.HTTPError) as error:
            record.errors.append(f"train_watch: {type(error).__name__}: {error}")

    async def status(self, record: Record | None = None) -> dict:
        try:
            result = (await self.app.direct(self.session, "train_status", []))[0]
        except (CallFailed, httpx.HTTPError) as error:
            if record is not None:
                record.errors.append(f"train_status: {type(error).__name__}: {error}")
            return {}
        self.statuses.append((time.perf_counter(), result))
        return result

    async def stop(self, record: Record) -> None:
        try:
            await self.app.call(self.session, "train_stop", [])
        except (CallFailed, httpx.HTTPError) as error:
            record.errors.append(f"train_stop: {type(error).__name__}: {error}")
        if self.watch is not None:  # the live view ends by itself once the run has stopped
            try:
                await asyncio.wait_for(self.watch, timeout=15)
            except TimeoutError:
                record.errors.append("train_watch: still streaming 15 s after Stop")


async def wait_stepping(trainees: list[Trainee], expected: int, timeout: float = 120.0) -> None:
    """Until ``expected`` of the runs are training and have made steps (worker processes may be starting)."""
    began = time.perf_counter()
    said = began
    while time.perf_counter() - began < timeout:
        statuses = [await t.status() for t in trainees]
        if sum(s.get("status") == "running" and s.get("step", 0) > 20 for s in statuses) >= expected:
            return
        if time.perf_counter() - said > 10:
            said = time.perf_counter()
            print(
                f"  waiting for {expected} trainings to step: "
                f"{[(s.get('status'), s.get('step'), s.get('message'), s.get('version')) for s in statuses]}",
                flush=True,
            )
        await asyncio.sleep(0.5)
    raise RuntimeError(
        f"fewer than {expected} trainings were stepping after {timeout:.0f} s: "
        f"{[(s.get('status'), s.get('step'), s.get('message')) for s in statuses]}"
    )


async def steps_per_second(
    trainees: list[Trainee], seconds: float, stop: asyncio.Event | None = None, poll_s: float = 5.0
) -> dict[str, dict]:
    """Per run: steps/s over the window from /train_status step counts, and the statuses seen."""
    first = {t.session: await t.status() for t in trainees}
    pictures = {t.session: t.pictures for t in trainees}
    began = time.perf_counter()
    while time.perf_counter() - began < seconds - 1e-3:
        await asyncio.sleep(min(poll_s, seconds - (time.perf_counter() - began)))
        for t in trainees:
            await t.status()
    elapsed = time.perf_counter() - began
    last = {t.session: t.statuses[-1][1] if t.statuses else {} for t in trainees}
    result = {}
    for t in trainees:
        a, b = first[t.session], last[t.session]
        seen = [s for when, s in t.statuses if when >= began - 1]
        result[t.session] = {
            "steps_per_s": (b.get("step", 0) - a.get("step", 0)) / elapsed,
            "statuses": Counter(s.get("status") for s in seen),
            "positions": sorted({s.get("queue_position") for s in seen if s.get("status") == "queued"}),
            "messages": sorted({s.get("message", "") for s in seen if s.get("status") == "queued"}),
            "pictures_per_s": (t.pictures - pictures[t.session]) / elapsed,
        }
    return result


# ---------------------------------------------------------------------------------------------
# The hostile uploads
# ---------------------------------------------------------------------------------------------
def hostile_files(folder: Path) -> list[tuple[str, Path]]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    big = io.BytesIO()
    Image.new("L", (8000, 5000)).save(big, format="PNG")  # 40 MP, ~40 KB
    path = folder / "photos.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cat.png", big.getvalue())
    made.append(("zip of one 40-megapixel PNG", path))

    zeros = bytes(1 << 20)
    path = folder / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("huge.png", "w") as member:
            for _ in range(210):
                member.write(zeros)
    made.append((f"zip bomb ({path.stat().st_size / 1e6:.1f} MB declaring 210 MB)", path))

    path = folder / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("small.png", "w") as member:
            for _ in range(100):
                member.write(zeros)
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # the uncompressed size fields
        at = raw.find(signature)
        raw[at + offset : at + offset + 4] = struct.pack("<I", 1000)
    path.write_bytes(bytes(raw))
    made.append(("zip that declares 1 KB and inflates to 100 MB", path))
    return made


async def hostile(
    app: App, files: list[tuple[str, Path]], settings: list, record: Record, results: list, spacing_s: float, stop: asyncio.Event
) -> None:
    """Upload each file and press Start on it (Your own images), spaced over the window."""
    types = [app.components[i]["type"] for i in app.deps["train_start"]["inputs"]]
    files_at = [i for i, kind in enumerate(types) if kind == "file"]
    for what, path in files:
        if await until(stop, spacing_s):
            return
        session = secrets.token_hex(8)
        data = list(settings)
        data[0] = "folder"
        began = time.perf_counter()
        outcome = "accepted (NOT refused)"
        try:
            server_path = await app.upload(path)
            uploaded = time.perf_counter()
            data[files_at[-1]] = {"path": server_path, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}
            try:
                await app.call(session, "train_start", data)
                await app.call(session, "train_stop", [])
            except CallFailed as error:
                outcome = f"refused: {str(error).removeprefix('train_start: ')}"
            results.append(
                {
                    "what": what,
                    "bytes": path.stat().st_size,
                    "upload_s": uploaded - began,
                    "refused_s": time.perf_counter() - began,
                    "at": began,
                    "outcome": outcome,
                }
            )
        except (CallFailed, httpx.HTTPError) as error:
            text = str(error)
            refused = "413" in text or "too large" in text.lower()
            results.append(
                {
                    "what": what,
                    "bytes": path.stat().st_size,
                    "upload_s": float("nan"),
                    "refused_s": time.perf_counter() - began,
                    "at": began,
                    "outcome": f"refused at upload: {text[:120]}" if refused else f"error: {text[:160]}",
                }
            )
            if not refused:
                record.errors.append(f"hostile upload: {text}")


# ---------------------------------------------------------------------------------------------
# The phases
# ---------------------------------------------------------------------------------------------
async def dataset_settings(app: App, dataset: str) -> list:
    """The Train tab's inputs after picking ``dataset`` (its defaults), as a browser would send them."""
    data = app.defaults("train_start")
    if dataset == "ring8":
        return data
    outputs = await app.direct(secrets.token_hex(8), "train_dataset", [dataset])
    inputs = app.deps["train_start"]["inputs"]
    for i, value in zip(app.deps["train_dataset"]["outputs"], outputs, strict=True):
        if i in inputs:
            data[inputs.index(i)] = value.get("value") if isinstance(value, dict) else value
    data[0] = dataset
    return data


def quantiles(ms: np.ndarray) -> dict[str, float]:
    if len(ms) == 0:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    return {"n": len(ms), "p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "max": float(ms.max())}


async def alone_phases(app: App, args, quiz_code: str, settings: list, monitor: Monitor, files: list) -> dict:
    results: dict = {}
    stop = asyncio.Event()
    print("alone: the server idle for 5 s ...", flush=True)
    a = monitor.sample()
    await asyncio.sleep(5)
    b = monitor.sample()
    idle = results["idle_cores"] = (b["server_cpu"] - a["server_cpu"]) / (b["t"] - a["t"])

    def per_request_ms(a: dict, b: dict, n: int) -> float:
        """Server CPU per request, less what the idle server spends anyway."""
        return 1000 * max(0.0, b["server_cpu"] - a["server_cpu"] - idle * (b["t"] - a["t"])) / max(1, n)

    if "explore" in args.components:
        print(f"alone: one Explore student, {args.moves_per_s:g} moves/s for {args.alone_seconds:g} s ...", flush=True)
        explorer = Explorer(app, args.checkpoint, 8)
        await explorer.open()
        for _ in range(3):  # warm-up: first renders, imports
            await explorer.move(Record())
        record = Record()
        a = monitor.sample()
        task = asyncio.create_task(explorer.drag(record, args.moves_per_s, stop))
        await asyncio.sleep(args.alone_seconds)
        stop.set()
        await task
        b = monitor.sample()
        results["explore"] = {"record": record, "posts": explorer.posts, "server_ms": per_request_ms(a, b, len(record.latencies))}
    if "quiz" in args.components:
        stop = asyncio.Event()
        print(
            f"alone: {args.alone_participants} quiz participants, {args.think_s:g} s think time for {args.alone_seconds:g} s ...",
            flush=True,
        )
        people = [args.participant(app, quiz_code, f"solo{i:02d}") for i in range(args.alone_participants)]
        record = Record()
        for person in people:
            await person.join(record)
        a = monitor.sample()
        tasks = [asyncio.create_task(p.answer_all(record, args.think_s, stop)) for p in people]
        await asyncio.sleep(args.alone_seconds)
        stop.set()
        await asyncio.gather(*tasks)
        b = monitor.sample()
        results["quiz"] = {"record": record, "people": people, "server_ms": per_request_ms(a, b, len(record.latencies))}
    if "hostile" in args.components:
        print("alone: the hostile uploads, one after the other ...", flush=True)
        results["hostile"] = []
        await hostile(app, files, settings, Record(), results["hostile"], 0.5, asyncio.Event())
    if "training" in args.components:
        for count in sorted({1, args.slots if args.slots <= args.trainings else args.trainings}):
            print(
                f"alone: {count} training{'s' if count > 1 else ''} at once, watched live, for {args.alone_seconds:g} s ...",
                flush=True,
            )
            record = Record()
            trainees = [Trainee(app, settings) for _ in range(count)]
            for trainee in trainees:
                await trainee.start(record)
            await wait_stepping(trainees, count)
            await asyncio.sleep(args.warmup_seconds)
            a = monitor.sample()
            rates = await steps_per_second(trainees, args.alone_seconds)
            b = monitor.sample()
            for trainee in trainees:
                await trainee.stop(record)
            results[f"training{count}"] = {
                "rates": rates,
                "record": record,
                "cpu": cpu_between(a, b),
                "workers": worker_settings(monitor.server_pid),
            }
            await asyncio.sleep(2)  # workers hand their runs back
    return results


def worker_settings(server_pid: int) -> list[str]:
    """Each worker process: its CPU affinity and threads (pinned to a core or not)."""
    return [f"{proc_status(pid, 'Cpus_allowed_list')} ({proc_status(pid, 'Threads')} threads)" for pid in children_of(server_pid)]


async def class_phase(app: App, args, quiz_code: str, settings: list, monitor: Monitor, files, folder: Path) -> dict:
    stop = asyncio.Event()
    records = {name: Record() for name in ("training", "explore", "quiz", "quiz_join", "hostile")}
    results: dict = {"records": records}
    trainees: list[Trainee] = []
    if "training" in args.components:
        print(f"class: {args.trainings} students press Start ({args.slots} slots) ...", flush=True)
        trainees = [Trainee(app, settings) for _ in range(args.trainings)]
        for trainee in trainees:
            await trainee.start(records["training"])
        await wait_stepping(trainees, min(args.slots, args.trainings))
    explorers: list[Explorer] = []
    people: list[Participant] = []
    tasks = []
    if "explore" in args.components:
        print(f"class: {args.explorers} Explore students open {args.checkpoint} ...", flush=True)
        explorers = [Explorer(app, args.checkpoint, i) for i in range(args.explorers)]
        await asyncio.gather(*(e.open() for e in explorers))
    if "quiz" in args.components:
        print(f"class: {args.participants} quiz participants join ...", flush=True)
        people = [args.participant(app, quiz_code, f"p{i:03d}") for i in range(args.participants)]
        sem = asyncio.Semaphore(10)

        async def join(person: Participant) -> None:
            async with sem:
                sent = time.perf_counter()
                if await person.join(records["quiz"]):
                    records["quiz_join"].latencies.append((sent, time.perf_counter() - sent))

        await asyncio.gather(*(join(p) for p in people))
    print(f"class: everyone at once for {args.seconds:g} s (after {args.warmup_seconds:g} s of warm-up) ...", flush=True)
    tasks += [asyncio.create_task(e.drag(records["explore"], args.moves_per_s, stop)) for e in explorers]
    tasks += [asyncio.create_task(p.answer_all(records["quiz"], args.think_s, stop)) for p in people]
    hostile_results: list = []
    if "hostile" in args.components:
        spacing = args.seconds / (len(files) + 1)
        tasks.append(
            asyncio.create_task(
                hostile(app, files, settings, records["hostile"], hostile_results, args.warmup_seconds + spacing, stop)
            )
        )
    await asyncio.sleep(args.warmup_seconds)
    if args.py_spy:  # the measured window only (not the joins before it)
        results["spy"] = start_py_spy(monitor.server_pid, args.seconds, folder / "profile.txt")
    window_start = time.perf_counter()
    a = monitor.sample()
    if trainees:
        rates = await steps_per_second(trainees, args.seconds)
    else:
        rates = {}
        await asyncio.sleep(args.seconds)
    b = monitor.sample()
    window_end = time.perf_counter()
    results["workers"] = worker_settings(monitor.server_pid)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=120)  # in-flight answers land
    for trainee in trainees:
        await trainee.stop(records["training"])
    results.update(
        rates=rates,
        cpu=cpu_between(a, b),
        window=(window_start, window_end),
        hostile=hostile_results,
        people=people,
        explorers=explorers,
        trainees=trainees,
    )
    return results


async def count_stored(app: App, code: str, key: str, people: list[Participant]) -> dict:
    """Every answer sent, acknowledged and stored (the owner's CSV export), compared."""
    outputs = await app.call(secrets.token_hex(8), "quiz_export", [code, key])
    files = outputs[0] if isinstance(outputs[0], list) else [outputs[0]]
    csv_file = next(f for f in files if str(f.get("orig_name") or f.get("path")).endswith(".csv"))
    response = await app.http.get(csv_file["url"])
    rows = [r for r in csv.DictReader(io.StringIO(response.text)) if r.get("answer")]
    stored: dict[tuple[str, int], list[str]] = defaultdict(list)
    for row in rows:
        stored[(row["nickname"], int(row["trial_number"]))].append(row["answer"])
    sent = [s for p in people for s in p.sent]
    acknowledged = [s for p in people for s in p.acknowledged]
    missing = [(n, t, a) for n, t, a in acknowledged if stored.get((n, t)) != [a]]
    duplicates = [k for k, v in stored.items() if len(v) > 1]
    return {
        "sent": len(sent),
        "acknowledged": len(acknowledged),
        "stored": len(rows),
        "missing": missing,
        "duplicates": duplicates,
    }


# ---------------------------------------------------------------------------------------------
# py-spy (optional): where the server's time goes during the class
# ---------------------------------------------------------------------------------------------
def start_py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        print("py-spy is not installed (pip install py-spy); no profile", file=sys.stderr)
        return None
    # --gil: only the thread holding the GIL is sampled, so the shares are shares of the one core a Python
    # server can use at a time.
    return subprocess.Popen(
        [
            exe,
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "50",
            "--nonblocking",
            "--gil",
            "--threads",
            "--format",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


PROFILE_PARTS = [  # (label, a frame that marks it), first match from the top of the list wins
    ("Gradio: a session's component configs rebuilt (a new session, or a gr.update() returned)", "state_holder.py"),
    ("Explore render handler (ganlab: forward pass, picture)", "ExploreHandlers.render"),
    ("quiz answer handler (ganlab: store, next trial)", "ParticipantHandlers.answer"),
    ("quiz join handler", "ParticipantHandlers.join"),
    ("Train tab live view (ganlab: previews, status)", "LiveStream.tick"),
    ("Train tab live view (ganlab: previews, status)", "LiveStream.watch"),
    ("train status (API)", "train_status"),
    ("other ganlab code", "ganlab/"),
    ("Gradio: outputs to files and JSON (postprocess)", "postprocess_data"),
    ("Gradio: inputs (preprocess)", "preprocess_data"),
    ("Gradio: queue and event stream", "gradio/queueing.py"),
    ("serving files (/gradio_api/file=)", "file_response"),
    ("HTTP stack (uvicorn, starlette, fastapi, gradio routes)", "uvicorn/"),
    ("Gradio (other)", "gradio/"),
    ("thread-pool hand-offs (anyio, threading: sync handlers run in threads)", "anyio/"),
    ("thread-pool hand-offs (anyio, threading: sync handlers run in threads)", "threading.py"),
]


def summarise_profile(raw: Path, top: int = 20) -> str:
    """Collapsed stacks (py-spy --gil) -> where the GIL's time goes: by part of the app, then the busiest frames."""
    parts: Counter = Counter()
    own: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")[1:] or ["(native code, no Python frame)"]  # the first entry names the thread
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        part = next((label for label, mark in PROFILE_PARTS if any(mark in f for f in frames)), "other")
        parts[part] += n
    if not total:
        return "no samples"
    lines = [
        f"{total} samples of the thread holding the GIL (50/s): shares of the one core Python runs on",
        "",
        "by part of the server:",
    ]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in parts.most_common()]
    lines += ["", "own time (the frame on top):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive, ganlab and gradio frames:"]
    lines += [
        f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common() if "ganlab/" in name or "gradio/" in name
    ][:top]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------
def machine_line() -> str:
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import gradio

    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, gradio {gradio.__version__}, "
        f"httpx {httpx.__version__}"
    )


def report(
    args, alone: dict, together: dict, stored: dict | None, monitor: Monitor, loads: tuple, server_log: str, profile: str | None
) -> tuple[str, bool]:
    lines: list[str] = []
    verdicts: list[tuple[str, bool | None, str]] = []
    w0, w1 = together["window"]
    records = together["records"]
    commit = (
        subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip() or "?"
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    changes = " + uncommitted changes" if dirty else ""
    lines.append(f"### Classroom ({time.strftime('%Y-%m-%d %H:%M')}, commit {commit}{changes})\n")
    lines.append(f"Machine: {machine_line()}  ")
    lines.append(f"Command: `python bench/bench_classroom.py {' '.join(sys.argv[1:])}`  ")
    if args.server_env or args.renice_workers:
        lines.append(
            f"Experiment: app environment {' '.join(args.server_env) or '(unchanged)'}; training workers "
            f"reniced by +{args.renice_workers}  "
        )
    try:
        group = Path("/proc/self/autogroup").read_text().split("nice")[-1].strip()
    except OSError:
        group = "?"
    lines.append(
        f"Load average (1 min) before / after: {loads[0]:.2f} / {loads[1]:.2f}; priority: nice {os.nice(0)}, "
        f"session (autogroup) nice {group}"
        + (" (--priority: above the machine's other processes)" if args.priority else "")
        + "  "
    )
    lines.append(
        f"Class: {args.trainings if 'training' in args.components else 0} trainings ({args.train_dataset}, "
        f"{args.slots} slots), {args.explorers if 'explore' in args.components else 0} Explore students at "
        f"{args.moves_per_s:g} moves/s ({args.checkpoint}), "
        f"{args.participants if 'quiz' in args.components else 0} quiz participants ({args.think_s:g} s think, "
        f"{'the lean /quiz/<CODE> route' if args.participant is LeanParticipant else 'Gradio events'}), "
        f"{'one hostile uploader' if 'hostile' in args.components else 'no hostile upload'}; "
        f"{args.seconds:g} s measured after {args.warmup_seconds:g} s of warm-up\n"
    )

    lines.append("| measure | alone | with the class | goal | verdict |")
    lines.append("|---|---|---|---|---|")
    if "explore" in args.components and "explore" in alone:
        a = quantiles(alone["explore"]["record"].ms())
        t = quantiles(records["explore"].ms(w0, w1))
        ap = quantiles(alone["explore"]["posts"].ms())
        tp = quantiles(
            np.concatenate([e.posts.ms(w0, w1) for e in together["explorers"]]) if together["explorers"] else np.array([])
        )
        ratio = t["p95"] / a["p95"] if a["p95"] else float("nan")
        ok = ratio <= GOAL_EXPLORE_RATIO
        verdicts.append(("Explore slider p95 with the class <= 3x alone", ok, f"{ratio:.1f}x"))
        moves = t["n"] / (w1 - w0) / max(1, args.explorers)
        lines.append(
            f"| Explore slider move -> new picture loaded, p50 / p95 / max | {a['p50']:.0f} / {a['p95']:.0f} / "
            f"{a['max']:.0f} ms ({a['n']} moves) | {t['p50']:.0f} / **{t['p95']:.0f}** / {t['max']:.0f} ms "
            f"({t['n']} moves, {moves:.2f} moves/s each) | p95 <= 3x alone | "
            f"{ratio:.1f}x: {'met' if ok else '**missed**'} |"
        )
        lines.append(
            f"| (of which the render request, p50 / p95) | {ap['p50']:.0f} / {ap['p95']:.0f} ms | "
            f"{tp['p50']:.0f} / {tp['p95']:.0f} ms | | |"
        )
        lines.append(
            f"| (server CPU per move, alone, less the idle server's {alone['idle_cores']:.3f} cores) | "
            f"{alone['explore']['server_ms']:.1f} ms | | | |"
        )
    if "quiz" in args.components and "quiz" in alone:
        a = quantiles(alone["quiz"]["record"].ms())
        t = quantiles(records["quiz"].ms(w0, w1))
        ok = t["p95"] <= GOAL_QUIZ_P95_MS
        verdicts.append(("quiz answer p95 <= 300 ms", ok, f"{t['p95']:.0f} ms"))
        rate = t["n"] / (w1 - w0)
        j = quantiles(records["quiz_join"].ms())
        lines.append(
            f"| Quiz answer round trip (stored, next trial back), p50 / p95 / max | {a['p50']:.0f} / {a['p95']:.0f} / "
            f"{a['max']:.0f} ms ({a['n']} answers, {args.alone_participants} people) | {t['p50']:.0f} / "
            f"**{t['p95']:.0f}** / {t['max']:.0f} ms ({t['n']} answers, {rate:.1f}/s) | p95 <= 300 ms | "
            f"{'met' if ok else '**missed**'} |"
        )
        lines.append(f"| (quiz join before the window, p50 / p95) | | {j['p50']:.0f} / {j['p95']:.0f} ms ({j['n']}) | | |")
        lines.append(f"| (server CPU per answer, alone) | {alone['quiz']['server_ms']:.1f} ms | | | |")
    if "training" in args.components and "training1" in alone:
        one = next(iter(alone["training1"]["rates"].values()))["steps_per_s"]
        full_key = f"training{min(args.slots, args.trainings)}"
        full = alone.get(full_key, alone["training1"])
        per_slot = [r["steps_per_s"] for r in full["rates"].values()]
        slot_alone = float(np.mean(per_slot))
        running = [r for r in together["rates"].values() if r["statuses"].get("running")]
        queued = [r for r in together["rates"].values() if r["statuses"].get("queued")]
        class_rates = [r["steps_per_s"] for r in running]
        ratios = [x / slot_alone for x in class_rates]
        ok = bool(ratios) and min(ratios) >= GOAL_TRAINING_RATIO
        full_vs_one = slot_alone / one if one else float("nan")
        verdicts.append(
            (
                "each training keeps >= 0.8 of its steps/s alone (per slot)",
                ok,
                (
                    f"{min(ratios):.2f} (lowest of {len(ratios)}); the slots filled alone already train at "
                    f"{full_vs_one:.2f} of one training alone per slot"
                )
                if ratios
                else "no running training",
            )
        )
        lines.append(
            f"| Training steps/s per running slot | {slot_alone:.0f} ({len(per_slot)} at once; one alone: "
            f"{one:.0f}) | {', '.join(f'{x:.0f}' for x in class_rates)} (ratio "
            f"{', '.join(f'{x:.2f}' for x in ratios)}; vs one alone "
            f"{', '.join(f'{x / one:.2f}' for x in class_rates)}) | >= 0.8 per slot | "
            f"{'met' if ok else '**missed**'} |"
        )
        positions = sorted(p for r in queued for p in r["positions"])
        messages = sorted({m for r in queued for m in r["messages"]})
        expect = max(0, args.trainings - args.slots)
        shown = (
            len(queued) == expect
            and len(running) == min(args.slots, args.trainings)
            and positions == list(range(1, expect + 1))
            and all("position" in m for m in messages)
        )
        verdicts.append(
            (
                "the others queued, with their position shown",
                shown,
                f"{len(running)} running, {len(queued)} queued at positions {positions}",
            )
        )
        lines.append(
            f"| Queued trainings (status, position) | | {len(queued)} queued, positions {positions}: "
            f'"{messages[0] if messages else ""}" | {expect} queued, positions shown | '
            f"{'met' if shown else '**missed**'} |"
        )
        pictures = [r["pictures_per_s"] for r in running]
        alone_pictures = [r["pictures_per_s"] for r in alone["training1"]["rates"].values()]
        lines.append(
            f"| Live view: new pictures downloaded per second per running training | "
            f"{alone_pictures[0]:.1f} (one alone) | {', '.join(f'{x:.1f}' for x in pictures)} | | |"
        )
    if "hostile" in args.components:
        hostile_results = together["hostile"]
        refused = [h for h in hostile_results if h["outcome"].startswith("refused")]
        quick = all(h["refused_s"] <= GOAL_REFUSAL_S for h in hostile_results)
        ok = len(refused) == len(hostile_results) > 0 and quick
        verdicts.append(
            (
                "hostile uploads refused quickly (<= 2 s)",
                ok,
                f"{len(refused)} of {len(hostile_results)} refused, slowest "
                f"{max((h['refused_s'] for h in hostile_results), default=float('nan')):.2f} s",
            )
        )
        alone_times = {h["what"]: h["refused_s"] for h in alone.get("hostile", [])}
        tried = {h["what"] for h in hostile_results}
        for what, seconds in alone_times.items():
            if what not in tried:
                lines.append(f"| Hostile: {what} | refused in {seconds:.2f} s | not reached in the window | | |")
        for h in hostile_results:
            after = records["explore"].ms(h["at"], h["at"] + 5)
            after_q = records["quiz"].ms(h["at"], h["at"] + 5)
            met = h["outcome"].startswith("refused") and h["refused_s"] <= GOAL_REFUSAL_S
            p95_after = [f"{quantiles(x)['p95']:.0f} ms" if len(x) else "none" for x in (after, after_q)]
            lines.append(
                f"| Hostile: {h['what']} ({h['bytes'] / 1e3:.0f} KB) | refused in "
                f"{alone_times.get(h['what'], float('nan')):.2f} s | {h['outcome'][:140]} in "
                f"{h['refused_s']:.2f} s; sent in the next 5 s: Explore p95 {p95_after[0]}, quiz p95 "
                f"{p95_after[1]} | refused, <= 2 s | {'met' if met else '**missed**'} |"
            )
    errors = [e for r in records.values() for e in r.errors]
    errors += [e for part in alone.values() if isinstance(part, dict) and "record" in part for e in part["record"].errors]
    # Refusals said to the person (gr.Error) are logged with a traceback too: those are not failures.
    kinds: Counter = Counter()
    for part in server_log.split("Traceback (most recent call last)")[1:]:
        last = [line for line in part.splitlines() if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line)]
        if last and not last[-1].startswith("gradio.exceptions.Error"):
            kinds[last[-1].split(":")[0]] += 1
    tracebacks = sum(kinds.values())
    traceback_kinds = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    lost_ok = True
    if stored is not None:
        # Lost: acknowledged to the participant but not stored as sent. A request whose reply never came
        # (a client error, counted under errors) may be stored or not: stored <= sent.
        lost_ok = not stored["missing"] and not stored["duplicates"] and stored["stored"] <= stored["sent"]
        lines.append(
            f"| Quiz answers sent / acknowledged / stored (owner's CSV export) | | {stored['sent']} / "
            f"{stored['acknowledged']} / {stored['stored']}; {len(stored['missing'])} acknowledged but not "
            f"stored as sent, {len(stored['duplicates'])} stored twice | all stored once | "
            f"{'met' if lost_ok else '**missed**'} |"
        )
    verdicts.append(
        (
            "no error, nothing lost",
            not errors and lost_ok,
            f"{len(errors)} errors, {tracebacks} tracebacks in the server log"
            + ("" if stored is None else f", {len(stored['missing'])} answers lost"),
        )
    )
    pictures_gone = sum(e.startswith("train picture") for e in errors)
    lines.append(
        f"| Errors (requests that failed; hostile refusals not counted) | | {len(errors)} ({pictures_gone} of "
        "them live-view pictures the server had deleted before they were fetched); server log: "
        f"{tracebacks} tracebacks{f' ({traceback_kinds})' if tracebacks else ''} | 0 | "
        f"{'met' if not errors else '**missed**'} |"
    )
    samples = [s for s in monitor.samples if w0 - 1 <= s["t"] <= w1 + 1] or monitor.samples
    server_peak = max(s["server_rss"] for s in samples)
    total_peak = max(s["server_rss"] + sum(s["workers_rss"].values()) for s in samples)
    first = monitor.samples[0]
    lines.append(
        f"| Server RSS (its own; with its worker processes) | {first['server_rss']:.0f} MB; "
        f"{first['server_rss'] + sum(first['workers_rss'].values()):.0f} MB (at start) | peak "
        f"{server_peak:.0f} MB; {total_peak:.0f} MB ({max(len(s['workers_rss']) for s in samples)} workers) "
        f"| reported | |"
    )
    cpu = together["cpu"]
    lines.append(
        "| CPU in cores (server / training workers / this load generator / other processes) | "
        + (
            f"{alone['training1']['cpu']['server']:.2f} / {alone['training1']['cpu']['workers']:.2f} / "
            f"{alone['training1']['cpu']['client']:.2f} / {alone['training1']['cpu']['other']:.2f} "
            "(one training)"
            if "training1" in alone
            else ""
        )
        + f" | {cpu['server']:.2f} / {cpu['workers']:.2f} / {cpu['client']:.2f} / {cpu['other']:.2f} "
        f"(machine {cpu['machine']:.2f} of {os.cpu_count()}) | | |"
    )
    lags = np.array([lag for when, lag in monitor.lags if w0 <= when <= w1]) * 1000
    lines.append(
        f"| Load generator's event-loop lag, p50 / p95 / max | | {np.percentile(lags, 50):.1f} / "
        f"{np.percentile(lags, 95):.1f} / {lags.max():.0f} ms | small beside the latencies | |"
        if len(lags)
        else ""
    )
    nices = sorted({s["nice"] for s in monitor.samples})
    if len(nices) > 1:
        changed = next(s["t"] for s in monitor.samples if s["nice"] != monitor.samples[0]["nice"])
        lines.append(
            f"| **Warning: this process's nice value changed during the run** ({nices}, first seen "
            f"{changed - w0:+.0f} s from the window's start): something else reniced it | | | | |"
        )
    lines.append("")
    lines.append(f"Worker processes during the class (CPU affinity, threads): {', '.join(together['workers']) or 'none'}  ")
    if "training" in args.components and "training1" in alone:
        lines.append(f"Alone: one training's workers: {', '.join(alone['training1']['workers'])}  ")
    lines.append("")
    lines.append("Verdicts:")
    for name, ok, detail in verdicts:
        lines.append(f"- {name}: {'met' if ok else 'MISSED'} ({detail})")
    if errors:
        lines.append("")
        lines.append("First errors:")
        for error, n in Counter(e[:200] for e in errors).most_common(8):
            lines.append(f"- {n} x {error}")
    if profile:
        lines += ["", "py-spy profile of the server during the class:", "", "```", profile, "```"]
    return "\n".join(lines) + "\n", all(ok for _, ok, _ in verdicts)


# ---------------------------------------------------------------------------------------------
def dump_tasks() -> None:
    """kill -USR1 <this process>: every task's stack to stderr (where is a run stuck?)."""
    for task in asyncio.all_tasks():
        chain, coro = [], task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
            if frame is not None:
                chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
        print(" -> ".join(chain), file=sys.stderr, flush=True)


async def main_async(args) -> int:
    if hasattr(__import__("signal"), "SIGUSR1"):
        import signal

        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
    folder = Path(tempfile.mkdtemp(prefix="ganlab-bench-class-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()[0]
    print(f"load average {load_before:.2f}; starting the app on {url} (data in {folder}) ...", flush=True)
    server = start_app(folder, port, args.slots, dict(item.split("=", 1) for item in args.server_env))
    monitor = Monitor(server.pid, args.renice_workers)
    files = hostile_files(folder / "hostile") if "hostile" in args.components else []
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them: a request sent on a
    # connection the server is closing fails (ReadError) where a browser would retry it.
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=300, keepalive_expiry=1.0)
    profile_text = None
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(120, connect=30), limits=limits) as http:
            app = App(url, http)
            settings = await dataset_settings(app, args.train_dataset)
            quiz_code = quiz_key = ""
            if "quiz" in args.components:
                print(f"creating a quiz over {args.checkpoint} (first time: its image pools) ...", flush=True)
                settings_of_quiz = app.defaults(
                    "quiz_create",
                    **{
                        "ganlab-quiz-title": "Classroom bench",
                        "ganlab-quiz-checkpoints": [args.checkpoint],
                        "ganlab-quiz-deck-size": args.deck,
                        "ganlab-quiz-mode": "single",
                        "ganlab-quiz-practice": 0,
                        "ganlab-quiz-qualification": 0,
                        "ganlab-quiz-feedback": False,
                        "ganlab-quiz-timed": False,
                        "ganlab-quiz-ask-confidence": False,
                        "ganlab-quiz-max-participants": 1000,
                    },
                )
                created = await app.call(secrets.token_hex(8), "quiz_create", settings_of_quiz)
                quiz_code, quiz_key = created[3], created[4]
                args.participant = await quiz_route(app, args.quiz_route)
                print(f"quiz participants answer through {args.participant.__name__}", flush=True)
            stop = asyncio.Event()
            watchers = [asyncio.create_task(monitor.run(stop)), asyncio.create_task(monitor.loop_lag(stop))]
            alone = await alone_phases(app, args, quiz_code, settings, monitor, files)
            await asyncio.sleep(2)
            together = await class_phase(app, args, quiz_code, settings, monitor, files, folder)
            spy = together.get("spy")
            stop.set()
            await asyncio.gather(*watchers)
            if spy is not None:
                _, err = spy.communicate(timeout=60)
                if (folder / "profile.txt").exists():
                    profile_text = summarise_profile(folder / "profile.txt")
                    shutil.copy(folder / "profile.txt", args.py_spy)
                else:
                    print(f"py-spy failed: {err.decode()[-500:]}", file=sys.stderr)
            stored = None
            if "quiz" in args.components:
                people = together["people"] + alone.get("quiz", {}).get("people", [])
                stored = await count_stored(app, quiz_code, quiz_key, people)
    finally:
        workers = children_of(server.pid)
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        time.sleep(2)
        for pid in workers:  # training workers outlive a server stopped mid-training: end ours by id
            try:
                if b"ganlab" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, 15)
            except OSError:
                pass
    load_after = os.getloadavg()[0]
    server_log = (folder / "server.log").read_text(errors="replace")
    text, ok = report(args, alone, together, stored, monitor, (load_before, load_after), server_log, profile_text)
    print()
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if args.keep:
        print(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="the class's measured window (default 60)")
    parser.add_argument("--alone-seconds", type=float, default=20, help="each alone measurement (default 20)")
    parser.add_argument("--warmup-seconds", type=float, default=5, help="before each window (default 5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 15 s together, 6 s alone")
    parser.add_argument(
        "--slots",
        type=int,
        help="GANLAB_MAX_TRAININGS for the server (default: the server's own, the number of cores up to 4)",
    )
    parser.add_argument(
        "--trainings", type=int, default=6, help="students pressing Start (default 6: the slots train, the rest queue)"
    )
    parser.add_argument(
        "--quiz-route",
        choices=["auto", "lean", "gradio"],
        default="auto",
        help="how quiz participants answer: the lean /quiz/<CODE> route's JSON API, or Gradio's events "
        "(default auto: the lean route where the app serves it)",
    )
    parser.add_argument("--train-dataset", default="ring8", help="what they train (default ring8, the tab's default)")
    parser.add_argument("--explorers", type=int, default=20)
    parser.add_argument("--moves-per-s", type=float, default=2.0)
    parser.add_argument("--checkpoint", default="mnist-cdcgan", help="Explore's and the quiz's generator")
    parser.add_argument("--participants", type=int, default=60)
    parser.add_argument("--alone-participants", type=int, default=3)
    parser.add_argument("--think-s", type=float, default=2.0)
    parser.add_argument("--deck", type=int, choices=[20, 50, 100], default=100, help="trials per participant")
    parser.add_argument(
        "--without", nargs="+", choices=COMPONENTS, default=[], help="leave parts of the class out (profiling by elimination)"
    )
    parser.add_argument(
        "--server-env",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the app (experiments, e.g. OMP_NUM_THREADS=1)",
    )
    parser.add_argument(
        "--renice-workers",
        type=int,
        default=0,
        metavar="N",
        help="experiment: keep the app's training workers N nice levels below the app (checked every second)",
    )
    parser.add_argument("--py-spy", metavar="FILE", help="sample the server with py-spy during the class; raw stacks to FILE")
    parser.add_argument("--out", help="also write the markdown report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, database)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        metavar="N",
        help="run this load generator, the app and its workers N nice levels above normal (needs "
        "root): on a machine shared with other jobs this approximates a server of its own (default 0)",
    )
    args = parser.parse_args()
    if args.priority:
        try:
            os.nice(-args.priority)  # inherited by the app and its training workers
        except PermissionError:
            parser.error("--priority needs root (a negative nice value)")
        try:  # with autogroup scheduling, nice only ranks processes within a session: rank the session too
            Path("/proc/self/autogroup").write_text(str(-args.priority))
        except OSError:
            pass
    if args.quick:
        args.seconds, args.alone_seconds, args.warmup_seconds = 15, 6, 3
    args.components = [c for c in COMPONENTS if c not in args.without]
    args.slots = args.slots or default_max_trainings()  # what the server would choose itself
    args.participant = Participant
    random.seed(args.seed)
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
