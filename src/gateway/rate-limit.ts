import type { AddressedRequest } from './client-ip.js';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getOperationAST,
  type DocumentNode,
  type ExecutionResult,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Viewer } from '../domain/viewer.js';
import { isDomainError } from '../domain/errors.js';
import type { Logger } from '../logger.js';

/**
 * Rate limits by operation class, per credential (tiered by kind: user, bot, partner key of the
 * STANDARD or PREMIUM tier) and per
 * client IP, written once and applied to HTTP (a yoga plugin: 429, Retry-After, RateLimit and
 * RateLimit-Policy headers) and to the WebSocket (RATE_LIMITED with retryAfterMs). Log-in failures
 * back off exponentially per account and per IP.
 */
/**
 * The counters this policy needs: the gateway's own port, as the gateway may not import infra
 * (eslint boundaries). infra/ratelimit's stores fit it structurally; app.ts chooses one.
 */
export interface RateLimitStore {
  consume(rule: LimitRule, key: string, points?: number): Promise<LimitDecision>;
  used(rule: LimitRule, key: string): Promise<{ used: number; resetMs: number }>;
  block(rule: LimitRule, key: string, seconds: number): Promise<void>;
  reset(rule: LimitRule, key: string): Promise<void>;
}
export interface LimitRule {
  name: string;
  points: number;
  seconds: number;
}
export interface LimitDecision {
  allowed: boolean;
  remaining: number;
  resetMs: number;
}

export const OPERATION_CLASSES = ['auth', 'signup', 'send', 'mutation', 'read', 'search', 'subscribe'] as const;
export type OperationClass = (typeof OPERATION_CLASSES)[number];
export const SUBJECTS = ['user', 'bot', 'partner', 'premium', 'ip'] as const;
export type Subject = (typeof SUBJECTS)[number];

/**
 * Built-in limits, one row per operation class: its window, and the points per window for each
 * subject that is limited in it (a subject absent from a row is not). RATE_LIMITS overrides any
 * `<subject>.<class>`.
 */
export const DEFAULT_LIMITS: Record<OperationClass, { seconds: number; points: Partial<Record<Subject, number>> }> = {
  auth: { seconds: 60, points: { ip: 30 } },
  signup: { seconds: 3600, points: { ip: 10 } },
  send: { seconds: 60, points: { user: 60, bot: 30, partner: 30, premium: 120, ip: 600 } },
  mutation: { seconds: 60, points: { user: 120, bot: 60, partner: 60, premium: 240, ip: 1200 } },
  read: { seconds: 60, points: { user: 600, bot: 300, partner: 600, premium: 3000, ip: 6000 } },
  search: { seconds: 60, points: { user: 60, bot: 30, partner: 60, premium: 300, ip: 600 } },
  subscribe: { seconds: 60, points: { user: 120, bot: 30, partner: 30, premium: 120, ip: 600 } },
};

/**
 * Log-in back-off: after `free` failures within `windowSeconds`, failure n locks the account (or
 * address) for firstLockSeconds * 2^(n-free-1) seconds, at most `maxSeconds`. RATE_LIMITS
 * overrides `account.login` / `ip.login` as <free>/<firstLockSeconds>.
 */
export const LOGIN_BACKOFF = {
  account: { free: 5, firstLockSeconds: 1, windowSeconds: 3600, maxSeconds: 900 },
  ip: { free: 20, firstLockSeconds: 1, windowSeconds: 3600, maxSeconds: 900 },
};

export interface RateLimitConfig {
  overrides: Record<string, { points: number; seconds: number }>;
}

interface Refusal {
  rule: LimitRule;
  retryAfterMs: number;
  message: string;
}

interface Outcome {
  refused: Refusal | null;
  /** The tightest limit that applied (for the RateLimit headers), when any did. */
  tightest: { rule: LimitRule; decision: LimitDecision } | null;
}

const ROOT_CLASS: Record<string, OperationClass> = {
  logIn: 'auth',
  signUp: 'signup',
  sendMessage: 'send',
  search: 'search',
};

/** Points per class for one operation: one per root field (aliases count), by what the field does. */
export function classify(document: DocumentNode, operationName?: string | null): Map<OperationClass, number> {
  const op = getOperationAST(document, operationName);
  const counts = new Map<OperationClass, number>();
  if (!op) return counts;
  const add = (c: OperationClass) => counts.set(c, (counts.get(c) ?? 0) + 1);
  for (const sel of op.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD) {
      add(op.operation === OperationTypeNode.QUERY ? 'read' : 'mutation');
      continue;
    }
    if (sel.name.value.startsWith('__')) continue;
    const special = ROOT_CLASS[sel.name.value];
    if (op.operation === OperationTypeNode.SUBSCRIPTION) add('subscribe');
    else if (op.operation === OperationTypeNode.MUTATION) add(special && special !== 'search' ? special : 'mutation');
    else add(special === 'search' ? 'search' : 'read');
  }
  return counts;
}

/** The email of each logIn field (literal or variable). */
function loginEmails(document: DocumentNode, operationName: string | null | undefined, vars: Record<string, unknown>) {
  const op = getOperationAST(document, operationName);
  const emails: string[] = [];
  for (const sel of op?.selectionSet.selections ?? []) {
    if (sel.kind !== Kind.FIELD || sel.name.value !== 'logIn') continue;
    const arg = sel.arguments?.find((a) => a.name.value === 'email');
    const value =
      arg?.value.kind === Kind.STRING
        ? arg.value.value
        : arg?.value.kind === Kind.VARIABLE
          ? vars[arg.value.name.value]
          : null;
    if (typeof value === 'string') emails.push(value.trim().toLowerCase());
  }
  return emails;
}

/** The bucket a credential counts against: users and bots by id, partner keys by key, tiered. */
const subjectOf = (viewer: Viewer | null): { subject: Subject; key: string } | null => {
  if (!viewer) return null;
  if (viewer.kind === 'user') return { subject: 'user', key: `u${viewer.userId}` };
  if (viewer.partner)
    return { subject: viewer.partner.tier === 'PREMIUM' ? 'premium' : 'partner', key: `k${viewer.partner.keyId}` };
  return { subject: 'bot', key: `c${viewer.userId}` };
};

export function createRateLimits(store: RateLimitStore, config: RateLimitConfig, log: Logger) {
  const ruleFor = (subject: Subject, cls: OperationClass): LimitRule | null => {
    const builtIn = DEFAULT_LIMITS[cls];
    const points = builtIn.points[subject];
    const o =
      config.overrides[`${subject}.${cls}`] ?? (points === undefined ? null : { points, seconds: builtIn.seconds });
    return o ? { name: `${subject}-${cls}`, points: o.points, seconds: o.seconds } : null;
  };
  const backoff = (who: 'account' | 'ip') => {
    const o = config.overrides[`${who}.login`];
    return o ? { ...LOGIN_BACKOFF[who], free: o.points, firstLockSeconds: o.seconds } : LOGIN_BACKOFF[who];
  };
  const lockRule = (who: 'account' | 'ip'): LimitRule => ({ name: `login-lock-${who}`, points: 1, seconds: 1 });
  const failRule = (who: 'account' | 'ip'): LimitRule => ({
    name: `login-fail-${who}`,
    points: 1_000_000,
    seconds: LOGIN_BACKOFF[who].windowSeconds,
  });

  const tighter = (a: Outcome['tightest'], rule: LimitRule, d: LimitDecision) =>
    !a || d.remaining / rule.points < a.decision.remaining / a.rule.points ? { rule, decision: d } : a;

  /**
   * Takes this operation's points from every bucket it touches (per credential and per IP, one
   * per class) and checks the log-in locks. Counters unreachable: allowed (logged).
   */
  async function admit(
    viewer: Viewer | null,
    ip: string,
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Record<string, unknown> | null | undefined,
  ): Promise<Outcome> {
    const outcome: Outcome = { refused: null, tightest: null };
    const refuse = (rule: LimitRule, resetMs: number, message: string) => {
      outcome.refused = { rule, retryAfterMs: Math.max(1, resetMs), message };
      return outcome;
    };
    try {
      const classes = classify(document, operationName);
      const who = subjectOf(viewer);
      if (classes.has('auth')) {
        for (const [kind, key] of [
          ...loginEmails(document, operationName, variables ?? {}).map((e) => ['account', e] as const),
          ['ip', ip] as const,
        ]) {
          const lock = await store.used(lockRule(kind), key);
          if (lock.used > 0) {
            return refuse(
              lockRule(kind),
              lock.resetMs,
              `Too many failed log-ins for this ${kind === 'ip' ? 'address' : 'account'}; try again later`,
            );
          }
        }
      }
      for (const [cls, points] of classes) {
        const buckets: [LimitRule | null, string][] = [[ruleFor('ip', cls), `ip:${ip}`]];
        if (who) buckets.unshift([ruleFor(who.subject, cls), who.key]);
        for (const [rule, key] of buckets) {
          if (!rule) continue;
          const d = await store.consume(rule, key, points);
          outcome.tightest = tighter(outcome.tightest, rule, d);
          if (!d.allowed) {
            return refuse(
              rule,
              d.resetMs,
              `Rate limit exceeded for ${cls} (${rule.points} per ${rule.seconds} s${rule.name.startsWith('ip-') ? ' per address' : ''}); retry later`,
            );
          }
        }
      }
    } catch (err) {
      log.warn({ err }, 'rate limit counters unavailable; request allowed');
    }
    return outcome;
  }

  /** After a log-in ran: a failure adds to the account's and the IP's back-off, a success clears the account's. */
  async function loginOutcome(ip: string, emails: string[], result: ExecutionResult) {
    // Before masking: the domain's error is the original error.
    const failed = result.errors?.some(
      (e) =>
        e.path?.[0] === 'logIn' &&
        (e.extensions?.['code'] === 'UNAUTHENTICATED' ||
          (isDomainError(e.originalError) && e.originalError.code === 'UNAUTHENTICATED')),
    );
    try {
      for (const [kind, key] of [...emails.map((e) => ['account', e] as const), ['ip', ip] as const]) {
        if (!failed) {
          if (kind === 'account') await store.reset(failRule(kind), key);
          continue;
        }
        const b = backoff(kind);
        await store.consume(failRule(kind), key);
        const { used } = await store.used(failRule(kind), key);
        const over = used - b.free;
        if (over > 0)
          await store.block(lockRule(kind), key, Math.min(b.firstLockSeconds * 2 ** (over - 1), b.maxSeconds));
      }
    } catch (err) {
      log.warn({ err }, 'log-in back-off counters unavailable');
    }
  }

  const error = (r: Refusal) =>
    new GraphQLError(r.message, {
      extensions: { code: 'RATE_LIMITED', retryAfterMs: r.retryAfterMs, policy: r.rule.name },
    });
  /** The same, answered over HTTP with status 429. */
  const httpError = (r: Refusal) => {
    const err = error(r);
    err.extensions['http'] = { status: 429 };
    return err;
  };

  /** IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers): the tightest bucket this request used. */
  function headers(outcome: Outcome): Record<string, string> {
    const h: Record<string, string> = {};
    const t = outcome.refused
      ? {
          rule: outcome.refused.rule,
          decision: { allowed: false, remaining: 0, resetMs: outcome.refused.retryAfterMs },
        }
      : outcome.tightest;
    if (t) {
      h['RateLimit-Policy'] = `"${t.rule.name}";q=${t.rule.points};w=${t.rule.seconds}`;
      h['RateLimit'] = `"${t.rule.name}";r=${t.decision.remaining};t=${Math.ceil(t.decision.resetMs / 1000)}`;
    }
    if (outcome.refused) h['Retry-After'] = String(Math.ceil(outcome.refused.retryAfterMs / 1000));
    return h;
  }

  return {
    admit,
    /** The HTTP plugin: checks before execution, refuses with 429, adds the headers to every limited answer. */
    plugin(
      callerOf: (request: Request) => Promise<Viewer | null>,
      ipOf: (req: AddressedRequest) => string = (req) => req.socket.remoteAddress ?? '',
    ): Plugin {
      const pending = new WeakMap<Request, Record<string, string>>();
      const check = async (args: {
        contextValue: unknown;
        document: DocumentNode;
        operationName?: string | null;
        variableValues?: unknown;
      }) => {
        // yoga's context: the fetch Request and, on Node's HTTP server, the IncomingMessage (`req`).
        const { request, req } = args.contextValue as { request?: Request; req?: AddressedRequest };
        if (!request) return null;
        const ip = req?.socket ? ipOf(req) : '';
        const variables = (args.variableValues ?? {}) as Record<string, unknown>;
        const outcome = await admit(await callerOf(request), ip, args.document, args.operationName, variables);
        pending.set(request, headers(outcome));
        const emails = classify(args.document, args.operationName).has('auth')
          ? loginEmails(args.document, args.operationName, variables)
          : null;
        return { outcome, ip, emails };
      };
      return {
        async onExecute({ args, setResultAndStopExecution }) {
          const checked = await check(args);
          if (!checked) return;
          if (checked.outcome.refused) {
            setResultAndStopExecution({ errors: [httpError(checked.outcome.refused)] });
            return;
          }
          if (checked.emails) {
            return {
              onExecuteDone: ({ result }) => {
                if ('errors' in result || 'data' in result) return loginOutcome(checked.ip, checked.emails!, result);
              },
            };
          }
        },
        async onSubscribe({ args, setResultAndStopExecution }) {
          const checked = await check(args);
          if (checked?.outcome.refused) {
            setResultAndStopExecution({ errors: [httpError(checked.outcome.refused)] });
          }
        },
        onResponse({ request, response }) {
          for (const [k, v] of Object.entries(pending.get(request) ?? {})) response.headers.set(k, v);
        },
      };
    },
    /** The socket: the same buckets; a refusal is an error on that operation, the connection stays. */
    async checkSocket(
      viewer: Viewer,
      ip: string,
      document: DocumentNode,
      operationName: string | null | undefined,
      variables: Record<string, unknown> | null | undefined,
    ): Promise<GraphQLError[] | null> {
      // Log-in failures are counted where their result is seen: over HTTP only.
      if (classify(document, operationName).has('auth'))
        return [
          new GraphQLError('Log in over HTTP, then authenticate the socket with the token', {
            extensions: { code: 'BAD_USER_INPUT' },
          }),
        ];
      const outcome = await admit(viewer, ip, document, operationName, variables);
      return outcome.refused ? [error(outcome.refused)] : null;
    },
  };
}

export type RateLimits = ReturnType<typeof createRateLimits>;
