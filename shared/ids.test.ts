import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { newId } from './ids.ts';

/** The millisecond timestamp of a UUIDv7 (its first 48 bits). */
const msecsOf = (id: string) => parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('newId', () => {
  it('makes valid, unique UUIDv7s carrying the current time, strictly increasing also within a millisecond and across refills of its random pool', () => {
    const before = Date.now();
    const ids = Array.from({ length: 5000 }, () => newId()); // ~20 pool refills, many ids per millisecond
    const after = Date.now();
    for (const id of ids) {
      expect(validate(id) && version(id)).toBe(7);
      expect(msecsOf(id)).toBeGreaterThanOrEqual(before);
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!, `${ids[i - 1]} then ${ids[i]}`).toBe(true);
    // A counter overflow may move the timestamp a millisecond ahead; no further.
    expect(msecsOf(ids.at(-1)!)).toBeLessThanOrEqual(after + 1);
    // The random tails differ (not one pool slot reused).
    expect(new Set(ids.map((id) => id.slice(-12))).size).toBe(ids.length);
  });
});
