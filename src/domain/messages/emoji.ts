/**
 * A reaction is either a shortcode name (`thumbsup`, `+1`, `white_check_mark`, custom `party-parrot`),
 * with or without surrounding colons, or one Unicode emoji (a single grapheme that is pictographic).
 * Returns the normalized form or null.
 */
const SHORTCODE = /^:?([a-z0-9_+'-]{1,64}):?$/;
const PICTOGRAPHIC = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;
const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

export function normalizeEmoji(input: string): string | null {
  const s = input.trim();
  const code = SHORTCODE.exec(s);
  if (code) return code[1]!;
  if (s.length === 0 || s.length > 32) return null;
  const graphemes = [...segmenter.segment(s)];
  if (graphemes.length !== 1 || !PICTOGRAPHIC.test(s)) return null;
  return s;
}
