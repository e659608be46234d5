import { describe, expect, it } from 'vitest';
import { parseMentions, hasLink } from '../../src/domain/messages/mentions.js';
import { normalizeEmoji } from '../../src/domain/messages/emoji.js';

describe('mentions', () => {
  it('finds user, here and channel mentions once each', () => {
    expect(parseMentions('hi <@123> and <@123> <@456> <!here>')).toEqual({
      userIds: [123n, 456n],
      here: true,
      channel: false,
    });
    expect(parseMentions('<!everyone>')).toMatchObject({ channel: true });
    expect(parseMentions('@bob <@abc> <@> <!nobody> `<@12a>`')).toEqual({ userIds: [], here: false, channel: false });
  });
  it('spots links', () => {
    expect(hasLink('see https://example.com/x')).toBe(true);
    expect(hasLink('no link here')).toBe(false);
  });
});

describe('emoji', () => {
  it('accepts shortcodes and single emoji, normalized', () => {
    expect(normalizeEmoji(':thumbsup:')).toBe('thumbsup');
    expect(normalizeEmoji('+1')).toBe('+1');
    expect(normalizeEmoji('party-parrot')).toBe('party-parrot');
    expect(normalizeEmoji('👍🏽')).toBe('👍🏽');
    expect(normalizeEmoji('👨‍👩‍👧')).toBe('👨‍👩‍👧');
    expect(normalizeEmoji('🇫🇷')).toBe('🇫🇷');
  });
  it('rejects everything else', () => {
    for (const bad of ['', ' ', 'Thumbs Up', 'a'.repeat(65), '😀😀', 'x😀', '<b>', 'drop table'])
      expect(normalizeEmoji(bad)).toBeNull();
  });
});
