import type { Database } from '../database/database.js';
import { Notifications } from '../event-store/postgres/notifications.js';

export interface NoticeHandler {
  /** False while nobody on this instance subscribes: notices are then dropped unread. */
  wanted(): boolean;
  /** Handles the notices in arrival order; `interrupted` when some may have been lost before them. Must not throw. */
  handle(payloads: string[], interrupted: boolean): Promise<void>;
}

/**
 * This instance's LISTEN on one channel (one connection, however many subscribers), handed to a
 * feed a batch at a time: what arrives while a batch is handled forms the next one, so a feed reads
 * the database once per batch and delivers in commit order.
 */
export class NoticeBatches {
  private notifications?: Notifications;
  private stopListening?: () => void;
  private arrived: string[] = [];
  private interrupted = false;
  private handling?: Promise<void>;

  constructor(
    private readonly database: Database,
    readonly channel: string,
    private readonly handler: NoticeHandler,
  ) {}

  start(): void {
    this.notifications ??= new Notifications(this.database, this.channel);
    this.stopListening ??= this.notifications.onNotification((payload) => this.arrive(payload));
  }

  async stop(): Promise<void> {
    this.stopListening?.();
    await this.notifications?.close();
    await this.handling;
  }

  private arrive(payload: string): void {
    if (!this.handler.wanted()) return;
    // Notifications reports a re-established connection with an empty payload: notices sent meanwhile are lost.
    if (payload === '') this.interrupted = true;
    else this.arrived.push(payload);
    this.handling ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.arrived.length > 0 || this.interrupted) {
        const payloads = this.arrived;
        const interrupted = this.interrupted;
        this.arrived = [];
        this.interrupted = false;
        await this.handler.handle(payloads, interrupted);
      }
    } finally {
      this.handling = undefined;
    }
  }
}
