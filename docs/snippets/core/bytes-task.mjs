import { transfer } from '@offthread/core/worker';

export default function invert(bytes) {
  for (let i = 0; i < bytes.length; i++) bytes[i] = 255 - bytes[i];
  return transfer(bytes); // move the result back too
}
