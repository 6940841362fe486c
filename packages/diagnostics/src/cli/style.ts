import * as util from 'node:util';

type Format = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';

/**
 * Whether to colour output written to `stream`: a terminal, and neither NO_COLOR nor
 * NODE_DISABLE_COLORS nor TERM=dumb set; FORCE_COLOR (not 0) forces colour on.
 */
export function colorEnabled(stream: NodeJS.WritableStream & { isTTY?: boolean }): boolean {
  const env = process.env;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') {
    return true;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.NODE_DISABLE_COLORS !== undefined || env.TERM === 'dumb') return false;
  return Boolean(stream.isTTY);
}

/** A styler for one stream: `node:util.styleText` when colour is on, plain text otherwise. */
export function styler(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
): (format: Format | Format[], text: string) => string {
  if (!colorEnabled(stream) || typeof util.styleText !== 'function') return (_f, t) => t;
  // We decided above; newer Nodes would check the stream again (and drop colour under
  // FORCE_COLOR when it is not a terminal), so tell them not to.
  return (f, t) =>
    (util.styleText as (f: Format | Format[], t: string, o?: object) => string)(f, t, {
      validateStream: false,
    });
}
