import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { OffThreadModule } from '@offthread/nestjs';
import { ReportsModule } from './reports/reports.module.js';

@Module({
  imports: [
    ConfigModule.forRoot(),
    OffThreadModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        // Environment values are strings ("3"): convert them. A string fails start-up, naming the option.
        maxThreads: Number(config.get('THREADS') ?? 2),
        taskTimeout: Number(config.get('TASK_TIMEOUT_MS') ?? 10_000),
        workerModule: ReportsModule,
      }),
    }),
    ReportsModule,
  ],
})
export class ConfiguredAppModule {}
