import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from '../logging/logger.js';
import { LOGGER } from './core.module.js';
import { describeError } from './error-codes.js';

/** Errors of the HTTP endpoints as JSON: `{ success: false, code, message, errors? }` with the matching status. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost) {
    const response = host.switchToHttp().getResponse<Response>();
    if (error instanceof HttpException) {
      response.status(error.getStatus()).json({ success: false, code: 'BAD_REQUEST', message: error.message });
      return;
    }
    const { status, body } = httpErrorAnswer(error, this.logger);
    response.status(status).json(body);
  }
}

/** A failure of an HTTP endpoint as its answer (the same whether express or a direct way in served it); unexpected ones are logged. */
export function httpErrorAnswer(error: unknown, logger: Logger): { status: number; body: Record<string, unknown> } {
  const description = describeError(error);
  if (!description.expected) logger.error({ err: error }, 'HTTP request failed');
  return {
    status: description.status,
    body: {
      success: false,
      code: description.code,
      message: description.message,
      ...(description.problems && { errors: description.problems }),
    },
  };
}
