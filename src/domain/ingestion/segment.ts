import type { Problem } from '../errors.js';
import type { IncomingEvent } from './incoming-event.js';

/** The Segment HTTP Tracking API calls, and the event type each records. */
export const segmentCalls = {
  track: undefined,
  identify: 'Identified',
  page: 'Page Viewed',
  screen: 'Screen Viewed',
  group: 'Group Identified',
  alias: 'Identity Linked',
} as const;
export type SegmentCall = keyof typeof segmentCalls;

export const SEGMENT_BATCH_LIMIT = 2_500;

type Message = Record<string, unknown>;

/**
 * A Segment message as a Trailmap event. The time is corrected for the client's clock as the
 * Segment spec does: timestamp = receivedAt − (sentAt − timestamp), when both are given.
 */
export function fromSegmentMessage(
  call: SegmentCall,
  message: Message,
  { receivedAt, batchSentAt }: { receivedAt: string; batchSentAt?: unknown },
): IncomingEvent {
  const properties = objectOr(message.properties);
  const traits = objectOr(message.traits);
  switch (call) {
    case 'page':
    case 'screen':
      for (const field of ['name', 'category'] as const) if (message[field] !== undefined && properties[field] === undefined) properties[field] = message[field];
      break;
    case 'group':
      if (message.groupId !== undefined) properties.group_id = message.groupId;
      break;
    case 'alias':
      if (message.previousId !== undefined) properties.previous_id = message.previousId;
      break;
  }
  return {
    id: typeof message.messageId === 'string' && message.messageId ? `segment:${message.messageId}` : undefined,
    type: call === 'track' ? message.event : segmentCalls[call],
    userId: message.userId,
    anonymousId: message.anonymousId,
    occurredAt: correctedTimestamp(message.timestamp ?? message.originalTimestamp, message.sentAt ?? batchSentAt, receivedAt),
    channel: message.channel,
    properties,
    traits,
    context: message.context,
  };
}

/** The calls of a `/v1/batch` body, each as an event; problems name the batch index. */
export function fromSegmentBatch(body: Message, receivedAt: string): { events: IncomingEvent[]; problems: Problem[] } {
  if (!Array.isArray(body.batch)) return { events: [], problems: [{ field: 'batch', rule: 'type', message: 'batch must be an array of messages' }] };
  if (body.batch.length > SEGMENT_BATCH_LIMIT) {
    return { events: [], problems: [{ field: 'batch', rule: 'max_items', message: `batch holds ${body.batch.length} messages; at most ${SEGMENT_BATCH_LIMIT} are accepted` }] };
  }
  const events: IncomingEvent[] = [];
  const problems: Problem[] = [];
  body.batch.forEach((message: unknown, index) => {
    const call = isObject(message) ? message.type : undefined;
    if (!isObject(message) || typeof call !== 'string' || !(call in segmentCalls)) {
      problems.push({ index, field: 'type', rule: 'enum', message: `type must be one of ${Object.keys(segmentCalls).join(', ')}` });
      events.push({});
      return;
    }
    const context = { ...objectOr(body.context), ...objectOr(message.context) };
    events.push(fromSegmentMessage(call as SegmentCall, { ...message, context }, { receivedAt, batchSentAt: body.sentAt }));
  });
  return { events, problems };
}

function correctedTimestamp(timestamp: unknown, sentAt: unknown, receivedAt: string): unknown {
  if (timestamp === undefined || timestamp === null) return undefined;
  const happened = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
  const sent = typeof sentAt === 'string' ? Date.parse(sentAt) : Number.NaN;
  if (Number.isNaN(happened) || Number.isNaN(sent)) return timestamp;
  return new Date(Date.parse(receivedAt) - (sent - happened)).toISOString();
}

function objectOr(value: unknown): Message {
  return isObject(value) ? { ...value } : {};
}

function isObject(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
