// PM2 in cluster mode: offthread reads `instances` from the environment PM2 passes to each
// process, so each pool gets availableParallelism() / 2 threads by default.
module.exports = {
  apps: [
    {
      name: 'api',
      script: './server.mjs',
      exec_mode: 'cluster',
      instances: 2,
      env: {
        // libuv threads per process for fs, crypto, zlib, dns.lookup: set before start.
        UV_THREADPOOL_SIZE: '8',
      },
    },
  ],
};
