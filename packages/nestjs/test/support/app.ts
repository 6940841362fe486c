import type { INestApplication } from '@nestjs/common';
import { afterAll } from 'vitest';
import type * as Main from '../fixtures/app/main.js';
import { fixture } from './stage.js';

type Options = Parameters<typeof Main.createApp>[0];

const apps = new Set<INestApplication>();

/** The fixture app (compiled like a real one) on a loopback port; closed after the file. */
export async function startApp(options?: Options): Promise<{ app: INestApplication; url: string }> {
  const { createApp } = fixture<typeof Main>('app/main.js');
  const started = await createApp(options);
  apps.add(started.app);
  return started;
}

export async function stopApp(app: INestApplication): Promise<void> {
  apps.delete(app);
  await app.close();
}

afterAll(async () => {
  await Promise.all([...apps].map((app) => app.close().catch(() => {})));
  apps.clear();
});
