// tinypool: same conventions as piscina (default export + { name }); Tinypool.move transfers.
import Tinypool from 'tinypool';
import { cpu as cpuBody, tiny } from './shared.mjs';

export default tiny;
export const cpu = cpuBody;
/** @param {ArrayBuffer} buf */
export const echo = (buf) => Tinypool.move(buf);
