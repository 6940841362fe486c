/**
 * The runnable examples of a README: fenced JS/TS blocks whose first line is a `// <file>` comment
 * (`// server.js`, `// reports/report.service.ts: what it does`). A block may hold several files,
 * each starting at such a comment line, as the Nest README does.
 */
export interface ExampleFile {
  path: string;
  code: string;
}

const fence = /^```(js|mjs|cjs|ts|mts|cts|javascript|typescript)\s*\n([\s\S]*?)^```\s*$/gm;
const fileComment = /^\/\/ ([\w@][\w@./-]*\.[mc]?[jt]s)(?=[:\s]|$)/;

export function readmeExamples(markdown: string): ExampleFile[] {
  const files: ExampleFile[] = [];
  for (const [, , body = ''] of markdown.matchAll(fence)) {
    const lines = body.split('\n');
    if (!fileComment.test(lines[0] ?? '')) continue;
    let current: ExampleFile | undefined;
    for (const line of lines) {
      const path = fileComment.exec(line)?.[1];
      if (path !== undefined) {
        current = { path, code: '' };
        files.push(current);
      }
      current!.code += `${line}\n`;
    }
  }
  for (const file of files) file.code = `${file.code.trimEnd()}\n`;
  return files;
}
