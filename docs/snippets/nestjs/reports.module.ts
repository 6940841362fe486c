import { Module } from '@nestjs/common';
import { FormatterService } from './formatter.service';
import { ReportService } from './report.service';

/**
 * What each worker thread bootstraps: the service and its dependencies. No HTTP, no
 * database.
 */
@Module({
  providers: [ReportService, FormatterService],
  exports: [ReportService],
})
export class ReportsModule {}
