"""Browser sessions and idle runs.

A run belongs to the browser session that made it. Closing the tab releases it: it is stopped and freed
after a short grace period, unless the same browser reattaches (a page reload) with the run's token.
A run nobody has watched or controlled for ``idle_s`` (an API client that never came back, a forgotten
tab) is put aside: paused, saved to the server's scratch folder and freed from memory, and brought back,
paused where it was, when its session (or its browser, after a reload) asks for it again.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time

from ganlab.checkpoints import CheckpointError
from ganlab.checkpoints.run import load_run, save_run, saved_run_data
from ganlab.data.errors import DataError
from ganlab.live.run import Run, RunError, SetAside

log = logging.getLogger(__name__)
SET_ASIDE_KEEP_S = 24 * 3600  # a run put aside and never asked for again is deleted after a day


class SessionsMixin:
    """The RunManager's sessions: tokens, reattaching, releasing, idle runs."""

    def bind_token(self, key: str, token: str) -> None:
        """Remember the browser token of a session; runs it creates carry it (to survive a reload)."""
        with self._lock:
            self._tokens[key] = token
            run = self._runs.get(key)
            if run is not None:
                run.token = token

    def attach(self, token: str, key: str) -> bool:
        """Move a released run with this browser token to the new session ``key`` (a page reload)."""
        if not token:
            return False
        with self._lock:
            self._tokens[key] = token
            if key in self._runs:
                return False
            for old_key, run in list(self._runs.items()):
                if run.token == token and run.detached:
                    if run.release_timer is not None:
                        run.release_timer.cancel()
                        run.release_timer = None
                    del self._runs[old_key]
                    run.key, run.detached = key, False
                    self._runs[key] = run
                    self._queue = [key if k == old_key else k for k in self._queue]
                    self._tokens.pop(old_key, None)
                    return True
            for old_key, aside in list(self._set_aside.items()):
                if aside.token == token:
                    self._set_aside[key] = self._set_aside.pop(old_key)
                    return True
        return False

    def has_run_for_token(self, token: str) -> bool:
        with self._lock:
            return bool(token) and (
                any(run.token == token for run in self._runs.values())
                or any(aside.token == token for aside in self._set_aside.values())
            )

    def release(self, key: str, grace_s: float | None = None) -> None:
        """The session closed: stop and free its run after ``grace_s`` unless a reload reattaches it."""
        grace = self.reload_grace_s if grace_s is None else grace_s
        with self._lock:
            self._tokens.pop(key, None)
            run = self._runs.get(key)
            if run is None:
                return
            if run.token and grace > 0:  # only a browser with the token can come back for it
                run.detached = True
                run.release_timer = threading.Timer(grace, self._expire, args=(key, run.run_id))
                run.release_timer.daemon = True
                run.release_timer.start()
                return
        self.close(key)

    def _expire(self, key: str, run_id: str) -> None:
        with self._lock:
            run = self._runs.get(key)
            if run is None or run.run_id != run_id or not run.detached:
                return
        self.close(key)

    def _reap_idle_runs(self) -> None:
        """Every few seconds, put aside the runs nobody has watched or controlled for ``idle_s``: an API
        client that never comes back (or a forgotten tab) frees its memory and its training slot."""
        while not self._closed.wait(min(30.0, max(0.05, self.idle_s / 4))):
            now = time.monotonic()
            with self._lock:
                idle = [key for key, run in self._runs.items() if now - run.touched >= self.idle_s]
            with self._lock:
                stale = [key for key, aside in self._set_aside.items() if now - aside.made_at >= SET_ASIDE_KEEP_S]
                for key in stale:
                    shutil.rmtree(self._set_aside.pop(key).folder, ignore_errors=True)
            for key in idle:
                try:
                    self.put_aside(key)
                except Exception:  # noqa: BLE001 - one broken run must not stop the reaper
                    log.exception("could not put idle run %s aside; closing it", key)
                    self.close(key)

    def put_aside(self, key: str) -> None:
        """Pause the run, save it to scratch and free it; ``_bring_back`` restores it (paused)."""
        with self._lock:
            run = self._runs.get(key)
        if run is None:
            return
        with self._lock:
            handing_back = self._hold(run)
        self._held(run, handing_back)
        folder = self._scratch / "set-aside" / secrets.token_hex(8)
        folder.mkdir(parents=True)
        save_run(run.trainer, folder)
        aside = SetAside(
            folder,
            run.token,
            run.label,
            run.client,
            f"This run was put aside after {self.idle_s / 60:g} minutes with no one watching; it is "
            "back, paused at the same step. Press **Resume** to go on.",
        )
        self.close(key)
        with self._lock:
            self._set_aside[key] = aside

    def _bring_back(self, key: str) -> Run | None:
        with self._lock:
            aside = self._set_aside.pop(key, None)
        if aside is None:
            return None
        try:
            _, data = saved_run_data(aside.folder)
            trainer = load_run(aside.folder, data)
        except (CheckpointError, DataError, RunError, ValueError, OSError) as error:
            log.warning("could not bring back a run put aside: %s", error)
            return None
        finally:
            shutil.rmtree(aside.folder, ignore_errors=True)
        self.create(key, trainer.config, trainer.data, label=aside.label, trainer=trainer, client=aside.client)
        with self._lock:
            run = self._runs[key]
        with run.lock:
            run.step_note = aside.step_note
        return run
