import { v7 as uuidv7 } from 'uuid';

/**
 * A new UUIDv7 (RFC 9562): time-ordered, so ids sort by creation and serve as pagination cursors
 * and as b-tree friendly primary keys.
 */
export function newId(): string {
  return uuidv7();
}
