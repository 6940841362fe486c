import { Injectable } from '@nestjs/common';
import { OffThread } from '@offthread/nestjs';
import { FormatterService } from './formatter.service.js';

@Injectable()
export class ReportService {
  constructor(private readonly formatter: FormatterService) {}

  /** Runs in a pool thread, on an instance built there: this.formatter works in the thread. */
  @OffThread({ timeout: 5000 })
  async countPrimes(limit: number): Promise<{ primes: string }> {
    let count = 0;
    for (let n = 2; n < limit; n++) {
      let prime = true;
      for (let d = 2; d * d <= n; d++) {
        if (n % d === 0) {
          prime = false;
          break;
        }
      }
      if (prime) count++;
    }
    return { primes: this.formatter.format(count) };
  }
}
