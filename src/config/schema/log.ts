/**
 * Config section `log`: the log level.
 */
import { z } from 'zod';

/** Section `log`. */
export const LogSchema = z
  .object({
    /** info: lifecycle events only; debug is per message. */
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();
