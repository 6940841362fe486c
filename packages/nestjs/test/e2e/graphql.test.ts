import { describe, expect, it } from 'vitest';
import type * as GraphQLApp from '../fixtures/graphql/graphql-app.js';
import { fixture } from '../support/stage.js';

// @nestjs/graphql 14 needs Nest 12: the compat runs (other Nest majors) set OFFTHREAD_NEST_STAGE.
const mainSuite = process.env.OFFTHREAD_NEST_STAGE === undefined;

async function query(url: string, ms: number) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `{ spin(ms: ${ms}) }` }),
    signal: AbortSignal.timeout(20_000),
  });
  return (await res.json()) as { data?: unknown; errors?: Array<Record<string, any>> };
}

describe.skipIf(!mainSuite)('pool errors in a GraphQL resolver', () => {
  it('a timed-out call is a GraphQL error with extensions.code SERVICE_UNAVAILABLE and retryAfter', async () => {
    const { startGraphQLApp } = fixture<typeof GraphQLApp>('graphql/graphql-app.js');
    const { app, url } = await startGraphQLApp();
    try {
      expect(await query(url, 1)).toEqual({ data: { spin: 1 } });
      const reply = await query(url, 3000);
      expect(reply.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/took too long/),
        extensions: {
          code: 'SERVICE_UNAVAILABLE',
          offthreadCode: 'ERR_OFFTHREAD_TIMEOUT',
          statusCode: 503,
          retryAfter: 2,
        },
      });
      expect(JSON.stringify(reply)).not.toMatch(/worker-entry|\.stage/);
    } finally {
      await app.close();
    }
  });
});
