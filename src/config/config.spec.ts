import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configurationTable, InvalidConfiguration, loadConfig, parseDuration } from './config.js';

describe('configuration', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 4000,
      HOST: '127.0.0.1',
      DATABASE_URL: undefined,
      TRAILMAP_DATA_DIR: path.resolve('.trailmap'),
      EVENTSTORE_CONNECTION_STRING: undefined,
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT: 10_000,
    });
  });

  it('parses values from the environment', () => {
    const config = loadConfig({ PORT: '8080', DATABASE_URL: 'postgres://u:p@db:5432/trailmap', SHUTDOWN_TIMEOUT: '2s' });
    expect(config.PORT).toBe(8080);
    expect(config.DATABASE_URL).toBe('postgres://u:p@db:5432/trailmap');
    expect(config.SHUTDOWN_TIMEOUT).toBe(2_000);
  });

  it('rejects an invalid value with one line naming the variable and what it accepts', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(
      'Invalid configuration: PORT="eighty" is not valid; it accepts an integer from 0 to 65535.',
    );
  });

  it('reports every invalid variable at once', () => {
    try {
      loadConfig({ PORT: '70000', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' });
      throw new Error('expected an error');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidConfiguration);
      expect((error as InvalidConfiguration).problems.map((line) => line.split('=')[0])).toEqual([
        'Invalid configuration: PORT',
        'Invalid configuration: DATABASE_URL',
        'Invalid configuration: LOG_LEVEL',
      ]);
    }
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it('parses durations', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(() => parseDuration('soon')).toThrow('not a duration');
  });

  it('is documented in the README exactly as the code defines it', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(configurationTable());
  });
});
