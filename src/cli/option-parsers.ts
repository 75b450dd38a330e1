/**
 * Value parsers for command options. A bad value throws commander's InvalidArgumentError,
 * which the shell turns into exit code 2 (bad usage).
 */
import { InvalidArgumentError } from 'commander';
import { parseDurationMs } from '../core/units.js';

/** A positive integer, e.g. `--intents 1000`. */
export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new InvalidArgumentError('must be a positive integer.');
  }
  return Number(value);
}

/** A duration such as `90s`, `2m`, `7d` or a number of ms; returns ms. */
export function parseDuration(value: string): number {
  const parsed = parseDurationMs(value);
  if (parsed === null) throw new InvalidArgumentError('must be a duration, e.g. 500, 90s, 2m, 7d.');
  return parsed;
}

/** An http(s) base URL such as `http://127.0.0.1:7654`; returned without a trailing slash. */
export function parseHttpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be a URL, e.g. http://127.0.0.1:7654.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('must be an http:// or https:// URL.');
  }
  return value.replace(/\/+$/, '');
}

/** One `--set key=value`, appended to the values given so far. */
export function collectKeyValue(value: string, previous: string[] = []): string[] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('must be key=value, e.g. --set nats.name=edge-1.');
  return [...previous, value];
}
