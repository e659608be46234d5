import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect } from '../helpers/ws.js';
import { LogInDocument, LogOutDocument, MeDocument, SignUpDocument } from '../generated/gql/graphql.js';

describeApi('identity', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.stop());

  it('signs up, logs in and answers me', async () => {
    const r = await t.anon.ok(SignUpDocument, { email: 'Zed@Example.com', password: 'hunter2hunter2', name: ' Zed ' });
    expect(r.signUp.user.name).toBe('Zed');
    expect(r.signUp.user.id).toMatch(/^\d+$/);
    const me = await t.anon.withToken(r.signUp.token).ok(MeDocument);
    expect(me.me).toMatchObject({ id: r.signUp.user.id, email: 'zed@example.com', isBot: false });

    const again = await t.anon.ok(LogInDocument, { email: 'zed@example.com', password: 'hunter2hunter2' });
    expect(again.logIn.user.id).toBe(r.signUp.user.id);
    expect(again.logIn.token).not.toBe(r.signUp.token);
  });

  it('stores neither passwords nor tokens in plain text', async () => {
    const r = await t.anon.ok(SignUpDocument, { email: 'plain@example.com', password: 'secret-password', name: 'P' });
    const user = await t.app.db.prisma.user.findUniqueOrThrow({ where: { id: BigInt(r.signUp.user.id) } });
    expect(user.passwordHash).toMatch(/^scrypt\$/);
    expect(user.passwordHash).not.toContain('secret-password');
    const tokens = await t.app.db.prisma.token.findMany({ where: { userId: user.id } });
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(tokens[0]!.tokenHash).not.toContain(r.signUp.token);
  });

  it('rejects bad credentials and bad input with clear codes', async () => {
    await t.anon.ok(SignUpDocument, { email: 'dup@example.com', password: 'password123', name: 'D' });
    expect(
      await t.anon.errorCode(SignUpDocument, { email: 'dup@example.com', password: 'password123', name: 'D' }),
    ).toBe('BAD_USER_INPUT');
    expect(await t.anon.errorCode(SignUpDocument, { email: 'not-an-email', password: 'password123', name: 'D' })).toBe(
      'BAD_USER_INPUT',
    );
    expect(await t.anon.errorCode(SignUpDocument, { email: 'short@example.com', password: 'short', name: 'D' })).toBe(
      'BAD_USER_INPUT',
    );
    expect(
      await t.anon.errorCode(SignUpDocument, { email: 'blank@example.com', password: 'password123', name: '   ' }),
    ).toBe('BAD_USER_INPUT');
    expect(await t.anon.errorCode(LogInDocument, { email: 'dup@example.com', password: 'wrong-password' })).toBe(
      'UNAUTHENTICATED',
    );
    expect(await t.anon.errorCode(LogInDocument, { email: 'nobody@example.com', password: 'password123' })).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('answers UNAUTHENTICATED without a token, with a bad token, and after logOut', async () => {
    expect(await t.anon.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(await t.anon.withToken('chs_forged').errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    const u = await t.user('Leaver');
    await u.client.ok(MeDocument);
    expect((await u.client.ok(LogOutDocument)).logOut).toBe(true);
    expect(await u.client.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
  });

  it('closes the sockets a token opened when it is revoked, and only those', async () => {
    const u = await t.user('Closer');
    const other = await t.anon.ok(LogInDocument, { email: u.email, password: 'correct horse' });
    const revoked = connect(t.url, u.token);
    const kept = connect(t.url, other.logIn.token);
    await revoked.client.iterate({ query: '{ me { id } }' }).next();
    await kept.client.iterate({ query: '{ me { id } }' }).next();
    expect((await u.client.ok(LogOutDocument)).logOut).toBe(true);
    expect(await revoked.closed).toEqual({ code: 4403, reason: 'Token revoked' });
    // The session of the other token goes on.
    const me = await kept.client.iterate({ query: '{ me { id } }' }).next();
    expect((me.value as { data?: { me?: { id: string } } }).data?.me?.id).toBe(u.id);
    void kept.dispose();
  });
});
