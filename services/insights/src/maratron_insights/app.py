"""Wiring of the insights service: a ServiceApp whose work is a JetStream consumer.

Background tasks:
* `consume`: catch up from the store once, then pull JetStream. An event is acked once its
  projection is written; that write also marks the athlete dirty (atomically).
* `refresh`: recomputes the documents of dirty athletes, woken by the consumer after each batch
  (and every `sweep_interval_s` in case of a crash or another replica's leftovers). A burst of
  events for one athlete costs one recomputation, not one per event. Every
  `rollover_interval_s` it also redoes documents of a past local day (midnight passed).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

from maratron_projections import Keys, Projector
from maratron_service.app import ServiceApp

from maratron_insights.handlers import ConsumerOptions, EventConsumer
from maratron_insights.projections import InsightsProjection
from maratron_insights.readmodel import parked_key
from maratron_insights.settings import InsightsSettings
from maratron_insights.state import InsightsState


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InsightsApp(ServiceApp):
    settings: InsightsSettings

    def __init__(self, settings: InsightsSettings) -> None:
        super().__init__(
            settings, None, (), setups=[self._setup], tasks=[self._consume, self._refresh]
        )
        self.settings = settings
        self.insights_keys = Keys(settings.namespace, settings.read_model_version)
        self._projector: Projector | None = None
        self._state: InsightsState | None = None
        self._consumer: EventConsumer | None = None
        self._wake = asyncio.Event()

    @property
    def state(self) -> InsightsState:
        assert self._state is not None, "insights app not started"
        return self._state

    @property
    def consumer(self) -> EventConsumer:
        assert self._consumer is not None, "insights app not started"
        return self._consumer

    @property
    def insights_projector(self) -> Projector:
        assert self._projector is not None, "insights app not started"
        return self._projector

    def _setup(self, app: ServiceApp) -> None:
        s = self.settings
        projection = InsightsProjection()
        self._projector = Projector(
            self.redis, self.store, [projection], self.insights_keys, name="insights"
        )
        self._state = InsightsState(self.redis, self.insights_keys)
        self._consumer = EventConsumer(
            self.nats,
            self.redis,
            s.namespace,
            ConsumerOptions(
                durable=s.durable,
                batch=s.consumer_batch,
                max_deliver=s.consumer_max_deliver,
                backoff_s=s.consumer_backoff_s,
            ),
            event_types=projection.event_types,
            apply_event=lambda event: self.insights_projector.apply([event]),
            after_batch=self._wake_refresher,
            parked_key=parked_key(self.insights_keys),
        )

    async def _wake_refresher(self, athletes: set[str]) -> None:
        self._wake.set()

    async def _consume(self, app: ServiceApp) -> None:
        if self.settings.catch_up_from_store:
            await self.insights_projector.catch_up()
            self._wake.set()
        await self.consumer.run()

    async def _refresh(self, app: ServiceApp) -> None:
        next_rollover = 0.0
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.sweep_interval_s)
            self._wake.clear()
            await self.state.refresh_dirty(utcnow())
            if loop.time() >= next_rollover:
                await self.state.refresh_stale(utcnow())
                next_rollover = loop.time() + self.settings.rollover_interval_s


def build_app(settings: InsightsSettings) -> InsightsApp:
    return InsightsApp(settings)
