/**
 * What we accept and how we serve it, written once for both upload paths: file names, the real
 * type by content sniffing against the declared one, active content, and the Content-Disposition
 * of downloads. Pure functions over the first bytes of a file.
 */
import { fileTypeFromBuffer } from 'file-type';
import { badInput } from '../errors.js';

/** Bytes read from the start of a file to decide its type. */
export const SNIFF_BYTES = 4_100;
export const MAX_NAME_LENGTH = 255;

/** Shown inline by browsers (images, audio, video); everything else downloads as an attachment. */
const INLINE_TYPES = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/quicktime',
  'audio/mpeg',
  'audio/ogg',
  'audio/wav',
  'audio/webm',
  'audio/aac',
  'audio/mp4',
]);

/** Images sharp can make thumbnails of. */
export const PREVIEWABLE_IMAGES = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/tiff',
]);

// Bidi controls (e.g. U+202E RIGHT-TO-LEFT OVERRIDE makes "gnp.exe" look like "exe.png"), other
// invisible format characters, C0/C1 controls, and characters file systems refuse.
// eslint-disable-next-line no-control-regex
const UNSAFE_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff<>:"|?*]/g;

/**
 * A file name safe to store and to show: the last path segment only (no `../`, no directories),
 * controls and bidi overrides replaced, trimmed of dots and spaces at the ends. Longer than 255
 * characters is refused, not cut (the user should see what they upload).
 */
export function cleanFileName(raw: string): string {
  const name = raw.normalize('NFC');
  if ([...name].length > MAX_NAME_LENGTH)
    throw badInput('file/name_too_long', `file names are at most ${MAX_NAME_LENGTH} characters`, { field: 'name' });
  const base = name.split(/[/\\]/).pop() ?? '';
  const cleaned = base
    .replace(UNSAFE_NAME_CHARS, '_')
    .replace(/^[.\s]+|[.\s]+$/g, '')
    .trim();
  return cleaned === '' ? 'file' : cleaned;
}

/** A MIME type as declared by a client: lower case, parameters dropped; refused when malformed. */
export function normalizeType(raw: string | null | undefined): string {
  const t = (raw ?? '').split(';')[0]!.trim().toLowerCase();
  if (t === '') return 'application/octet-stream';
  if (!/^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(t))
    throw badInput('file/bad_content_type', 'contentType is not a MIME type', { field: 'contentType' });
  return t;
}

const matches = (type: string, patterns: string[]) =>
  patterns.some((p) => p === type || (p.endsWith('/*') && type.startsWith(p.slice(0, -1))));

/** Configured allow and deny lists (exact or `type/*`). */
export function checkTypeAllowed(type: string, lists: { allowedTypes: string[]; deniedTypes: string[] }) {
  if (matches(type, lists.deniedTypes) || (lists.allowedTypes.length > 0 && !matches(type, lists.allowedTypes)))
    throw badInput('file/type_not_allowed', `files of type ${type} are not accepted here`, { field: 'contentType' });
}

const family = (t: string) => t.split('/')[0]!;
const ascii = (head: Buffer) => head.toString('latin1').toLowerCase();
const MARKUP = /<(?:!doctype\s+html|html|head|body|script|iframe|object|embed|svg|\?xml)[\s>/]/;
const ACTIVE_SVG =
  /<script|\son[a-z]+\s*=|javascript:|<foreignobject|<iframe|<embed|<object|xlink:href\s*=\s*["']?\s*data:/;

export interface SniffResult {
  /** The type we store and serve. */
  contentType: string;
  /** Whether browsers may show it inline. */
  inline: boolean;
}

/**
 * Decides a file's real type from its first bytes (file-type's signatures, then markup and text
 * checks) and refuses what does not add up:
 *  - a declared image/audio/video/PDF type whose content is something else (e.g. HTML as image/png);
 *  - a binary type declared as another binary type (a ZIP declared as image/png);
 *  - a recognised image or video that carries markup in its first bytes (a polyglot);
 *  - SVG with active content (scripts, event handlers, javascript: URLs, foreignObject).
 * HTML and other markup is kept but served as an attachment, typed text/plain, never inline.
 */
export async function sniff(head: Buffer, declaredRaw: string): Promise<SniffResult> {
  const declared = normalizeType(declaredRaw);
  const found = await fileTypeFromBuffer(head);
  const text = ascii(head);
  const mismatch = (real: string) =>
    badInput('file/type_mismatch', `the content is ${real}, not ${declared}`, { field: 'contentType' });
  if (found) {
    const real: string = found.mime;
    const generic = declared === 'application/octet-stream' || declared === real;
    if (!generic && (family(declared) !== family(real) || !['image', 'audio', 'video'].includes(family(real))))
      // Same family (image/jpg for image/jpeg...) is tolerated; anything else is a contradiction.
      throw mismatch(real);
    if (['image', 'video', 'audio'].includes(family(real)) && MARKUP.test(text))
      throw badInput('file/polyglot', 'the file is both media and markup', { field: 'file' });
    if (real === 'image/svg+xml' || real === 'application/xml' || real === 'text/html') return markup(text);
    return { contentType: real, inline: INLINE_TYPES.has(real) };
  }
  // No binary signature: text, markup, or something we cannot tell.
  const isMarkup = MARKUP.test(text.replace(/^\ufeff/, '').slice(0, 1024));
  if (isMarkup) {
    if (['image', 'audio', 'video'].includes(family(declared)) && !declared.startsWith('image/svg'))
      throw mismatch('markup');
    return markup(text);
  }
  if (['image', 'audio', 'video'].includes(family(declared)) || declared === 'application/pdf')
    throw mismatch(looksLikeText(head) ? 'text' : 'unrecognised data');
  if (looksLikeText(head))
    return {
      contentType: declared.startsWith('text/') && declared !== 'text/html' ? declared : 'text/plain',
      inline: false,
    };
  return { contentType: 'application/octet-stream', inline: false };

  function markup(t: string): SniffResult {
    if (/<svg[\s>]/.test(t) && ACTIVE_SVG.test(t))
      throw badInput('file/active_content', 'SVG files with scripts or event handlers are refused', { field: 'file' });
    // Served as plain text, as an attachment, with nosniff: never rendered by the browser.
    return { contentType: 'text/plain', inline: false };
  }
}

function looksLikeText(head: Buffer): boolean {
  if (head.length === 0) return true;
  if (head.includes(0)) return false;
  return new TextDecoder('utf-8', { fatal: false }).decode(head).split('\ufffd').length - 1 <= 2;
}

/** RFC 6266 Content-Disposition with an ASCII fallback and the UTF-8 name. */
export function contentDisposition(name: string, inline: boolean): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${inline ? 'inline' : 'attachment'}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export function isInline(contentType: string): boolean {
  return INLINE_TYPES.has(contentType);
}
