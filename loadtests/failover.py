"""A client that knows both uplinks and fails over as a hospital's app would.

On a connection error or a 5xx it retries on the other uplink, with the same
idempotency key, within a bounded budget of attempts and seconds. Every attempt is
one line of the per-request log; the last attempt of an operation carries
``final=1``, so availability counts what users saw and the timeline what the wire saw.
"""

from __future__ import annotations

import csv
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import gevent
from locust.contrib.fasthttp import FastHttpSession

from harness.core.request_log import LOG_FIELDS
from loadtests.wire import cut_short


@dataclass(frozen=True)
class RetryBudget:
    """How hard one operation tries: attempts in all, seconds in all, and the pause before each retry."""

    attempts: int = 10
    seconds: float = 20.0
    first_pause_s: float = 0.1
    home_after_s: float = 10.0
    """After a failover, how long a client stays on the other uplink before trying its own again."""


class RequestLog:
    """One CSV per process, since distributed workers share nothing but the filesystem."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"requests-{os.uname().nodename}-{os.getpid()}.csv"
        self._file: TextIO = self.path.open("w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(LOG_FIELDS)

    def write(self, row: Iterable[Any]) -> None:
        self._writer.writerow(row)

    def close(self) -> None:
        self._file.close()


@dataclass
class Outcome:
    """What the user saw: the last response (or none), whether it was acceptable, and why not."""

    ok: bool
    status: int
    body: Any
    uplink: str
    attempts: int
    error: str = ""


Check = Callable[[int, Any], str | None]
"""Given status and JSON body, why the response is wrong, or None when it is what the flow expects."""


class FailoverClient:
    """Requests through one home uplink, failing over to the other on errors."""

    def __init__(self, session: FastHttpSession, uplinks: list[tuple[str, str]], home: int,
                 log: RequestLog, budget: RetryBudget) -> None:
        if len(uplinks) < 1:
            raise ValueError("the failover client needs at least one uplink URL")
        self.session = session
        self.uplinks = uplinks
        self.home = home % len(uplinks)
        self.current = self.home
        self.log = log
        self.budget = budget
        self._away_since: float | None = None
        self.client_id = uuid.uuid4().hex[:12]
        """This user's mark in the request log: a user's own error windows are measured from it."""

    def _uplink_for_attempt(self) -> int:
        if self._away_since is not None and time.monotonic() - self._away_since > self.budget.home_after_s:
            self.current, self._away_since = self.home, None
        return self.current

    def _fail_over(self) -> None:
        self.current = (self.current + 1) % len(self.uplinks)
        self._away_since = None if self.current == self.home else time.monotonic()

    def call(self, method: str, path: str, name: str, check: Check, session: str | None = None,
             payload: Any = None, write: bool = False) -> Outcome:
        """One user-visible operation, attempted until it succeeds, fails for good, or the budget ends.

        ``session`` is the caller's session token (from registration); it goes in a header, never a log.
        """
        headers = {"Accept": "application/json"}
        if session:
            headers["Authorization"] = f"Bearer {session}"
        operation = uuid.uuid4().hex
        if write:
            headers["Idempotency-Key"] = operation
        started = time.monotonic()
        pause = self.budget.first_pause_s
        attempt = 0
        while True:
            attempt += 1
            index = self._uplink_for_attempt()
            uplink, base = self.uplinks[index]
            sent_at = time.time()
            outcome, retryable = self._attempt(method, base + path, name, check, headers, payload, uplink, attempt)
            latency_ms = (time.time() - sent_at) * 1000
            spent = time.monotonic() - started
            last = not retryable or attempt >= self.budget.attempts or spent + pause > self.budget.seconds
            self.log.write((f"{sent_at:.3f}", name, uplink, attempt, f"{latency_ms:.1f}", outcome.status,
                            int(outcome.ok), int(last), operation, outcome.error, self.client_id))
            if last:
                return outcome
            self._fail_over()
            gevent.sleep(pause)  # retry pacing, bounded by the budget
            pause = min(pause * 2, 2.0)

    def _attempt(self, method: str, url: str, name: str, check: Check, headers: dict[str, str], payload: Any,
                 uplink: str, attempt: int) -> tuple[Outcome, bool]:
        with self.session.request(method, url, name=name, headers=headers, json=payload,
                                  catch_response=True) as response:
            status = response.status_code or 0
            if status == 0 or status >= 500:
                error = f"{status or 'connection error'}: {str(response.error or response.text)[:120]}"
                response.failure(f"attempt {attempt} via {uplink}: {error}")
                return Outcome(False, status, None, uplink, attempt, error), True
            try:
                body = response.json()
            except ValueError:
                if cut_short(response):  # the line went down mid-response: the wire's failure, not the service's
                    error = f"connection error: response cut short after {len(response.content or b'')} bytes"
                    response.failure(f"attempt {attempt} via {uplink}: {error}")
                    return Outcome(False, status, None, uplink, attempt, error), True
                response.failure(f"not JSON: {response.text[:80]!r}")
                return Outcome(False, status, None, uplink, attempt, "response is not JSON"), False
            problem = check(status, body)
            if problem:
                response.failure(problem)
                return Outcome(False, status, body, uplink, attempt, problem), False
            response.success()
            return Outcome(True, status, body, uplink, attempt), False


def expect(*statuses: int, fields: tuple[str, ...] = ()) -> Check:
    """A check: the status is one of ``statuses`` and, on 2xx, the body has ``fields``."""
    def check(status: int, body: Any) -> str | None:
        if status not in statuses:
            detail = body.get("error") if isinstance(body, dict) else body
            return f"status {status}, expected {'/'.join(map(str, statuses))}: {detail}"
        if 200 <= status < 300:
            missing = [f for f in fields if not isinstance(body, dict) or f not in body]
            if missing:
                return f"response lacks {', '.join(missing)}"
        return None
    return check
