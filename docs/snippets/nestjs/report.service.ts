import { Injectable } from '@nestjs/common';
import { OffThread } from '@offthread/nestjs';
import { FormatterService } from './formatter.service';

export interface Order {
  price: number; // cents
  qty: number;
}

@Injectable()
export class ReportService {
  constructor(private readonly formatter: FormatterService) {}

  /** Runs in a pool thread. `this.formatter` is that thread's own FormatterService. */
  @OffThread({ timeout: 5_000 })
  async totals(orders: Order[]): Promise<{ count: number; total: string }> {
    let cents = 0;
    for (const order of orders) cents += order.price * order.qty;
    return { count: orders.length, total: this.formatter.currency(cents) };
  }
}
