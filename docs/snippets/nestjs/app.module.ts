import { Module } from '@nestjs/common';
import { OffThreadModule } from '@offthread/nestjs';
import { ReportsController } from './reports.controller';
import { ReportsModule } from './reports.module';

@Module({
  imports: [
    // Once, in the root module. Pool options (threads, queue, timeouts) go here too.
    OffThreadModule.forRoot({ maxThreads: 2, workerModule: ReportsModule }),
    ReportsModule,
  ],
  controllers: [ReportsController],
})
export class AppModule {}
