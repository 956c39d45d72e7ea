"""The quiz's lean participant route: ``/quiz/{CODE}`` and a tiny JSON API, on the app's own server.

A class of 100 answering every two seconds is the quiz's normal load, and through Gradio's events
each answer costs 15-20 ms of server CPU, three quarters of it Gradio's queue and processing. These
are plain Starlette routes added to the FastAPI app Gradio builds (``launch(app_kwargs={"routes":
...})``), over the same ``QuizStore`` (same database, tokens and rules); an answer costs one
transaction (the answer recorded, the next trial served) and a small JSON. No gradio import here.

    GET  /quiz/{CODE}       the participant page (participant.html): phone-sized, keys on a desktop
    POST /quiz/api/join     {code, nickname}                    -> {token, quiz, trial | done}
    POST /quiz/api/resume   {token}                             -> {token, quiz, trial | done}
    POST /quiz/api/answer   {token, trial_id, number, answer, confidence?, client_ms?}
                                                                -> {feedback, trial | done}

Never leaking the answer, as on the Gradio path (docs/QUIZ.md): a trial is its random ``trial_id``,
its position, and images as ``data:`` URLs of PNGs from the store's one pipeline, at the pools' own
size (every image of a quiz has the same length; the page scales them up by nearest neighbour);
timed trials carry the exposure and a fresh noise mask. The truth, the source and image ids stay on
the server; feedback comes only after an answer is committed, and only where the quiz gives it.
Responses are never compressed (``Content-Encoding: identity``: Gradio's Brotli middleware leaves
them alone, and a compressed size would follow image content) and never cached.

Budgets: a request body is at most ``MAX_BODY`` bytes; a new participant counts against the address's
join limit (``ganlab.quiz.limits``, shared with the Gradio view) and the quiz's participant cap (the
store); resuming with a token is not a join.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ganlab.quiz import ClientTrial, QuizError, QuizInfo, QuizStore
from ganlab.quiz.deck import normalise_code
from ganlab.quiz.limits import JoinRateLimit

MAX_BODY = 2048  # bytes: a token, a trial id, an answer and two numbers fit many times over
PAGE_FILE = Path(__file__).with_name("participant.html")
NO_STORE = {"Cache-Control": "no-store", "Content-Encoding": "identity", "X-Content-Type-Options": "nosniff"}
PAGE_HEADERS = {
    **NO_STORE,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


class RouteError(Exception):
    """A request refused with ``status`` and one sentence for the participant."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return Response(body, status_code=status, media_type="application/json", headers=NO_STORE)


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def trial_json(trial: ClientTrial) -> dict[str, Any]:
    """The browser's copy of a trial: the same fields as ``ClientTrial``, images as data URLs."""
    return {
        "trial_id": trial.trial_id,
        "number": trial.trial_number,
        "total": trial.total,
        "practice": trial.practice,
        "mode": trial.mode,
        "images": [_data_url(png) for png in trial.images],
        "exposure_ms": trial.exposure_ms,
        "mask": _data_url(trial.mask) if trial.mask is not None else None,
    }


def quiz_json(info: QuizInfo) -> dict[str, Any]:
    return {
        "code": info.code,
        "title": info.title,
        "mode": info.mode,
        "deck_size": info.deck_size,
        "practice_trials": info.practice_trials,
        "feedback": info.feedback,
        "timed": info.timed,
        "ask_confidence": info.ask_confidence,
        "choices": list(info.choices),
        "instructions": info.instructions,
    }


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object a request carries, read up to MAX_BODY bytes and no further."""
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise RouteError(411, "send the request body with a Content-Length")
    if int(length) > MAX_BODY:
        raise RouteError(413, f"the request body is too large (at most {MAX_BODY} bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise RouteError(413, f"the request body is too large (at most {MAX_BODY} bytes)")
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise RouteError(400, "the request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise RouteError(400, "the request body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, limit: int = 200, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise RouteError(400, f"{name} must be text of 1 to {limit} characters")
    return value.strip()


class ParticipantRoute:
    """The route's handlers over one ``QuizStore`` and the app's ``JoinRateLimit``."""

    def __init__(self, store: QuizStore, join_limit: JoinRateLimit) -> None:
        self.store = store
        self.join_limit = join_limit
        self.page_html = PAGE_FILE.read_text(encoding="utf-8")

    def routes(self) -> list[Route]:
        return [
            Route("/quiz/api/join", self._guarded(self.join), methods=["POST"]),
            Route("/quiz/api/resume", self._guarded(self.resume), methods=["POST"]),
            Route("/quiz/api/answer", self._guarded(self.answer), methods=["POST"]),
            Route("/quiz/{code}", self.page, methods=["GET"]),
        ]

    @staticmethod
    def _guarded(handler):
        """Run ``handler(request) -> payload``; every refusal becomes {"error": sentence} with its status."""

        async def endpoint(request: Request) -> Response:
            try:
                return _json(await handler(request))
            except RouteError as error:
                return _json({"error": str(error)}, error.status)
            except QuizError as error:
                return _json({"error": str(error)}, 400)

        return endpoint

    async def page(self, request: Request) -> Response:
        try:
            normalise_code(request.path_params["code"])
        except QuizError as error:
            return Response(f"{error}\n", status_code=404, media_type="text/plain", headers=NO_STORE)
        return Response(self.page_html, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    async def join(self, request: Request) -> dict[str, Any]:
        data = await _body(request)
        code, nickname = _text(data, "code", 40), _text(data, "nickname", 100)
        client = request.client.host if request.client is not None else None
        try:
            self.join_limit.take(client)  # a new participant: counted against this address
        except QuizError as error:
            raise RouteError(429, str(error)) from None
        joined = await run_in_threadpool(self.store.join, code, nickname)
        return {"token": joined.token, "nickname": joined.nickname, **(await self._deck(joined.token, joined.quiz))}

    async def resume(self, request: Request) -> dict[str, Any]:
        token = _text(await _body(request), "token", 128)
        info = await run_in_threadpool(self.store.participant_info, token)
        return {"token": token, **(await self._deck(token, info))}

    async def _deck(self, token: str, info: QuizInfo) -> dict[str, Any]:
        """The quiz's description and the current trial (served now), or the score once the deck is done."""
        trial = await run_in_threadpool(lambda: self.store.render_trial(token, native_size=True))
        return {"quiz": quiz_json(info), **(await self._trial_or_done(token, trial))}

    async def _trial_or_done(self, token: str, trial: ClientTrial | None) -> dict[str, Any]:
        """{"trial": the trial to show, "done": None}, or once the deck is finished {"trial": None, "done": the score}."""
        if trial is not None:
            return {"trial": trial_json(trial), "done": None}
        progress = await run_in_threadpool(self.store.progress, token)
        done = {"nickname": progress.nickname, "correct": progress.correct, "scored": progress.scored}
        return {"trial": None, "done": done}

    async def answer(self, request: Request) -> dict[str, Any]:
        data = await _body(request)
        token, trial_id, choice = _text(data, "token", 128), _text(data, "trial_id", 64), _text(data, "answer", 10)
        receipt, trial = await run_in_threadpool(
            lambda: self.store.answer_and_next(
                token,
                data.get("number"),
                choice,
                data.get("confidence"),
                data.get("client_ms"),
                trial_id=trial_id,
                native_size=True,
            )
        )
        feedback = None
        if receipt.feedback is not None:
            feedback = {"correct": receipt.feedback.correct, "truth": receipt.feedback.truth}
        return {"duplicate": receipt.duplicate, "feedback": feedback, **(await self._trial_or_done(token, trial))}


def participant_routes(store: QuizStore, join_limit: JoinRateLimit) -> list[Route]:
    """The routes to add to the app (``launch(app_kwargs={"routes": ...})``)."""
    return ParticipantRoute(store, join_limit).routes()
