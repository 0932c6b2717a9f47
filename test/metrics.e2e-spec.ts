import type { Trailmap } from '../src/app.js';
import { ProjectionsService } from '../src/projections/projections.service.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { caughtUp } from './support/projections.js';

describe('/metrics', () => {
  let testDatabase: TestDatabase;
  let trailmap: Trailmap;

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(testDatabase.url);
  });

  afterAll(async () => {
    await trailmap?.stop();
    await testDatabase?.drop();
  });

  const scrape = async () => {
    const response = await fetch(`${trailmap.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return response.text();
  };
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };

  it('reports ingestion, rejections, projection lag and throughput, pool use and subscriptions in Prometheus format', async () => {
    const record = 'mutation($events: [EventInput!]!) { recordEvents(events: $events) { results { id } } }';
    await graphql(trailmap, record, { events: [{ type: 'Page Viewed', userId: 'metered' }, { type: 'Cart Viewed', userId: 'metered' }] }, apiKeys.ingest);
    await graphql(trailmap, record, { events: [{ type: 'Page Viewed' }] }, apiKeys.ingest);
    await caughtUp(trailmap.app.get(ProjectionsService));

    const text = await scrape();
    expect(value(text, 'trailmap_ingested_events_total{source="graphql"}')).toBe(2);
    expect(value(text, 'trailmap_rejected_events_total{source="graphql",rule="required"}')).toBe(1);
    expect(value(text, 'trailmap_ingest_request_duration_seconds_count{source="graphql",outcome="accepted"}')).toBe(1);
    for (const projection of ['customer-profile', 'journey-stage', 'analytics', 'timeline']) {
      expect(value(text, `trailmap_projection_lag_events{projection="${projection}"}`)).toBe(0);
      expect(value(text, `trailmap_projection_state{projection="${projection}",state="LIVE"}`)).toBe(1);
      expect(value(text, `trailmap_projection_processed_events{projection="${projection}"}`)).toBe(2);
    }
    expect(value(text, 'trailmap_database_pool_connections{state="total"}')).toBeGreaterThan(0);
    expect(value(text, 'trailmap_subscriptions{subscription="journeyStageChanged"}')).toBe(0);
    expect(text).toContain('trailmap_process_resident_memory_bytes');
    expect(text).not.toContain('metered');
  });
});
