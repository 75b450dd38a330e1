/**
 * Human units in config: durations ("2m", "7d", or a number of ms) and sizes ("1GB", "512MiB",
 * or a number of bytes). Parsing is delegated to the `ms` and `bytes` packages.
 */
import bytes from 'bytes';
import ms from 'ms';
import { z } from 'zod';

/** Parses a duration to ms; null when not a duration. */
export function parseDurationMs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== 'string' || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const parsed = ms(trimmed as ms.StringValue);
  return typeof parsed === 'number' && Number.isFinite(parsed) && parsed >= 0 ? parsed : null;
}

/** Parses a size to bytes; null when not a size. `KiB/MiB/GiB/TiB` and `KB/MB/GB/TB` are both 1024-based. */
export function parseBytes(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) ? value : null;
  if (typeof value !== 'string' || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^-?\d+$/.test(trimmed)) return Number(trimmed);
  const parsed = bytes.parse(trimmed.replace(/([kmgtp])ib$/i, '$1b'));
  return typeof parsed === 'number' && Number.isFinite(parsed) ? parsed : null;
}

/** Zod type: a duration in ms, written as a number or a string such as "2m". */
export const zDurationMs = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const parsed = parseDurationMs(v);
  if (parsed === null) {
    ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(v)} (use e.g. 500, "2m", "7d")` });
    return z.NEVER;
  }
  return parsed;
});

/** Zod type: a size in bytes, written as a number or a string such as "1GB". -1 means unlimited. */
export const zBytes = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const parsed = parseBytes(v);
  if (parsed === null) {
    ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(v)} (use e.g. 1048576, "512MB", "1GiB")` });
    return z.NEVER;
  }
  return parsed;
});
