import { Module } from '@nestjs/common';
import { OffThreadModule } from '@offthread/nestjs';
import { ReportController } from './reports/report.controller.js';
import { ReportsModule } from './reports/reports.module.js';

@Module({
  imports: [OffThreadModule.forRoot({ maxThreads: 2, workerModule: ReportsModule }), ReportsModule],
  controllers: [ReportController],
})
export class AppModule {}
