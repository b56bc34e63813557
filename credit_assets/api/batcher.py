"""Micro-batches: requests that arrive while a batch is being decided are decided together in the next one.

One thread decides: it takes every waiting request (up to `max_rows` applications), scores them with one
champion through the batch's code, commits all their decisions to the log in one transaction and only then
answers them. The pandas work of a decision costs about the same for 1 row as for 30, and a commit costs one
sync however many rows it holds, so under load the batches grow and the cost per decision falls; an idle
service decides a lone request at once (nothing waits for a batch to fill).

An application is decided once: the same record sent again gets its logged decision back (a retry after a lost
answer), the same ID with other values is refused; nothing is decided twice.
"""

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import sqlalchemy as sa

from credit_assets.api.champion import ChampionWatcher
from credit_assets.core.contract import schema
from credit_assets.core.decisions.live import RecordFailure, decide_frame, records_frame, value_failures
from credit_assets.core.decisions.log import DecisionLog, LiveDecision, new_decision_id, now_utc, timestamp
from credit_assets.core.scoring import NO_REASON, Cutoffs, reason_columns

LOGGER = logging.getLogger(__name__)


class NoChampion(RuntimeError):
    """No model is in force: nothing can be decided."""


class AlreadyDecided(ValueError):
    """An application ID already decided with other values."""

    def __init__(self, application_ids: list[int]) -> None:
        super().__init__(f"already decided with other values: {application_ids[:5]}")
        self.application_ids = application_ids


class ContractBroken(ValueError):
    """Records of one request that break the contract's row rules: none of them is decided."""

    def __init__(self, failures: list[RecordFailure]) -> None:
        super().__init__(f"{len(failures)} contract failure(s)")
        self.failures = failures


@dataclass
class Job:
    """One request's well-shaped applications, the caller's token name and where its answer goes."""

    inputs: list[dict]
    hashes: list[str]
    caller: str
    answer: Future = field(default_factory=Future)

    @property
    def ids(self) -> list[int]:
        return [int(record[schema.ID_COLUMN]) for record in self.inputs]


@dataclass(frozen=True)
class Decided:
    decisions: list[LiveDecision]
    replayed: bool = False  # every application was decided before; this is its logged answer


def _decisions(job: Job, table: pd.DataFrame, model_version: str, decided_at: str) -> list[LiveDecision]:
    reasons = table[reason_columns()].to_numpy()
    return [
        LiveDecision(
            decision_id=new_decision_id(),
            decided_at=decided_at,
            application_id=int(application_id),
            request_sha256=digest,
            inputs=record,
            probability=float(probability),
            decision=str(decision),
            reasons=tuple(text for text in reasons[i] if text != NO_REASON),
            model_version=model_version,
            caller=job.caller,
        )
        for i, (application_id, probability, decision, record, digest) in enumerate(
            zip(
                table[schema.ID_COLUMN],
                table["default_probability"],
                table["decision"],
                job.inputs,
                job.hashes,
                strict=True,
            )
        )
    ]


class DecisionBatcher:
    """The deciding thread and its queue."""

    def __init__(self, log: DecisionLog, champion: ChampionWatcher, cutoffs: Cutoffs, max_rows: int) -> None:
        self.log, self.champion, self.cutoffs, self.max_rows = log, champion, cutoffs, max_rows
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="decider", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def submit(self, job: Job) -> Future:
        self._queue.put(job)
        return job.answer

    def _take(self) -> list[Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        jobs, rows = [first], len(first.inputs)
        while rows < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # stop after this batch
                break
            jobs.append(job)
            rows += len(job.inputs)
        return jobs

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            try:
                self._decide(jobs)
            except Exception as error:  # the log or the model failed: nothing of this batch was answered yet
                LOGGER.exception("a micro-batch of %d request(s) failed", len(jobs))
                for job in jobs:
                    if not job.answer.done():
                        job.answer.set_exception(error)

    def _decide(self, jobs: list[Job], retried: bool = False) -> None:
        model = self.champion.current.model
        if model is None:
            for job in jobs:
                job.answer.set_exception(NoChampion(self.champion.current.why_none))
            return
        records = [record for job in jobs for record in job.inputs]
        frame = records_frame(records)  # typed once: judged by the contract, then the fresh jobs' rows decided
        starts = dict(zip(map(id, jobs), np.cumsum([0, *(len(job.inputs) for job in jobs)])[:-1], strict=True))
        fresh = self._settle_known(self._keeping_contract(jobs, frame, records))
        if not fresh:
            return
        rows = np.concatenate([np.arange(starts[id(job)], starts[id(job)] + len(job.inputs)) for job in fresh])
        table = decide_frame(frame.iloc[rows].reset_index(drop=True), model, self.cutoffs)
        decided_at, start, decided = timestamp(now_utc()), 0, []
        for job in fresh:
            decided.append(_decisions(job, table.iloc[start : start + len(job.inputs)], model.version, decided_at))
            start += len(job.inputs)
        try:
            self.log.append([decision for batch in decided for decision in batch])
        except sa.exc.IntegrityError:
            if retried:
                raise
            return self._decide(fresh, retried=True)  # another process decided one of these IDs meanwhile
        for job, decisions in zip(fresh, decided, strict=True):
            job.answer.set_result(Decided(decisions))

    def _keeping_contract(self, jobs: list[Job], frame: pd.DataFrame, records: list[dict]) -> list[Job]:
        """The jobs whose records keep the contract's row rules, judged for the whole batch at once (the rules cost
        about the same for one record as for a hundred); the others are answered with their failures."""
        failures = value_failures(frame, records)
        kept, start = [], 0
        for job in jobs:
            own = [replace(f, record=f.record - start) for f in failures if start <= f.record < start + len(job.inputs)]
            if own:
                job.answer.set_exception(ContractBroken(own))
            else:
                kept.append(job)
            start += len(job.inputs)
        return kept

    def _settle_known(self, jobs: list[Job]) -> list[Job]:
        """Answer the jobs whose applications were decided before (replay or refusal); the rest, to decide now. A job
        sharing an ID with an earlier job of this batch waits for the next batch, which will know its decision."""
        known = self.log.by_application(i for job in jobs for i in job.ids)
        fresh, taken = [], set()
        for job in jobs:
            ids = job.ids
            if taken.intersection(ids):
                self._queue.put(job)
                continue
            logged = [known.get(i) for i in ids]
            if all(logged) and all(d.request_sha256 == h for d, h in zip(logged, job.hashes, strict=True)):
                job.answer.set_result(Decided(logged, replayed=True))  # type: ignore[arg-type]
            elif any(logged):
                job.answer.set_exception(AlreadyDecided([i for i, d in zip(ids, logged, strict=True) if d]))
            else:
                fresh.append(job)
                taken.update(ids)
        return fresh
