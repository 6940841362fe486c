// poolifier: a ThreadWorker with named task functions (the first one is the default).
// poolifier's worker posts results without a transfer list, so `echo` is copied back.
import { ThreadWorker } from 'poolifier';
import { cpu, tiny } from './shared.mjs';

export default new ThreadWorker({
  tiny,
  cpu,
  /** @param {ArrayBuffer} buf */
  echo: (buf) => buf,
});
