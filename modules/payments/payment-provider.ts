import { randomUUID } from 'node:crypto';

/** Outcome of a card authorisation. */
export type AuthorisationResult =
  | { approved: true; reference: string }
  | { approved: false; reason: 'declined' | 'insufficient_funds' | 'invalid_token' };

/**
 * Adapter to a card payment provider (ports and adapters). Amounts are minor units.
 * `capture`, `void` and `refund` are called after the database outcome is known.
 */
export interface PaymentProvider {
  readonly name: string;
  authorise(input: { token: string; amount: number; currency: string; idempotencyKey: string }): Promise<AuthorisationResult>;
  capture(reference: string): Promise<void>;
  void(reference: string): Promise<void>;
  refund(reference: string, amount: number): Promise<void>;
}

/**
 * Built-in test provider following Stripe's test tokens: `tok_visa` and `tok_mastercard`
 * approve; `tok_chargeDeclined` and `tok_chargeDeclinedInsufficientFunds` decline; any other
 * token is invalid. It keeps a ledger of what happened to each authorisation, for tests.
 */
export function createTestPaymentProvider() {
  const ledger = new Map<string, { amount: number; state: 'authorised' | 'captured' | 'voided' | 'refunded' }>();
  const approve = new Set(['tok_visa', 'tok_mastercard']);
  const decline: Record<string, 'declined' | 'insufficient_funds'> = {
    tok_chargeDeclined: 'declined',
    tok_chargeDeclinedInsufficientFunds: 'insufficient_funds',
  };
  const move = (reference: string, from: string, to: 'captured' | 'voided' | 'refunded') => {
    const entry = ledger.get(reference);
    if (entry && entry.state === from) entry.state = to;
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
    async capture(reference) {
      move(reference, 'authorised', 'captured');
    },
    async void(reference) {
      move(reference, 'authorised', 'voided');
    },
    async refund(reference) {
      move(reference, 'captured', 'refunded');
    },
  };
  return provider;
}
