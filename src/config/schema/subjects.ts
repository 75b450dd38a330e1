/**
 * Config section `subjects`: the root of the subject taxonomy.
 */
import { z } from 'zod';

/** Section `subjects`. */
export const SubjectsSchema = z
  .object({
    /** Root of the taxonomy (seed 000, docs/seeds.md). */
    prefix: z
      .string()
      .max(64, 'at most 64 characters: subjects stay far below the server control line')
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens')
      .default('root.solar'),
  })
  .strict();
