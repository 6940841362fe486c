// Runs in a pool thread: a plain copy of the request in, the response out.
export default function fibHandler(req) {
  return { result: fib(Number(req.query.n ?? 30)) }; // sent as JSON
}

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
