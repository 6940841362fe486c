// A handler module for offThread(): runs in a pool thread of a worker machine.
export default function report(req) {
  return { rows: req.body?.rows?.length ?? 0 };
}
