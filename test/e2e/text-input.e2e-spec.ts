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
});
