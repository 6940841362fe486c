import { Injectable } from '@nestjs/common';
import { countPrimes } from './crunch';

/** Plain provider doing the work on whatever thread calls it. */
@Injectable()
export class PrimesService {
  count(thousands: number): number {
    return countPrimes(thousands * 1000);
  }
}
