import { z } from 'zod';
import { ROLES } from '../../shared/auth-guard.ts';
import { Timestamp } from '../../shared/http-schemas.ts';

/** Response shapes of the auth module: the zod schema serialises and documents, the type is derived from it. */
/** A staff member as the API shows it (never the password hash). */
export const Staff = z
  .object({ id: z.uuid(), email: z.string(), role: z.enum(ROLES), tenantId: z.uuid(), active: z.boolean(), createdAt: Timestamp })
  .meta({ id: 'Staff' });
export type StaffView = z.output<typeof Staff>;
