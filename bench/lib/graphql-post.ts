/**
 * One GraphQL request over HTTP from the bench process, with its size: for sanity checks and for
 * sequences where each request depends on the previous one (following cursors), which the
 * closed-loop load generator (http-load.ts) does not do.
 */
export interface GraphQLReply<T> {
  data?: T;
  errors?: { message?: string; extensions?: { code?: string } }[];
  /** Response body size in bytes, as received (no compression asked for). */
  bytes: number;
  ms: number;
}

export class GraphQLRequestError extends Error {
  override name = 'GraphQLRequestError';
}

/** POSTs `{ query, variables }` with a bearer token; throws on HTTP errors and GraphQL errors. */
export async function postGraphQL<T>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLReply<T> & { data: T }> {
  const start = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'accept-encoding': 'identity' },
    body: JSON.stringify({ query, variables }),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - start;
  const text = buf.toString('utf8');
  if (res.status !== 200) throw new GraphQLRequestError(`HTTP ${res.status}: ${text.slice(0, 500)}`);
  const body = JSON.parse(text) as Omit<GraphQLReply<T>, 'bytes' | 'ms'>;
  if (body.errors?.length)
    throw new GraphQLRequestError(`GraphQL errors: ${JSON.stringify(body.errors).slice(0, 800)}`);
  if (body.data == null) throw new GraphQLRequestError('GraphQL response without data');
  return { ...body, data: body.data, bytes: buf.length, ms };
}
