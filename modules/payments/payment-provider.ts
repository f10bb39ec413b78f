import { randomUUID } from 'node:crypto';
import type { AuthorisationResult, PaymentProvider, ProviderCallOptions } from './gateway.ts';

export type { AuthorisationResult, PaymentProvider, ProviderCallOptions };

/**
 * Built-in test provider following Stripe's test tokens: `tok_visa` and `tok_mastercard`
 * approve; `tok_chargeDeclined` and `tok_chargeDeclinedInsufficientFunds` decline; any other
 * token is invalid. It keeps a ledger of what happened to each authorisation, for tests, and
 * applies a capture or refund idempotency key at most once.
 */
export function createTestPaymentProvider() {
  const ledger = new Map<string, { amount: number; state: 'authorised' | 'captured' | 'voided' | 'refunded' }>();
  const approve = new Set(['tok_visa', 'tok_mastercard']);
  const decline: Record<string, 'declined' | 'insufficient_funds'> = {
    tok_chargeDeclined: 'declined',
    tok_chargeDeclinedInsufficientFunds: 'insufficient_funds',
  };
  const applied = new Set<string>();
  const move = (reference: string, from: string, to: 'captured' | 'voided' | 'refunded', idempotencyKey?: string) => {
    if (idempotencyKey !== undefined && applied.has(idempotencyKey)) return; // a retry: done already
    const entry = ledger.get(reference);
    if (entry && entry.state === from) entry.state = to;
    else if (idempotencyKey !== undefined && entry?.state !== to) throw new Error(`test provider: cannot make a ${entry?.state ?? 'unknown'} charge ${to}`);
    if (idempotencyKey !== undefined) applied.add(idempotencyKey);
  };
  const provider: PaymentProvider & { ledger: typeof ledger } = {
    name: 'test',
    ledger,
    async authorise({ token, amount }) {
      if (approve.has(token)) {
        const reference = `ch_test_${randomUUID()}`;
        ledger.set(reference, { amount, state: 'authorised' });
        return { approved: true, reference };
      }
      const reason = decline[token];
      return { approved: false, reason: reason ?? 'invalid_token' };
    },
    async capture(reference, { idempotencyKey }) {
      const state = ledger.get(reference)?.state;
      if (state === 'captured' || state === 'refunded') return; // already captured: success (see the port)
      move(reference, 'authorised', 'captured', idempotencyKey);
    },
    async void(reference) {
      move(reference, 'authorised', 'voided');
    },
    async refund(reference, _amount, { idempotencyKey }) {
      move(reference, 'captured', 'refunded', idempotencyKey);
    },
  };
  return provider;
}
