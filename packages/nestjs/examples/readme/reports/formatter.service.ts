import { Injectable } from '@nestjs/common';

@Injectable()
export class FormatterService {
  format(n: number): string {
    return n.toLocaleString('en-US');
  }
}
