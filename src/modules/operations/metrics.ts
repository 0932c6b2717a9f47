import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus metrics of one instance (its own registry, so instances in one process stay apart).
 * Gauges that describe shared state (projection lag, pool use, subscriptions) are read when scraped.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly ingestedEvents = new Counter({
    name: 'trailmap_ingested_events_total',
    help: 'Events accepted by ingestion (duplicates included), by door.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly duplicateEvents = new Counter({
    name: 'trailmap_duplicate_events_total',
    help: 'Events received again (same id) and stored nothing, by door.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly ingestDuration = new Histogram({
    name: 'trailmap_ingest_request_duration_seconds',
    help: 'Time to validate, attribute, seal and durably append one ingestion request, by door and outcome.',
    labelNames: ['source', 'outcome'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });

  readonly rejectedEvents = new Counter({
    name: 'trailmap_rejected_events_total',
    help: 'Problems found in rejected ingestion requests, by door and rule (required, type, unknown_event_type, already_linked, …).',
    labelNames: ['source', 'rule'] as const,
    registers: [this.registry],
  });

  readonly appendConflicts = new Counter({
    name: 'trailmap_append_conflicts_total',
    help: 'Appends refused by the event store: an expected revision overtaken, or an event id already in another stream.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor(
    readonly collectors: {
      projections: () => Promise<{ name: string; state: string; position: string | null; processedEvents: number; eventsPerSecond: number }[]>;
      /** The events of the log after a projection's position: a count, made once a scrape for each projection. */
      projectionLag: (position: string | null) => Promise<number>;
      pool: () => { total: number; idle: number; waiting: number };
      subscriptions: () => Record<string, number>;
    },
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'trailmap_' });
    const registers = [this.registry];
    new Gauge({
      name: 'trailmap_projection_lag_events',
      help: 'Events in the log not yet applied by the projection: the first figure an operator watches.',
      labelNames: ['projection'] as const,
      registers,
      collect: async function (this: Gauge<'projection'>) {
        for (const status of await collectors.projections()) this.set({ projection: status.name }, await collectors.projectionLag(status.position));
      },
    });
    new Gauge({
      name: 'trailmap_projection_events_per_second',
      help: 'Events applied per second by the projection, over the last ten seconds.',
      labelNames: ['projection'] as const,
      registers,
      collect: async function (this: Gauge<'projection'>) {
        for (const status of await collectors.projections()) this.set({ projection: status.name }, status.eventsPerSecond);
      },
    });
    new Gauge({
      name: 'trailmap_projection_processed_events',
      help: 'Events the projection has applied since its last rebuild.',
      labelNames: ['projection'] as const,
      registers,
      collect: async function (this: Gauge<'projection'>) {
        for (const status of await collectors.projections()) this.set({ projection: status.name }, status.processedEvents);
      },
    });
    new Gauge({
      name: 'trailmap_projection_state',
      help: '1 for the state each projection is in (CATCHING_UP, LIVE, REBUILDING, STOPPED, FAILED).',
      labelNames: ['projection', 'state'] as const,
      registers,
      collect: async function (this: Gauge<'projection' | 'state'>) {
        this.reset();
        for (const status of await collectors.projections()) this.set({ projection: status.name, state: status.state }, 1);
      },
    });
    new Gauge({
      name: 'trailmap_database_pool_connections',
      help: 'Connections of this instance’s PostgreSQL pool: total, idle, and requests waiting for one.',
      labelNames: ['state'] as const,
      registers,
      collect: function (this: Gauge<'state'>) {
        const pool = collectors.pool();
        this.set({ state: 'total' }, pool.total);
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'waiting' }, pool.waiting);
      },
    });
    new Gauge({
      name: 'trailmap_subscriptions',
      help: 'Open GraphQL subscriptions on this instance, by subscription.',
      labelNames: ['subscription'] as const,
      registers,
      collect: function (this: Gauge<'subscription'>) {
        for (const [subscription, count] of Object.entries(collectors.subscriptions())) this.set({ subscription }, count);
      },
    });
  }
}
