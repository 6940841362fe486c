import { Controller, Get, Param, ParseIntPipe } from '@nestjs/common';
import { ReportService } from './report.service.js';

@Controller('reports')
export class ReportController {
  constructor(private readonly reports: ReportService) {}

  @Get(':limit')
  primes(@Param('limit', ParseIntPipe) limit: number) {
    // An ordinary call: @OffThread() sends it to the pool and returns the promise of its result.
    return this.reports.countPrimes(limit);
  }
}
