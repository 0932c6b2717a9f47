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
    const description = describeError(error);
    if (!description.expected) this.logger.error({ err: error }, 'HTTP request failed');
    response.status(description.status).json({
      success: false,
      code: description.code,
      message: description.message,
      ...(description.problems && { errors: description.problems }),
    });
  }
}
