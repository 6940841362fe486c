import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type * as Users from '../fixtures/classes/users.js';
import { get } from '../support/http.js';
import { fixture } from '../support/stage.js';

const { createUsersApp } = fixture<typeof Users>('classes/users.js');

describe('results keep their registered classes', () => {
  it('ClassSerializerInterceptor still hides @Exclude() fields of a result made in a thread', async () => {
    const { app, url } = await createUsersApp(true);
    try {
      const reply = await get(`${url}/user`);
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ id: 7, name: 'Ada' });
      expect(reply.body).not.toHaveProperty('password');
      expect(reply.body.threadId).not.toBe(threadId);
    } finally {
      await app.close();
    }
  });

  it('nested instances are restored too', async () => {
    const { app, url } = await createUsersApp(true);
    try {
      const reply = await get(`${url}/team`);
      expect(reply.body.name).toBe('core');
      expect(reply.body.members[0]).toMatchObject({ id: 1, name: 'Ada' });
      expect(reply.body.members[0]).not.toHaveProperty('password');
    } finally {
      await app.close();
    }
  });

  it('every instance of a large result is restored: no @Exclude() field leaks past the first 10,000', async () => {
    const { app, url } = await createUsersApp(true);
    try {
      const reply = await get(`${url}/many/12000`);
      expect(reply.body).toHaveLength(12000);
      expect(reply.body[11999]).toMatchObject({ id: 11999, name: 'user 11999' });
      expect(reply.body.filter((user: object) => 'password' in user)).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('an instance nested deeper than 32 plain objects is restored too', async () => {
    const { app, url } = await createUsersApp(true);
    try {
      let value = (await get(`${url}/deep/40`)).body;
      for (let i = 0; i < 40; i++) value = value.inner;
      expect(value).toMatchObject({ id: 1, name: 'Ada' });
      expect(value).not.toHaveProperty('password');
    } finally {
      await app.close();
    }
  });

  it('an argument arrives in the thread as a plain object with its fields, even when its class is registered (as the README says)', async () => {
    const { app, url } = await createUsersApp(true);
    try {
      expect((await get(`${url}/inspect`)).body).toEqual({
        isInstance: false,
        plain: true,
        name: 'Grace',
      });
    } finally {
      await app.close();
    }
  });

  it('an unregistered class arrives as a plain object, and the app is warned once with the fix', async () => {
    const { app, url, warnings } = await createUsersApp(false);
    try {
      // The documented behaviour: the serializer no longer sees the class.
      expect((await get(`${url}/user`)).body).toHaveProperty('password', 'hunter2');
      await get(`${url}/user`);
      const advice = warnings.filter((w) =>
        /UserEntity instances; they arrive as plain objects/.test(w),
      );
      expect(advice).toHaveLength(1);
      expect(advice[0]).toMatch(/Add UserEntity to the classes option/);
    } finally {
      await app.close();
    }
  });
});
