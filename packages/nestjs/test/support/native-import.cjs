// Loaded with Node's require(), so this import() is Node's own, not Vitest's.
module.exports = (url) => import(url);
