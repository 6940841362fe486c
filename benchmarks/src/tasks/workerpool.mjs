// workerpool: methods registered with workerpool.worker(); Transfer moves the result back.
import workerpool from 'workerpool';
import { cpu, tiny } from './shared.mjs';

workerpool.worker({
  tiny,
  cpu,
  /** @param {ArrayBuffer} buf */
  echo: (buf) => new workerpool.Transfer(buf, [buf]),
});
