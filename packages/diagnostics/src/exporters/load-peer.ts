import { createRequire } from 'node:module';
import { DiagnosticsError, DiagnosticsErrorCode } from '../errors.js';

/** Load an optional peer dependency on first use, with an error that says how to fix it. */
export function loadPeer<T>(name: string, feature: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (err) {
    throw new DiagnosticsError(
      DiagnosticsErrorCode.PEER_MISSING,
      `${feature} needs the optional peer dependency "${name}". Install it next to your app: npm install ${name}`,
      { cause: err },
    );
  }
}
