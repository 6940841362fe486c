import { describe, expect, it } from 'vitest';
import { definingFile, frameFile } from '../../src/class-location.js';

const own = '/app/node_modules/@offthread/nestjs/dist';

describe('finding the file that defines a decorated class', () => {
  it('reads CommonJS paths, file: URLs and Windows paths from frames', () => {
    expect(frameFile('at Object.<anonymous> (/srv/app/dist/report.service.js:20:5)')).toBe(
      '/srv/app/dist/report.service.js',
    );
    expect(frameFile('at /srv/app/dist/report.service.js:20:5')).toBe(
      '/srv/app/dist/report.service.js',
    );
    expect(frameFile('at file:///srv/app/dist/report.service.mjs:3:1')).toBe(
      '/srv/app/dist/report.service.mjs',
    );
    expect(frameFile('at Object.<anonymous> (C:\\app\\dist\\report.service.js:20:5)')).toBe(
      'C:\\app\\dist\\report.service.js',
    );
    expect(
      frameFile('at ModuleJob.run (node:internal/modules/esm/module_job:271:25)'),
    ).toBeUndefined();
    expect(frameFile('at new Promise (<anonymous>)')).toBeUndefined();
  });

  it('skips this package and decorator helpers (tslib, @swc/helpers)', () => {
    const stack = [
      'Error',
      `    at captureDefiningFile (${own}/index.js:40:9)`,
      `    at OffThread (${own}/index.js:80:16)`,
      '    at __decorate (/app/node_modules/.pnpm/tslib@2.8.1/node_modules/tslib/tslib.js:99:12)',
      '    at _ts_decorate (/app/node_modules/@swc/helpers/cjs/_ts_decorate.cjs:5:5)',
      '    at Object.<anonymous> (/app/dist/reports/report.service.js:31:1)',
      '    at Module._compile (node:internal/modules/cjs/loader:1554:14)',
    ].join('\n');
    expect(definingFile(stack, own)).toBe('/app/dist/reports/report.service.js');
  });

  it('is undefined when no frame has a file of its own', () => {
    const stack = [
      'Error',
      `    at OffThread (${own}/index.js:80:16)`,
      '    at eval (eval at <anonymous> (<anonymous>))',
    ].join('\n');
    expect(definingFile(stack, own)).toBeUndefined();
  });
});
