import type * as CatalogModule from '../src/domain/catalog/index.js';
import type { CustomerEvent } from '../src/domain/customer-event.js';
import type * as PseudonymizedModule from '../src/domain/analytics/pseudonymized-event.js';
import type * as SegmentModule from '../src/domain/ingestion/segment.js';
import type * as JourneyModule from '../src/domain/journey/journey.js';
import type * as ProfileModule from '../src/domain/profile/index.js';
import { benchOptions } from './lib/args.js';
import { demoStart, DEMO_DAYS } from './lib/workload.js';
import { fromDist, trailmap } from './lib/trailmap.js';
import { median } from './lib/stats.js';

export const description = 'diagnostic, no database: µs of CPU per event of each projection fold (profile, journey, analytics pseudonymization) over the demo journeys, in memory and with the states stored as JSON between batches';

/**
 * The projections' pure folds, in this process, over the demo journeys as projections see them
 * (personal data readable): where a projection's CPU per event goes before any SQL. Not one of issue
 * 8's figures and no results file; a quick check of a change to the domain code (`--events`, `--runs`).
 */
export async function folds(argv: string[]): Promise<void> {
  const options = benchOptions(argv);
  const events = options.number('events', 60_000);
  const runs = options.number('runs', 5);
  const [{ generateJourneys }, { fromSegmentMessage }, catalogModule, { evolveProfile }, { evolveJourney }, { pseudonymizedEvent }] = await Promise.all([
    trailmap.journeys(),
    fromDist<typeof SegmentModule>('domain/ingestion/segment.js'),
    fromDist<typeof CatalogModule>('domain/catalog/index.js'),
    fromDist<typeof ProfileModule>('domain/profile/index.js'),
    fromDist<typeof JourneyModule>('domain/journey/journey.js'),
    fromDist<typeof PseudonymizedModule>('domain/analytics/pseudonymized-event.js'),
  ]);
  const catalog = catalogModule.createCatalog(catalogModule.defaultEventTypes, [], { allowUnknownTypes: false });
  const receivedAt = new Date().toISOString();
  const revisions = new Map<string, number>();
  const stream: CustomerEvent[] = [];
  for (const message of generateJourneys({ customers: Math.ceil(events / 20), seed: 1, start: demoStart(), days: DEMO_DAYS })) {
    if (stream.length >= events) break;
    const event = fromSegmentMessage(message.type, message, { receivedAt });
    const customerId = typeof event.userId === 'string' ? event.userId : `anon:${String(event.anonymousId)}`;
    const revision = revisions.get(customerId) ?? 0;
    revisions.set(customerId, revision + 1);
    const type = String(event.type);
    stream.push({
      id: String(stream.length),
      type,
      category: catalog.categoryOf(type) ?? 'ENGAGEMENT',
      customerId,
      revision,
      position: String(stream.length).padStart(20, '0'),
      occurredAt: new Date(String(event.occurredAt)).toISOString(),
      recordedAt: receivedAt,
      ...(typeof event.userId === 'string' && { userId: event.userId }),
      ...(typeof event.anonymousId === 'string' && { anonymousId: event.anonymousId }),
      ...(typeof event.channel === 'string' && { channel: event.channel }),
      properties: (event.properties ?? {}) as Record<string, unknown>,
      traits: (event.traits ?? {}) as Record<string, unknown>,
      context: (event.context ?? {}) as Record<string, unknown>,
      personalDataReadable: true,
    });
  }
  const key = Buffer.alloc(32, 7);
  const folds: Record<string, (state: unknown, event: CustomerEvent) => unknown> = {
    profile: (state, event) => evolveProfile(state as Parameters<typeof evolveProfile>[0], event),
    journey: (state, event) => evolveJourney(state as Parameters<typeof evolveJourney>[0], event).state,
    analytics: (_state, event) => pseudonymizedEvent(event, key, catalog),
  };
  process.stdout.write(`${stream.length.toLocaleString()} demo events of ${revisions.size.toLocaleString()} customers, median of ${runs} runs (the first run warms up and is not counted)\n`);
  for (const [name, fold] of Object.entries(folds)) {
    const perEvent: number[] = [];
    for (let run = 0; run <= runs; run++) {
      const states = new Map<string, unknown>();
      const started = performance.now();
      for (const event of stream) states.set(event.customerId, fold(states.get(event.customerId) ?? null, event));
      if (run > 0) perEvent.push(((performance.now() - started) * 1000) / stream.length);
    }
    process.stdout.write(`  ${name.padEnd(10)} ${median(perEvent).toFixed(2)} µs/event\n`);
  }
  // As the projections run them: each batch parses the states it touches from JSON and writes back those it changed.
  for (const name of ['profile', 'journey']) {
    const fold = folds[name]!;
    const perEvent: number[] = [];
    for (let run = 0; run <= runs; run++) {
      const stored = new Map<string, string>();
      const started = performance.now();
      for (let from = 0; from < stream.length; from += STORED_BATCH) {
        const states = new Map<string, unknown>();
        for (const event of stream.slice(from, from + STORED_BATCH)) {
          const json = states.has(event.customerId) ? undefined : stored.get(event.customerId);
          const state = json === undefined ? (states.get(event.customerId) ?? null) : JSON.parse(json);
          states.set(event.customerId, fold(state, event));
        }
        for (const [customerId, state] of states) stored.set(customerId, JSON.stringify(state));
      }
      if (run > 0) perEvent.push(((performance.now() - started) * 1000) / stream.length);
    }
    process.stdout.write(`  ${`${name}, stored between batches of ${STORED_BATCH}`.padEnd(10)} ${median(perEvent).toFixed(2)} µs/event\n`);
  }
}

/** Events per batch of the stored-state folds: what a live batch gathers in 100 ms at ~2,500 events/s. */
const STORED_BATCH = 250;
