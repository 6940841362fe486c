import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  // SIGINT/SIGTERM close the app: requests in flight finish, then the pool closes.
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3001);
  await app.listen(port, '127.0.0.1');
  const { port: actual } = app.getHttpServer().address();
  console.log(`nest-sample listening on http://127.0.0.1:${actual}`);
}

void bootstrap();
