import { Injectable } from '@nestjs/common';

/**
 * An ordinary provider. It is injected on the main thread and inside worker threads
 * alike.
 */
@Injectable()
export class FormatterService {
  currency(cents: number): string {
    return `$${(cents / 100).toFixed(2)}`;
  }
}
