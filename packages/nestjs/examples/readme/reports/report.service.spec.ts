import { Test } from '@nestjs/testing';
import { OffThreadModule } from '@offthread/nestjs';
import { describe, expect, it } from 'vitest';
import { FormatterService } from './formatter.service.js';
import { ReportService } from './report.service.js';
import { ReportsModule } from './reports.module.js';

describe('ReportService', () => {
  it('counts primes, formatted by the (mocked) FormatterService', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [OffThreadModule.forRoot(), ReportsModule],
    })
      .overrideProvider(FormatterService)
      .useValue({ format: (n: number) => `${n} primes` })
      .compile();
    // In a testing module @OffThread() methods run inline, so the mock is the one they use.
    await moduleRef.init();

    await expect(moduleRef.get(ReportService).countPrimes(100)).resolves.toEqual({
      primes: '25 primes',
    });
    await moduleRef.close();
  });
});
