import { Module } from '@nestjs/common';
import { OffThreadModule } from '@offthread/nestjs';
import { AppController } from './app.controller';
import { WorkModule } from './work.module';

@Module({
  imports: [OffThreadModule.forRoot({ workerModule: WorkModule }), WorkModule],
  controllers: [AppController],
})
export class AppModule {}
