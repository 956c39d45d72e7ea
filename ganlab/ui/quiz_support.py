"""Non-UI helpers of the Quiz tab's views: the browser-storage secret, checks on what the browser sends, the
address a join link is built on, and how the views' events are exposed."""

from __future__ import annotations

import math
import os
import re
import secrets
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.context import Context, get_render_context, set_render_context

from ganlab.paths import data_home
from ganlab.quiz import default_database_url

NO_PARTICIPANT = {"code": "", "nickname": "", "token": ""}
# Endpoints the browser and gradio_client call: left out of the API page and of run history.
HIDDEN = dict(api_visibility="undocumented", concurrency_limit=None)
# Follow-up events (timer ticks, tab selects): not callable by API clients at all.
INTERNAL = dict(api_visibility="private", concurrency_limit=None)
# Making image pools (sampling 2,000 images, or reading uploads): one quiz at a time.
POOL_WORK = dict(api_visibility="undocumented", concurrency_limit=1, concurrency_id="ganlab-quiz-pools")
BROWSER_STORAGE_KEY = "ganlab-quiz-participant"
SECRET_FILE_SUFFIX = ".browser-secret"
HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")  # a name or address, and a port


def browser_secret(database_url: str | None = None) -> str:
    """The key that encrypts the participant's token in the browser's localStorage. It must stay
    the same across restarts (or a reload after a restart could not resume), so it is kept in a
    file beside the quiz database (``<db>.browser-secret``), else in the data home (ganlab.paths)."""
    url = database_url or default_database_url()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///") + SECRET_FILE_SUFFIX)
    else:
        path = data_home() / ("quiz" + SECRET_FILE_SUFFIX)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()  # another process wrote it first
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def _saved(value: Any) -> dict[str, str]:
    """The participant record from the browser; anything malformed counts as 'not joined'."""
    if not isinstance(value, dict):
        return dict(NO_PARTICIPANT)
    record = {key: value.get(key) for key in NO_PARTICIPANT}
    if not all(isinstance(v, str) and len(v) <= 200 for v in record.values()):
        return dict(NO_PARTICIPANT)
    return record


def _text(value: Any, name: str, limit: int = 200) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise gr.Error(f"{name} must be text of at most {limit} characters")
    return value.strip()


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise gr.Error(f"{name} must be a whole number; got {value!r}")
    if int(value) != value:
        raise gr.Error(f"{name} must be a whole number; got {value!r}")
    return int(value)


def browser_base(request: gr.Request | None) -> str | None:
    """The app's address as the person's browser reached it (``http(s)://host[:port]``), from the request's
    headers (a proxy's X-Forwarded-Host / -Proto first); None when unknown."""
    if request is None:
        return None
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host")
    if not host:
        return None
    host = host.split(",")[0].strip()
    if not HOST.fullmatch(host):  # a made-up header must not end up in a link
        return None
    scheme = "https" if (headers.get("x-forwarded-proto") or "").split(",")[0].strip() == "https" else "http"
    return f"{scheme}://{host}"


def participant_state(secret: str) -> gr.BrowserState:
    """The participant record kept in the browser, placed at the top level of the page.

    Gradio mounts a tab's components only when the tab is first shown, and a gr.BrowserState reads
    localStorage when it mounts. Inside the Quiz tab, the page-load handler would see the default
    after a reload (unless the Quiz tab happened to be open) and could not resume the deck, so the
    state is rendered into the page's root instead (it has no DOM and does not affect the layout).
    """
    here = get_render_context()
    root = Context.root_block
    if root is not None and here is not root:
        set_render_context(root)
    try:
        return gr.BrowserState(dict(NO_PARTICIPANT), storage_key=BROWSER_STORAGE_KEY, secret=secret)
    finally:
        set_render_context(here)
