"""App start-up: seconds from `python app.py` to the first page served, beside `python -c "import torch,
gradio"` (the floor any Gradio + PyTorch app pays), measured alternately in fresh processes.

    python bench/bench_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_imports(env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, gradio"], check=True, env=env)
    return time.perf_counter() - started


def time_app(env: dict, timeout: float = 120.0) -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("the app did not answer")
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "GANLAB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "NO_PROXY": "localhost,127.0.0.1"}
    time_imports(env)  # warm the file cache once, so neither side pays a cold disk
    imports, app = [], []
    for _ in range(args.repeats):
        imports.append(time_imports(env))
        app.append(time_app(env))
    a, b = statistics.median(imports), statistics.median(app)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.repeats} repeats")
    print(f"import torch, gradio: median {a:.2f} s  {[round(x, 2) for x in imports]}")
    print(f"python app.py ready:  median {b:.2f} s  {[round(x, 2) for x in app]}")
    print(f"ratio {b / a:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
