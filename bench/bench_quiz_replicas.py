"""Two app replicas on one PostgreSQL database: a class split over both, then counted in the database.

Starts a throwaway PostgreSQL server (as the tests do: tests/postgres.py, Debian's postgresql), and two
app processes on loopback sharing it and one pool folder (as replicas behind a load balancer would
share a database and a volume). An owner creates a quiz on replica A; N simulated participants join
on a random replica and send every answer to a random replica, through the participant route
(``/quiz/api/join`` and ``/quiz/api/answer``). A client whose connection fails sends the same answer
again on the other replica (up to three times). Then the database is counted: every participant's deck answered
exactly once per trial (nothing lost, nothing twice), every acknowledged answer stored as sent, join
numbers 1..N without a gap or a repeat.

    python bench/bench_quiz_replicas.py                      # 300 participants x 20 trials, 2 s think time
    python bench/bench_quiz_replicas.py --participants 100 --think-ms 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_quiz_load import Session, cpu_seconds, free_port, save_generator, start_app  # noqa: E402

from ganlab.device import cpu_name  # noqa: E402
from tests.postgres import start_server  # noqa: E402  (the tests' throwaway server)


async def participant(
    replicas: list[httpx.AsyncClient], code: str, name: str, think_s: float, start: asyncio.Barrier, log: dict
) -> None:
    """Join on a random replica, then answer each trial on a random one (a retry goes to the other)."""
    try:
        first = random.randrange(len(replicas))
        reply = await replicas[first].post("/quiz/api/join", json={"code": code, "nickname": name})
        if reply.status_code != 200:
            raise RuntimeError(reply.text)
        token, trial = reply.json()["token"], reply.json()["trial"]
        log["joined_on"][first] += 1
    except BaseException:
        await start.abort()
        raise
    await start.wait()
    while trial is not None:
        await asyncio.sleep(think_s * random.uniform(0.5, 1.5))
        answer = random.choice(["real", "fake"])
        body = {"token": token, "trial_id": trial["trial_id"], "number": trial["number"], "answer": answer}
        which = random.randrange(len(replicas))
        began = time.perf_counter()
        for attempt in range(4):
            try:
                reply = await replicas[which].post("/quiz/api/answer", json=body)
                break
            except httpx.TransportError:  # e.g. a keep-alive connection the server closed: the same answer, elsewhere
                if attempt == 3:
                    raise
                which = 1 - which
                log["retries"] += 1
        log["latencies"][which].append(time.perf_counter() - began)
        if reply.status_code != 200:
            raise RuntimeError(reply.text)
        data = reply.json()
        log["acknowledged"].append((name, trial["number"], answer))
        log["duplicates"] += bool(data["duplicate"])
        trial = data["trial"]


async def drive(urls: list[str], code: str, args, pids: list[int]) -> dict:
    log = {"joined_on": [0, 0], "latencies": [[], []], "acknowledged": [], "retries": 0, "duplicates": 0}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)  # one connection per phone and replica
    phones = [[httpx.AsyncClient(base_url=u, timeout=120, limits=limits) for u in urls] for _ in range(args.participants)]
    start = asyncio.Barrier(args.participants + 1)
    names = [f"p{i:04d}" for i in range(args.participants)]
    tasks = [
        asyncio.create_task(participant(clients, code, name, args.think_ms / 1000, start, log))
        for clients, name in zip(phones, names, strict=True)
    ]
    print(f"{args.participants} participants joining quiz {code} on two replicas ...", flush=True)
    try:
        await asyncio.wait_for(start.wait(), timeout=900)
    except asyncio.BrokenBarrierError:
        pass  # a join failed: reported below
    began, cpu_before = time.perf_counter(), [cpu_seconds(pid) for pid in pids]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    log["wall"] = time.perf_counter() - began
    log["cpu"] = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
    for clients in phones:
        for client in clients:
            await client.aclose()
    log["errors"] = [f"{n}: {r!r}" for n, r in zip(names, results, strict=True) if isinstance(r, BaseException)]
    return log


def count_in_database(url: str, code: str, log: dict, args) -> list[str]:
    """Nothing lost, nothing twice: counted with SQL on the shared database."""
    from sqlalchemy import create_engine, text

    from ganlab.quiz.store import _database_url

    engine = create_engine(_database_url(url))
    problems = []
    try:
        with engine.connect() as conn:
            quiz_id = conn.execute(text("SELECT id FROM quizzes WHERE code = :c"), {"c": code}).scalar_one()
            people = conn.execute(text("SELECT number FROM participants WHERE quiz_id = :q"), {"q": quiz_id}).scalars().all()
            rows = conn.execute(
                text(
                    "SELECT p.nickname, a.trial_index, a.answer FROM answers a JOIN participants p ON p.id = a.participant_id "
                    "WHERE a.quiz_id = :q"
                ),
                {"q": quiz_id},
            ).all()
            twice = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT participant_id, trial_index FROM answers WHERE quiz_id = :q "
                    "GROUP BY participant_id, trial_index HAVING count(*) > 1) AS t"
                ),
                {"q": quiz_id},
            ).scalar_one()
    finally:
        engine.dispose()
    if sorted(people) != list(range(1, args.participants + 1)):
        problems.append(f"join numbers are not 1..{args.participants}: {len(people)} participants")
    stored = {(nickname, index + 1): answer for nickname, index, answer in rows}
    if twice:
        problems.append(f"{twice} trials answered twice")
    if len(rows) != len(log["acknowledged"]):
        problems.append(f"{len(rows)} answers stored but {len(log['acknowledged'])} acknowledged")
    lost = [(n, t, a) for n, t, a in log["acknowledged"] if stored.get((n, t)) != a]
    if lost:
        problems.append(f"{len(lost)} acknowledged answers missing or different, e.g. {lost[:3]}")
    log["stored"], log["people"] = len(rows), len(people)
    return problems


def start_replica(folder: Path, port: int, env: dict[str, str], log_name: str, attempts: int = 3) -> subprocess.Popen:
    """An app process that passed Gradio's own start-up check (a request to / with a 3 s timeout, made after the
    server answers; on a busy machine it can fail and end the process): started again if it did not."""
    for attempt in range(attempts):
        process = None
        try:
            process = start_app(folder, port, env, log_name=log_name)
            deadline = time.time() + 30  # the check's five tries take at most ~20 s
            while time.time() < deadline and process.poll() is None:
                time.sleep(1)
            if process.poll() is None and httpx.get(f"http://127.0.0.1:{port}/config", timeout=60).status_code == 200:
                return process
        except (RuntimeError, httpx.HTTPError):
            pass
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        print(f"{log_name}: the app did not pass its start-up check (attempt {attempt + 1}); starting it again", flush=True)
    raise RuntimeError(f"the app did not start; see {folder / log_name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--trials", type=int, choices=[20, 50, 100], default=20, help="deck size")
    parser.add_argument("--think-ms", type=float, default=2000, help="mean pause before each answer (uniform 0.5-1.5 x)")
    args = parser.parse_args()

    database = start_server()
    folder = Path(tempfile.mkdtemp(prefix="ganlab-bench-replicas-"))
    save_generator(folder / "checkpoints" / "bench")
    shared = {
        "GANLAB_QUIZ_DB": database,
        "GANLAB_HOME": str(folder / "home"),
        "GANLAB_QUIZ_JOINS_PER_MINUTE": "100000",  # every simulated phone comes from 127.0.0.1
    }
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    print(f"starting two replicas on {urls} over {database} ...", flush=True)
    servers = [start_replica(folder, port, shared, f"replica-{i}.log") for i, port in enumerate(ports)]
    try:
        dependencies = {
            d["api_name"]: d["id"] for d in httpx.get(f"{urls[0]}/config").json()["dependencies"] if d.get("api_name")
        }
        owner = Session(urls[0], dependencies)
        created = owner.call(
            "quiz_create", "Replicas", ["saved/bench"], args.trials, "single", False, False, 0, 0.0, False, "", args.participants
        )
        owner.close()
        code = created[3]
        log = asyncio.run(drive(urls, code, args, [s.pid for s in servers]))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    problems = count_in_database(database, code, log, args)
    report(args, log, problems)
    shutil.rmtree(folder, ignore_errors=True)
    if problems or log["errors"]:
        sys.exit(1)


def report(args, log: dict, problems: list[str]) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    print(f"\n### Two replicas, one PostgreSQL ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit or '?'})\n")
    print(
        f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared with the database and the clients), "
        f"Python {platform.python_version()}  "
    )
    print(f"Command: `python bench/bench_quiz_replicas.py {' '.join(sys.argv[1:])}`  ")
    print(f"Load average (1 min) at the end: {os.getloadavg()[0]:.1f}; PostgreSQL: the tests' throwaway server (fsync off)\n")
    print("| replica | joins | answers | p50 latency | p95 latency | server CPU per answer |")
    print("|---|---|---|---|---|---|")
    for i in range(2):
        ms = sorted(1000 * x for x in log["latencies"][i]) or [float("nan")]
        q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [ms[0]] * 99
        per = 1000 * log["cpu"][i] / max(1, len(log["latencies"][i]))
        print(
            f"| {'AB'[i]} | {log['joined_on'][i]} | {len(log['latencies'][i])} | {q[49]:.0f} ms | {q[94]:.0f} ms | {per:.1f} ms |"
        )
    verdict = "yes" if not problems else "NO: " + "; ".join(problems)
    print(
        f"\n{args.participants} participants x {args.trials} trials, {args.think_ms:g} ms think time: "
        f"{len(log['acknowledged'])} answers acknowledged in {log['wall']:.1f} s, {log.get('stored', '?')} stored, "
        f"{log.get('people', '?')} participants; {log['retries']} answers sent again after a failed connection, "
        f"{log['duplicates']} of them already stored (answered as duplicates); {len(log['errors'])} participants stopped "
        f"by errors. Every acknowledged answer stored, none twice: **{verdict}**"
    )
    for error in log["errors"][:5]:
        print(f"error: {error}")


if __name__ == "__main__":
    main()
