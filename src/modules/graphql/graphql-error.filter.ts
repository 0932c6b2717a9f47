import { Catch, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';

/**
 * A resolver's error goes back to GraphQL as it is: `formatError` describes it to the caller and logs
 * it when the caller did not cause it. Nest's own handler would log every thrown error at error
 * level, a refused input as loudly as a bug. Other contexts keep Nest's handling.
 */
@Catch()
export class GraphqlErrorFilter extends BaseExceptionFilter {
  override catch(error: unknown, host: ArgumentsHost) {
    if (host.getType<'graphql' | 'http'>() === 'graphql') return error;
    return super.catch(error, host);
  }
}
