import { DatabaseError, type ClientBase } from 'pg';
import { adoptSessionLimits, limitedQuery } from './limited-query.factory';

/** The protocol messages a statement writes, as pg's Connection is asked to write them. */
function fakeConnection() {
  const parsed: string[] = [];
  const connection = {
    parsedStatements: {},
    submittedNamedStatements: {},
    stream: { cork: () => undefined, uncork: () => undefined },
    parse: (message: { text: string }) => void parsed.push(message.text),
    bind: () => undefined,
    describe: () => undefined,
    execute: () => undefined,
    sync: () => undefined,
    flush: () => undefined,
  };
  return { connection, parsed };
}

/** A pg client whose answers the test writes: the backend key it got at startup, and each query's outcome. */
function fakeClient(processID: number, answer: (text: string) => Promise<{ rows: unknown[] }>) {
  const { connection, parsed } = fakeConnection();
  const sent: string[] = [];
  const client = {
    processID,
    connection,
    query: (text: string) => {
      sent.push(text);
      return answer(text);
    },
  } as unknown as ClientBase;
  return { client, connection, parsed, sent };
}

const DEFAULTS = { statementTimeoutMs: 5_000, lockTimeoutMs: 1_000 };
const serverError = () => new DatabaseError('function pg_backend_pid() does not exist', 0, 'error');

/** What a statement with these limits writes on this connection. */
function submitted(connection: object, parsed: string[], limits = DEFAULTS): string[] {
  parsed.length = 0;
  const { query } = limitedQuery({ text: 'SELECT 1', queryTimeoutMs: 6_000 }, limits);
  (query as unknown as { submit(connection: object): Error | null }).submit(connection);
  return [...parsed];
}

const PREFIX = "SELECT set_config('statement_timeout', '5000', true), set_config('lock_timeout', '1000', true)";

describe('adoptSessionLimits (the pool’s onConnect)', () => {
  it('on Postgres itself sets the defaults once; a statement with exactly those then goes alone', async () => {
    const { client, connection, parsed, sent } = fakeClient(4242, async (text) =>
      text.startsWith('SELECT pg_backend_pid') ? { rows: [{ pid: 4242 }] } : { rows: [] },
    );
    await adoptSessionLimits(client, DEFAULTS);
    expect(sent).toEqual(['SELECT pg_backend_pid() AS pid', 'SET statement_timeout = 5000; SET lock_timeout = 1000']);
    expect(submitted(connection, parsed)).toEqual(['SELECT 1']);
    // A deadline's shorter limit still travels with the statement.
    expect(submitted(connection, parsed, { statementTimeoutMs: 1_500, lockTimeoutMs: 1_000 })).toEqual([
      "SELECT set_config('statement_timeout', '1500', true), set_config('lock_timeout', '1000', true)",
      'SELECT 1',
    ]);
  });

  it('behind a pooler (a backend key of its own) sets nothing: every statement keeps its limits', async () => {
    const { client, connection, parsed, sent } = fakeClient(987654321, async () => ({ rows: [{ pid: 4242 }] }));
    await adoptSessionLimits(client, DEFAULTS);
    expect(sent).toEqual(['SELECT pg_backend_pid() AS pid']);
    expect(submitted(connection, parsed)).toEqual([PREFIX, 'SELECT 1']);
  });

  it('a server that refuses the check or the SET leaves the connection usable, its statements carrying their limits', async () => {
    for (const refused of ['SELECT pg_backend_pid', 'SET']) {
      const { client, connection, parsed } = fakeClient(4242, async (text) => {
        if (text.startsWith(refused)) throw serverError();
        return { rows: [{ pid: 4242 }] };
      });
      await expect(adoptSessionLimits(client, DEFAULTS)).resolves.toBeUndefined();
      expect(submitted(connection, parsed)).toEqual([PREFIX, 'SELECT 1']);
    }
  });

  it('a connection that breaks during the check fails its checkout', async () => {
    const { client } = fakeClient(4242, async () => {
      throw new Error('Connection terminated unexpectedly');
    });
    await expect(adoptSessionLimits(client, DEFAULTS)).rejects.toThrow('Connection terminated unexpectedly');
  });
});
