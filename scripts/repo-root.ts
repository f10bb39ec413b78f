import { fileURLToPath } from 'node:url';

/** The repository root: the folder above scripts/. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
