/**
 * The small interface every runner implements, so scenarios never see a library's API.
 *
 * @typedef {object} PoolHandle
 * @property {(x: number) => Promise<number>} tiny  runs `x => x + 1`
 * @property {(iterations: number) => Promise<number>} cpu  runs the CPU-heavy loop
 * @property {(buf: ArrayBuffer) => Promise<ArrayBuffer>} echo  sends `buf` transferred, gets it back
 * @property {() => Promise<void>} close  stops every thread
 *
 * @typedef {(opts: { threads: number }) => Promise<PoolHandle>} CreatePool
 *
 * @typedef {object} RunnerMeta
 * @property {string} name
 * @property {string} version
 * @property {string} config  how the library is configured, printed in RESULTS.md
 */
export {};
