import { Module } from '@nestjs/common';
import { OffThreadModule } from '@offthread/nestjs';
import { ReportsModule } from './reports.module';

/** Options from configuration: any provider can make them. */
@Module({
  imports: [
    OffThreadModule.forRootAsync({
      useFactory: () => ({
        maxThreads: Number(process.env.REPORT_THREADS ?? 2),
        maxQueue: 256,
        taskTimeout: 10_000,
        workerModule: ReportsModule,
      }),
    }),
    ReportsModule,
  ],
})
export class ConfiguredAppModule {}
