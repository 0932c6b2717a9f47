import { Controller, Get, HttpCode, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Database } from '../database/database.js';
import { pendingMigrations } from '../database/migrate.js';

@Controller('health')
export class HealthController {
  constructor(private readonly database: Database) {}

  /** The process is up; says nothing about its dependencies. */
  @Get('live')
  @HttpCode(HttpStatus.OK)
  live() {
    return { status: 'ok' };
  }

  /** Ready for traffic: the database answers and every migration of this build is applied. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) response: Response) {
    try {
      const pending = await pendingMigrations(this.database);
      if (pending.length > 0) {
        response.status(HttpStatus.SERVICE_UNAVAILABLE);
        return { status: 'unavailable', reason: `migrations not applied: ${pending.join(', ')}` };
      }
      return { status: 'ok' };
    } catch (error) {
      response.status(HttpStatus.SERVICE_UNAVAILABLE);
      return { status: 'unavailable', reason: `database: ${(error as Error).message}` };
    }
  }
}
