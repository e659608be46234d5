import { parseId } from '../../infra/ids/snowflake.js';

export interface ParsedMentions {
  userIds: bigint[];
  here: boolean;
  channel: boolean;
}

const MENTION = /<@(\d{1,19})>|<!(here|channel|everyone)>/g;

/**
 * Finds mentions in message source (Slack's wire syntax): `<@userId>`, `<!here>`, `<!channel>`
 * (`<!everyone>` counts as `<!channel>`). The text itself is kept as written.
 */
export function parseMentions(text: string): ParsedMentions {
  const userIds = new Set<bigint>();
  let here = false;
  let channel = false;
  for (const m of text.matchAll(MENTION)) {
    if (m[1]) {
      const id = parseId(m[1]);
      if (id !== null) userIds.add(id);
    } else if (m[2] === 'here') here = true;
    else channel = true;
  }
  return { userIds: [...userIds], here, channel };
}

const LINK = /\bhttps?:\/\/[^\s<>]+/i;
/** Whether message text carries a link (search's `has:link`). */
export const hasLink = (text: string) => LINK.test(text);
