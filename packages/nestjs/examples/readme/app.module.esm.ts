import { Module } from '@nestjs/common';
import { OffThreadModule } from '@offthread/nestjs';
import { ReportController } from './reports/report.controller.js';
import { ReportsModule } from './reports/reports.module.js';

@Module({
  imports: [
    OffThreadModule.forRoot({
      maxThreads: 2,
      workerModule: ReportsModule,
      // ES modules have no module cache to search: name the worker module's compiled file.
      workerModuleFile: new URL('./reports/reports.module.js', import.meta.url),
    }),
    ReportsModule,
  ],
  controllers: [ReportController],
})
export class AppModule {}
