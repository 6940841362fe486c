import { Body, Controller, Post } from '@nestjs/common';
import { type Order, ReportService } from './report.service';

@Controller('reports')
export class ReportsController {
  constructor(private readonly reports: ReportService) {}

  @Post()
  create(@Body() orders: Order[]) {
    // An ordinary call: @OffThread() sends it to the pool and returns the promise of the
    // result.
    return this.reports.totals(orders);
  }
}
