import { pbkdf2 } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { threadId } from 'node:worker_threads';
import { Controller, Get, Param, ParseIntPipe } from '@nestjs/common';
import type { TaskPool } from '@offthread/core';
import { InjectPool } from '@offthread/nestjs';
import { PrimesService } from './primes.service';
import { ReportService } from './report.service';

const pbkdf2Async = promisify(pbkdf2);
const primesTask = join(__dirname, 'primes.task.js');

@Controller()
export class AppController {
  constructor(
    private readonly primes: PrimesService,
    private readonly reports: ReportService,
    @InjectPool() private readonly pool: TaskPool,
  ) {}

  /** Counts primes below n × 1000 on the event loop: every other request waits. */
  @Get('blocking/:n')
  blocking(@Param('n', ParseIntPipe) n: number) {
    return { primes: this.primes.count(n), threadId };
  }

  /** The same work through @OffThread(): the event loop stays free. */
  @Get('offthread/:n')
  offThread(@Param('n', ParseIntPipe) n: number) {
    return this.reports.primesReport(n);
  }

  /** The same work through a hand-written pool.run() on the module's pool: the baseline of `pnpm overhead`. */
  @Get('manual/:n')
  manual(@Param('n', ParseIntPipe) n: number) {
    return this.pool.run(n, { filename: primesTask, timeout: 10_000 });
  }

  /** crypto.pbkdf2 already runs on libuv's thread pool: no need for @OffThread(). */
  @Get('hash')
  async hash() {
    const key = await pbkdf2Async('correct horse battery staple', 'salt', 100_000, 32, 'sha512');
    return { hash: key.toString('hex') };
  }

  @Get('health')
  health() {
    return { ok: true };
  }
}
