/**
 * Tax on a subtotal: `round(subtotal × taxRateBps / 10000)`, half away from zero, in exact
 * integer arithmetic (BigInt, so no float rounding). Inputs and result in minor units.
 * Example: subtotal 1999, 825 bps (8.25 %) → 164.9175 → 165.
 */
export function taxFor(subtotal: number, taxRateBps: number): number {
  const numerator = BigInt(subtotal) * BigInt(taxRateBps);
  const sign = numerator < 0n ? -1n : 1n;
  const abs = numerator * sign;
  return Number(((abs * 2n + 10_000n) / 20_000n) * sign);
}

/** Largest order subtotal accepted, in minor units: keeps every sum exact in a JS number. */
export const MAX_ORDER_SUBTOTAL = 1_000_000_000_000;
