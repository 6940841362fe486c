import { Module } from '@nestjs/common';
import { FormatterService } from './formatter.service.js';
import { ReportService } from './report.service.js';

/** What each worker thread bootstraps: the service and its dependencies. No HTTP, no database. */
@Module({ providers: [ReportService, FormatterService], exports: [ReportService] })
export class ReportsModule {}
