import { builder } from '../builder.js';
import { UserRef } from '../refs.js';

const AuthPayload = builder.objectRef<{ token: string; userId: bigint }>('AuthPayload').implement({
  fields: (t) => ({
    token: t.exposeString('token', {
      description: 'Send as Authorization: Bearer <token> (HTTP) or connectionParams.authorization (WebSocket)',
    }),
    user: t.field({ type: UserRef, resolve: async (p, _a, ctx) => (await ctx.loaders.user.load(p.userId))! }),
  }),
});

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayload,
    args: {
      email: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
    },
    resolve: (_r, args, ctx) => ctx.services.auth.signUp(args),
  }),
  logIn: t.field({
    type: AuthPayload,
    args: { email: t.arg.string({ required: true }), password: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.auth.logIn(args),
  }),
  logOut: t.boolean({
    description:
      'Revokes the session token this request was made with. Bot tokens are refused (FORBIDDEN): an admin rotates or revokes them',
    resolve: (_r, _a, ctx) => (ctx.token ? ctx.services.auth.logOut(ctx.token, ctx.viewer) : false),
  }),
}));
