import { isDatabaseUnavailable } from '../infra/db/unavailable.js';

/**
 * Whether an error means a backing service is down right now (the client may retry), not a bug:
 * today the database's outage errors, as the database adapter classifies them. The gateway answers
 * these as SERVICE_UNAVAILABLE instead of a masked INTERNAL_SERVER_ERROR.
 */
export const isOutage = (error: unknown): boolean => isDatabaseUnavailable(error);
