// piscina: the default export is the task; named exports are picked with { name }.
import { move } from 'piscina';
import { cpu as cpuBody, tiny } from './shared.mjs';

export default tiny;
export const cpu = cpuBody;
/** @param {ArrayBuffer} buf */
export const echo = (buf) => move(buf);
