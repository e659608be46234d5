import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import { withDescriptions } from './descriptions.js';
import './modules/common.js';
import './modules/auth.js';
import './modules/user.js';
import './modules/workspace.js';
import './modules/webhooks.js';
import './modules/api-keys.js';
import './modules/channel.js';
import './modules/message.js';
import './modules/file.js';
import './modules/bootstrap.js';
import './modules/search.js';
import './modules/channel-events.js';
import './modules/badges.js';
import './modules/presence.js';
import './modules/typing.js';
import './modules/thread.js';
import './modules/notifications.js';

export const schema = withDescriptions(builder.toSchema());

/** The committed form of the schema (schema/schema.graphql); a test fails when it drifts. */
export const printedSchema = () => `${printSchema(lexicographicSortSchema(schema))}\n`;
