import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Config } from '../config/config.js';
import type { EventCatalog } from '../domain/catalog/index.js';
import { NotFound } from '../domain/errors.js';
import { CATALOG, CONFIG, LOGGER, SECRETS } from '../modules/core/core.module.js';
import { Database } from '../modules/database/database.js';
import { EVENT_STORE } from '../modules/event-store/event-store.module.js';
import type { EventStore } from '../modules/event-store/event-store.port.js';
import { Notifications } from '../modules/event-store/postgres/notifications.js';
import type { Logger } from '../modules/logging/logger.js';
import { KeyVault } from '../modules/privacy/key-vault.js';
import type { Secrets } from '../modules/privacy/secrets.js';
import { AnalyticsProjection } from './analytics/analytics.projection.js';
import { JourneyScheduler } from './journey/journey-scheduler.js';
import { JourneyProjection } from './journey/journey.projection.js';
import { ProfileProjection } from './profile/profile.projection.js';
import { TimelineProjection } from './timeline/timeline.projection.js';
import type { Projection } from './projection.js';
import { claimCheckpoints, ProjectionRunner } from './runner/projection-runner.js';

export const PROJECTION_CONTROL_CHANNEL = 'trailmap_projection_control';
/** Lag is counted up to this many events; beyond it, the figure says "at least". */
const LAG_COUNT_CAP = 1_000_000;
/** How often a rebuild's progress counts the events left (see rebuildAndWait). */
const LAG_RECOUNT_MS = 5_000;

export type ProjectionState = 'CATCHING_UP' | 'LIVE' | 'REBUILDING' | 'STOPPED' | 'FAILED';

/** A projection's checkpoint as operators see it; its lag is counted apart (`lag`), only when asked for. */
export interface ProjectionStatus {
  name: string;
  state: ProjectionState;
  position: string | null;
  processedEvents: number;
  eventsPerSecond: number;
  lastError: string | null;
  lastErrorEventId: string | null;
  updatedAt: Date | null;
  /** True while some instance runs the projection. */
  active: boolean;
  rebuild: { position: string | null; processedEvents: number } | null;
}

interface CheckpointRow {
  name: string;
  position: string | null;
  processed: string;
  state: ProjectionState;
  events_per_second: number;
  last_error: string | null;
  last_error_event: string | null;
  updated_at: Date;
  rebuilding: boolean;
  rebuild_requested_at: Date | null;
  rebuild_position: string | null;
  rebuild_processed: string | null;
  active: boolean;
}

/** The projections of this instance: their runners, the scheduler, and what operators see and ask. */
@Injectable()
export class ProjectionsService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly projections: Projection[];
  private readonly runners: ProjectionRunner[] = [];
  private readonly control: Notifications;
  private readonly scheduler: JourneyScheduler;
  private schedulerTimer?: NodeJS.Timeout;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CATALOG) private readonly catalog: EventCatalog,
    @Inject(SECRETS) secrets: Secrets,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly database: Database,
    private readonly keys: KeyVault,
  ) {
    this.projections = [
      new ProfileProjection(secrets.identityKey),
      new JourneyProjection(secrets.pseudonymKey),
      new AnalyticsProjection(secrets.pseudonymKey, catalog),
      new TimelineProjection(),
    ];
    this.control = new Notifications(database, PROJECTION_CONTROL_CHANNEL);
    this.scheduler = new JourneyScheduler(database, store, catalog, logger, {
      dormantAfterMs: config.TRAILMAP_DORMANT_AFTER,
      cartAbandonedAfterMs: config.TRAILMAP_CART_ABANDONED_AFTER,
    });
  }

  async onApplicationBootstrap() {
    if (this.config.TRAILMAP_PROJECTIONS === 'off') return;
    // Before the instance takes any event (it listens once this is done): those it takes are applied live.
    await claimCheckpoints({ queryable: this.database, store: this.store, logger: this.logger }, this.projections.map((projection) => projection.name));
    // `worker`: the projections thread's own services run them.
    if (this.config.TRAILMAP_PROJECTIONS !== 'on') return;
    // A runner reads its checkpoint once listening: a rebuild asked for after that read is heard.
    await this.control.listening();
    this.startRunners(this.projections.map((projection) => projection.name));
    this.schedulerTimer = setInterval(() => void this.runScheduler(), this.config.TRAILMAP_SCHEDULER_INTERVAL);
  }

  /** Runs the named projections in this process too; each stays active on one instance only. */
  startRunners(names: string[]) {
    for (const projection of this.projections.filter(({ name }) => names.includes(name))) {
      const runner = new ProjectionRunner(projection, {
        database: this.database,
        store: this.store,
        catalog: this.catalog,
        keys: this.keys,
        logger: this.logger,
        onControl: (listener) => this.control.onNotification(listener),
      });
      runner.start();
      this.runners.push(runner);
    }
  }

  /**
   * Rebuilds a projection and waits for the swap, reporting progress: on the instance that runs it,
   * or in this process when none does (an operator command with the server stopped).
   */
  async rebuildAndWait(name: string, onProgress: (status: ProjectionStatus, remaining: number) => void, pollMs = 250): Promise<ProjectionStatus> {
    let status = await this.requestRebuild(name);
    if (!status.active) this.startRunners([name]);
    // The events left are counted now and then, and in between estimated from those applied since: a
    // count reads the log's index up to a million entries, too much to repeat every poll.
    let counted: { at: number; rebuilding: boolean; processed: number; remaining: number } | undefined;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      status = await this.status(name);
      const rebuilding = status.rebuild !== null;
      const processed = status.rebuild?.processedEvents ?? status.processedEvents;
      if (!counted || counted.rebuilding !== rebuilding || Date.now() - counted.at >= LAG_RECOUNT_MS) {
        counted = { at: Date.now(), rebuilding, processed, remaining: await this.lag(status.rebuild ? status.rebuild.position : status.position) };
      }
      onProgress(status, Math.max(0, counted.remaining - (processed - counted.processed)));
      if (status.state === 'FAILED') throw new Error(`The rebuild of ${name} failed: ${status.lastError}`);
      if (status.rebuild === null && status.state === 'LIVE') return status;
    }
  }

  async onModuleDestroy() {
    clearInterval(this.schedulerTimer);
    await Promise.all(this.runners.map((runner) => runner.stop()));
    await this.control.close();
  }

  async statuses(): Promise<ProjectionStatus[]> {
    const { rows } = await this.database.query<CheckpointRow>(
      `SELECT c.*, EXISTS (
         SELECT 1 FROM pg_locks l
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(c.name, 7220145)
       ) AS active
       FROM projection_checkpoints c`,
    );
    const byName = new Map(rows.map((row) => [row.name, row]));
    return this.projections.map(({ name }) => this.statusOf(name, byName.get(name)));
  }

  async status(name: string): Promise<ProjectionStatus> {
    const status = (await this.statuses()).find((candidate) => candidate.name === name);
    if (!status) throw new NotFound(`There is no projection named "${name}"; projections are ${this.projections.map((p) => p.name).join(', ')}.`);
    return status;
  }

  /** Asks the instance that runs the projection to rebuild it by replay; returns at once. */
  async requestRebuild(name: string): Promise<ProjectionStatus> {
    await this.status(name);
    await this.database.query(
      `INSERT INTO projection_checkpoints (name, rebuild_requested_at) VALUES ($1, now())
       ON CONFLICT (name) DO UPDATE SET rebuild_requested_at = now(), updated_at = now()`,
      [name],
    );
    await this.database.query('SELECT pg_notify($1, $2)', [PROJECTION_CONTROL_CHANNEL, name]);
    this.logger.info({ projection: name }, 'rebuild requested');
    return this.status(name);
  }

  /** One scheduler scan, on one instance at a time. */
  async runScheduler(now = new Date().toISOString()): Promise<number> {
    try {
      return await this.database.transaction(async (client) => {
        const { rows } = await client.query<{ leader: boolean }>("SELECT pg_try_advisory_xact_lock(hashtextextended('journey-scheduler', 7220145)) AS leader");
        return rows[0]!.leader ? this.scheduler.tick(now) : 0;
      });
    } catch (error) {
      this.logger.warn({ err: error }, 'scheduler scan failed; it runs again at the next interval');
      return 0;
    }
  }

  private statusOf(name: string, row: CheckpointRow | undefined): ProjectionStatus {
    if (!row) {
      return { name, state: 'STOPPED', position: null, processedEvents: 0, eventsPerSecond: 0, lastError: null, lastErrorEventId: null, updatedAt: null, active: false, rebuild: null };
    }
    const rebuilding = row.rebuilding || row.rebuild_requested_at !== null;
    const recent = Date.now() - row.updated_at.getTime() < 10_000;
    const state: ProjectionState = row.state === 'FAILED' ? 'FAILED' : !row.active ? 'STOPPED' : rebuilding ? 'REBUILDING' : row.state;
    return {
      name,
      state,
      position: row.position,
      processedEvents: Number(row.processed),
      eventsPerSecond: recent && row.active ? row.events_per_second : 0,
      lastError: row.last_error,
      lastErrorEventId: row.last_error_event,
      updatedAt: row.updated_at,
      active: row.active,
      rebuild: rebuilding ? { position: row.rebuild_position, processedEvents: Number(row.rebuild_processed ?? 0) } : null,
    };
  }

  /**
   * The events of the log after a checkpoint's position (all of it for none), counted up to a cap. The
   * count scans the log's index from there, up to a million entries: statuses leave it out, and callers ask
   * for the lags they show.
   */
  lag(position: string | null): Promise<number> {
    return this.store.countAfter(position ?? undefined, LAG_COUNT_CAP);
  }
}
