// offthread: default export plus named exports; results move back with transfer().
import { transfer } from '@offthread/core/worker';
import { cpu as cpuBody, tiny } from './shared.mjs';

export default tiny;
export const cpu = cpuBody;
/** @param {ArrayBuffer} buf */
export const echo = (buf) => transfer(buf);
