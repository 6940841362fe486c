import { threadId } from 'node:worker_threads';
import { Injectable } from '@nestjs/common';
import { OffThread } from '@offthread/nestjs';
import { PrimesService } from './primes.service';

/** The same work, moved off the event loop: the body runs in a pool thread, on an instance built there. */
@Injectable()
export class ReportService {
  constructor(private readonly primes: PrimesService) {}

  @OffThread({ timeout: 10_000 })
  async primesReport(thousands: number): Promise<{ primes: number; threadId: number }> {
    return { primes: this.primes.count(thousands), threadId };
  }
}
