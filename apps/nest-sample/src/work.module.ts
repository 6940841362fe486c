import { Module } from '@nestjs/common';
import { PrimesService } from './primes.service';
import { ReportService } from './report.service';

/** What each worker thread bootstraps: the work and its dependencies, nothing HTTP. */
@Module({ providers: [PrimesService, ReportService], exports: [PrimesService, ReportService] })
export class WorkModule {}
