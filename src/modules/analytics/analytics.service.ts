import { Injectable } from '@nestjs/common';
import { journeyStages, type JourneyStage } from '../../domain/customer-event.js';
import { lifecycle } from '../../domain/journey/index.js';
import { Database } from '../database/database.js';

export interface FunnelStep {
  stage: JourneyStage;
  entered: number;
  progressed: number;
  conversionRate: number | null;
  dropOff: number;
  averageSecondsInStage: number | null;
}

/** Journey analytics, read from the pseudonymized analytics tables only. */
@Injectable()
export class AnalyticsService {
  constructor(private readonly database: Database) {}

  /** Customers per stage now; anonymous visitors folded into a user count once, as the user. */
  async stageCounts(): Promise<{ stage: JourneyStage; customers: number }[]> {
    const { rows } = await this.database.query<{ stage: JourneyStage; customers: string }>(
      `SELECT stage, count(*) AS customers FROM analytics_journeys
       WHERE merged_into IS NULL AND stage IS NOT NULL GROUP BY 1`,
    );
    const counts = new Map(rows.map((row) => [row.stage, Number(row.customers)]));
    return journeyStages.map((stage) => ({ stage, customers: counts.get(stage) ?? 0 }));
  }

  /**
   * For each lifecycle stage: the customers who entered it in the window, how many of them moved on
   * to a later lifecycle stage (by the window's end), and the average time spent in it before leaving.
   */
  async funnel(from: Date | undefined, to: Date | undefined): Promise<FunnelStep[]> {
    const { rows } = await this.database.query<{ stage: JourneyStage; entered: string; progressed: string; average_seconds: number | null }>(
      `WITH transitions AS (
         SELECT coalesce(j.merged_into, t.pseudonym) AS person, t.from_stage, t.to_stage, t.at, t.seconds_in_previous,
                array_position($3::text[], t.to_stage) AS rank
         FROM analytics_stage_transitions t LEFT JOIN analytics_journeys j ON j.pseudonym = t.pseudonym
         WHERE $2::timestamptz IS NULL OR t.at < $2),
       entries AS (
         SELECT DISTINCT ON (person, to_stage) person, to_stage AS stage, at, rank FROM transitions
         WHERE rank IS NOT NULL AND ($1::timestamptz IS NULL OR at >= $1)
         ORDER BY person, to_stage, at),
       moves AS (
         SELECT e.stage, count(*) AS entered,
                count(*) FILTER (WHERE EXISTS (
                  SELECT 1 FROM transitions later WHERE later.person = e.person AND later.at >= e.at AND later.rank > e.rank)) AS progressed
         FROM entries e GROUP BY e.stage),
       stays AS (
         SELECT from_stage AS stage, avg(seconds_in_previous) AS average_seconds FROM transitions
         WHERE from_stage IS NOT NULL AND seconds_in_previous IS NOT NULL AND ($1::timestamptz IS NULL OR at >= $1)
         GROUP BY from_stage)
       SELECT stage, coalesce(moves.entered, 0) AS entered, coalesce(moves.progressed, 0) AS progressed, stays.average_seconds
       FROM unnest($3::text[]) AS stage LEFT JOIN moves USING (stage) LEFT JOIN stays USING (stage)`,
      [from ?? null, to ?? null, lifecycle],
    );
    const byStage = new Map(rows.map((row) => [row.stage, row]));
    return lifecycle.map((stage) => {
      const row = byStage.get(stage);
      const entered = Number(row?.entered ?? 0);
      const progressed = Number(row?.progressed ?? 0);
      return {
        stage,
        entered,
        progressed,
        conversionRate: entered === 0 ? null : progressed / entered,
        dropOff: entered - progressed,
        averageSecondsInStage: row?.average_seconds ?? null,
      };
    });
  }

  async dailyActivity(from: Date | undefined, to: Date | undefined) {
    const { rows } = await this.database.query<{ day: string; category: string; event_type: string; events: number; customers: number }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, category, event_type, events, customers FROM analytics_daily_activity
       WHERE ($1::timestamptz IS NULL OR day >= ($1::timestamptz AT TIME ZONE 'UTC')::date)
         AND ($2::timestamptz IS NULL OR day <= ($2::timestamptz AT TIME ZONE 'UTC')::date)
       ORDER BY day, category, event_type`,
      [from ?? null, to ?? null],
    );
    return rows.map((row) => ({ day: row.day, category: row.category, eventType: row.event_type, events: row.events, customers: row.customers }));
  }
}
