/** One problem with a caller's input: which event (in a batch), which field, which rule. */
export interface Problem {
  index?: number;
  field: string;
  rule: string;
  message: string;
}

/** The input broke a rule; nothing was changed. */
export class ValidationFailed extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map((problem) => (problem.index === undefined ? problem.message : `events[${problem.index}]: ${problem.message}`)).join('; '));
    this.name = 'ValidationFailed';
  }
}

/** The input contradicts what is already recorded (e.g. an anonymous id linked to another customer). */
export class Conflict extends Error {
  constructor(
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = 'Conflict';
  }
}

export class NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}

export class Unauthenticated extends Error {
  constructor(message = 'An API key is required: send it as `Authorization: Bearer <key>`.') {
    super(message);
    this.name = 'Unauthenticated';
  }
}

export class Forbidden extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Forbidden';
  }
}

/** A dependency (the database, the event store) is down for now; the same request may be retried. */
export class Unavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unavailable';
  }
}
