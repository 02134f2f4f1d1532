import type { IncomingMessage } from 'node:http';
import { requestIdOf } from './request-id.factory';

const withHeader = (value: string | string[] | undefined) =>
  ({ headers: { 'x-request-id': value } }) as unknown as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdOf', () => {
  it.each(['a', 'A-b_c.9', 'x'.repeat(128)])('keeps the valid caller id %s', (id) => {
    expect(requestIdOf(withHeader(id))).toBe(id);
  });

  it.each([undefined, '', 'x'.repeat(129), 'a b', 'a/b', 'é', ['a', 'b']])('replaces %j with a fresh UUID', (value) => {
    expect(requestIdOf(withHeader(value))).toMatch(UUID);
  });

  it('makes a different id for every request', () => {
    expect(requestIdOf(withHeader(undefined))).not.toBe(requestIdOf(withHeader(undefined)));
  });
});
