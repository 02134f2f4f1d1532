import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

const SIGN_UP = '/v1/accounts';
const TOKEN = '/v1/auth/token';

/** Issue 5, defects 5 and 6: text reaches the database and the hash function exactly as sent, or not at all. */
describe('text input', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  describe('one email normalisation for sign-up and login (defect 6)', () => {
    it('refuses the Kelvin sign (U+212A) at sign-up and at login alike, instead of storing kate@', async () => {
      const email = '\u212Aate@example.com';
      const signUp = await t.http.post(SIGN_UP, { email, password: 'kelvin-password', name: 'Kate' });
      expectProblem(signUp, 400, 'VALIDATION_FAILED');
      expect(signUp.body.errors).toEqual([{ pointer: '/email', detail: 'Invalid email address', in: 'body' }]);
      const login = await t.http.post(TOKEN, { email, password: 'kelvin-password' });
      expectProblem(login, 400, 'VALIDATION_FAILED');
      expect(login.body.errors).toEqual(signUp.body.errors);
      const rows = await t.db.query(`SELECT 1 FROM accounts WHERE email = 'kate@example.com'`);
      expect(rows).toHaveLength(0);
    });

    it.each([
      ['a dotted capital I (U+0130)', '\u0130nfo@example.com'],
      ['a fullwidth letter', '\uFF41nn@example.com'],
      ['a ligature', '\uFB00@example.com'],
      ['a zero-width space', 'zw@example.com\u200B'],
      ['mixed case and spaces', '  Mixed.Case@Example.COM '],
    ])('treats %s the same way at sign-up and login', async (_kind, email) => {
      const password = 'same-rules-password';
      const signUp = await t.http.post(SIGN_UP, { email, password, name: 'Same Rules' });
      const login = await t.http.post(TOKEN, { email, password });
      if (signUp.status === 201) {
        expect(login.status).toBe(200);
      } else {
        expectProblem(signUp, 400, 'VALIDATION_FAILED');
        expectProblem(login, 400, 'VALIDATION_FAILED');
      }
    });
  });
  describe('bodies are UTF-8 and passwords are kept exactly (defect 5)', () => {
    const raw = (json: string, contentType = 'application/json') => ({
      headers: { 'content-type': contentType },
      body: Buffer.from(json, 'latin1'),
    });

    it('answers a body that is not valid UTF-8 with 400 MALFORMED_REQUEST instead of turning it into U+FFFD', async () => {
      const signUp = await t.http.request(
        'POST',
        SIGN_UP,
        raw('{"email":"bytes@example.com","password":"pass\xff\xfeword-12","name":"Bytes"}'),
      );
      expectProblem(signUp, 400, 'MALFORMED_REQUEST');
      expect(signUp.body.detail).toBe('The request body is not valid UTF-8.');
      const login = await t.http.request(
        'POST',
        TOKEN,
        raw('{"email":"bytes@example.com","password":"pass\x80\x80word-12"}'),
      );
      expectProblem(login, 400, 'MALFORMED_REQUEST');
      expect(await t.db.query(`SELECT 1 FROM accounts WHERE email = 'bytes@example.com'`)).toHaveLength(0);
    });

    it('answers a JSON body in another charset with 415, and takes utf-8 however it is spelled', async () => {
      const latin1 = await t.http.request(
        'POST',
        SIGN_UP,
        raw(
          '{"email":"latin@example.com","password":"latin-password","name":"Ren\xe9e"}',
          'application/json; charset=iso-8859-1',
        ),
      );
      expectProblem(latin1, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(latin1.body.detail).toMatch(/UTF-8/);
      for (const [i, contentType] of [
        'application/json; charset=utf-8',
        'application/json;charset="UTF-8"',
      ].entries()) {
        const ok = await t.http.request('POST', SIGN_UP, {
          headers: { 'content-type': contentType },
          body: Buffer.from(JSON.stringify({ email: `utf${i}@example.com`, password: 'utf8-password', name: 'Renée' })),
        });
        expect(ok.status).toBe(201);
        expect(ok.body.name).toBe('Renée');
      }
    });

    it('refuses control characters in a new password and never lets a password with trailing NULs open an account', async () => {
      const withNul = await t.http.post(SIGN_UP, {
        email: 'nul@example.com',
        password: 'correct horse\u0000\u0000',
        name: 'Nul',
      });
      expectProblem(withNul, 400, 'VALIDATION_FAILED');
      expect(withNul.body.errors).toEqual([
        { pointer: '/password', detail: 'Must not contain control characters', in: 'body' },
      ]);
      const signUp = await t.http.post(SIGN_UP, { email: 'horse@example.com', password: 'correct horse', name: 'H' });
      expect(signUp.status).toBe(201);
      const nulLogin = await t.http.post(TOKEN, { email: 'horse@example.com', password: 'correct horse\u0000\u0000' });
      expectProblem(nulLogin, 401, 'UNAUTHENTICATED');
      expect((await t.http.post(TOKEN, { email: 'horse@example.com', password: 'correct horse' })).status).toBe(200);
    });
  });
});
