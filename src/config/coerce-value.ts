/**
 * Turns the string an env variable or a flag carries into the input value of one config
 * leaf, guided by the leaf's {@link ValueShape}. The schema still validates the result; this
 * only decides between "2" the number and "2" the string.
 */
import type { ScalarType, ValueShape } from './config-keys.js';

/** A coerced value, or why the string cannot be one. */
export type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const BOOLEAN: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false };

function coerceScalar(accepts: ReadonlySet<ScalarType>, raw: string): Coerced {
  const text = raw.trim();
  if (accepts.has('number') && NUMBER.test(text)) return { ok: true, value: Number(text) };
  const bool = BOOLEAN[text.toLowerCase()];
  if (accepts.has('boolean') && bool !== undefined) return { ok: true, value: bool };
  if (accepts.has('string')) return { ok: true, value: text };
  const wanted = [...accepts].map((t) => (t === 'boolean' ? 'a boolean (true, false, 1 or 0)' : `a ${t}`));
  return { ok: false, message: `must be ${wanted.join(' or ')}, got ${JSON.stringify(raw)}` };
}

/**
 * Coerces `raw` to the leaf's shape: scalars by the types the leaf accepts (numbers first,
 * then `true/false/1/0`, then the string itself), lists split on commas (empty → `[]`),
 * anything else parsed as JSON.
 */
export function coerceConfigValue(shape: ValueShape, raw: string): Coerced {
  switch (shape.kind) {
    case 'scalar':
      return coerceScalar(shape.accepts, raw);
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const values: unknown[] = [];
      for (const [i, item] of items.entries()) {
        const c = coerceScalar(shape.element, item);
        if (!c.ok) return { ok: false, message: `item ${i}: ${c.message}` };
        values.push(c.value);
      }
      return { ok: true, value: values };
    }
    case 'json':
      try {
        return { ok: true, value: JSON.parse(raw) as unknown };
      } catch (err) {
        return { ok: false, message: `must be JSON (${(err as Error).message})` };
      }
  }
}
