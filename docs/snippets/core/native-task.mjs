// Stands in for a native addon that can take down the process it runs in.
export default function parse({ text, corrupt }) {
  // What a segfaulting addon or a failed C++ assertion does: the process dies.
  if (corrupt) process.abort();
  return text.toUpperCase();
}
